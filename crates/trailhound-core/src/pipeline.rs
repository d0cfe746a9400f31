//! The path every object takes, shared by the replay and Lambda drivers:
//! decode → normalize (sync, streaming) then load state → detect → commit (async, retried on
//! conflict, with the store's own backoff). What happened is reported through
//! [`crate::events`].

use std::io::Read;

use crate::activity::{self, Activity, Decoded, Normalizer, Sink};
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
    /// The newest event time a record may carry (Unix seconds): the Lambda passes `None`
    /// (now, by the wall clock, plus [`FUTURE_SLACK`]); replay passes its newest key time
    /// plus the slack.
    pub newest_allowed: Option<i64>,
}

/// The time filter between the decoder and a [`Sink`]: records dated outside
/// `[oldest, newest]` are counted and dropped, those outside `[since, until)` dropped.
struct Ranged<'s> {
    oldest: Option<i64>,
    newest: i64,
    since: Option<i64>,
    until: Option<i64>,
    dropped: u64,
    /// The newest time among the records in range (before `since`/`until`).
    newest_kept: Option<i64>,
    out: &'s mut dyn Sink,
}

impl Sink for Ranged<'_> {
    fn push(&mut self, a: Activity) {
        if a.time > self.newest || self.oldest.is_some_and(|o| a.time < o) {
            self.dropped += 1;
            return;
        }
        self.newest_kept = Some(self.newest_kept.map_or(a.time, |t| t.max(a.time)));
        if self.since.is_none_or(|s| a.time >= s) && self.until.is_none_or(|u| a.time < u) {
            self.out.push(a);
        }
    }
}

/// How far past the newest allowed time (now, or the newest key time) a record may be dated.
pub const FUTURE_SLACK: i64 = 15 * 60;
/// How far before its object's key time a record may be dated.
pub const PAST_SLACK: i64 = 86_400;

/// The result of applying one object's activities.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings raised or updated by the object (or, for a redelivery, those still unpublished).
    pub findings: Vec<Finding>,
    /// The object had been applied before: state was not touched.
    pub duplicate: bool,
    /// (activity, detector) pairs a suppression matched (not judged, not learned), and
    /// those only an expired suppression matched.
    pub suppressions: crate::detect::Suppressions,
    pub attempts: u32,
}

