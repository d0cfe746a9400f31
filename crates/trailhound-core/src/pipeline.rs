//! The path every object takes, shared by the replay and Lambda drivers:
//! decode → normalize (sync, streaming) then load state → detect → commit (async, retried on
//! conflict, with the store's own backoff). What happened is reported through
//! [`crate::events`].

use std::io::Read;

use crate::activity::{self, Activity, Decoded, Normalizer};
use crate::detect::Engine;
use crate::finding::Finding;
use crate::geo::Geo;
use crate::ingest::{ObjectError, ObjectRef, classify};
use crate::record::Limits;
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
pub struct Outcome {
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
        let decoded = activity::decode_object(
            object,
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
    /// (another invocation changed an entity) load and apply again. Findings for which
    /// `publish` says yes go to the store's outbox with the commit (the Lambda publishes at or
    /// above its minimum severity; replay keeps them all).
    pub async fn apply<S: Store>(
        &self,
        store: &S,
        object: &ObjectRef,
        acts: &[Activity],
        publish: impl Fn(&Finding) -> bool,
    ) -> anyhow::Result<Outcome> {
        if acts.is_empty() {
            return Ok(Outcome::default());
        }
        let keys = self.engine.entity_keys(acts);
        for attempt in 1..=MAX_ATTEMPTS {
            let snap = store.load(object, &keys).await?;
            if let Some(pending) = snap.applied {
                return Ok(Outcome {
                    findings: pending,
                    duplicate: true,
                    attempts: attempt,
                });
            }
            let mut states = snap.states.clone();
            let findings = self.engine.apply(&mut states, acts, object);
            let outbox: Vec<Finding> = findings.iter().filter(|f| publish(f)).cloned().collect();
            match store.commit(object, &snap, &states, &outbox).await? {
                Commit::Done => {
                    return Ok(Outcome {
                        findings,
                        duplicate: false,
                        attempts: attempt,
                    });
                }
                Commit::Conflict => {
                    tracing::debug!(object = %object, attempt, "state changed underneath; reloading");
                    store.backoff(attempt).await;
                }
            }
        }
        anyhow::bail!(
            "{object}: state kept changing underneath after {MAX_ATTEMPTS} attempts; the event will be retried"
        )
    }
}
