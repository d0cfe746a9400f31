//! The HTML investigation report of `trailhound replay --report FILE`: one self-contained
//! page (inline CSS and SVG, no script, a Content-Security-Policy that forbids every load)
//! with the run summary, a timeline of findings per principal, and one section per finding:
//! description, ATT&CK / ATLAS ids, the observed series of rate findings against their
//! baseline and threshold, the chain of attack sequences, and the evidence as tables.
//!
//! Only findings and counters go in: findings never hold prompt or completion text, and no
//! record text is added. Every string from the logs is HTML-escaped.

mod evidence;
pub mod series;
mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;
use trailhound_core::alert::Finding;
use trailhound_core::detect::Engine;
use trailhound_core::events::Stats;
use trailhound_core::geo::Geo;

pub use evidence::esc;
use evidence::{Evidence, thousands};
pub use series::Recorder;

/// How far around a rate finding its series is drawn.
const AROUND: i64 = 24 * 3600;

/// Everything the report is made from.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    pub stats: &'a Stats,
    pub engine: &'a Engine,
    pub geo: &'a Geo,
    pub series: &'a Recorder,
}

/// The whole page.
pub fn render(r: &Report<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>trailhound investigation report</title><style>{CSS}</style></head><body>\
         <header><h1>trailhound investigation report</h1><p class=\"sub\">trailhound {version} · {n} finding{s}</p></header><main>",
        version = env!("CARGO_PKG_VERSION"),
        n = r.findings.len(),
        s = if r.findings.len() == 1 { "" } else { "s" },
    );
    summary(&mut out, r);
    let _ = write!(
        out,
        "<section class=\"timeline\"><h2>Findings per principal</h2>{}</section>",
        svg::timeline(r.findings)
    );
    index(&mut out, r.findings);
    for f in r.findings {
        finding(&mut out, r, f);
    }
    out.push_str("</main></body></html>\n");
    out
}

fn summary(out: &mut String, r: &Report<'_>) {
    let s = r.stats;
    let range = match (r.series.first_event, r.series.last_event) {
        (Some(a), Some(b)) => format!(
            "{} to {}",
            trailhound_core::time::format(a),
            trailhound_core::time::format(b)
        ),
        _ => "no events".into(),
    };
    let list = |m: &BTreeMap<&'static str, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{} {}", esc(k), thousands(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = write!(
        out,
        "<section class=\"summary\"><h2>Run summary</h2><div class=\"cols\"><table class=\"kv\"><tbody>\
         <tr><th scope=\"row\">objects read</th><td>{objects} ({by_kind})</td></tr>\
         <tr><th scope=\"row\">objects skipped</th><td>{skipped}</td></tr>\
         <tr><th scope=\"row\">objects failed</th><td>{failed}</td></tr>\
         <tr><th scope=\"row\">records</th><td>{records}</td></tr>\
         <tr><th scope=\"row\">bad records</th><td>{bad} ({bad_kinds})</td></tr>\
         <tr><th scope=\"row\">event time range</th><td>{range}</td></tr>\
         <tr><th scope=\"row\">findings</th><td>{findings}</td></tr></tbody></table>",
        objects = thousands(s.objects_read()),
        by_kind = list(&s.objects),
        skipped = list(&s.skipped),
        failed = list(&s.errors),
        records = thousands(s.records),
        bad = thousands(s.bad_total()),
        bad_kinds = list(&s.bad_records),
        findings = r.findings.len(),
    );
    let mut by_detector: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for f in r.findings {
        let e = by_detector.entry(&f.detector).or_default();
        e.0 += 1;
        e.1 = e.1.max(f.severity);
    }
    out.push_str("<table class=\"rows by-detector\"><thead><tr><th scope=\"col\">detector</th><th scope=\"col\">findings</th><th scope=\"col\">highest severity</th></tr></thead><tbody>");
    for (d, (n, sev)) in &by_detector {
        let label = trailhound_core::alert::severity_label(*sev);
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{n}</td><td><span class=\"sev sev-{}\">{label} {sev:.1}</span></td></tr>",
            esc(d),
            label.to_ascii_lowercase(),
        );
    }
    out.push_str("</tbody></table></div>");
    if r.series.dropped > 0 {
        let _ = write!(
            out,
            "<p class=\"note\">The observed series were capped: {} time buckets were not recorded, so some charts may be missing part of their series.</p>",
            thousands(r.series.dropped)
        );
    }
    out.push_str("</section>");
}