impl Pipeline<'_> {
    /// Decodes one object into activities sorted by event time. On error the object yields none.
    pub fn decode<R: Read>(
        &self,
        object: &ObjectRef,
        raw: R,
    ) -> Result<(Decoded, Vec<Activity>), ObjectError> {
        let mut acts = Vec::new();
        let decoded = self.decode_into(object, raw, &mut acts)?;
        acts.sort_by_key(|a| a.time);
        Ok((decoded, acts))
    }

    /// Decodes one object and hands `out` its activities in record order, only those in
    /// the allowed time range and in `[since, until)`. On error `out` has been given the
    /// activities before it, which the caller discards.
    pub fn decode_into<R: Read>(
        &self,
        object: &ObjectRef,
        raw: R,
        out: &mut dyn Sink,
    ) -> Result<Decoded, ObjectError> {
        let opened = crate::ingest::inflate::open(raw, self.limits.max_object_bytes);
        self.decode_opened_into(object, opened, out)
    }

    /// As [`Pipeline::decode_into`], inflating on a thread of its own (for a caller with a
    /// core to spare; see [`crate::ingest::inflate::open_ahead`]). Same activities, same errors.
    pub fn decode_ahead_into<R: Read + Send + 'static>(
        &self,
        object: &ObjectRef,
        raw: R,
        out: &mut dyn Sink,
    ) -> Result<Decoded, ObjectError> {
        let opened = crate::ingest::inflate::open_ahead(raw, self.limits.max_object_bytes);
        self.decode_opened_into(object, opened, out)
    }

    fn decode_opened_into<R: Read>(
        &self,
        object: &ObjectRef,
        opened: std::io::Result<crate::ingest::inflate::Inflated<R>>,
        out: &mut dyn Sink,
    ) -> Result<Decoded, ObjectError> {
        let mut norm = Normalizer::new(self.geo).with_paths(self.engine.paths());
        // Range-check event times: one forged timestamp must not move a watermark, expire
        // state or split a finding. Out-of-range records are bad records, not activity.
        let mut ranged = Ranged {
            oldest: crate::ingest::key_time(&object.key).map(|k| k - PAST_SLACK),
            newest: self
                .newest_allowed
                .unwrap_or_else(|| chrono::Utc::now().timestamp() + FUTURE_SLACK),
            since: self.since,
            until: self.until,
            dropped: 0,
            newest_kept: None,
            out,
        };
        let mut decoded = activity::decode::decode_opened_into(
            object,
            classify(&object.key),
            opened,
            &self.limits,
            &mut norm,
            &mut ranged,
        )?;
        let dropped = ranged.dropped;
        if dropped > 0 {
            tracing::warn!(object = %object, records = dropped, "records dated outside the allowed range skipped");
            *decoded
                .bad
                .entry(crate::record::BadRecord::TimeOutOfRange)
                .or_default() += dropped;
            decoded.records -= dropped;
            decoded.newest_event = ranged.newest_kept;
        }
        Ok(decoded)
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
        let mut out = self.apply_group(store, &[(object, acts)], publish).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Applies consecutive objects (in the order given, the replay order) in one load and
    /// one commit: each entity they share is read and written once, and every object is
    /// marked applied in the same commit, each with its own outbox. The state after it is
    /// the state after applying them one by one. Objects applied before are duplicates (their
    /// pending findings returned), the others are applied on top. A finding that a later
    /// object of the group updates is committed, returned and published once, with that
    /// object: the earlier version never reached the store. The caller keeps the group
    /// within one commit's size (the DynamoDB store: entities plus objects within one
    /// transaction) and names each object once.
    pub async fn apply_group<S: Store>(
        &self,
        store: &S,
        group: &[(&ObjectRef, &[Activity])],
        publish: impl Fn(&Finding) -> bool,
    ) -> anyhow::Result<Vec<Outcome>> {
        let keys = self.group_keys(group);
        self.apply_group_keyed(store, group, &keys, publish).await
    }

    /// The entity keys a group of objects needs: the union of [`Engine::entity_keys`] over
    /// its objects, sorted.
    fn group_keys(&self, group: &[(&ObjectRef, &[Activity])]) -> Vec<String> {
        match group {
            [(_, acts)] => self.engine.entity_keys(acts),
            _ => {
                let mut keys: Vec<String> = (group.iter())
                    .flat_map(|(_, acts)| self.engine.entity_keys(acts))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            }
        }
    }

    /// [`Pipeline::apply_group`] with the entity keys of the group's activities already known
    /// (the union of [`Engine::entity_keys`] over its objects, as a caller that sized the
    /// group computed them).
    ///
    /// A store may refuse a commit of several objects as larger than it writes at once
    /// ([`Commit::TooLarge`]: DynamoDB's 4 MB a transaction, reached only when many of the
    /// group's entities carry large states). Nothing was written then: the objects are
    /// applied in two halves, the first before the second (each split again if it must),
    /// with the state and findings of applying them one by one.
    pub async fn apply_group_keyed<S: Store>(
        &self,
        store: &S,
        group: &[(&ObjectRef, &[Activity])],
        keys: &[String],
        publish: impl Fn(&Finding) -> bool,
    ) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes: Vec<Outcome> = group.iter().map(|_| Outcome::default()).collect();
        // Ranges of the group still to apply, the next one last.
        let mut ranges = vec![(0, group.len())];
        while let Some((lo, hi)) = ranges.pop() {
            let part = &group[lo..hi];
            let own;
            let keys = if hi - lo == group.len() {
                keys
            } else {
                own = self.group_keys(part);
                &own
            };
            // Boxed: one more level of async state machine inline here overflowed rustc's
            // query depth in the test binary, which nests `handle` in its own futures.
            let commit = self.commit_range(store, part, keys, &publish, &mut outcomes[lo..hi]);
            match Box::pin(commit).await? {
                Fit::Done => {}
                Fit::Split => {
                    // (The store logs the refusal.)
                    let mid = lo + (hi - lo) / 2;
                    ranges.push((mid, hi));
                    ranges.push((lo, mid));
                }
            }
        }
        Ok(outcomes)
    }

    /// Loads, applies and commits `group` as one commit, retried on conflicts, filling
    /// `outcomes` (one per object); [`Fit::Split`] when the store found the commit too large
    /// for several objects (nothing written, `outcomes` untouched).
    async fn commit_range<S: Store>(
        &self,
        store: &S,
        group: &[(&ObjectRef, &[Activity])],
        keys: &[String],
        publish: &impl Fn(&Finding) -> bool,
        outcomes: &mut [Outcome],
    ) -> anyhow::Result<Fit> {
        // An object without activities changes no state: nothing to load, apply or mark.
        let live: Vec<usize> = (0..group.len())
            .filter(|&i| !group[i].1.is_empty())
            .collect();
        let Some(&first) = live.first() else {
            return Ok(Fit::Done);
        };
        let name = if live.len() == 1 {
            group[first].0.to_string()
        } else {
            format!("{} and {} objects after it", group[first].0, live.len() - 1)
        };
        let objects: Vec<ObjectRef> = live.iter().map(|&i| group[i].0.clone()).collect();
        let (mut conflicts, mut throttled) = (0u32, 0u32);
        for attempt in 1..=MAX_ATTEMPTS {
            // Checked before every load and commit: a part (or a retry after a conflict)
            // is not started past the deadline; the object fails and its event is retried
            // (parts already committed are not applied again).
            if self
                .limits
                .deadline
                .is_some_and(|d| std::time::Instant::now() >= d)
            {
                anyhow::bail!(
                    "{name}: the invocation ran out of time while applying it (attempt {attempt}); the event will be retried (raise the function's timeout if this repeats)"
                );
            }
            let mut snap = store.load(&objects, keys).await?;
            let mut todo = Vec::new();
            for (j, applied) in std::mem::take(&mut snap.applied).into_iter().enumerate() {
                match applied {
                    Some(pending) => {
                        outcomes[live[j]] = Outcome {
                            findings: pending,
                            duplicate: true,
                            suppressions: Default::default(),
                            attempts: attempt,
                        }
                    }
                    None => todo.push(live[j]),
                }
            }
            if todo.is_empty() {
                return Ok(Fit::Done);
            }
            // Worked on in place and handed to the store: no copy of any state (a conflict
            // reloads them).
            let mut states = std::mem::take(&mut snap.states);
            let mut results: Vec<(Vec<Finding>, crate::detect::Suppressions)> = todo
                .iter()
                .map(|&i| {
                    self.engine
                        .apply_counted(&mut states, group[i].1, group[i].0)
                })
                .collect();
            if results.len() > 1 {
                let mut later = std::collections::HashSet::new();
                for (findings, _) in results.iter_mut().rev() {
                    findings.retain(|f| later.insert(f.id.clone()));
                }
            }
            let outboxes: Vec<Vec<Finding>> = results
                .iter()
                .map(|(f, _)| f.iter().filter(|f| publish(f)).cloned().collect())
                .collect();
            let marks: Vec<(&ObjectRef, &[Finding])> = todo
                .iter()
                .zip(&outboxes)
                .map(|(&i, o)| (group[i].0, o.as_slice()))
                .collect();
            match store.commit(&marks, &snap, states).await? {
                Commit::Done => {
                    for (&i, (findings, suppressions)) in todo.iter().zip(results) {
                        outcomes[i] = Outcome {
                            findings,
                            duplicate: false,
                            suppressions,
                            attempts: attempt,
                        };
                    }
                    return Ok(Fit::Done);
                }
                Commit::TooLarge if todo.len() > 1 => return Ok(Fit::Split),
                Commit::TooLarge => anyhow::bail!(
                    "{name}: the store refused one object's commit as too large, which it must trim instead; report it as a bug"
                ),
                Commit::Conflict => {
                    conflicts += 1;
                    tracing::debug!(object = %name, attempt, "state changed underneath; reloading");
                    store.backoff(attempt).await;
                }
                Commit::Throttled => {
                    throttled += 1;
                    tracing::debug!(object = %name, attempt, "commit throttled; reloading");
                    store.backoff(attempt).await;
                }
            }
        }
        anyhow::bail!("{}", commit_gave_up(&name, conflicts, throttled))
    }
}

