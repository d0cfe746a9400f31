//! `rate-baseline`: a count or sum over a sliding event-time window, per principal (and
//! group), compared with the principal's own baseline of window totals.
//!
//! Fires when `observed > max(min_value, factor × baseline percentile)`, once the principal
//! is past its learning period. Windows that fired stay out of the baseline.
//!
//! Template placeholders: `{principal_name}`, `{event_name}`, `{group}`, `{observed}`,
//! `{window}`, `{ratio}`, `{comparison}` (`44x its usual peak`, or a note when the series has
//! no history), `{baseline}`, `{threshold}`, `{percentile}`.

use serde::Deserialize;
use serde_json::json;

use crate::activity::{Activity, principal_name};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render, thousands};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// `none`, `model`, `event-name`, `bucket`: one series per principal and this value.
    #[serde(default = "default_group")]
    group_by: String,
    /// `count`, `tokens` (input + output), `input-tokens`, `output-tokens`, `bytes-out`.
    #[serde(default = "default_measure")]
    measure: String,
    /// Sliding window length, e.g. `15m`.
    window: String,
    /// How late events may arrive before their window is folded into the baseline.
    #[serde(default = "default_lateness")]
    lateness: String,
    /// Baseline percentile the observation is compared with.
    #[serde(default = "default_percentile")]
    percentile: f64,
    /// Multiple of the baseline percentile that counts as a spike.
    factor: f64,
    /// Absolute floor: never fire at or below this value.
    min_value: u64,
}

fn default_group() -> String {
    "none".into()
}
fn default_measure() -> String {
    "count".into()
}
fn default_lateness() -> String {
    "2h".into()
}
fn default_percentile() -> f64 {
    99.0
}

#[derive(Clone, Copy)]
enum Group {
    None,
    Model,
    EventName,
    Bucket,
}

#[derive(Clone, Copy)]
enum Measure {
    Count,
    Tokens,
    InputTokens,
    OutputTokens,
    BytesOut,
}

pub struct RateBaseline {
    spec: Spec,
    group: Group,
    measure: Measure,
    window_min: i64,
    lateness_min: i64,
    percentile: f64,
    factor: f64,
    min_value: u64,
}

impl RateBaseline {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let group = match p.group_by.as_str() {
            "none" => Group::None,
            "model" => Group::Model,
            "event-name" => Group::EventName,
            "bucket" => Group::Bucket,
            g => {
                return Err((
                    "params.group_by".into(),
                    format!("`{g}`: expected none, model, event-name or bucket"),
                ));
            }
        };
        let measure = match p.measure.as_str() {
            "count" => Measure::Count,
            "tokens" => Measure::Tokens,
            "input-tokens" => Measure::InputTokens,
            "output-tokens" => Measure::OutputTokens,
            "bytes-out" => Measure::BytesOut,
            m => {
                return Err((
                    "params.measure".into(),
                    format!(
                        "`{m}`: expected count, tokens, input-tokens, output-tokens or bytes-out"
                    ),
                ));
            }
        };
        let window = super::duration("params.window", &p.window)?;
        if window % 60 != 0 || window > 86_400 {
            return Err((
                "params.window".into(),
                "must be whole minutes, at most 1d".into(),
            ));
        }
        let lateness = super::duration("params.lateness", &p.lateness)?;
        if !(0.0..=100.0).contains(&p.percentile) {
            return Err((
                "params.percentile".into(),
                format!("{} is outside 0–100", p.percentile),
            ));
        }
        if p.factor < 1.0 {
            return Err((
                "params.factor".into(),
                format!("{} must be at least 1", p.factor),
            ));
        }
        Ok(RateBaseline {
            spec,
            group,
            measure,
            window_min: window / 60,
            lateness_min: lateness.div_euclid(60),
            percentile: p.percentile,
            factor: p.factor,
            min_value: p.min_value,
        })
    }

    fn group_value<'a>(&self, a: &'a Activity) -> &'a str {
        match self.group {
            Group::None => "",
            Group::Model => a.model_id.as_deref().unwrap_or("unknown-model"),
            Group::EventName => &a.event_name,
            Group::Bucket => a.bucket.as_deref().unwrap_or("unknown-bucket"),
        }
    }

    fn value(&self, a: &Activity) -> u64 {
        match self.measure {
            Measure::Count => 1,
            Measure::Tokens => a.input_tokens + a.output_tokens,
            Measure::InputTokens => a.input_tokens,
            Measure::OutputTokens => a.output_tokens,
            Measure::BytesOut => a.bytes_out,
        }
    }
}

impl Detector for RateBaseline {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let v = self.value(a);
        let group = self.group_value(a);
        let learned = ctx.principal.learned(a.time, ctx.learning);
        let series_key = format!("{}/{}", self.spec.id, group);
        let series = ctx.principal.rates.entry(series_key).or_default();
        series.add(a.time, v, self.window_min, self.lateness_min);
        if !learned || v == 0 {
            return;
        }
        let observed = series.sliding(a.time, self.window_min);
        let base = series.baseline.percentile(self.percentile);
        let threshold = self
            .min_value
            .max((self.factor * base as f64).ceil() as u64);
        if observed <= threshold {
            return;
        }
        series.flag(a.time, self.window_min);
        let start = series.sliding_start(a.time, self.window_min);
        let baseline = json!({
            "p50": series.baseline.percentile(50.0),
            "p90": series.baseline.percentile(90.0),
            "p99": series.baseline.percentile(99.0),
            "max": series.baseline.max(),
            "windows": series.baseline.len(),
        });
        let initial = if matches!(self.measure, Measure::Count) {
            observed
        } else {
            1
        };
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, group, start, initial)
        else {
            return;
        };
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        let peak = ev
            .get("observed")
            .and_then(|o| o.as_u64())
            .unwrap_or(0)
            .max(observed);
        ev.insert("observed".into(), json!(peak));
        ev.insert(
            "measure".into(),
            json!(match self.measure {
                Measure::Count => "calls",
                Measure::Tokens => "tokens",
                Measure::InputTokens => "input tokens",
                Measure::OutputTokens => "output tokens",
                Measure::BytesOut => "bytes out",
            }),
        );
        ev.insert(
            "window".into(),
            json!(crate::time::humanize(self.window_min * 60)),
        );
        ev.insert("threshold".into(), json!(threshold));
        ev.insert("baseline".into(), baseline);
        if !group.is_empty() {
            ev.insert(
                match self.group {
                    Group::Bucket => "bucket",
                    Group::EventName => "event_name",
                    _ => "model_id",
                }
                .into(),
                json!(group),
            );
        }
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
        let windows = ev["baseline"]["windows"].as_u64().unwrap_or(0);
        let usual = ev["baseline"]["p99"].as_u64().unwrap_or(0).max(1);
        let ratio = peak as f64 / usual as f64;
        // A series with no history (a model the principal never used) has no usual peak.
        let comparison = if windows == 0 {
            "with no earlier traffic to compare with".to_string()
        } else {
            format!("{ratio:.0}x its usual peak")
        };
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("event_name", a.event_name.to_string()),
            ("group", group.to_string()),
            ("observed", thousands(peak)),
            ("window", crate::time::humanize(self.window_min * 60)),
            ("ratio", format!("{ratio:.0}")),
            ("comparison", comparison),
            ("baseline", thousands(usual)),
            ("threshold", thousands(threshold)),
            ("percentile", format!("{}", self.percentile)),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        ev.insert("ratio".into(), json!((ratio * 10.0).round() / 10.0));
    }
}
