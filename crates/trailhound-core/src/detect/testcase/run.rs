//! Runs `[[test]]` cases: each case gets a fresh engine holding only its detector; its
//! records are written into a CloudTrail file (`{"Records":[…]}`) and an invocation log
//! (JSON Lines) under real log keys, decoded by the real decoder, and applied in event-time
//! order, five minutes of events per object, as the drivers apply delivered files.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Expect, TestCase};
use crate::activity::{Activity, Normalizer, decode_object};
use crate::detect::spec::{Spec, SpecError};
use crate::detect::{Engine, engine::merge_by_id};
use crate::finding::Finding;
use crate::geo::Geo;
use crate::ingest::{ObjectRef, classify};
use crate::record::Limits;
use crate::state::States;

/// The learning period of a case that does not set one (the CLI's default).
pub const LEARNING: i64 = 7 * 86_400;
/// The account of the synthesized log keys.
const ACCOUNT: &str = "111122223333";
/// Events per applied object (the drivers apply one delivered file at a time).
const OBJECT_SECS: i64 = 300;

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub detector: String,
    pub name: String,
    /// `Err` says why the case failed.
    pub outcome: Result<(), String>,
}

/// The error for a detector without cases.
pub fn no_tests(file: &str) -> SpecError {
    SpecError {
        file: file.into(),
        field: "test".into(),
        reason: "no [[test]] cases: add one that fires and one that stays quiet".into(),
    }
}

/// One line of `trailhound detectors test` for a file: its cases, or why it cannot run.
pub enum FileResult {
    Cases(Vec<CaseResult>),
    Invalid(SpecError),
}

/// Runs the cases of every file of `overrides` merged over the embedded detectors by id
/// (`enabled = false` files remove one; nothing to run for them).
pub fn run_merged(overrides: &[(String, String)], geo: &Geo) -> Vec<FileResult> {
    let (files, errors) = merge_by_id(crate::detect::DEFAULTS, overrides);
    let mut out: Vec<FileResult> = errors.into_iter().map(FileResult::Invalid).collect();
    for (file, text) in &files {
        out.push(match run_file(file, text, geo) {
            Ok(cases) => FileResult::Cases(cases),
            Err(e) => FileResult::Invalid(e),
        });
    }
    out
}

/// Runs every case of one detector file; a file that does not load, or has no case, is an error.
pub fn run_file(file: &str, text: &str, geo: &Geo) -> Result<Vec<CaseResult>, SpecError> {
    let spec = Spec::parse(file, text)?;
    if spec.tests.is_empty() {
        return Err(no_tests(file));
    }
    // The whole file must compile (kind, params, suppressions) before any case runs.
    Engine::from_files(&[(file.to_string(), text.to_string())], LEARNING)
        .map_err(|e| e.0.into_iter().next().unwrap_or_else(|| no_tests(file)))?;
    Ok(spec
        .tests
        .iter()
        .map(|case| CaseResult {
            detector: spec.id.clone(),
            name: case.name.clone(),
            outcome: run_case(file, text, case, geo),
        })
        .collect())
}

/// Runs one case against the detector in `text`.
pub fn run_case(file: &str, text: &str, case: &TestCase, geo: &Geo) -> Result<(), String> {
    let files = [(file.to_string(), text.to_string())];
    let learning = case.learning.unwrap_or(LEARNING);
    let spec = crate::detect::Spec::parse(file, text).map_err(|e| e.to_string())?;
    // A detector that reads findings is tested with the shipped detectors that raise them.
    let engine = if spec.kind == "finding-chain" {
        Engine::merged(&files, learning)
    } else {
        Engine::from_files(&files, learning)
    }
    .map_err(|e| e.to_string())?;
    let acts = decode(case, geo, engine.paths())?;
    let mut findings = apply(&engine, &acts);
    findings.retain(|f| f.detector == spec.id);
    check(case, &findings)
}

