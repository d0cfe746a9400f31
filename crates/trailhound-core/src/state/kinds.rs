//! Per-entity state of the `window-threshold`, `sequence` and `geo-velocity` detector kinds,
//! kept on the principal (`EntityState::kinds`). Every collection is capped and pruned by
//! event time as it is written, so an item's size does not depend on the input:
//!
//! | state | key | cap | eviction |
//! |---|---|---|---|
//! | [`WindowSeries`] | `<detector>/<group>` | [`MAX_SERIES`] per detector | least recently written series |
//! | its buckets | bucket index | window + lateness, at most [`MAX_BUCKETS`] buckets | older than the span before the newest event |
//! | its distinct values | value (at most [`MAX_VALUE_LEN`] bytes) | the kind's cap, at most [`MAX_DISTINCT`] | least recently seen value |
//! | [`SequenceState`] | `<detector>/<access key or "principal">` | [`MAX_SERIES`] per detector | least recently written |
//! | its step-A names | event name | [`MAX_STEP_NAMES`] | least recently seen; older than the step's window + lateness |
//! | its completions and pending B events | time | [`MAX_PENDING`] each | oldest; older than `within` + lateness |
//! | [`Places`] | detector id | [`MAX_PLACES`] countries | least recently seen; older than the speed horizon |
//!
//! Worst case per detector and principal (JSON, as stored): a window series about
//! 120 buckets × 20 B + 256 values × 80 B ≈ 23 KB, times [`MAX_SERIES`] only for detectors
//! grouped by a value (most are not); a sequence about 64 × 60 B + 16 × 30 B ≈ 4.5 KB per
//! key; geo-velocity 16 × 30 B.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Series (window groups, sequence keys) per detector and principal.
pub const MAX_SERIES: usize = 8;
/// Buckets per window series: windows longer than this many minutes plus lateness use
/// buckets wider than a minute.
pub const MAX_BUCKETS: i64 = 120;
/// Distinct values a window series keeps at most.
pub const MAX_DISTINCT: usize = 256;
/// Values longer than this are cut (on a character boundary) before they are kept.
pub const MAX_VALUE_LEN: usize = 128;
/// Step-A event names a sequence keeps.
pub const MAX_STEP_NAMES: usize = 64;
/// Step-A completions and step-B events waiting for a late step A, each.
pub const MAX_PENDING: usize = 8;
/// Countries a geo-velocity detector keeps per principal.
pub const MAX_PLACES: usize = 16;

/// The state of these kinds for one entity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KindState {
    /// `window-threshold` series by `<detector>/<group>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub windows: BTreeMap<String, WindowSeries>,
    /// `sequence` progress by `<detector>/<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sequences: BTreeMap<String, SequenceState>,
    /// `geo-velocity` countries seen, by detector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub places: BTreeMap<String, Places>,
    /// `log-gap` joins, by detector (on `g#<account>/<region>` entities; see
    /// [`super::correlate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gaps: BTreeMap<String, super::correlate::GapState>,
    /// `finding-chain` links, by detector (on principals).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub chains: BTreeMap<String, super::correlate::ChainState>,
}

/// Windows and lateness are at most a day each: a window series untouched for two days holds
/// nothing any event can still count.
pub const MAX_WINDOW_SECS: i64 = 2 * 86_400;
/// `within` and a step window are at most 7 days, lateness 1: a sequence untouched for 8 days
/// is over.
pub const MAX_SEQUENCE_SECS: i64 = 8 * 86_400;
/// A geo-velocity speed is at least 100 km/h: a sighting older than 20,038 km at that speed
/// (about 200 hours) cannot make any trip too fast.
pub const MAX_PLACE_SECS: i64 = 201 * 3600;

impl KindState {
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
            && self.sequences.is_empty()
            && self.places.is_empty()
            && self.gaps.is_empty()
            && self.chains.is_empty()
    }

    /// Drops what no event at or after `now` can use any more, whatever the detectors'
    /// parameters (each kind also prunes its own entries as it writes them).
    pub fn prune(&mut self, now: i64) {
        self.windows
            .retain(|_, w| now - w.newest <= MAX_WINDOW_SECS);
        self.sequences
            .retain(|_, s| now - s.newest <= MAX_SEQUENCE_SECS);
        self.places.retain(|_, p| {
            p.countries
                .retain(|_, (_, last)| now - *last <= MAX_PLACE_SECS);
            !p.countries.is_empty()
        });
        // A chain window is at most 7 days; a join keeps nothing older than a day of grace
        // once records stopped for 30 days (the longest `active` horizon).
        self.chains
            .retain(|_, c| now - c.newest() <= MAX_SEQUENCE_SECS);
        self.gaps
            .retain(|_, g| now - g.last_record <= 30 * 86_400 || !g.waiting.is_empty());
    }
}

