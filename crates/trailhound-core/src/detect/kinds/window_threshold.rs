//! `window-threshold`: a count, a sum or a number of distinct values over a sliding
//! event-time window, per principal (and group), against a fixed threshold. No learning
//! period: it fires from the first event, when the window's value reaches `threshold`.
//!
//! ```toml
//! kind = "window-threshold"
//! [params]
//! measure = "distinct"      # count | sum | distinct
//! field = "event-name"      # sum: tokens, input-tokens, output-tokens, bytes-out
//!                           # distinct: event-name, region, model, error-code, ip, country,
//!                           #           bucket, user-agent, access-key
//! window = "1h"             # whole minutes, at most 1d
//! threshold = 10            # fires when the window's value reaches this
//! group_by = "none"         # none, model, event-name, region, bucket, error-code, access-key
//! lateness = "1h"           # how late an event may arrive and still count
//! ```
//!
//! Counts and sums are kept per bucket (a minute, or wider for long windows so a series
//! holds at most 120 buckets) and summed over the window ending at each event's time; a
//! late event is also counted with the later events of the latest window that holds it. Distinct values are kept with the
//! time each was last seen and counted over the window ending at the newest event; the
//! least recently seen value goes when a series holds `max(threshold, 32)` values (at most
//! 256): the count is exact up to the threshold, which is all the decision needs.
//!
//! State caps (see `state::kinds`): 8 series (groups) per detector and principal, the least
//! recently written evicted; buckets older than window + lateness before the newest event
//! dropped; values cut to 128 bytes.
//!
//! Template placeholders: [`PLACEHOLDERS`].

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use super::rule::context_evidence;
use crate::activity::{Activity, Source, principal_name};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render, thousands};
use crate::state::kinds::{MAX_DISTINCT, MAX_SERIES, bucket_width, capped_entry};

/// Placeholders of `window-threshold` templates.
pub const PLACEHOLDERS: &[&str] = &[
    "principal_name",
    "account",
    "region",
    "event_name",
    "observed",
    "threshold",
    "window",
    "measure",
    "group",
    "values",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_measure")]
    measure: String,
    #[serde(default)]
    field: Option<String>,
    window: String,
    threshold: u64,
    #[serde(default = "default_group")]
    group_by: String,
    #[serde(default = "default_lateness")]
    lateness: String,
}

fn default_measure() -> String {
    "count".into()
}
fn default_group() -> String {
    "none".into()
}
fn default_lateness() -> String {
    "1h".into()
}

/// Activity fields a window can sum, count distinct values of, or group by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Tokens,
    InputTokens,
    OutputTokens,
    BytesOut,
    EventName,
    Region,
    Model,
    ErrorCode,
    Ip,
    Country,
    Bucket,
    UserAgent,
    AccessKey,
}

