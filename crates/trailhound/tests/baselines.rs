//! The engine's learning and baselines, on the shipped core detectors: seasonal
//! (hour-of-day, weekday/weekend) rate baselines, the relative floor and the learning floor,
//! evidence-based learning, suppressions that do not train, and processing order.

use std::collections::BTreeMap;

use trailhound_core::activity::{Activity, Source};
use trailhound_core::alert::Finding;
use trailhound_core::detect::Engine;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::States;

const DAY: i64 = 86_400;
const HOUR: i64 = 3600;
/// 2026-10-05T00:00:00Z, a Monday.
const MONDAY: i64 = 1_791_158_400;
const BOT: &str = "arn:aws:sts::111122223333:assumed-role/support-bot-role/botocore-session-1";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn spec(id: &str) -> (String, String) {
    let path = crate::support::moto::repo().join(format!("detectors/{id}.toml"));
    (
        path.display().to_string(),
        std::fs::read_to_string(&path).unwrap(),
    )
}

struct Run {
    engine: Engine,
    states: States,
    findings: BTreeMap<String, Finding>,
}

impl Run {
    fn new(ids: &[&str]) -> Self {
        let files: Vec<(String, String)> = ids.iter().map(|i| spec(i)).collect();
        Run {
            engine: Engine::from_files(&files, 7 * DAY).unwrap(),
            states: States::default(),
            findings: BTreeMap::new(),
        }
    }

    fn apply(&mut self, mut acts: Vec<Activity>) {
        acts.sort_by_key(|a| a.time);
        let obj = ObjectRef::local("AWSLogs/test.json.gz");
        for f in self.engine.apply(&mut self.states, &acts, &obj) {
            self.findings.insert(f.id.clone(), f);
        }
    }

    /// Applies `acts` an hour at a time, as a trail delivers them.
    fn hourly(&mut self, acts: Vec<Activity>) {
        let mut by_hour: BTreeMap<i64, Vec<Activity>> = BTreeMap::new();
        for a in acts {
            by_hour.entry(a.time.div_euclid(HOUR)).or_default().push(a);
        }
        for (_, acts) in by_hour {
            self.apply(acts);
        }
    }
}

fn invoke(t: i64, principal: &str) -> Activity {
    Activity {
        event_source: "bedrock.amazonaws.com".into(),
        event_name: "InvokeModel".into(),
        model_id: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
        source_ip: Some("3.218.54.201".parse().unwrap()),
        country: Some(*b"US"),
        ..Activity::new(t, Source::Cloudtrail, principal)
    }
}

/// `n` calls spread evenly over `[from, from + span)`.
fn calls(from: i64, span: i64, n: u64, principal: &str) -> Vec<Activity> {
    (0..n)
        .map(|i| invoke(from + (i as i64 * span) / n as i64, principal))
        .collect()
}

/// A diurnal app: 10 calls an hour at night, up to 300 (varying ±20% day to day) from 09:00 to
/// 17:00 on weekdays, 5 an hour all weekend.
fn diurnal(days: std::ops::Range<i64>) -> Vec<Activity> {
    let mut out = Vec::new();
    for d in days {
        let weekend = (d % 7) >= 5;
        for h in 0..24 {
            let n = if weekend {
                5
            } else if (9..17).contains(&h) {
                240 + ((d * 37 + h * 11) % 120) as u64
            } else {
                10
            };
            out.extend(calls(MONDAY + d * DAY + h * HOUR, HOUR, n, BOT));
        }
    }
    out
}

#[test]
fn invoke_spike_stays_quiet_through_diurnal_peaks_and_weekend_dips() {
    let mut run = Run::new(&["invoke-spike"]);
    run.hourly(diurnal(0..21));
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
}

#[test]
fn invoke_spike_stays_quiet_when_the_day_starts_an_hour_early() {
    let mut run = Run::new(&["invoke-spike"]);
    run.hourly(diurnal(0..14));
    // Daylight saving time: the usual 09:00 start comes at 08:00 UTC.
    run.hourly(calls(MONDAY + 14 * DAY + 8 * HOUR, HOUR, 300, BOT));
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
}

