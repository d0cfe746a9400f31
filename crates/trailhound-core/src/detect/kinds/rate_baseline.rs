//! `rate-baseline`: a count or sum over a sliding event-time window, per principal (and
//! group), compared with the principal's own *seasonal* baseline: the totals of the same
//! hour of day (UTC), weekdays and weekends apart (see `state::seasonal`).
//!
//! The threshold for a window ending at `t` is the largest of
//! - `min_value` (a relative floor: a quiet principal does not fire on a handful of calls),
//! - `factor × usual high`, the usual high being the hour slot's mean + 3 standard
//!   deviations scaled to the window (the all-hours busiest slot while the hour has fewer
//!   than 3 days of history),
//! - `expected + 5·√expected + 5`, a Poisson-style significance bound on the slot's mean,
//!   so a burst must also be improbable as noise.
//!
//! Learning ends on evidence (5 active days) or age (the learning period), whichever comes
//! first. While a principal learns, or when a series has no history at all (a model it never
//! used), only `learning_floor` applies: a brand-new key that makes 100,000 calls on day 1 is
//! an alert. Windows that fired never train the baseline. A principal keeps at most
//! [`MAX_SERIES`] series; the one idle longest is evicted first.
//!
//! Template placeholders: `{principal_name}`, `{event_name}`, `{group}`, `{observed}`,
//! `{window}`, `{ratio}`, `{comparison}` (`44x its usual peak`, or a note when the series has
//! no history), `{baseline}`, `{threshold}`, `{percentile}`, `{cost_usd}` and
//! `{baseline_cost_usd}` (`$12.34`, or `an unknown amount` when the model has no price).
//!
//! Cost (`crate::prices`, `config/prices.toml`): with `measure = "cost"` the series sums each
//! call's estimated cost in micro-dollars (1,000,000 = $1: `min_value`, `learning_floor`
//! and the threshold are in micro-dollars), exact per call (input, output, cache-read and
//! cache-write tokens at the model's prices). With a token measure the evidence estimates the
//! window's and the baseline's cost at the price mix of the call that raised the finding
//! (its USD per token times the window's tokens): `cost_usd`, `baseline_cost_usd`,
//! `cost_basis`; a model without a price gives `cost_note` instead.

use serde::Deserialize;
use serde_json::json;

use crate::activity::{Activity, principal_name};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, render, thousands};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// `none`, `model`, `event-name`, `bucket`: one series per principal and this value.
    #[serde(default = "default_group")]
    group_by: String,
    /// `count`, `tokens` (input + output), `input-tokens`, `output-tokens`, `bytes-out`,
    /// `cost` (micro-dollars).
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
    /// Relative floor: never fire at or below this value once learned.
    min_value: u64,
    /// While the principal learns, or for a series with no history: fire above this value
    /// (absent: never fire then).
    #[serde(default)]
    learning_floor: Option<u64>,
}

/// Rate series kept per entity (all rate detectors together); the idlest is evicted.
pub const MAX_SERIES: usize = 32;

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
    /// Micro-dollars.
    Cost,
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
    learning_floor: Option<u64>,
}

