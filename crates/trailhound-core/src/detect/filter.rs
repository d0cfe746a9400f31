//! The `[match]` table of a detector file: which activities a detector looks at. Compiled
//! once when the file loads (globs split, paths parsed, values converted); checked once per
//! activity and detector, cheapest tests first.
//!
//! ```toml
//! [match]
//! sources = ["cloudtrail"]                      # cloudtrail, invocation
//! event_sources = ["bedrock.amazonaws.com"]
//! event_names = ["InvokeModel", "Converse*"]    # every list takes names or `*` globs
//! error_codes = "none"                          # "any", "none", or a list: ["AccessDenied*"]
//! regions = ["us-*"]
//! principals = ["arn:aws:iam::*:role/ci-*"]     # the principal key or the ARN as logged
//! principal_types = ["IAMUser", "Root"]
//! user_agents = ["*kali*"]
//! model_ids = ["anthropic.*"]
//! access_keys = ["long-term"]                   # long-term, temporary, bedrock-api-key
//! guardrail_intervened = true
//! secret_found = true
//!
//! [[match.params]]                              # every predicate must hold
//! path = "requestParameters.instanceType"
//! glob = "p*.*"                                 # or a list of globs
//!
//! [[match.params]]
//! path = "requestParameters.eventSelectors[*].includeManagementEvents"
//! equals = false                                # a string, number or boolean, or a list
//!
//! [match.exclude]                               # leaves out what this (a filter) matches
//! model_ids = ["amazon.titan-*"]
//!
//! [[match.any_of]]                              # OR: at least one group must match
//! event_names = ["CreateModelCustomizationJob"] # (each group is a filter like [match])
//! params = [{ path = "requestParameters.trainingDataConfig.s3Uri", exists = true }]
//! [[match.any_of]]
//! event_names = ["CreateTrainingJob"]
//! params = [{ path = "requestParameters.inputDataConfig[*].dataSource.s3DataSource.s3Uri", exists = true }]
//! ```
//!
//! Order of evaluation: the positive fields (cheapest first), then the `params`
//! predicates, then `any_of` (groups in order, the first that matches wins), and only then
//! `exclude`: an activity the positive part rejects never reaches the exclusion. Paths are
//! extracted at decode only for the event names that can reach them: a group's or an
//! exclusion's paths for the events named by the filter, else by the group or exclusion
//! itself (`None`: any).
//!
//! Access key kinds: `long-term` is an IAM user's key (`AKIA…`), `temporary` an STS session
//! key (`ASIA…`), `bedrock-api-key` a call authenticated with an Amazon Bedrock API key.
//! CloudTrail never logs the key itself (it is a bearer token); it marks such calls with
//! `additionalEventData.callWithBearerToken = true`, and a long-term key acts as the IAM
//! user AWS creates for it (`BedrockAPIKey-…`). A call is `bedrock-api-key` when it carries
//! that flag, when its principal is such a user, or when its access key id has the key's
//! `ABSK` prefix; it is then neither `long-term` nor `temporary`. Invocation logs carry no
//! access key: no kind matches them.
//!
//! Paths (`[[match.params]]`) start at `requestParameters`, `responseElements` or
//! `additionalEventData`; `[*]` walks every element of an array, and a predicate holds when
//! any value found satisfies it (`exists = false`: none is found). Decode extracts only
//! the paths loaded detectors declare ([`declared_paths`]), and only for the event names
//! their filters name.

use std::sync::Arc;

use serde::Deserialize;

use super::matcher::{Glob, Memo, Patterns};
use super::spec::Spec;
use crate::activity::{Activity, Source};
use crate::record::cloudtrail::{JsonPath, PathId, Paths, Scalar};

