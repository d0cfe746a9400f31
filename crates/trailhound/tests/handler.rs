//! The Lambda handler over in-memory parts (no moto, no AWS API): every envelope kind gives
//! the same findings; keys are URL-decoded; test events and removals are ignored; a
//! redelivery publishes nothing and changes no state; a failed publish is retried without
//! duplicates; a bad object fails only its own SQS message; objects are not started near the
//! deadline; findings under the minimum severity are recorded, not published.
//!
//! The expected findings come from the core pipeline applied in key-time order to a fresh
//! memory store (what `replay` does), so each test checks exact ids, not just counts.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::fixtures::{self, Obj};
use crate::support::memory::{self, MemoryDeps};
use crate::support::*;
use serde_json::{Value, json};
use trailhound_aws::lambda::{handle, handle_until};
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::MemoryStore;

/// The envelope kinds the function is triggered with.
#[derive(Debug, Clone, Copy)]
enum Kind {
    S3,
    EventBridge,
    Sns,
    SqsS3,
    SqsSns,
}

const KINDS: [Kind; 5] = [
    Kind::S3,
    Kind::EventBridge,
    Kind::Sns,
    Kind::SqsS3,
    Kind::SqsSns,
];

fn envelope(kind: Kind, o: &ObjectRef, size: i64, id: &str) -> Value {
    match kind {
        Kind::S3 => s3_event(o, size),
        Kind::EventBridge => eventbridge_event(o, size),
        Kind::Sns => sns_event(&s3_event(o, size)),
        Kind::SqsS3 => sqs_event(&[(id.to_string(), s3_event(o, size))]),
        Kind::SqsSns => sqs_event(&[(id.to_string(), sns_wrap(&s3_event(o, size)))]),
    }
}

fn is_sqs(kind: Kind) -> bool {
    matches!(kind, Kind::SqsS3 | Kind::SqsSns)
}

/// What a sequential apply publishes: for each object in order, the ids of the findings it
/// raised or updated at or above `min_severity`. Objects that do not decode raise none.
async fn expected(
    objects: &[(ObjectRef, i64)],
    bodies: &[Obj],
    learning_days: u32,
    min_severity: f64,
) -> Vec<Vec<String>> {
    let decoder = memory::decoder(learning_days);
    let pipeline = decoder.pipeline();
    let store = MemoryStore::new();
    let mut out = Vec::new();
    for ((o, _), obj) in objects.iter().zip(bodies) {
        let ids = match pipeline.decode(o, &obj.body[..]) {
            Ok((_, acts)) => pipeline
                .apply(&store, o, &acts, |f| f.severity >= min_severity)
                .await
                .unwrap()
                .findings
                .into_iter()
                .filter(|f| f.severity >= min_severity)
                .map(|f| f.id)
                .collect(),
            Err(_) => Vec::new(),
        };
        out.push(ids);
    }
    out
}

fn flat(per_object: &[Vec<String>]) -> Vec<String> {
    per_object.iter().flatten().cloned().collect()
}

/// What one invocation applying these objects as a group publishes: the same findings in
/// the same order, each once, with the last object that raised or updated it.
fn grouped(per_object: &[Vec<String>]) -> Vec<String> {
    let all = flat(per_object);
    all.iter()
        .enumerate()
        .filter(|(i, id)| !all[i + 1..].contains(id))
        .map(|(_, id)| id.clone())
        .collect()
}

/// The store's whole content (entities with versions, applied objects, pending findings).
fn snapshot(store: &MemoryStore) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    store.save_file(&path).unwrap();
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The archive in the in-memory bucket, with a fresh handler.
fn archive(learning_days: u32, min_severity: f64) -> (MemoryDeps, Vec<Obj>, Vec<(ObjectRef, i64)>) {
    let deps = memory::deps(learning_days, min_severity);
    let objs = fixtures::archive();
    let up = deps.fetch.upload(&objs);
    (deps, objs, up)
}

fn no_failures(r: &Value) {
    assert_eq!(batch_failures(r), Vec::<String>::new(), "{r}");
}

fn etl_role() -> String {
    format!("p#arn:aws:iam::{}:role/etl-role", fixtures::ACCOUNT)
}

