//! State of the two correlating kinds: `log-gap` (a CloudTrail call joined with its
//! invocation-log record by request id, kept on the account-and-region entity
//! `g#<account>/<region>`) and `finding-chain` (the findings of other detectors on one
//! principal, kept on the principal). Both are capped and pruned by event time as they are
//! written:
//!
//! | state | key | cap | eviction |
//! |---|---|---|---|
//! | [`GapState::waiting`] | request-id hash (with the id, ≤ 40 bytes) | [`MAX_JOIN`] | oldest call; older than `grace` it is judged missing |
//! | [`GapState::early`] | request-id hash | [`MAX_JOIN`] | oldest record; older than `grace` + lateness |
//! | [`GapState::missing`] | — | [`MAX_MISSING_SAMPLES`] request ids (≤ 64 bytes each) | newest kept |
//! | [`ChainState::links`] | — | [`MAX_LINKS`] | oldest; older than the chain window |
//!
//! Join keys are 64-bit hashes (FNV-1a) of the request ids; waiting calls keep the id too
//! (cut to 40 bytes) so the evidence names the missing ones. Worst case per account and
//! region: 512 × about 80 B + 512 × about 30 B ≈ 56 KB of JSON; per principal and chain
//! detector 32 links × about 120 B ≈ 4 KB.

use serde::{Deserialize, Serialize};

use super::joins::Joins;

/// Calls waiting for their record, and records waiting for their call, each at most.
pub const MAX_JOIN: usize = 512;
/// Request ids of missing records kept for the evidence.
pub const MAX_MISSING_SAMPLES: usize = 5;
/// Findings a chain keeps per principal.
pub const MAX_LINKS: usize = 32;

/// The join of one account and region's CloudTrail Bedrock calls with their invocation-log
/// records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GapState {
    /// Newest event time of an invocation-log record seen (0: never: logging was never on).
    #[serde(default)]
    pub last_record: i64,
    /// CloudTrail calls whose record has not arrived: request-id hash → event time and the
    /// request id (at most 40 bytes: the evidence names the missing ones).
    #[serde(default, skip_serializing_if = "Joins::is_empty")]
    pub waiting: Joins<(i64, String)>,
    /// Records that arrived before their CloudTrail call: request-id hash → event time.
    #[serde(default, skip_serializing_if = "Joins::is_empty")]
    pub early: Joins<i64>,
    /// Calls judged missing since the last record arrived, and the event time of the first.
    #[serde(default)]
    pub missing_run: u64,
    #[serde(default)]
    pub missing_since: i64,
    /// Until this event time, a call that finds no early record is not judged: the early map
    /// overflowed and its record may have been dropped.
    #[serde(default)]
    pub saturated_until: i64,
    /// Request ids of some of those calls (for the evidence).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl GapState {
    /// A record arrived: it matches its waiting call or waits for it, and ends a run of
    /// missing records (logging is on again).
    pub fn record(&mut self, id: u64, t: i64, grace: i64) {
        self.last_record = self.last_record.max(t);
        if self.waiting.remove(id).is_none() && self.early.insert_capped(id, t) {
            self.saturated_until = self
                .saturated_until
                .max(t + grace + crate::state::LATE_ALLOWANCE);
        }
        if t >= self.missing_since {
            self.missing_run = 0;
            self.missing.clear();
        }
        let horizon = self.last_record - grace - crate::state::LATE_ALLOWANCE;
        self.early.expire(horizon);
    }

    /// A CloudTrail call arrived at `t`: it matches an early record or waits for one (only
    /// where records have been arriving within `active`). Returns how many waiting calls
    /// are now older than `grace` (their records are missing); they join the run.
    pub fn call(&mut self, id: u64, request_id: &str, t: i64, grace: i64, active: i64) -> u64 {
        if self.early.remove(id).is_some() {
            return 0;
        }
        if self.last_record == 0 || t - self.last_record > active || t <= self.saturated_until {
            return 0;
        }
        let kept: String = request_id.chars().take(40).collect();
        self.waiting.insert_capped(id, (t, kept));
        // Kept while `t - time <= grace`.
        let mut late = self.waiting.expire(t.saturating_sub(grace));
        late.sort();
        if let Some((first, _)) = late.first()
            && self.missing_run == 0
        {
            self.missing_since = *first;
        }
        self.missing_run = self.missing_run.saturating_add(late.len() as u64);
        for (_, id) in late.iter() {
            if self.missing.len() < MAX_MISSING_SAMPLES {
                self.missing.push(id.clone());
            }
        }
        late.len() as u64
    }
}

