//! `rule`: a finding on a single matching event, from the first event (no learning period).
//!
//! Every activity `[match]` lets through raises a finding, or updates the one open for its
//! dedup key: `dedup` is a template (default `{event_name}`), e.g.
//! `"{param:requestParameters.name}"` for one finding per trail; repeats within the cooldown
//! update it (count, last seen, evidence). Severity depends on the outcome: the file's
//! `severity` once any call of the finding succeeded, `severity_failed` (default: the same)
//! while all of them failed (a denied attempt is reconnaissance; a successful one is the
//! change itself).
//!
//! ```toml
//! kind = "rule"
//! [params]
//! dedup = "{param:requestParameters.name}"
//! severity_failed = 4.0
//! ```
//!
//! State: none of its own (the finding open in its cooldown, one per dedup key). Evidence
//! lists are capped: 10 values per list, 10 values per path, 5 request ids.
//!
//! A record holding a secret (`secret_found`) adds `{secret_kind}` (`aws-access-key-id`),
//! `{secret_side}` (`prompt`, `completion`, `prompt and completion`) and `{secret_masked}`
//! (`AKIA************MPLE`) to the placeholders, and `secrets` (kind, side, masked; up to
//! 10) to the evidence; `-` when the record has none.
//!
//! Template placeholders (title, description and `dedup`): [`PLACEHOLDERS`], and
//! `{param:<path>}`: the values at a request-parameter or response-element path (comma
//! separated, `-` when absent), which the detector then declares for extraction.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::activity::{Activity, principal_name};
use crate::detect::filter::key_kind;
use crate::detect::spec::{Spec, placeholders};
use crate::detect::{Ctx, Detector, push_unique, render, thousands};
use crate::finding::severity_label;
use crate::record::cloudtrail::{JsonPath, PathId};
use crate::record::content::split_kind;

/// Placeholders of `rule` templates (besides `{param:<path>}`).
pub const PLACEHOLDERS: &[&str] = &[
    "principal_name",
    "principal_key",
    "principal",
    "account",
    "region",
    "event_source",
    "event_name",
    "error_code",
    "model_id",
    "bucket",
    "source_ip",
    "country",
    "user_agent",
    "access_key_id",
    "access_key_kind",
    "secret_kind",
    "secret_side",
    "secret_masked",
    "outcome",
    "count",
    "ai_principal",
    "ai_why",
];

/// Characters of a rendered dedup key kept at most.
const MAX_DEDUP_LEN: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Findings are one per principal and rendered key.
    #[serde(default = "default_dedup")]
    dedup: String,
    /// Severity while every call of the finding failed.
    #[serde(default)]
    severity_failed: Option<f64>,
    /// Fire only for changes to AI principals (see `ai_target.rs`).
    #[serde(default)]
    ai_target: Option<super::ai_target::AiTargetParams>,
}

fn default_dedup() -> String {
    "{event_name}".into()
}

pub struct Rule {
    spec: Spec,
    dedup: String,
    severity_failed: Option<f64>,
    /// `param:<path>` placeholders used by the templates, with their path ids.
    params: Vec<(String, PathId)>,
    ai_target: Option<super::ai_target::AiTarget>,
}

impl Rule {
    pub fn new(mut spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        if let Some(s) = p.severity_failed
            && !(1.0..=10.0).contains(&s)
        {
            return Err((
                "params.severity_failed".into(),
                format!("{s} is outside 1.0–10.0"),
            ));
        }
        check_templates(&spec, PLACEHOLDERS)?;
        // The dedup key is rendered before the finding exists: no outcome or count yet.
        let per_event: Vec<&str> = PLACEHOLDERS
            .iter()
            .copied()
            .filter(|p| !matches!(*p, "outcome" | "count"))
            .collect();
        check(&per_event, &[("params.dedup", Some(&p.dedup))])?;
        let params = declare_params(&mut spec, &[("params.dedup", p.dedup.as_str())])?;
        let ai_target = match &p.ai_target {
            None => None,
            Some(t) => {
                let scope = spec.filter.event_names();
                let filter = &mut spec.filter;
                Some(super::ai_target::AiTarget::new(t, &mut |jp| {
                    filter.declare(jp, scope.clone())
                })?)
            }
        };
        Ok(Rule {
            spec,
            dedup: p.dedup,
            severity_failed: p.severity_failed,
            params,
            ai_target,
        })
    }
}

