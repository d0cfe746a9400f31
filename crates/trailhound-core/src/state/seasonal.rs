//! A seasonal baseline of hourly totals: for each hour of the day (UTC), separately for
//! weekdays and weekends, an exponentially weighted mean and variance of the series' total in
//! that hour, over the days the series existed.
//!
//! Why: one all-hours percentile gives a night attack the daytime threshold. With a profile
//! per hour, 300 calls at 03:00 from a role that makes 10 an hour at night is 30x *its*
//! normal, while its 09:00 peak of 400 is ordinary.
//!
//! Ageing: the weight of a new day is `max(1/(n+1), 1/ALPHA_DAYS)`, so the first
//! [`ALPHA_DAYS`] days of a slot are a plain mean and later days decay geometrically
//! (an effective memory of about two weeks of weekdays, or five weeks of weekends). A role
//! that was busy months ago does not keep a high threshold forever.
//!
//! Caps: 48 slots of three numbers per series, allocated on the first folded hour; pending
//! hour sums are bounded by the window plus lateness; a gap longer than [`MAX_GAP_HOURS`]
//! folds no zeros beyond it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Days after which a slot's mean stops being a plain average and starts to decay.
pub const ALPHA_DAYS: f32 = 10.0;
/// A slot is trusted once it has seen this many days; before, the all-hours profile is used.
pub const MIN_SLOT_DAYS: u32 = 3;
/// Hours of silence folded as zeros at most (28 days); older gaps only age the profile.
pub const MAX_GAP_HOURS: i64 = 28 * 24;

/// The slot of an hour index (Unix seconds / 3600): hour of day, +24 on weekends.
pub fn slot_of(hour: i64) -> usize {
    let day = hour.div_euclid(24);
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    let weekday = (day + 3).rem_euclid(7);
    let h = hour.rem_euclid(24) as usize;
    if weekday >= 5 { 24 + h } else { h }
}

/// One hour-of-day slot: days observed, mean and variance of the hour's total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slot(pub u32, pub f32, pub f32);

impl Slot {
    pub fn days(&self) -> u32 {
        self.0
    }

    pub fn mean(&self) -> f64 {
        f64::from(self.1)
    }

    pub fn sd(&self) -> f64 {
        f64::from(self.2).max(0.0).sqrt()
    }

    /// A usual high total for this hour: mean plus three standard deviations.
    pub fn high(&self) -> f64 {
        self.mean() + 3.0 * self.sd()
    }

    fn record(&mut self, x: u64) {
        let x = x as f32;
        let alpha = (1.0 / (self.0 as f32 + 1.0)).max(1.0 / ALPHA_DAYS);
        let diff = x - self.1;
        self.1 += alpha * diff;
        self.2 = (1.0 - alpha) * (self.2 + alpha * diff * diff);
        self.0 = self.0.saturating_add(1);
    }
}

/// What a window is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    /// The window's expected total (the slots' means, by overlap).
    pub expected: f64,
    /// Its usual high (the slots' mean + 3 sd, by overlap).
    pub high: f64,
    /// The fewest days of history among the slots used.
    pub days: u32,
    /// Some hour had too little history and the busiest slot stood in for it.
    pub all_hours: bool,
}

/// The hourly profile of one series.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seasonal {
    /// Hour index → total, for hours not yet folded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<i64, u64>,
    /// The last hour folded into the slots (0: none yet).
    #[serde(default)]
    pub folded: i64,
    /// Hours that overlapped a window that raised a finding: never folded.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub flagged: BTreeSet<i64>,
    /// 48 slots (weekday hours 0-23, weekend hours 24-47), empty until the first fold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<Slot>,
}

impl Seasonal {
    /// Adds `v` at event time `t`. Returns false when the hour was already folded (late).
    pub fn add(&mut self, t: i64, v: u64) -> bool {
        let h = t.div_euclid(3600);
        if self.folded != 0 && h <= self.folded {
            return false;
        }
        let e = self.pending.entry(h).or_default();
        *e = e.saturating_add(v);
        true
    }

    /// Marks the hours of `[from, to]` (event times) as anomalous: they never train.
    pub fn flag(&mut self, from: i64, to: i64) {
        for h in from.div_euclid(3600)..=to.div_euclid(3600) {
            if h > self.folded {
                self.flagged.insert(h);
            }
        }
    }

