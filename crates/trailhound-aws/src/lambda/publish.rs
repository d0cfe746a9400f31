//! Publishing an object's outbox to every configured sink, exactly once per sink, with one
//! refused finding never holding back the others:
//!
//! 1. The outbox entries give each finding version's sequence number and the sinks that
//!    accepted it already (a retry sends only to the sinks still missing it).
//! 2. A version older than the newest one already published for the same finding id is
//!    stale: it is dropped from the outbox (counted as superseded), never sent after the
//!    newer one.
//! 3. Each sink gets the findings it still misses: SNS in batches (each accepted batch is
//!    recorded at once), then Security Hub and EventBridge. What a sink refuses, alone or
//!    with its whole call, is counted ([`Event::Rejected`]), logged with the sink's reason
//!    (never the message), and stays in the outbox; the other findings and sinks go on.
//! 4. A finding accepted by every sink leaves the outbox. If any was refused, the object
//!    fails, so its delivery is retried (and, if the refusal persists, reaches the DLQ).

use std::collections::{BTreeSet, HashMap};

use trailhound_core::events::Event;
use trailhound_core::finding::Finding;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::Store;

use super::metrics::Invocation;
use super::{Deps, Fetch, Publish};
use crate::sink::{BatchOutcome, SinkKind};

/// Publishes an object (part)'s findings. Returns the number that left the outbox
/// (accepted by every sink), or that number and what went wrong.
pub(crate) async fn publish_findings<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    object: &ObjectRef,
    findings: &[&Finding],
    inv: &mut Invocation,
) -> Result<usize, (usize, String)> {
    if findings.is_empty() {
        return Ok(0);
    }
    let store = |e: anyhow::Error| (0, format!("reading the outbox failed: {e:#}"));
    let entries = deps.store.outbox(object).await.map_err(store)?;
    let ids: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
    let newest = deps.store.published_versions(&ids).await.map_err(store)?;
    let seq = |id: &str| entries.get(id).map_or(0, |e| e.seq);

    let mut gone: Vec<String> = Vec::new();
    let mut live: Vec<&Finding> = Vec::new();
    for f in findings {
        match newest.get(&f.id) {
            Some(&n) if seq(&f.id) > 0 && n > seq(&f.id) => {
                inv.stats.emit(Event::Superseded {
                    finding: &f.id,
                    seq: seq(&f.id),
                    newest: n,
                });
                gone.push(f.id.clone());
            }
            _ => live.push(f),
        }
    }
    let updates: BTreeSet<String> = newest.keys().cloned().collect();
    let mut sinks = vec![SinkKind::Sns];
    sinks.extend(deps.sink.others());
    let single = sinks.len() == 1;
    let mut accepted_by: HashMap<String, BTreeSet<String>> = entries
        .iter()
        .map(|(id, e)| (id.clone(), e.accepted.clone()))
        .collect();
    let mut recorded: BTreeSet<String> = BTreeSet::new();
    let mut errors: Vec<String> = Vec::new();
    let mut done = 0usize;

    for sink in sinks.iter().copied() {
        let name = sink.name();
        let todo: Vec<&Finding> = live
            .iter()
            .copied()
            .filter(|f| accepted_by.get(&f.id).is_none_or(|s| !s.contains(name)))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let outcomes: Vec<BatchOutcome> = match sink {
            SinkKind::Sns => {
                let format = deps.sink.sns_format();
                let messages = todo
                    .iter()
                    .map(|f| crate::sink::sns::message_as(f, format))
                    .collect();
                let mut out = Vec::new();
                for batch in crate::sink::sns::batches(messages) {
                    let batch_ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
                    let o = match deps.sink.publish_batch(batch).await {
                        Ok(o) => o,
                        Err(e) => BatchOutcome {
                            accepted: Vec::new(),
                            failed: batch_ids
                                .into_iter()
                                .map(|id| (id, format!("{e:#}")))
                                .collect(),
                        },
                    };
                    // Recorded per batch, so a crash in between resends only the rest.
                    settle(
                        deps,
                        object,
                        sink,
                        &o,
                        single,
                        &seq,
                        &mut recorded,
                        &mut errors,
                    )
                    .await;
                    out.push(o);
                }
                out
            }
            other => {
                let o = Box::pin(deps.sink.publish_other(other, &todo, &updates)).await;
                settle(
                    deps,
                    object,
                    sink,
                    &o,
                    single,
                    &seq,
                    &mut recorded,
                    &mut errors,
                )
                .await;
                vec![o]
            }
        };
        let mut count = 0u64;
        let mut refused: Vec<(String, String)> = Vec::new();
        for o in outcomes {
            count += o.accepted.len() as u64;
            for id in o.accepted {
                accepted_by.entry(id).or_default().insert(name.to_string());
            }
            for (id, why) in &o.failed {
                inv.stats.emit(Event::Rejected {
                    sink: name,
                    finding: id,
                    reason: why,
                });
            }
            refused.extend(o.failed);
        }
        if !refused.is_empty() {
            errors.push(refusal(sink, &refused));
        }
        if count > 0 {
            inv.stats.emit(Event::Published { sink: name, count });
        }
    }
    // Every sink accepted: the finding leaves the outbox (with one sink, it already did).
    let complete: Vec<String> = live
        .iter()
        .filter(|f| {
            accepted_by
                .get(&f.id)
                .is_some_and(|s| sinks.iter().all(|k| s.contains(k.name())))
        })
        .map(|f| f.id.clone())
        .collect();
    done += complete.len();
    let mut leave = gone;
    if !single {
        leave.extend(complete);
    }
    if !leave.is_empty()
        && let Err(e) = deps.store.mark_published(object, &leave).await
    {
        errors.push(format!(
            "the sinks accepted {} findings but recording that failed (they may be sent again): {e:#}",
            leave.len()
        ));
    }
    if errors.is_empty() {
        Ok(done)
    } else {
        Err((done, errors.join("; ")))
    }
}

