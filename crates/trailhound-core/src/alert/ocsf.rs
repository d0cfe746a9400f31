//! A finding as an OCSF Detection Finding (class 2004, category Findings), OCSF 1.8.0, for
//! data lakes and SIEMs (Amazon Security Lake takes this class). The mapping, field by field,
//! and what stays unmapped: `schema/ocsf-mapping.md`. Its version, [`MAPPING_VERSION`], is
//! written in `unmapped.trailhound_mapping` and moves whenever a field's meaning changes.

use serde_json::{Map, Value, json};

use super::output::{self, Level, OutputContext};
use crate::finding::Finding;

/// The OCSF schema release the output follows (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";
/// The version of this mapping (`unmapped.trailhound_mapping`).
pub const MAPPING_VERSION: &str = "1";
pub const CLASS_UID: u64 = 2004;
pub const CATEGORY_UID: u64 = 2;

/// OCSF `severity_id` and its caption, from the GuardDuty scale (see [`Level`]):
/// Informational 1, Low 2, Medium 3, High 4, Critical 5.
pub fn severity(sev: f64) -> (u64, &'static str) {
    match Level::of(sev) {
        Level::Informational => (1, "Informational"),
        Level::Low => (2, "Low"),
        Level::Medium => (3, "Medium"),
        Level::High => (4, "High"),
        Level::Critical => (5, "Critical"),
    }
}

fn ms(rfc3339: &str) -> Option<i64> {
    crate::time::parse(rfc3339).map(|s| s * 1000)
}

/// OCSF user `type_id` of a CloudTrail identity type: IAMUser is a User, Root an Admin,
/// AWSService and AWSAccount a Service; other types (AssumedRole, FederatedUser,
/// IdentityCenterUser, …) are Other (99) with the CloudTrail type in `type`.
fn user_type(principal_type: &str) -> (u64, &str) {
    match principal_type {
        "IAMUser" => (1, "User"),
        "Root" => (2, "Admin"),
        "AWSService" | "AWSAccount" => (4, "Service"),
        other => (99, other),
    }
}

fn account(uid: &str) -> Value {
    json!({"uid": uid, "type_id": 10, "type": "AWS Account"})
}

fn actor(f: &Finding) -> Value {
    let (type_id, type_name) = user_type(&f.principal_type);
    let mut user = json!({
        "uid": if f.principal.is_empty() { &f.principal_key } else { &f.principal },
        "name": output::principal_name(f),
        "type_id": type_id,
        "type": type_name,
        "account": account(&f.account),
    });
    if let [key] = output::access_keys(f).as_slice() {
        user["credential_uid"] = json!(key);
    }
    json!({ "user": user })
}

/// The detector as an OCSF analytic. Its kind is read from the evidence it left: a
/// `baseline` of percentiles (rate baselines) is Statistical (3), `baseline_values` or
/// `usual_readers` (values never seen, unusual readers) Behavioral (2), anything else a
/// Rule (1).
fn analytic(f: &Finding) -> Value {
    let (type_id, type_name) = if f.evidence.contains_key("baseline") {
        (3, "Statistical")
    } else if f.evidence.contains_key("baseline_values") || f.evidence.contains_key("usual_readers")
    {
        (2, "Behavioral")
    } else {
        (1, "Rule")
    };
    json!({"uid": f.detector, "name": f.detector, "type_id": type_id, "type": type_name})
}

fn attacks(f: &Finding) -> Vec<Value> {
    output::techniques(f)
        .into_iter()
        .map(|t| {
            let mut a = Map::new();
            let named = |uid: &str, name: Option<&str>| match name {
                Some(n) => json!({"uid": uid, "name": n}),
                None => json!({"uid": uid}),
            };
            match &t.parent {
                Some(p) => {
                    a.insert("technique".into(), named(p, t.parent_name));
                    a.insert("sub_technique".into(), named(&t.uid, t.name));
                }
                None => {
                    a.insert("technique".into(), named(&t.uid, t.name));
                }
            }
            if let Some((uid, name)) = t.tactic {
                a.insert("tactic".into(), json!({"uid": uid, "name": name}));
            }
            Value::Object(a)
        })
        .collect()
}

fn resources(f: &Finding) -> Vec<Value> {
    let mut out = Vec::new();
    for b in output::buckets(f) {
        out.push(json!({
            "uid": output::bucket_arn(&f.region, &b),
            "name": b,
            "type": "AWS::S3::Bucket",
            "cloud_partition": output::partition(&f.region),
        }));
    }
    for m in output::models(f) {
        out.push(json!({
            "uid": output::model_arn(f, &m),
            "name": m,
            "type": "AWS::Bedrock::Model",
            "region": f.region,
            "cloud_partition": output::partition(&f.region),
        }));
    }
    out
}

