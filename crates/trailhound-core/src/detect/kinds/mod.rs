//! Detector kinds. A new detector of an existing kind is a new file in `detectors/`; a new
//! kind is a new module here plus one line in [`build`].

mod ai_target;
mod finding_chain;
mod geo_velocity;
mod log_gap;
mod new_value;
mod rate_baseline;
mod resource_readers;
mod rule;
mod sequence;
mod window_threshold;

use serde::de::DeserializeOwned;

use super::Detector;
use super::spec::Spec;

/// Kind names accepted in detector files.
pub const KINDS: &[&str] = &[
    "rate-baseline",
    "new-value",
    "resource-readers",
    "rule",
    "window-threshold",
    "sequence",
    "geo-velocity",
    "log-gap",
    "finding-chain",
];

/// The `{placeholders}` a kind fills in titles, descriptions and subjects: exactly the
/// variables its `observe` hands to `render` (checked against the sources by a test). Every
/// kind fills [`COMMON`]. Empty for a name that is not a kind.
pub(crate) fn placeholders(kind: &str) -> &'static [&'static str] {
    match kind {
        "rate-baseline" => &[
            "principal_name",
            "event_name",
            "group",
            "observed",
            "window",
            "ratio",
            "comparison",
            "baseline",
            "threshold",
            "percentile",
            "cost_usd",
            "baseline_cost_usd",
        ],
        "new-value" => &["principal_name", "field", "value", "known"],
        "resource-readers" => &["principal_name", "bucket", "event_name", "why", "count"],
        "rule" => rule::PLACEHOLDERS,
        "window-threshold" => window_threshold::PLACEHOLDERS,
        "sequence" => sequence::PLACEHOLDERS,
        "geo-velocity" => geo_velocity::PLACEHOLDERS,
        "log-gap" => log_gap::PLACEHOLDERS,
        "finding-chain" => finding_chain::PLACEHOLDERS,
        _ => &[],
    }
}

/// Placeholders every kind fills (a test holds every kind to them).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const COMMON: &[&str] = &["principal_name"];

pub(crate) fn build(spec: Spec) -> Result<Box<dyn Detector>, (String, String)> {
    match spec.kind.as_str() {
        "rate-baseline" => Ok(Box::new(rate_baseline::RateBaseline::new(spec)?)),
        "new-value" => Ok(Box::new(new_value::NewValue::new(spec)?)),
        "resource-readers" => Ok(Box::new(resource_readers::ResourceReaders::new(spec)?)),
        "rule" => Ok(Box::new(rule::Rule::new(spec)?)),
        "window-threshold" => Ok(Box::new(window_threshold::WindowThreshold::new(spec)?)),
        "sequence" => Ok(Box::new(sequence::Sequence::new(spec)?)),
        "geo-velocity" => Ok(Box::new(geo_velocity::GeoVelocity::new(spec)?)),
        "log-gap" => Ok(Box::new(log_gap::LogGap::new(spec)?)),
        "finding-chain" => Ok(Box::new(finding_chain::FindingChain::new(spec)?)),
        other => Err((
            "kind".into(),
            format!("`{other}` is not a detector kind ({})", KINDS.join(", ")),
        )),
    }
}

/// Evidence about who called and from where, kept by every kind that aggregates activities:
/// event names, source addresses, countries, user agents and sample request ids (each list
/// capped).
pub(super) fn caller_evidence(
    ev: &mut serde_json::Map<String, serde_json::Value>,
    a: &crate::activity::Activity,
) {
    use super::push_unique;
    push_unique(ev, "event_names", &a.event_name, 10);
    if let Some(ip) = a.source_ip {
        push_unique(ev, "source_ips", &ip.to_string(), 10);
    }
    if let Some(c) = &a.country {
        push_unique(ev, "countries", crate::geo::country_str(c), 10);
    }
    if let Some(ua) = &a.user_agent {
        push_unique(ev, "user_agents", ua, 5);
    }
    if let Some(r) = &a.request_id {
        push_unique(ev, "sample_request_ids", r, 5);
    }
}

