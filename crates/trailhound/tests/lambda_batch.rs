//! SQS batches: a bad object (corrupt gzip, not JSON, missing) fails only its own message;
//! messages that name no object succeed; the rest of the batch is applied and published.
//! Near the deadline, objects not started are reported failed instead of timing out.

use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::json;
use trailhound_aws::dynamo;
use trailhound_aws::lambda::{handle, handle_until};
use trailhound_core::ingest::ObjectRef;

async fn applied(env: &Env, o: &ObjectRef) -> bool {
    env.item(&dynamo::object_pk(o), "applied").await.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_fail_only_their_own_messages() {
    let env = Env::new("bad-objects", true).await;
    let mut objs = fixtures::archive();
    objs.truncate(2);
    let mut corrupt = fixtures::gzip(br#"{"Records":[]}"#);
    corrupt.truncate(corrupt.len() / 2);
    corrupt.extend_from_slice(b"garbage after a cut");
    objs.push(fixtures::Obj {
        key: fixtures::ct_key(fixtures::T0 + 60, "corrupt0"),
        body: corrupt,
    });
    objs.push(fixtures::Obj {
        key: fixtures::ct_key(fixtures::T0 + 120, "notjson0"),
        body: fixtures::gzip(b"this is not a log file"),
    });
    let up = env.upload(&objs).await;
    let (good1, good2, corrupt, not_json) = (&up[0], &up[1], &up[2], &up[3]);
    let missing = ObjectRef::s3(
        &env.bucket,
        fixtures::ct_key(fixtures::T0 + 180, "missing0"),
        "e",
    );
    let test_event: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/public/envelopes/s3-test-event.json"
    ))
    .unwrap();
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
    let deps = env.deps(0, 1.0).await;
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(
        batch_failures(&r),
        ["corrupt", "missing", "chatter", "good-and-bad"]
    );
    assert!(applied(&env, &good1.0).await);
    assert!(!applied(&env, &corrupt.0).await);
    assert!(!applied(&env, &not_json.0).await);
    assert!(applied(&env, &good2.0).await);
    let published = env.received().await.len();
    assert!(published > 0);

    // The retry of the failed messages: the same ones fail, nothing is published twice.
    let retry: Vec<_> = batch.into_iter().filter(|(id, _)| id != "good").collect();
    let r = handle(&deps, sqs_event(&retry)).await.unwrap();
    assert_eq!(
        batch_failures(&r),
        ["corrupt", "missing", "chatter", "good-and-bad"]
    );
    assert!(env.received().await.is_empty());

    // The same bad object outside SQS fails the invocation with a message naming it.
    let err = handle(&deps, s3_event(&missing, 100))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("s3://{}/{}", env.bucket, missing.key)) && err.contains("NoSuchKey"),
        "{err}"
    );
    let err = handle(&deps, s3_event(&corrupt.0, corrupt.1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("gzip"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_not_started_before_the_deadline_fail_their_messages() {
    let env = Env::new("deadline", true).await;
    let up = env.upload(&fixtures::archive()[..2]).await;
    let deps = env.deps(0, 1.0).await;
    let batch: Vec<_> = up
        .iter()
        .enumerate()
        .map(|(i, (o, s))| (format!("m{i}"), s3_event(o, *s)))
        .collect();
    let soon = Instant::now() + Duration::from_secs(5);
    let r = handle_until(&deps, sqs_event(&batch), Some(soon))
        .await
        .unwrap();
    assert_eq!(batch_failures(&r), ["m0", "m1"]);
    assert!(!applied(&env, &up[0].0).await);
}
