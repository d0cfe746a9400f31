//! Evidence as HTML tables, and the escaping every attacker-controlled string goes through.
//!
//! Evidence is free-form JSON written by the detectors: scalars become cells, arrays of
//! scalars lists, objects nested key/value tables, arrays of objects tables with a column per
//! key. Addresses get their country from the geo database. Everything is escaped.

use std::fmt::Write;
use std::net::IpAddr;

use serde_json::{Map, Value};
use trailhound_core::geo::Geo;

/// Items shown of one array before "… N more".
const MAX_ITEMS: usize = 50;
/// Nesting rendered as tables; deeper values are shown as compact JSON.
const MAX_DEPTH: usize = 4;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `7239078551` → `7.2 GB` (decimal units).
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Renders evidence maps; holds the geo database for addresses.
pub struct Evidence<'a> {
    pub geo: &'a Geo,
}

impl Evidence<'_> {
    /// The evidence of one finding as a key/value table, leaving out `skip` keys.
    pub fn table(&self, ev: &Map<String, Value>, skip: &[&str]) -> String {
        let mut out = String::new();
        self.map(&mut out, ev, skip, 0);
        out
    }

    fn map(&self, out: &mut String, m: &Map<String, Value>, skip: &[&str], depth: usize) {
        out.push_str("<table class=\"kv\"><tbody>");
        for (k, v) in m.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>", esc(k));
            self.value(out, k, v, depth + 1);
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
    }

    fn value(&self, out: &mut String, key: &str, v: &Value, depth: usize) {
        match v {
            Value::Null => out.push_str("<span class=\"none\">none</span>"),
            Value::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
            Value::Number(n) => out.push_str(&number(key, n)),
            Value::String(s) => self.string(out, s),
            _ if depth > MAX_DEPTH => {
                let _ = write!(out, "<code>{}</code>", esc(&v.to_string()));
            }
            Value::Object(m) if m.is_empty() => out.push_str("<span class=\"none\">none</span>"),
            Value::Object(m) => self.map(out, m, &[], depth),
            Value::Array(a) if a.is_empty() => out.push_str("<span class=\"none\">none</span>"),
            Value::Array(a) if a.iter().all(Value::is_object) => self.rows(out, a, depth),
            Value::Array(a) => {
                out.push_str("<ul class=\"values\">");
                for item in a.iter().take(MAX_ITEMS) {
                    out.push_str("<li>");
                    self.value(out, key, item, depth + 1);
                    out.push_str("</li>");
                }
                more(out, a.len());
                out.push_str("</ul>");
            }
        }
    }

    /// An array of objects: one row per object, one column per key (first-seen order).
    fn rows(&self, out: &mut String, a: &[Value], depth: usize) {
        let mut cols: Vec<&str> = Vec::new();
        for o in a.iter().take(MAX_ITEMS).filter_map(Value::as_object) {
            for k in o.keys() {
                if !cols.contains(&k.as_str()) {
                    cols.push(k);
                }
            }
        }
        out.push_str("<table class=\"rows\"><thead><tr>");
        for c in &cols {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(c));
        }
        out.push_str("</tr></thead><tbody>");
        for o in a.iter().take(MAX_ITEMS).filter_map(Value::as_object) {
            out.push_str("<tr>");
            for c in &cols {
                out.push_str("<td>");
                match o.get(*c) {
                    Some(v) => self.value(out, c, v, depth + 1),
                    None => out.push_str("<span class=\"none\">-</span>"),
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if a.len() > MAX_ITEMS {
            let _ = write!(out, "<p class=\"more\">… {} more</p>", a.len() - MAX_ITEMS);
        }
    }

    /// A string; an IP address with its country when the geo database knows it.
    fn string(&self, out: &mut String, s: &str) {
        let _ = write!(out, "<code>{}</code>", esc(s));
        if let Ok(ip) = s.parse::<IpAddr>()
            && let Some(c) = self.geo.lookup(ip).country
        {
            let _ = write!(
                out,
                " <span class=\"country\">{}</span>",
                esc(trailhound_core::geo::country_str(&c))
            );
        }
    }
}

fn more(out: &mut String, len: usize) {
    if len > MAX_ITEMS {
        let _ = write!(out, "<li class=\"more\">… {} more</li>", len - MAX_ITEMS);
    }
}

/// Integers with thousands separators (and a byte size for `bytes` keys); other numbers as
/// JSON writes them.
fn number(key: &str, n: &serde_json::Number) -> String {
    match n.as_u64() {
        Some(u) if key.contains("bytes") && u >= 1000 => {
            format!(
                "{} <span class=\"unit\">({})</span>",
                thousands(u),
                human_bytes(u)
            )
        }
        Some(u) => thousands(u),
        None => esc(&n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(v: Value) -> String {
        let geo = Geo::none();
        Evidence { geo: &geo }.table(v.as_object().unwrap(), &["skipped"])
    }

    #[test]
    fn escapes_attacker_strings_everywhere() {
        let html = render(json!({
            "user_agents": ["<script>alert(1)</script>", "a\"b'c&d"],
            "<img src=x onerror=alert(1)>": {"k": "</td></table><b>x</b>"},
            "steps": [{"<i>": "<u>"}],
        }));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>x"), "{html}");
        assert!(!html.contains("<i>") && !html.contains("<u>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a&quot;b&#39;c&amp;d"));
        assert!(html.contains("<th scope=\"col\">&lt;i&gt;</th>"));
    }

    #[test]
    fn shapes_follow_the_values() {
        let html = render(json!({
            "bytes_out": 7239078551u64,
            "observed": 2356,
            "ratio": 124.5,
            "skipped": "not shown",
            "baseline": {"p50": 15, "p99": 194},
            "chain": [{"finding_id": "a", "detector": "x"}, {"finding_id": "b"}],
            "flag": true,
            "nothing": null,
            "empty": [],
        }));
        assert!(html.contains("7,239,078,551 <span class=\"unit\">(7.2 GB)</span>"));
        assert!(html.contains("<td>2,356</td>") && html.contains("<td>124.5</td>"));
        assert!(!html.contains("not shown"));
        assert!(html.contains("<th scope=\"row\">p99</th><td>194</td>"));
        // An array of objects is one table with the union of the keys as columns.
        assert!(html.contains(
            "<thead><tr><th scope=\"col\">detector</th><th scope=\"col\">finding_id</th></tr></thead>"
        ));
        assert!(html.contains("<td><span class=\"none\">-</span></td><td><code>b</code></td>"));
        assert!(html.contains("<td>yes</td>"));
        assert_eq!(html.matches("<span class=\"none\">none</span>").count(), 2);
    }

    #[test]
    fn long_arrays_are_cut_and_deep_values_compacted() {
        let many: Vec<u64> = (0..60).collect();
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
        let html = render(json!({"many": many, "deep": deep}));
        assert_eq!(html.matches("<li>").count(), MAX_ITEMS);
        assert!(html.contains("… 10 more"));
        assert!(
            html.contains("<code>{&quot;e&quot;:{&quot;f&quot;:1}}</code>"),
            "{html}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10604910), "10,604,910");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
