//! What the OCSF and ASFF mappings share: the output context (who imports, when, create or
//! update), the severity bands, the evidence read back from a finding (addresses, countries,
//! access keys, buckets, models, request ids) and AWS ARNs built from it.

use serde_json::Value;

use crate::finding::Finding;

/// The context one finding is written in: the importing account and region (Security Hub's
/// product ARN; default: the finding's own), the time of writing (unix seconds; 0 = use the
/// finding's `last_seen`) and whether this is an update of a finding already sent.
///
/// `update` is an explicit flag rather than a guess from `count`: only the caller knows
/// whether this finding id was published before (the Lambda's outbox does; a replay prints
/// each finding once, in its final state, as new).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputContext {
    pub account: Option<String>,
    pub region: Option<String>,
    pub now: i64,
    pub update: bool,
}

impl OutputContext {
    /// The time of writing in unix seconds: `now`, else the finding's last activity; never
    /// before the finding's first activity (a writer clock behind the logs must not give an
    /// update time before the creation time).
    pub fn written_at(&self, f: &Finding) -> i64 {
        let first = crate::time::parse(&f.first_seen).unwrap_or(0);
        let t = if self.now > 0 {
            self.now
        } else {
            crate::time::parse(&f.last_seen).unwrap_or(first)
        };
        t.max(first)
    }
}

/// The five levels both formats name, from the GuardDuty scale of a finding's `severity`:
/// 0 (or less) Informational, above 0 Low, from 4.0 Medium, from 7.0 High, from 9.0 Critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn of(severity: f64) -> Level {
        match severity {
            s if s >= 9.0 => Level::Critical,
            s if s >= 7.0 => Level::High,
            s if s >= 4.0 => Level::Medium,
            s if s > 0.0 => Level::Low,
            _ => Level::Informational,
        }
    }
}

