//! `replay --format ocsf` and `--format asff` on the sample archive: one object per expected
//! finding, each valid. OCSF against the Detection Finding class of the OCSF 1.8.0 schema
//! extracted under `schema/ocsf/` (offline); ASFF against Security Hub's required fields,
//! types and limits for `BatchImportFindings`.

use crate::support::common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use trailhound_core::alert::Finding;

/// Runs `trailhound replay --format <format> samples/` for each format at once (one child
/// process each) and parses their lines.
fn replay(formats: &[&str]) -> Vec<Vec<Value>> {
    let geo = common::geoip();
    let children: Vec<_> = formats
        .iter()
        .map(|format| {
            Command::new(env!("CARGO_BIN_EXE_trailhound"))
                .args(["replay", "--no-progress", "--format", format])
                .args(["--geoip", geo.to_str().unwrap(), "samples/"])
                .current_dir(common::repo())
                .env("NO_COLOR", "1")
                .env_remove("AWS_LAMBDA_RUNTIME_API")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the binary runs")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        })
        .collect()
}

/// The output objects by the id that `id` picks, each id once.
fn by_id(got: Vec<Value>, id: impl Fn(&Value) -> &Value) -> BTreeMap<String, Value> {
    let n = got.len();
    let map: BTreeMap<String, Value> = got
        .into_iter()
        .map(|v| (id(&v).as_str().expect("an id").to_string(), v))
        .collect();
    assert_eq!(map.len(), n, "an id repeats");
    map
}

/// The extracted OCSF schema: the class, its objects and scalar types.
struct Ocsf {
    version: String,
    class: Map<String, Value>,
    objects: Map<String, Value>,
    types: Map<String, Value>,
}

impl Ocsf {
    fn load() -> Ocsf {
        let path = common::repo().join("schema/ocsf/detection_finding-1.8.0.json");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        Ocsf {
            version: v["ocsf_version"].as_str().unwrap().to_string(),
            class: v["class"]["attributes"].as_object().unwrap().clone(),
            objects: v["objects"].as_object().unwrap().clone(),
            types: v["types"].as_object().unwrap().clone(),
        }
    }

    /// Every violation in `value` of the attribute definitions `defs` (the class or an
    /// object), `at_least_one` the object's constraint.
    fn check(
        &self,
        path: &str,
        defs: &Map<String, Value>,
        at_least_one: Option<&Value>,
        value: &Value,
        profiles: &[&str],
        errors: &mut Vec<String>,
    ) {
        let Some(obj) = value.as_object() else {
            errors.push(format!("{path}: not an object"));
            return;
        };
        let in_profile = |d: &Value| d["profile"].as_str().is_none_or(|p| profiles.contains(&p));
        for (name, d) in defs {
            if d["requirement"] == "required" && in_profile(d) && !obj.contains_key(name) {
                errors.push(format!("{path}.{name}: required, missing"));
            }
        }
        if let Some(names) = at_least_one.and_then(Value::as_array)
            && !names.iter().any(|n| obj.contains_key(n.as_str().unwrap()))
        {
            errors.push(format!("{path}: needs at least one of {names:?}"));
        }
        for (name, v) in obj {
            let p = format!("{path}.{name}");
            let Some(d) = defs.get(name) else {
                errors.push(format!("{p}: not an attribute of this class/object"));
                continue;
            };
            if !in_profile(d) {
                errors.push(format!(
                    "{p}: profile {} not in metadata.profiles",
                    d["profile"]
                ));
            }
            if d["is_array"] == true {
                match v.as_array() {
                    Some(a) if !a.is_empty() => {
                        for (i, e) in a.iter().enumerate() {
                            self.check_value(&format!("{p}[{i}]"), d, e, profiles, errors);
                        }
                    }
                    Some(_) => errors.push(format!("{p}: empty array")),
                    None => errors.push(format!("{p}: not an array")),
                }
            } else {
                self.check_value(&p, d, v, profiles, errors);
            }
        }
    }

    fn check_value(
        &self,
        path: &str,
        d: &Value,
        v: &Value,
        profiles: &[&str],
        errors: &mut Vec<String>,
    ) {
        let ty = d["type"].as_str().unwrap();
        if let Some(base) = self.types.get(ty).and_then(Value::as_str) {
            let ok = match base {
                "string_t" => v.as_str().is_some_and(|s| !s.is_empty()),
                "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
                "float_t" => v.is_number(),
                "boolean_t" => v.is_boolean(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: {v} is not a {ty}"));
            }
            if let Some(en) = d["enum"].as_array()
                && !en.iter().any(|e| Some(e.as_i64()) == Some(v.as_i64()))
            {
                errors.push(format!("{path}: {v} is not one of {en:?}"));
            }
        } else if ty == "object" {
            if !v.is_object() {
                errors.push(format!("{path}: not an object"));
            }
        } else if let Some(o) = self.objects.get(ty) {
            let defs = o["attributes"].as_object().unwrap();
            self.check(path, defs, o.get("at_least_one"), v, profiles, errors);
        } else {
            errors.push(format!(
                "{path}: object `{ty}` is not in schema/ocsf (extract it from the OCSF release)"
            ));
        }
    }
}

/// One finding's OCSF object: valid against the extracted class, and saying what the
/// finding says.
fn check_ocsf(schema: &Ocsf, v: &Value, f: &Finding) {
    {
        let id = f.id.as_str();
        let profiles: Vec<&str> = v["metadata"]["profiles"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut errors = Vec::new();
        schema.check(
            f.detector.as_str(),
            &schema.class,
            None,
            v,
            &profiles,
            &mut errors,
        );
        assert!(errors.is_empty(), "{id} ({}): {errors:#?}", f.detector);

        // What the class fixes, and what the finding says.
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["category_uid"], 2);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["type_uid"], 200401);
        assert_eq!(v["metadata"]["version"], "1.8.0");
        assert_eq!(v["metadata"]["product"]["name"], "trailhound");
        let sev = match f.severity_label.as_str() {
            "Low" => 2,
            "Medium" => 3,
            "High" => 4,
            "Critical" => 5,
            other => panic!("label {other}"),
        };
        assert_eq!(v["severity_id"], sev, "{id}");
        assert_eq!(v["finding_info"]["title"], f.title.as_str());
        assert_eq!(v["finding_info"]["types"][0], f.finding_type.as_str());
        assert_eq!(v["cloud"]["account"]["uid"], f.account.as_str());
        assert_eq!(v["cloud"]["region"], f.region.as_str());
        assert_eq!(v["actor"]["user"]["uid"], f.principal.as_str());
        let first = trailhound_core::time::parse(&f.first_seen).unwrap() * 1000;
        let last = trailhound_core::time::parse(&f.last_seen).unwrap() * 1000;
        assert_eq!(v["finding_info"]["first_seen_time"], first);
        assert_eq!(v["finding_info"]["last_seen_time"], last);
        assert_eq!(
            v["time"], last,
            "replay writes each finding at its last activity"
        );
        let techniques = f
            .attack
            .iter()
            .chain(&f.atlas)
            .filter(|t| !t.contains(".A"));
        assert_eq!(
            v["finding_info"]["attacks"].as_array().map_or(0, Vec::len),
            techniques.count(),
            "{id}: one attack per MITRE technique"
        );
        // Addresses and buckets of the evidence reach the endpoints and resources.
        let ips: Vec<&str> = v["evidences"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["src_endpoint"]["ip"].as_str())
            .collect();
        let want_ips: Vec<&str> = f
            .evidence
            .get("source_ips")
            .and_then(Value::as_array)
            .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
        assert_eq!(ips, want_ips, "{id}");
        if let Some(b) = f.evidence.get("bucket").and_then(Value::as_str) {
            assert_eq!(v["resources"][0]["uid"], format!("arn:aws:s3:::{b}"));
        }
    }
}

const NAMESPACES: [&str; 5] = [
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
];

fn is_time(v: &Value) -> bool {
    v.as_str().and_then(trailhound_core::time::parse).is_some()
}

/// Security Hub's rules for one imported finding; returns the violations.
fn asff_errors(v: &Value) -> Vec<String> {
    let mut e = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            e.push(what.to_string());
        }
    };
    let s = |k: &str| v[k].as_str().unwrap_or("");
    for k in [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Title",
        "Description",
    ] {
        need(!s(k).is_empty(), &format!("{k}: a non-empty string"));
    }
    need(
        s("SchemaVersion") == "2018-10-08",
        "SchemaVersion 2018-10-08",
    );
    need(
        s("Id").len() <= 512 && s("GeneratorId").len() <= 512,
        "Id/GeneratorId ≤ 512",
    );
    need(
        s("AwsAccountId").len() == 12 && s("AwsAccountId").bytes().all(|b| b.is_ascii_digit()),
        "AwsAccountId: 12 digits",
    );
    let arn: Vec<&str> = s("ProductArn").split(':').collect();
    need(
        arn.len() == 6
            && arn[0] == "arn"
            && arn[2] == "securityhub"
            && arn[5] == format!("product/{}/default", arn[4]),
        "ProductArn: arn:<partition>:securityhub:<region>:<account>:product/<account>/default",
    );
    for k in [
        "CreatedAt",
        "UpdatedAt",
        "FirstObservedAt",
        "LastObservedAt",
    ] {
        need(is_time(&v[k]), &format!("{k}: an RFC 3339 time"));
    }
    need(s("CreatedAt") <= s("UpdatedAt"), "CreatedAt ≤ UpdatedAt");
    need(
        s("FirstObservedAt") <= s("LastObservedAt"),
        "FirstObservedAt ≤ LastObservedAt",
    );
    need(s("Title").chars().count() <= 256, "Title ≤ 256 characters");
    need(
        s("Description").chars().count() <= 1024,
        "Description ≤ 1024 characters",
    );
    let types = v["Types"].as_array().cloned().unwrap_or_default();
    need(!types.is_empty() && types.len() <= 50, "Types: 1 to 50");
    for t in &types {
        let t = t.as_str().unwrap_or("");
        let ns = t.split('/').next().unwrap_or("");
        need(
            NAMESPACES.contains(&ns) && t.split('/').count() <= 3 && t.len() <= 128,
            &format!("Types: `{t}` is namespace[/category[/classifier]]"),
        );
    }
    need(
        v["FindingProviderFields"]["Types"] == v["Types"],
        "FindingProviderFields.Types",
    );
    let label = v["Severity"]["Label"].as_str().unwrap_or("");
    let n = v["Severity"]["Normalized"].as_u64();
    let band = match label {
        "INFORMATIONAL" => Some(0..=0),
        "LOW" => Some(1..=39),
        "MEDIUM" => Some(40..=69),
        "HIGH" => Some(70..=89),
        "CRITICAL" => Some(90..=100),
        _ => None,
    };
    need(
        band.zip(n).is_some_and(|(b, n)| b.contains(&n)),
        &format!("Severity: Normalized {n:?} in the band of {label}"),
    );
    need(
        v["FindingProviderFields"]["Severity"]["Label"] == label,
        "FindingProviderFields.Severity.Label",
    );
    let res = v["Resources"].as_array().cloned().unwrap_or_default();
    need(!res.is_empty() && res.len() <= 32, "Resources: 1 to 32");
    for r in &res {
        need(
            r["Type"].as_str().is_some_and(|t| !t.is_empty())
                && r["Id"].as_str().is_some_and(|t| !t.is_empty()),
            "Resources: Type and Id",
        );
    }
    if let Some(net) = v.get("Network") {
        let v4 = net["SourceIpV4"]
            .as_str()
            .map(|s| s.parse::<std::net::Ipv4Addr>().is_ok());
        let v6 = net["SourceIpV6"]
            .as_str()
            .map(|s| s.parse::<std::net::Ipv6Addr>().is_ok());
        need(
            v4.unwrap_or(true) && v6.unwrap_or(true) && (v4.is_some() || v6.is_some()),
            "Network: a valid SourceIpV4 or SourceIpV6",
        );
    }
    match v.get("ProductFields").map(|p| p.as_object()) {
        Some(Some(pf)) => {
            need(pf.len() <= 50, "ProductFields: at most 50");
            for (k, val) in pf {
                need(k.chars().count() <= 128, "ProductFields: keys ≤ 128");
                need(
                    val.as_str().is_some_and(|s| s.len() <= 2048),
                    &format!("ProductFields[{k}]: a string of at most 2 KB"),
                );
            }
        }
        Some(None) => need(false, "ProductFields: an object"),
        None => {}
    }
    need(v.to_string().len() <= 240 * 1024, "the finding ≤ 240 KB");
    e
}

