//! `window-threshold`: counts, sums and distinct values in a sliding window.

use super::*;

fn validation(t: i64) -> Activity {
    Activity {
        error_code: Some("ValidationException".into()),
        ..act(t, "InvokeModel")
    }
}

const PROBING: &str = "[match]\nevent_sources = [\"bedrock.amazonaws.com\"]\nerror_codes = [\"ValidationException\"]\n[params]\nmeasure = \"count\"\nwindow = \"10m\"\nthreshold = 10";

#[test]
fn window_threshold_counts_a_burst_and_stays_quiet_below_it() {
    let title = "{principal_name} got {observed} {measure} in {window} (threshold {threshold})";
    let mut run = Run::new(&file("window-threshold", title, PROBING));
    // Nine failures and any number of successes: quiet.
    let mut acts: Vec<Activity> = (0..9).map(|i| validation(T0 + i * 60)).collect();
    acts.extend((0..30).map(|i| act(T0 + i * 10, "InvokeModel")));
    run.apply(acts);
    assert!(run.findings.is_empty());
    // The tenth within ten minutes fires; the eleventh updates the finding.
    run.apply(vec![validation(T0 + 540)]);
    let f = run.only().clone();
    assert_eq!((f.count, f.evidence["observed"].as_u64()), (10, Some(10)));
    assert_eq!(f.first_seen, "2026-10-01T00:00:00Z");
    assert_eq!(f.title, "alice got 10 calls in 10 minutes (threshold 10)");
    run.apply(vec![validation(T0 + 560)]);
    let f = run.only().clone();
    assert_eq!((f.count, f.evidence["observed"].as_u64()), (11, Some(11)));
    assert_eq!(f.last_seen, "2026-10-01T00:09:20Z");

    // One failure every two minutes never has ten in a window.
    let mut quiet = Run::new(&file("window-threshold", title, PROBING));
    quiet.apply((0..50).map(|i| validation(T0 + i * 120)).collect());
    assert!(quiet.findings.is_empty());
}

#[test]
fn window_threshold_counts_late_events_with_the_window_they_join() {
    let text = file(
        "window-threshold",
        "x",
        &PROBING.replace("threshold = 10", "threshold = 3"),
    );
    let mut run = Run::new(&text);
    run.apply(vec![validation(T0 + 300), validation(T0 + 700)]);
    assert!(run.findings.is_empty());
    // Arrives late (another object), between the two: three in (100 s, 700 s].
    run.apply(vec![validation(T0 + 500)]);
    let f = run.only();
    assert_eq!((f.count, f.evidence["observed"].as_u64()), (3, Some(3)));
    assert_eq!(
        (f.first_seen.as_str(), f.last_seen.as_str()),
        ("2026-10-01T00:05:00Z", "2026-10-01T00:11:40Z")
    );
    // Older than window + lateness before the newest event: not counted.
    let mut run = Run::new(&text);
    run.apply(vec![validation(T0 + 4 * 3600)]);
    run.apply(vec![
        validation(T0),
        validation(T0 + 10),
        validation(T0 + 20),
    ]);
    assert!(run.findings.is_empty());
    assert_eq!(
        run.states[&format!("p#{ALICE}")].kinds.windows[&format!("{ID}/")].late,
        3
    );
}

#[test]
fn window_threshold_counts_distinct_values_in_the_window() {
    let text = file(
        "window-threshold",
        "{principal_name} probed {observed} {measure}: {values}",
        "[match]\nevent_names = [\"ListFoundationModels\"]\n[params]\nmeasure = \"distinct\"\nfield = \"region\"\nwindow = \"15m\"\nthreshold = 4",
    );
    let in_region = |t: i64, r: &str| Activity {
        region: r.into(),
        ..act(t, "ListFoundationModels")
    };
    let mut run = Run::new(&text);
    // ap-south-1 is 20 minutes old when the others come: three regions in the window.
    let mut acts = vec![in_region(T0, "ap-south-1")];
    for (i, r) in ["us-east-1", "us-west-2", "eu-west-1"].iter().enumerate() {
        for k in 0..5 {
            acts.push(in_region(T0 + 1200 + i as i64 * 60 + k, r));
        }
    }
    run.apply(acts);
    assert!(run.findings.is_empty());
    run.apply(vec![in_region(T0 + 1500, "ap-south-1")]);
    let f = run.only();
    assert_eq!(f.evidence["observed"], 4);
    assert_eq!(
        f.evidence["values"],
        serde_json::json!(["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"])
    );
    assert_eq!(
        f.title,
        "alice probed 4 distinct regions: us-east-1, us-west-2, eu-west-1, ap-south-1"
    );
    assert_eq!(f.first_seen, "2026-10-01T00:20:04Z");
}

