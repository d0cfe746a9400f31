//! `sequence`: step A followed by step B within a time, by the same principal or the same
//! access key (enumeration, then invocation from a long-term key). No learning period.
//!
//! ```toml
//! kind = "sequence"
//! [params]
//! by = "access-key"                 # principal | access-key
//! within = "1h"                     # B at most this long after A completed
//! [params.first]                    # step A
//! min_distinct_event_names = 3      # A completes at its 3rd distinct event name ...
//! window = "30m"                    # ... within this window (default: `within`)
//! [params.first.match]              # a [match] table, applied after the file's [match]
//! event_names = ["ListFoundationModels", "GetModelInvocationLoggingConfiguration", "List*"]
//! [params.then.match]               # step B
//! event_names = ["InvokeModel", "Converse"]
//! ```
//!
//! An event that matches both steps counts as B for an A completed before it, then as A:
//! one event is never a whole sequence. A B that arrives before its A (objects come out
//! of order) is held for a while, so the A that arrives late still completes the sequence.
//! Findings are one per principal and key (`by`); repeats within the cooldown update them.
//! Events without an access key (invocation logs) are ignored with `by = "access-key"`.
//!
//! State caps (see `state::kinds`): 8 keys per detector and principal, the least recently
//! written evicted; 64 step-A event names, 8 completions and 8 held B events per key; all
//! dropped once older than max(step window, `within`) + `lateness` (default 1h) before the
//! newest event of the key. `within` and the step window are at most 7 days, `lateness` 1.
//!
//! Template placeholders: [`PLACEHOLDERS`].

use serde::Deserialize;
use serde_json::json;

use super::rule::context_evidence;
use crate::activity::{Activity, Source, principal_name};
use crate::detect::filter::{Filter, FilterSpec};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render, thousands};
use crate::state::kinds::{MAX_SERIES, MAX_STEP_NAMES, capped_entry};

/// Placeholders of `sequence` templates.
pub const PLACEHOLDERS: &[&str] = &[
    "principal_name",
    "account",
    "region",
    "first_events",
    "first_count",
    "then_event",
    "elapsed",
    "within",
    "by",
    "access_key_id",
    "count",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_by")]
    by: String,
    within: String,
    first: Step,
    then: Step,
    #[serde(default = "default_lateness")]
    lateness: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default, rename = "match")]
    filter: FilterSpec,
    #[serde(default)]
    min_distinct_event_names: Option<usize>,
    #[serde(default)]
    window: Option<String>,
}

fn default_by() -> String {
    "principal".into()
}
fn default_lateness() -> String {
    "1h".into()
}

pub struct Sequence {
    spec: Spec,
    by_key: bool,
    within: i64,
    first: Filter,
    then: Filter,
    min_distinct: usize,
    first_window: i64,
    keep: i64,
}

impl Sequence {
    pub fn new(mut spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        super::rule::check_templates(&spec, PLACEHOLDERS)?;
        let by_key = match p.by.as_str() {
            "principal" => false,
            "access-key" => true,
            b => {
                return Err((
                    "params.by".into(),
                    format!("`{b}`: expected principal or access-key"),
                ));
            }
        };
        if by_key && !spec.filter.can_see(Source::Cloudtrail) {
            return Err((
                "match.sources".into(),
                "by = \"access-key\" needs CloudTrail records (invocation logs carry no access key)".into(),
            ));
        }
        // Bounded so the state a key keeps is bounded (`state::kinds::MAX_SEQUENCE_SECS`).
        let bounded = |field: &str, v: &str, max: i64| {
            super::duration(field, v).and_then(|d| {
                if d <= max {
                    Ok(d)
                } else {
                    Err((
                        field.to_string(),
                        format!("`{v}` is longer than {}", crate::time::humanize(max)),
                    ))
                }
            })
        };
        let within = bounded("params.within", &p.within, 7 * 86_400)?;
        let lateness = match p.lateness.as_str() {
            "0" | "0s" => 0,
            l => bounded("params.lateness", l, 86_400)?,
        };
        let first_window = match &p.first.window {
            Some(w) => bounded("params.first.window", w, 7 * 86_400)?,
            None => within,
        };
        let min_distinct = p.first.min_distinct_event_names.unwrap_or(1);
        if !(1..=MAX_STEP_NAMES).contains(&min_distinct) {
            return Err((
                "params.first.min_distinct_event_names".into(),
                format!("must be 1 to {MAX_STEP_NAMES}"),
            ));
        }
        if p.then.min_distinct_event_names.is_some() || p.then.window.is_some() {
            return Err((
                "params.then".into(),
                "step B is one event: it takes only a match table".into(),
            ));
        }
        let first = Filter::compile(&p.first.filter, "params.first.match")
            .map_err(|e| ("params.first.match".to_string(), e))?;
        let then = Filter::compile(&p.then.filter, "params.then.match")
            .map_err(|e| ("params.then.match".to_string(), e))?;
        // The steps' paths are read on the events their own filters (or [match]) name.
        let outer = spec.filter.event_names();
        for step in [&first, &then] {
            let names = step.event_names().or_else(|| outer.clone());
            for (path, _) in step.declared() {
                spec.filter.declare(path.clone(), names.clone());
            }
        }
        Ok(Sequence {
            spec,
            by_key,
            within,
            first,
            then,
            min_distinct,
            first_window,
            keep: first_window.max(within) + lateness,
        })
    }
}

