//! A finding in the AWS Security Finding Format (ASFF, schema 2018-10-08) for Security Hub's
//! `BatchImportFindings` as a custom integration. The mapping, field by field, and what stays
//! unmapped: `schema/asff-mapping.md`. Its version, [`MAPPING_VERSION`], is written in
//! `ProductFields["trailhound/mapping"]`.

use serde_json::{Map, Value, json};

use super::output::{self, Level, OutputContext};
use crate::finding::Finding;

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// The version of this mapping (`ProductFields["trailhound/mapping"]`).
pub const MAPPING_VERSION: &str = "1";
/// Security Hub's limit on one finding in `BatchImportFindings`.
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_PRODUCT_FIELDS: usize = 50;
pub const MAX_PRODUCT_FIELD_KEY: usize = 128;
pub const MAX_PRODUCT_FIELD_VALUE: usize = 2048;
pub const MAX_RESOURCES: usize = 32;

/// `Severity.Label` and `Severity.Normalized`: the GuardDuty scale times ten, kept inside the
/// label's band (INFORMATIONAL 0, LOW 1–39, MEDIUM 40–69, HIGH 70–89, CRITICAL 90–100).
pub fn severity(sev: f64) -> (&'static str, u64) {
    let (label, lo, hi) = match Level::of(sev) {
        Level::Informational => ("INFORMATIONAL", 0, 0),
        Level::Low => ("LOW", 1, 39),
        Level::Medium => ("MEDIUM", 40, 69),
        Level::High => ("HIGH", 70, 89),
        Level::Critical => ("CRITICAL", 90, 100),
    };
    let n = (sev * 10.0).round();
    let n = if n.is_finite() { n.max(0.0) as u64 } else { 0 };
    (label, n.clamp(lo, hi))
}

/// ASFF `Types` namespace/category of a finding-type threat purpose (the part before `:`).
fn purpose_category(purpose: &str) -> &'static str {
    match purpose {
        "Backdoor" => "TTPs/Command and Control",
        "CredentialAccess" => "TTPs/Credential Access",
        "DefenseEvasion" | "Stealth" => "TTPs/Defense Evasion",
        "Discovery" | "Recon" | "PenTest" => "TTPs/Discovery",
        "Execution" => "TTPs/Execution",
        "Exfiltration" => "Effects/Data Exfiltration",
        "Impact" | "CryptoCurrency" | "ResourceConsumption" => "Effects/Resource Consumption",
        "InitialAccess" => "TTPs/Initial Access",
        "Persistence" => "TTPs/Persistence",
        "PrivilegeEscalation" => "TTPs/Privilege Escalation",
        "Policy" | "PolicyViolation" => "Software and Configuration Checks/Policy",
        "UnauthorizedAccess" => "Unusual Behaviors/User",
        _ => "Unusual Behaviors/User",
    }
}

/// ASFF `Types` namespace/category of an ATT&CK or ATLAS tactic (by name); `None` for an
/// Impact technique other than resource hijacking (no ASFF category says "manipulated").
fn tactic_category(tactic: &str, technique: &str) -> Option<&'static str> {
    Some(match tactic {
        "Initial Access" => "TTPs/Initial Access",
        "Execution" => "TTPs/Execution",
        "Persistence" => "TTPs/Persistence",
        "Privilege Escalation" => "TTPs/Privilege Escalation",
        "Defense Evasion" => "TTPs/Defense Evasion",
        "Credential Access" => "TTPs/Credential Access",
        "Discovery" => "TTPs/Discovery",
        "Lateral Movement" => "TTPs/Lateral Movement",
        "Collection" => "TTPs/Collection",
        "Command and Control" => "TTPs/Command and Control",
        "Exfiltration" => "Effects/Data Exfiltration",
        "Impact" if technique.starts_with("T1496") || technique == "AML.T0034" => {
            "Effects/Resource Consumption"
        }
        _ => return None,
    })
}

/// `Types`: first `<category>/<finding type>` (GuardDuty's shape: the type with `/` as `-`),
/// then one `<category>` per distinct tactic of the detector's techniques.
pub fn types(f: &Finding) -> Vec<String> {
    let purpose = f.finding_type.split(':').next().unwrap_or("");
    let mut out = vec![format!(
        "{}/{}",
        purpose_category(purpose),
        f.finding_type.replace('/', "-")
    )];
    for t in output::techniques(f) {
        if let Some(c) = t.tactic.and_then(|(_, name)| tactic_category(name, &t.uid))
            && !out
                .iter()
                .any(|o| o == c || o.starts_with(&format!("{c}/")))
        {
            out.push(c.to_string());
        }
    }
    out
}

fn rfc3339(t: i64) -> String {
    crate::time::format(t)
}