/// The `[match]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// `cloudtrail`, `invocation`.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// e.g. `bedrock.amazonaws.com`.
    #[serde(default)]
    pub event_sources: Vec<String>,
    /// e.g. `InvokeModel`, `List*`.
    #[serde(default)]
    pub event_names: Vec<String>,
    /// `"any"` (failed calls), `"none"` (successful calls) or a list of codes or globs.
    #[serde(default)]
    pub error_codes: Option<ErrorCodes>,
    /// The older form: `false` only successful calls, `true` only failed calls.
    #[serde(default)]
    pub errors: Option<bool>,
    #[serde(default)]
    pub regions: Vec<String>,
    /// Globs on the principal key or the principal ARN as logged.
    #[serde(default)]
    pub principals: Vec<String>,
    /// `userIdentity.type` values, e.g. `AssumedRole`, `IAMUser`.
    #[serde(default)]
    pub principal_types: Vec<String>,
    #[serde(default)]
    pub user_agents: Vec<String>,
    #[serde(default)]
    pub model_ids: Vec<String>,
    /// `long-term`, `temporary`, `bedrock-api-key`.
    #[serde(default)]
    pub access_keys: Vec<KeyKind>,
    #[serde(default)]
    pub guardrail_intervened: Option<bool>,
    #[serde(default)]
    pub secret_found: Option<bool>,
    /// Predicates on request parameters and response elements.
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    /// Activity this filter leaves out.
    #[serde(default)]
    pub exclude: Option<Box<FilterSpec>>,
    /// Groups of which at least one must match (OR); each is a filter like `[match]`.
    #[serde(default)]
    pub any_of: Option<Vec<FilterSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ErrorCodes {
    Word(String),
    List(Vec<String>),
}

/// How a call authenticated (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    LongTerm,
    Temporary,
    BedrockApiKey,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::LongTerm => "long-term",
            KeyKind::Temporary => "temporary",
            KeyKind::BedrockApiKey => "bedrock-api-key",
        }
    }
}

/// The access key kind of an activity, if it has one.
pub fn key_kind(a: &Activity) -> Option<KeyKind> {
    let key = a.access_key_id.as_deref().unwrap_or("");
    let user = a.principal.split_once(":user/").map(|(_, u)| u);
    if a.bearer_token
        || key.starts_with("ABSK")
        || user.is_some_and(|u| {
            u.rsplit('/')
                .next()
                .unwrap_or(u)
                .starts_with("BedrockAPIKey-")
        })
    {
        return Some(KeyKind::BedrockApiKey);
    }
    if key.starts_with("AKIA") {
        Some(KeyKind::LongTerm)
    } else if key.starts_with("ASIA") {
        Some(KeyKind::Temporary)
    } else {
        None
    }
}

/// One `[[match.params]]` predicate: `path` and exactly one of `equals`, `glob`, `exists`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub path: String,
    /// A string, number or boolean, or a list of them (any).
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// A glob on string values, or a list of them (any).
    #[serde(default)]
    pub glob: Option<OneOrMany>,
    /// Whether a value must (or must not) be present at the path.
    #[serde(default)]
    pub exists: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The compiled filter: what `[match]` (and step filters inside `[params]`) deserialize to.
/// Cheap to clone. The default matches every activity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "FilterSpec")]
pub struct Filter(Arc<Compiled>);

#[derive(Debug, Clone, Default)]
struct Compiled {
    sources: Vec<Source>,
    event_sources: Patterns,
    event_names: Patterns,
    errors: Errors,
    regions: Patterns,
    principals: Patterns,
    principal_types: Patterns,
    user_agents: Patterns,
    model_ids: Patterns,
    access_keys: Vec<KeyKind>,
    guardrail_intervened: Option<bool>,
    secret_found: Option<bool>,
    params: Vec<Predicate>,
    /// Empty: no OR groups.
    any_of: Vec<Filter>,
    exclude: Option<Filter>,
    /// Every path the detector reads (its predicates, and what its kind added), with the
    /// event names it is needed for (`None`: any).
    declared: Vec<(JsonPath, Option<Vec<String>>)>,
}

