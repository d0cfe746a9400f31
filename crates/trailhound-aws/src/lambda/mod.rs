//! The Lambda driver: S3-triggered, state in DynamoDB, findings to SNS.
//!
//! [`handle`] is a plain async function over injected clients and settings ([`Deps`]), so
//! tests call it directly against a local AWS API; [`main`] wires it to `lambda_runtime`.
//! Objects of one invocation are processed one after another, ordered by the time in their
//! key like a replay, so the same objects give the same findings as `replay`; consecutive
//! objects are committed together ([`group`]).

mod ahead;
pub mod config;
mod deps;
pub mod group;
pub mod metrics;
pub mod object;
mod publish;
mod runtime;

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use serde_json::{Value, json};

use crate::envelope::{Envelope, Ignored};
use trailhound_core::events::Event;
use trailhound_core::ingest::{key_time, replay_order};
use trailhound_core::state::Store;

pub use config::{Config, ConfigError, Detectors};
pub use deps::{AwsDeps, Deps, Fetch, Publish};
pub use runtime::{deps_from_config, main};

/// Objects are not started with less than this left before the deadline: their messages
/// are reported failed (retried) instead of the whole batch timing out.
const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

/// Records the objects that failed: their deliveries are retried (the first reason kept).
fn settle(
    deliveries: &[crate::envelope::Delivery],
    failed: &mut [Option<String>],
    done: Vec<group::Outcome>,
) {
    for (i, result) in done {
        if let Err(object::Failed(why)) = result {
            tracing::info!(message_id = ?deliveries[i].message_id, reason = %why, "message will be retried");
            failed[i].get_or_insert(why);
        }
    }
}

/// Handles one invocation with no deadline.
pub async fn handle<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    event: Value,
) -> anyhow::Result<Value> {
    handle_until(deps, event, None).await
}

/// Handles one invocation. For SQS the result is a partial batch response naming only the
/// messages whose objects failed; for other sources any failure is an error (AWS retries
/// the event; objects already applied are not applied twice). Every SDK call, decode and
/// commit of the invocation is bounded by `deadline` ([`crate::deadline`]).
pub async fn handle_until<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    event: Value,
    deadline: Option<Instant>,
) -> anyhow::Result<Value> {
    crate::deadline::scope(deadline, handle_scoped(deps, event, deadline)).await
}

async fn handle_scoped<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    event: Value,
    deadline: Option<Instant>,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    let envelope = Envelope::from_value(event);
    let sqs = envelope.is_sqs();
    let deliveries = envelope.deliveries();
    let mut inv = metrics::Invocation::default();
    let mut ignored = 0;
    // A message that is no envelope we know fails (SQS: only its own message), so it reaches
    // the dead-letter queue instead of vanishing with a warning.
    let mut failed: Vec<Option<String>> = vec![None; deliveries.len()];
    for (n, d) in deliveries.iter().enumerate() {
        for i in &d.ignored {
            ignored += 1;
            match i {
                Ignored::Unrecognized(why) => {
                    inv.stats.emit(Event::Unrecognized {
                        message_id: d.message_id.as_deref(),
                        reason: why,
                    });
                    failed[n] = Some(format!("unrecognized message: {why}"));
                }
                other => {
                    tracing::info!(message_id = ?d.message_id, reason = other.as_str(), "ignored an event")
                }
            }
        }
    }
    // Every object of the invocation, in the order a replay would take them.
    let mut work: Vec<(usize, &crate::envelope::Target)> = deliveries
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.targets.iter().map(move |t| (i, t)))
        .collect();
    work.sort_by(|a, b| {
        replay_order(key_time(&a.1.object.key), &a.1.object.key)
            .cmp(&replay_order(key_time(&b.1.object.key), &b.1.object.key))
    });
    // Objects are fetched ahead (`ahead`), their results taken here in the same order.
    let skips: Vec<_> = work.iter().map(|(_, t)| object::precheck(t)).collect();
    let fetched: Vec<&crate::envelope::Target> = (work.iter().zip(&skips))
        .filter(|(_, skip)| skip.is_none())
        .map(|((_, t), _)| *t)
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let fetching = ahead::fetch_ahead(deps, fetched, deadline, tx);
    let applying = async {
        let mut group = group::Group::default();
        for ((i, target), skip) in work.into_iter().zip(skips) {
            // Every object fetched is taken, in order, even when its result is not used
            // (`None`: the fetcher stopped at the deadline margin).
            let fetched = match skip {
                None => rx.recv().await,
                Some(_) => None,
            };
            if failed[i].is_some() {
                // The message will be retried whole: its other objects then too.
                continue;
            }
            let near_deadline = deadline
                .is_some_and(|d| d.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN);
            let ready = match (skip, fetched) {
                (Some(reason), _) if !near_deadline => {
                    Ok(object::skipped(target, reason, &mut inv))
                }
                (None, Some(fetched)) if !near_deadline => object::ready(target, fetched, &mut inv),
                _ => {
                    // What is decoded is committed; what is not started is retried.
                    let done = group.flush(deps, &mut inv).await;
                    settle(&deliveries, &mut failed, done);
                    let why = format!(
                        "{}: not started, the invocation was about to time out",
                        target.object
                    );
                    inv.stats.emit(Event::ApplyFailed {
                        object: &target.object,
                        error: &why,
                    });
                    failed[i] = Some(why);
                    continue;
                }
            };
            let done = match ready {
                Ok(Some(ready)) => group.offer(deps, i, ready, &mut inv).await,
                Ok(None) => Vec::new(),
                Err(e) => vec![(i, Err(e))],
            };
            settle(&deliveries, &mut failed, done);
        }
        let done = group.flush(deps, &mut inv).await;
        settle(&deliveries, &mut failed, done);
        drop(rx);
    };
    futures::join!(fetching, applying);
    inv.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    inv.lag_seconds = inv
        .stats
        .newest_event
        .map(|t| (chrono::Utc::now().timestamp() - t).max(0) as f64);
    if deps.emit_metrics {
        inv.emit(&deps.function_name);
    }
    let n_failed = failed.iter().filter(|f| f.is_some()).count();
    tracing::info!(
        deliveries = deliveries.len(),
        objects = inv.stats.objects_read(),
        skipped = inv.stats.skipped_total(),
        duplicates = inv.stats.duplicates,
        records = inv.stats.records,
        bad_records = inv.stats.bad_total(),
        findings = inv.stats.findings_total(),
        published = inv.published(),
        ignored,
        failed = n_failed,
        duration_ms = inv.duration_ms as u64,
        "invocation done"
    );
    if sqs {
        let failures = deliveries
            .iter()
            .zip(&failed)
            .filter(|(_, f)| f.is_some())
            .map(|(d, _)| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = d.message_id.clone().unwrap_or_default();
                f
            })
            .collect();
        let mut resp = SqsBatchResponse::default();
        resp.batch_item_failures = failures;
        return Ok(serde_json::to_value(resp)?);
    }
    if n_failed > 0 {
        let reasons: Vec<String> = failed.into_iter().flatten().collect();
        anyhow::bail!(
            "{} failed: {}",
            if n_failed == 1 {
                "1 delivery"
            } else {
                "deliveries"
            },
            reasons.join("; ")
        );
    }
    Ok(json!({
        "objects": inv.stats.objects_read(),
        "skipped": inv.stats.skipped_total(),
        "duplicates": inv.stats.duplicates,
        "records": inv.stats.records,
        "findings": inv.stats.findings_total(),
        "published": inv.published(),
        "ignored": ignored,
    }))
}