/// Finds the `{param:<path>}` placeholders of the spec's title, description and subject and
/// of `extra` templates, checks their paths and declares them on the spec's filter (needed on
/// the events the filter names). Returns `(placeholder name, path id)` pairs.
fn declare_params(
    spec: &mut Spec,
    extra: &[(&str, &str)],
) -> Result<Vec<(String, PathId)>, (String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let templates = [
        ("title", spec.title.as_str()),
        ("description", spec.description.as_str()),
        ("subject", spec.subject.as_deref().unwrap_or("")),
    ];
    for (field, t) in templates.iter().chain(extra) {
        let mut rest = *t;
        while let Some(i) = rest.find("{param:") {
            let after = &rest[i + 7..];
            let Some(j) = after.find('}') else { break };
            found.push((field.to_string(), after[..j].to_string()));
            rest = &after[j + 1..];
        }
    }
    let scope = spec.filter.event_names();
    let mut out: Vec<(String, PathId)> = Vec::new();
    for (field, path) in found {
        let jp = JsonPath::parse(&path).map_err(|e| (field, e))?;
        let key = format!("param:{path}");
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, jp.id()));
            spec.filter.declare(jp, scope.clone());
        }
    }
    Ok(out)
}

/// Checks that the title, description and subject of `spec` use only `known` placeholders
/// (and `{param:<path>}`, which is not a name).
pub(super) fn check_templates(spec: &Spec, known: &[&str]) -> Result<(), (String, String)> {
    check(
        known,
        &[
            ("title", Some(spec.title.as_str())),
            ("description", Some(spec.description.as_str())),
            ("subject", spec.subject.as_deref()),
        ],
    )
}