/// Deserializes the `[params]` table into a kind's parameter struct. Errors name the key
/// path (`params.window`, `params.rules[2].name`), found from the position of the error in
/// the table written out as TOML.
fn params<P: DeserializeOwned>(spec: &Spec) -> Result<P, (String, String)> {
    let text = toml::to_string(&spec.params).unwrap_or_default();
    let parsed: Result<P, toml::de::Error> = toml::from_str(&text);
    parsed.map_err(|e| {
        let field = super::spec::error_field(&text, &e)
            .map(|f| format!("params.{f}"))
            .unwrap_or_else(|| "params".into());
        (field, e.message().to_string())
    })
}

fn duration(field: &str, v: &str) -> Result<i64, (String, String)> {
    crate::time::parse_duration(v)
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            (
                field.to_string(),
                format!("`{v}` is not a duration such as 15m, 2h, 7d"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(params: &str) -> Spec {
        Spec::parse(
            "x.toml",
            &format!(
                "id = \"x\"\ntype = \"A:B/C\"\nseverity = 5.0\nkind = \"rate-baseline\"\ntitle = \"t\"\ndescription = \"d\"\n[params]\n{params}"
            ),
        )
        .unwrap()
    }

    fn error(params: &str) -> (String, String) {
        match build(spec(params)) {
            Err(e) => e,
            Ok(_) => panic!("`{params}` built"),
        }
    }

    #[test]
    fn params_errors_name_the_key() {
        let (field, reason) = error("window = 15\nfactor = 4.0\nmin_value = 300");
        assert_eq!(field, "params.window");
        assert!(reason.contains("invalid type: integer `15`"), "{reason}");
        let (field, _) = error("window = \"15m\"\nfactor = \"four\"\nmin_value = 300");
        assert_eq!(field, "params.factor");
        let (field, reason) = error("window = \"15m\"\nmin_value = 300");
        assert_eq!(
            (field.as_str(), reason.as_str()),
            ("params.factor", "missing field `factor`")
        );
        let (field, _) = error("window = \"15m\"\nfactor = 4.0\nmin_value = 300\nthreshhold = 3");
        assert_eq!(field, "params.threshhold");
        let (field, _) = error("window = \"15m\"\nfactor = 4.0\nmin_value = [1, 2]");
        assert_eq!(field, "params.min_value");
        assert!(build(spec("window = \"15m\"\nfactor = 4.0\nmin_value = 300")).is_ok());
    }

    /// The names a kind's sources pass to `render` (the `("name", …)` pairs of its `vars`).
    fn rendered(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = source;
        while let Some(i) = rest.find("let vars = [") {
            let block = &rest[i..];
            let end = block.find("];").unwrap_or(block.len());
            let mut open_paren = false;
            for line in block[..end].lines() {
                let l = line.trim();
                // `("name", value)` on one line, or rustfmt's `(` then `"name",`.
                let name = l
                    .strip_prefix("(\"")
                    .or_else(|| {
                        if open_paren {
                            l.strip_prefix('"')
                        } else {
                            None
                        }
                    })
                    .and_then(|l| l.split('"').next());
                if let Some(name) = name {
                    out.push(name.to_string());
                }
                open_paren = l == "(";
            }
            rest = &block[end..];
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_placeholder_table_is_what_each_kind_renders() {
        let sources = [
            ("rate-baseline", include_str!("rate_baseline.rs")),
            ("new-value", include_str!("new_value.rs")),
            ("resource-readers", include_str!("resource_readers.rs")),
            ("rule", include_str!("rule.rs")),
            ("window-threshold", include_str!("window_threshold.rs")),
            ("sequence", include_str!("sequence.rs")),
            ("geo-velocity", include_str!("geo_velocity.rs")),
            ("log-gap", include_str!("log_gap.rs")),
            ("finding-chain", include_str!("finding_chain.rs")),
        ];
        for kind in KINDS {
            let (_, source) = sources
                .iter()
                .find(|(k, _)| k == kind)
                .unwrap_or_else(|| panic!("kind `{kind}`: add its source to this test"));
            let mut table: Vec<String> = placeholders(kind).iter().map(|s| s.to_string()).collect();
            table.sort();
            assert_eq!(
                table,
                rendered(source),
                "kind `{kind}`: fix placeholders() in kinds/mod.rs"
            );
            for common in COMMON {
                assert!(
                    table.iter().any(|p| p == common),
                    "kind `{kind}` lacks {{{common}}}"
                );
            }
        }
        assert!(placeholders("no-such-kind").is_empty());
    }
}
