//! Detector behaviour on synthetic activity, through the engine: learning periods, baselines,
//! cooldowns, suppressions, and what must stay quiet.

use trailhound_core::activity::{Activity, Source};
use trailhound_core::alert::Finding;
use trailhound_core::detect::Engine;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::States;

const DAY: i64 = 86_400;
const T0: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z

fn act(t: i64, principal: &str, source: &str, name: &str) -> Activity {
    Activity {
        account: "111122223333".into(),
        event_source: source.into(),
        event_name: name.into(),
        source_ip: Some("3.218.54.201".parse().unwrap()),
        country: Some(*b"US"),
        user_agent: Some("aws-cli/2".into()),
        model_id: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
        ..Activity::new(t, Source::Cloudtrail, principal)
    }
}

struct Run {
    engine: Engine,
    states: States,
    /// Latest version of every finding, by id.
    findings: std::collections::BTreeMap<String, Finding>,
}

impl Run {
    fn new(files: &[(&str, &str)]) -> Self {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let engine = if files.is_empty() {
            Engine::defaults(7 * DAY).unwrap()
        } else {
            Engine::from_files(&files, 7 * DAY).unwrap()
        };
        Run {
            engine,
            states: States::default(),
            findings: Default::default(),
        }
    }

    /// Applies activities as one object; returns the findings it touched.
    fn apply(&mut self, mut acts: Vec<Activity>) -> Vec<Finding> {
        acts.sort_by_key(|a| a.time);
        let obj = ObjectRef::s3("archive", "AWSLogs/test.json.gz", "1");
        let touched = self.engine.apply(&mut self.states, &acts, &obj);
        for f in &touched {
            self.findings.insert(f.id.clone(), f.clone());
        }
        touched
    }
}

const BOT: &str = "arn:aws:sts::111122223333:assumed-role/support-bot-role/botocore-session-1";

fn invokes(from: i64, n: usize, spread: i64) -> Vec<Activity> {
    (0..n)
        .map(|i| {
            act(
                from + (i as i64 * spread) / n as i64,
                BOT,
                "bedrock.amazonaws.com",
                "InvokeModel",
            )
        })
        .collect()
}

/// Eight days of a diurnal app: ~4 calls per 15 minutes at night, 60 at the daily peak.
fn diurnal(run: &mut Run, days: i64) {
    for d in 0..days {
        for q in 0..96 {
            let hour = q / 4;
            let n = if (13..21).contains(&hour) { 60 } else { 4 };
            run.apply(invokes(T0 + d * DAY + q * 900, n, 890));
        }
    }
}

#[test]
fn invoke_spike_ignores_the_daily_peak_fires_on_a_night_burst_and_updates_within_cooldown() {
    let mut run = Run::new(&[]);
    diurnal(&mut run, 8);
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
    // Day 9, 03:00: 400 calls in ten minutes, at night.
    let t = T0 + 8 * DAY + 3 * 3600;
    let touched = run.apply(invokes(t, 400, 600));
    assert_eq!(touched.len(), 1);
    let f = &run.findings.values().next().unwrap().clone();
    assert_eq!(f.detector, "invoke-spike");
    // The hour's own profile (about 16 calls) decides: the relative floor of 100 applies.
    assert_eq!(f.evidence["seasonal"]["basis"], "hour-of-day");
    assert_eq!(f.evidence["threshold"], 100);
    let observed = f.evidence["observed"].as_u64().unwrap();
    assert!((400..420).contains(&observed), "{observed}");
    assert!(f.title.contains(" times in 1 hour, "), "{}", f.title);
    // The calls that crossed the threshold, then every call while above it.
    assert!(f.count >= 380, "{}", f.count);
    // A second burst within the cooldown updates the same finding: its window still holds
    // the first burst, so each of its calls is above the threshold.
    run.apply(invokes(t + 1800, 350, 600));
    assert_eq!(run.findings.len(), 1);
    let f2 = run.findings.values().next().unwrap();
    assert_eq!((f2.id == f.id, f2.count), (true, f.count + 350));
    // After the cooldown (1h), a new burst is a new finding.
    run.apply(invokes(t + 4 * 3600, 400, 600));
    assert_eq!(run.findings.len(), 2);
}

#[test]
fn suppressed_principals_do_not_alert() {
    let text = default_text("invoke-spike")
        + "\n[[suppress]]\nreason = \"load test\"\nprincipals = [\"arn:aws:iam::*:role/support-bot-*\"]\n";
    let mut run = Run::new(&[("invoke-spike.toml", &text)]);
    diurnal(&mut run, 8);
    run.apply(invokes(T0 + 8 * DAY + 3 * 3600, 400, 600));
    assert!(run.findings.is_empty());
}

fn from(t: i64, principal: &str, ip: &str, country: &[u8; 2]) -> Activity {
    let mut a = act(t, principal, "sts.amazonaws.com", "GetCallerIdentity");
    a.source_ip = Some(ip.parse().unwrap());
    a.country = Some(*country);
    a
}

