//! The command line: outputs, exit codes (0 ran, 2 usage/config, 1 other) and error messages.

use crate::support::common;

use std::process::{Command, Output};

fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn replay_jsonl_prints_exactly_the_expected_findings() {
    let geo = common::geoip();
    let out = trailhound(&[
        "replay",
        "--format",
        "jsonl",
        "--geoip",
        geo.to_str().unwrap(),
        "samples/",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want =
        std::fs::read_to_string(common::repo().join("samples/expected-findings.jsonl")).unwrap();
    assert_eq!(text(&out.stdout), want);
    let err = text(&out.stderr);
    assert!(
        err.contains("findings 18 (ai-attack-sequence 1, ai-role-iam-change 1, attack-tool-agent 1, bedrock-probing 1, gpu-provisioning 1, guardrail-interventions 1, impossible-travel 1, invocation-logging-gap 1, invoke-spike 1, llmjacking-recon 1, logging-tampering 1, model-access-enabled 1, s3-exfil-volume 1, secret-in-prompt 1, token-spike 1, training-data-access 1, unapproved-model 1, unusual-geo 1)"),
        "{err}"
    );
    assert!(
        err.contains("objects read 1039 (cloudtrail 604, invocation 435)"),
        "{err}"
    );
}

#[test]
fn replay_table_is_aligned_and_until_limits_events() {
    let out = trailhound(&["replay", "samples/"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 19, "{stdout}");
    assert!(
        lines[0].starts_with("SEVERITY      DETECTOR                 FIRST SEEN"),
        "{stdout}"
    );
    let col = lines[0].find("TITLE").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.chars().nth(col - 2) == Some(' '))
    );
    let out = trailhound(&["replay", "--until", "2026-10-07T00:00:00Z", "samples/"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), "No findings.\n".to_string())
    );
}