/// One finding's ASFF object: importable, and saying what the finding says.
fn check_asff(v: &Value, f: &Finding) {
    {
        let id = f.id.as_str();
        let errors = asff_errors(v);
        assert!(errors.is_empty(), "{id} ({}): {errors:#?}", f.detector);
        assert_eq!(v["GeneratorId"], f.detector.as_str());
        assert_eq!(v["AwsAccountId"], f.account.as_str());
        assert_eq!(
            v["ProductArn"],
            format!(
                "arn:aws:securityhub:{}:{}:product/{}/default",
                f.region, f.account, f.account
            )
        );
        assert_eq!(v["Severity"]["Label"], f.severity_label.to_uppercase());
        assert_eq!(
            v["Severity"]["Normalized"],
            (f.severity * 10.0).round() as u64
        );
        assert_eq!(v["FirstObservedAt"], f.first_seen.as_str());
        assert_eq!(v["LastObservedAt"], f.last_seen.as_str());
        assert_eq!(
            v["ProductFields"]["trailhound/detector"],
            f.detector.as_str()
        );
        assert!(
            v["Types"][0]
                .as_str()
                .unwrap()
                .ends_with(&f.finding_type.replace('/', "-")),
            "{}",
            v["Types"]
        );
        let principal = &v["Resources"][0];
        match f.principal_type.as_str() {
            "IAMUser" => assert_eq!(principal["Type"], "AwsIamUser"),
            "AssumedRole" => assert_eq!(principal["Id"], f.principal_key.as_str()),
            _ => {}
        }
    }
}