fn index(out: &mut String, findings: &[Finding]) {
    out.push_str("<section class=\"index\"><h2>Findings</h2><table class=\"rows\"><thead><tr><th scope=\"col\">severity</th><th scope=\"col\">first seen</th><th scope=\"col\">principal</th><th scope=\"col\">finding</th></tr></thead><tbody>");
    for f in findings {
        let _ = write!(
            out,
            "<tr><td><span class=\"sev sev-{cls}\">{label} {sev:.1}</span></td><td class=\"time\">{first}</td><td title=\"{pk}\">{name}</td><td><a href=\"#f-{id}\">{title}</a></td></tr>",
            cls = esc(&f.severity_label.to_ascii_lowercase()),
            label = esc(&f.severity_label),
            sev = f.severity,
            first = esc(&f.first_seen),
            pk = esc(&f.principal_key),
            name = esc(&trailhound_core::activity::principal_name(&f.principal_key)),
            id = esc(&f.id),
            title = esc(&f.title),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// A technique id linked to its catalogue page when it has a known shape.
fn technique(id: &str) -> String {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/')
    };
    let href = if let Some(rest) = id.strip_prefix("AML.") {
        ok(rest).then(|| format!("https://atlas.mitre.org/techniques/{id}"))
    } else if let Some((t, sub)) = id.split_once('.') {
        if sub.starts_with('A') {
            // The AWS threat technique catalog (T1496.A007).
            ok(id).then(|| {
                format!(
                    "https://aws-samples.github.io/threat-technique-catalog-for-aws/Techniques/{id}.html"
                )
            })
        } else {
            ok(id).then(|| format!("https://attack.mitre.org/techniques/{t}/{sub}/"))
        }
    } else {
        ok(id).then(|| format!("https://attack.mitre.org/techniques/{id}/"))
    };
    match href {
        Some(h) => format!(
            "<a class=\"technique\" href=\"{}\" rel=\"noreferrer\">{}</a>",
            esc(&h),
            esc(id)
        ),
        None => format!("<span class=\"technique\">{}</span>", esc(id)),
    }
}

fn finding(out: &mut String, r: &Report<'_>, f: &Finding) {
    let spec = r.engine.specs().find(|s| s.id == f.detector);
    let kind = spec.map_or("", |s| s.kind.as_str());
    let _ = write!(
        out,
        "<section class=\"finding\" data-id=\"{id}\" id=\"f-{id}\" data-detector=\"{det}\" data-kind=\"{kind}\">\
         <h3><span class=\"sev sev-{cls}\">{label} {sev:.1}</span> {title}</h3>\
         <table class=\"kv meta\"><tbody>\
         <tr><th scope=\"row\">finding id</th><td><code>{id}</code></td></tr>\
         <tr><th scope=\"row\">detector</th><td><code>{det}</code> ({kind})</td></tr>\
         <tr><th scope=\"row\">type</th><td><code>{ftype}</code></td></tr>\
         <tr><th scope=\"row\">principal</th><td><code>{principal}</code> ({ptype})</td></tr>\
         <tr><th scope=\"row\">principal key</th><td><code>{pk}</code></td></tr>\
         <tr><th scope=\"row\">account, region</th><td>{account}, {region}</td></tr>\
         <tr><th scope=\"row\">seen</th><td>{first} to {last}, {count} events</td></tr>\
         </tbody></table><p class=\"description\">{desc}</p>",
        id = esc(&f.id),
        det = esc(&f.detector),
        kind = esc(kind),
        cls = esc(&f.severity_label.to_ascii_lowercase()),
        label = esc(&f.severity_label),
        sev = f.severity,
        title = esc(&f.title),
        ftype = esc(&f.finding_type),
        principal = esc(&f.principal),
        ptype = esc(&f.principal_type),
        pk = esc(&f.principal_key),
        account = esc(&f.account),
        region = esc(&f.region),
        first = esc(&f.first_seen),
        last = esc(&f.last_seen),
        count = thousands(f.count),
        desc = esc(&f.description),
    );
    if !f.attack.is_empty() || !f.atlas.is_empty() {
        out.push_str("<p class=\"techniques\">");
        for (name, ids) in [("ATT&amp;CK", &f.attack), ("ATLAS", &f.atlas)] {
            if !ids.is_empty() {
                let links: Vec<String> = ids.iter().map(|i| technique(i)).collect();
                let _ = write!(out, "<span>{name}: {}</span> ", links.join(", "));
            }
        }
        out.push_str("</p>");
    }
    if kind == "rate-baseline" {
        chart(out, r, f);
    }
    chain(out, r.findings, f);
    let _ = write!(
        out,
        "<h4>Evidence</h4>{}",
        Evidence { geo: r.geo }.table(&f.evidence, &["chain"])
    );
    if let Some(spec) = spec {
        out.push_str("<details class=\"about\"><summary>About this detector</summary>");
        if let Some(fp) = &spec.false_positives {
            let _ = write!(out, "<p><strong>False positives:</strong> {}</p>", esc(fp));
        }
        if !spec.references.is_empty() {
            out.push_str("<ul class=\"references\">");
            for url in &spec.references {
                if url.starts_with("https://") || url.starts_with("http://") {
                    let _ = write!(
                        out,
                        "<li><a href=\"{u}\" rel=\"noreferrer\">{u}</a></li>",
                        u = esc(url)
                    );
                } else {
                    let _ = write!(out, "<li>{}</li>", esc(url));
                }
            }
            out.push_str("</ul>");
        }
        out.push_str("</details>");
    }
    if !f.sources.is_empty() {
        out.push_str("<details class=\"sources\"><summary>Log objects</summary><ul>");
        for s in &f.sources {
            let _ = write!(out, "<li><code>{}</code></li>", esc(&s.key));
        }
        out.push_str("</ul></details>");
    }
    out.push_str("</section>");
}

/// The observed series around a rate finding against its baseline band and threshold.
fn chart(out: &mut String, r: &Report<'_>, f: &Finding) {
    let ev = &f.evidence;
    let num = |v: Option<&Value>| v.and_then(Value::as_f64);
    let Some(layout) = r.series.layout(&f.detector) else {
        out.push_str("<p class=\"note\">No series was recorded for this detector.</p>");
        return;
    };
    let group = layout
        .group_key
        .and_then(|k| ev.get(k))
        .and_then(Value::as_str)
        .unwrap_or("");
    let first = trailhound_core::time::parse(&f.first_seen).unwrap_or(0);
    let last = trailhound_core::time::parse(&f.last_seen).unwrap_or(first);
    let (mut from, mut to) = (first - AROUND, last + AROUND);
    if let (Some(a), Some(b)) = (r.series.first_event, r.series.last_event) {
        from = from.max(a - layout.bucket);
        to = to.min(b + layout.bucket).max(from);
    }
    let points = r
        .series
        .window_sums(&f.detector, &f.principal_key, group, from, to)
        .unwrap_or_default();
    let baseline = ev.get("baseline");
    let seasonal = ev.get("seasonal");
    let marks = svg::Marks {
        first,
        last,
        threshold: num(ev.get("threshold")),
        observed: num(ev.get("observed")),
        band: num(baseline.and_then(|b| b.get("p50")))
            .zip(num(baseline.and_then(|b| b.get("p99"))))
            .filter(|(lo, hi)| hi >= lo),
        usual: num(seasonal.and_then(|s| s.get("usual_high"))).map(|u| {
            let slot = seasonal
                .and_then(|s| s.get("slot"))
                .and_then(Value::as_str)
                .unwrap_or("this hour of day");
            (u, slot.to_string())
        }),
        measure: ev
            .get("measure")
            .and_then(Value::as_str)
            .unwrap_or("value")
            .to_string(),
        window: trailhound_core::time::humanize(layout.window),
    };
    let step = trailhound_core::time::humanize(layout.bucket);
    let _ = write!(
        out,
        "<figure class=\"series\">{}<figcaption>{measure} in the sliding {window} window the detector compares, every {step}{group}, from {from} to {to} (log scale).</figcaption></figure>",
        svg::series_chart(&points, &marks),
        measure = esc(&marks.measure),
        window = esc(&marks.window),
        step = esc(&step),
        group = if group.is_empty() {
            String::new()
        } else {
            format!(" for <code>{}</code>", esc(group))
        },
        from = trailhound_core::time::format(from),
        to = trailhound_core::time::format(to),
    );
}

/// An attack sequence: evidence `chain`, an array of objects with `finding_id`, in order,
/// each linked to its member's section when the report has it.
fn chain(out: &mut String, findings: &[Finding], f: &Finding) {
    let Some(steps) = f.evidence.get("chain").and_then(Value::as_array) else {
        return;
    };
    out.push_str("<h4>Attack chain</h4><ol class=\"chain\">");
    for step in steps {
        let Some(obj) = step.as_object() else {
            continue;
        };
        let id = obj.get("finding_id").and_then(Value::as_str).unwrap_or("");
        let member = findings.iter().find(|m| m.id == id);
        let label = match member {
            Some(m) => format!("{}: {}", esc(&m.detector), esc(&m.title)),
            None => obj
                .get("detector")
                .and_then(Value::as_str)
                .map_or_else(|| esc(id), esc),
        };
        let extra: Vec<String> = obj
            .iter()
            // The member's link already names its detector.
            .filter(|(k, _)| {
                k.as_str() != "finding_id" && (member.is_none() || k.as_str() != "detector")
            })
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{} {}", esc(k), esc(&v))
            })
            .collect();
        out.push_str("<li>");
        if member.is_some() {
            let _ = write!(out, "<a href=\"#f-{}\">{label}</a>", esc(id));
        } else {
            let _ = write!(
                out,
                "{label} <span class=\"note\">(not in this report)</span>"
            );
        }
        if !extra.is_empty() {
            let _ = write!(out, " <span class=\"step\">{}</span>", extra.join("; "));
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
}

const CSS: &str = "\
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--bg:#f6f7f9;--low:#3b82c4;--medium:#d39a05;--high:#e0631d;--critical:#c0262d}\
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:var(--fg);background:var(--bg)}\
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}header .sub{margin:4px 0 0;color:#b9c1d0}\
main{padding:8px 28px 40px;max-width:1240px}h2{font-size:18px;margin:24px 0 8px}h3{font-size:16px;margin:0 0 10px}h4{font-size:14px;margin:14px 0 6px}\
section.summary,section.timeline,section.index,section.finding{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 18px;margin:14px 0}\
section.finding{border-left:5px solid var(--line)}\
table{border-collapse:collapse;margin:4px 0}th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0;border-bottom:1px solid #eef0f4}\
table.kv th{color:var(--muted);font-weight:600;white-space:nowrap;padding-right:16px}table.rows th{color:var(--muted);font-weight:600}\
code{font:12px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}ul.values{margin:0;padding-left:18px}\
.sev{display:inline-block;border-radius:4px;padding:1px 7px;color:#fff;font-weight:600;font-size:12px}\
.sev-low{background:var(--low)}.sev-medium{background:var(--medium)}.sev-high{background:var(--high)}.sev-critical{background:var(--critical)}\
.country{display:inline-block;font-size:11px;font-weight:600;background:#e8ecf3;border-radius:3px;padding:0 4px}\
.none,.note,.more,.unit,figcaption,.step{color:var(--muted)}.description{max-width:980px}.techniques span{margin-right:14px}\
a{color:#1f5fb8}figure{margin:10px 0}svg{display:block;max-width:100%;height:auto}\
svg text{font:11px system-ui,'DejaVu Sans',sans-serif;fill:var(--fg)}svg .tick,svg .legend{fill:var(--muted)}svg .principal{font-weight:600}\
svg .grid{stroke:#e6e9ef;stroke-width:1}svg .stripe{fill:#fff}svg .stripe.odd{fill:#f8f9fb}\
svg rect.sev-low{fill:var(--low)}svg rect.sev-medium{fill:var(--medium)}svg rect.sev-high{fill:var(--high)}svg rect.sev-critical{fill:var(--critical)}\
svg .span{fill:#fbe3d6;opacity:.7}svg .band{fill:#cfe3f7;opacity:.8}svg .usual{stroke:#2a7a3b;stroke-width:2;stroke-dasharray:2 3}\
svg .threshold{stroke:var(--critical);stroke-width:1.5;stroke-dasharray:6 4}svg .observed{fill:none;stroke:#1d2330;stroke-width:1.6}\
svg .peak{fill:var(--critical)}svg rect.key.span{fill:#fbe3d6}svg rect.key.band{fill:#cfe3f7}svg rect.key.usual{fill:#2a7a3b}\
svg rect.key.threshold{fill:var(--critical)}svg rect.key.observed{fill:#1d2330}svg rect.key.peak{fill:var(--critical)}\
ol.chain li{margin:3px 0}.cols{display:flex;flex-wrap:wrap;gap:8px 40px;align-items:flex-start}.cols>table.kv{max-width:660px}section.index td:nth-child(3){max-width:260px;overflow-wrap:anywhere}td.time,.sev{white-space:nowrap}details{margin-top:10px}summary{cursor:pointer;color:var(--muted)}";

#[cfg(test)]
mod tests;
