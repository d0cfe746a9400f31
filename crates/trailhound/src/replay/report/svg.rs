//! Inline SVG charts, drawn in Rust: the timeline of findings per principal and the observed
//! series of a rate finding against its baseline band and threshold.

use std::collections::BTreeMap;
use std::fmt::Write;

use trailhound_core::alert::Finding;
use trailhound_core::time;

use super::evidence::{esc, thousands};

/// `2026-10-09T03:00:00Z` → `10-09 03:00`.
fn short_time(t: i64) -> String {
    let s = time::format(t);
    s.get(5..16).unwrap_or(&s).replace('T', " ")
}

/// A step for time ticks that gives about `n` ticks over `span` seconds.
fn time_step(span: i64, n: i64) -> i64 {
    let steps = [
        900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
    ];
    let want = (span / n.max(1)).max(1);
    steps
        .into_iter()
        .find(|s| *s >= want)
        .unwrap_or(604800 * ((want + 604799) / 604800))
}

/// `1500` → `1.5k`, `10600000` → `10.6M`.
fn compact(v: f64) -> String {
    let (d, s) = match v {
        v if v >= 1e12 => (1e12, "T"),
        v if v >= 1e9 => (1e9, "G"),
        v if v >= 1e6 => (1e6, "M"),
        v if v >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let x = v / d;
    if (x - x.round()).abs() < 0.05 {
        format!("{:.0}{s}", x.round())
    } else {
        format!("{x:.1}{s}")
    }
}

fn sev_class(label: &str) -> String {
    format!("sev-{}", label.to_ascii_lowercase())
}

/// The timeline: one row per principal key, one bar per finding from first to last seen,
/// linking to the finding's section.
pub fn timeline(findings: &[Finding]) -> String {
    let spans: Vec<(i64, i64)> = findings
        .iter()
        .map(|f| {
            let a = time::parse(&f.first_seen).unwrap_or(0);
            (a, time::parse(&f.last_seen).unwrap_or(a).max(a))
        })
        .collect();
    let (Some(lo), Some(hi)) = (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) else {
        return "<p class=\"none\">No findings.</p>".into();
    };
    let pad = ((hi - lo) / 20).max(1800);
    let (t0, t1) = (lo - pad, hi + pad);
    let (left, width, lane_h) = (280.0, 1180.0, 16.0);
    let plot_w = width - left - 10.0;
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * plot_w;
    // Rows per principal, in order of their first finding; bars packed into lanes so that
    // overlapping findings of one principal stay visible.
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        if !rows.contains_key(f.principal_key.as_str()) {
            order.push(&f.principal_key);
        }
        rows.entry(&f.principal_key).or_default().push(i);
    }
    let mut body = String::new();
    let mut y = 30.0;
    for (r, pk) in order.iter().enumerate() {
        let mut lane_ends: Vec<f64> = Vec::new();
        let mut bars = String::new();
        for &i in &rows[pk] {
            let (a, b) = spans[i];
            let (xa, xb) = (x(a), x(b).max(x(a) + 6.0));
            let lane = match lane_ends.iter().position(|end| *end + 2.0 < xa) {
                Some(l) => l,
                None => {
                    lane_ends.push(0.0);
                    lane_ends.len() - 1
                }
            };
            lane_ends[lane] = xb;
            let f = &findings[i];
            let _ = write!(
                bars,
                "<a href=\"#f-{id}\"><rect class=\"bar {sev}\" x=\"{xa:.1}\" y=\"{yy:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"2\"><title>{det}: {title} ({from} to {to})</title></rect></a>",
                id = esc(&f.id),
                sev = sev_class(&f.severity_label),
                yy = y + 6.0 + lane as f64 * lane_h,
                w = xb - xa,
                h = lane_h - 3.0,
                det = esc(&f.detector),
                title = esc(&f.title),
                from = esc(&f.first_seen),
                to = esc(&f.last_seen),
            );
        }
        let row_h = lane_ends.len() as f64 * lane_h + 12.0;
        let name = trailhound_core::activity::principal_name(pk);
        let _ = write!(
            body,
            "<g class=\"row\"><rect class=\"{stripe}\" x=\"0\" y=\"{y:.1}\" width=\"{width}\" height=\"{row_h:.1}\"/><text class=\"principal\" x=\"8\" y=\"{ty:.1}\">{name}<title>{pk}</title></text>{bars}</g>",
            stripe = if r % 2 == 0 { "stripe" } else { "stripe odd" },
            ty = y + row_h / 2.0 + 4.0,
            name = esc(&name),
            pk = esc(pk),
        );
        y += row_h;
    }
    let height = y + 8.0;
    let mut ticks = String::new();
    let step = time_step(t1 - t0, 8);
    let mut t = (t0 + step - 1).div_euclid(step) * step;
    while t <= t1 {
        let _ = write!(
            ticks,
            "<line class=\"grid\" x1=\"{xt:.1}\" y1=\"24\" x2=\"{xt:.1}\" y2=\"{height:.1}\"/><text class=\"tick\" x=\"{xt:.1}\" y=\"16\" text-anchor=\"middle\">{label}</text>",
            xt = x(t),
            label = short_time(t),
        );
        t += step;
    }
    format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height:.0}\" width=\"{width}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Findings per principal over time\">{ticks}{body}</svg>"
    )
}

