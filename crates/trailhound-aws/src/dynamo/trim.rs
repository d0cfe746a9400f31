//! Trimming an entity whose packed state would not fit its item budget.
//!
//! The engine caps what one entity holds (rate series, seen values, kind state), so an item
//! stays far below DynamoDB's 400 KB in practice; this is the guarantee behind that: a
//! state packed above its budget ([`super::ENTITY_ITEM_BUDGET`], or less when the
//! transaction's 4 MB needs it) is trimmed instead of failing the commit (which would fail
//! the object, and every principal in its part, on every redelivery).
//!
//! The rule, applied in this order until the packed state fits, each step dropping the
//! least useful first:
//! 1. rate series, the one idle longest first (oldest watermark, then by name), the
//!    engine's own eviction order;
//! 2. seen values, least recently seen first across every set (then by set and value);
//! 3. kind state entries (window series, sequences, geo places), by name;
//! 4. open findings, the one whose episode ended longest ago first (a new event then opens
//!    a new finding instead of updating it).
//!
//! What was dropped is counted ([`Trimmed`]) and logged with the entity key, never values.

use trailhound_core::state::EntityState;

use super::item::pack;

/// What one trim dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub rate_series: u64,
    pub seen_values: u64,
    pub kind_entries: u64,
    pub open_findings: u64,
    /// Packed sizes before and after.
    pub from_bytes: usize,
    pub to_bytes: usize,
}

impl Trimmed {
    pub fn dropped(&self) -> u64 {
        self.rate_series
            .saturating_add(self.seen_values)
            .saturating_add(self.kind_entries)
            .saturating_add(self.open_findings)
    }
}

/// One droppable piece of state, in rule order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Piece {
    Rate(i64, String),
    Seen(i64, String, String),
    Window(String),
    Sequence(String),
    Place(String),
    Open(i64, String),
}

fn json_len<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

/// Every droppable piece with its JSON size, in the order the rule drops them.
fn pieces(s: &EntityState) -> Vec<(Piece, usize)> {
    let mut out = Vec::new();
    for (k, r) in &s.rates {
        out.push((Piece::Rate(r.watermark, k.clone()), k.len() + json_len(r)));
    }
    for (set, values) in &s.seen {
        for (v, t) in &values.values {
            out.push((Piece::Seen(*t, set.clone(), v.clone()), v.len() + 24));
        }
    }
    for (k, w) in &s.kinds.windows {
        out.push((Piece::Window(k.clone()), k.len() + json_len(w)));
    }
    for (k, q) in &s.kinds.sequences {
        out.push((Piece::Sequence(k.clone()), k.len() + json_len(q)));
    }
    for (k, p) in &s.kinds.places {
        out.push((Piece::Place(k.clone()), k.len() + json_len(p)));
    }
    for (k, o) in &s.open {
        out.push((Piece::Open(o.last, k.clone()), k.len() + json_len(o)));
    }
    // Rule order: the variant order, then (within a variant) oldest first.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn drop_piece(s: &mut EntityState, p: Piece, t: &mut Trimmed) {
    match p {
        Piece::Rate(_, k) => {
            s.rates.remove(&k);
            t.rate_series += 1;
        }
        Piece::Seen(_, set, v) => {
            if let Some(values) = s.seen.get_mut(&set) {
                values.values.remove(&v);
                if values.values.is_empty() {
                    s.seen.remove(&set);
                }
            }
            t.seen_values += 1;
        }
        Piece::Window(k) => {
            s.kinds.windows.remove(&k);
            t.kind_entries += 1;
        }
        Piece::Sequence(k) => {
            s.kinds.sequences.remove(&k);
            t.kind_entries += 1;
        }
        Piece::Place(k) => {
            s.kinds.places.remove(&k);
            t.kind_entries += 1;
        }
        Piece::Open(_, k) => {
            s.open.remove(&k);
            t.open_findings += 1;
        }
    }
}

/// Trims `state` until it packs to at most `budget` bytes (see the module's rule). Returns
/// `None` when it already fits. Deterministic: the same state and budget drop the same
/// pieces.
pub fn trim(state: &mut EntityState, budget: usize) -> Option<Trimmed> {
    let mut size = pack(state).len();
    if size <= budget {
        return None;
    }
    let mut t = Trimmed {
        from_bytes: size,
        ..Trimmed::default()
    };
    // Packed bytes per JSON byte, so each round drops about the excess (plus 5 % so a
    // round or two suffice); at least one piece a round, so it always ends.
    for _ in 0..64 {
        let json = json_len(state).max(1);
        let ratio = size as f64 / json as f64;
        let target = budget - budget / 20;
        let excess_json = ((size.saturating_sub(target)) as f64 / ratio.max(1e-3)) as usize;
        let mut removed = 0usize;
        let mut any = false;
        for (p, len) in pieces(state) {
            if any && removed >= excess_json {
                break;
            }
            drop_piece(state, p, &mut t);
            removed += len;
            any = true;
        }
        size = pack(state).len();
        if size <= budget || !any {
            break;
        }
    }
    t.to_bytes = size;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailhound_core::state::{RateSeries, SeenSet};

    fn hostile() -> EntityState {
        let mut s = EntityState::default();
        for i in 0..10_000i64 {
            let mut r = RateSeries {
                watermark: 1_000 + i,
                ..RateSeries::default()
            };
            r.minutes
                .insert(1_000 + i, (i as u64).wrapping_mul(2_654_435_761));
            s.rates
                .insert(format!("bedrock-probing/model-{i:05}-{}", i * 7919), r);
        }
        let mut set = SeenSet::default();
        for i in 0..500 {
            set.values.insert(format!("agent-{i}-{}", i * 104_729), i);
        }
        s.seen.insert("new-agent".into(), set);
        s
    }

    #[test]
    fn a_hostile_state_is_trimmed_idlest_series_first_and_counted() {
        let mut s = hostile();
        let before = pack(&s).len();
        assert!(
            before > 100 * 1024,
            "the test state must be large: {before}"
        );
        let t = trim(&mut s, 100 * 1024).expect("over budget");
        assert!(t.to_bytes <= 100 * 1024, "{t:?}");
        assert_eq!(t.from_bytes, before);
        assert_eq!(pack(&s).len(), t.to_bytes);
        assert_eq!(t.rate_series as usize, 10_000 - s.rates.len());
        assert_eq!((t.seen_values, t.kind_entries, t.open_findings), (0, 0, 0));
        // The survivors are the most recently active series: the dropped ones are a prefix
        // of the idlest-first order.
        let oldest_kept = s.rates.values().map(|r| r.watermark).min().unwrap();
        assert_eq!(oldest_kept, 1_000 + t.rate_series as i64);
        assert_eq!(s.seen["new-agent"].values.len(), 500);
        // Within budget: untouched.
        let mut small = EntityState::default();
        assert_eq!(trim(&mut small, 1024), None);
    }

    #[test]
    fn trimming_is_deterministic() {
        let (mut a, mut b) = (hostile(), hostile());
        assert_eq!(trim(&mut a, 64 * 1024), trim(&mut b, 64 * 1024));
        assert_eq!(pack(&a), pack(&b));
    }
}
