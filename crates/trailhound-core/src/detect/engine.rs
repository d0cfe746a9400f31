//! The engine: runs every detector over an object's activities, in event-time order, against
//! the loaded entity states, and collects the findings raised or updated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::dispatch::{Dispatch, addr};
use super::matcher::Memo;
use super::spec::{CompiledSuppression, Spec, SpecError};
use super::{Ctx, DEFAULTS, Detector, kinds};
use crate::activity::Activity;
use crate::finding::{Finding, SourceRef, finding_id, severity_label};
use crate::ingest::ObjectRef;
use crate::state::{EntityState, OpenFinding, States, principal_entity};

/// Sources cited per finding at most.
const MAX_SOURCES: usize = 20;

/// What suppressions did in one object, counted per (activity, detector) pair.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Suppressions {
    /// Matched by a suppression: not judged, not learned.
    pub suppressed: u64,
    /// Matched by a suppression only past its `expires`: judged as usual, and reported so
    /// the suppression is renewed or removed.
    pub expired: u64,
}

/// Detector files that failed to load.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct EngineError(pub Vec<SpecError>);

struct Compiled {
    detector: Box<dyn Detector>,
    suppress: Vec<CompiledSuppression>,
}

pub struct Engine {
    detectors: Vec<Compiled>,
    /// Seconds an entity must have been seen before baseline detectors may fire.
    pub learning: i64,
    /// The request-parameter and response-element paths the loaded detectors read: decode
    /// extracts these and no others.
    paths: std::sync::Arc<crate::record::cloudtrail::Paths>,
}

/// Findings raised or updated while applying one object.
#[derive(Default)]
pub(crate) struct Alerts {
    source: Option<SourceRef>,
    /// Activities a suppression matched (per detector), in this object, and those an
    /// expired suppression would have matched.
    suppressions: Suppressions,
    /// Findings raised or updated, by id: where they live (entity key, slot). They are
    /// copied out once, at the end of the object, not on every event.
    touched: BTreeMap<String, (String, String)>,
    /// Findings touched and then replaced in their slot within the same object.
    finished: BTreeMap<String, Finding>,
    /// Findings opened by the current activity, for the detectors that read findings.
    signals: Vec<super::Signal>,
}