/// One evidence per source address (the actor calling from it), or one with the actor alone.
fn evidences(f: &Finding, actor: &Value) -> Vec<Value> {
    let ips = output::source_ips(f);
    if ips.is_empty() {
        return vec![json!({ "actor": actor })];
    }
    let country = output::country_of_single_ip(f);
    ips.iter()
        .map(|ip| {
            let mut ep = json!({ "ip": ip.to_string() });
            if let Some(c) = &country {
                ep["location"] = json!({ "country": c });
            }
            json!({ "actor": actor, "src_endpoint": ep })
        })
        .collect()
}

/// The finding as an OCSF 1.8.0 Detection Finding (`activity_id` 1 Create, or 2 Update when
/// `ctx.update`).
pub fn to_ocsf(f: &Finding, ctx: &OutputContext) -> Value {
    let (activity_id, activity) = if ctx.update {
        (2u64, "Update")
    } else {
        (1u64, "Create")
    };
    let (severity_id, severity) = severity(f.severity);
    let written = ctx.written_at(f) * 1000;
    let first = ms(&f.first_seen);
    let last = ms(&f.last_seen);
    let actor = actor(f);

    let mut info = json!({
        "uid": f.id,
        "title": f.title,
        "desc": f.description,
        "types": [f.finding_type],
        "analytic": analytic(f),
        "related_events_count": f.count,
    });
    if let Some(t) = first {
        info["first_seen_time"] = json!(t);
        info["created_time"] = json!(t);
    }
    if let Some(t) = last {
        info["last_seen_time"] = json!(t);
    }
    if ctx.update {
        info["modified_time"] = json!(written);
    }
    let attacks = attacks(f);
    if !attacks.is_empty() {
        info["attacks"] = json!(attacks);
    }
    let sources = output::data_sources(f);
    if !sources.is_empty() {
        info["data_sources"] = json!(sources);
    }
    let related: Vec<Value> = output::request_ids(f)
        .into_iter()
        .map(|r| json!({"uid": r, "type": "AWS request id"}))
        .collect();
    if !related.is_empty() {
        info["related_events"] = json!(related);
    }

    let mut unmapped = json!({
        "trailhound_mapping": MAPPING_VERSION,
        "schema_version": f.schema_version,
        "principal_key": f.principal_key,
        "severity": f.severity,
        "evidence": f.evidence,
        "sources": f.sources,
    });
    let aws_ids = output::aws_technique_ids(f);
    if !aws_ids.is_empty() {
        unmapped["aws_threat_technique_ids"] = json!(aws_ids);
    }

    let mut out = json!({
        "activity_id": activity_id,
        "activity_name": activity,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity}"),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "time": written,
        "message": if f.subject.is_empty() { &f.title } else { &f.subject },
        "count": f.count,
        "finding_info": info,
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "account": account(&f.account),
            "cloud_partition": output::partition(&f.region),
        },
        "actor": actor,
        "evidences": evidences(f, &actor),
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud", "host"],
            "product": {
                "name": "trailhound",
                "vendor_name": "trailhound",
                "version": env!("CARGO_PKG_VERSION"),
                "feature": {"uid": f.detector, "name": f.detector},
            },
            "uid": format!("{}-{}-{written}", f.id, activity_id),
            "logged_time": written,
        },
        "unmapped": unmapped,
    });
    if let Some(t) = first {
        out["start_time"] = json!(t);
    }
    if let Some(t) = last {
        out["end_time"] = json!(t);
    }
    let res = resources(f);
    if !res.is_empty() {
        out["resources"] = json!(res);
    }
    out
}