    /// Folds every hour that ended at or before `horizon` (event time): no late event can
    /// land in it any more. Hours without events count as zero, from the series' first hour.
    pub fn fold(&mut self, horizon: i64) {
        let last = horizon.div_euclid(3600) - 1;
        let Some(&first_pending) = self.pending.keys().next() else {
            return;
        };
        if first_pending > last {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); 48];
        }
        let start = if self.folded == 0 {
            first_pending
        } else {
            (self.folded + 1).max(last - MAX_GAP_HOURS)
        };
        for h in start..=last {
            let total = self.pending.remove(&h).unwrap_or(0);
            if !self.flagged.remove(&h) {
                self.slots[slot_of(h)].record(total);
            }
        }
        self.pending.retain(|h, _| *h > last);
        self.flagged.retain(|h| *h > last);
        self.folded = last;
    }

    /// The slot for event time `t`, when it has seen at least [`MIN_SLOT_DAYS`] days.
    pub fn slot(&self, t: i64) -> Option<Slot> {
        let s = *self.slots.get(slot_of(t.div_euclid(3600)))?;
        (s.days() >= MIN_SLOT_DAYS).then_some(s)
    }

    /// The all-hours fallback: the busiest slot's usual high, over slots with any history.
    pub fn all_hours(&self) -> Option<Slot> {
        self.slots
            .iter()
            .filter(|s| s.days() > 0)
            .copied()
            .max_by(|a, b| a.high().total_cmp(&b.high()))
    }

    /// What the profile expects for the sliding window of `window_min` minutes ending at `t`'s
    /// minute: each hour the window overlaps contributes its slot in proportion to the
    /// overlap (a window at 17:05 is mostly 16:00's), each hour judged by the highest of its
    /// own slot and its neighbours' (a shift of one hour is ordinary). An hour whose slots have fewer than
    /// [`MIN_SLOT_DAYS`] days uses the busiest slot instead (`all_hours`). None without any
    /// history.
    pub fn expect(&self, t: i64, window_min: i64) -> Option<Expectation> {
        let busiest = self.all_hours()?;
        let end = (t.div_euclid(60) + 1) * 60;
        let start = end - window_min * 60;
        let mut e = Expectation {
            expected: 0.0,
            high: 0.0,
            days: u32::MAX,
            all_hours: false,
        };
        let mut h = start.div_euclid(3600);
        while h * 3600 < end {
            let overlap = ((h + 1) * 3600).min(end) - (h * 3600).max(start);
            let w = overlap as f64 / 3600.0;
            // The hour and its neighbours, the highest of them: a day that starts an hour
            // early (daylight saving time, a late deploy) is not an anomaly.
            let near = [h - 1, h, h + 1].map(|x| self.slots.get(slot_of(x)).copied());
            let slot = if near
                .iter()
                .all(|s| s.is_some_and(|s| s.days() >= MIN_SLOT_DAYS))
            {
                near.into_iter()
                    .flatten()
                    .max_by(|a, b| a.high().total_cmp(&b.high()))
                    .expect("three slots")
            } else {
                e.all_hours = true;
                busiest
            };
            e.expected += w * slot.mean();
            e.high += w * slot.high();
            e.days = e.days.min(slot.days());
            h += 1;
        }
        Some(e)
    }

    /// Days of history in the best-observed slot.
    pub fn days(&self) -> u32 {
        self.slots.iter().map(|s| s.days()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY: i64 = 1_791_158_400; // 2026-10-05T00:00:00Z, a Monday

    #[test]
    fn slots_separate_hours_and_weekends() {
        let h = MONDAY / 3600;
        assert_eq!(slot_of(h), 0);
        assert_eq!(slot_of(h + 9), 9);
        assert_eq!(slot_of(h + 5 * 24 + 3), 24 + 3, "Saturday 03:00");
        assert_eq!(slot_of(h + 6 * 24 + 23), 24 + 23, "Sunday 23:00");
        assert_eq!(slot_of(h + 7 * 24), 0, "next Monday");
    }

    #[test]
    fn a_diurnal_profile_learns_each_hour_and_ages() {
        let mut s = Seasonal::default();
        // Two weeks: 10 an hour at night, 300 an hour from 09:00 to 17:00.
        for d in 0..14 {
            for h in 0..24 {
                let t = MONDAY + d * 86_400 + h * 3600;
                let n = if (9..17).contains(&h) { 300 } else { 10 };
                s.add(t, n);
                s.fold(t);
            }
        }
        s.fold(MONDAY + 14 * 86_400 + 3600);
        let night = s.slot(MONDAY + 3 * 3600).unwrap();
        let day = s.slot(MONDAY + 10 * 3600).unwrap();
        assert_eq!(night.days(), 10);
        assert!((night.mean() - 10.0).abs() < 0.01, "{night:?}");
        assert!((day.mean() - 300.0).abs() < 0.01, "{day:?}");
        assert_eq!(s.all_hours().unwrap().mean().round(), 300.0);
        // A late event for a folded hour is refused.
        assert!(!s.add(MONDAY, 5));
        // Two silent weeks age the day slot toward zero (folded when the series is next seen).
        s.add(MONDAY + 28 * 86_400 + 3600, 1);
        s.fold(MONDAY + 28 * 86_400 + 2 * 3600);
        // Ten zero days at a weight of 1/10 each: 300 x 0.9^10 = 105.
        let aged = s.slot(MONDAY + 10 * 3600).unwrap().mean();
        assert!((aged - 104.6).abs() < 1.0, "{aged}");
    }

    #[test]
    fn flagged_hours_do_not_train() {
        let mut s = Seasonal::default();
        for d in 0..5 {
            let t = MONDAY + d * 86_400 + 3 * 3600;
            s.add(t, if d == 4 { 5000 } else { 10 });
            if d == 4 {
                s.flag(t, t);
            }
        }
        s.fold(MONDAY + 5 * 86_400);
        let slot = s.slot(MONDAY + 3 * 3600).unwrap();
        assert_eq!(slot.days(), 4);
        assert!((slot.mean() - 10.0).abs() < 0.01);
    }
}