#[test]
fn invoke_spike_fires_on_a_40x_burst_at_a_quiet_hour() {
    let mut run = Run::new(&["invoke-spike"]);
    run.hourly(diurnal(0..14));
    // Monday 03:00 of the third week: 400 calls in an hour where the role makes 10.
    run.hourly(calls(MONDAY + 14 * DAY + 3 * HOUR, HOUR, 400, BOT));
    assert_eq!(run.findings.len(), 1, "{:#?}", run.findings);
    let f = run.findings.values().next().unwrap();
    assert_eq!(f.detector, "invoke-spike");
    assert_eq!(f.evidence["seasonal"]["basis"], "hour-of-day");
    assert!(
        f.evidence["seasonal"]["slot"]
            .as_str()
            .unwrap()
            .starts_with("weekday 03:"),
        "{}",
        f.evidence["seasonal"]["slot"]
    );
    assert!(
        f.title
            .contains("40x its usual for weekday 03:00-04:00 UTC"),
        "{}",
        f.title
    );
    // Well under Elastic's fixed 500 an hour: the relative floor, not an absolute one, decides.
    assert!(
        f.evidence["threshold"].as_u64().unwrap() < 150,
        "{}",
        f.evidence["threshold"]
    );
}

#[test]
fn invoke_spike_fires_on_a_slow_three_hour_burst_under_500_an_hour() {
    let mut run = Run::new(&["invoke-spike"]);
    run.hourly(diurnal(0..14));
    // 30x the night rate for three hours: 300 an hour, never 500 in any hour.
    run.hourly(calls(MONDAY + 14 * DAY + HOUR, 3 * HOUR, 900, BOT));
    assert_eq!(run.findings.len(), 1, "{:#?}", run.findings);
    let f = run.findings.values().next().unwrap();
    assert!(
        f.count > 700,
        "the burst's calls are aggregated: {}",
        f.count
    );
}

#[test]
fn a_brand_new_key_with_a_huge_burst_fires_on_day_one_through_the_learning_floor() {
    let mut run = Run::new(&["invoke-spike"]);
    let key = "arn:aws:iam::111122223333:user/ci-new";
    // A new principal's ordinary first hour stays quiet ...
    run.hourly(calls(MONDAY, HOUR, 300, key));
    assert!(run.findings.is_empty());
    // ... 100,000 calls in its second hour do not.
    run.hourly(calls(MONDAY + HOUR, HOUR, 100_000, key));
    assert_eq!(run.findings.len(), 1);
    let f = run.findings.values().next().unwrap();
    assert_eq!(f.evidence["seasonal"]["basis"], "learning-floor");
    assert!(
        f.title.contains("too new to have a baseline"),
        "{}",
        f.title
    );
}

fn from(t: i64, principal: &str, ip: &str, country: &[u8; 2]) -> Activity {
    Activity {
        event_source: "sts.amazonaws.com".into(),
        event_name: "GetCallerIdentity".into(),
        source_ip: Some(ip.parse().unwrap()),
        country: Some(*country),
        ..Activity::new(t, Source::Cloudtrail, principal)
    }
}

#[test]
fn unusual_geo_learns_from_five_working_days_not_from_a_week_of_age() {
    let mut run = Run::new(&["unusual-geo"]);
    // Monday to Friday, 10:00 to 17:00, from the US.
    for d in 0..5 {
        for h in 10..17 {
            run.apply(vec![from(
                MONDAY + d * DAY + h * HOUR,
                ALICE,
                "3.218.54.201",
                b"US",
            )]);
        }
    }
    // Day 8 (Monday), 08:00: less than seven days after the first call, five active days.
    run.apply(vec![from(
        MONDAY + 7 * DAY + 8 * HOUR,
        ALICE,
        "95.165.131.44",
        b"RU",
    )]);
    assert_eq!(run.findings.len(), 1, "{:#?}", run.findings);
    let f = run.findings.values().next().unwrap();
    assert_eq!(
        f.title,
        "alice made calls from RU, a country never seen for it"
    );
}

#[test]
fn unusual_geo_does_not_judge_a_principal_seen_on_four_days() {
    let mut run = Run::new(&["unusual-geo"]);
    for d in 0..4 {
        run.apply(vec![from(
            MONDAY + d * DAY + 10 * HOUR,
            ALICE,
            "3.218.54.201",
            b"US",
        )]);
    }
    run.apply(vec![from(
        MONDAY + 4 * DAY + 8 * HOUR,
        ALICE,
        "95.165.131.44",
        b"RU",
    )]);
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
}

