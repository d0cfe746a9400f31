//! The committed sample archive: exact findings, none on the benign traffic alone, the same
//! findings when replayed in two halves with `--state`, and a generator that reproduces it.

use crate::support::common;

use std::path::{Path, PathBuf};

use trailhound_core::alert::Finding;

fn samples() -> PathBuf {
    common::repo().join("samples")
}

/// Compares findings field by field so a failure names the field that moved.
fn assert_same(got: &[Finding], want: &[Finding]) {
    let ids = |f: &[Finding]| {
        f.iter()
            .map(|f| format!("{} {}", f.detector, f.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(got), ids(want), "finding ids");
    for (g, w) in got.iter().zip(want) {
        let g = serde_json::to_value(g).unwrap();
        let w = serde_json::to_value(w).unwrap();
        for (field, wv) in w.as_object().unwrap() {
            assert_eq!(
                g.get(field),
                Some(wv),
                "finding {} field `{field}`",
                w["id"]
            );
        }
        assert_eq!(
            g.as_object().unwrap().len(),
            w.as_object().unwrap().len(),
            "finding {} has extra fields",
            w["id"]
        );
    }
}

#[test]
fn samples_give_exactly_the_expected_findings() {
    let out = common::run(&common::options(&[&samples()]));
    let want = common::read_jsonl(&samples().join("expected-findings.jsonl"));
    assert_same(&out.findings, &want);
    common::assert_schema(&out.findings);
    let detectors: Vec<&str> = out.findings.iter().map(|f| f.detector.as_str()).collect();
    // One attack scenario per detector (crates/trailhound-samples: attacks, llmjacking,
    // and the training job's night in machines).
    assert_eq!(
        detectors,
        [
            "guardrail-interventions",
            "s3-exfil-volume",
            "token-spike",
            "invoke-spike",
            "training-data-access",
            "impossible-travel",
            "unusual-geo",
            "ai-attack-sequence",
            "llmjacking-recon",
            "attack-tool-agent",
            "bedrock-probing",
            "model-access-enabled",
            "logging-tampering",
            "invocation-logging-gap",
            "unapproved-model",
            "gpu-provisioning",
            "ai-role-iam-change",
            "secret-in-prompt",
        ]
    );
    let s = &out.stats;
    assert_eq!(
        (s.objects_read(), s.records, s.bad_total()),
        (1039, 29_574, 0)
    );
    assert!(s.errors.is_empty());
    let spike = out
        .findings
        .iter()
        .find(|f| f.detector == "invoke-spike")
        .unwrap();
    assert_eq!(
        spike.title,
        "support-bot-role called Bedrock InvokeModel 2,356 times in 1 hour, 124x its usual for weekday 03:06-04:06 UTC"
    );
    // The 2,340 attack calls (03:10-03:25) and the bot's own 16 in the peak hour.
    assert_eq!(spike.evidence["observed"], 2356);
    assert_eq!(spike.evidence["seasonal"]["basis"], "hour-of-day");
    // G: the nightly training job reads ten times its usual objects; an allowed reader,
    // caught by volume once the 6-hour window leaves its usual hour behind.
    let exfil = out
        .findings
        .iter()
        .find(|f| f.detector == "s3-exfil-volume")
        .unwrap();
    assert_eq!(
        exfil.title,
        "sagemaker-training-role read 21,976,737,670 bytes out of s3://acme-ml-training-data in 6 hours, over its threshold of 10,737,418,240"
    );
    assert_eq!(exfil.evidence["bucket"], "acme-ml-training-data");
    assert_eq!(
        exfil.evidence["seasonal"]["slot"],
        "weekday 04:46-10:46 UTC"
    );
    assert_eq!(exfil.evidence["threshold"], 10_737_418_240_u64);
}

#[test]
fn benign_traffic_alone_raises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    trailhound_samples::generate_benign(dir.path()).unwrap();
    let out = common::run(&common::options(&[dir.path()]));
    assert_eq!(
        out.stats.records, 25_373,
        "the attacks' records are gone (29,574 with them)"
    );
    assert!(
        out.findings.is_empty(),
        "benign findings: {:#?}",
        out.findings
    );
}

#[test]
fn the_generator_reproduces_the_committed_archive() {
    let dir = tempfile::tempdir().unwrap();
    let summary = trailhound_samples::generate(dir.path()).unwrap();
    assert_eq!((summary.objects, summary.records), (1046, 29_574));
    let mut files = Vec::new();
    walk(dir.path(), dir.path(), &mut files);
    assert_eq!(files.len(), 1046);
    for rel in files {
        let fresh = std::fs::read(dir.path().join(&rel)).unwrap();
        let committed =
            std::fs::read(samples().join(&rel)).unwrap_or_else(|e| panic!("samples/{rel}: {e}"));
        assert!(
            fresh == committed,
            "samples/{rel} differs from the generator's output: run `cargo run -p trailhound-samples -- samples`"
        );
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn two_halves_with_state_give_the_same_findings_as_one_run() {
    let all = samples();
    let mut objects = trailhound_core::ingest::local::list(std::slice::from_ref(&all)).unwrap();
    objects.retain(|o| !o.object.key.ends_with("expected-findings.jsonl"));
    let half = objects.len() / 2;
    // Cut in the middle of the attack day so open findings and windows cross the cut.
    let cut = objects
        .iter()
        .position(|o| o.object.key.contains("20261009T03"))
        .unwrap_or(half);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (i, o) in objects.iter().enumerate() {
        let d = if i < cut {
            dirs[0].path()
        } else {
            dirs[1].path()
        };
        let dest = d.join(&o.object.key);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&o.path, dest).unwrap();
    }
    let state = dirs[0].path().join("../trailhound-state-test.json");
    let _ = std::fs::remove_file(&state);
    let mut opts = common::options(&[dirs[0].path()]);
    opts.state = Some(state.clone());
    let first = common::run(&opts);
    let mut opts = common::options(&[dirs[1].path()]);
    opts.state = Some(state.clone());
    let second = common::run(&opts);
    std::fs::remove_file(&state).unwrap();
    // Later versions of a finding replace earlier ones, as an SNS subscriber keeps the last.
    let mut merged = std::collections::BTreeMap::new();
    for f in first.findings.into_iter().chain(second.findings) {
        merged.insert(f.id.clone(), f);
    }
    let mut merged: Vec<Finding> = merged.into_values().collect();
    merged.sort_by(|a, b| (&a.first_seen, &a.id).cmp(&(&b.first_seen, &b.id)));
    let whole = common::run(&common::options(&[&all]));
    assert_same(&merged, &whole.findings);
}