/// What became of one commit of a group.
enum Fit {
    Done,
    /// The store found the commit too large for several objects: apply them in halves.
    Split,
}

/// Why an object's commit never went through in [`MAX_ATTEMPTS`]: concurrent changes (a hot
/// principal shared with other invocations) or the store's throttling (capacity), which
/// call for different fixes.
fn commit_gave_up(object: &str, conflicts: u32, throttled: u32) -> String {
    if throttled == 0 {
        return format!(
            "{object}: state kept changing underneath after {MAX_ATTEMPTS} attempts; the event will be retried"
        );
    }
    let also = if conflicts > 0 {
        format!(", and for concurrent changes {conflicts} times")
    } else {
        String::new()
    };
    format!(
        "{object}: the state commit did not go through in {MAX_ATTEMPTS} attempts: the store cancelled it for throttling {throttled} times{also}; the event will be retried (check the table's capacity and its ThrottledRequests metric)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_that_never_goes_through_says_what_stopped_it() {
        let o = ObjectRef {
            bucket: "b".into(),
            key: "k".into(),
            version: "e".into(),
            part: 0,
        };
        assert_eq!(
            commit_gave_up(&o.to_string(), 12, 0),
            "s3://b/k: state kept changing underneath after 12 attempts; the event will be retried"
        );
        let mixed = commit_gave_up(&o.to_string(), 5, 7);
        assert!(
            mixed.starts_with("s3://b/k: the state commit did not go through in 12 attempts: the store cancelled it for throttling 7 times, and for concurrent changes 5 times; "),
            "{mixed}"
        );
    }
}
