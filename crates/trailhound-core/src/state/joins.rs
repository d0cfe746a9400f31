//! The join maps of [`super::correlate::GapState`]: entries by request-id hash, capped at
//! [`MAX_JOIN`], the oldest dropped first and those past a horizon expired. An index by
//! (event time, hash) finds the oldest and the expired without a scan: the maps were scanned
//! whole on every record and call (512 entries each, under load), which was 8% of replaying
//! an invocation-log file. Serialized as the map alone, exactly as before the index; the
//! index is rebuilt when a state is read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::correlate::MAX_JOIN;

/// A join entry's event time.
pub trait Timed {
    fn time(&self) -> i64;
}

impl Timed for i64 {
    fn time(&self) -> i64 {
        *self
    }
}

impl Timed for (i64, String) {
    fn time(&self) -> i64 {
        self.0
    }
}

#[derive(Debug, Clone)]
pub struct Joins<V> {
    map: BTreeMap<u64, V>,
    /// `(time, hash)` of every entry of `map`.
    by_time: BTreeSet<(i64, u64)>,
}

impl<V> Default for Joins<V> {
    fn default() -> Self {
        Joins {
            map: BTreeMap::new(),
            by_time: BTreeSet::new(),
        }
    }
}

impl<V: Timed> Joins<V> {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn remove(&mut self, id: u64) -> Option<V> {
        let v = self.map.remove(&id)?;
        self.by_time.remove(&(v.time(), id));
        Some(v)
    }

    /// Adds `v` under `id`, dropping the oldest entry (by time, then hash) when the map is
    /// full and `id` is new; returns whether one was dropped.
    pub fn insert_capped(&mut self, id: u64, v: V) -> bool {
        let mut dropped = false;
        if self.map.len() >= MAX_JOIN
            && !self.map.contains_key(&id)
            && let Some((_, oldest)) = self.by_time.pop_first()
        {
            self.map.remove(&oldest);
            dropped = true;
        }
        let t = v.time();
        if let Some(old) = self.map.insert(id, v) {
            self.by_time.remove(&(old.time(), id));
        }
        self.by_time.insert((t, id));
        dropped
    }

    /// Removes the entries dated before `horizon`, oldest first.
    pub fn expire(&mut self, horizon: i64) -> Vec<V> {
        let mut gone = Vec::new();
        while let Some(&(t, id)) = self.by_time.first()
            && t < horizon
        {
            self.by_time.pop_first();
            if let Some(v) = self.map.remove(&id) {
                gone.push(v);
            }
        }
        gone
    }
}

impl<V: Serialize> Serialize for Joins<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de, V: Deserialize<'de> + Timed> Deserialize<'de> for Joins<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<u64, V>::deserialize(d)?;
        let by_time = map.iter().map(|(id, v)| (v.time(), *id)).collect();
        Ok(Joins { map, by_time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the plain map it replaces (a full scan for the oldest, `retain` to expire),
    /// on random inserts, re-inserts, removals and expiries; and read back from its JSON.
    #[test]
    fn matches_the_scanned_map() {
        let mut joins: Joins<i64> = Joins::default();
        let mut plain: BTreeMap<u64, i64> = BTreeMap::new();
        let mut rng = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for step in 0..40_000i64 {
            let r = next();
            let id = r % 1500;
            let t = step / 4 + (r >> 20) as i64 % 50;
            match r >> 60 {
                0..=9 => {
                    let mut dropped = false;
                    if plain.len() >= MAX_JOIN
                        && !plain.contains_key(&id)
                        && let Some((&oldest, _)) = plain.iter().min_by_key(|(k, v)| (**v, **k))
                    {
                        plain.remove(&oldest);
                        dropped = true;
                    }
                    plain.insert(id, t);
                    assert_eq!(joins.insert_capped(id, t), dropped, "step {step}");
                }
                10..=12 => assert_eq!(joins.remove(id), plain.remove(&id)),
                _ => {
                    let horizon = step / 4 - 40;
                    let mut gone: Vec<(i64, u64)> = plain
                        .iter()
                        .filter(|(_, t)| **t < horizon)
                        .map(|(k, t)| (*t, *k))
                        .collect();
                    gone.sort();
                    plain.retain(|_, t| *t >= horizon);
                    let want: Vec<i64> = gone.iter().map(|g| g.0).collect();
                    assert_eq!(joins.expire(horizon), want);
                }
            }
            assert_eq!(joins.map, plain);
            assert_eq!(joins.by_time.len(), plain.len());
        }
        let json = serde_json::to_string(&joins).unwrap();
        assert_eq!(json, serde_json::to_string(&plain).unwrap());
        let back: Joins<i64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.map, joins.map);
        assert_eq!(back.by_time, joins.by_time);
    }
}
