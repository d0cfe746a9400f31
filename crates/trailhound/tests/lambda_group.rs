//! Group commit against moto: the objects of one SQS batch are applied in one load and one
//! transaction, with the same state and the same findings as one invocation per object;
//! a batch that repeats applied objects applies only the new ones; a redelivered batch
//! writes nothing and sends nothing.

use std::collections::BTreeMap;

use crate::support::*;
use serde_json::Value;
use trailhound_aws::dynamo::{self, CountersSnapshot};
use trailhound_aws::lambda::handle;
use trailhound_core::alert::Finding;
use trailhound_core::ingest::ObjectRef;

/// The synthetic archive's three log objects, then five more 20 minutes apart by the same
/// roles (a busy one, a light one, the twelve apps): every entity recurs across objects,
/// as in consecutive deliveries of one trail.
fn objects() -> Vec<fixtures::Obj> {
    let mut objs: Vec<fixtures::Obj> = fixtures::archive()
        .into_iter()
        .filter(|o| !o.body.is_empty() && !o.key.contains("Digest"))
        .collect();
    for j in 0..5i64 {
        let start = fixtures::T0 + 4_800 + j * 1_200;
        let mut recs = fixtures::invokes(
            start,
            10,
            40 + 20 * j as usize,
            "support-bot-role",
            fixtures::US_IP,
        );
        recs.extend(fixtures::invokes(start, 5, 2, "etl-role", fixtures::DE_IP));
        for (i, app) in fixtures::apps().iter().enumerate() {
            recs.push(fixtures::record(
                start + 60 + i as i64,
                app,
                fixtures::US_IP,
                "sts.amazonaws.com",
                "GetCallerIdentity",
                serde_json::json!({}),
                i,
            ));
        }
        objs.push(fixtures::ct_object(
            start + 600,
            &format!("grp{j:05}"),
            recs,
        ));
    }
    objs
}

fn message(i: usize, (o, size): &(ObjectRef, i64)) -> (String, Value) {
    (format!("m{i}"), s3_event(o, *size))
}

/// Entity items (state and nothing else: versions count commits, which differ) and each
/// object's applied item, as the table holds them.
async fn states(env: &Env) -> BTreeMap<(String, String), String> {
    env.items()
        .await
        .into_iter()
        .map(|((pk, sk), attrs)| {
            let v = attrs
                .get("state")
                .or_else(|| attrs.get("pending"))
                .cloned()
                .unwrap_or_default();
            ((pk, sk), v)
        })
        .collect()
}

fn delta(a: CountersSnapshot, b: CountersSnapshot) -> (u64, u64, u64) {
    (
        b.commits - a.commits,
        b.items_written - a.items_written,
        b.write_calls - a.write_calls,
    )
}

/// The reference: each object in its own invocation (one SQS message each), in order, on a
/// twin of `env` (same objects, a table of its own). Returns it with what it sent (latest
/// version of each finding) and its store's counters.
async fn one_by_one(
    env: &Env,
    up: &[(ObjectRef, i64)],
) -> (Env, BTreeMap<String, Finding>, CountersSnapshot) {
    let twin = env.twin("single").await;
    let deps = twin.deps(0, 1.0).await;
    for (i, u) in up.iter().enumerate() {
        let r = handle(&deps, sqs_event(&[message(i, u)])).await.unwrap();
        assert_eq!(batch_failures(&r), Vec::<String>::new());
    }
    let sent = latest(&twin.received().await);
    (twin, sent, deps.store.counters())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_once_with_the_state_and_findings_of_one_object_at_a_time() {
    let env = Env::new("group-batch", true).await;
    let up = env.upload(&objects()).await;
    let (single, sent_single, c_single) = one_by_one(&env, &up).await;
    let deps = env.deps(0, 1.0).await;
    let batch: Vec<_> = up.iter().enumerate().map(|(i, u)| message(i, u)).collect();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let c = deps.store.counters();
    // Eight objects: eight transactions one at a time, one for the batch.
    assert_eq!((c_single.commits, c.commits), (8, 1));
    assert_eq!(c.conflicts, 0);
    // Each shared entity written once, not once per object.
    assert!(
        c.items_written * 2 < c_single.items_written,
        "batch wrote {} items, one at a time {}",
        c.items_written,
        c_single.items_written
    );
    assert_eq!(states(&env).await, states(&single).await);
    let sent = latest(&env.received().await);
    assert!(!sent.is_empty());
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        sent_single.keys().collect::<Vec<_>>()
    );
    // Each finding's last version is the same; the batch sends no intermediate versions.
    for (id, f) in &sent {
        let want = &sent_single[id];
        assert_eq!(
            (f.count, &f.last_seen, &f.evidence),
            (want.count, &want.last_seen, &want.evidence),
            "{id}"
        );
    }

    // The same batch again: every object applied, nothing written or sent.
    let before = deps.store.counters();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    assert_eq!(delta(before, deps.store.counters()), (0, 0, 0));
    assert!(env.received().await.is_empty());
}

