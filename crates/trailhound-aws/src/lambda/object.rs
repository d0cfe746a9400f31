//! One object through the Lambda path: fetch and decode (streaming), apply through the
//! DynamoDB store in parts of bounded size, publish what the object raised or updated to
//! every configured sink, and mark it published once every sink accepted it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use trailhound_core::activity::Activity;
use trailhound_core::detect::Engine;
use trailhound_core::events::Event;
use trailhound_core::finding::Finding;
use trailhound_core::ingest::{ObjectError, ObjectKind, ObjectRef, SkipReason, classify};
use trailhound_core::state::Store;

use super::metrics::Invocation;
use super::{Deps, Fetch, Publish};
use crate::envelope::Target;
use crate::s3::Fetched;

/// Entities one commit may write. A transaction holds 100 items (these plus the object
/// marker) and 4 MB: with the worst-case entity item measured at 80 KB compressed (see the
/// `lambda_state` tests), 45 entities and an object item with pending findings inline
/// (at most 200 KB) stay under 3.9 MB.
pub const MAX_PART_ENTITIES: usize = 45;

/// Splits an object's activities (sorted by event time) into parts that each need at most
/// `max` entities, so each commits in one transaction. Objects within the limit (nearly all)
/// are one part. Otherwise activities are grouped by principal (a principal's state never
/// spans two parts unless the principal alone needs more than `max` entities, in which case
/// its activities are cut into consecutive runs), and groups are packed in order. Each part
/// keeps event-time order. The split is deterministic, so a redelivery makes the same parts.
pub fn split_parts(engine: &Engine, acts: Vec<Activity>, max: usize) -> Vec<Vec<Activity>> {
    if engine.entity_keys(&acts).len() <= max {
        return vec![acts];
    }
    let mut by_principal: BTreeMap<String, Vec<Activity>> = BTreeMap::new();
    for a in acts {
        by_principal
            .entry(a.principal_key.to_string())
            .or_default()
            .push(a);
    }
    // Units: a principal's activities, or runs of them when it alone is too wide.
    let mut units: Vec<(BTreeSet<String>, Vec<Activity>)> = Vec::new();
    for (_, group) in by_principal {
        let keys: BTreeSet<String> = engine.entity_keys(&group).into_iter().collect();
        if keys.len() <= max {
            units.push((keys, group));
            continue;
        }
        let mut run: (BTreeSet<String>, Vec<Activity>) = Default::default();
        for a in group {
            let need = engine.entity_keys(std::slice::from_ref(&a));
            let new = need.iter().filter(|k| !run.0.contains(*k)).count();
            if run.0.len() + new > max && !run.1.is_empty() {
                units.push(std::mem::take(&mut run));
            }
            run.0.extend(need);
            run.1.push(a);
        }
        if !run.1.is_empty() {
            units.push(run);
        }
    }
    let mut parts: Vec<(BTreeSet<String>, Vec<Activity>)> = Vec::new();
    for (keys, acts) in units {
        let fits = parts
            .last()
            .is_some_and(|(k, _)| k.len() + keys.iter().filter(|x| !k.contains(*x)).count() <= max);
        if fits {
            let last = parts.last_mut().expect("checked");
            last.0.extend(keys);
            last.1.extend(acts);
        } else {
            parts.push((keys, acts));
        }
    }
    parts
        .into_iter()
        .map(|(_, mut acts)| {
            acts.sort_by_key(|a| a.time);
            acts
        })
        .collect()
}

/// The identity of part `i` of `n`: the object itself when whole.
pub fn part_ref(object: &ObjectRef, i: usize, n: usize) -> ObjectRef {
    let mut o = object.clone();
    if n > 1 {
        o.part = i as u32 + 1;
    }
    o
}

/// Why an object failed: its delivery is retried.
#[derive(Debug)]
pub struct Failed(pub String);

/// An object fetched and decoded, its activities waiting to be applied.
pub struct Ready<'t> {
    pub target: &'t Target,
    meta: Meta,
    /// The object's activities, in event-time order.
    pub acts: Vec<Activity>,
}

