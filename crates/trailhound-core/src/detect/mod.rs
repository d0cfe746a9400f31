//! Detection: detector files (data) compiled into detectors of a few kinds (code), run by
//! the engine over each object's activities against per-entity state.

mod dispatch;
pub mod engine;
pub mod filter;
mod kinds;
pub mod matcher;
pub mod spec;
pub mod testcase;

use serde_json::{Map, Value};

pub use engine::{Engine, EngineError, Suppressions};
pub use spec::{Spec, SpecError};

use crate::activity::Activity;
use crate::state::{EntityState, States};

/// Whether `id` is a well-formed detector id: 1 to 64 lowercase letters, digits and
/// hyphens, starting with a letter. Any such id is allowed; the ids of the shipped catalogue
/// (docs/ARCHITECTURE.md) are a contract for their meaning, not the only ones.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The shipped detector files (every `detectors/*.toml`), embedded into the binary as the
/// defaults by `build.rs`.
pub const DEFAULTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/detectors.rs"));

/// What a detector sees for one activity.
pub struct Ctx<'a> {
    /// The activity's principal.
    pub principal: &'a mut EntityState,
    /// Other entities loaded for this object (buckets), by entity key.
    pub others: &'a mut States,
    pub learning: i64,
    pub(crate) alerts: &'a mut engine::Alerts,
}

/// A finding another detector opened, handed to detectors that read findings
/// ([`Detector::takes_findings`]) at the event time of the activity that opened it.
#[derive(Debug, Clone)]
pub struct Signal {
    pub detector: String,
    pub finding_id: String,
    pub time: i64,
    pub severity: f64,
}

/// A compiled detector of one kind.
pub trait Detector: Send + Sync {
    fn spec(&self) -> &Spec;
    /// Entities besides the principal this activity needs (e.g. `b#<bucket>`).
    fn extra_entities(&self, _a: &Activity, _out: &mut Vec<String>) {}
    /// Whether [`Detector::extra_entities`] can name any (the engine asks only those).
    fn has_extra_entities(&self) -> bool {
        false
    }
    /// Updates state with the activity and raises or updates findings.
    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity);
    /// Whether the detector reads the findings other detectors open (and not records).
    fn takes_findings(&self) -> bool {
        false
    }
    /// A finding `s` was opened on the principal of `a`, by another detector.
    fn observe_finding(&self, _ctx: &mut Ctx<'_>, _a: &Activity, _s: &Signal) {}
}

/// Adds `v` to the array `field` of the evidence unless present; keeps at most `cap` values.
pub(crate) fn push_unique(ev: &mut Map<String, Value>, field: &str, v: &str, cap: usize) {
    let arr = ev.entry(field).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = arr
        && a.len() < cap
        && !a.iter().any(|x| x.as_str() == Some(v))
    {
        a.push(Value::String(v.to_string()));
    }
}

/// Fills `{name}` placeholders.
pub(crate) fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let name = &after[..j];
                match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `2340` → `2,340`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_numbers() {
        assert_eq!(
            render("{a} did {b} {c}", &[("a", "x".into()), ("b", "y".into())]),
            "x did y {c}"
        );
        assert_eq!(thousands(2340), "2,340");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn shipped_detectors_parse() {
        for (file, text) in DEFAULTS {
            Spec::parse(file, text).unwrap();
        }
        assert!(Engine::defaults(7 * 86_400).is_ok());
    }
}
