//! Per-entity state: event-time rate windows with baselines, sets of values seen, and the
//! findings still inside their cooldown. An entity is a principal (`p#<principal key>`) or a
//! bucket (`b#<name>`). All of it serializes, so the memory and DynamoDB stores hold the same.

mod baseline;
pub mod correlate;
pub mod joins;
pub mod kinds;
pub mod seasonal;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use baseline::Baseline;
pub use seasonal::Seasonal;
pub use store::{Commit, MemoryStore, Snapshot, Store};

use crate::finding::Finding;

/// Idle state expires after this long without events (event time).
pub const ENTITY_TTL_SECS: i64 = 90 * 86_400;
/// A seen-value set keeps at most this many values (least recently seen go first).
pub const SEEN_CAP: usize = 64;
/// Learning ends on evidence: an entity seen on this many separate (UTC) days before the
/// current one has a baseline, even if its learning period has not passed yet.
pub const MIN_ACTIVE_DAYS: usize = 5;
/// How late an event may arrive and still count toward its episode (CloudTrail delivers
/// within about 15 minutes, rarely hours late).
pub const LATE_ALLOWANCE: i64 = 2 * 3600;
/// Active days remembered per entity (the most recent ones).
const ACTIVE_DAYS_CAP: usize = 35;

/// Entity states by key (`p#…`, `b#…`): as loaded, worked on by the engine and committed.
/// Hashed with foldhash (several times faster than SipHash on these short keys, two lookups
/// per activity), randomly seeded per process; its `quality` variant, as the keys come from
/// log content.
pub type States = std::collections::HashMap<String, EntityState, foldhash::quality::RandomState>;

pub fn principal_entity(key: &str) -> String {
    crate::concat::concat(&["p#", key])
}

pub fn bucket_entity(bucket: &str) -> String {
    crate::concat::concat(&["b#", bucket])
}

/// Prefix of the AI-principal markers (`g#ai/<account>/<role|user>/<name>`): a seen set of
/// the AI services a principal called, refreshed at most once a day and read by every
/// object that calls an AI service or changes an IAM principal.
pub const AI_MARKER_PREFIX: &str = "g#ai/";

/// Whether a commit must check that the entity `key` is unchanged since it was loaded when
/// the commit leaves it unchanged. Every entity but the AI markers: a marker only ever gains
/// values or fresher times, so reading it stale is reading it just before a concurrent
/// commit refreshed it, which the same commit could have been serialized before. Checking
/// them cost a fifth of the DynamoDB write units on the many-small-objects archive (one
/// transactional `ConditionCheck` per marker read, 2 WRU each). A marker the commit changes
/// is written under its version condition, like every entity, so no refresh is lost.
pub fn validates_unchanged(key: &str) -> bool {
    !key.starts_with(AI_MARKER_PREFIX)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EntityState {
    pub first_seen: i64,
    pub last_seen: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rates: BTreeMap<String, RateSeries>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, SeenSet>,
    /// Findings inside their cooldown, by `<detector>/<dedup key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<String, OpenFinding>,
    /// State of the window-threshold, sequence and geo-velocity kinds.
    #[serde(default, skip_serializing_if = "kinds::KindState::is_empty")]
    pub kinds: kinds::KindState,
    /// UTC days (Unix seconds / 86,400) with at least one event, the most recent
    /// [`ACTIVE_DAYS_CAP`]: the evidence that ends learning early.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub active_days: BTreeSet<i64>,
}

impl EntityState {
    /// Records an event time; the first event starts the learning period.
    pub fn touch(&mut self, t: i64) {
        if self.first_seen == 0 || t < self.first_seen {
            self.first_seen = t;
        }
        self.last_seen = self.last_seen.max(t);
        let day = t.div_euclid(86_400);
        if self.active_days.insert(day) && self.active_days.len() > ACTIVE_DAYS_CAP {
            self.active_days.pop_first();
        }
    }

    /// Whether the entity's baselines may judge an event at `t`: it has been seen for at least
    /// `learning` seconds, or on at least [`MIN_ACTIVE_DAYS`] separate days before `t`'s day,
    /// whichever comes first. (A user seen on five working days has a baseline on day 8, not
    /// day 8 plus however long its first week happened to be.)
    pub fn learned(&self, t: i64, learning: i64) -> bool {
        if self.first_seen == 0 {
            return false;
        }
        if t - self.first_seen >= learning {
            return true;
        }
        let day = t.div_euclid(86_400);
        self.active_days.range(..day).count() >= MIN_ACTIVE_DAYS
    }

    /// Drops findings past their cooldown (plus the lateness allowance, so an event of the
    /// episode delivered late still updates its finding instead of opening a second one) and
    /// seen values past their age.
    pub fn prune(&mut self, now: i64) {
        self.open
            .retain(|_, f| now - f.last <= f.cooldown + LATE_ALLOWANCE);
        for s in self.seen.values_mut() {
            s.prune(now);
        }
        self.kinds.prune(now);
    }
}

/// A finding inside its cooldown, with the event times the engine needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenFinding {
    pub first: i64,
    pub last: i64,
    pub cooldown: i64,
    pub finding: Finding,
}

/// Values seen (countries, readers, …) with the event time each was last seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeenSet {
    pub values: BTreeMap<String, i64>,
}