/// A string or list of strings of the evidence, as a list (absent or other types: empty).
pub fn strings(f: &Finding, key: &str) -> Vec<String> {
    match f.evidence.get(key) {
        Some(Value::String(s)) if !s.is_empty() && s != "-" => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .filter(|s| !s.is_empty() && *s != "-")
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Values of several evidence keys, in order, without repeats.
pub fn strings_of(f: &Finding, keys: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        for s in strings(f, k) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Source addresses that parse as IP addresses (CloudTrail also writes service names such as
/// `bedrock.amazonaws.com` there).
pub fn source_ips(f: &Finding) -> Vec<std::net::IpAddr> {
    strings_of(f, &["source_ips", "source_ip"])
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

pub fn countries(f: &Finding) -> Vec<String> {
    strings_of(f, &["countries", "country"])
}

pub fn access_keys(f: &Finding) -> Vec<String> {
    strings_of(f, &["access_key_ids", "access_key_id"])
}

pub fn buckets(f: &Finding) -> Vec<String> {
    strings_of(f, &["bucket", "buckets"])
}

pub fn models(f: &Finding) -> Vec<String> {
    strings_of(f, &["model_id", "model_ids"])
}

pub fn request_ids(f: &Finding) -> Vec<String> {
    strings_of(f, &["sample_request_ids", "request_id"])
}

/// The country of an address, when the evidence ties them: one address and one country.
/// (Findings keep addresses and countries as separate lists, so with several of each the
/// pairing is unknown and no address gets a country.)
pub fn country_of_single_ip(f: &Finding) -> Option<String> {
    let c = countries(f);
    (source_ips(f).len() == 1 && c.len() == 1).then(|| c[0].clone())
}

/// The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub fn bucket_arn(region: &str, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", partition(region))
}

/// A Bedrock model's ARN: kept when the id is one; a cross-region inference profile
/// (`us.`, `eu.`, `apac.`, `global.` prefix) in the finding's account; otherwise a
/// foundation model.
pub fn model_arn(f: &Finding, model: &str) -> String {
    if model.starts_with("arn:") {
        return model.to_string();
    }
    let p = partition(&f.region);
    let profile = [
        "us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.",
    ]
    .iter()
    .any(|pre| model.starts_with(pre));
    if profile {
        format!(
            "arn:{p}:bedrock:{}:{}:inference-profile/{model}",
            f.region, f.account
        )
    } else {
        format!("arn:{p}:bedrock:{}::foundation-model/{model}", f.region)
    }
}

/// The last path segment of an ARN (`arn:aws:iam::1:user/alice` → `alice`; an assumed
/// role's session → the role name).
pub fn principal_name(f: &Finding) -> String {
    let arn = if f.principal.is_empty() {
        &f.principal_key
    } else {
        &f.principal
    };
    let rest = arn.rsplit(':').next().unwrap_or(arn);
    let mut parts = rest.split('/');
    match (parts.next(), parts.next()) {
        (Some("assumed-role"), Some(role)) => role.to_string(),
        _ => rest.rsplit('/').next().unwrap_or(rest).to_string(),
    }
}

/// Where the finding's records came from, for readers (`AWS CloudTrail`, `Amazon Bedrock
/// model invocation logs`), in a fixed order.
pub fn data_sources(f: &Finding) -> Vec<&'static str> {
    let mut out = Vec::new();
    if f.sources.iter().any(|s| s.key.contains("/CloudTrail/")) {
        out.push("AWS CloudTrail");
    }
    if f.sources
        .iter()
        .any(|s| s.key.contains("BedrockModelInvocationLogs"))
    {
        out.push("Amazon Bedrock model invocation logs");
    }
    out
}

/// A MITRE ATT&CK or ATLAS technique as the formats name it: its id, its parent's id when it
/// is a sub-technique, names, and the tactic it serves in a cloud account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technique {
    pub uid: String,
    /// The parent technique (`T1496` of `T1496.004`); `None` for a technique.
    pub parent: Option<String>,
    pub name: Option<&'static str>,
    pub parent_name: Option<&'static str>,
    pub tactic: Option<(&'static str, &'static str)>,
}

/// Names and tactics of the techniques the shipped detectors name (ATT&CK Enterprise and
/// ATLAS). A technique under several tactics keeps the one it serves in these detections
/// (Valid Accounts: Initial Access). Ids not here keep their uid without names.
const TECHNIQUES: &[(&str, &str, &str, &str)] = &[
    ("T1078", "Valid Accounts", "TA0001", "Initial Access"),
    ("T1078.004", "Cloud Accounts", "TA0001", "Initial Access"),
    ("T1098", "Account Manipulation", "TA0003", "Persistence"),
    (
        "T1098.003",
        "Additional Cloud Roles",
        "TA0003",
        "Persistence",
    ),
    ("T1496", "Resource Hijacking", "TA0040", "Impact"),
    ("T1496.001", "Compute Hijacking", "TA0040", "Impact"),
    ("T1496.004", "Cloud Service Hijacking", "TA0040", "Impact"),
    ("T1526", "Cloud Service Discovery", "TA0007", "Discovery"),
    ("T1530", "Data from Cloud Storage", "TA0009", "Collection"),
    (
        "T1535",
        "Unused/Unsupported Cloud Regions",
        "TA0005",
        "Defense Evasion",
    ),
    (
        "T1537",
        "Transfer Data to Cloud Account",
        "TA0010",
        "Exfiltration",
    ),
    (
        "T1552",
        "Unsecured Credentials",
        "TA0006",
        "Credential Access",
    ),
    (
        "T1552.001",
        "Credentials In Files",
        "TA0006",
        "Credential Access",
    ),
    ("T1562", "Impair Defenses", "TA0005", "Defense Evasion"),
    (
        "T1562.001",
        "Disable or Modify Tools",
        "TA0005",
        "Defense Evasion",
    ),
    (
        "T1562.008",
        "Disable or Modify Cloud Logs",
        "TA0005",
        "Defense Evasion",
    ),
    ("T1565", "Data Manipulation", "TA0040", "Impact"),
    ("T1565.001", "Stored Data Manipulation", "TA0040", "Impact"),
    (
        "T1578",
        "Modify Cloud Compute Infrastructure",
        "TA0005",
        "Defense Evasion",
    ),
    (
        "T1578.002",
        "Create Cloud Instance",
        "TA0005",
        "Defense Evasion",
    ),
    (
        "T1580",
        "Cloud Infrastructure Discovery",
        "TA0007",
        "Discovery",
    ),
    (
        "AML.T0008",
        "Acquire Infrastructure",
        "AML.TA0003",
        "Resource Development",
    ),
    (
        "AML.T0008.000",
        "AI Development Workspaces",
        "AML.TA0003",
        "Resource Development",
    ),
    (
        "AML.T0012",
        "Valid Accounts",
        "AML.TA0004",
        "Initial Access",
    ),
    (
        "AML.T0020",
        "Poison Training Data",
        "AML.TA0003",
        "Resource Development",
    ),
    (
        "AML.T0024",
        "Exfiltration via AI Inference API",
        "AML.TA0010",
        "Exfiltration",
    ),
    (
        "AML.T0025",
        "Exfiltration via Cyber Means",
        "AML.TA0010",
        "Exfiltration",
    ),
    ("AML.T0034", "Cost Harvesting", "AML.TA0011", "Impact"),
    (
        "AML.T0035",
        "AI Artifact Collection",
        "AML.TA0009",
        "Collection",
    ),
    (
        "AML.T0040",
        "AI Model Inference API Access",
        "AML.TA0000",
        "AI Model Access",
    ),
    (
        "AML.T0051",
        "LLM Prompt Injection",
        "AML.TA0005",
        "Execution",
    ),
    (
        "AML.T0054",
        "LLM Jailbreak",
        "AML.TA0012",
        "Privilege Escalation",
    ),
    (
        "AML.T0055",
        "Unsecured Credentials",
        "AML.TA0013",
        "Credential Access",
    ),
    (
        "AML.T0057",
        "LLM Data Leakage",
        "AML.TA0010",
        "Exfiltration",
    ),
    (
        "AML.T0075",
        "Cloud Service Discovery",
        "AML.TA0008",
        "Discovery",
    ),
];

/// Whether an id is MITRE's (ATT&CK `T1234`, `T1234.001`; ATLAS `AML.T0000`, `AML.T0000.000`)
/// rather than one of the AWS threat technique catalog (`T1496.A007`).
pub fn is_mitre(id: &str) -> bool {
    let t = id.strip_prefix("AML.").unwrap_or(id);
    let mut parts = t.split('.');
    let tech = parts.next().unwrap_or("");
    let ok_tech =
        tech.len() == 5 && tech.starts_with('T') && tech[1..].bytes().all(|b| b.is_ascii_digit());
    let ok_sub = match parts.next() {
        None => true,
        Some(s) => s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()),
    };
    ok_tech && ok_sub && parts.next().is_none()
}

fn lookup(id: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    TECHNIQUES.iter().find(|t| t.0 == id)
}

/// The finding's MITRE techniques (ATT&CK, then ATLAS), each with what is known of it.
pub fn techniques(f: &Finding) -> Vec<Technique> {
    f.attack
        .iter()
        .chain(&f.atlas)
        .filter(|id| is_mitre(id))
        .map(|id| {
            let parent = id.rsplit_once('.').and_then(|(p, s)| {
                (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())).then(|| p.to_string())
            });
            let own = lookup(id);
            let up = parent.as_deref().and_then(lookup);
            Technique {
                uid: id.clone(),
                name: own.map(|t| t.1),
                parent_name: up.map(|t| t.1),
                tactic: own.or(up).map(|t| (t.2, t.3)),
                parent,
            }
        })
        .collect()
}

