//! `resource-readers`: access to training data by a principal outside the bucket's baseline of
//! readers.
//!
//! A bucket holds training data when it is named in `buckets`/`prefixes`, when its name says
//! so (`name_patterns`), when an AI asset names it (`training_assets`: a Bedrock
//! customization job's training or validation data, a SageMaker training job's input channel,
//! a knowledge base's data source; learned from the successful creation call, for the
//! prefix it names), or when a SageMaker or Bedrock principal has read it (learned from the
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
use crate::record::cloudtrail::{JsonPath, PathId};
use crate::state::bucket_entity;
use crate::state::{EntityState, SeenSet};

const READERS: &str = "readers";
const AI_READERS: &str = "ai-readers";
/// Prefixes named as training data by AI assets: `<event name>:<prefix>`.
const ASSETS: &str = "assets";

/// A creation call whose request names training data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetSource {
    /// e.g. `CreateModelCustomizationJob`.
    event_name: String,
    /// Request paths holding `s3://bucket/prefix` URIs or S3 bucket ARNs.
    paths: Vec<String>,
}

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
    /// Creation calls of AI assets whose request names training data.
    #[serde(default)]
    training_assets: Vec<AssetSource>,
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
    /// Event name → the paths of its request that name training data.
    assets: Vec<(String, Vec<PathId>)>,
}

impl ResourceReaders {
    pub fn new(mut spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let mut assets = Vec::new();
        for (i, src) in p.training_assets.iter().enumerate() {
            let mut ids = Vec::new();
            for path in &src.paths {
                let jp = JsonPath::parse(path)
                    .map_err(|e| (format!("params.training_assets[{i}].paths"), e))?;
                ids.push(jp.id());
                spec.filter.declare(jp, Some(vec![src.event_name.clone()]));
            }
            assets.push((src.event_name.clone(), ids));
        }
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
            assets,
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

    /// The `(bucket, prefix)` locations a successful asset-creation call names; `None` when
    /// `a` is not such a call.
    fn asset_locations<'a>(&self, a: &'a Activity) -> Option<Vec<(&'a str, &'a str)>> {
        let (_, ids) = self.assets.iter().find(|(e, _)| **e == *a.event_name)?;
        if a.error_code.is_some() {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        for id in ids {
            for v in a.param(*id) {
                if let Some(loc) = v.as_str().and_then(s3_location)
                    && !out.contains(&loc)
                {
                    out.push(loc);
                }
            }
        }
        Some(out)
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

    /// Why reads of `bucket` (`key`) are reads of training data: configuration, a name, a
    /// prefix a training job named, or an AI service's role reading it; `None`: not known to be.
    fn why(&self, state: &EntityState, bucket: &str, key: Option<&str>) -> Option<String> {
        self.configured(bucket, key)
            .or_else(|| {
                let key = key.unwrap_or("");
                let named = state.seen.get(ASSETS)?;
                named.values.keys().find_map(|n| {
                    let (event, prefix) = n.split_once(':')?;
                    key.starts_with(prefix).then(|| match prefix {
                        "" => format!("named as training data by {event}"),
                        p => format!("prefix {p} named as training data by {event}"),
                    })
                })
            })
            .or_else(|| {
                state
                    .seen
                    .get(AI_READERS)
                    .and_then(|s| s.values.keys().next())
                    .map(|p| format!("read by {}", principal_name(p)))
            })
    }
}

impl Detector for ResourceReaders {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn has_extra_entities(&self) -> bool {
        true
    }

    fn extra_entities(&self, a: &Activity, out: &mut Vec<String>) {
        if let Some(b) = &a.bucket {
            out.push(bucket_entity(b));
        }
        for (b, _) in self.asset_locations(a).unwrap_or_default() {
            out.push(bucket_entity(b));
        }
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        if let Some(locations) = self.asset_locations(a) {
            for (bucket, prefix) in locations {
                let state = ctx.others.entry(bucket_entity(bucket)).or_default();
                state.touch(a.time);
                let named = format!("{}:{prefix}", a.event_name);
                SeenSet::named(&mut state.seen, ASSETS).insert(&named, a.time);
            }
            return;
        }
        let Some(bucket) = a.bucket.as_deref() else {
            return;
        };
        let ai = self.is_ai(a);
        let state = ctx.others.entry(bucket_entity(bucket)).or_default();
        state.touch(a.time);
        if ai {
            SeenSet::named(&mut state.seen, AI_READERS).insert(&a.principal_key, a.time);
        }
        // A known reader, a reader in its learning period or an allowed one is only
        // recorded: most reads are, and why a bucket counts as training data (a search of
        // its name, the named prefixes) is worked out only for the rest.
        let learned = state.learned(a.time, ctx.learning);
        if let Some(readers) = state.seen.get_mut(READERS)
            && readers.contains(&a.principal_key)
        {
            readers.refresh(&a.principal_key, a.time);
            return;
        }
        let allowed = ai
            || self
                .allow
                .iter()
                .any(|g| g.is_match(&a.principal_key) || g.is_match(&a.principal));
        let why = if !learned || allowed {
            None
        } else {
            self.why(state, bucket, a.key.as_deref())
        };
        let readers = SeenSet::named(&mut state.seen, READERS);
        let Some(why) = why else {
            readers.insert(&a.principal_key, a.time);
            return;
        };
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
        let bytes = ev
            .get("bytes_out")
            .and_then(|b| b.as_u64())
            .unwrap_or(0)
            .saturating_add(a.bytes_out);
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

/// `s3://bucket/path` or an S3 ARN (`arn:<partition>:s3:::bucket/path`) as `(bucket,
/// folder of path)`; `None` for anything else (a bucket name S3 would not accept included).
fn s3_location(v: &str) -> Option<(&str, &str)> {
    let rest = match v.strip_prefix("s3://") {
        Some(r) => r,
        None => {
            let (head, r) = v.split_once(":s3:::")?;
            if !head.starts_with("arn:") || head.matches(':').count() != 1 {
                return None;
            }
            r
        }
    };
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    // The folder holding what is named: a customization job names a file
    // (`ft/v2/train.jsonl`), a SageMaker channel a key prefix (`ft/v2/`); siblings are the
    // same dataset.
    let prefix = path.rfind('/').map_or("", |i| &path[..=i]);
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    valid.then_some((bucket, prefix))
}

#[cfg(test)]
mod tests {
    use super::s3_location;

    #[test]
    fn locations_are_uris_and_arns_of_valid_buckets() {
        assert_eq!(
            s3_location("s3://acme-lake/ft/v2/"),
            Some(("acme-lake", "ft/v2/"))
        );
        assert_eq!(
            s3_location("s3://acme-lake/ft/v2/a.jsonl"),
            Some(("acme-lake", "ft/v2/"))
        );
        assert_eq!(s3_location("s3://acme-lake/ft"), Some(("acme-lake", "")));
        assert_eq!(s3_location("s3://acme-lake"), Some(("acme-lake", "")));
        assert_eq!(s3_location("arn:aws:s3:::acme-kb"), Some(("acme-kb", "")));
        assert_eq!(
            s3_location("arn:aws-us-gov:s3:::acme-kb/docs/"),
            Some(("acme-kb", "docs/"))
        );
        assert_eq!(s3_location("arn:aws:iam::1:role/x:s3:::acme"), None);
        assert_eq!(s3_location("s3://Acme_Lake/x"), None);
        assert_eq!(s3_location("s3://ab/x"), None);
        assert_eq!(s3_location("HIDDEN_DUE_TO_SECURITY_REASONS"), None);
        assert_eq!(s3_location("file:///x"), None);
    }
}