impl SeenSet {
    /// The named set in `sets`, created if missing (no allocation when it exists). A function
    /// over the map, not the state, so other fields of the state stay borrowable.
    pub fn named<'a>(sets: &'a mut BTreeMap<String, SeenSet>, name: &str) -> &'a mut SeenSet {
        if !sets.contains_key(name) {
            sets.insert(name.to_string(), SeenSet::default());
        }
        sets.get_mut(name).expect("just inserted")
    }

    pub fn contains(&self, v: &str) -> bool {
        self.values.contains_key(v)
    }

    pub fn insert(&mut self, v: &str, t: i64) {
        insert_capped(&mut self.values, v, t, SEEN_CAP);
    }

    /// Refreshes the last-seen time of a value already present.
    pub fn refresh(&mut self, v: &str, t: i64) {
        if let Some(last) = self.values.get_mut(v) {
            *last = (*last).max(t);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn prune(&mut self, now: i64) {
        self.values.retain(|_, t| now - *t <= ENTITY_TTL_SECS);
    }
}

/// Records `v` last seen at `t` in `values`, keeping at most `cap` values: the least recently
/// seen (then the smallest) goes first. Shared by every capped set of seen values.
pub fn insert_capped(values: &mut BTreeMap<String, i64>, v: &str, t: i64, cap: usize) {
    match values.get_mut(v) {
        Some(last) => *last = (*last).max(t),
        None => {
            values.insert(v.to_string(), t);
            if values.len() > cap {
                let oldest = values
                    .iter()
                    .min_by_key(|(k, t)| (**t, *k))
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    values.remove(&k);
                }
            }
        }
    }
}

/// Sums per event-time minute over a sliding window, folded into a baseline of whole-window
/// totals once a window can no longer receive late events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RateSeries {
    /// Minute index (Unix seconds / 60) → sum.
    #[serde(default)]
    pub minutes: BTreeMap<i64, u64>,
    /// Newest minute seen.
    #[serde(default)]
    pub watermark: i64,
    /// Windows that raised a finding: kept out of the baseline so an attack does not
    /// become the new normal.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flagged: BTreeSet<i64>,
    /// Events that arrived after their window was folded (counted, not added).
    #[serde(default)]
    pub late: u64,
    /// All-hours distribution of window totals (evidence: p50/p90/p99 of the history).
    pub baseline: Baseline,
    /// Hour-of-day profile, weekdays and weekends apart: what detection compares with.
    #[serde(default)]
    pub seasonal: Seasonal,
}

impl RateSeries {
    /// Adds `v` at event time `t`. `window` and `lateness` are in minutes.
    pub fn add(&mut self, t: i64, v: u64, window: i64, lateness: i64) {
        let m = t.div_euclid(60);
        let folded_before = self.fold_horizon(window, lateness);
        if self.watermark != 0 && m < folded_before {
            self.late += 1;
            return;
        }
        if !self.seasonal.add(t, v) {
            self.late += 1;
            return;
        }
        let e = self.minutes.entry(m).or_default();
        *e = e.saturating_add(v);
        if m > self.watermark {
            self.watermark = m;
            self.fold(window, lateness);
            // An hour still inside the sliding window is not folded: an anomaly that is still
            // being observed must not train the baseline it is judged against.
            self.seasonal.fold((m - lateness.max(window)) * 60);
        }
    }

    /// Minutes before this are folded into the baseline.
    fn fold_horizon(&self, window: i64, lateness: i64) -> i64 {
        // A window [s, s+w) is folded when no late event can still land in it nor in the
        // sliding sums that read it: s + w + w + lateness <= watermark.
        let edge = self.watermark - window - lateness;
        edge.div_euclid(window) * window
    }

    fn fold(&mut self, window: i64, lateness: i64) {
        let horizon = self.fold_horizon(window, lateness);
        while let Some((&m, _)) = self.minutes.first_key_value() {
            if m >= horizon {
                break;
            }
            let w = m.div_euclid(window);
            let end = (w + 1) * window;
            let total = self
                .minutes
                .range(w * window..end)
                .fold(0u64, |s, (_, v)| s.saturating_add(*v));
            let keys: Vec<i64> = self
                .minutes
                .range(w * window..end)
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                self.minutes.remove(&k);
            }
            if !self.flagged.remove(&w) && total > 0 {
                self.baseline.record(total);
            }
        }
        self.flagged.retain(|w| (w + 1) * window > horizon - window);
    }

    /// Sum over the sliding window of `window` minutes ending at `t`'s minute.
    pub fn sliding(&self, t: i64, window: i64) -> u64 {
        let m = t.div_euclid(60);
        self.minutes
            .range(m - window + 1..=m)
            .fold(0, |s, (_, v)| s.saturating_add(*v))
    }

    /// Earliest minute with a count in the sliding window ending at `t`.
    pub fn sliding_start(&self, t: i64, window: i64) -> i64 {
        let m = t.div_euclid(60);
        self.minutes
            .range(m - window + 1..=m)
            .next()
            .map(|(k, _)| k * 60)
            .unwrap_or(t)
    }

    pub fn flag(&mut self, t: i64, window: i64) {
        self.flagged.insert(t.div_euclid(60).div_euclid(window));
        self.seasonal.flag(t - window * 60 + 60, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fold_into_the_baseline_once_closed() {
        let mut s = RateSeries::default();
        // 10 events per 15-minute window for 4 hours.
        for i in 0..(4 * 60) {
            s.add(i * 60, if i % 15 == 0 { 10 } else { 0 }, 15, 60);
        }
        assert_eq!(s.sliding(239 * 60, 15), 10);
        // Windows whose end + window + lateness passed the watermark are folded.
        assert!(s.baseline.len() >= 10, "{}", s.baseline.len());
        assert_eq!(s.baseline.percentile(99.0), 10);
        // A late event for a folded window is counted as late, not added.
        s.add(0, 5, 15, 60);
        assert_eq!(s.late, 1);
    }

    #[test]
    fn seen_sets_are_capped() {
        let mut set = SeenSet::default();
        for i in 0..100 {
            set.insert(&format!("v{i}"), i);
        }
        assert_eq!(set.values.len(), SEEN_CAP);
        assert!(!set.contains("v0") && set.contains("v99"));
    }
}