impl Alerts {
    /// Opens a finding for `(detector, dedup)` on `state` (the activity's principal: findings
    /// live on the principal), or updates the one of the same episode. An episode is an
    /// aligned period of the detector's `cooldown` (UTC, from the epoch) holding the event
    /// that raised it: the partition depends on event times only, so the same activity
    /// gives the same finding ids whatever order its objects arrive in (out of order,
    /// concurrent Lambda invocations, a replay). `start` is where the evidence begins (it
    /// only sets `first_seen`, which may move earlier without changing the id) and
    /// `initial` the event count of a new finding; an update adds one event.
    pub(crate) fn raise<'s>(
        &mut self,
        spec: &Spec,
        state: &'s mut EntityState,
        a: &Activity,
        dedup: &str,
        start: i64,
        initial: u64,
    ) -> Option<&'s mut OpenFinding> {
        self.raise_ending(spec, state, a, dedup, start, a.time, initial)
    }

    /// [`Alerts::raise`] for a window that ends at `end`, later than the activity (a late
    /// event that completes a window already seen): the finding's episode is the window's,
    /// so the order events arrive in does not decide the finding's id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn raise_ending<'s>(
        &mut self,
        spec: &Spec,
        state: &'s mut EntityState,
        a: &Activity,
        dedup: &str,
        start: i64,
        end: i64,
        initial: u64,
    ) -> Option<&'s mut OpenFinding> {
        let entity = principal_entity(&a.principal_key);
        self.raise_on_at(spec, &entity, state, a, dedup, start, end, initial)
    }

    /// [`Alerts::raise`] on another entity than the activity's principal (`entity` is its
    /// key, `state` its state): an account-wide finding such as a logging gap lives on the
    /// account-and-region entity, so the calls of every principal update one finding.
    ///
    /// Such a finding belongs to the entity, not to whichever principal's activity raised
    /// it: its id is derived from the entity key and its episode from `start` (the first
    /// event it stands for), its `principal`/`principal_key` name the entity (the callers
    /// are evidence), and it is not a step of any principal's attack sequence. Otherwise the
    /// order objects arrive in would decide which caller it is attributed to.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn raise_on<'s>(
        &mut self,
        spec: &Spec,
        entity: &str,
        state: &'s mut EntityState,
        a: &Activity,
        dedup: &str,
        start: i64,
        initial: u64,
    ) -> Option<&'s mut OpenFinding> {
        self.raise_on_at(spec, entity, state, a, dedup, start, a.time, initial)
    }

    /// [`Alerts::raise_on`], the episode of an own finding taken from `at`.
    #[allow(clippy::too_many_arguments)]
    fn raise_on_at<'s>(
        &mut self,
        spec: &Spec,
        entity: &str,
        state: &'s mut EntityState,
        a: &Activity,
        dedup: &str,
        start: i64,
        at: i64,
        initial: u64,
    ) -> Option<&'s mut OpenFinding> {
        let cooldown = spec.cooldown_secs();
        let own = entity == principal_entity(&a.principal_key);
        // (id key, episode, principal, principal type) of the finding's owner.
        let (id_key, episode, principal, principal_type) = if own {
            let ep = episode_of(at, cooldown);
            (
                a.principal_key.as_ref(),
                ep,
                a.principal.as_ref(),
                a.principal_type.as_ref(),
            )
        } else {
            let name = entity.split_once('#').map_or(entity, |(_, rest)| rest);
            (entity, episode_of(start, cooldown), name, "AWSAccount")
        };
        let mut slot = episode_slot(&spec.id, dedup, episode);
        let mut dedup = dedup;
        // Dedup keys can be attacker-chosen (a model id per failed call): past
        // MAX_DEDUPS_PER_DETECTOR open findings of one detector on one owner, new keys fold
        // into one overflow finding, so 10,000 model ids cost one finding, not 10,000
        // (and the state and outbox items stay bounded).
        let overflow = !state.open.contains_key(&slot)
            && open_of(&state.open, &spec.id).count() >= MAX_DEDUPS_PER_DETECTOR;
        if overflow {
            dedup = OVERFLOW_DEDUP;
            slot = episode_slot(&spec.id, dedup, episode);
        }
        let fresh = !state.open.contains_key(&slot);
        if fresh {
            if let Some(old) = state.open.get(&slot)
                && self.touched.remove(&old.finding.id).is_some()
            {
                self.finished
                    .insert(old.finding.id.clone(), old.finding.clone());
            }
            let finding = Finding {
                schema_version: 1,
                id: finding_id(&spec.id, id_key, dedup, episode),
                detector: spec.id.clone(),
                finding_type: spec.finding_type.clone(),
                severity: spec.severity,
                severity_label: severity_label(spec.severity).to_string(),
                title: String::new(),
                description: String::new(),
                subject: String::new(),
                account: a.account.to_string(),
                region: a.region.to_string(),
                principal: principal.to_string(),
                principal_key: id_key.to_string(),
                principal_type: principal_type.to_string(),
                first_seen: crate::time::format(start),
                last_seen: crate::time::format(a.time),
                count: initial.max(1),
                evidence: serde_json::Map::new(),
                sources: Vec::new(),
                attack: spec.attack.clone(),
                atlas: spec.atlas.clone(),
            };
            if own && !matches!(spec.kind.as_str(), "finding-chain") {
                self.signals.push(super::Signal {
                    detector: spec.id.clone(),
                    finding_id: finding.id.clone(),
                    time: a.time,
                    severity: spec.severity,
                });
            }
            state.open.insert(
                slot.clone(),
                OpenFinding {
                    first: start,
                    last: a.time,
                    cooldown,
                    finding,
                },
            );
        }
        let open = state.open.get_mut(&slot).expect("just inserted");
        if !self.touched.contains_key(&open.finding.id) {
            self.touched
                .insert(open.finding.id.clone(), (entity.to_string(), slot));
        }
        if !fresh {
            open.finding.count += 1;
            if a.time > open.last {
                open.last = a.time;
                open.finding.last_seen = crate::time::format(a.time);
            }
            if a.time < open.first {
                open.first = a.time;
                open.finding.first_seen = crate::time::format(a.time);
            }
        }
        if overflow {
            open.finding.evidence.insert(
                "overflow".into(),
                serde_json::json!(format!(
                    "more than {MAX_DEDUPS_PER_DETECTOR} findings of this detector were open on this principal; further ones are counted in this finding"
                )),
            );
        }
        if let Some(src) = &self.source
            && open.finding.sources.len() < MAX_SOURCES
            && !open.finding.sources.contains(src)
        {
            open.finding.sources.push(src.clone());
        }
        Some(open)
    }
}

/// Open findings of one detector on one owner past which new dedup keys fold into one.
pub const MAX_DEDUPS_PER_DETECTOR: usize = 16;
/// The dedup key of the folded finding.
const OVERFLOW_DEDUP: &str = "(more)";

/// The open findings of detector `id` (slots are `<detector>/<dedup>@<episode>`).
fn open_of<'m>(
    open: &'m BTreeMap<String, OpenFinding>,
    id: &str,
) -> impl Iterator<Item = &'m String> {
    let from = format!("{id}/");
    open.range(from.clone()..)
        .map(|(k, _)| k)
        .take_while(move |k| k.starts_with(&from))
}