/// What the object's log line reports besides its outcome.
#[derive(Clone, Copy)]
struct Meta {
    started: Instant,
    decode_ms: u64,
    records: u64,
    bad: u64,
}

/// Processes one object on its own; its events feed `inv`. Returns the findings published.
pub async fn process<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    target: &Target,
    inv: &mut Invocation,
) -> Result<usize, Failed> {
    match fetch(deps, target, inv).await? {
        Some(ready) => apply_alone(deps, ready, inv).await,
        None => Ok(0),
    }
}

/// Why an object is not read at all (its key, or a size of zero), decided before any fetch.
pub fn precheck(target: &Target) -> Option<SkipReason> {
    match classify(&target.object.key) {
        ObjectKind::Skipped(reason) => Some(reason),
        _ if target.size == Some(0) => Some(SkipReason::Empty),
        _ => None,
    }
}

/// Reports an object [`precheck`] skipped: there is nothing to apply.
pub fn skipped<'t>(target: &Target, reason: SkipReason, inv: &mut Invocation) -> Option<Ready<'t>> {
    inv.stats.emit(Event::Skipped {
        object: &target.object,
        reason,
    });
    None
}

/// A fetch's result and when it started.
pub type Fetching = (Instant, Result<Fetched, ObjectError>);

/// Fetches and decodes one object. `None`: skipped (by key, size or content), nothing to apply.
pub async fn fetch<'t, F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    target: &'t Target,
    inv: &mut Invocation,
) -> Result<Option<Ready<'t>>, Failed> {
    if let Some(reason) = precheck(target) {
        return Ok(skipped(target, reason, inv));
    }
    let started = Instant::now();
    let fetched = deps.fetch.fetch_decode(&deps.decoder, target).await;
    ready(target, (started, fetched), inv)
}

/// What a fetch of `target` gave (see [`fetch`]; the invocation fetches ahead, see
/// [`super::ahead`]), its events reported in the invocation's order.
pub fn ready<'t>(
    target: &'t Target,
    (started, fetched): Fetching,
    inv: &mut Invocation,
) -> Result<Option<Ready<'t>>, Failed> {
    let object = &target.object;
    let fetched = match fetched {
        Ok(f) => f,
        Err(error) => {
            inv.stats.emit(Event::ObjectFailed {
                object,
                error: &error,
            });
            return Err(Failed(error.to_string()));
        }
    };
    inv.stats.emit(Event::BytesRead {
        bytes: fetched.bytes_in,
    });
    inv.stats.emit(Event::Decoded {
        object,
        decoded: &fetched.decoded,
    });
    if fetched.decoded.skipped().is_some() {
        return Ok(None);
    }
    Ok(Some(Ready {
        target,
        meta: Meta {
            started,
            decode_ms: started.elapsed().as_millis() as u64,
            records: fetched.decoded.records,
            bad: fetched.decoded.bad_total(),
        },
        acts: fetched.activities,
    }))
}

/// Applies a decoded object on its own, in parts when it is wider than one commit, and
/// publishes what it raised.
pub async fn apply_alone<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    ready: Ready<'_>,
    inv: &mut Invocation,
) -> Result<usize, Failed> {
    let object = &ready.target.object;
    let parts = split_parts(&deps.decoder.engine, ready.acts, MAX_PART_ENTITIES);
    let n = parts.len();
    let pipeline = deps.decoder.pipeline();
    let mut done = Done::default();
    for (i, acts) in parts.into_iter().enumerate() {
        let part = part_ref(object, i, n);
        let applied = match pipeline
            .apply(&deps.store, &part, &acts, |f| deps.publishes(f))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                let why = format!("{object}: {e:#}");
                inv.stats.emit(Event::ApplyFailed {
                    object,
                    error: &why,
                });
                return Err(Failed(why));
            }
        };
        done.settle(deps, object, &part, applied, inv).await;
    }
    done.finish(object, ready.meta, n, inv)
}