#[derive(Debug, Clone, Default)]
enum Errors {
    #[default]
    Either,
    Failed,
    Succeeded,
    Codes(Patterns),
}

#[derive(Debug, Clone)]
struct Predicate {
    path: PathId,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Exists(bool),
    Equals(Vec<Scalar<String>>),
    Glob(Vec<Glob>),
}

impl TryFrom<FilterSpec> for Filter {
    type Error = String;

    fn try_from(s: FilterSpec) -> Result<Self, String> {
        Filter::compile(&s, "match")
    }
}

impl Filter {
    /// Compiles a filter; errors name the field as `<at>.<field>`.
    pub fn compile(s: &FilterSpec, at: &str) -> Result<Filter, String> {
        let err = |field: &str, why: String| format!("`{at}.{field}`: {why}");
        let errors = match (&s.error_codes, s.errors) {
            (Some(_), Some(_)) => {
                return Err(err("errors", "use error_codes or errors, not both".into()));
            }
            (None, None) => Errors::Either,
            (None, Some(true)) => Errors::Failed,
            (None, Some(false)) => Errors::Succeeded,
            (Some(ErrorCodes::Word(w)), _) => match w.as_str() {
                "any" => Errors::Failed,
                "none" => Errors::Succeeded,
                w => {
                    return Err(err(
                        "error_codes",
                        format!("`{w}`: expected \"any\", \"none\" or a list of codes"),
                    ));
                }
            },
            (Some(ErrorCodes::List(l)), _) if l.is_empty() => {
                return Err(err("error_codes", "an empty list matches nothing".into()));
            }
            (Some(ErrorCodes::List(l)), _) => Errors::Codes(Patterns::new(l)),
        };
        let event_names = Patterns::new(&s.event_names);
        // No event names: any event (`exact` of an empty list is `Some([])`, no event).
        let scope = if event_names.is_empty() {
            None
        } else {
            event_names.exact()
        };
        let mut params = Vec::new();
        let mut declared = Vec::new();
        for p in &s.params {
            let path = JsonPath::parse(&p.path).map_err(|e| err("params.path", e))?;
            let test = match (&p.equals, &p.glob, p.exists) {
                (Some(v), None, None) => Test::Equals(scalars(v).map_err(|e| err("params", e))?),
                (None, Some(g), None) => Test::Glob(match g {
                    OneOrMany::One(g) => vec![Glob::new(g)],
                    OneOrMany::Many(l) => l.iter().map(|g| Glob::new(g)).collect(),
                }),
                (None, None, Some(e)) => Test::Exists(e),
                _ => {
                    return Err(err(
                        "params",
                        format!("`{}`: give exactly one of equals, glob, exists", p.path),
                    ));
                }
            };
            params.push(Predicate {
                path: path.id(),
                test,
            });
            declared.push((path, scope.clone()));
        }
        // A group's or an exclusion's paths are read on the events this filter lets
        // through, or (when it names none exactly) on those the group names.
        let inner_scope = |f: &Filter, own: &Option<Vec<String>>| {
            scope.clone().or_else(|| f.event_names()).or(own.clone())
        };
        let mut any_of = Vec::new();
        if let Some(groups) = &s.any_of {
            if groups.is_empty() {
                return Err(err(
                    "any_of",
                    "an empty list matches nothing: remove it or add groups".into(),
                ));
            }
            for (i, g) in groups.iter().enumerate() {
                let f = Filter::compile(g, &format!("{at}.any_of[{i}]"))?;
                if f.matches_everything() {
                    return Err(err(
                        &format!("any_of[{i}]"),
                        "the group has no condition, so it matches everything: give it fields or params".into(),
                    ));
                }
                for (p, own) in &f.0.declared {
                    declared.push((p.clone(), inner_scope(&f, own)));
                }
                any_of.push(f);
            }
        }
        let exclude = match &s.exclude {
            Some(x) => {
                let at = format!("{at}.exclude");
                let f = Filter::compile(x, &at)?;
                for (p, own) in &f.0.declared {
                    declared.push((p.clone(), inner_scope(&f, own)));
                }
                Some(f)
            }
            None => None,
        };
        Ok(Filter(Arc::new(Compiled {
            sources: s.sources.clone(),
            event_sources: Patterns::new(&s.event_sources),
            event_names,
            errors,
            regions: Patterns::new(&s.regions),
            principals: Patterns::new(&s.principals),
            principal_types: Patterns::new(&s.principal_types),
            user_agents: Patterns::new(&s.user_agents),
            model_ids: Patterns::new(&s.model_ids),
            access_keys: s.access_keys.clone(),
            guardrail_intervened: s.guardrail_intervened,
            secret_found: s.secret_found,
            params,
            any_of,
            exclude,
            declared,
        })))
    }