/// The start of the aligned episode period of length `period` (seconds) holding `t`.
pub(crate) fn episode_of(t: i64, period: i64) -> i64 {
    let p = period.max(1);
    t.div_euclid(p) * p
}

/// The key of an open finding in its principal's state: detector, dedup key and episode.
pub(crate) fn episode_slot(detector: &str, dedup: &str, episode: i64) -> String {
    format!("{detector}/{dedup}@{episode}")
}

impl Engine {
    /// Compiles detector files `(name, text)`; reports every file that fails, not just the first.
    /// `[[test]]` cases are not read (see [`Spec::parse_rule`]).
    pub fn from_files(files: &[(String, String)], learning: i64) -> Result<Self, EngineError> {
        let mut detectors = Vec::new();
        let mut errors = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (file, text) in files {
            let built = Spec::parse_rule(file, text).and_then(|spec| {
                if !ids.insert(spec.id.clone()) {
                    return Err(SpecError {
                        file: file.clone(),
                        field: "id".into(),
                        reason: format!("`{}` is defined twice", spec.id),
                    });
                }
                let suppress = spec
                    .suppress
                    .iter()
                    .map(CompiledSuppression::compile)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|(field, reason)| SpecError {
                        file: file.clone(),
                        field,
                        reason,
                    })?;
                let enabled = spec.enabled;
                let detector = kinds::build(spec).map_err(|(field, reason)| SpecError {
                    file: file.clone(),
                    field,
                    reason,
                })?;
                Ok(enabled.then_some(Compiled { detector, suppress }))
            });
            match built {
                Ok(Some(c)) => detectors.push(c),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            let paths = super::filter::declared_paths(detectors.iter().map(|c| c.detector.spec()));
            Ok(Engine {
                detectors,
                learning,
                paths,
            })
        } else {
            Err(EngineError(errors))
        }
    }

    /// The embedded defaults with `files` merged over them by id: a file with an existing id
    /// replaces that detector, a new id adds one, and a file with `enabled = false` (it may
    /// hold only `id` and `enabled`) turns one off. Tuning one threshold is one file.
    pub fn merged(files: &[(String, String)], learning: i64) -> Result<Self, EngineError> {
        let (merged, mut errors) = merge_by_id(DEFAULTS, files);
        match Self::from_files(&merged, learning) {
            Ok(engine) if errors.is_empty() => Ok(engine),
            Ok(_) => Err(EngineError(errors)),
            Err(EngineError(more)) => {
                errors.extend(more);
                Err(EngineError(errors))
            }
        }
    }

    /// The embedded default detectors.
    pub fn defaults(learning: i64) -> Result<Self, EngineError> {
        let files: Vec<(String, String)> = DEFAULTS
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect();
        Self::from_files(&files, learning)
    }