/// A completed sequence: step A completed at `done`, step B at `then_time`.
struct Hit {
    done: i64,
    then_time: i64,
    then_name: String,
}

impl Detector for Sequence {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let key = if self.by_key {
            match a.access_key_id.as_deref() {
                Some(k) => k,
                None => return,
            }
        } else {
            "principal"
        };
        let (is_first, is_then) = (self.first.matches(a), self.then.matches(a));
        if !is_first && !is_then {
            return;
        }
        let t = a.time;
        let st = capped_entry(
            &mut ctx.principal.kinds.sequences,
            &self.spec.id,
            key,
            MAX_SERIES,
        );
        st.advance(t, self.keep);
        let mut hits = Vec::new();
        let mut hold = false;
        if is_then {
            match st.completed_before(t, self.within) {
                Some(done) => hits.push(Hit {
                    done,
                    then_time: t,
                    then_name: a.event_name.to_string(),
                }),
                None => hold = true,
            }
        }
        if is_first && st.see_first(&a.event_name, t, self.first_window) >= self.min_distinct {
            st.complete(t);
            for (then_time, then_name) in st.take_after(t, self.within) {
                hits.push(Hit {
                    done: t,
                    then_time,
                    then_name,
                });
            }
        }
        if hold {
            st.hold(t, &a.event_name);
        }
        // What step A was, for each hit, read before the state is let go.
        let firsts: Vec<Vec<(String, i64)>> = hits
            .iter()
            .map(|h| {
                st.first_names(h.done, self.first_window)
                    .into_iter()
                    .map(|(n, s)| (n.to_string(), s))
                    .collect()
            })
            .collect();
        for (h, names) in hits.into_iter().zip(firsts) {
            self.raise(ctx, a, key, &h, &names);
        }
    }
}

impl Sequence {
    fn raise(&self, ctx: &mut Ctx<'_>, a: &Activity, key: &str, h: &Hit, names: &[(String, i64)]) {
        let start = names
            .iter()
            .map(|(_, s)| *s)
            .min()
            .unwrap_or(h.done)
            .min(h.done);
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, key, start, 1)
        else {
            return;
        };
        // A late step A raises with its own time: B is the episode's last event.
        if h.then_time > open.last {
            open.last = h.then_time;
            open.finding.last_seen = crate::time::format(h.then_time);
        }
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        let elapsed = h.then_time - h.done;
        ev.insert(
            "by".into(),
            json!(if self.by_key {
                "access-key"
            } else {
                "principal"
            }),
        );
        if self.by_key {
            ev.insert("access_key_id".into(), json!(key));
        }
        let first = ev.entry("first_step").or_insert_with(
            || json!({"event_names": [], "completed_at": crate::time::format(h.done)}),
        );
        if let Some(first) = first.as_object_mut() {
            for (n, _) in names {
                push_unique(first, "event_names", n, 20);
            }
            first.insert("min_distinct_event_names".into(), json!(self.min_distinct));
            if let Some((_, s)) = names.first() {
                first
                    .entry("first_seen")
                    .or_insert_with(|| json!(crate::time::format(*s)));
            }
        }
        let then = ev.entry("then_step").or_insert_with(
            || json!({"event_names": [], "first_seen": crate::time::format(h.then_time)}),
        );
        if let Some(then) = then.as_object_mut() {
            push_unique(then, "event_names", &h.then_name, 20);
        }
        ev.entry("elapsed_seconds")
            .or_insert_with(|| json!(elapsed));
        ev.insert("within".into(), json!(crate::time::humanize(self.within)));
        context_evidence(ev, a);
        let first_events: Vec<&str> = ev["first_step"]["event_names"]
            .as_array()
            .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let by = if self.by_key {
            "access key"
        } else {
            "principal"
        };
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("account", f.account.clone()),
            ("region", a.region.to_string()),
            ("first_events", first_events.join(", ")),
            ("first_count", first_events.len().to_string()),
            ("then_event", h.then_name.clone()),
            ("elapsed", short_duration(elapsed)),
            ("within", crate::time::humanize(self.within)),
            ("by", by.to_string()),
            (
                "access_key_id",
                a.access_key_id.as_deref().unwrap_or("-").to_string(),
            ),
            ("count", thousands(f.count)),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}

/// `42 seconds`, `17 minutes`, `3.5 hours`.
pub(super) fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 120 {
        format!("{secs} seconds")
    } else if secs < 7200 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{:.1} hours", secs as f64 / 3600.0)
    }
}
