//! Calls, items and trims of the DynamoDB store, for metrics and the tests' cost report.

use std::sync::atomic::{AtomicU64, Ordering};

/// Calls and items, for metrics and the tests' cost report.
#[derive(Debug, Default)]
pub struct Counters {
    pub read_calls: AtomicU64,
    pub items_read: AtomicU64,
    pub write_calls: AtomicU64,
    pub items_written: AtomicU64,
    /// `TransactWriteItems` calls (commits attempted), a subset of `write_calls`.
    pub commits: AtomicU64,
    pub conflicts: AtomicU64,
    /// Commits DynamoDB cancelled for throttling (`ThrottlingError` or
    /// `ProvisionedThroughputExceeded` as the cancellation reason), retried like conflicts.
    pub throttled_commits: AtomicU64,
    /// Entity states trimmed to fit their item or their transaction, and the pieces
    /// (rate series, seen values, kind entries, open findings) dropped.
    pub trimmed_entities: AtomicU64,
    pub trimmed_pieces: AtomicU64,
    /// Group commits refused before writing as over a transaction's 4 MB
    /// ([`Commit::TooLarge`](trailhound_core::state::Commit::TooLarge)): the group is
    /// applied in halves.
    pub oversized_groups: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub read_calls: u64,
    pub items_read: u64,
    pub write_calls: u64,
    pub items_written: u64,
    pub commits: u64,
    pub conflicts: u64,
    pub throttled_commits: u64,
    pub trimmed_entities: u64,
    pub trimmed_pieces: u64,
    pub oversized_groups: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            read_calls: self.read_calls.load(Ordering::Relaxed),
            items_read: self.items_read.load(Ordering::Relaxed),
            write_calls: self.write_calls.load(Ordering::Relaxed),
            items_written: self.items_written.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            throttled_commits: self.throttled_commits.load(Ordering::Relaxed),
            trimmed_entities: self.trimmed_entities.load(Ordering::Relaxed),
            trimmed_pieces: self.trimmed_pieces.load(Ordering::Relaxed),
            oversized_groups: self.oversized_groups.load(Ordering::Relaxed),
        }
    }

    pub(super) fn add(&self, c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }
}
