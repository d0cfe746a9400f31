//! Fault injection against moto (see `support/faults.rs`): the handler's S3, DynamoDB and
//! SNS clients go through a proxy that answers some requests with errors, resets, delays
//! or stalls. Every test compares with a fault-free run of the same objects, in the same
//! order, into a twin table of the same environment: the table's items must be equal
//! (entity versions and states, object items, outboxes, published sequence numbers) and
//! the findings SNS delivered must be the same, each version exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::faults::{Fault, Gate, Hits, Proxy, Rule, Wait};
use crate::support::*;
use aws_config::retry::RetryConfig;
use trailhound_aws::dynamo;
use trailhound_aws::lambda::{AwsDeps, handle};
use trailhound_aws::sink::SnsSink;
use trailhound_core::ingest::ObjectRef;

/// The proxy itself: HTTP framing on kept-alive connections.
mod proxy;

type Items = BTreeMap<(String, String), BTreeMap<String, String>>;

/// `env`'s resources seen through `conf` (another endpoint), with `table` for the state.
fn view(env: &Env, conf: aws_config::SdkConfig, table: &str) -> Env {
    Env {
        s3: moto::s3(&conf),
        dynamo: aws_sdk_dynamodb::Client::new(&conf),
        sns: aws_sdk_sns::Client::new(&conf),
        sqs: aws_sdk_sqs::Client::new(&conf),
        bucket: env.bucket.clone(),
        table: table.to_string(),
        topic_name: env.topic_name.clone(),
        topic_arn: env.topic_arn.clone(),
        queue_url: env.queue_url.clone(),
        conf,
    }
}

/// Handler dependencies whose every client goes through `proxy`, each SDK call tried
/// `attempts` times with millisecond backoff.
async fn deps_via(env: &Env, proxy: &Proxy, attempts: u32) -> AwsDeps {
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(40));
    let conf = moto::sdk_config_at(proxy.url())
        .await
        .to_builder()
        .retry_config(retry)
        .build();
    let mut d = view(env, conf.clone(), &env.table).deps(0, 1.0).await;
    d.sink.sns = SnsSink::new(aws_sdk_sns::Client::new(&conf), &env.topic_arn);
    d
}

/// The findings delivered, one JSON line each, sorted (a duplicate shows twice).
fn delivered(r: &[Received]) -> Vec<String> {
    let mut v: Vec<String> = r
        .iter()
        .map(|m| serde_json::to_string(&m.finding).unwrap())
        .collect();
    v.sort();
    v
}

fn ids(r: &[Received]) -> BTreeSet<String> {
    r.iter().map(|m| m.finding.id.clone()).collect()
}

/// A fault-free run of the objects `order` names (one event each) into a twin table:
/// its items and what SNS delivered (drained from the queue).
async fn clean_run(env: &Env, up: &[(ObjectRef, i64)], order: &[usize]) -> (Items, Vec<String>) {
    let one_by_one: Vec<&[usize]> = order.iter().map(std::slice::from_ref).collect();
    clean_batches(env, up, &one_by_one).await
}

/// As [`clean_run`], each slice of `batches` one SQS batch (one group commit).
async fn clean_batches(
    env: &Env,
    up: &[(ObjectRef, i64)],
    batches: &[&[usize]],
) -> (Items, Vec<String>) {
    let table = format!("{}-clean", env.table);
    create_table(&env.dynamo, &table).await;
    let twin = view(env, env.conf.clone(), &table);
    let deps = twin.deps(0, 1.0).await;
    for batch in batches {
        let messages: Vec<(String, serde_json::Value)> = batch
            .iter()
            .map(|&i| (format!("m{i}"), s3_event(&up[i].0, up[i].1)))
            .collect();
        let r = handle(&deps, sqs_event(&messages)).await.unwrap();
        assert_eq!(batch_failures(&r), Vec::<String>::new());
    }
    let got = delivered(&env.received().await);
    assert!(!got.is_empty());
    (twin.items().await, got)
}

async fn applied(env: &Env, o: &ObjectRef) -> bool {
    env.item(&dynamo::object_pk(o), "applied").await.is_some()
}