/// The finding's ids of the AWS threat technique catalog (not MITRE's).
pub fn aws_technique_ids(f: &Finding) -> Vec<String> {
    f.attack
        .iter()
        .filter(|id| !is_mitre(id))
        .cloned()
        .collect()
}

/// `s` cut to at most `max` characters, ending in `…` when cut (on a char boundary).
pub fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `s` cut to at most `max` bytes, on a char boundary, ending in `…` when cut.
pub fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A finding like the sample's impossible-travel one, for the format tests.
    pub(crate) fn finding() -> Finding {
        serde_json::from_value(json!({
            "schema_version": 1,
            "id": "afa18e6db257d1a6eda55d2f3438277f",
            "detector": "impossible-travel",
            "type": "UnauthorizedAccess:IAMUser/ImpossibleTravel",
            "severity": 7.0,
            "severity_label": "High",
            "title": "alice was in DE and RU 98 minutes apart",
            "description": "alice made calls from DE and then from RU.",
            "account": "111122223333",
            "region": "us-east-1",
            "principal": "arn:aws:iam::111122223333:user/alice",
            "principal_key": "arn:aws:iam::111122223333:user/alice",
            "principal_type": "IAMUser",
            "first_seen": "2026-10-09T10:02:07Z",
            "last_seen": "2026-10-09T14:08:25Z",
            "count": 13,
            "evidence": {
                "access_key_ids": ["AKIAR7K2M4QQJV5SXE3D"],
                "countries": ["RU"],
                "source_ips": ["95.165.131.44", "bedrock.amazonaws.com"],
                "model_ids": ["anthropic.claude-3-5-sonnet-20240620-v1:0", "us.meta.llama3-2-1b-instruct-v1:0"],
                "bucket": "acme-ml-training-data",
                "sample_request_ids": ["b2bc4715-6d76-48b6-8d9c-c7a4cbeae75c"],
                "event_names": ["GetCallerIdentity", "InvokeModel"],
                "from": {"country": "DE", "seen": "2026-10-09T10:02:07Z"}
            },
            "sources": [{"bucket": "", "key": "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/09/x.json.gz"}],
            "attack": ["T1078", "T1078.004", "T1496.A007"],
            "atlas": ["AML.T0012"]
        }))
        .unwrap()
    }

    #[test]
    fn evidence_is_read_back_and_arns_are_built() {
        let f = finding();
        assert_eq!(
            source_ips(&f),
            vec!["95.165.131.44".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(country_of_single_ip(&f).as_deref(), Some("RU"));
        assert_eq!(access_keys(&f), ["AKIAR7K2M4QQJV5SXE3D"]);
        assert_eq!(buckets(&f), ["acme-ml-training-data"]);
        assert_eq!(bucket_arn("cn-north-1", "b"), "arn:aws-cn:s3:::b");
        assert_eq!(
            model_arn(&f, &models(&f)[0]),
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
        );
        assert_eq!(
            model_arn(&f, &models(&f)[1]),
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"
        );
        assert_eq!(principal_name(&f), "alice");
        let mut r = f.clone();
        r.principal = "arn:aws:sts::1:assumed-role/support-bot-role/botocore-session-1".into();
        assert_eq!(principal_name(&r), "support-bot-role");
        assert_eq!(data_sources(&f), ["AWS CloudTrail"]);
    }

    #[test]
    fn levels_follow_the_guardduty_bands() {
        assert_eq!(Level::of(0.0), Level::Informational);
        assert_eq!(Level::of(0.1), Level::Low);
        assert_eq!(Level::of(3.99), Level::Low);
        assert_eq!(Level::of(4.0), Level::Medium);
        assert_eq!(Level::of(6.99), Level::Medium);
        assert_eq!(Level::of(7.0), Level::High);
        assert_eq!(Level::of(9.0), Level::Critical);
    }

    #[test]
    fn written_at_is_now_or_last_seen_and_never_before_first_seen() {
        let f = finding();
        let first = crate::time::parse(&f.first_seen).unwrap();
        let last = crate::time::parse(&f.last_seen).unwrap();
        let mut ctx = OutputContext::default();
        assert_eq!(ctx.written_at(&f), last);
        ctx.now = last + 60;
        assert_eq!(ctx.written_at(&f), last + 60);
        ctx.now = first - 3600;
        assert_eq!(ctx.written_at(&f), first);
    }

    #[test]
    fn cuts_keep_char_boundaries() {
        assert_eq!(cut_chars("ééé", 3), "ééé");
        assert_eq!(cut_chars("éééé", 3), "éé…");
        let c = cut_bytes("ééé", 5);
        assert!(c.len() <= 5, "{c}");
        assert_eq!(c, "é…");
        assert_eq!(cut_bytes("abc", 3), "abc");
    }

    #[test]
    fn techniques_get_parents_names_and_tactics() {
        let f = finding();
        let t = techniques(&f);
        assert_eq!(t.len(), 3, "{t:?}");
        assert_eq!(t[0].uid, "T1078");
        assert_eq!(t[0].parent, None);
        assert_eq!(t[0].tactic, Some(("TA0001", "Initial Access")));
        assert_eq!(t[1].uid, "T1078.004");
        assert_eq!(t[1].parent.as_deref(), Some("T1078"));
        assert_eq!(t[1].name, Some("Cloud Accounts"));
        assert_eq!(t[1].parent_name, Some("Valid Accounts"));
        assert_eq!(t[2].uid, "AML.T0012");
        assert_eq!(t[2].tactic, Some(("AML.TA0004", "Initial Access")));
        assert_eq!(aws_technique_ids(&f), ["T1496.A007"]);
        assert!(is_mitre("AML.T0008.000") && is_mitre("T1562.008"));
        assert!(!is_mitre("T1496.A007") && !is_mitre("T99") && !is_mitre("T1078.04"));
        let mut u = f.clone();
        u.attack = vec!["T1999.001".into()];
        u.atlas.clear();
        let t = techniques(&u);
        assert_eq!(
            (t[0].name, t[0].tactic, t[0].parent.as_deref()),
            (None, None, Some("T1999"))
        );
    }
}