/// One line for what a sink refused: the ids grouped by reason (a failed call gives all
/// of its findings one reason, with its hint), at most 3 reasons and 10 ids each.
fn refusal(sink: SinkKind, failed: &[(String, String)]) -> String {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (id, why) in failed {
        match by_reason.iter_mut().find(|(r, _)| *r == why.as_str()) {
            Some((_, ids)) => ids.push(id),
            None => by_reason.push((why, vec![id])),
        }
    }
    let parts: Vec<String> = by_reason
        .iter()
        .take(3)
        .map(|(why, ids)| {
            let more = if ids.len() > 10 { ", ..." } else { "" };
            let shown: Vec<&str> = ids.iter().take(10).copied().collect();
            format!("{}{more} ({why})", shown.join(", "))
        })
        .collect();
    format!(
        "{} refused {} findings: {}{}",
        sink.display(),
        failed.len(),
        parts.join("; "),
        if by_reason.len() > 3 { "; ..." } else { "" }
    )
}

/// Records what one sink call accepted: out of the outbox when SNS is the only sink, else
/// as accepted by that sink; and the newest published sequence number of each finding.
#[allow(clippy::too_many_arguments)]
async fn settle<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    object: &ObjectRef,
    sink: SinkKind,
    o: &BatchOutcome,
    single: bool,
    seq: &impl Fn(&str) -> u64,
    recorded: &mut BTreeSet<String>,
    errors: &mut Vec<String>,
) {
    if o.accepted.is_empty() {
        return;
    }
    let r = if single {
        deps.store.mark_published(object, &o.accepted).await
    } else {
        deps.store
            .mark_accepted(object, sink.name(), &o.accepted)
            .await
    };
    if let Err(e) = r {
        errors.push(format!(
            "{} accepted {} findings but recording that failed (they may be sent again): {e:#}",
            sink.name(),
            o.accepted.len()
        ));
    }
    let versions: Vec<(String, u64)> = o
        .accepted
        .iter()
        .filter(|id| seq(id) > 0 && !recorded.contains(*id))
        .map(|id| (id.clone(), seq(id)))
        .collect();
    if versions.is_empty() {
        return;
    }
    match deps.store.record_published(&versions).await {
        Ok(()) => recorded.extend(versions.into_iter().map(|(id, _)| id)),
        Err(e) => errors.push(format!(
            "recording the published versions failed (a stale version could be sent after them): {e:#}"
        )),
    }
}