/// The principal as a resource: an IAM user, the role of an assumed role, the account of
/// its root, or Other.
fn principal_resource(f: &Finding) -> Value {
    let p = output::partition(&f.region);
    let (ty, id) = match f.principal_type.as_str() {
        "IAMUser" => ("AwsIamUser", f.principal.clone()),
        "AssumedRole" if f.principal_key.contains(":role/") => {
            ("AwsIamRole", f.principal_key.clone())
        }
        "Root" => ("AwsAccount", format!("AWS::::Account:{}", f.account)),
        _ => (
            "Other",
            if f.principal.is_empty() {
                f.principal_key.clone()
            } else {
                f.principal.clone()
            },
        ),
    };
    json!({"Type": ty, "Id": id, "Partition": p, "Region": f.region})
}

fn resources(f: &Finding) -> Vec<Value> {
    let p = output::partition(&f.region);
    let mut out = vec![principal_resource(f)];
    for b in output::buckets(f) {
        out.push(json!({
            "Type": "AwsS3Bucket", "Id": output::bucket_arn(&f.region, &b),
            "Partition": p, "Region": f.region,
        }));
    }
    for m in output::models(f) {
        out.push(json!({
            "Type": "Other", "Id": output::model_arn(f, &m), "Partition": p, "Region": f.region,
            "Details": {"Other": {"ModelId": output::cut_bytes(&m, MAX_PRODUCT_FIELD_VALUE)}},
        }));
    }
    out.truncate(MAX_RESOURCES);
    out
}

/// Evidence as string → string pairs: nested keys joined with `/`, lists of scalars joined
/// with `, `, numbers and booleans as written in JSON.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}/{k}"), v, out);
            }
        }
        Value::Array(a) if a.iter().all(|v| scalar(v).is_some()) => {
            let parts: Vec<String> = a.iter().filter_map(scalar).collect();
            out.push((prefix.to_string(), parts.join(", ")));
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}/{i}"), v, out);
            }
        }
        other => out.push((prefix.to_string(), scalar(other).unwrap_or_default())),
    }
}

/// `ProductFields`: trailhound's own fields first, then the flattened evidence; at most 50
/// pairs, keys cut to 128 characters, values to 2 KB.
fn product_fields(f: &Finding) -> Vec<(String, String)> {
    let mut pairs = vec![
        (
            "trailhound/mapping".to_string(),
            format!("asff/{MAPPING_VERSION}"),
        ),
        ("trailhound/detector".to_string(), f.detector.clone()),
        ("trailhound/type".to_string(), f.finding_type.clone()),
        ("trailhound/severity".to_string(), f.severity.to_string()),
        ("trailhound/principal".to_string(), f.principal.clone()),
        (
            "trailhound/principal_key".to_string(),
            f.principal_key.clone(),
        ),
        (
            "trailhound/principal_type".to_string(),
            f.principal_type.clone(),
        ),
        ("trailhound/count".to_string(), f.count.to_string()),
    ];
    if !f.attack.is_empty() {
        pairs.push(("trailhound/attack".into(), f.attack.join(", ")));
    }
    if !f.atlas.is_empty() {
        pairs.push(("trailhound/atlas".into(), f.atlas.join(", ")));
    }
    let mut ev = Vec::new();
    for (k, v) in &f.evidence {
        flatten(&format!("trailhound/evidence/{k}"), v, &mut ev);
    }
    pairs.extend(ev);
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .take(MAX_PRODUCT_FIELDS)
        .map(|(k, v)| {
            (
                output::cut_chars(&k, MAX_PRODUCT_FIELD_KEY),
                output::cut_bytes(&v, MAX_PRODUCT_FIELD_VALUE),
            )
        })
        .collect()
}

fn network(f: &Finding) -> Option<Value> {
    let ip = output::source_ips(f).into_iter().next()?;
    let key = if ip.is_ipv4() {
        "SourceIpV4"
    } else {
        "SourceIpV6"
    };
    Some(json!({"Direction": "IN", key: ip.to_string()}))
}

/// The finding as one ASFF finding for `BatchImportFindings`. The product ARN names the
/// importing account and region (`ctx`, else the finding's). `UpdatedAt` is the writer clock
/// (`ctx.now`, else the last activity); re-importing the same `Id` with a later `UpdatedAt`
/// updates the finding in Security Hub.
pub fn to_asff(f: &Finding, ctx: &OutputContext) -> Value {
    to_asff_within(f, ctx, MAX_FINDING_BYTES)
}