/// State that knows the newest event time written to it.
pub trait Newest {
    fn newest(&self) -> i64;
}

/// The entry `<detector>/<key>` of `map`, created if missing; creating one when the detector
/// already has `cap` entries first drops its least recently written one.
pub fn capped_entry<'m, V: Default + Newest>(
    map: &'m mut BTreeMap<String, V>,
    detector: &str,
    key: &str,
    cap: usize,
) -> &'m mut V {
    let full = format!("{detector}/{key}");
    if !map.contains_key(&full) {
        let prefix = format!("{detector}/");
        let mine: Vec<(&String, i64)> = map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k, v.newest()))
            .collect();
        if mine.len() >= cap
            && let Some(oldest) = mine.iter().min_by_key(|(k, t)| (*t, (*k).clone()))
        {
            let oldest = oldest.0.clone();
            map.remove(&oldest);
        }
        map.insert(full.clone(), V::default());
    }
    map.get_mut(&full).expect("just inserted")
}

/// `s` cut to at most [`MAX_VALUE_LEN`] bytes on a character boundary.
pub fn clip(s: &str) -> &str {
    if s.len() <= MAX_VALUE_LEN {
        return s;
    }
    let mut end = MAX_VALUE_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A sliding event-time window: sums per bucket, and distinct values with the time each was
/// last seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowSeries {
    /// Bucket index (event time / bucket width) → sum.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<i64, u64>,
    /// Distinct value → last seen (event time).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, i64>,
    /// Newest event time written.
    #[serde(default)]
    pub newest: i64,
    /// Events older than the span the series keeps: not counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub late: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Newest for WindowSeries {
    fn newest(&self) -> i64 {
        self.newest
    }
}

/// Bucket width (seconds) for a window and lateness: a minute, or wider so that the span
/// holds at most [`MAX_BUCKETS`] buckets.
pub fn bucket_width(window: i64, lateness: i64) -> i64 {
    let minutes = (window + lateness + 59) / 60;
    60 * ((minutes + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1)
}

impl WindowSeries {
    /// Records an event at `t`: whether it is recent enough to count (within `span` seconds
    /// of the newest event). Drops buckets and values that fell out of the span.
    pub fn admit(&mut self, t: i64, span: i64) -> bool {
        if self.newest != 0 && t < self.newest - span {
            self.late += 1;
            return false;
        }
        if t > self.newest {
            // Values age out when the minute moves on, not on every event.
            let minute_moved = t.div_euclid(60) != self.newest.div_euclid(60);
            self.newest = t;
            if minute_moved {
                self.values.retain(|_, seen| *seen >= t - span);
            }
        }
        true
    }

    /// Adds `v` to the bucket of `t`; drops buckets older than `span` before the newest.
    pub fn add(&mut self, t: i64, v: u64, width: i64, span: i64) {
        let b = self.buckets.entry(t.div_euclid(width)).or_default();
        *b = b.saturating_add(v);
        let horizon = (self.newest - span).div_euclid(width);
        while let Some((&b, _)) = self.buckets.first_key_value() {
            if b >= horizon {
                break;
            }
            self.buckets.pop_first();
        }
    }

    /// The sum over the window of `window` seconds ending at `t` (bucket granularity).
    pub fn sum(&self, t: i64, window: i64, width: i64) -> u64 {
        let last = t.div_euclid(width);
        // A window narrower than a bucket still reads the bucket of `t`.
        let first = ((t - window).div_euclid(width) + 1).min(last);
        self.buckets
            .range(first..=last)
            .fold(0, |s, (_, v)| s.saturating_add(*v))
    }

    /// Start time of the earliest bucket with a value in the window ending at `t`.
    pub fn start(&self, t: i64, window: i64, width: i64) -> i64 {
        let last = t.div_euclid(width);
        // A window narrower than a bucket still reads the bucket of `t`.
        let first = ((t - window).div_euclid(width) + 1).min(last);
        self.buckets
            .range(first..=last)
            .next()
            .map(|(b, _)| b * width)
            .unwrap_or(t)
    }

    /// Notes `value` seen at `t`, keeping at most `cap` values (the least recently seen go).
    pub fn see(&mut self, value: &str, t: i64, cap: usize) {
        super::insert_capped(&mut self.values, clip(value), t, cap);
    }

    /// Values last seen within the window of `window` seconds ending at the newest event,
    /// least recently seen first.
    pub fn distinct(&self, window: i64) -> Vec<(&str, i64)> {
        let from = self.newest - window;
        let mut v: Vec<(&str, i64)> = self
            .values
            .iter()
            .filter(|(_, t)| **t > from)
            .map(|(k, t)| (k.as_str(), *t))
            .collect();
        v.sort_by_key(|(k, t)| (*t, *k));
        v
    }
}

/// Progress of one sequence (step A, then step B) for one principal or access key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SequenceState {
    /// Step-A event names with the time each was last seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first: BTreeMap<String, i64>,
    /// Times step A was complete (the event that completed it), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<i64>,
    /// Step-B events (time, event name) seen before any step A that could precede them,
    /// kept for a step A that arrives late.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<(i64, String)>,
    #[serde(default)]
    pub newest: i64,
}