#[test]
fn unusual_geo_ignores_many_ips_in_one_country_and_reports_a_new_one_once() {
    let geo = default_text("unusual-geo");
    let mut run = Run::new(&[("unusual-geo.toml", &geo)]);
    let ci = "arn:aws:iam::444455556666:role/github-actions-deploy";
    let alice = "arn:aws:iam::111122223333:user/alice";
    for d in 0..9 {
        for r in 0..8 {
            run.apply(vec![from(
                T0 + d * DAY + r * 3000,
                ci,
                &format!("20.57.{d}.{r}"),
                b"US",
            )]);
        }
        run.apply(vec![from(
            T0 + d * DAY + 36_000,
            alice,
            "87.150.34.112",
            b"DE",
        )]);
    }
    assert!(run.findings.is_empty());
    // A brand-new principal from anywhere has no baseline: not judged.
    run.apply(vec![from(
        T0 + 8 * DAY + 100,
        "arn:aws:iam::1:user/new",
        "95.165.131.44",
        b"RU",
    )]);
    assert!(run.findings.is_empty());
    let t = T0 + 8 * DAY + 42_000;
    run.apply(
        (0..5)
            .map(|i| from(t + i * 60, alice, "95.165.131.44", b"RU"))
            .collect(),
    );
    assert_eq!(run.findings.len(), 1);
    let f = run.findings.values().next().unwrap();
    assert_eq!((f.detector.as_str(), f.count), ("unusual-geo", 5));
    assert_eq!(f.evidence["baseline_values"], serde_json::json!(["DE"]));
    assert_eq!(
        f.title,
        "alice made calls from RU, a country never seen for it"
    );
    // Reported once: the next day RU is known.
    run.apply(vec![from(t + 2 * DAY, alice, "95.165.131.44", b"RU")]);
    assert_eq!(run.findings.len(), 1);
}

fn s3(t: i64, principal: &str, bucket: &str, name: &str) -> Activity {
    let mut a = act(t, principal, "s3.amazonaws.com", name);
    a.bucket = Some(bucket.into());
    a.key = Some("datasets/v3/part-00001.parquet".into());
    a.bytes_out = 1000;
    a.model_id = None;
    a
}