#[test]
fn window_threshold_sums_tokens_per_group() {
    let text = file(
        "window-threshold",
        "{principal_name} used {observed} {measure} of {group} in {window}",
        "[match]\nsources = [\"invocation\"]\n[params]\nmeasure = \"sum\"\nfield = \"tokens\"\nwindow = \"1h\"\nthreshold = 100000\ngroup_by = \"model\"",
    );
    let call = |t: i64, model: &str| Activity {
        model_id: Some(model.into()),
        input_tokens: 6_000,
        output_tokens: 4_000,
        event_name: "Converse".into(),
        ..Activity::new(t, Source::Invocation, BOT)
    };
    let mut run = Run::new(&text);
    let mut acts: Vec<Activity> = (0..9).map(|i| call(T0 + i * 60, "model-a")).collect();
    acts.extend((0..5).map(|i| call(T0 + i * 60, "model-b")));
    run.apply(acts);
    assert!(
        run.findings.is_empty(),
        "140,000 tokens, but no model reaches 100,000"
    );
    run.apply(vec![call(T0 + 600, "model-a")]);
    let f = run.only();
    assert_eq!(
        (f.count, f.evidence["observed"].as_u64()),
        (1, Some(100_000))
    );
    assert_eq!(f.evidence["group"], "model-a");
    assert_eq!(
        f.title,
        "support-bot-role used 100,000 tokens of model-a in 1 hour"
    );
}

#[test]
fn window_threshold_state_is_capped() {
    let text = file(
        "window-threshold",
        "x",
        "[params]\nmeasure = \"distinct\"\nfield = \"ip\"\nwindow = \"1h\"\nthreshold = 1000\ngroup_by = \"event-name\"",
    );
    assert_eq!(load_error(&text).0, "params.threshold");
    let text = text.replace("1000", "200");
    let mut run = Run::new(&text);
    let acts: Vec<Activity> = (0..2_000)
        .map(|i: i64| Activity {
            source_ip: Some(format!("3.0.{}.{}", i / 250, i % 250).parse().unwrap()),
            ..act(T0 + i, &format!("Call{}", i % 20))
        })
        .collect();
    run.apply(acts);
    let kinds = &run.states[&format!("p#{ALICE}")].kinds;
    assert_eq!(kinds.windows.len(), 8, "series per detector");
    assert!(kinds.windows.values().all(|s| s.values.len() <= 200));
    assert!(run.findings.is_empty(), "100 addresses per call name");
}

#[test]
fn window_threshold_rejects_what_it_cannot_see_or_measure() {
    for (params, field) in [
        ("measure = \"sum\"\nfield = \"tokens\"", "match.sources"),
        ("measure = \"sum\"\nfield = \"region\"", "params.field"),
        ("measure = \"distinct\"", "params.field"),
        ("measure = \"count\"\nfield = \"ip\"", "params.field"),
        ("measure = \"median\"", "params.measure"),
        ("group_by = \"user\"", "params.group_by"),
        ("window = \"90s\"", "params.window"),
        ("threshold = 0", "params.threshold"),
    ] {
        let mut p = format!("{params}\nwindow = \"10m\"\nthreshold = 5");
        for key in ["window", "threshold"] {
            if params.contains(key) {
                p = p
                    .lines()
                    .filter(|l| !l.starts_with(key) || params.contains(l))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        let text = file(
            "window-threshold",
            "x",
            &format!("[match]\nsources = [\"cloudtrail\"]\n[params]\n{p}"),
        );
        assert_eq!(load_error(&text).0, field, "{params}");
    }
}

#[test]
fn a_window_narrower_than_its_buckets_does_not_panic() {
    // 1 minute of window with 2 hours of lateness: buckets are 120 s wide.
    let text = file(
        "window-threshold",
        "x",
        &PROBING
            .replace("window = \"10m\"", "window = \"1m\"\nlateness = \"2h\"")
            .replace("threshold = 10", "threshold = 3"),
    );
    let mut run = Run::new(&text);
    run.apply((0..3).map(|i| validation(T0 + 10 + i * 5)).collect());
    assert_eq!(run.only().count, 3);
}