impl Newest for SequenceState {
    fn newest(&self) -> i64 {
        self.newest
    }
}

impl SequenceState {
    /// Moves the newest time to `t` and drops what is older than `keep` seconds before it.
    pub fn advance(&mut self, t: i64, keep: i64) {
        self.newest = self.newest.max(t);
        let horizon = self.newest - keep;
        self.first.retain(|_, seen| *seen >= horizon);
        self.done.retain(|d| *d >= horizon);
        self.pending.retain(|(p, _)| *p >= horizon);
    }

    /// Notes a step-A event; returns the number of distinct step-A names seen in the
    /// `window` seconds up to `t`.
    pub fn see_first(&mut self, name: &str, t: i64, window: i64) -> usize {
        let name = clip(name);
        match self.first.get_mut(name) {
            Some(seen) => *seen = (*seen).max(t),
            None => {
                self.first.insert(name.to_string(), t);
                if self.first.len() > MAX_STEP_NAMES {
                    let oldest = self
                        .first
                        .iter()
                        .min_by_key(|(k, t)| (**t, (*k).clone()))
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        self.first.remove(&k);
                    }
                }
            }
        }
        self.first.values().filter(|s| **s > t - window).count()
    }

    /// The step-A names seen in the `window` seconds up to `t`, oldest first.
    pub fn first_names(&self, t: i64, window: i64) -> Vec<(&str, i64)> {
        let mut v: Vec<(&str, i64)> = self
            .first
            .iter()
            .filter(|(_, s)| **s > t - window && **s <= t)
            .map(|(k, s)| (k.as_str(), *s))
            .collect();
        v.sort_by_key(|(k, s)| (*s, *k));
        v
    }

    /// Records a completion of step A at `t`.
    pub fn complete(&mut self, t: i64) {
        if !self.done.contains(&t) {
            self.done.push(t);
            self.done.sort_unstable();
            if self.done.len() > MAX_PENDING {
                self.done.remove(0);
            }
        }
    }

    /// The latest completion of step A at or before `t` and at most `within` seconds before it.
    pub fn completed_before(&self, t: i64, within: i64) -> Option<i64> {
        self.done
            .iter()
            .rev()
            .find(|d| **d <= t && t - **d <= within)
            .copied()
    }

    /// Keeps a step-B event for a late step A.
    pub fn hold(&mut self, t: i64, name: &str) {
        self.pending.push((t, clip(name).to_string()));
        self.pending.sort();
        if self.pending.len() > MAX_PENDING {
            self.pending.remove(0);
        }
    }

    /// Takes the held step-B events at or after `t` and at most `within` seconds after it.
    pub fn take_after(&mut self, t: i64, within: i64) -> Vec<(i64, String)> {
        let (hit, keep): (Vec<_>, Vec<_>) = self
            .pending
            .drain(..)
            .partition(|(p, _)| *p >= t && *p - t <= within);
        self.pending = keep;
        hit
    }
}

/// Countries a principal was seen in, with the first and last time of each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Places {
    /// Two-letter country code → (first seen, last seen).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub countries: BTreeMap<String, (i64, i64)>,
}

impl Places {
    /// Records `country` at `t`; drops countries not seen within `horizon` seconds of the
    /// newest sighting and keeps at most [`MAX_PLACES`].
    pub fn see(&mut self, country: &str, t: i64, horizon: i64) {
        let e = self
            .countries
            .entry(clip(country).to_string())
            .or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
        let newest = self.countries.values().map(|(_, l)| *l).max().unwrap_or(t);
        self.countries.retain(|_, (_, l)| *l >= newest - horizon);
        while self.countries.len() > MAX_PLACES {
            let oldest = self
                .countries
                .iter()
                .min_by_key(|(k, (_, l))| (*l, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.countries.remove(&k);
            }
        }
    }
}