    /// Whether the filter has no condition at all.
    fn matches_everything(&self) -> bool {
        let c = &*self.0;
        c.sources.is_empty()
            && c.event_sources.is_empty()
            && c.event_names.is_empty()
            && matches!(c.errors, Errors::Either)
            && c.regions.is_empty()
            && c.principals.is_empty()
            && c.principal_types.is_empty()
            && c.user_agents.is_empty()
            && c.model_ids.is_empty()
            && c.access_keys.is_empty()
            && c.guardrail_intervened.is_none()
            && c.secret_found.is_none()
            && c.params.is_empty()
            && c.any_of.is_empty()
            && c.exclude.is_none()
    }

    pub fn matches(&self, a: &Activity) -> bool {
        self.matches_memo(a, &mut Memo::off())
    }

    /// [`Filter::matches`] with pattern results remembered in `memo` (see [`Memo`]).
    pub fn matches_memo(&self, a: &Activity, memo: &mut Memo) -> bool {
        let c = &*self.0;
        let any = |p: &Patterns, v: &str| p.is_empty() || p.any(v);
        (c.sources.is_empty() || c.sources.contains(&a.source))
            && any(&c.event_names, &a.event_name)
            && any(&c.event_sources, &a.event_source)
            && self.matches_rest(a, memo)
    }

    /// [`Filter::matches`] for an activity whose kind already passed
    /// [`Filter::may_match`] (the engine's dispatch): the source, event source and event
    /// name checks are not repeated per activity. Pattern results on the activity's
    /// interned values are kept in `memo` for the rest of the batch.
    pub fn matches_given_kind(&self, a: &Activity, memo: &mut Memo) -> bool {
        debug_assert!(self.may_match(a.source, &a.event_source, &a.event_name));
        self.matches_rest(a, memo)
    }

    /// Everything [`Filter::matches`] checks past the kind of event.
    fn matches_rest(&self, a: &Activity, memo: &mut Memo) -> bool {
        let c = &*self.0;
        let any = |m: &mut Memo, p: &Patterns, v: &Arc<str>| p.is_empty() || m.any(p, v);
        let opt = |m: &mut Memo, p: &Patterns, v: Option<&Arc<str>>| {
            p.is_empty() || v.is_some_and(|v| m.any(p, v))
        };
        (match &c.errors {
            Errors::Either => true,
            Errors::Failed => a.error_code.is_some(),
            Errors::Succeeded => a.error_code.is_none(),
            Errors::Codes(p) => a.error_code.as_ref().is_some_and(|e| memo.any(p, e)),
        }) && any(memo, &c.regions, &a.region)
            && any(memo, &c.principal_types, &a.principal_type)
            && c.guardrail_intervened
                .is_none_or(|g| g == a.guardrail_intervened)
            && c.secret_found.is_none_or(|s| s == a.secret.is_some())
            && (c.access_keys.is_empty() || key_kind(a).is_some_and(|k| c.access_keys.contains(&k)))
            && (c.principals.is_empty()
                || memo.any(&c.principals, &a.principal_key)
                || memo.any(&c.principals, &a.principal))
            && opt(memo, &c.user_agents, a.user_agent.as_ref())
            && opt(memo, &c.model_ids, a.model_id.as_ref())
            && c.params.iter().all(|p| p.holds(a))
            && (c.any_of.is_empty() || c.any_of.iter().any(|g| g.matches_memo(a, memo)))
            && c.exclude.as_ref().is_none_or(|x| !x.matches_memo(a, memo))
    }