fn to_asff_within(f: &Finding, ctx: &OutputContext, max_bytes: usize) -> Value {
    let account = ctx.account.as_deref().unwrap_or(&f.account);
    let region = ctx.region.as_deref().unwrap_or(&f.region);
    let (label, normalized) = severity(f.severity);
    let types = types(f);
    let created = crate::time::parse(&f.first_seen).unwrap_or(0);
    let last = crate::time::parse(&f.last_seen).unwrap_or(created);
    let mut out = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f.id,
        "ProductArn": format!(
            "arn:{}:securityhub:{region}:{account}:product/{account}/default",
            output::partition(region)
        ),
        "ProductName": "trailhound",
        "CompanyName": "trailhound",
        "GeneratorId": f.detector,
        "AwsAccountId": f.account,
        "Region": f.region,
        "Types": types,
        "CreatedAt": rfc3339(created),
        "UpdatedAt": rfc3339(ctx.written_at(f)),
        "FirstObservedAt": rfc3339(created),
        "LastObservedAt": rfc3339(last),
        "Severity": {"Label": label, "Normalized": normalized, "Original": f.severity.to_string()},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": f.severity.to_string()},
            "Types": types,
        },
        "Title": output::cut_chars(&f.title, MAX_TITLE_CHARS),
        "Description": output::cut_chars(&f.description, MAX_DESCRIPTION_CHARS),
        "Resources": resources(f),
        "RecordState": "ACTIVE",
    });
    if let Some(n) = network(f) {
        out["Network"] = n;
    }
    let mut fields = product_fields(f);
    let size = |out: &Value, fields: &[(String, String)]| {
        let m: Map<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        out.to_string().len() + Value::Object(m).to_string().len() + r#","ProductFields":"#.len()
    };
    // Over the limit: drop evidence fields from the end, then shorten the description.
    while size(&out, &fields) > max_bytes && !fields.is_empty() {
        fields.pop();
    }
    loop {
        let over = size(&out, &fields).saturating_sub(max_bytes);
        let d = out["Description"].as_str().unwrap_or("").to_string();
        if over == 0 || d.len() <= 3 {
            break;
        }
        out["Description"] = json!(output::cut_bytes(&d, d.len().saturating_sub(over).max(3)));
    }
    if !fields.is_empty() {
        out["ProductFields"] = Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    out
}

