//! `rule`: one finding per matching event and dedup key, from the first event.

use super::*;

const TRAIL_RULE: &str = "[match]\nevent_sources = [\"cloudtrail.amazonaws.com\"]\nevent_names = [\"StopLogging\", \"DeleteTrail\"]\n[params]\ndedup = \"{param:requestParameters.name}\"\nseverity_failed = 4.0";

fn trail_call(t: i64, name: &str, trail: &str, error: Option<&str>) -> Activity {
    Activity {
        event_source: "cloudtrail.amazonaws.com".into(),
        error_code: error.map(Into::into),
        request_id: Some(format!("req-{t}").into()),
        params: vec![param("requestParameters.name", text(trail))],
        ..act(t, name)
    }
}

#[test]
fn rule_fires_from_the_first_event_per_dedup_key_with_the_outcome_severity() {
    let mut run = Run::new(&file(
        "rule",
        "{principal_name} called {event_name} on trail {param:requestParameters.name}: {outcome}",
        TRAIL_RULE,
    ));
    // The principal's very first event: no learning period.
    let t = run.apply(vec![trail_call(
        T0,
        "StopLogging",
        "main",
        Some("AccessDenied"),
    )]);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].severity, t[0].severity_label.as_str()),
        (4.0, "Medium")
    );
    assert_eq!(
        t[0].title,
        "alice called StopLogging on trail main: failed (AccessDenied)"
    );
    // Succeeding within the cooldown: the same finding, now at the file's severity.
    run.apply(vec![
        trail_call(T0 + 60, "StopLogging", "main", None),
        trail_call(T0 + 90, "CreateTrail", "main", None),
    ]);
    let f = run.only().clone();
    assert_eq!(
        (f.count, f.severity, f.severity_label.as_str()),
        (2, 7.0, "High")
    );
    assert_eq!(
        f.title,
        "alice called StopLogging on trail main: succeeded once and failed once (AccessDenied)"
    );
    let ev = serde_json::Value::Object(f.evidence.clone());
    assert_eq!(
        ev["calls"],
        serde_json::json!({"succeeded": 1, "failed": 1})
    );
    assert_eq!(ev["error_codes"], serde_json::json!(["AccessDenied"]));
    assert_eq!(ev["dedup"], "main");
    assert_eq!(
        ev["sample_request_ids"],
        serde_json::json!([format!("req-{T0}"), format!("req-{}", T0 + 60)])
    );
    assert_eq!(ev["access_key_kinds"], serde_json::json!(["long-term"]));
    // Another trail is another finding; after the cooldown the same trail is a new one.
    run.apply(vec![trail_call(T0 + 120, "DeleteTrail", "audit", None)]);
    run.apply(vec![trail_call(
        T0 + 60 + 3601,
        "StopLogging",
        "main",
        None,
    )]);
    let mut titles: Vec<(u64, String)> = run
        .findings
        .values()
        .map(|f| (f.count, f.title.clone()))
        .collect();
    titles.sort();
    assert_eq!(run.findings.len(), 3);
    assert_eq!(
        titles[0],
        (
            1,
            "alice called DeleteTrail on trail audit: succeeded".to_string()
        )
    );
}

#[test]
fn rule_stays_quiet_on_what_its_match_leaves_out_and_checks_its_templates() {
    let mut run = Run::new(&file("rule", "{principal_name} {event_name}", TRAIL_RULE));
    run.apply(vec![
        trail_call(T0, "CreateTrail", "main", None),
        Activity {
            event_source: "s3.amazonaws.com".into(),
            ..trail_call(T0, "DeleteTrail", "main", None)
        },
    ]);
    assert!(run.findings.is_empty());
    let (field, reason) = load_error(&file("rule", "{principal_name} {nope}", TRAIL_RULE));
    assert_eq!(field, "title", "{reason}");
    assert!(reason.contains("unknown placeholder {nope}"), "{reason}");
    let bad_dedup = TRAIL_RULE.replace("{param:requestParameters.name}", "{count}");
    assert_eq!(load_error(&file("rule", "x", &bad_dedup)).0, "params.dedup");
    let bad_path = TRAIL_RULE.replace("{param:requestParameters.name}", "{param:name}");
    assert_eq!(load_error(&file("rule", "x", &bad_path)).0, "params.dedup");
    let bad_severity = TRAIL_RULE.replace("4.0", "11.0");
    assert_eq!(
        load_error(&file("rule", "x", &bad_severity)).0,
        "params.severity_failed"
    );
}
