//! `sequence`: step A, then step B within a time, by principal or access key.

use super::*;

const RECON_THEN_INVOKE: &str = "[match]\nevent_sources = [\"bedrock.amazonaws.com\"]\n[params]\nby = \"access-key\"\nwithin = \"1h\"\n[params.first]\nmin_distinct_event_names = 3\nwindow = \"30m\"\n[params.first.match]\nevent_names = [\"List*\", \"Get*\"]\n[params.then.match]\nevent_names = [\"InvokeModel\", \"Converse\"]\naccess_keys = [\"long-term\"]";

fn sequence_run() -> Run {
    Run::new(&file(
        "sequence",
        "{principal_name} ran {first_count} enumeration calls ({first_events}), then {then_event} {elapsed} later with key {access_key_id}",
        RECON_THEN_INVOKE,
    ))
}

fn recon(t: i64) -> Vec<Activity> {
    vec![
        act(t, "ListFoundationModels"),
        act(t + 60, "GetFoundationModel"),
        act(t + 90, "ListFoundationModels"),
        act(t + 120, "ListCustomModels"),
    ]
}

#[test]
fn sequence_fires_on_enumeration_then_invocation_by_the_same_key() {
    let mut run = sequence_run();
    run.apply(recon(T0));
    assert!(run.findings.is_empty());
    run.apply(vec![act(T0 + 600, "InvokeModel")]);
    let f = run.only().clone();
    assert_eq!(f.count, 1);
    assert_eq!(
        f.title,
        format!(
            "alice ran 3 enumeration calls (GetFoundationModel, ListFoundationModels, ListCustomModels), then InvokeModel 8 minutes later with key {KEY}"
        )
    );
    assert_eq!(
        (f.first_seen.as_str(), f.last_seen.as_str()),
        ("2026-10-01T00:01:00Z", "2026-10-01T00:10:00Z")
    );
    let ev = serde_json::Value::Object(f.evidence.clone());
    assert_eq!(ev["access_key_id"], KEY);
    assert_eq!(ev["first_step"]["completed_at"], "2026-10-01T00:02:00Z");
    assert_eq!(
        ev["then_step"]["event_names"],
        serde_json::json!(["InvokeModel"])
    );
    assert_eq!(ev["elapsed_seconds"], 480);
    run.apply(vec![act(T0 + 700, "Converse")]);
    let f = run.only();
    assert_eq!(f.count, 2);
    assert_eq!(
        f.evidence["then_step"]["event_names"],
        serde_json::json!(["InvokeModel", "Converse"])
    );
}

#[test]
fn sequence_stays_quiet_without_the_whole_sequence() {
    let other_key = |a: Activity| Activity {
        access_key_id: Some("AKIAOTHEROTHEROTHER1".into()),
        ..a
    };
    let cases: Vec<(&str, Vec<Activity>)> = vec![
        ("two distinct names only", {
            let mut v = recon(T0);
            v.retain(|a| &*a.event_name != "ListCustomModels");
            v.push(act(T0 + 600, "InvokeModel"));
            v
        }),
        ("invocation after `within`", {
            let mut v = recon(T0);
            v.push(act(T0 + 120 + 3601, "InvokeModel"));
            v
        }),
        ("another access key invokes", {
            let mut v = recon(T0);
            v.push(other_key(act(T0 + 600, "InvokeModel")));
            v
        }),
        ("a temporary key invokes", {
            let mut v = recon(T0);
            v.push(Activity {
                access_key_id: Some("ASIAIOSFODNN7EXAMPLE".into()),
                ..act(T0 + 600, "InvokeModel")
            });
            v
        }),
        (
            "enumeration spread over more than 30 minutes",
            vec![
                act(T0, "ListFoundationModels"),
                act(T0 + 1200, "GetFoundationModel"),
                act(T0 + 2400, "ListCustomModels"),
                act(T0 + 2500, "InvokeModel"),
            ],
        ),
        ("invocation before the enumeration", {
            let mut v = recon(T0 + 600);
            v.insert(0, act(T0, "InvokeModel"));
            v
        }),
    ];
    for (why, acts) in cases {
        let mut run = sequence_run();
        for a in acts {
            run.apply(vec![a]);
        }
        assert!(run.findings.is_empty(), "{why}: {:#?}", run.findings);
    }
}

#[test]
fn sequence_completes_when_step_a_arrives_after_step_b() {
    let mut run = sequence_run();
    run.apply(vec![act(T0 + 600, "InvokeModel")]);
    assert!(run.findings.is_empty());
    run.apply(recon(T0));
    let f = run.only();
    assert_eq!(f.count, 1);
    assert_eq!(
        (f.first_seen.as_str(), f.last_seen.as_str()),
        ("2026-10-01T00:01:00Z", "2026-10-01T00:10:00Z")
    );
    // By principal, events without an access key count too.
    let by_principal = RECON_THEN_INVOKE
        .replace("by = \"access-key\"", "by = \"principal\"")
        .replace("access_keys = [\"long-term\"]", "");
    let mut run = Run::new(&file("sequence", "x", &by_principal));
    let nokey = |a: Activity| Activity {
        access_key_id: None,
        ..a
    };
    run.apply(recon(T0).into_iter().map(nokey).collect());
    run.apply(vec![nokey(act(T0 + 600, "Converse"))]);
    assert_eq!(run.only().evidence["by"], "principal");
    let invocation_only = by_principal
        .replace("by = \"principal\"", "by = \"access-key\"")
        .replace("[match]\n", "[match]\nsources = [\"invocation\"]\n");
    assert_eq!(
        load_error(&file("sequence", "x", &invocation_only)).0,
        "match.sources"
    );
}