    /// Whether an activity of this source, event source and event name can pass: the part of
    /// [`Filter::matches`] that depends on nothing else, so the engine checks it once per
    /// kind of event in an object instead of once per activity.
    pub fn may_match(&self, source: Source, event_source: &str, event_name: &str) -> bool {
        let c = &*self.0;
        let any = |p: &Patterns, v: &str| p.is_empty() || p.any(v);
        (c.sources.is_empty() || c.sources.contains(&source))
            && any(&c.event_names, event_name)
            && any(&c.event_sources, event_source)
            && (c.any_of.is_empty()
                || c.any_of
                    .iter()
                    .any(|g| g.may_match(source, event_source, event_name)))
    }

    /// Whether activities from `source` can pass (no `sources` list, or one naming it).
    pub fn can_see(&self, source: Source) -> bool {
        self.0.sources.is_empty() || self.0.sources.contains(&source)
    }

    /// The exact event names this filter is limited to (`None`: any, or named by glob).
    pub fn event_names(&self) -> Option<Vec<String>> {
        if self.0.event_names.is_empty() {
            None
        } else {
            self.0.event_names.exact()
        }
    }

    /// The paths this filter (and what its detector declared) reads.
    pub fn declared(&self) -> &[(JsonPath, Option<Vec<String>>)] {
        &self.0.declared
    }

    /// Declares a path the detector reads outside this filter (a template placeholder, a
    /// step's filter), needed on the events named in `events` (`None`: any).
    pub fn declare(&mut self, path: JsonPath, events: Option<Vec<String>>) {
        Arc::make_mut(&mut self.0).declared.push((path, events));
    }
}

impl Predicate {
    fn holds(&self, a: &Activity) -> bool {
        let mut values = a.param(self.path);
        match &self.test {
            Test::Exists(e) => values.next().is_some() == *e,
            Test::Equals(want) => values.any(|v| {
                want.iter().any(|w| match (w, v) {
                    (Scalar::Str(w), Scalar::Str(v)) => **w == **v,
                    (Scalar::Num(w), Scalar::Num(v)) => w == v,
                    (Scalar::Bool(w), Scalar::Bool(v)) => w == v,
                    _ => false,
                })
            }),
            Test::Glob(globs) => values.any(|v| {
                v.as_str()
                    .is_some_and(|s| globs.iter().any(|g| g.is_match(s)))
            }),
        }
    }
}

/// `equals = …` as values: a string, number or boolean, or a list of them.
fn scalars(v: &toml::Value) -> Result<Vec<Scalar<String>>, String> {
    let one = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(Scalar::Str(s.clone())),
        toml::Value::Integer(i) => Ok(Scalar::Num(*i as f64)),
        toml::Value::Float(f) => Ok(Scalar::Num(*f)),
        toml::Value::Boolean(b) => Ok(Scalar::Bool(*b)),
        other => Err(format!(
            "equals takes a string, number or boolean, not {}",
            other.type_str()
        )),
    };
    match v {
        toml::Value::Array(items) => items.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}

/// Every path the detectors of `specs` read, for [`crate::activity::Normalizer::with_paths`].
/// Built once per engine: decode then extracts exactly these, and only for the event names
/// their filters name.
pub fn declared_paths<'a>(specs: impl IntoIterator<Item = &'a Spec>) -> Arc<Paths> {
    Arc::new(Paths::new(
        specs
            .into_iter()
            .flat_map(|s| s.filter.declared().iter().cloned()),
    ))
}

#[cfg(test)]
mod tests;