/// The deploy's default mode: the EventBridge rule feeds the trigger queue, so a batch's
/// bodies are EventBridge `Object Created` events. One group commit, the same table and
/// findings as the same objects notified by S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_eventbridge_events_is_one_group_like_s3_notifications() {
    let env = Env::new("group-eventbridge", true).await;
    let up = env.upload(&objects()).await;
    let s3 = env.twin("s3").await;
    let s3_deps = s3.deps(0, 1.0).await;
    let batch: Vec<_> = up.iter().enumerate().map(|(i, u)| message(i, u)).collect();
    let r = handle(&s3_deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let sent_s3 = latest(&s3.received().await);

    let deps = env.deps(0, 1.0).await;
    let batch: Vec<_> = (up.iter().enumerate())
        .map(|(i, (o, size))| (format!("m{i}"), eventbridge_event(o, *size)))
        .collect();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let c = deps.store.counters();
    assert_eq!((c.commits, c.conflicts), (1, 0));
    assert_eq!(states(&env).await, states(&s3).await);
    let sent = latest(&env.received().await);
    assert!(!sent.is_empty());
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        sent_s3.keys().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_repeats_applied_objects_applies_only_the_new_ones() {
    let env = Env::new("group-mixed", true).await;
    let up = env.upload(&objects()).await;
    let (single, sent_single, _) = one_by_one(&env, &up).await;
    let deps = env.deps(0, 1.0).await;
    let first: Vec<_> = up[..5]
        .iter()
        .enumerate()
        .map(|(i, u)| message(i, u))
        .collect();
    handle(&deps, sqs_event(&first)).await.unwrap();
    // Objects 3 and 4 again (a redelivery), with 5 to 7 new; object 6 named twice.
    let before = deps.store.counters();
    let mut second: Vec<_> = (3..8).map(|i| message(i, &up[i])).collect();
    second.push(("again".into(), s3_event(&up[6].0, up[6].1)));
    let r = handle(&deps, sqs_event(&second)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    // In key order 3, 4, 5, 6, 6, 7: the group ends before the second 6, which starts the
    // next one and is found applied; 3 and 4 are found applied in the first.
    assert_eq!(delta(before, deps.store.counters()).0, 2);
    assert_eq!(states(&env).await, states(&single).await);
    let sent = latest(&env.received().await);
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        sent_single.keys().collect::<Vec<_>>()
    );
    for (id, f) in &sent_single {
        assert_eq!(
            (sent[id].count, &sent[id].last_seen),
            (f.count, &f.last_seen),
            "{id}"
        );
    }
}

/// The deployed SQS trigger delivers batches as large as one group: a larger batch would
/// commit in several groups (more writes), a smaller one would leave groups part-empty.
#[test]
fn the_deployed_batch_size_is_one_group() {
    use trailhound_aws::lambda::group::MAX_GROUP_OBJECTS;
    for (file, field) in [
        ("deploy/sam/template.yaml", "BatchSize: "),
        ("deploy/cdk/lib/trailhound-stack.ts", "batchSize: "),
    ] {
        let text = std::fs::read_to_string(moto::repo().join(file)).unwrap();
        let sizes: Vec<usize> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix(field))
            .map(|v| v.trim_end_matches(',').parse().unwrap())
            .collect();
        assert_eq!(sizes, [MAX_GROUP_OBJECTS], "{file}");
    }
}

/// Overlapping batches delivered at once (SQS redelivers, and a message can sit in two
/// batches after a visibility timeout): groups conflict on the shared principal, reload and
/// apply again, and every object counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_batches_count_every_object_once() {
    const OBJECTS: usize = 12;
    const CALLS: usize = 20;
    let env = Env::new("group-concurrent", true).await;
    let objs: Vec<fixtures::Obj> = (0..OBJECTS)
        .map(|j| {
            let start = fixtures::T0 + (j as i64) * 4 * 60;
            let recs = fixtures::invokes(start, 4, CALLS, "busy-role", fixtures::US_IP);
            fixtures::ct_object(start + 300, &format!("g{j:07}"), recs)
        })
        .collect();
    let up = env.upload(&objs).await;
    let deps = env.deps(0, 1.0).await;
    let mut batches: Vec<Vec<usize>> = vec![
        (0..6).collect(),
        (3..9).collect(),
        (6..12).collect(),
        (0..12).collect(),
        (9..12).chain(0..3).collect(),
    ];
    let mut rounds = 0;
    while !batches.is_empty() {
        rounds += 1;
        assert!(rounds <= 5, "messages still failing after 5 deliveries");
        let events: Vec<Value> = batches
            .iter()
            .map(|b| sqs_event(&b.iter().map(|&j| message(j, &up[j])).collect::<Vec<_>>()))
            .collect();
        let results = futures::future::join_all(events.into_iter().map(|e| handle(&deps, e))).await;
        // The failed messages of each batch are redelivered, as SQS would.
        batches = batches
            .into_iter()
            .zip(results)
            .map(|(b, r)| {
                let failed = batch_failures(&r.unwrap());
                b.into_iter()
                    .filter(|j| failed.contains(&format!("m{j}")))
                    .collect::<Vec<_>>()
            })
            .filter(|b| !b.is_empty())
            .collect();
    }
    let item = env
        .item(
            &dynamo::entity_pk(&format!(
                "p#arn:aws:iam::{}:role/busy-role",
                fixtures::ACCOUNT
            )),
            "state",
        )
        .await
        .unwrap();
    let busy: trailhound_core::state::EntityState =
        dynamo::unpack(item["state"].as_b().unwrap().as_ref()).unwrap();
    let series = &busy.rates["invoke-spike/anthropic.claude-3-haiku-20240307-v1:0"];
    assert_eq!(
        series.minutes.values().sum::<u64>(),
        (OBJECTS * CALLS) as u64
    );
    assert!(
        series.minutes.values().all(|&n| n == 5),
        "{:?}",
        series.minutes
    );
    assert_eq!(series.minutes.len(), OBJECTS * 4);
    for (o, _) in &up {
        assert!(
            env.item(&dynamo::object_pk(o), "applied").await.is_some(),
            "{o}"
        );
    }
}