impl Field {
    fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "tokens" => Field::Tokens,
            "input-tokens" => Field::InputTokens,
            "output-tokens" => Field::OutputTokens,
            "bytes-out" => Field::BytesOut,
            "event-name" => Field::EventName,
            "region" => Field::Region,
            "model" => Field::Model,
            "error-code" => Field::ErrorCode,
            "ip" => Field::Ip,
            "country" => Field::Country,
            "bucket" => Field::Bucket,
            "user-agent" => Field::UserAgent,
            "access-key" => Field::AccessKey,
            _ => return None,
        })
    }

    fn is_sum(self) -> bool {
        matches!(
            self,
            Field::Tokens | Field::InputTokens | Field::OutputTokens | Field::BytesOut
        )
    }

    /// The log the field comes from, when only one of them has it.
    fn only_in(self) -> Option<Source> {
        match self {
            Field::Tokens | Field::InputTokens | Field::OutputTokens => Some(Source::Invocation),
            Field::BytesOut
            | Field::Ip
            | Field::Country
            | Field::Bucket
            | Field::UserAgent
            | Field::AccessKey => Some(Source::Cloudtrail),
            _ => None,
        }
    }

    fn sum(self, a: &Activity) -> u64 {
        match self {
            Field::Tokens => a.input_tokens.saturating_add(a.output_tokens),
            Field::InputTokens => a.input_tokens,
            Field::OutputTokens => a.output_tokens,
            Field::BytesOut => a.bytes_out,
            _ => 0,
        }
    }

    fn value<'a>(self, a: &'a Activity) -> Option<Cow<'a, str>> {
        let b = |s: &'a str| Some(Cow::Borrowed(s));
        match self {
            Field::EventName => b(&a.event_name),
            Field::Region => b(&a.region).filter(|r| !r.is_empty()),
            Field::Model => a.model_id.as_deref().and_then(b),
            Field::ErrorCode => a.error_code.as_deref().and_then(b),
            Field::Ip => a.source_ip.map(|ip| Cow::Owned(ip.to_string())),
            Field::Country => a
                .country
                .as_ref()
                .and_then(|c| b(crate::geo::country_str(c))),
            Field::Bucket => a.bucket.as_deref().and_then(b),
            Field::UserAgent => a.user_agent.as_deref().and_then(b),
            Field::AccessKey => a.access_key_id.as_deref().and_then(b),
            _ => None,
        }
    }

    /// Plural words for titles: `distinct {}`, `{} tokens`.
    fn words(self) -> &'static str {
        match self {
            Field::Tokens => "tokens",
            Field::InputTokens => "input tokens",
            Field::OutputTokens => "output tokens",
            Field::BytesOut => "bytes out",
            Field::EventName => "API calls",
            Field::Region => "regions",
            Field::Model => "models",
            Field::ErrorCode => "error codes",
            Field::Ip => "source addresses",
            Field::Country => "countries",
            Field::Bucket => "buckets",
            Field::UserAgent => "user agents",
            Field::AccessKey => "access keys",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Measure {
    Count,
    Sum(Field),
    Distinct(Field),
}

pub struct WindowThreshold {
    spec: Spec,
    measure: Measure,
    group: Option<Field>,
    window: i64,
    span: i64,
    width: i64,
    threshold: u64,
    /// Distinct values kept per series.
    cap: usize,
}

impl WindowThreshold {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        super::rule::check_templates(&spec, PLACEHOLDERS)?;
        let err = |f: &str, why: String| Err((f.to_string(), why));
        let field = match p.field.as_deref().map(|f| (f, Field::parse(f))) {
            Some((f, None)) => return err("params.field", format!("`{f}` is not a field")),
            Some((_, f)) => f,
            None => None,
        };
        let measure = match (p.measure.as_str(), field) {
            ("count", None) => Measure::Count,
            ("count", Some(_)) => return err("params.field", "count takes no field".into()),
            ("sum", Some(f)) if f.is_sum() => Measure::Sum(f),
            ("sum", _) => {
                return err(
                    "params.field",
                    "sum needs tokens, input-tokens, output-tokens or bytes-out".into(),
                );
            }
            ("distinct", Some(f)) if !f.is_sum() => Measure::Distinct(f),
            ("distinct", _) => {
                return err(
                    "params.field",
                    "distinct needs event-name, region, model, error-code, ip, country, bucket, user-agent or access-key".into(),
                );
            }
            (m, _) => {
                return err(
                    "params.measure",
                    format!("`{m}`: expected count, sum or distinct"),
                );
            }
        };
        let group = match p.group_by.as_str() {
            "none" => None,
            g => match Field::parse(g) {
                Some(f @ (Field::Model | Field::EventName | Field::Region | Field::Bucket))
                | Some(f @ (Field::ErrorCode | Field::AccessKey)) => Some(f),
                _ => {
                    return err(
                        "params.group_by",
                        format!(
                            "`{g}`: expected none, model, event-name, region, bucket, error-code or access-key"
                        ),
                    );
                }
            },
        };
        // A detector that can never see the data it needs is an error, not a silent one.
        let needs = [field, group].into_iter().flatten();
        for f in needs {
            if let Some(src) = f.only_in()
                && !spec.filter.can_see(src)
            {
                let log = match src {
                    Source::Cloudtrail => "CloudTrail",
                    Source::Invocation => "invocation-log",
                };
                return err(
                    "match.sources",
                    format!(
                        "this detector reads a field only {log} records have, and its sources leave them out"
                    ),
                );
            }
        }
        let window = super::duration("params.window", &p.window)?;
        if window % 60 != 0 || window > 86_400 {
            return err("params.window", "must be whole minutes, at most 1d".into());
        }
        let lateness = crate::time::parse_duration(&p.lateness)
            .filter(|l| (0..=86_400).contains(l))
            .ok_or_else(|| {
                (
                    "params.lateness".to_string(),
                    format!("`{}` is not a duration of at most 1d", p.lateness),
                )
            })?;
        if p.threshold == 0 {
            return err("params.threshold", "must be at least 1".into());
        }
        if matches!(measure, Measure::Distinct(_)) && p.threshold > MAX_DISTINCT as u64 {
            return err(
                "params.threshold",
                format!("distinct values are counted up to {MAX_DISTINCT}"),
            );
        }
        Ok(WindowThreshold {
            spec,
            measure,
            group,
            window,
            span: window + lateness,
            width: bucket_width(window, lateness),
            threshold: p.threshold,
            cap: (p.threshold as usize).clamp(32, MAX_DISTINCT),
        })
    }
}

