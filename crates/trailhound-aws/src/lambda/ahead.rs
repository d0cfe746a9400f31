//! Fetching ahead: an invocation's objects are read from S3 and decoded a few at a time,
//! ahead of the one being applied, so each S3 GET overlaps the decode and commit of the
//! objects before it. Lambda bills an invocation's wall time, and with batches of small
//! objects that is mostly waiting on S3, one GET after another.
//!
//! Results reach the applier in the invocation's order, one per object that [`precheck`]
//! lets through, so events, groups and failures are exactly those of reading one object at
//! a time. At most [`MAX_AHEAD`] fetches run at once, within a budget of compressed bytes
//! (the sizes the events name) that follows the function's memory: an object of unknown
//! size is read alone. No fetch starts within the deadline margin; the applier reports those
//! objects not started.
//!
//! [`precheck`]: super::object::precheck

use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc::Sender;
use trailhound_core::record::Limits;
use trailhound_core::state::Store;

use super::object::Fetching;
use super::{DEADLINE_MARGIN, Deps, Fetch, Publish};
use crate::envelope::Target;

/// Objects fetched at once, at most.
pub const MAX_AHEAD: usize = 4;

/// Compressed bytes fetched at once: the activities of a log record take about 1 KiB held
/// and a record about 100-200 bytes compressed, so objects in flight hold about 8 times
/// this; a sixty-fourth of the function's memory (`max_records` is half of it, in KiB)
/// keeps them within an eighth. 16 MiB at 1,024 MB.
pub fn budget(limits: &Limits) -> u64 {
    limits.max_records.saturating_mul(32).max(1 << 20)
}

/// Fetches `targets` in order, up to [`MAX_AHEAD`] at once within [`budget`], and sends
/// each result to `tx` in that order. Stops at the deadline margin, or when the receiver
/// is gone.
pub async fn fetch_ahead<F: Fetch, S: Store, P: Publish>(
    deps: &Deps<F, S, P>,
    targets: Vec<&Target>,
    deadline: Option<Instant>,
    tx: Sender<Fetching>,
) {
    let budget = budget(&deps.decoder.limits);
    let mut inflight = FuturesOrdered::new();
    let mut bytes = 0u64;
    let mut next = targets.into_iter().peekable();
    loop {
        while let Some(&t) = next.peek() {
            if deadline
                .is_some_and(|d| d.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN)
            {
                next = Vec::new().into_iter().peekable();
                break;
            }
            let size = t.size.map_or(budget, |s| u64::try_from(s).unwrap_or(0));
            if !inflight.is_empty() && (inflight.len() >= MAX_AHEAD || bytes + size > budget) {
                break;
            }
            bytes += size;
            next.next();
            inflight.push_back(async move {
                let started = Instant::now();
                let fetched = deps.fetch.fetch_decode(&deps.decoder, t).await;
                (size, (started, fetched))
            });
        }
        let Some((size, fetched)) = inflight.next().await else {
            return;
        };
        bytes -= size;
        if tx.send(fetched).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_follows_the_function_memory() {
        assert_eq!(budget(&Limits::for_memory_mb(1024)), 16 << 20);
        assert_eq!(budget(&Limits::for_memory_mb(128)), 2 << 20);
        assert_eq!(budget(&Limits::for_memory_mb(10_240)), 160 << 20);
    }
}