/// What a window was compared with.
enum Basis {
    /// The principal is still learning, or the series has no history: the learning floor.
    Floor { learning: bool },
    /// The hour-of-day profile over the window (or the busiest hour, `all_hours`).
    Profile(crate::state::seasonal::Expectation),
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
            "cost" => Measure::Cost,
            m => {
                return Err((
                    "params.measure".into(),
                    format!(
                        "`{m}`: expected count, tokens, input-tokens, output-tokens, bytes-out or cost"
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
            learning_floor: p.learning_floor,
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
            Measure::Tokens => a.input_tokens.saturating_add(a.output_tokens),
            Measure::InputTokens => a.input_tokens,
            Measure::OutputTokens => a.output_tokens,
            Measure::BytesOut => a.bytes_out,
            Measure::Cost => call_cost(a).map(|c| (c * 1e6).round() as u64).unwrap_or(0),
        }
    }

    /// Estimated USD of `peak` and `usual` (in this detector's measure) at the price mix of
    /// `a`, with the basis; `None` when there is no price for the call's model or the
    /// measure is not tokens or cost.
    fn costs(&self, a: &Activity, peak: u64, usual: u64) -> Option<(f64, f64, &'static str)> {
        match self.measure {
            Measure::Cost => Some((peak as f64 / 1e6, usual as f64 / 1e6, "per-call prices")),
            Measure::Tokens | Measure::InputTokens | Measure::OutputTokens => {
                let tokens = self.value(a);
                let per_token = call_cost(a)? / tokens.max(1) as f64;
                Some((
                    peak as f64 * per_token,
                    usual as f64 * per_token,
                    "the price mix of the latest call",
                ))
            }
            Measure::Count | Measure::BytesOut => None,
        }
    }
}

/// Estimated USD of one call (`None`: no model, or no price for it).
fn call_cost(a: &Activity) -> Option<f64> {
    let model = a.model_id.as_deref()?;
    crate::prices::global().cost(model, crate::prices::Tokens::of(a))
}

fn usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${}", thousands(v.round() as u64))
    } else {
        format!("${v:.2}")
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
        let series_key = crate::concat::concat(&[&self.spec.id, "/", group]);
        let rates = &mut ctx.principal.rates;
        if !rates.contains_key(&series_key) && rates.len() >= MAX_SERIES {
            let idlest = rates
                .iter()
                .min_by_key(|(k, s)| (s.watermark, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(k) = idlest {
                rates.remove(&k);
            }
        }
        let series = rates.entry(series_key).or_default();
        series.add(a.time, v, self.window_min, self.lateness_min);
        if v == 0 {
            return;
        }
        let observed = series.sliding(a.time, self.window_min);
        let profile = if learned {
            series.seasonal.expect(a.time, self.window_min)
        } else {
            None
        };
        let (threshold, basis) = match profile {
            Some(e) => {
                let significant = e.expected + 5.0 * e.expected.sqrt() + 5.0;
                let t = (self.min_value as f64)
                    .max(self.factor * e.high)
                    .max(significant)
                    .ceil() as u64;
                (t, Basis::Profile(e))
            }
            None => match self.learning_floor {
                Some(f) => (f, Basis::Floor { learning: !learned }),
                None => return,
            },
        };
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
        super::caller_evidence(ev, a);
        // The numbers and the text describe the peak window of the episode.
        let previous = ev.get("observed").and_then(|o| o.as_u64()).unwrap_or(0);
        if observed < previous {
            return;
        }
        let peak = observed;
        ev.insert("observed".into(), json!(peak));
        ev.insert(
            "measure".into(),
            json!(match self.measure {
                Measure::Count => "calls",
                Measure::Tokens => "tokens",
                Measure::InputTokens => "input tokens",
                Measure::OutputTokens => "output tokens",
                Measure::BytesOut => "bytes out",
                Measure::Cost => "micro-USD",
            }),
        );
        ev.insert(
            "window".into(),
            json!(crate::time::humanize(self.window_min * 60)),
        );
        ev.insert("threshold".into(), json!(threshold));
        ev.insert("baseline".into(), baseline);
        let (usual, comparison_basis) = match &basis {
            Basis::Profile(e) => {
                let usual = e.high.ceil().max(1.0) as u64;
                // The window's span of the day: `weekday 03:06-04:06 UTC`.
                let end = (a.time.div_euclid(60) + 1) * 60;
                let start = end - self.window_min * 60;
                let slot = crate::state::seasonal::slot_of(start.div_euclid(3600));
                let hm = |t: i64| {
                    let m = t.rem_euclid(86_400) / 60;
                    format!("{:02}:{:02}", m / 60, m % 60)
                };
                let label = format!(
                    "{} {}-{} UTC",
                    if slot >= 24 { "weekend" } else { "weekday" },
                    hm(start),
                    hm(end)
                );
                ev.insert(
                    "seasonal".into(),
                    json!({
                        "basis": if e.all_hours { "all-hours" } else { "hour-of-day" },
                        "slot": label,
                        "expected": (e.expected * 10.0).round() / 10.0,
                        "usual_high": usual,
                        "days": e.days,
                    }),
                );
                let text = if e.all_hours {
                    "its usual peak".to_string()
                } else {
                    format!("its usual for {label}")
                };
                (usual, Some(text))
            }
            Basis::Floor { learning } => {
                ev.insert(
                    "seasonal".into(),
                    json!({
                        "basis": if *learning { "learning-floor" } else { "no-history" },
                        "learning_floor": threshold,
                    }),
                );
                (0, None)
            }
        };
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
        let ratio = peak as f64 / usual.max(1) as f64;
        let comparison = match (&comparison_basis, &basis) {
            (Some(text), _) if ratio >= 1000.0 => format!("over 1,000x {text}"),
            (Some(text), _) => format!("{ratio:.0}x {text}"),
            (None, Basis::Floor { learning: true }) => {
                "from a principal too new to have a baseline".to_string()
            }
            (None, _) => "with no earlier traffic to compare with".to_string(),
        };
        let costs = self.costs(a, peak, usual);
        match costs {
            Some((cost, base, basis)) => {
                ev.insert("cost_usd".into(), json!((cost * 100.0).round() / 100.0));
                ev.insert(
                    "baseline_cost_usd".into(),
                    json!((base * 100.0).round() / 100.0),
                );
                ev.insert("cost_basis".into(), json!(basis));
                ev.remove("cost_note");
            }
            None if matches!(self.measure, Measure::Count | Measure::BytesOut) => {}
            None => {
                ev.insert(
                    "cost_note".into(),
                    json!(format!(
                        "no price for model {} in the price table: cost omitted",
                        a.model_id.as_deref().unwrap_or("(none)")
                    )),
                );
            }
        }
        let unknown = || "an unknown amount".to_string();
        let vars = [
            ("cost_usd", costs.map(|c| usd(c.0)).unwrap_or_else(unknown)),
            (
                "baseline_cost_usd",
                costs.map(|c| usd(c.1)).unwrap_or_else(unknown),
            ),
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
        f.subject = render(self.spec.subject_template(), &vars);
        if usual > 0 {
            ev.insert("ratio".into(), json!((ratio * 10.0).round() / 10.0));
        }
    }
}