impl Detector for WindowThreshold {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let group = match self.group {
            None => Cow::Borrowed(""),
            Some(f) => f.value(a).unwrap_or(Cow::Borrowed("-")),
        };
        let (t, w) = (a.time, self.width);
        let added = match self.measure {
            Measure::Count => 1,
            Measure::Sum(f) => f.sum(a),
            Measure::Distinct(f) => u64::from(f.value(a).is_some()),
        };
        if added == 0 {
            return;
        }
        let series = capped_entry(
            &mut ctx.principal.kinds.windows,
            &self.spec.id,
            &group,
            MAX_SERIES,
        );
        if !series.admit(t, self.span) {
            return;
        }
        let mut values = Vec::new();
        let (observed, start, end) = match self.measure {
            Measure::Count | Measure::Sum(_) => {
                series.add(t, added, w, self.span);
                // The window ending at the event, and for a late event also the latest
                // window that still holds it: the later events it joins count with it.
                let later = series.newest.min(t + self.window - w);
                let (own, last) = (
                    series.sum(t, self.window, w),
                    series.sum(later, self.window, w),
                );
                let end = if last > own { later } else { t };
                (own.max(last), series.start(end, self.window, w), end)
            }
            Measure::Distinct(f) => {
                let v = f.value(a).expect("checked above");
                series.see(&v, t, self.cap);
                // Values keep their last-seen time, so only the window ending at the newest
                // event can be counted: a late event is judged in it when it falls inside
                // (and the finding is that window's), else not at all.
                let end = series.newest.max(t);
                if t <= end - self.window {
                    return;
                }
                let d = series.distinct(self.window);
                let start = d.iter().map(|(_, t)| *t).min().unwrap_or(t);
                values = d.iter().map(|(v, _)| v.to_string()).collect();
                (d.len() as u64, start, end)
            }
        };
        if observed < self.threshold {
            return;
        }
        let initial = if matches!(self.measure, Measure::Count) {
            observed
        } else {
            1
        };
        let Some(open) =
            ctx.alerts
                .raise_ending(&self.spec, ctx.principal, a, &group, start, end, initial)
        else {
            return;
        };
        if end > open.last {
            open.last = end;
            open.finding.last_seen = crate::time::format(end);
        }
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        let peak = ev
            .get("observed")
            .and_then(|o| o.as_u64())
            .unwrap_or(0)
            .max(observed);
        let (measure, words) = match self.measure {
            Measure::Count => ("count", "calls".to_string()),
            Measure::Sum(f) => ("sum", f.words().to_string()),
            Measure::Distinct(f) => ("distinct", format!("distinct {}", f.words())),
        };
        let window = crate::time::humanize(self.window);
        ev.insert("measure".into(), json!(measure));
        ev.insert("what".into(), json!(words));
        ev.insert("observed".into(), json!(peak));
        ev.insert("threshold".into(), json!(self.threshold));
        ev.insert("window".into(), json!(window));
        if self.group.is_some() {
            ev.insert("group".into(), json!(group));
        }
        for v in values.iter().take(20) {
            push_unique(ev, "values", v, 20);
        }
        context_evidence(ev, a);
        let listed: Vec<&str> = ev
            .get("values")
            .and_then(|v| v.as_array())
            .map(|v| v.iter().filter_map(|x| x.as_str()).take(10).collect())
            .unwrap_or_default();
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("account", f.account.clone()),
            ("region", a.region.to_string()),
            ("event_name", a.event_name.to_string()),
            ("observed", thousands(peak)),
            ("threshold", thousands(self.threshold)),
            ("window", window),
            ("measure", words),
            ("group", group.to_string()),
            ("values", listed.join(", ")),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
