//! Finding ids do not depend on the order objects arrive in: `replay` given the archive's
//! objects in reverse key order, the pipeline applying them out of order within minutes (as
//! S3 notifications and SQS deliver them), and the Lambda handler applying them through
//! concurrent invocations all give the ids of `samples/expected-findings.jsonl`. Episodes are
//! aligned periods of event time (docs/ARCHITECTURE.md), so the ids follow from event times.

use std::collections::BTreeSet;

use crate::support::common;
use crate::support::memory::{self, BUCKET};
use crate::support::s3_event;
use trailhound_aws::lambda::handle;
use trailhound_core::ingest::local::{self, LocalObject};
use trailhound_core::state::MemoryStore;

fn samples() -> std::path::PathBuf {
    common::repo().join("samples")
}

fn objects() -> Vec<LocalObject> {
    let mut objects = local::list(&[samples()]).unwrap();
    objects.retain(|o| !o.object.key.ends_with("expected-findings.jsonl"));
    objects
}

/// The expected findings' `(detector, id)`s.
fn want() -> BTreeSet<(String, String)> {
    common::read_jsonl(&samples().join("expected-findings.jsonl"))
        .into_iter()
        .map(|f| (f.detector, f.id))
        .collect()
}

/// Objects in key order, each run of `n` reversed: the order concurrent deliveries give.
fn shuffled(objects: &[LocalObject], n: usize) -> Vec<&LocalObject> {
    objects.chunks(n).flat_map(|c| c.iter().rev()).collect()
}

#[test]
fn replay_given_the_objects_in_reverse_key_order_gives_the_same_findings() {
    let objects = objects();
    let paths: Vec<&std::path::Path> = objects.iter().rev().map(|o| o.path.as_path()).collect();
    let out = common::run(&common::options(&paths));
    let got: BTreeSet<(String, String)> = out
        .findings
        .into_iter()
        .map(|f| (f.detector, f.id))
        .collect();
    assert_eq!(got, want());
}

#[tokio::test]
async fn objects_applied_out_of_order_within_minutes_give_the_same_ids() {
    let objects = objects();
    let decoder = memory::decoder(7);
    let pipeline = decoder.pipeline();
    let store = MemoryStore::new();
    let mut got = BTreeSet::new();
    let (want, mut extra) = (want(), Vec::new());
    let order = shuffled(&objects, 6);
    // The shuffle moves objects by at most a few minutes of key time.
    assert_ne!(
        order.iter().map(|o| &o.object.key).collect::<Vec<_>>(),
        objects.iter().map(|o| &o.object.key).collect::<Vec<_>>()
    );
    for o in order {
        let body = std::fs::read(&o.path).unwrap();
        let Ok((_, acts)) = pipeline.decode(&o.object, &body[..]) else {
            continue;
        };
        let outcome = pipeline
            .apply(&store, &o.object, &acts, |_| true)
            .await
            .unwrap();
        for f in outcome.findings {
            if !want.contains(&(f.detector.clone(), f.id.clone())) {
                extra.push(format!(
                    "{}: {} {} ({} .. {}, count {}, id {})",
                    o.object.key, f.detector, f.title, f.first_seen, f.last_seen, f.count, f.id
                ));
            }
            got.insert((f.detector, f.id));
        }
    }
    assert!(
        extra.is_empty(),
        "findings not in the expected set: {extra:#?}"
    );
    assert_eq!(got, want);
}

#[tokio::test]
async fn concurrent_lambda_invocations_publish_the_same_ids() {
    let deps = memory::deps(7, 1.0);
    let objects = objects();
    let uploaded: Vec<_> = objects
        .iter()
        .map(|o| {
            deps.fetch
                .put(BUCKET, &o.object.key, std::fs::read(&o.path).unwrap())
        })
        .collect();
    // Four invocations at a time, each with one object, in key order by groups.
    for group in uploaded.chunks(4) {
        let runs = group
            .iter()
            .rev()
            .map(|(o, size)| handle(&deps, s3_event(o, *size)));
        for r in futures::future::join_all(runs).await {
            r.unwrap();
        }
    }
    let got: BTreeSet<(String, String)> = deps
        .sink
        .sent()
        .into_iter()
        .map(|s| {
            let f = s.finding();
            (f.detector, f.id)
        })
        .collect();
    assert_eq!(got, want());
}