/// Writes `state` as the stored state (version 1) of each role's entity, as earlier
/// activity would have left it.
async fn seed(env: &Env, roles: &[String], state: &trailhound_core::state::EntityState) {
    for role in roles {
        let key = fixtures::role_entity(role);
        env.dynamo
            .put_item()
            .table_name(&env.table)
            .set_item(Some(dynamo::entity_item(&key, state, 1, 0)))
            .send()
            .await
            .unwrap();
    }
}

/// When the large states below were last seen.
const LARGE_AT: i64 = fixtures::T0 + 8 * 86_400;

/// A state of about 230 KB packed (under the 280 KB an entity item may take before it is
/// trimmed): 2,800 values of 100 random characters in a set no detector reads, each seen
/// at [`LARGE_AT`] (kept for the entity's TTL).
fn large_state() -> trailhound_core::state::EntityState {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut set = trailhound_core::state::SeenSet::default();
    for _ in 0..2_800 {
        let v: String = (0..100)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % 64) as usize] as char
            })
            .collect();
        set.values.insert(v, LARGE_AT);
    }
    let mut s = trailhound_core::state::EntityState {
        first_seen: fixtures::T0,
        last_seen: LARGE_AT,
        ..Default::default()
    };
    s.seen.insert("test-padding".into(), set);
    s
}

/// A group's size in bytes is known only once its states are loaded. Three objects of ten
/// roles each, every role's stored state large (230 KB packed): the 30 entities and 3 marks
/// fit the items of one transaction, not its 4 MB (7 MB). The commit is refused before
/// anything is written, and the group is applied in halves: object 1 (2.3 MB), then objects
/// 2 and 3 (4.6 MB: refused again), then 2 and 3 one by one. No state is trimmed, and the
/// table and the findings are those of one object per invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_over_a_transactions_size_is_applied_in_halves_without_trimming() {
    let env = Env::new("group-split", true).await;
    let mut roles = Vec::new();
    let objs: Vec<fixtures::Obj> = (0..3i64)
        .map(|j| {
            let start = LARGE_AT + 600 + j * 600;
            let recs = (0..10)
                .map(|i| {
                    let role = format!("large-{j}-{i:02}-role");
                    roles.push(role.clone());
                    fixtures::record(
                        start + i as i64,
                        &role,
                        fixtures::US_IP,
                        "sts.amazonaws.com",
                        "GetCallerIdentity",
                        serde_json::json!({}),
                        i,
                    )
                })
                .collect();
            fixtures::ct_object(start + 300, &format!("large{j:05}"), recs)
        })
        .collect();
    let up = env.upload(&objs).await;
    let state = large_state();
    let packed = dynamo::pack(&state).len();
    assert!(
        (200_000..dynamo::ENTITY_ITEM_BUDGET).contains(&packed),
        "{packed}"
    );
    let single = env.twin("single").await;
    seed(&single, &roles, &state).await;
    seed(&env, &roles, &state).await;

    let single_deps = single.deps(0, 1.0).await;
    for (i, u) in up.iter().enumerate() {
        let r = handle(&single_deps, sqs_event(&[message(i, u)]))
            .await
            .unwrap();
        assert_eq!(batch_failures(&r), Vec::<String>::new());
    }
    let sent_single = latest(&single.received().await);
    let c_single = single_deps.store.counters();
    assert_eq!((c_single.commits, c_single.trimmed_entities), (3, 0));

    let deps = env.deps(0, 1.0).await;
    let batch: Vec<_> = up.iter().enumerate().map(|(i, u)| message(i, u)).collect();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let c = deps.store.counters();
    assert_eq!(
        (
            c.oversized_groups,
            c.commits,
            c.conflicts,
            c.trimmed_entities
        ),
        (2, 3, 0, 0)
    );
    assert_eq!(states(&env).await, states(&single).await);
    let sent = latest(&env.received().await);
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        sent_single.keys().collect::<Vec<_>>()
    );

    // Redelivered whole: every object found applied in the first load, nothing written.
    let before = deps.store.counters();
    let r = handle(&deps, sqs_event(&batch)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    assert_eq!(delta(before, deps.store.counters()), (0, 0, 0));
}