#[tokio::test]
async fn every_envelope_kind_publishes_the_same_findings() {
    let objs = fixtures::archive();
    // ETags are content hashes: every fresh bucket names the objects alike.
    let want = expected(&memory::MemoryObjects::new().upload(&objs), &objs, 0, 1.0).await;
    // The first object raises nothing (no history yet); the second an unusual-geo, a
    // training-data access and an invoke spike; the third twelve new countries and the same
    // invoke spike, updated. The digest and the zero-byte object raise nothing.
    assert_eq!(
        want.iter().map(Vec::len).collect::<Vec<_>>(),
        [0, 3, 13, 0, 0]
    );
    let ids = flat(&want);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 15);
    for kind in KINDS {
        let deps = memory::deps(0, 1.0);
        let up = deps.fetch.upload(&objs);
        for (i, (o, size)) in up.iter().enumerate() {
            let r = handle(&deps, envelope(kind, o, *size, &format!("m{i}")))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {o}: {e:#}"));
            if is_sqs(kind) {
                no_failures(&r);
            } else {
                assert_eq!(r["published"], want[i].len(), "{kind:?} {o}: {r}");
            }
        }
        assert_eq!(deps.sink.ids(), ids, "{kind:?}");
        // The digest and the zero-byte object are skipped before any read.
        assert_eq!(
            deps.fetch.fetched(),
            up[..3].iter().map(|(o, _)| o.clone()).collect::<Vec<_>>(),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn one_event_naming_several_objects_applies_them_in_key_time_order() {
    let (deps, objs, up) = archive(0, 1.0);
    // Newest first in the event: the handler still applies them oldest first, like replay.
    let records: Vec<Value> = up
        .iter()
        .rev()
        .map(|(o, s)| s3_record(o, *s, "ObjectCreated:Put"))
        .collect();
    let r = handle(&deps, json!({ "Records": records })).await.unwrap();
    let want = expected(&up, &objs, 0, 1.0).await;
    // Committed together: the invoke spike the third object updates is sent once.
    assert!(grouped(&want).len() < flat(&want).len());
    assert_eq!(deps.sink.ids(), grouped(&want));
    assert_eq!(
        deps.fetch.fetched(),
        up[..3].iter().map(|(o, _)| o.clone()).collect::<Vec<_>>()
    );
    assert_eq!(r["objects"], 3, "{r}");
    assert_eq!(r["skipped"], 2, "{r}");
    assert_eq!(r["published"], 15, "{r}");
    assert_eq!(r["findings"], 15, "{r}");
}

#[tokio::test]
async fn url_encoded_keys_are_decoded_before_the_read() {
    let deps = memory::deps(0, 1.0);
    let mut objs = fixtures::archive();
    objs.truncate(2);
    for o in &mut objs {
        o.key = format!("org trail+logs/{}", o.key);
    }
    let up = deps.fetch.upload(&objs);
    for (o, size) in &up {
        let ev = s3_event(o, *size);
        let raw = ev["Records"][0]["s3"]["object"]["key"].as_str().unwrap();
        assert!(raw.starts_with("org+trail%2Blogs/AWSLogs/"), "{raw}");
        handle(&deps, ev).await.unwrap();
    }
    assert_eq!(
        deps.fetch.fetched(),
        up.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>()
    );
    let want = expected(&up, &objs, 0, 1.0).await;
    assert!(!flat(&want).is_empty());
    assert_eq!(deps.sink.ids(), flat(&want));
    for s in deps.sink.sent() {
        let f = s.finding();
        assert!(
            f.sources
                .iter()
                .all(|src| src.bucket == memory::BUCKET && src.key.starts_with("org trail+logs/")),
            "{:?}",
            f.sources
        );
    }
}

#[tokio::test]
async fn test_events_and_removals_are_ignored() {
    let (deps, _, up) = archive(0, 1.0);
    let (o, size) = &up[0];
    let test_event = json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-10-01T01:00:00.000Z",
        "Bucket": memory::BUCKET, "RequestId": "R", "HostId": "H"
    });
    let mut deleted = eventbridge_event(o, *size);
    deleted["detail-type"] = json!("Object Deleted");
    let removed = json!({"Records": [s3_record(o, 0, "ObjectRemoved:Delete")]});
    for ev in [
        test_event.clone(),
        removed.clone(),
        deleted,
        sns_event(&test_event),
    ] {
        let r = handle(&deps, ev).await.unwrap();
        assert_eq!(
            r,
            json!({"objects": 0, "skipped": 0, "duplicates": 0, "records": 0,
                   "findings": 0, "published": 0, "ignored": 1})
        );
    }
    let r = handle(
        &deps,
        sqs_event(&[
            ("t".into(), test_event.clone()),
            ("d".into(), removed),
            ("w".into(), sns_wrap(&test_event)),
        ]),
    )
    .await
    .unwrap();
    no_failures(&r);
    assert_eq!(deps.fetch.fetches(), 0);
    assert!(deps.sink.ids().is_empty());
    assert_eq!(deps.sink.calls(), 0);
    assert!(deps.store.is_empty());
}

#[tokio::test]
async fn redelivery_publishes_nothing_and_changes_no_state() {
    let (deps, objs, up) = archive(0, 1.0);
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let published = deps.sink.ids();
    assert_eq!(published, flat(&expected(&up, &objs, 0, 1.0).await));
    let state = snapshot(&deps.store);
    assert_eq!(deps.fetch.fetches(), 3);

    // Every event again, one by one: each object is read, found applied, and nothing is sent.
    for (o, size) in &up[..3] {
        let r = handle(&deps, s3_event(o, *size)).await.unwrap();
        assert_eq!(r["duplicates"], 1, "{r}");
        assert_eq!(r["findings"], 0, "{r}");
        assert_eq!(r["published"], 0, "{r}");
    }
    assert_eq!(deps.fetch.fetches(), 6);
    // Then all in one SQS batch, bodies of each kind SQS carries.
    let batch: Vec<(String, Value)> = up
        .iter()
        .enumerate()
        .map(|(i, (o, s))| {
            let body = match i % 3 {
                0 => s3_event(o, *s),
                1 => eventbridge_event(o, *s),
                _ => sns_wrap(&s3_event(o, *s)),
            };
            (format!("m{i}"), body)
        })
        .collect();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    no_failures(&r);
    assert_eq!(deps.fetch.fetches(), 6 + 3);
    assert_eq!(deps.sink.ids(), published, "redelivery published again");
    assert_eq!(snapshot(&deps.store), state, "redelivery changed the state");
}

#[tokio::test]
async fn a_failed_publish_errs_and_the_retry_sends_only_what_was_not_sent() {
    let (deps, objs, up) = archive(0, 1.0);
    let want = expected(&up, &objs, 0, 1.0).await;
    for (o, size) in &up[..2] {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert_eq!(deps.sink.ids(), flat(&want[..2]));
    let (o3, size3) = &up[2];
    let third: BTreeSet<String> = want[2].iter().cloned().collect();
    assert_eq!(
        third.len(),
        13,
        "twelve new countries and the updated invoke spike"
    );

    // SNS down (both calls of the two batches fail: a failed call does not stop the next):
    // nothing accepted, the invocation fails naming the object.
    deps.sink.fail_next(2);
    let err = format!(
        "{:#}",
        handle(&deps, s3_event(o3, *size3)).await.unwrap_err()
    );
    assert!(
        err.contains(&o3.to_string()) && err.contains("unavailable"),
        "{err}"
    );
    assert_eq!(deps.sink.ids(), flat(&want[..2]));

    // SNS takes the first batch of 10, then fails: the invocation fails again.
    deps.sink.fail_after(1, 1);
    assert!(handle(&deps, s3_event(o3, *size3)).await.is_err());
    let first: Vec<String> = deps.sink.ids()[flat(&want[..2]).len()..].to_vec();
    assert_eq!(first.len(), 10);
    assert!(first.iter().all(|id| third.contains(id)));

    // SNS works again: only the other 3 go out, once.
    deps.sink.accept_all();
    let r = handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(r["duplicates"], 1, "{r}");
    assert_eq!(r["published"], 3, "{r}");
    let sent = deps.sink.ids();
    let rest: Vec<String> = sent[flat(&want[..2]).len() + 10..].to_vec();
    assert_eq!(rest.len(), 3);
    let mut all: Vec<String> = first.iter().chain(&rest).cloned().collect();
    all.sort();
    assert_eq!(all, third.iter().cloned().collect::<Vec<_>>(), "each once");
    // And once more: nothing.
    let r = handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(r["published"], 0, "{r}");
    assert_eq!(deps.sink.ids(), sent);
}

#[tokio::test]
async fn refused_findings_alone_are_sent_on_retry() {
    let (deps, objs, up) = archive(0, 1.0);
    let want = expected(&up, &objs, 0, 1.0).await;
    for (o, size) in &up[..2] {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let before = deps.sink.ids();
    let (o3, size3) = &up[2];
    let refused: Vec<String> = vec![want[2][0].clone(), want[2][11].clone()];
    deps.sink.refuse(refused.clone());
    let err = format!(
        "{:#}",
        handle(&deps, s3_event(o3, *size3)).await.unwrap_err()
    );
    assert!(err.contains("SNS refused 2 findings"), "{err}");
    assert!(refused.iter().all(|id| err.contains(id.as_str())), "{err}");
    let accepted: BTreeSet<String> = deps.sink.ids()[before.len()..].iter().cloned().collect();
    let others: BTreeSet<String> = want[2]
        .iter()
        .filter(|id| !refused.contains(id))
        .cloned()
        .collect();
    assert_eq!(accepted, others);

    deps.sink.accept_all();
    handle(&deps, s3_event(o3, *size3)).await.unwrap();
    let retried: BTreeSet<String> = deps.sink.ids()[before.len() + others.len()..]
        .iter()
        .cloned()
        .collect();
    assert_eq!(retried, refused.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(deps.sink.ids().len(), before.len() + 13);
}

#[tokio::test]
async fn a_failed_publish_fails_only_its_own_sqs_message() {
    let (deps, objs, up) = archive(0, 1.0);
    let want = expected(&up, &objs, 0, 1.0).await;
    let batch: Vec<(String, Value)> = up[..3]
        .iter()
        .enumerate()
        .map(|(i, (o, s))| (format!("m{i}"), s3_event(o, *s)))
        .collect();
    // SNS refuses the findings only the second object raises (the unusual-geo and the
    // training-data access; the invoke spike, updated by the third object in the same
    // commit, goes with the third, once).
    let refused: Vec<String> = want[1]
        .iter()
        .filter(|id| !want[2].contains(id))
        .cloned()
        .collect();
    assert_eq!(refused.len(), 2);
    deps.sink.refuse(refused.clone());
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), ["m1"]);
    let accepted: Vec<String> = want[1]
        .iter()
        .filter(|id| !refused.contains(id) && !want[2].contains(id))
        .chain(&want[2])
        .cloned()
        .collect();
    assert_eq!(deps.sink.ids(), accepted);
    // The retry of that message sends just the refused ones, once.
    deps.sink.accept_all();
    let r = handle(&deps, sqs_event(&batch[1..2])).await.unwrap();
    no_failures(&r);
    assert_eq!(deps.sink.ids()[accepted.len()..], refused[..]);
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    no_failures(&r);
    assert_eq!(deps.sink.ids().len(), accepted.len() + refused.len());
}

#[tokio::test]
async fn a_bad_object_fails_only_its_own_message() {
    let deps = memory::deps(0, 1.0);
    let mut objs = fixtures::archive();
    objs.truncate(2);
    // A real log object cut short mid-stream.
    let mut truncated = fixtures::archive().swap_remove(1).body;
    truncated.truncate(truncated.len() / 2);
    objs.push(Obj {
        key: fixtures::ct_key(fixtures::T0 + 60, "corrupt0"),
        body: truncated,
    });
    objs.push(Obj {
        key: fixtures::ct_key(fixtures::T0 + 120, "notjson0"),
        body: fixtures::gzip(b"this is not a log file"),
    });
    let up = deps.fetch.upload(&objs);
    let (good1, good2, corrupt, not_json) = (&up[0], &up[1], &up[2], &up[3]);
    let missing = ObjectRef::s3(
        memory::BUCKET,
        fixtures::ct_key(fixtures::T0 + 180, "missing0"),
        "e",
    );
    let test_event =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": memory::BUCKET});
    let goods = json!({"Records": [
        s3_record(&good1.0, good1.1, "ObjectCreated:Put"),
        s3_record(&good2.0, good2.1, "ObjectCreated:Put"),
    ]});
    let both = json!({"Records": [
        s3_record(&good1.0, good1.1, "ObjectCreated:Put"),
        s3_record(&not_json.0, not_json.1, "ObjectCreated:Put"),
    ]});
    let batch = vec![
        ("good".to_string(), goods),
        ("corrupt".to_string(), s3_event(&corrupt.0, corrupt.1)),
        ("missing".to_string(), sns_wrap(&s3_event(&missing, 100))),
        ("test-event".to_string(), test_event),
        ("chatter".to_string(), json!({"hello": "world"})),
        ("good-and-bad".to_string(), both),
    ];
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(
        batch_failures(&r),
        ["corrupt", "missing", "chatter", "good-and-bad"]
    );
    // In key-time order. good-and-bad's good object is read ahead (its message fails on
    // the earlier not-json object meanwhile) and its result dropped: applied once.
    assert_eq!(
        deps.fetch.fetched(),
        [
            &corrupt.0,
            &not_json.0,
            &missing,
            &good1.0,
            &good1.0,
            &good2.0
        ]
        .map(Clone::clone)
    );
    let want = expected(&up[..2], &objs[..2], 0, 1.0).await;
    assert!(!flat(&want).is_empty());
    assert_eq!(deps.sink.ids(), flat(&want));
    let state = snapshot(&deps.store);

    // The retry of the failed messages: the same ones fail, nothing is sent or changed.
    let retry: Vec<_> = batch.into_iter().filter(|(id, _)| id != "good").collect();
    let r = handle(&deps, sqs_event(&retry)).await.unwrap();
    assert_eq!(
        batch_failures(&r),
        ["corrupt", "missing", "chatter", "good-and-bad"]
    );
    // corrupt, not-json, missing, and good-and-bad's good object read ahead.
    assert_eq!(deps.fetch.fetches(), 6 + 4);
    assert_eq!(deps.sink.ids(), flat(&want));
    assert_eq!(snapshot(&deps.store), state);

    // Outside SQS the same objects fail the invocation with a message naming them.
    let err = format!(
        "{:#}",
        handle(&deps, s3_event(&missing, 100)).await.unwrap_err()
    );
    assert!(
        err.contains(&format!("s3://{}/{}", memory::BUCKET, missing.key))
            && err.contains("NoSuchKey"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        handle(&deps, s3_event(&corrupt.0, corrupt.1))
            .await
            .unwrap_err()
    );
    assert!(
        err.contains(&corrupt.0.to_string()) && err.contains("gzip"),
        "{err}"
    );
}

#[tokio::test]
async fn objects_not_started_before_the_deadline_fail_their_messages() {
    let (deps, objs, up) = archive(0, 1.0);
    let batch: Vec<(String, Value)> = up[..2]
        .iter()
        .enumerate()
        .map(|(i, (o, s))| (format!("m{i}"), s3_event(o, *s)))
        .collect();
    let soon = Instant::now() + Duration::from_secs(5);
    let r = handle_until(&deps, sqs_event(&batch), Some(soon))
        .await
        .unwrap();
    assert_eq!(batch_failures(&r), ["m0", "m1"]);
    assert_eq!(deps.fetch.fetches(), 0);
    assert!(deps.sink.ids().is_empty());
    assert!(deps.store.is_empty());
    // Outside SQS the invocation fails.
    let err = handle_until(&deps, s3_event(&up[0].0, up[0].1), Some(soon))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("about to time out"), "{err}");
    assert_eq!(deps.fetch.fetches(), 0);
    // With time left, the same batch goes through.
    let later = Instant::now() + Duration::from_secs(60);
    let r = handle_until(&deps, sqs_event(&batch), Some(later))
        .await
        .unwrap();
    no_failures(&r);
    assert_eq!(deps.fetch.fetches(), 2);
    assert_eq!(
        deps.sink.ids(),
        flat(&expected(&up[..2], &objs[..2], 0, 1.0).await)
    );
}

#[tokio::test]
async fn findings_below_the_minimum_severity_are_recorded_not_published() {
    let (deps, objs, up) = archive(0, 7.0);
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let got = deps.sink.sent();
    let want = expected(&up, &objs, 0, 7.0).await;
    // The training-data access and the invoke spike, then the spike updated.
    assert_eq!(
        want.iter().map(Vec::len).collect::<Vec<_>>(),
        [0, 2, 1, 0, 0]
    );
    assert_eq!(deps.sink.ids(), flat(&want));
    assert!(!got.is_empty());
    assert!(got.iter().all(|s| s.finding().severity >= 7.0));
    assert!(!got.iter().any(|s| s.finding().detector == "unusual-geo"));
    // What 1.0 would add is held back: the unusual-geo findings (severity 6).
    let all = flat(&expected(&up, &objs, 0, 1.0).await);
    let sent: BTreeSet<&String> = got.iter().map(|s| &s.id).collect();
    let held: BTreeSet<&String> = all.iter().filter(|id| !sent.contains(id)).collect();
    assert_eq!(held.len(), 13, "the thirteen unusual-geo findings");
    // The unusual-geo finding (severity 6) is in the role's state all the same.
    let state = deps.store.get(&etl_role()).expect("etl-role state");
    assert!(
        state.open.keys().any(|k| k.starts_with("unusual-geo/")),
        "{:?}",
        state.open.keys()
    );
    // Nothing below the minimum waits in the outbox: a redelivery sends nothing.
    let before = deps.sink.ids();
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert_eq!(deps.sink.ids(), before);
}
