//! The path every object takes, shared by the replay and Lambda drivers:
//! decode → normalize (sync, streaming) then load state → detect → commit (async, retried on
//! conflict). Counters for both drivers' summaries and metrics live here too.

use std::collections::BTreeMap;
use std::io::Read;

use crate::activity::{Activity, Normalizer};
use crate::alert::Finding;
use crate::detect::Engine;
use crate::geo::Geo;
use crate::ingest::{ObjectError, ObjectKind, ObjectRef, SkipReason, classify};
use crate::record::{self, Decoded, Limits};
use crate::state::{Commit, Store};

/// Attempts at an optimistic commit before giving up on an object.
const MAX_ATTEMPTS: u32 = 12;

/// Decoding settings shared by every object.
pub struct Pipeline<'a> {
    pub engine: &'a Engine,
    pub geo: &'a Geo,
    pub limits: Limits,
    /// Keep only events in `[since, until)` (event time, Unix seconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The result of applying one object's activities.
#[derive(Debug, Default)]
pub struct Applied {
    /// Findings raised or updated by the object (or, for a redelivery, those still unpublished).
    pub findings: Vec<Finding>,
    /// The object had been applied before: state was not touched.
    pub duplicate: bool,
    pub attempts: u32,
}

impl Pipeline<'_> {
    /// Decodes one object into activities sorted by event time. On error the object yields none.
    pub fn decode<R: Read>(
        &self,
        object: &ObjectRef,
        raw: R,
    ) -> Result<(Decoded, Vec<Activity>), ObjectError> {
        let mut norm = Normalizer::new(self.geo);
        let mut acts = Vec::new();
        let decoded = record::decode_object(
            object,
            0,
            classify(&object.key),
            raw,
            &self.limits,
            &mut norm,
            &mut acts,
        )?;
        if self.since.is_some() || self.until.is_some() {
            acts.retain(|a| {
                self.since.is_none_or(|s| a.time >= s) && self.until.is_none_or(|u| a.time < u)
            });
        }
        acts.sort_by_key(|a| a.time);
        Ok((decoded, acts))
    }

    /// Applies an object's activities through `store`: load, detect, commit; on a conflict
    /// (another invocation changed an entity) load and apply again.
    pub async fn apply<S: Store>(
        &self,
        store: &S,
        object: &ObjectRef,
        acts: &[Activity],
    ) -> anyhow::Result<Applied> {
        if acts.is_empty() {
            return Ok(Applied::default());
        }
        let keys = self.engine.entity_keys(acts);
        for attempt in 1..=MAX_ATTEMPTS {
            let snap = store.load(object, &keys).await?;
            if let Some(pending) = snap.applied {
                return Ok(Applied {
                    findings: pending,
                    duplicate: true,
                    attempts: attempt,
                });
            }
            let mut states = snap.states.clone();
            let findings = self
                .engine
                .apply(&mut states, acts, std::slice::from_ref(object));
            match store.commit(object, &snap, &states, &findings).await? {
                Commit::Done => {
                    return Ok(Applied {
                        findings,
                        duplicate: false,
                        attempts: attempt,
                    });
                }
                Commit::Conflict => {
                    tracing::debug!(object = %object, attempt, "state changed underneath; reloading");
                    let backoff = 5u64 << attempt.min(7);
                    let jitter =
                        (object.key.len() as u64 * 7 + attempt as u64 * 13) % backoff.max(1);
                    tokio::time::sleep(std::time::Duration::from_millis(backoff + jitter)).await;
                }
            }
        }
        anyhow::bail!(
            "{object}: state kept changing underneath after {MAX_ATTEMPTS} attempts; the event will be retried"
        )
    }
}

/// Counters for a run (replay) or an invocation (Lambda).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub objects: BTreeMap<&'static str, u64>,
    pub skipped: BTreeMap<&'static str, u64>,
    pub errors: BTreeMap<&'static str, u64>,
    pub duplicates: u64,
    pub records: u64,
    pub bad_records: BTreeMap<&'static str, u64>,
    pub odd_values: BTreeMap<&'static str, u64>,
    pub findings: BTreeMap<String, u64>,
    pub bytes_in: u64,
    pub bytes_inflated: u64,
    pub newest_event: Option<i64>,
}

impl Stats {
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason.as_str()).or_default() += 1;
    }

    pub fn error(&mut self, e: &ObjectError) {
        *self.errors.entry(e.kind()).or_default() += 1;
    }

    pub fn decoded(&mut self, d: &Decoded) {
        match d.kind {
            Some(ObjectKind::Skipped(r)) => self.skip(r),
            Some(ObjectKind::CloudTrail) => *self.objects.entry("cloudtrail").or_default() += 1,
            Some(ObjectKind::Invocation) => *self.objects.entry("invocation").or_default() += 1,
            _ => *self.objects.entry("other").or_default() += 1,
        }
        self.records += d.records;
        for (k, v) in &d.bad {
            *self.bad_records.entry(k.as_str()).or_default() += v;
        }
        for (k, v) in &d.odd {
            *self.odd_values.entry(k).or_default() += v;
        }
        self.bytes_inflated += d.inflated_bytes;
        if let Some(t) = d.newest_event {
            self.newest_event = Some(self.newest_event.map_or(t, |n| n.max(t)));
        }
    }

    pub fn objects_read(&self) -> u64 {
        self.objects.values().sum()
    }

    pub fn bad_total(&self) -> u64 {
        self.bad_records.values().sum()
    }

    pub fn merge(&mut self, o: &Stats) {
        fn add<K: Ord + Clone>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>) {
            for (k, v) in b {
                *a.entry(k.clone()).or_default() += v;
            }
        }
        add(&mut self.objects, &o.objects);
        add(&mut self.skipped, &o.skipped);
        add(&mut self.errors, &o.errors);
        add(&mut self.bad_records, &o.bad_records);
        add(&mut self.odd_values, &o.odd_values);
        add(&mut self.findings, &o.findings);
        self.duplicates += o.duplicates;
        self.records += o.records;
        self.bytes_in += o.bytes_in;
        self.bytes_inflated += o.bytes_inflated;
        self.newest_event = match (self.newest_event, o.newest_event) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}