/// The key's unique tail, to match its S3 requests.
fn tail(o: &ObjectRef) -> String {
    o.key.rsplit('_').next().unwrap().to_string()
}

/// Waits until the rule's injected faults are all handled (a delayed request forwarded).
async fn settled(hits: &Hits) {
    let until = Instant::now() + Duration::from_secs(20);
    while hits.done() < hits.injected() {
        assert!(Instant::now() < until, "the proxy did not finish a fault");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_object_errors_are_retried_and_each_object_applied_once() {
    let env = Env::new("f-s3-retry", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2, 3, 4]).await;
    let proxy = Proxy::start().await;
    let (o2, o3) = (tail(&up[1].0), tail(&up[2].0));
    let slow = proxy.add(
        Rule::new(Fault::s3_slow_down())
            .method("GET")
            .path(&o2)
            .first(1),
    );
    let e500 = proxy.add(
        Rule::new(Fault::s3_internal_error())
            .method("GET")
            .path(&o2)
            .first(1),
    );
    // The third object's body is cut halfway: not retried by the SDK (the answer began),
    // the object fails as a transport failure (not as a corrupt object) and is redelivered.
    let cut = proxy.add(Rule::new(Fault::Truncate).method("GET").path(&o3).first(1));
    // The first object's answer is slow (within any timeout): no effect.
    let o1 = tail(&up[0].0);
    let wait = Wait::For(Duration::from_millis(300));
    let slow1 = proxy.add(
        Rule::new(Fault::DelayResponse(wait))
            .method("GET")
            .path(&o1)
            .first(1),
    );
    let deps = deps_via(&env, &proxy, 4).await;
    for (i, (o, size)) in up.iter().enumerate() {
        if i == 2 {
            let err = handle(&deps, s3_event(o, *size))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("the connection failed after"), "{err}");
            assert!(!applied(&env, o).await);
        }
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert_eq!(
        (slow.injected(), e500.injected(), cut.injected()),
        (1, 1, 1)
    );
    assert_eq!(proxy.count(&format!("GET {o2}")), 3, "two faults, one read");
    assert_eq!(proxy.count(&format!("GET {o3}")), 2);
    assert_eq!(slow1.done(), 1);
    let seen = proxy.seen();
    assert!(
        proxy.connections() < seen.len(),
        "connections are kept alive"
    );
    eprintln!(
        "{} requests on {} connections, {} with chunked bodies",
        seen.len(),
        proxy.connections(),
        seen.iter().filter(|s| s.chunked).count()
    );
    assert_eq!(deps.store.counters().conflicts, 0);
    assert_eq!(env.items().await, clean_items);
    assert_eq!(delivered(&env.received().await), clean_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_object_failing_persistently_fails_only_its_object_until_redelivered() {
    let env = Env::new("f-s3-persistent", true).await;
    let up = env.upload(&fixtures::archive()[..3]).await;
    // The failed object is applied after the first and the third, which are committed
    // together: so are they in the clean run.
    let (clean_items, clean_sent) = clean_batches(&env, &up, &[&[0, 2], &[1]]).await;
    let proxy = Proxy::start().await;
    let o2 = tail(&up[1].0);
    let down = proxy.add(Rule::new(Fault::s3_slow_down()).method("GET").path(&o2));
    let deps = deps_via(&env, &proxy, 3).await;
    let batch: Vec<(String, serde_json::Value)> = up
        .iter()
        .enumerate()
        .map(|(i, (o, s))| (format!("m{i}"), s3_event(o, *s)))
        .collect();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), ["m1"]);
    assert_eq!(down.injected(), 3, "every SDK attempt");
    assert!(applied(&env, &up[0].0).await && applied(&env, &up[2].0).await);
    assert!(!applied(&env, &up[1].0).await);
    // The same object in an S3 event: the invocation fails naming it and the throttling.
    let err = handle(&deps, s3_event(&up[1].0, up[1].1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("s3://{}/{}", env.bucket, up[1].0.key)) && err.contains("SlowDown"),
        "{err}"
    );
    assert!(!applied(&env, &up[1].0).await);
    // S3 recovers: the redelivered message completes the object, once.
    proxy.clear();
    let r = handle(&deps, sqs_event(&batch[1..2])).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let items = env.items().await;
    assert_eq!(items, clean_items);
    assert_eq!(delivered(&env.received().await), clean_sent);
    // And the whole batch again changes nothing.
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    assert_eq!(env.items().await, items);
    assert!(env.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_throttling_converges_to_the_fault_free_state() {
    let env = Env::new("f-ddb-throttle", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2, 3, 4]).await;
    let proxy = Proxy::start().await;
    // The third commit is cancelled for throttling (the store reloads and commits again);
    // every second commit request is throttled; the first three loads are throttled; so
    // are the first two outbox updates, and the first outbox read fails with a 500.
    let cancelled = proxy.add(
        Rule::new(Fault::dynamo_transaction_throttled())
            .target("TransactWriteItems")
            .skip(2)
            .first(1),
    );
    let commits = proxy.add(
        Rule::new(Fault::dynamo_throughput_exceeded())
            .target("TransactWriteItems")
            .every(2),
    );
    let loads = proxy.add(
        Rule::new(Fault::dynamo_throttling())
            .target("BatchGetItem")
            .first(3),
    );
    let updates = proxy.add(
        Rule::new(Fault::dynamo_throughput_exceeded())
            .target("UpdateItem")
            .first(2),
    );
    let reads = proxy.add(
        Rule::new(Fault::dynamo_internal_error())
            .target("GetItem")
            .first(1),
    );
    let deps = deps_via(&env, &proxy, 4).await;
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert_eq!(cancelled.injected(), 1);
    assert!(commits.injected() >= 2, "{}", commits.injected());
    assert_eq!(
        (loads.injected(), updates.injected(), reads.injected()),
        (3, 2, 1)
    );
    let c = deps.store.counters();
    assert_eq!(c.conflicts, 0, "no concurrent change");
    assert_eq!(
        c.throttled_commits, 1,
        "the cancelled commit, reloaded and redone"
    );
    assert_eq!(c.commits, 4, "three objects with records, one commit again");
    assert_eq!(env.items().await, clean_items, "no count lost or doubled");
    assert_eq!(delivered(&env.received().await), clean_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_throttling_past_the_sdk_retries_fails_the_object_and_redelivery_applies_it_once() {
    let env = Env::new("f-ddb-persistent", true).await;
    let up = env.upload(&fixtures::archive()[..3]).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2]).await;
    let proxy = Proxy::start().await;
    let deps = deps_via(&env, &proxy, 2).await;
    // (fault, requests it answers: the SDK's 2 attempts, or the pipeline's 12 commit
    // attempts for a transaction cancelled for throttling, which it reloads and retries like
    // a conflict but names apart; what the error says).
    let faults = [
        (
            Rule::new(Fault::dynamo_throughput_exceeded()).target("TransactWriteItems"),
            2,
            "TransactWriteItems on",
            "ProvisionedThroughputExceededException",
        ),
        (
            Rule::new(Fault::dynamo_throttling()).target("BatchGetItem"),
            2,
            "BatchGetItem on",
            "ThrottlingException",
        ),
        (
            Rule::new(Fault::dynamo_transaction_throttled()).target("TransactWriteItems"),
            12,
            "the state commit did not go through in 12 attempts: the store cancelled it for throttling 12 times; the event will be retried (check the table's capacity and its ThrottledRequests metric)",
            "",
        ),
    ];
    for ((o, size), (rule, n, what, code)) in up.iter().zip(faults) {
        let hits = proxy.add(rule);
        let err = handle(&deps, s3_event(o, *size))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&o.to_string()) && err.contains(what) && err.contains(code),
            "{err}"
        );
        assert_eq!(hits.injected(), n);
        assert!(!applied(&env, o).await, "{o} applied despite {err}");
        proxy.clear();
        handle(&deps, s3_event(o, *size)).await.unwrap();
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert_eq!(deps.store.counters().conflicts, 0);
    assert_eq!(deps.store.counters().throttled_commits, 12);
    assert_eq!(env.items().await, clean_items);
    assert_eq!(delivered(&env.received().await), clean_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_failures_keep_findings_in_the_outbox_and_a_retry_publishes_each_once() {
    let env = Env::new("f-sns", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2, 3, 4]).await;
    let proxy = Proxy::start().await;
    let deps = deps_via(&env, &proxy, 3).await;
    let publish = |f: Fault| Rule::new(f).action("PublishBatch");
    let mut sent = Vec::new();

    // Throttled twice: the SDK's third attempt goes through.
    let t = proxy.add(publish(Fault::sns_throttling()).first(2));
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();
    handle(&deps, s3_event(&up[1].0, up[1].1)).await.unwrap();
    assert_eq!(t.injected(), 2);
    sent.extend(env.received().await);
    proxy.clear();

    // The third object raises 13 findings, two SNS batches. SNS fails every call (500,
    // then resets): all stay pending, none is delivered.
    let (o3, size3) = &up[2];
    for f in [Fault::sns_internal_error(), Fault::Reset] {
        let hits = proxy.add(publish(f));
        let err = handle(&deps, s3_event(o3, *size3))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("PublishBatch"), "{err}");
        assert_eq!(hits.injected(), 6, "two batches, three attempts each");
        assert_eq!(pending(&env, o3).await.len(), 13);
        assert!(env.received().await.is_empty());
        proxy.clear();
    }
    // The first batch goes through, the second is reset on every attempt.
    let second = proxy.add(publish(Fault::Reset).skip(1));
    assert!(handle(&deps, s3_event(o3, *size3)).await.is_err());
    assert_eq!(second.injected(), 3);
    let first = env.received().await;
    let left = pending(&env, o3).await;
    assert_eq!((first.len(), left.len()), (10, 3));
    assert!(ids(&first).is_disjoint(&left));
    sent.extend(first);
    proxy.clear();
    // Throttled once and reset once on the way: the rest goes out, once.
    proxy.add(publish(Fault::sns_throttling()).first(1));
    proxy.add(publish(Fault::Reset).first(1));
    for (o, size) in &up[2..] {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let rest = env.received().await;
    assert_eq!(ids(&rest), left);
    assert_eq!(rest.len(), 3);
    sent.extend(rest);
    assert!(pending(&env, o3).await.is_empty());
    // Redelivered: nothing more.
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert!(env.received().await.is_empty());
    assert_eq!(delivered(&sent), clean_sent);
    assert_eq!(env.items().await, clean_items);
}

/// Runs the handler on `event` and drops it (mid-object) as soon as `now()` holds; false
/// when the handler finished first.
async fn drop_when(deps: &AwsDeps, event: serde_json::Value, now: impl Fn() -> bool) -> bool {
    let cond = async {
        while !now() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = handle(deps, event) => false,
        _ = cond => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_dropped_mid_commit_is_completed_once_by_redelivery() {
    let env = Env::new("f-drop-commit", true).await;
    let up = env.upload(&fixtures::archive()[..3]).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2]).await;
    let proxy = Proxy::start().await;
    let deps = deps_via(&env, &proxy, 3).await;
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();

    // The commit lands, its answer is held: the handler is dropped before it sees it.
    let (o2, size2) = &up[1];
    let gate = Gate::default();
    let slow = proxy.add(
        Rule::new(Fault::DelayResponse(Wait::Gate(gate.clone())))
            .target("TransactWriteItems")
            .first(1),
    );
    assert!(drop_when(&deps, s3_event(o2, *size2), || slow.forwarded() == 1).await);
    gate.open();
    settled(&slow).await;
    assert!(
        !pending(&env, o2).await.is_empty(),
        "committed, not published"
    );
    assert!(env.received().await.is_empty());
    handle(&deps, s3_event(o2, *size2)).await.unwrap();

    // The commit is held on its way: the handler is dropped, the event redelivered and
    // applied, and only then the first commit lands (and must change nothing).
    let (o3, size3) = &up[2];
    let gate = Gate::default();
    let late = proxy.add(
        Rule::new(Fault::DelayRequest(Wait::Gate(gate.clone())))
            .target("TransactWriteItems")
            .first(1),
    );
    assert!(drop_when(&deps, s3_event(o3, *size3), || late.injected() == 1).await);
    handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(late.forwarded(), 0);
    gate.open();
    settled(&late).await;
    assert_eq!(late.forwarded(), 1, "the stale commit reached moto");
    handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(env.items().await, clean_items);
    assert_eq!(delivered(&env.received().await), clean_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_dropped_mid_publish_is_completed_once_by_redelivery() {
    let env = Env::new("f-drop-publish", true).await;
    let up = env.upload(&fixtures::archive()[..3]).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2]).await;
    let proxy = Proxy::start().await;
    let deps = deps_via(&env, &proxy, 3).await;
    for (o, size) in &up[..2] {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let before = env.received().await;
    // The second SNS batch of the third object never reaches SNS: the handler is dropped
    // while waiting for it, after the first batch was delivered and recorded.
    let (o3, size3) = &up[2];
    let stall = proxy.add(
        Rule::new(Fault::Stall)
            .action("PublishBatch")
            .skip(1)
            .first(1),
    );
    assert!(drop_when(&deps, s3_event(o3, *size3), || stall.injected() == 1).await);
    settled(&stall).await;
    let first = env.received().await;
    let left = pending(&env, o3).await;
    assert_eq!((first.len(), left.len()), (10, 3));
    assert!(ids(&first).is_disjoint(&left));
    handle(&deps, s3_event(o3, *size3)).await.unwrap();
    let rest = env.received().await;
    assert_eq!(ids(&rest), left);
    assert!(pending(&env, o3).await.is_empty());
    let all: Vec<Received> = [before, first, rest].concat();
    assert_eq!(delivered(&all), clean_sent);
    assert_eq!(env.items().await, clean_items);
}

/// The at-least-once window the publish path documents ("recorded per batch, so a crash in
/// between resends only the rest"): when SNS accepted a batch but the handler did not
/// record it (the response was lost, or recording it failed), that batch is sent again,
/// and only that batch; nothing is lost and the state is the fault-free one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_accepted_but_not_recorded_is_sent_again_and_only_it() {
    let env = Env::new("f-lost-response", true).await;
    let up = env.upload(&fixtures::archive()[..3]).await;
    let (clean_items, clean_sent) = clean_run(&env, &up, &[0, 1, 2]).await;
    let proxy = Proxy::start().await;
    let deps = deps_via(&env, &proxy, 2).await;
    let times = |r: &[Received]| -> BTreeMap<usize, usize> {
        let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
        for x in r {
            *per_id.entry(x.finding.id.clone()).or_default() += 1;
        }
        let mut hist = BTreeMap::new();
        for n in per_id.into_values() {
            *hist.entry(n).or_default() += 1;
        }
        hist
    };
    let mut sent = Vec::new();
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();
    sent.extend(env.received().await);

    // SNS takes the second object's batch, but recording that is throttled past the SDK's
    // retries: the object fails with its findings pending, and the retry sends them again.
    let (o2, size2) = &up[1];
    let rec = proxy.add(Rule::new(Fault::dynamo_throughput_exceeded()).target("UpdateItem"));
    let err = handle(&deps, s3_event(o2, *size2))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("they may be sent again"), "{err}");
    assert!(rec.injected() >= 2);
    let first = env.received().await;
    let waiting = pending(&env, o2).await;
    assert!(waiting.len() >= 2, "{waiting:?}");
    assert_eq!(ids(&first), waiting);
    proxy.clear();
    handle(&deps, s3_event(o2, *size2)).await.unwrap();
    let again = env.received().await;
    assert_eq!(
        delivered(&again),
        delivered(&first),
        "the same batch, again"
    );
    assert!(pending(&env, o2).await.is_empty());
    sent.extend(first);

    // The answer to the third object's first batch (10 of 13 findings) is lost after SNS
    // delivered it: the SDK sends it again.
    let (o3, size3) = &up[2];
    let lost = proxy.add(
        Rule::new(Fault::ResetAfterForward)
            .action("PublishBatch")
            .first(1),
    );
    handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(lost.injected(), 1);
    let third = env.received().await;
    assert_eq!(times(&third), BTreeMap::from([(1, 3), (2, 10)]));
    assert!(pending(&env, o3).await.is_empty());
    // Without the repeats, exactly the fault-free delivery; and the fault-free state.
    sent.extend(third);
    let mut all = delivered(&sent);
    all.dedup();
    assert_eq!(all, clean_sent);
    assert_eq!(env.items().await, clean_items);
}