/// What a series chart draws besides the series itself.
pub struct Marks {
    /// The finding's span, event time.
    pub first: i64,
    pub last: i64,
    pub threshold: Option<f64>,
    pub observed: Option<f64>,
    /// The baseline band (p50 to p99 of past windows).
    pub band: Option<(f64, f64)>,
    /// The usual high of the peak window's hour-of-day slot, with the slot's label.
    pub usual: Option<(f64, String)>,
    /// What is counted (`calls`, `tokens`, `bytes out`) and over which window.
    pub measure: String,
    pub window: String,
}

/// The observed window sums (`(time, value)`, evenly stepped) against the finding's
/// threshold and baseline band, on a log scale so that a 1000x burst and its baseline both
/// stay readable.
pub fn series_chart(points: &[(i64, u64)], m: &Marks) -> String {
    let (w, h) = (1180.0, 280.0);
    let (left, right, top, bottom) = (64.0, 290.0, 14.0, 36.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let t0 = points.first().map_or(m.first, |p| p.0).min(m.first);
    let t1 = points
        .last()
        .map_or(m.last, |p| p.0)
        .max(m.last)
        .max(t0 + 1);
    let top_value = points
        .iter()
        .map(|p| p.1 as f64)
        .chain(m.threshold)
        .chain(m.observed)
        .chain(m.band.map(|b| b.1))
        .fold(1.0_f64, f64::max);
    let decades = (top_value * 1.5).log10().ceil().max(1.0);
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * pw;
    let y = |v: f64| top + ph - ((1.0 + v.max(0.0)).log10() / decades).min(1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"series-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Observed {measure} per {window} around the finding\">",
        measure = esc(&m.measure),
        window = esc(&m.window),
    );
    // Grid: one line per decade; time ticks.
    for d in 0..=decades as i64 {
        let v = 10f64.powi(d as i32);
        let yy = y(v - 1.0);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{x2}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            x2 = left + pw,
            tx = left - 6.0,
            ty = yy + 4.0,
            label = if d == 0 { "0".into() } else { compact(v) },
        );
    }
    let step = time_step(t1 - t0, 8);
    let mut t = (t0 + step - 1).div_euclid(step) * step;
    while t <= t1 {
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{xt:.1}\" y1=\"{top}\" x2=\"{xt:.1}\" y2=\"{yb}\"/><text class=\"tick\" x=\"{xt:.1}\" y=\"{ly}\" text-anchor=\"middle\">{label}</text>",
            xt = x(t),
            yb = top + ph,
            ly = h - bottom + 16.0,
            label = short_time(t),
        );
        t += step;
    }
    let mut legend: Vec<(String, String)> = Vec::new();
    // The finding's span.
    let _ = write!(
        s,
        "<rect class=\"span\" x=\"{xa:.1}\" y=\"{top}\" width=\"{sw:.1}\" height=\"{ph}\"/>",
        xa = x(m.first),
        sw = (x(m.last) - x(m.first)).max(2.0),
    );
    legend.push(("span".into(), "finding, first to last seen".into()));
    if let Some((lo, hi)) = m.band {
        let _ = write!(
            s,
            "<rect class=\"band\" x=\"{left}\" y=\"{yh:.1}\" width=\"{pw}\" height=\"{bh:.1}\"/>",
            yh = y(hi),
            bh = (y(lo) - y(hi)).max(1.0),
        );
        legend.push((
            "band".into(),
            format!("baseline p50–p99: {}–{}", compact(lo), compact(hi)),
        ));
    }
    if let Some((usual, slot)) = &m.usual {
        let _ = write!(
            s,
            "<line class=\"usual\" x1=\"{xa:.1}\" y1=\"{yy:.1}\" x2=\"{xb:.1}\" y2=\"{yy:.1}\"/>",
            xa = x(m.first - 3 * 3600).max(left),
            xb = x(m.last + 3 * 3600).min(left + pw),
            yy = y(*usual),
        );
        legend.push((
            "usual".into(),
            format!("usual high, {}: {}", esc(slot), compact(*usual)),
        ));
    }
    if let Some(th) = m.threshold {
        let _ = write!(
            s,
            "<line class=\"threshold\" x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{x2}\" y2=\"{yy:.1}\"/>",
            x2 = left + pw,
            yy = y(th),
        );
        legend.push(("threshold".into(), format!("threshold: {}", compact(th))));
    }
    if !points.is_empty() {
        let mut d = String::new();
        for (i, (t, v)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*t),
                y(*v as f64)
            );
        }
        let _ = write!(s, "<path class=\"observed\" d=\"{d}\"/>");
        legend.push((
            "observed".into(),
            format!("{} per {}", esc(&m.measure), esc(&m.window)),
        ));
    }
    if let Some(peak) = m.observed {
        let _ = write!(
            s,
            "<circle class=\"peak\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\"><title>peak {v}</title></circle>",
            cx = x(peak_time(points, peak).unwrap_or(m.first)),
            cy = y(peak),
            v = thousands(peak as u64),
        );
        legend.push(("peak".into(), format!("peak: {}", thousands(peak as u64))));
    }
    for (i, (class, text)) in legend.iter().enumerate() {
        let ly = top + 10.0 + i as f64 * 20.0;
        let lx = left + pw + 14.0;
        let _ = write!(
            s,
            "<rect class=\"key {class}\" x=\"{lx}\" y=\"{ky:.1}\" width=\"14\" height=\"10\"/><text class=\"legend\" x=\"{tx}\" y=\"{ly:.1}\">{text}</text>",
            ky = ly - 9.0,
            tx = lx + 20.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Where the recorded series comes closest to the finding's peak.
fn peak_time(points: &[(i64, u64)], peak: f64) -> Option<i64> {
    points
        .iter()
        .min_by(|a, b| {
            let da = (a.1 as f64 - peak).abs();
            let db = (b.1 as f64 - peak).abs();
            da.total_cmp(&db)
        })
        .map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_labels() {
        assert_eq!(
            short_time(time::parse("2026-10-09T03:00:00Z").unwrap()),
            "10-09 03:00"
        );
        assert_eq!(time_step(48 * 3600, 8), 21600);
        assert_eq!(time_step(3600, 8), 900);
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(10_604_910.0), "10.6M");
        assert_eq!(compact(100.0), "100");
    }

    #[test]
    fn the_chart_draws_every_mark_and_escapes_labels() {
        let points: Vec<(i64, u64)> = (0..8)
            .map(|i| (i * 900, if i == 5 { 2000 } else { 10 }))
            .collect();
        let marks = Marks {
            first: 4 * 900,
            last: 6 * 900,
            threshold: Some(100.0),
            observed: Some(2000.0),
            band: Some((15.0, 194.0)),
            usual: Some((19.0, "<slot>".into())),
            measure: "calls".into(),
            window: "1 hour".into(),
        };
        let svg = series_chart(&points, &marks);
        assert!(svg.starts_with("<svg class=\"series-chart\""));
        for class in ["span", "band", "usual", "threshold", "observed", "peak"] {
            assert!(
                svg.contains(&format!("class=\"{class}\"")),
                "{class}: {svg}"
            );
        }
        assert!(svg.contains("&lt;slot&gt;") && !svg.contains("<slot>"));
        // The peak dot sits on the recorded point closest to the peak.
        assert!(
            svg.contains(&format!("cx=\"{:.1}\"", 64.0 + 5.0 / 7.0 * 826.0)),
            "{svg}"
        );
    }
}