/// One OCSF object per line.
pub fn jsonl(findings: &[Finding], ctx: &OutputContext) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&to_ocsf(f, ctx).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::output::tests::finding;

    #[test]
    fn a_new_finding_maps_to_a_detection_finding_create() {
        let f = finding();
        let v = to_ocsf(&f, &OutputContext::default());
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["category_uid"], 2);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["type_uid"], 200401);
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["severity"], "High");
        assert_eq!(v["metadata"]["version"], "1.8.0");
        assert_eq!(v["metadata"]["product"]["name"], "trailhound");
        assert_eq!(
            v["metadata"]["product"]["version"],
            env!("CARGO_PKG_VERSION")
        );
        // No writer clock: the time of the finding's last activity, in milliseconds.
        assert_eq!(v["time"], 1_791_554_905_000i64);
        assert_eq!(v["metadata"]["logged_time"], v["time"]);
        assert_eq!(v["start_time"], 1_791_540_127_000i64);
        assert_eq!(v["finding_info"]["uid"], f.id);
        assert_eq!(v["finding_info"]["types"], json!([f.finding_type]));
        assert_eq!(v["finding_info"]["first_seen_time"], v["start_time"]);
        assert_eq!(v["finding_info"]["last_seen_time"], v["end_time"]);
        assert!(v["finding_info"].get("modified_time").is_none());
        assert_eq!(v["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(v["actor"]["user"]["uid"], f.principal);
        assert_eq!(v["actor"]["user"]["name"], "alice");
        assert_eq!(v["actor"]["user"]["type_id"], 1);
        assert_eq!(v["actor"]["user"]["credential_uid"], "AKIAR7K2M4QQJV5SXE3D");
        assert_eq!(
            v["finding_info"]["analytic"],
            json!({"uid": "impossible-travel", "name": "impossible-travel", "type_id": 1, "type": "Rule"})
        );
        let mut b = f.clone();
        b.evidence.insert("baseline".into(), json!({"p50": 1}));
        assert_eq!(
            to_ocsf(&b, &OutputContext::default())["finding_info"]["analytic"]["type_id"],
            3
        );
        b.evidence.remove("baseline");
        b.evidence.insert("baseline_values".into(), json!(["DE"]));
        assert_eq!(
            to_ocsf(&b, &OutputContext::default())["finding_info"]["analytic"]["type_id"],
            2
        );
        assert_eq!(v["unmapped"]["trailhound_mapping"], MAPPING_VERSION);
        assert_eq!(
            v["unmapped"]["aws_threat_technique_ids"],
            json!(["T1496.A007"])
        );
    }

    #[test]
    fn attacks_evidences_and_resources_come_from_the_evidence() {
        let v = to_ocsf(&finding(), &OutputContext::default());
        assert_eq!(
            v["finding_info"]["attacks"],
            json!([
                {"technique": {"uid": "T1078", "name": "Valid Accounts"},
                 "tactic": {"uid": "TA0001", "name": "Initial Access"}},
                {"technique": {"uid": "T1078", "name": "Valid Accounts"},
                 "sub_technique": {"uid": "T1078.004", "name": "Cloud Accounts"},
                 "tactic": {"uid": "TA0001", "name": "Initial Access"}},
                {"technique": {"uid": "AML.T0012", "name": "Valid Accounts"},
                 "tactic": {"uid": "AML.TA0004", "name": "Initial Access"}},
            ])
        );
        // The service name in source_ips is no address: one evidence, with its country.
        let ev = v["evidences"].as_array().unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(
            ev[0]["src_endpoint"],
            json!({"ip": "95.165.131.44", "location": {"country": "RU"}})
        );
        assert_eq!(ev[0]["actor"], v["actor"]);
        let res = v["resources"].as_array().unwrap();
        let uids: Vec<&str> = res.iter().map(|r| r["uid"].as_str().unwrap()).collect();
        assert_eq!(
            uids,
            [
                "arn:aws:s3:::acme-ml-training-data",
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
                "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"
            ]
        );
        assert_eq!(
            v["finding_info"]["related_events"],
            json!([{"uid": "b2bc4715-6d76-48b6-8d9c-c7a4cbeae75c", "type": "AWS request id"}])
        );
        assert_eq!(v["finding_info"]["data_sources"], json!(["AWS CloudTrail"]));
    }

    #[test]
    fn an_update_is_activity_2_at_the_writer_clock() {
        let f = finding();
        let ctx = OutputContext {
            now: 1_791_600_000,
            update: true,
            ..Default::default()
        };
        let v = to_ocsf(&f, &ctx);
        assert_eq!(v["activity_id"], 2);
        assert_eq!(v["activity_name"], "Update");
        assert_eq!(v["type_uid"], 200402);
        assert_eq!(v["time"], 1_791_600_000_000i64);
        assert_eq!(v["finding_info"]["modified_time"], 1_791_600_000_000i64);
        assert_eq!(v["metadata"]["uid"], format!("{}-2-1791600000000", f.id));
    }

    #[test]
    fn several_addresses_and_countries_stay_unpaired_and_other_identities_are_other() {
        let mut f = finding();
        f.evidence.insert(
            "source_ips".into(),
            json!(["95.165.131.44", "84.132.77.45"]),
        );
        f.evidence.insert("countries".into(), json!(["RU", "DE"]));
        f.evidence
            .insert("access_key_ids".into(), json!(["AKIA1", "AKIA2"]));
        f.principal_type = "AssumedRole".into();
        f.severity = 0.0;
        let v = to_ocsf(&f, &OutputContext::default());
        let ev = v["evidences"].as_array().unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1]["src_endpoint"], json!({"ip": "84.132.77.45"}));
        assert_eq!(v["actor"]["user"]["type_id"], 99);
        assert_eq!(v["actor"]["user"]["type"], "AssumedRole");
        assert!(v["actor"]["user"].get("credential_uid").is_none());
        assert_eq!(
            (v["severity_id"].as_u64(), v["severity"].as_str()),
            (Some(1), Some("Informational"))
        );
    }
}