/// One ASFF object per line.
pub fn jsonl(findings: &[Finding], ctx: &OutputContext) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&to_asff(f, ctx).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::output::tests::finding;

    #[test]
    fn the_required_fields_follow_the_finding_and_the_importer() {
        let f = finding();
        let v = to_asff(&f, &OutputContext::default());
        assert_eq!(v["SchemaVersion"], "2018-10-08");
        assert_eq!(v["Id"], f.id);
        assert_eq!(
            v["ProductArn"],
            "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default"
        );
        assert_eq!(v["GeneratorId"], "impossible-travel");
        assert_eq!(v["AwsAccountId"], "111122223333");
        assert_eq!(v["CreatedAt"], "2026-10-09T10:02:07Z");
        assert_eq!(v["FirstObservedAt"], "2026-10-09T10:02:07Z");
        assert_eq!(v["LastObservedAt"], "2026-10-09T14:08:25Z");
        assert_eq!(v["UpdatedAt"], "2026-10-09T14:08:25Z");
        assert_eq!(
            v["Severity"],
            json!({"Label": "HIGH", "Normalized": 70, "Original": "7"})
        );
        assert_eq!(v["FindingProviderFields"]["Severity"]["Label"], "HIGH");
        assert_eq!(
            v["Types"],
            json!([
                "Unusual Behaviors/User/UnauthorizedAccess:IAMUser-ImpossibleTravel",
                "TTPs/Initial Access"
            ])
        );
        assert_eq!(v["FindingProviderFields"]["Types"], v["Types"]);
        assert_eq!(
            v["Network"],
            json!({"Direction": "IN", "SourceIpV4": "95.165.131.44"})
        );
        let ctx = OutputContext {
            account: Some("999988887777".into()),
            region: Some("eu-west-1".into()),
            now: 1_791_600_000,
            update: true,
        };
        let v = to_asff(&f, &ctx);
        assert_eq!(
            v["ProductArn"],
            "arn:aws:securityhub:eu-west-1:999988887777:product/999988887777/default"
        );
        assert_eq!(v["AwsAccountId"], "111122223333");
        assert_eq!(v["UpdatedAt"], "2026-10-10T02:40:00Z");
        assert_eq!(v["CreatedAt"], "2026-10-09T10:02:07Z");
    }

    #[test]
    fn types_add_each_tactic_category_once() {
        let mut f = finding();
        f.finding_type = "Exfiltration:S3/TrainingDataAccess".into();
        f.attack = vec!["T1530".into(), "T1537".into(), "T1496.004".into()];
        f.atlas = vec!["AML.T0025".into()];
        assert_eq!(
            types(&f),
            [
                "Effects/Data Exfiltration/Exfiltration:S3-TrainingDataAccess",
                "TTPs/Collection",
                "Effects/Resource Consumption",
            ]
        );
    }

    #[test]
    fn normalized_stays_in_the_label_band() {
        assert_eq!(severity(0.0), ("INFORMATIONAL", 0));
        assert_eq!(severity(0.01), ("LOW", 1));
        assert_eq!(severity(3.9), ("LOW", 39));
        assert_eq!(severity(3.99), ("LOW", 39));
        assert_eq!(severity(4.0), ("MEDIUM", 40));
        assert_eq!(severity(6.99), ("MEDIUM", 69));
        assert_eq!(severity(7.5), ("HIGH", 75));
        assert_eq!(severity(8.96), ("HIGH", 89));
        assert_eq!(severity(9.0), ("CRITICAL", 90));
        assert_eq!(severity(10.0), ("CRITICAL", 100));
        assert_eq!(severity(12.0), ("CRITICAL", 100));
    }

    #[test]
    fn resources_are_the_principal_buckets_and_models() {
        let mut f = finding();
        let v = to_asff(&f, &OutputContext::default());
        let r: Vec<(&str, &str)> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["Type"].as_str().unwrap(), r["Id"].as_str().unwrap()))
            .collect();
        assert_eq!(
            r,
            [
                ("AwsIamUser", "arn:aws:iam::111122223333:user/alice"),
                ("AwsS3Bucket", "arn:aws:s3:::acme-ml-training-data"),
                (
                    "Other",
                    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"
                ),
                (
                    "Other",
                    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"
                ),
            ]
        );
        f.principal_type = "AssumedRole".into();
        f.principal = "arn:aws:sts::111122223333:assumed-role/bot/s1".into();
        f.principal_key = "arn:aws:iam::111122223333:role/bot".into();
        let v = to_asff(&f, &OutputContext::default());
        assert_eq!(v["Resources"][0]["Type"], "AwsIamRole");
        assert_eq!(
            v["Resources"][0]["Id"],
            "arn:aws:iam::111122223333:role/bot"
        );
    }

    #[test]
    fn product_fields_flatten_the_evidence_within_limits() {
        let mut f = finding();
        let v = to_asff(&f, &OutputContext::default());
        let pf = v["ProductFields"].as_object().unwrap();
        assert_eq!(pf["trailhound/mapping"], "asff/1");
        assert_eq!(
            pf["trailhound/evidence/source_ips"],
            "95.165.131.44, bedrock.amazonaws.com"
        );
        assert_eq!(pf["trailhound/evidence/from/country"], "DE");
        assert_eq!(pf["trailhound/attack"], "T1078, T1078.004, T1496.A007");
        f.evidence.clear();
        for i in 0..80 {
            f.evidence.insert(
                format!("k{i:02}{}", "x".repeat(200)),
                json!("é".repeat(3000)),
            );
        }
        let v = to_asff(&f, &OutputContext::default());
        let pf = v["ProductFields"].as_object().unwrap();
        assert_eq!(pf.len(), 50);
        for (k, val) in pf {
            assert!(k.chars().count() <= 128, "{k}");
            assert!(val.as_str().unwrap().len() <= 2048);
        }
        assert!(v.to_string().len() <= MAX_FINDING_BYTES);
    }

    #[test]
    fn long_text_is_cut_and_an_oversized_finding_is_trimmed() {
        let mut f = finding();
        f.title = "t".repeat(300);
        f.description = "ü".repeat(2000);
        let v = to_asff(&f, &OutputContext::default());
        assert_eq!(v["Title"].as_str().unwrap().chars().count(), 256);
        assert_eq!(v["Description"].as_str().unwrap().chars().count(), 1024);
        let full = v.to_string().len();
        let mut bare = v.clone();
        bare.as_object_mut().unwrap().remove("ProductFields");
        let bare = bare.to_string().len();
        // A budget 100 bytes short of the whole drops evidence fields only.
        let v = to_asff_within(&f, &OutputContext::default(), full - 100);
        assert!(v.to_string().len() <= full - 100);
        assert!(v["ProductFields"].as_object().unwrap().len() > 5);
        assert_eq!(v["Description"].as_str().unwrap().chars().count(), 1024);
        // A budget under the finding without fields drops them all, then cuts the description.
        let v = to_asff_within(&f, &OutputContext::default(), bare - 500);
        let n = v.to_string().len();
        assert!(n <= bare - 500 && n >= bare - 530, "{n} {bare}");
        assert!(v.get("ProductFields").is_none());
        let d = v["Description"].as_str().unwrap();
        assert!(d.ends_with('…') && d.chars().count() < 1024, "{}", d.len());
    }
}