/// Applies decoded objects (consecutive in the invocation's order, each named once, within
/// one commit's size: see [`super::group`]), whose entity keys are `keys`, in one load and
/// one commit, then publishes what
/// each raised. Every object gets the group's result when the commit fails.
pub async fn apply_group<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    group: Vec<Ready<'_>>,
    keys: &[String],
    inv: &mut Invocation,
) -> Vec<Result<usize, Failed>> {
    let pipeline = deps.decoder.pipeline();
    let members: Vec<(&ObjectRef, &[Activity])> = group
        .iter()
        .map(|r| (&r.target.object, r.acts.as_slice()))
        .collect();
    let outcomes = match pipeline
        .apply_group_keyed(&deps.store, &members, keys, |f| deps.publishes(f))
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let why = format!("{e:#}");
            return group
                .iter()
                .map(|r| {
                    let object = &r.target.object;
                    let why = if why.starts_with(&object.to_string()) {
                        why.clone()
                    } else {
                        format!("{object}: {why}")
                    };
                    inv.stats.emit(Event::ApplyFailed {
                        object,
                        error: &why,
                    });
                    Err(Failed(why))
                })
                .collect();
        }
    };
    let mut results = Vec::with_capacity(group.len());
    for (ready, applied) in group.iter().zip(outcomes) {
        let object = &ready.target.object;
        let mut done = Done::default();
        done.settle(deps, object, object, applied, inv).await;
        results.push(done.finish(object, ready.meta, 1, inv));
    }
    results
}

/// What the parts of one object raised and published, and what went wrong publishing.
#[derive(Default)]
struct Done {
    raised: usize,
    published: usize,
    errors: Vec<String>,
}

impl Done {
    /// Counts a part's outcome and publishes its findings (a redelivery's: the outbox).
    async fn settle<F: Fetch, S: Store, P: Publish>(
        &mut self,
        deps: &Deps<F, S, P>,
        object: &ObjectRef,
        part: &ObjectRef,
        applied: trailhound_core::pipeline::Outcome,
        inv: &mut Invocation,
    ) {
        if applied.suppressions != Default::default() {
            inv.stats.emit(Event::Suppressed {
                object,
                counts: applied.suppressions,
            });
        }
        if applied.duplicate {
            inv.stats.emit(Event::Duplicate { object: part });
        } else {
            self.raised += applied.findings.len();
            for finding in &applied.findings {
                inv.stats.emit(Event::Finding { finding });
            }
        }
        // A redelivery's findings are the outbox, already filtered.
        let publish: Vec<&Finding> = applied
            .findings
            .iter()
            .filter(|f| applied.duplicate || deps.publishes(f))
            .collect();
        match Box::pin(super::publish::publish_findings(deps, part, &publish, inv)).await {
            Ok(k) => self.published += k,
            Err((k, e)) => {
                self.published += k;
                self.errors.push(e);
            }
        }
    }

    /// Logs the object's line and says whether it is done or must be retried.
    fn finish(
        self,
        object: &ObjectRef,
        meta: Meta,
        parts: usize,
        inv: &mut Invocation,
    ) -> Result<usize, Failed> {
        tracing::info!(
            object = %object,
            records = meta.records,
            bad_records = meta.bad,
            parts,
            findings = self.raised,
            published = self.published,
            decode_ms = meta.decode_ms,
            total_ms = meta.started.elapsed().as_millis() as u64,
            "object processed"
        );
        if self.errors.is_empty() {
            Ok(self.published)
        } else {
            let why = format!("{object}: {}", self.errors.join("; "));
            inv.stats.emit(Event::ApplyFailed {
                object,
                error: &why,
            });
            Err(Failed(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_after_the_object() {
        let o = ObjectRef::s3("b", "k", "etag");
        assert_eq!(part_ref(&o, 0, 1), o);
        let p = part_ref(&o, 1, 3);
        assert_eq!((p.version.as_str(), p.part), ("etag", 2));
        assert_eq!(p.identity(), "b/k#etag#part2");
    }
}
