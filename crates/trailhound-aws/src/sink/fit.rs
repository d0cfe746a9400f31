//! Fitting a finding into a sink's size limit: the evidence is shortened (the largest entry
//! first: strings and lists halved, other values dropped) until the sink's own measure of
//! the final message fits, and `evidence.truncated` is set. Title, ids, principal, times and
//! counts are never cut; a finding whose evidence is gone and still does not fit has its
//! description shortened last.

use std::borrow::Cow;

use serde_json::Value;
use trailhound_core::finding::Finding;

/// The evidence key set on a shortened finding.
pub const TRUNCATED: &str = "truncated";

/// `f` if `size(f) <= max`, else a copy with evidence shortened until it fits (or cannot
/// shrink further).
pub fn fit<'a>(f: &'a Finding, max: usize, size: impl Fn(&Finding) -> usize) -> Cow<'a, Finding> {
    if size(f) <= max {
        return Cow::Borrowed(f);
    }
    let mut g = f.clone();
    g.evidence.insert(TRUNCATED.into(), Value::Bool(true));
    for _ in 0..256 {
        if size(&g) <= max {
            return Cow::Owned(g);
        }
        let largest = g
            .evidence
            .iter()
            .filter(|(k, _)| k.as_str() != TRUNCATED)
            .map(|(k, v)| (k.clone(), serde_json::to_string(v).map_or(0, |s| s.len())))
            .max_by_key(|(_, n)| *n);
        let Some((key, _)) = largest else { break };
        let v = g.evidence.get_mut(&key).expect("present");
        match v {
            Value::String(s) if s.len() > 16 => {
                let keep = s.chars().count() / 2;
                *s = s.chars().take(keep).collect();
            }
            Value::Array(a) if a.len() > 1 => a.truncate(a.len() / 2),
            _ => {
                g.evidence.remove(&key);
            }
        }
    }
    // Evidence gone and still too large: the description goes last, then the sources list.
    while size(&g) > max && g.description.chars().count() > 64 {
        let keep = g.description.chars().count() / 2;
        g.description = g.description.chars().take(keep).collect::<String>() + "...";
    }
    while size(&g) > max && !g.sources.is_empty() {
        g.sources.truncate(g.sources.len() / 2);
    }
    Cow::Owned(g)
}

/// `s` without control characters (newlines and tabs become spaces), at most `max` bytes,
/// cut on a character boundary.
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// `s` cut to at most `max` bytes on a character boundary, with a note when cut.
pub fn bound(s: &str, max: usize, note: &str) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(note.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_shortens_the_largest_evidence_first_and_marks_it() {
        let mut f = crate::sink::sns::tests::finding("f", 10);
        f.evidence
            .insert("big".into(), Value::String("é".repeat(100_000)));
        f.evidence
            .insert("list".into(), serde_json::json!(vec!["1.2.3.4"; 1000]));
        let size = |f: &Finding| serde_json::to_string(f).unwrap().len();
        assert!(matches!(fit(&f, 1_000_000, size), Cow::Borrowed(_)));
        let g = fit(&f, 20_000, size);
        assert!(size(&g) <= 20_000, "{}", size(&g));
        assert_eq!(g.evidence[TRUNCATED], Value::Bool(true));
        assert_eq!(g.evidence["ratio"], serde_json::json!(41.0));
        assert_eq!((g.id.as_str(), g.title.as_str()), ("f", f.title.as_str()));
        // Nothing fits in 10 bytes: the result is as small as it gets, evidence gone.
        let tiny = fit(&f, 10, size);
        assert_eq!(tiny.evidence.len(), 1);
    }

    #[test]
    fn cleaning_drops_control_characters_and_bounds_bytes() {
        assert_eq!(clean("a\nb\u{7}c", 100), "a b c");
        assert_eq!(clean("ééé", 5), "éé");
        assert_eq!(bound("abcdef", 10, "~"), "abcdef");
        assert_eq!(bound("abcdef", 4, "~"), "abc~");
        assert_eq!(bound("éééé", 4, ""), "éé");
    }
}