/// FNV-1a of a request id: the join key stored.
pub fn request_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One finding of another detector on the principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub time: i64,
    pub detector: String,
    pub finding_id: String,
    pub severity: f64,
}

/// The findings of one principal within a chain detector's window, in event-time order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChainState {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

impl ChainState {
    /// Adds a finding (once per finding id), drops links older than `window` before the
    /// newest, keeps at most [`MAX_LINKS`] (the oldest go first).
    pub fn add(&mut self, link: Link, window: i64) {
        if self.links.iter().any(|l| l.finding_id == link.finding_id) {
            return;
        }
        let at = self.links.partition_point(|l| l.time <= link.time);
        self.links.insert(at, link);
        let newest = self.links.last().map_or(0, |l| l.time);
        self.links.retain(|l| newest - l.time <= window);
        if self.links.len() > MAX_LINKS {
            let extra = self.links.len() - MAX_LINKS;
            self.links.drain(..extra);
        }
    }

    /// The links within `window` before `t` (inclusive), in time order.
    pub fn within(&self, t: i64, window: i64) -> impl Iterator<Item = &Link> {
        self.links
            .iter()
            .filter(move |l| l.time <= t && t - l.time <= window)
    }

    pub fn newest(&self) -> i64 {
        self.links.last().map_or(0, |l| l.time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_records_join_in_either_order_and_gaps_count_once() {
        let mut g = GapState::default();
        // Logging never seen: calls do not wait.
        assert_eq!(g.call(request_hash("a"), "a", 100, 3600, 86_400), 0);
        assert!(g.waiting.is_empty());
        g.record(request_hash("r0"), 100, 3600);
        // A call then its record; a record then its call.
        g.call(request_hash("b"), "b", 200, 3600, 86_400);
        g.record(request_hash("b"), 210, 3600);
        g.record(request_hash("c"), 300, 3600);
        assert_eq!(g.call(request_hash("c"), "c", 290, 3600, 86_400), 0);
        // Only r0, whose call never came, is left waiting for its call.
        assert!(g.waiting.is_empty());
        assert_eq!(g.early.len(), 1);
        // Two calls whose records never come, judged by a call more than `grace` later.
        g.call(request_hash("d"), "d", 1000, 3600, 86_400);
        g.call(request_hash("e"), "e", 1100, 3600, 86_400);
        assert_eq!(g.call(request_hash("f"), "f", 4700, 3600, 86_400), 1);
        assert_eq!(g.call(request_hash("g"), "g", 4800, 3600, 86_400), 1);
        assert_eq!(g.missing_run, 2);
        assert_eq!(g.missing, ["d", "e"]);
        assert_eq!(g.missing_since, 1000);
        // A record arriving again ends the run.
        g.record(request_hash("g"), 4801, 3600);
        assert_eq!(g.missing_run, 0);
    }

    #[test]
    fn join_maps_are_capped() {
        let mut g = GapState {
            last_record: 1,
            ..GapState::default()
        };
        for i in 0..(MAX_JOIN as i64 + 10) {
            g.call(
                request_hash(&i.to_string()),
                "x",
                10 + i,
                1_000_000,
                1_000_000,
            );
        }
        assert_eq!(g.waiting.len(), MAX_JOIN);
        assert_eq!(g.waiting.values().map(|w| w.0).min(), Some(20));
        // A burst of records ahead of their calls overflows the early map: calls that then
        // find no record are not judged until the burst is past.
        let mut g = GapState::default();
        for i in 0..(MAX_JOIN as i64 + 1) {
            g.record(request_hash(&format!("r{i}")), 100, 3600);
        }
        assert_eq!(g.saturated_until, 100 + 3600 + crate::state::LATE_ALLOWANCE);
        assert_eq!(g.call(request_hash("r0"), "r0", 200, 3600, 86_400), 0);
        assert!(g.waiting.is_empty());
    }

    #[test]
    fn chains_keep_one_link_per_finding_in_time_order_within_the_window() {
        let mut c = ChainState::default();
        let link = |t, d: &str, id: &str| Link {
            time: t,
            detector: d.into(),
            finding_id: id.into(),
            severity: 5.0,
        };
        c.add(link(200, "b", "2"), 1000);
        c.add(link(100, "a", "1"), 1000);
        c.add(link(100, "a", "1"), 1000);
        c.add(link(1150, "c", "3"), 1000);
        let ids: Vec<&str> = c.links.iter().map(|l| l.finding_id.as_str()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(c.within(1150, 1000).count(), 2);
    }
}
