//! `new-value`: a value never seen for the principal during its baseline (a country, an ASN,
//! a user-agent family, a region, a model).
//!
//! Values are learned for the principal's whole life; once it is past its learning period a
//! value not in its set raises a finding. With `learn_after_alert = true` the value then
//! joins the set (travel becomes normal once reported); with `false` it keeps alerting each
//! cooldown until allow-listed.
//!
//! Template placeholders: `{principal_name}`, `{field}`, `{value}`, `{known}`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

use crate::activity::{Activity, principal_name};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render};
use crate::state::SeenSet;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// `country`, `asn`, `region`, `model`, `user-agent-family`.
    field: String,
    /// Whether a reported value joins the principal's set.
    #[serde(default = "yes")]
    learn_after_alert: bool,
    /// Values never reported (e.g. the countries your company works from).
    #[serde(default)]
    ignore_values: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy)]
enum Field {
    Country,
    Asn,
    Region,
    Model,
    UserAgentFamily,
}

pub struct NewValue {
    spec: Spec,
    field: Field,
    learn_after_alert: bool,
    ignore: Vec<String>,
}

impl NewValue {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let field = match p.field.as_str() {
            "country" => Field::Country,
            "asn" => Field::Asn,
            "region" => Field::Region,
            "model" => Field::Model,
            "user-agent-family" => Field::UserAgentFamily,
            f => {
                return Err((
                    "params.field".into(),
                    format!("`{f}`: expected country, asn, region, model or user-agent-family"),
                ));
            }
        };
        Ok(NewValue {
            spec,
            field,
            learn_after_alert: p.learn_after_alert,
            ignore: p.ignore_values,
        })
    }

    /// The value, borrowed from the activity where it can be (no allocation per event).
    fn value<'a>(&self, a: &'a Activity) -> Option<Cow<'a, str>> {
        match self.field {
            Field::Country => a
                .country
                .as_ref()
                .map(|c| Cow::Borrowed(crate::geo::country_str(c))),
            Field::Asn => a.asn.map(|n| Cow::Owned(format!("AS{n}"))),
            Field::Region => Some(Cow::Borrowed(&*a.region)).filter(|r| !r.is_empty()),
            Field::Model => a.model_id.as_deref().map(Cow::Borrowed),
            Field::UserAgentFamily => a.user_agent.as_deref().map(|ua| Cow::Owned(ua_family(ua))),
        }
    }

    fn field_name(&self) -> &'static str {
        match self.field {
            Field::Country => "country",
            Field::Asn => "asn",
            Field::Region => "region",
            Field::Model => "model",
            Field::UserAgentFamily => "user agent",
        }
    }
}

/// The product part of a user agent: `aws-cli/2.13.5 Python/3.11` → `aws-cli`.
fn ua_family(ua: &str) -> String {
    let first = ua.split([' ', '/']).next().unwrap_or(ua);
    first.chars().take(40).collect()
}

impl Detector for NewValue {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let Some(value) = self.value(a) else { return };
        let learned = ctx.principal.learned(a.time, ctx.learning);
        let has_open = !ctx.principal.open.is_empty();
        let set = SeenSet::named(&mut ctx.principal.seen, &self.spec.id);
        if set.contains(&value) {
            set.refresh(&value, a.time);
            // A value reported and learned still updates its finding within its episode.
            let open = has_open && {
                let episode = crate::detect::engine::episode_of(a.time, self.spec.cooldown_secs());
                let slot = crate::detect::engine::episode_slot(&self.spec.id, &value, episode);
                ctx.principal.open.contains_key(&slot)
            };
            if !open {
                return;
            }
        } else if !learned || set.is_empty() || self.ignore.iter().any(|v| *v == *value) {
            set.insert(&value, a.time);
            return;
        }
        let known: Vec<String> = set
            .values
            .keys()
            .filter(|k| **k != value)
            .cloned()
            .collect();
        if self.learn_after_alert {
            set.insert(&value, a.time);
        }
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, &value, a.time, 1)
        else {
            return;
        };
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        ev.insert("field".into(), json!(self.field_name()));
        ev.insert("value".into(), json!(value));
        ev.entry("baseline_values").or_insert_with(|| json!(known));
        if let Some(ip) = a.source_ip {
            push_unique(ev, "source_ips", &ip.to_string(), 10);
        }
        if let Some(c) = &a.country {
            push_unique(ev, "countries", crate::geo::country_str(c), 10);
        }
        if let Some(k) = &a.access_key_id {
            push_unique(ev, "access_key_ids", k, 5);
        }
        if let Some(ua) = &a.user_agent {
            push_unique(ev, "user_agents", ua, 5);
        }
        push_unique(ev, "event_names", &a.event_name, 20);
        if let Some(r) = &a.request_id {
            push_unique(ev, "sample_request_ids", r, 5);
        }
        let known_list = ev["baseline_values"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("field", self.field_name().to_string()),
            ("value", value.to_string()),
            ("known", known_list),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