/// The case's records through the real decoder: activities in event-time order.
fn decode(
    case: &TestCase,
    geo: &Geo,
    paths: std::sync::Arc<crate::record::cloudtrail::Paths>,
) -> Result<Vec<Activity>, String> {
    let mut ct = Vec::new();
    let mut inv = Vec::new();
    for (n, (t, rec)) in case.records().into_iter().enumerate() {
        let mut rec = rec.clone();
        let time = Value::String(crate::time::format(t));
        if rec.contains_key("schemaType") {
            rec.insert("timestamp".into(), time);
            fill(&mut rec, "requestId", n, t);
            inv.push(Value::Object(rec));
        } else {
            rec.insert("eventTime".into(), time);
            fill(&mut rec, "eventID", n, t);
            fill(&mut rec, "requestID", n, t);
            ct.push(Value::Object(rec));
        }
    }
    let stamp = crate::time::format(super::START);
    let (day, hm) = (
        stamp[..10].replace('-', ""),
        &stamp[11..16].replace(':', ""),
    );
    let folder = stamp[..10].replace('-', "/");
    let mut objects = Vec::new();
    if !ct.is_empty() {
        let key = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{folder}/{ACCOUNT}_CloudTrail_us-east-1_{day}T{hm}Z_test.json"
        );
        objects.push((key, json!({ "Records": ct }).to_string(), ct.len()));
    }
    if !inv.is_empty() {
        let key = format!(
            "AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/us-east-1/{folder}/{}/{day}T{hm}00Z_test.json",
            &hm[..2]
        );
        let mut body = String::new();
        for r in &inv {
            body.push_str(&r.to_string());
            body.push('\n');
        }
        objects.push((key, body, inv.len()));
    }
    let mut acts = Vec::new();
    for (key, body, given) in objects {
        let object = ObjectRef::local(key.clone());
        let mut norm = Normalizer::new(geo).with_paths(paths.clone());
        let decoded = decode_object(
            &object,
            classify(&key),
            body.as_bytes(),
            &Limits::default(),
            &mut norm,
            &mut acts,
        )
        .map_err(|e| format!("the decoder refused the records: {e}"))?;
        if decoded.bad_total() > 0 || decoded.records != given as u64 {
            let why: Vec<String> = decoded
                .bad
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect();
            return Err(format!(
                "the decoder read {} of {given} records ({}): check the records' fields",
                decoded.records,
                why.join(", ")
            ));
        }
    }
    for a in &mut acts {
        if let Some((_, c)) = case
            .countries
            .iter()
            .find(|(ip, _)| Some(*ip) == a.source_ip)
        {
            a.country = Some(*c);
        }
    }
    acts.sort_by_key(|a| a.time);
    Ok(acts)
}

/// Sets `field` to a unique id unless the record has one.
/// Gives the record a unique `field` unless it has one; a `{t}` in a given one becomes the
/// event time, so a CloudTrail call and its invocation-log record written at the same offset
/// share a request id (`requestID = "req-{t}"`, `"requestId": "req-{t}"`).
fn fill(rec: &mut Map<String, Value>, field: &str, n: usize, t: i64) {
    match rec.get_mut(field) {
        Some(Value::String(s)) if s.contains("{t}") => *s = s.replace("{t}", &t.to_string()),
        Some(_) => {}
        None => {
            rec.insert(field.into(), Value::String(format!("test-{n:08}")));
        }
    }
}

/// Applies activities as objects of [`OBJECT_SECS`] of event time; returns the latest
/// version of every finding, ordered by first seen then id.
fn apply(engine: &Engine, acts: &[Activity]) -> Vec<Finding> {
    let mut states = States::default();
    let mut latest: BTreeMap<String, Finding> = BTreeMap::new();
    for chunk in
        acts.chunk_by(|a, b| a.time.div_euclid(OBJECT_SECS) == b.time.div_euclid(OBJECT_SECS))
    {
        let t = chunk[0].time.div_euclid(OBJECT_SECS) * OBJECT_SECS;
        let object = ObjectRef::local(format!("test/{}.json", crate::time::format(t)));
        for f in engine.apply(&mut states, chunk, &object) {
            latest.insert(f.id.clone(), f);
        }
    }
    let mut out: Vec<Finding> = latest.into_values().collect();
    out.sort_by(|a, b| (&a.first_seen, &a.id).cmp(&(&b.first_seen, &b.id)));
    out
}