#[test]
fn every_sample_finding_is_valid_ocsf_and_importable_asff() {
    let schema = Ocsf::load();
    assert_eq!(schema.version, "1.8.0");
    assert_eq!(trailhound_core::alert::ocsf::OCSF_VERSION, schema.version);
    let [jsonl, ocsf, asff]: [Vec<Value>; 3] =
        replay(&["jsonl", "ocsf", "asff"]).try_into().unwrap();
    let findings: Vec<Finding> = jsonl
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert!(findings.len() >= 5, "the samples raise findings");
    let ocsf = by_id(ocsf, |v| &v["finding_info"]["uid"]);
    let asff = by_id(asff, |v| &v["Id"]);
    let ids: Vec<&String> = findings.iter().map(|f| &f.id).collect();
    assert_eq!(ocsf.keys().collect::<Vec<_>>(), {
        let mut i = ids.clone();
        i.sort();
        i
    });
    assert_eq!(
        asff.keys().collect::<Vec<_>>(),
        ocsf.keys().collect::<Vec<_>>()
    );
    for f in &findings {
        check_ocsf(&schema, &ocsf[&f.id], f);
        check_asff(&asff[&f.id], f);
    }
}

#[test]
fn the_checks_catch_broken_output() {
    let ok = serde_json::json!({
        "SchemaVersion": "2018-10-08", "Id": "x", "GeneratorId": "d", "AwsAccountId": "111122223333",
        "ProductArn": "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
        "Title": "t", "Description": "d", "Types": ["TTPs/Discovery"],
        "FindingProviderFields": {"Types": ["TTPs/Discovery"], "Severity": {"Label": "LOW"}},
        "CreatedAt": "2026-10-09T10:00:00Z", "UpdatedAt": "2026-10-09T10:00:00Z",
        "FirstObservedAt": "2026-10-09T10:00:00Z", "LastObservedAt": "2026-10-09T10:00:00Z",
        "Severity": {"Label": "LOW", "Normalized": 39},
        "Resources": [{"Type": "Other", "Id": "x"}],
    });
    assert_eq!(asff_errors(&ok), Vec::<String>::new());
    let mut bad = ok.clone();
    bad["Severity"]["Normalized"] = 40.into();
    bad["Types"] = serde_json::json!(["Threats/Discovery"]);
    bad["ProductFields"] = serde_json::json!({"k": 1});
    assert_eq!(asff_errors(&bad).len(), 4, "{:?}", asff_errors(&bad));

    let schema = Ocsf::load();
    let mut errors = Vec::new();
    let v =
        serde_json::json!({"class_uid": 2004, "severity_id": 7, "actor": {"user": {}}, "foo": 1});
    schema.check("x", &schema.class, None, &v, &[], &mut errors);
    for want in [
        "x.activity_id: required, missing",
        "x.finding_info: required, missing",
        "x.metadata: required, missing",
        "x.severity_id: 7 is not one of",
        "x.foo: not an attribute",
        "x.actor: profile",
        "x.actor.user: needs at least one of",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want} not in {errors:#?}"
        );
    }
    assert!(
        !errors.iter().any(|e| e.contains("cloud")),
        "cloud is required by its profile only"
    );
}