fn check(known: &[&str], templates: &[(&str, Option<&str>)]) -> Result<(), (String, String)> {
    for (field, template) in templates {
        let Some(template) = template else { continue };
        if let Some(p) = placeholders(template).find(|p| !known.contains(p)) {
            return Err((
                field.to_string(),
                format!("unknown placeholder {{{p}}} (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The values at a path as text: comma separated, `-` when absent, cut at 100 characters.
fn param_text(a: &Activity, id: PathId) -> String {
    let v: Vec<String> = a.param(id).take(10).map(|v| v.to_text()).collect();
    if v.is_empty() {
        return "-".into();
    }
    let text = v.join(",");
    if text.chars().count() <= 100 {
        return text;
    }
    let mut cut: String = text.chars().take(99).collect();
    cut.push('…');
    cut
}

/// The values of [`PLACEHOLDERS`] for an activity (`outcome` and `count` describe the
/// finding, and are `-` when rendering the dedup key).
/// `ai` is the changed AI principal and why it is one (`-` without `ai_target`).
fn vars(
    a: &Activity,
    outcome: String,
    count: String,
    ai: &(String, String),
) -> Vec<(&'static str, String)> {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    let source_ip = a
        .source_ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| or_dash(a.source_host.as_deref()));
    let secret = a.secret.as_ref().map(|s| split_kind(s.0));
    let vars = [
        ("principal_name", principal_name(&a.principal_key)),
        ("principal_key", a.principal_key.to_string()),
        ("principal", a.principal.to_string()),
        ("account", a.account.to_string()),
        ("region", a.region.to_string()),
        ("event_source", a.event_source.to_string()),
        ("event_name", a.event_name.to_string()),
        ("error_code", or_dash(a.error_code.as_deref())),
        ("model_id", or_dash(a.model_id.as_deref())),
        ("bucket", or_dash(a.bucket.as_deref())),
        ("source_ip", source_ip),
        (
            "country",
            or_dash(a.country.as_ref().map(crate::geo::country_str)),
        ),
        ("user_agent", or_dash(a.user_agent.as_deref())),
        ("access_key_id", or_dash(a.access_key_id.as_deref())),
        ("access_key_kind", or_dash(key_kind(a).map(|k| k.as_str()))),
        ("secret_kind", or_dash(secret.map(|s| s.0))),
        ("secret_side", or_dash(secret.map(|s| s.1))),
        ("secret_masked", or_dash(a.secret.as_ref().map(|s| &*s.1))),
        ("outcome", outcome),
        ("count", count),
        ("ai_principal", ai.0.clone()),
        ("ai_why", ai.1.clone()),
    ];
    vars.into()
}

/// Evidence every kind keeps about the activities of a finding: addresses, countries, user
/// agents, access keys, models and sample request ids (each list capped).
pub(super) fn context_evidence(ev: &mut Map<String, Value>, a: &Activity) {
    super::caller_evidence(ev, a);
    if let Some(k) = &a.access_key_id {
        push_unique(ev, "access_key_ids", k, 5);
    }
    if let Some(k) = key_kind(a) {
        push_unique(ev, "access_key_kinds", k.as_str(), 3);
    }
    if let Some(m) = &a.model_id {
        push_unique(ev, "model_ids", m, 10);
    }
    // A secret's kind, side and masked form (never the secret).
    if let Some((kind, masked)) = &a.secret {
        let (kind, side) = split_kind(kind);
        let entry = json!({"kind": kind, "side": side, "masked": &**masked});
        let list = ev.entry("secrets").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut()
            && list.len() < 10
            && !list.contains(&entry)
        {
            list.push(entry);
        }
    }
}

impl Detector for Rule {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn has_extra_entities(&self) -> bool {
        self.ai_target.is_some()
    }

    fn extra_entities(&self, a: &Activity, out: &mut Vec<String>) {
        if let Some(t) = &self.ai_target {
            t.entities(a, out);
        }
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let ai = match &self.ai_target {
            None => None,
            Some(t) => match t.judge(ctx, a) {
                super::ai_target::Judged::Ai { target, why } => Some((target, why)),
                _ => return,
            },
        };
        let ai_vars = ai.clone().unwrap_or_else(|| ("-".into(), "-".into()));
        let params: Vec<(&str, String)> = self
            .params
            .iter()
            .map(|(key, id)| (key.as_str(), param_text(a, *id)))
            .collect();
        let mut keyed = vars(a, "-".into(), "-".into(), &ai_vars);
        keyed.extend(params.iter().cloned());
        let mut dedup = render(&self.dedup, &keyed);
        if dedup.len() > MAX_DEDUP_LEN {
            let mut end = MAX_DEDUP_LEN;
            while !dedup.is_char_boundary(end) {
                end -= 1;
            }
            dedup.truncate(end);
        }
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, &dedup, a.time, 1)
        else {
            return;
        };
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        let calls = ev
            .entry("calls")
            .or_insert_with(|| json!({"succeeded": 0, "failed": 0}));
        let outcome = if a.error_code.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        calls[outcome] = json!(calls[outcome].as_u64().unwrap_or(0) + 1);
        let (ok, failed) = (
            calls["succeeded"].as_u64().unwrap_or(0),
            calls["failed"].as_u64().unwrap_or(0),
        );
        let severity = if ok > 0 {
            self.spec.severity
        } else {
            self.severity_failed.unwrap_or(self.spec.severity)
        };
        f.severity = severity;
        f.severity_label = severity_label(severity).to_string();
        ev.insert("dedup".into(), json!(dedup));
        if let Some((target, why)) = &ai {
            ev.insert("ai_principal".into(), json!(target));
            ev.insert("ai_why".into(), json!(why));
        }
        push_unique(ev, "event_sources", &a.event_source, 5);
        if let Some(e) = &a.error_code {
            push_unique(ev, "error_codes", e, 10);
        }
        if !self.params.is_empty() {
            let params = ev
                .entry("params")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(params) = params {
                for (key, id) in &self.params {
                    let path = key.trim_start_matches("param:");
                    for v in a.param(*id) {
                        push_unique(params, path, &v.to_text(), 10);
                    }
                }
            }
        }
        context_evidence(ev, a);
        let codes = ev
            .get("error_codes")
            .and_then(|c| c.as_array())
            .map(|c| {
                c.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let outcome = match (ok, failed) {
            (_, 0) => "succeeded".to_string(),
            (0, _) => format!("failed ({codes})"),
            (ok, failed) => format!(
                "succeeded {} and failed {} ({codes})",
                times(ok),
                times(failed)
            ),
        };
        let mut vars = vars(a, outcome, thousands(f.count), &ai_vars);
        vars.extend(params);
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}

/// `once`, `twice`, `3 times`.
fn times(n: u64) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{} times", thousands(n)),
    }
}