#[test]
fn suppressed_activity_neither_fires_nor_trains() {
    let (file, text) = spec("unusual-geo");
    let text = format!(
        "{text}\n[[suppress]]\nreason = \"the VPN exit in Germany\"\ncidrs = [\"87.150.0.0/16\"]\n"
    );
    let engine = Engine::from_files(&[(file, text)], 7 * DAY).unwrap();
    let mut states = States::default();
    let obj = ObjectRef::local("k");
    for d in 0..8 {
        let mut acts = vec![from(
            MONDAY + d * DAY + 10 * HOUR,
            ALICE,
            "3.218.54.201",
            b"US",
        )];
        acts.push(from(
            MONDAY + d * DAY + 11 * HOUR,
            ALICE,
            "87.150.34.112",
            b"DE",
        ));
        let (found, counts) = engine.apply_counted(&mut states, &acts, &obj);
        assert!(found.is_empty());
        assert_eq!(counts.suppressed, 1);
        assert_eq!(counts.expired, 0);
    }
    let seen = &states[&format!("p#{ALICE}")].seen;
    let countries: Vec<&String> = seen.values().flat_map(|s| s.values.keys()).collect();
    assert_eq!(countries, ["US"], "the suppressed country was not learned");
}

#[test]
fn an_expired_suppression_stops_applying_at_its_event_time_and_is_counted() {
    let (file, text) = spec("unusual-geo");
    // MONDAY + 8 days, 00:00 UTC, as a date.
    let expires = trailhound_core::time::format(MONDAY + 8 * DAY);
    let text = format!(
        "{text}\n[[suppress]]\nreason = \"the VPN exit in Germany, until the move\"\ncidrs = [\"87.150.0.0/16\"]\nexpires = \"{}\"\n",
        &expires[..10]
    );
    let engine = Engine::from_files(&[(file, text)], 7 * DAY).unwrap();
    let mut states = States::default();
    let obj = ObjectRef::local("k");
    for d in 0..8 {
        let acts = vec![from(
            MONDAY + d * DAY + 10 * HOUR,
            ALICE,
            "3.218.54.201",
            b"US",
        )];
        engine.apply_counted(&mut states, &acts, &obj);
    }
    let before = vec![from(MONDAY + 8 * DAY - HOUR, ALICE, "87.150.34.112", b"DE")];
    let (found, counts) = engine.apply_counted(&mut states, &before, &obj);
    assert!(found.is_empty(), "{found:#?}");
    assert_eq!((counts.suppressed, counts.expired), (1, 0));
    let after = vec![from(MONDAY + 8 * DAY + HOUR, ALICE, "87.150.34.112", b"DE")];
    let (found, counts) = engine.apply_counted(&mut states, &after, &obj);
    assert_eq!((counts.suppressed, counts.expired), (0, 1));
    assert_eq!(found.len(), 1, "judged as usual once expired");
    assert_eq!(found[0].detector, "unusual-geo");
}

#[test]
fn only_console_and_identity_center_sessions_keep_their_session_name() {
    use trailhound_core::activity::{Normalizer, decode_object};
    use trailhound_core::geo::Geo;
    use trailhound_core::ingest::classify;
    use trailhound_core::record::Limits;
    let record = |session: &str, console: bool| {
        let uid = serde_json::json!({
            "type": "AssumedRole", "accountId": "111122223333",
            "arn": format!("arn:aws:sts::111122223333:assumed-role/Admin/{session}"),
        });
        let mut r = serde_json::json!({
            "eventVersion": "1.09", "eventTime": "2026-10-05T10:00:00Z",
            "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity",
            "awsRegion": "us-east-1", "sourceIPAddress": "3.218.54.201",
            "recipientAccountId": "111122223333", "userIdentity": uid,
        });
        // Top level, as CloudTrail writes it.
        if console {
            r["sessionCredentialFromConsole"] = "true".into();
        }
        r
    };
    let doc = serde_json::json!({"Records": [
        record("carol@example.com", false),
        record("mallory@example.com", false),
        record("carol@example.com", true),
    ]});
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1005Z_a.json";
    let geo = Geo::none();
    let mut norm = Normalizer::new(&geo);
    let mut acts = Vec::new();
    let bytes = doc.to_string();
    decode_object(
        &ObjectRef::local(key),
        classify(key),
        bytes.as_bytes(),
        &Limits::default(),
        &mut norm,
        &mut acts,
    )
    .unwrap();
    let keys: Vec<&str> = acts.iter().map(|a| &*a.principal_key).collect();
    assert_eq!(
        keys,
        [
            // A plain AssumeRole: the caller picked the name, so it keys on the role.
            "arn:aws:iam::111122223333:role/Admin",
            "arn:aws:iam::111122223333:role/Admin",
            // A console session: the person.
            "arn:aws:sts::111122223333:assumed-role/Admin/carol@example.com",
        ]
    );
}