fn check(case: &TestCase, findings: &[Finding]) -> Result<(), String> {
    match (case.expect, findings.first()) {
        (Expect::Quiet, None) => Ok(()),
        (Expect::Quiet, Some(f)) => Err(format!(
            "expected no finding, got {}: {}",
            findings.len(),
            f.title
        )),
        (Expect::Fires, None) => Err(format!(
            "expected a finding, got none from {} records",
            case.event_count()
        )),
        (Expect::Fires, Some(f)) => {
            let value = serde_json::to_value(f).map_err(|e| e.to_string())?;
            let mut wrong = Vec::new();
            for (path, want) in &case.expect_fields {
                let got = path
                    .split('.')
                    .try_fold(&value, |v, k| v.get(k))
                    .cloned()
                    .unwrap_or(Value::Null);
                if !same(&got, want) {
                    wrong.push(format!("{path} is {got}, expected {want}"));
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(format!("the finding differs: {}", wrong.join("; ")))
            }
        }
    }
}

/// Equal, with numbers compared by value (`2000` equals `2000.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEO: &str = r#"
id = "geo-test"
type = "UnauthorizedAccess:IAMUser/UnusualGeoLocation"
severity = 6.0
kind = "new-value"
title = "{principal_name} made calls from {value}"
description = "d"

[match]
sources = ["cloudtrail"]

[params]
field = "country"

[[test]]
name = "a new country fires"
expect = "fires"
expect_fields = { count = 3, "evidence.value" = "RU", "evidence.baseline_values" = ["DE"], title = "alice made calls from RU" }
series = "1/h for 8d"
template = { eventSource = "sts.amazonaws.com", eventName = "GetCallerIdentity", awsRegion = "eu-central-1", sourceIPAddress = "87.150.34.112", userIdentity = { type = "IAMUser", arn = "arn:aws:iam::111122223333:user/alice", accountId = "111122223333" } }
events = [{ at = "+8d2h", repeat = 3, sourceIPAddress = "95.165.131.44" }]
countries = { "87.150.34.112" = "DE", "95.165.131.44" = "RU" }

[[test]]
name = "wrongly expected quiet"
expect = "quiet"
series = "1/h for 8d"
template = { eventSource = "sts.amazonaws.com", eventName = "GetCallerIdentity", sourceIPAddress = "87.150.34.112", userIdentity = { type = "IAMUser", arn = "arn:aws:iam::111122223333:user/alice" } }
events = [{ at = "+8d2h", sourceIPAddress = "95.165.131.44" }]
countries = { "87.150.34.112" = "DE", "95.165.131.44" = "RU" }

[[test]]
name = "records the decoder rejects"
expect = "quiet"
events = [{ eventName = "GetCallerIdentity" }]
"#;

    #[test]
    fn cases_run_through_the_decoder_and_engine() {
        let results = run_file("geo-test.toml", GEO, &Geo::none()).unwrap();
        let outcomes: Vec<(&str, &Result<(), String>)> = results
            .iter()
            .map(|r| (r.name.as_str(), &r.outcome))
            .collect();
        assert_eq!(outcomes[0], ("a new country fires", &Ok(())));
        assert_eq!(
            outcomes[1].1.as_ref().unwrap_err(),
            "expected no finding, got 1: alice made calls from RU"
        );
        let err = outcomes[2].1.as_ref().unwrap_err();
        assert!(
            err.starts_with("the decoder read 0 of 1 records (1 missing-field)"),
            "{err}"
        );
        // A field that differs is named with both values.
        let text = GEO.replace("count = 3,", "count = 4,");
        let r = run_file("geo-test.toml", &text, &Geo::none()).unwrap();
        assert_eq!(
            r[0].outcome,
            Err("the finding differs: count is 3, expected 4".into())
        );
    }

    #[test]
    fn files_without_cases_fail() {
        let text = GEO.split("[[test]]").next().unwrap();
        let e = run_file("x.toml", text, &Geo::none()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.toml: test: no [[test]] cases: add one that fires and one that stays quiet"
        );
    }

    #[test]
    fn the_shipped_detectors_pass_their_cases_and_carry_their_metadata() {
        for (file, text) in crate::detect::DEFAULTS {
            let spec = Spec::parse(file, text).unwrap();
            // ATT&CK, or ATLAS for what only AI systems have (jailbreaks: no ATT&CK id).
            assert!(
                !spec.attack.is_empty() || !spec.atlas.is_empty(),
                "{file}: attack or atlas"
            );
            assert!(!spec.references.is_empty(), "{file}: references");
            assert!(spec.false_positives.is_some(), "{file}: false_positives");
            assert!(spec.subject.is_some(), "{file}: subject");
            for want in [Expect::Fires, Expect::Quiet] {
                assert!(
                    spec.tests.iter().any(|c| c.expect == want),
                    "{file}: a {want:?} case"
                );
            }
            for r in run_file(file, text, &Geo::none()).unwrap() {
                assert_eq!(r.outcome, Ok(()), "{file}: {}", r.name);
            }
        }
    }
}