#[test]
fn usage_and_config_errors_exit_2() {
    let out = trailhound(&["replay", "--format", "xml", "samples/"]);
    assert_eq!(out.status.code(), Some(2));
    let out = trailhound(&["replay", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such/folder: No such file or directory"),
        "{}",
        text(&out.stderr)
    );
    let out = trailhound(&["replay", "--geoip", "missing.mmdb", "samples/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("could not open the geo database missing.mmdb"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn other_errors_exit_1() {
    let out = trailhound(&[
        "replay",
        "--state",
        "/proc/trailhound/state.json",
        "samples/",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("could not write /proc/trailhound/state.tmp"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn detectors_check_names_file_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(common::repo().join("detectors/unusual-geo.toml")).unwrap();
    std::fs::write(dir.path().join("a-ok.toml"), &good).unwrap();
    std::fs::write(
        dir.path().join("b-severity.toml"),
        good.replace("severity = 6.0", "severity = 12.0")
            .replace("\"unusual-geo\"", "\"impossible-travel\""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c-field.toml"),
        good.replace("field = \"country\"", "field = \"shoe-size\"")
            .replace("\"unusual-geo\"", "\"unapproved-model\""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d-unknown.toml"),
        good.replace("[params]", "[params]\nthreshhold = 3")
            .replace("\"unusual-geo\"", "\"bedrock-probing\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("e-dup.toml"), &good).unwrap();
    let out = trailhound(&["detectors", "check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let d = dir.path().display();
    for want in [
        format!("error: {d}/b-severity.toml: severity: 12 is outside 1.0–10.0"),
        format!(
            "error: {d}/c-field.toml: params.field: `shoe-size`: expected country, asn, region, model or user-agent-family"
        ),
        format!("error: {d}/d-unknown.toml: params.threshhold: unknown field `threshhold`"),
        format!("error: {d}/e-dup.toml: id: `unusual-geo` is defined twice"),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    let out = trailhound(&["detectors", "check", "detectors"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (
            Some(0),
            format!("{} detector files OK in detectors\n", shipped_ids().len())
        )
    );
}

#[test]
fn detectors_list_shows_the_shipped_detectors() {
    let out = trailhound(&["detectors", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let ids: Vec<String> = text(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(ids, shipped_ids());
    assert!(ids.len() >= 3 && ids.contains(&"invoke-spike".to_string()));
}

/// The ids of `detectors/*.toml`, in file order (the embedded order).
fn shipped_ids() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(common::repo().join("detectors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn replay_detectors(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["replay", "--format", "jsonl", "--no-progress"];
    args.extend_from_slice(extra);
    args.push("samples/");
    let out = trailhound(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut detectors: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["detector"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    detectors.sort();
    detectors
}

#[test]
fn a_detectors_folder_merges_over_the_embedded_defaults_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let geo = std::fs::read_to_string(common::repo().join("detectors/unusual-geo.toml")).unwrap();
    // A new id of an existing kind: fires alongside the defaults.
    std::fs::write(
        dir.path().join("my-geo.toml"),
        geo.replace("\"unusual-geo\"", "\"my-geo\""),
    )
    .unwrap();
    // A default turned off with a two-line file.
    std::fs::write(
        dir.path().join("off.toml"),
        "id = \"invoke-spike\"\nenabled = false\n",
    )
    .unwrap();
    // The same findings as the defaults, without invoke-spike's, with my-geo's.
    let mut want: Vec<String> = replay_detectors(&[])
        .into_iter()
        .filter(|d| d != "invoke-spike")
        .collect();
    assert!(want.contains(&"unusual-geo".to_string()));
    want.push("my-geo".into());
    want.sort();
    let got = replay_detectors(&["--detectors", dir.path().to_str().unwrap()]);
    assert_eq!(got, want);
    let out = trailhound(&[
        "detectors",
        "list",
        "--detectors",
        dir.path().to_str().unwrap(),
    ]);
    let ids: Vec<String> = text(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = shipped_ids()
        .into_iter()
        .filter(|d| d != "invoke-spike")
        .collect();
    want.push("my-geo".into());
    assert_eq!(ids, want);
}

#[test]
fn detectors_test_runs_every_case_of_the_shipped_detectors() {
    let out = trailhound(&["detectors", "test", "detectors"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let mut cases = 0;
    for (file, body) in trailhound_core::detect::DEFAULTS {
        let spec = trailhound_core::detect::Spec::parse(file, body).unwrap();
        assert!(spec.tests.len() >= 2, "{file}");
        for case in &spec.tests {
            let line = format!("ok   {}/{}\n", spec.id, case.name);
            assert!(stdout.contains(&line), "missing `{line}` in:\n{stdout}");
            cases += 1;
        }
    }
    assert!(
        stdout.ends_with(&format!("{cases} passed, 0 failed\n")),
        "{stdout}"
    );
    // Without a folder: the embedded detectors, the same cases.
    let out = trailhound(&["detectors", "test"]);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), stdout));
}

#[test]
fn detectors_test_fails_on_a_failing_case_and_on_a_detector_without_cases() {
    let dir = tempfile::tempdir().unwrap();
    let geo = std::fs::read_to_string(common::repo().join("detectors/unusual-geo.toml")).unwrap();
    // The firing case now expects a different count.
    std::fs::write(
        dir.path().join("unusual-geo.toml"),
        geo.replace(
            "expect_fields = { count = 5,",
            "expect_fields = { count = 6,",
        ),
    )
    .unwrap();
    let untested = geo.split("\n[[test]]").next().unwrap();
    std::fs::write(
        dir.path().join("geo-untested.toml"),
        untested.replace("\"unusual-geo\"", "\"geo-untested\""),
    )
    .unwrap();
    let out = trailhound(&["detectors", "test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let d = dir.path().display();
    for want in [
        "FAIL unusual-geo/a call from a country never seen for the principal fires: the finding differs: count is 5, expected 6\n".to_string(),
        "ok   unusual-geo/another address in a known country stays quiet\n".to_string(),
        format!("FAIL {d}/geo-untested.toml: test: no [[test]] cases: add one that fires and one that stays quiet\n"),
        "ok   invoke-spike/".to_string(),
    ] {
        assert!(stdout.contains(&want), "missing `{want}` in:\n{stdout}");
    }
}

#[test]
fn detectors_check_names_unknown_placeholders_param_types_and_missing_tests() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let geo = std::fs::read_to_string(repo.join("detectors/unusual-geo.toml")).unwrap();
    let spike = std::fs::read_to_string(repo.join("detectors/invoke-spike.toml")).unwrap();
    std::fs::write(
        dir.path().join("a-placeholder.toml"),
        geo.replace(
            "made calls from {value}, a country",
            "made calls from {valeu}, a country",
        )
        .replace("\"unusual-geo\"", "\"geo-placeholder\""),
    )
    .unwrap();
    let window = spike
        .lines()
        .map(|l| {
            if l.starts_with("window = ") {
                "window = 15"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(
        dir.path().join("b-window.toml"),
        window.replace("\"invoke-spike\"", "\"spike-window\""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c-untested.toml"),
        geo.split("\n[[test]]")
            .next()
            .unwrap()
            .replace("\"unusual-geo\"", "\"geo-untested\""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d-attack.toml"),
        geo.replace("attack = [\"T1078\",", "attack = [\"T10780\",")
            .replace("\"unusual-geo\"", "\"geo-attack\""),
    )
    .unwrap();
    // The engine does not read test cases; the check still does.
    std::fs::write(
        dir.path().join("e-case.toml"),
        geo.replacen("expect = \"fires\"", "expect = \"fire\"", 1)
            .replace("\"unusual-geo\"", "\"geo-case\""),
    )
    .unwrap();
    let out = trailhound(&["detectors", "check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let d = dir.path().display();
    for want in [
        format!(
            "error: {d}/a-placeholder.toml: title: unknown placeholder {{valeu}} (known: principal_name, field, value, known)\n"
        ),
        format!(
            "error: {d}/b-window.toml: params.window: invalid type: integer `15`, expected a string\n"
        ),
        format!(
            "error: {d}/c-untested.toml: test: no [[test]] cases: add one that fires and one that stays quiet\n"
        ),
        format!("error: {d}/d-attack.toml: attack: `T10780` is not a MITRE ATT&CK technique id"),
        format!("error: {d}/e-case.toml: test[0].expect: must be \"fires\" or \"quiet\"\n"),
        "error: 5 invalid detector file(s)".to_string(),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
}