    /// The paths decode must extract for the loaded detectors.
    pub fn paths(&self) -> std::sync::Arc<crate::record::cloudtrail::Paths> {
        self.paths.clone()
    }

    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        self.detectors.iter().map(|c| c.detector.spec())
    }

    /// Every entity the activities need loaded, sorted and deduplicated.
    pub fn entity_keys(&self, acts: &[Activity]) -> Vec<String> {
        // Deduplicated by address first (interned: one `Arc` per principal of an object,
        // so this is cheap and leaves few), by text after mapping to keys.
        let mut principals: Vec<&Arc<str>> = acts.iter().map(|a| &a.principal_key).collect();
        principals.sort_unstable_by_key(|p| addr(p));
        principals.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let mut keys: Vec<String> = principals
            .into_iter()
            .map(|p| principal_entity(p))
            .collect();
        // Deduplicated as they come (sorting one string per activity was most of the time).
        let mut extra: HashSet<String, foldhash::fast::RandomState> = Default::default();
        let mut named = Vec::new();
        // Only the detectors that name other entities (buckets, account-and-region).
        let naming: Vec<&Compiled> = self
            .detectors
            .iter()
            .filter(|c| c.detector.has_extra_entities())
            .collect();
        let mut dispatch = Dispatch::default();
        let mut memo = Memo::new();
        for a in acts {
            for &i in dispatch.candidates(a, naming.iter().map(|c| &c.detector.spec().filter)) {
                let c = naming[i];
                if c.detector.spec().filter.matches_given_kind(a, &mut memo) {
                    c.detector.extra_entities(a, &mut named);
                    extra.extend(named.drain(..));
                }
            }
        }
        keys.extend(extra);
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Applies activities (sorted by event time) to `states`; returns the findings raised or
    /// updated, in id order. `object` is the log object the activities came from.
    pub fn apply(
        &self,
        states: &mut States,
        acts: &[Activity],
        object: &ObjectRef,
    ) -> Vec<Finding> {
        self.apply_counted(states, acts, object).0
    }

    /// [`Engine::apply`], also returning how many (activity, detector) pairs a suppression
    /// matched, and how many only an expired one did.
    pub fn apply_counted(
        &self,
        states: &mut States,
        acts: &[Activity],
        object: &ObjectRef,
    ) -> (Vec<Finding>, Suppressions) {
        let mut alerts = Alerts {
            source: Some(SourceRef {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
            }),
            ..Alerts::default()
        };
        // Entity keys by the address of the interned principal key (see `Dispatch`).
        let mut keys: HashMap<usize, String, foldhash::fast::RandomState> = HashMap::default();
        let mut dispatch = Dispatch::default();
        let mut memo = Memo::new(); // like `dispatch`, valid while `acts` is borrowed
        for a in acts {
            let pk = keys
                .entry(addr(&a.principal_key))
                .or_insert_with(|| principal_entity(&a.principal_key));
            // remove_entry/insert hands the key back: no allocation per activity.
            let (key, mut principal) = states
                .remove_entry(pk.as_str())
                .unwrap_or_else(|| (pk.clone(), EntityState::default()));
            principal.touch(a.time);
            let filters = self.detectors.iter().map(|c| &c.detector.spec().filter);
            for &i in dispatch.candidates(a, filters) {
                let c = &self.detectors[i];
                let spec = c.detector.spec();
                if !spec.filter.matches_given_kind(a, &mut memo) {
                    continue;
                }
                // Suppressed activity is counted, and neither raises findings nor trains
                // the baselines and seen sets (known-good bursts must not become normal).
                if !c.suppress.is_empty() {
                    if c.suppress.iter().any(|s| s.matches(a)) {
                        alerts.suppressions.suppressed += 1;
                        continue;
                    }
                    // Judged as usual, and reported: the suppression meant for it is over.
                    if c.suppress.iter().any(|s| s.matches_expired(a)) {
                        alerts.suppressions.expired += 1;
                    }
                }
                let mut ctx = Ctx {
                    principal: &mut principal,
                    others: states,
                    learning: self.learning,
                    alerts: &mut alerts,
                };
                c.detector.observe(&mut ctx, a);
            }
            if !alerts.signals.is_empty() {
                let signals = std::mem::take(&mut alerts.signals);
                for c in self
                    .detectors
                    .iter()
                    .filter(|c| c.detector.takes_findings())
                {
                    if c.suppress.iter().any(|s| s.matches(a)) {
                        continue;
                    }
                    let mut ctx = Ctx {
                        principal: &mut principal,
                        others: states,
                        learning: self.learning,
                        alerts: &mut alerts,
                    };
                    for s in &signals {
                        c.detector.observe_finding(&mut ctx, a, s);
                    }
                }
            }
            states.insert(key, principal);
        }
        let mut out = alerts.finished;
        for (id, (entity, slot)) in alerts.touched {
            let open = states.get(&entity).and_then(|s| s.open.get(&slot));
            if let Some(o) = open.filter(|o| o.finding.id == id) {
                out.insert(id, o.finding.clone());
            }
        }
        for s in states.values_mut() {
            s.prune(s.last_seen);
        }
        let findings = out
            .into_values()
            .map(|mut f| {
                f.cap_title();
                f
            })
            .collect();
        (findings, alerts.suppressions)
    }
}

/// The detector id and `enabled` flag of a file, read before the file is checked whole.
fn id_of(file: &str, text: &str) -> Result<(String, bool), SpecError> {
    let err = |field: &str, reason: String| SpecError {
        file: file.into(),
        field: field.into(),
        reason,
    };
    let v: toml::Table =
        toml::from_str(text).map_err(|e| err("(file)", e.message().to_string()))?;
    let id = v
        .get("id")
        .and_then(|i| i.as_str())
        .ok_or_else(|| err("id", "missing: every detector file names its id".into()))?;
    let enabled = v.get("enabled").and_then(|e| e.as_bool()).unwrap_or(true);
    Ok((id.to_string(), enabled))
}

/// Merges `overrides` over `defaults` by detector id (see [`Engine::merged`]); files whose id
/// cannot be read, or that repeat an id, are returned as errors and left out.
pub fn merge_by_id(
    defaults: &[(&str, &str)],
    overrides: &[(String, String)],
) -> (Vec<(String, String)>, Vec<SpecError>) {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in defaults {
        match id_of(file, text) {
            Ok((id, _)) => out.push((id, file.to_string(), text.to_string())),
            Err(e) => errors.push(e),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (file, text) in overrides {
        let (id, enabled) = match id_of(file, text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            errors.push(SpecError {
                file: file.clone(),
                field: "id".into(),
                reason: format!("`{id}` is defined twice in the detectors folder"),
            });
            continue;
        }
        out.retain(|(i, _, _)| *i != id);
        if enabled {
            out.push((id, file.clone(), text.clone()));
        }
    }
    (out.into_iter().map(|(_, f, t)| (f, t)).collect(), errors)
}
