//! `resource-readers`: access to training data by a principal outside the bucket's baseline of
//! readers.
//!
//! A bucket holds training data when it is named in `buckets`/`prefixes`, when its name says
//! so (`name_patterns`), or when a SageMaker or Bedrock principal has read it (learned from the
//! activity itself). Each bucket learns its readers during its own learning period; afterwards
//! a principal that is neither a known reader nor allow-listed raises a finding. Reported
//! principals do not join the readers (allow-list them to accept them).
//!
//! Template placeholders: `{principal_name}`, `{bucket}`, `{event_name}`, `{why}`, `{count}`.

use serde::Deserialize;
use serde_json::json;

use crate::activity::{Activity, principal_name};
use crate::detect::matcher::Glob;
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render};
use crate::state::SeenSet;
use crate::state::bucket_entity;

const READERS: &str = "readers";
const AI_READERS: &str = "ai-readers";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Buckets that hold training data.
    #[serde(default)]
    buckets: Vec<String>,
    /// `bucket/prefix` locations that hold training data.
    #[serde(default)]
    prefixes: Vec<String>,
    /// Substrings of bucket names that mark training data (case-insensitive).
    #[serde(default)]
    name_patterns: Vec<String>,
    /// Globs on principal keys whose reads mark a bucket as training data.
    #[serde(default)]
    ai_principals: Vec<String>,
    /// Globs on user agents whose reads mark a bucket as training data.
    #[serde(default)]
    ai_user_agents: Vec<String>,
    /// `invokedBy` services whose reads mark a bucket as training data.
    #[serde(default)]
    ai_services: Vec<String>,
    /// Globs on principal keys that may always read training data.
    #[serde(default)]
    allow_principals: Vec<String>,
}

pub struct ResourceReaders {
    spec: Spec,
    buckets: Vec<String>,
    prefixes: Vec<(String, String)>,
    name_patterns: Vec<String>,
    ai_principals: Vec<Glob>,
    ai_user_agents: Vec<Glob>,
    ai_services: Vec<String>,
    allow: Vec<Glob>,
}

impl ResourceReaders {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let mut prefixes = Vec::new();
        for loc in &p.prefixes {
            let loc = loc.trim_start_matches("s3://");
            match loc.split_once('/') {
                Some((b, pre)) if !b.is_empty() => prefixes.push((b.to_string(), pre.to_string())),
                _ => {
                    return Err((
                        "params.prefixes".into(),
                        format!("`{loc}` is not bucket/prefix"),
                    ));
                }
            }
        }
        let globs = |v: &[String]| v.iter().map(|g| Glob::new(g)).collect::<Vec<_>>();
        Ok(ResourceReaders {
            buckets: p.buckets.clone(),
            prefixes,
            name_patterns: p
                .name_patterns
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            ai_principals: globs(&p.ai_principals),
            ai_user_agents: globs(&p.ai_user_agents),
            ai_services: p.ai_services.clone(),
            allow: globs(&p.allow_principals),
            spec,
        })
    }

    fn is_ai(&self, a: &Activity) -> bool {
        self.ai_principals
            .iter()
            .any(|g| g.is_match(&a.principal_key))
            || a.user_agent
                .as_deref()
                .is_some_and(|ua| self.ai_user_agents.iter().any(|g| g.is_match(ua)))
            || a.invoked_by
                .as_deref()
                .is_some_and(|s| self.ai_services.iter().any(|x| x == s))
    }

    /// Why a bucket (and key) counts as training data by configuration or name.
    fn configured(&self, bucket: &str, key: Option<&str>) -> Option<String> {
        if self.buckets.iter().any(|b| b == bucket) {
            return Some("configured training bucket".into());
        }
        if let Some((_, p)) = self
            .prefixes
            .iter()
            .find(|(b, p)| b == bucket && key.unwrap_or("").starts_with(p.as_str()))
        {
            return Some(format!("configured training prefix {p}"));
        }
        let lower = bucket.to_ascii_lowercase();
        self.name_patterns
            .iter()
            .find(|p| lower.contains(p.as_str()))
            .map(|p| format!("bucket name contains \"{p}\""))
    }
}

impl Detector for ResourceReaders {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn extra_entities(&self, a: &Activity, out: &mut Vec<String>) {
        if let Some(b) = &a.bucket {
            out.push(bucket_entity(b));
        }
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let Some(bucket) = a.bucket.as_deref() else {
            return;
        };
        let ai = self.is_ai(a);
        let state = ctx.others.entry(bucket_entity(bucket)).or_default();
        state.touch(a.time);
        if ai {
            SeenSet::named(&mut state.seen, AI_READERS).insert(&a.principal_key, a.time);
        }
        let why = self.configured(bucket, a.key.as_deref()).or_else(|| {
            state
                .seen
                .get(AI_READERS)
                .and_then(|s| s.values.keys().next())
                .map(|p| format!("read by {}", principal_name(p)))
        });
        let learned = state.learned(a.time, ctx.learning);
        let readers = SeenSet::named(&mut state.seen, READERS);
        if readers.contains(&a.principal_key) {
            readers.refresh(&a.principal_key, a.time);
            return;
        }
        let allowed = ai
            || self
                .allow
                .iter()
                .any(|g| g.is_match(&a.principal_key) || g.is_match(&a.principal));
        if !learned || allowed || why.is_none() {
            readers.insert(&a.principal_key, a.time);
            return;
        }
        let why = why.unwrap_or_default();
        let known: Vec<String> = readers.values.keys().map(|k| principal_name(k)).collect();
        // The finding lives on the principal, deduplicated per bucket.
        let Some(open) = ctx
            .alerts
            .raise(&self.spec, ctx.principal, a, bucket, a.time, 1)
        else {
            return;
        };
        let f = &mut open.finding;
        let ev = &mut f.evidence;
        ev.insert("bucket".into(), json!(bucket));
        ev.insert("why_training_data".into(), json!(why));
        ev.entry("usual_readers").or_insert_with(|| json!(known));
        if let Some(k) = &a.key {
            let prefix = k
                .rsplit_once('/')
                .map(|(p, _)| format!("{p}/"))
                .unwrap_or_default();
            push_unique(ev, "prefixes", &prefix, 10);
        }
        push_unique(ev, "event_names", &a.event_name, 10);
        let bytes = ev.get("bytes_out").and_then(|b| b.as_u64()).unwrap_or(0) + a.bytes_out;
        ev.insert("bytes_out".into(), json!(bytes));
        if let Some(ip) = a.source_ip {
            push_unique(ev, "source_ips", &ip.to_string(), 10);
        }
        if let Some(c) = &a.country {
            push_unique(ev, "countries", crate::geo::country_str(c), 10);
        }
        if let Some(r) = &a.request_id {
            push_unique(ev, "sample_request_ids", r, 5);
        }
        let vars = [
            ("principal_name", principal_name(&f.principal_key)),
            ("bucket", bucket.to_string()),
            ("event_name", a.event_name.to_string()),
            ("why", why),
            ("count", f.count.to_string()),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