#[test]
fn training_data_access_learns_buckets_and_readers() {
    let mut run = Run::new(&[]);
    let trainer = "arn:aws:sts::444455556666:assumed-role/sagemaker-training-role/SageMaker";
    let analyst = "arn:aws:iam::444455556666:user/analyst";
    let contractor = "arn:aws:iam::444455556666:user/temp-contractor";
    for d in 0..9 {
        run.apply(vec![
            // Named like training data.
            s3(
                T0 + d * DAY + 7200,
                trainer,
                "acme-ml-training-data",
                "GetObject",
            ),
            // Not named like it, but read by the SageMaker role: learned as training data.
            s3(T0 + d * DAY + 7300, trainer, "acme-warehouse", "GetObject"),
            s3(
                T0 + d * DAY + 40_000,
                analyst,
                "acme-warehouse",
                "GetObject",
            ),
            // An ordinary bucket.
            s3(
                T0 + d * DAY + 40_100,
                analyst,
                "acme-app-assets",
                "GetObject",
            ),
        ]);
    }
    assert!(run.findings.is_empty());
    let t = T0 + 8 * DAY + 50_000;
    run.apply(vec![
        s3(t, contractor, "acme-app-assets", "GetObject"),
        s3(t + 10, contractor, "acme-ml-training-data", "ListObjects"),
        s3(t + 20, contractor, "acme-ml-training-data", "GetObject"),
        s3(t + 30, contractor, "acme-warehouse", "PutObject"),
        // A new SageMaker role reading is not a finding.
        s3(
            t + 40,
            "arn:aws:sts::444455556666:assumed-role/sagemaker-eval-role/SageMaker",
            "acme-ml-training-data",
            "GetObject",
        ),
    ]);
    let mut got: Vec<(String, u64, String)> = run
        .findings
        .values()
        .map(|f| {
            (
                f.evidence["bucket"].as_str().unwrap().to_string(),
                f.count,
                f.evidence["why_training_data"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "acme-ml-training-data".to_string(),
                2,
                "bucket name contains \"train\"".to_string()
            ),
            (
                "acme-warehouse".to_string(),
                1,
                "read by sagemaker-training-role".to_string()
            ),
        ]
    );
}

#[test]
fn late_and_out_of_order_events_are_absorbed() {
    let mut run = Run::new(&[]);
    diurnal(&mut run, 8);
    // An object 2 days late and one from the future do not panic nor fire.
    run.apply(invokes(T0 + 6 * DAY, 50, 600));
    run.apply(invokes(T0 + 8 * DAY + 600, 50, 600));
    run.apply(invokes(T0 + 7 * DAY + 100, 30, 600));
    assert!(run.findings.is_empty());
    let st = &run.states["p#arn:aws:iam::111122223333:role/support-bot-role"];
    let series = &st.rates["invoke-spike/anthropic.claude-3-haiku-20240307-v1:0"];
    assert!(series.late >= 80, "late events counted: {}", series.late);
}

#[test]
fn findings_carry_the_files_techniques_and_subject() {
    let mut run = Run::new(&[]);
    let alice = "arn:aws:iam::111122223333:user/alice";
    for d in 0..9 {
        run.apply(vec![from(
            T0 + d * DAY + 36_000,
            alice,
            "87.150.34.112",
            b"DE",
        )]);
    }
    run.apply(vec![from(
        T0 + 8 * DAY + 42_000,
        alice,
        "95.165.131.44",
        b"RU",
    )]);
    let f = run
        .findings
        .values()
        .find(|f| f.detector == "unusual-geo")
        .expect("an unusual-geo finding");
    assert_eq!(f.attack, ["T1078", "T1078.004"]);
    assert_eq!(f.atlas, ["AML.T0012"]);
    assert_eq!(f.subject, "alice calls from new country RU");
    assert_eq!(
        trailhound_core::alert::render::subject(f),
        "[Medium] unusual-geo: alice calls from new country RU"
    );
}

#[test]
fn templates_and_technique_ids_are_checked_at_load() {
    let geo = trailhound_core::detect::DEFAULTS
        .iter()
        .find(|(f, _)| f.ends_with("unusual-geo.toml"))
        .unwrap()
        .1;
    let load = |text: String| {
        Engine::from_files(&[("x.toml".to_string(), text)], 7 * DAY)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(load(geo.to_string()), None);
    for (from, to, want) in [
        (
            "description = \"{principal_name} made",
            "description = \"{principal} made",
            "x.toml: description: unknown placeholder {principal} (known: principal_name, field, value, known)",
        ),
        (
            "subject = \"{principal_name} calls",
            "subject = \"{count} calls",
            "x.toml: subject: unknown placeholder {count} (known: principal_name, field, value, known)",
        ),
        (
            "atlas = [\"AML.T0012\"]",
            "atlas = [\"T0012\"]",
            "x.toml: atlas: `T0012` is not a MITRE ATLAS technique id (AML.T0034, AML.T0024.002)",
        ),
        (
            "references = [",
            "references = [\"see the wiki\",",
            "x.toml: references: `see the wiki` is not an http(s) URL",
        ),
    ] {
        assert!(geo.contains(from), "{from}");
        assert_eq!(load(geo.replacen(from, to, 1)).as_deref(), Some(want));
    }
    // Test cases are not read to run a detector (a Lambda cold start would parse them all);
    // the full parse, which `detectors check` and `detectors test` use, names a bad one.
    let bad_case = geo.replacen("expect = \"fires\"", "expect = \"fire\"", 1);
    assert_eq!(load(bad_case.clone()), None);
    assert_eq!(
        trailhound_core::detect::Spec::parse("x.toml", &bad_case)
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("x.toml: test[0].expect: must be \"fires\" or \"quiet\"")
    );
    // A file without metadata or tests still loads (the CLI's check and test report the
    // missing tests).
    let bare = "id = \"bare\"\ntype = \"A:B/C\"\nseverity = 5.0\nkind = \"new-value\"\n\
                title = \"{principal_name} from {value}\"\ndescription = \"d\"\n\
                [params]\nfield = \"country\"\n";
    assert_eq!(load(bare.to_string()), None);
}

/// The embedded text of one shipped detector.
fn default_text(id: &str) -> String {
    trailhound_core::detect::DEFAULTS
        .iter()
        .find(|(f, _)| f.ends_with(&format!("/{id}.toml")))
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| panic!("no shipped detector {id}"))
}

#[test]
fn attacker_chosen_dedup_keys_fold_into_one_overflow_finding() {
    // unapproved-model raises one finding per model: 1,000 invented model ids in one object
    // must not become 1,000 findings (each an outbox reference and state entry).
    let mut run = Run::new(&[]);
    let principal = "arn:aws:iam::111122223333:user/hostile";
    let acts: Vec<Activity> = (0..1000)
        .map(|i| Activity {
            model_id: Some(format!("attacker.model-{i:04}").into()),
            error_code: Some("AccessDeniedException".into()),
            ..act(
                T0 + 8 * DAY + i,
                principal,
                "bedrock.amazonaws.com",
                "InvokeModel",
            )
        })
        .collect();
    run.apply(acts);
    let unapproved: Vec<&Finding> = run
        .findings
        .values()
        .filter(|f| f.detector == "unapproved-model")
        .collect();
    assert_eq!(unapproved.len(), 17, "16 own findings and the overflow");
    let overflow: Vec<&&Finding> = unapproved
        .iter()
        .filter(|f| f.evidence.contains_key("overflow"))
        .collect();
    assert_eq!(overflow.len(), 1);
    assert_eq!(overflow[0].count, 1000 - 16);
    assert_eq!(unapproved.iter().map(|f| f.count).sum::<u64>(), 1000);
}
