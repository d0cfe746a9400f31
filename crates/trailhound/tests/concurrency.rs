//! Contention and hostile state against the real DynamoDB and S3 clients on moto (requests
//! served one at a time, see `support/moto.rs`): 32 concurrent writers on one principal keep
//! exact counts; a principal using 10,000 model ids commits and its item stays under 400 KB;
//! a state too large for an item is trimmed by the documented rule instead of failing; an
//! object overwritten after its event fails naming `s3://bucket/key`; part identities are
//! a fixed function of the object's content; a commit checks the entities it only read,
//! but the AI markers.

use crate::support::*;
use serde_json::json;
use trailhound_aws::dynamo::{self, DynamoStore};
use trailhound_aws::lambda::object::{MAX_PART_ENTITIES, part_ref, split_parts};
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::{Commit, EntityState, RateSeries, States, Store};

async fn load_entity(env: &Env, key: &str) -> (u64, EntityState, usize) {
    let item = env
        .item(&dynamo::entity_pk(key), "state")
        .await
        .expect("entity item");
    let version: u64 = item["version"].as_n().unwrap().parse().unwrap();
    let state = dynamo::unpack(item["state"].as_b().unwrap().as_ref()).unwrap();
    (version, state, dynamo::item_size(&item))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_writers_on_one_principal_keep_exact_counts() {
    const WRITERS: usize = 32;
    const CALLS: usize = 8;
    let env = Env::new("writers32", true).await;
    let objs: Vec<fixtures::Obj> = (0..WRITERS)
        .map(|j| {
            // Each writer's calls in its own two minutes (4 a minute), so the per-minute
            // sums are exact whatever order the commits land in.
            let start = fixtures::T0 + (j as i64) * 2 * 60;
            let recs = fixtures::invokes(start, 2, CALLS, "hot-role", fixtures::US_IP);
            fixtures::ct_object(start + 300, &format!("w{j:07}"), recs)
        })
        .collect();
    let uploaded = env.upload(&objs).await;
    let deps = env.deps(0, 1.0).await;
    let mut pending: Vec<usize> = (0..WRITERS).collect();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(
            rounds <= 6,
            "objects still failing after 6 deliveries: {pending:?}"
        );
        let results = futures::future::join_all(pending.iter().map(|&j| {
            let (o, size) = &uploaded[j];
            trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
        }))
        .await;
        pending = pending
            .into_iter()
            .zip(results)
            .filter(|(_, r)| r.is_err())
            .map(|(j, _)| j)
            .collect();
    }
    let c = deps.store.counters();
    eprintln!(
        "{WRITERS} concurrent writers: {} commits, {} conflicts, {rounds} delivery rounds",
        c.commits, c.conflicts
    );
    assert_eq!(
        c.commits - c.conflicts,
        WRITERS as u64,
        "one successful commit per object"
    );
    let (version, hot, _) = load_entity(&env, &fixtures::role_entity("hot-role")).await;
    assert_eq!(version, WRITERS as u64, "one write per object");
    let series = &hot.rates["invoke-spike/anthropic.claude-3-haiku-20240307-v1:0"];
    assert_eq!(
        series.minutes.values().sum::<u64>(),
        (WRITERS * CALLS) as u64
    );
    assert_eq!(series.minutes.len(), WRITERS * 2);
    assert!(
        series.minutes.values().all(|&n| n == 4),
        "{:?}",
        series.minutes
    );
    assert_eq!(series.late, 0);
    assert_eq!(hot.first_seen, fixtures::T0);
}

/// 10,000 failed calls, each naming another (attacker-chosen) model id: one finding per
/// model would put 10,001 references (1.1 MB) in the object's outbox item and DynamoDB
/// would refuse the commit for good (found by this test). The engine folds dedup keys past
/// 16 open findings of one detector into one overflow finding; the entity stays within
/// its item budget and the object commits once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_using_10000_model_ids_commits_and_stays_under_the_item_limit() {
    let env = Env::new("hostile", true).await;
    // 10,000 failed InvokeModel calls, each naming another (attacker-chosen) model id.
    let recs: Vec<serde_json::Value> = (0..10_000)
        .map(|i| {
            let mut r = fixtures::record(
                fixtures::T0 + (i as i64 % 240),
                "hostile-role",
                fixtures::US_IP,
                "bedrock.amazonaws.com",
                "InvokeModel",
                json!({"modelId": format!("attacker.model-{i:05}-{}", i * 7919)}),
                i,
            );
            r["errorCode"] = json!("AccessDeniedException");
            r
        })
        .collect();
    let objs = vec![fixtures::ct_object(fixtures::T0 + 300, "hostile01", recs)];
    let uploaded = env.upload(&objs).await;
    let deps = env.deps(0, 1.0).await;
    let (o, size) = &uploaded[0];
    trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
        .await
        .expect("the hostile object commits");
    let (version, state, bytes) = load_entity(&env, &fixtures::role_entity("hostile-role")).await;
    let c = deps.store.counters();
    eprintln!(
        "hostile principal: item {} KB, {} rate series ({} KB JSON), {} seen sets ({} KB), {} open findings ({} KB), kinds {} KB; trimmed {} entities, {} pieces",
        bytes / 1024,
        state.rates.len(),
        serde_json::to_vec(&state.rates).unwrap().len() / 1024,
        state.seen.len(),
        serde_json::to_vec(&state.seen).unwrap().len() / 1024,
        state.open.len(),
        serde_json::to_vec(&state.open).unwrap().len() / 1024,
        serde_json::to_vec(&state.kinds).unwrap().len() / 1024,
        c.trimmed_entities,
        c.trimmed_pieces,
    );
    assert_eq!(version, 1);
    assert!(bytes < 400 * 1024, "item is {bytes} bytes");
    assert!(
        bytes <= dynamo::ENTITY_ITEM_BUDGET + 1024,
        "item is {bytes} bytes"
    );
    // The engine's own caps bound the series per principal (the idlest are evicted).
    assert!(state.rates.len() <= 32, "{}", state.rates.len());
    assert!(state.seen.values().all(|s| s.values.len() <= 64));
    // unapproved-model: 16 findings and the overflow; bedrock-probing: one.
    assert_eq!(
        state.open.len(),
        18,
        "{:?}",
        state.open.keys().collect::<Vec<_>>()
    );
    // Redelivered: a duplicate, nothing written.
    let before = env.items().await;
    trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
        .await
        .unwrap();
    assert_eq!(env.items().await, before);
}

/// A state built past any engine cap (10,000 rate series): the store trims it to its item
/// budget, idlest series first, counts it, and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_past_the_item_budget_is_trimmed_not_failed() {
    let env = Env::new("trim", false).await;
    let store = DynamoStore::new(env.dynamo.clone(), &env.table);
    let mut state = EntityState {
        first_seen: fixtures::T0,
        last_seen: fixtures::T0 + 10_000,
        ..EntityState::default()
    };
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut hex = || {
        (0..4)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{x:016x}")
            })
            .collect::<String>()
    };
    for i in 0..10_000i64 {
        let mut r = RateSeries {
            watermark: fixtures::T0 / 60 + i,
            ..RateSeries::default()
        };
        // Incompressible-ish values so the packed state is large.
        r.minutes.insert(
            fixtures::T0 / 60 + i,
            (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11,
        );
        r.minutes.insert(
            fixtures::T0 / 60 + i - 1,
            (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 13,
        );
        state
            .rates
            .insert(format!("invoke-spike/attacker.model-{i:05}-{}", hex()), r);
    }
    let packed = dynamo::pack(&state).len();
    assert!(
        packed > 400 * 1024,
        "the test state must exceed an item: {packed}"
    );
    let key = fixtures::role_entity("giant-role");
    let o = ObjectRef::s3("logs", "giant", "e");
    let snap = store
        .load(std::slice::from_ref(&o), std::slice::from_ref(&key))
        .await
        .unwrap();
    let states = States::from_iter([(key.clone(), state)]);
    assert_eq!(
        store
            .commit(&[(&o, &[])], &snap, states.clone())
            .await
            .unwrap(),
        Commit::Done
    );
    let c = store.counters();
    assert_eq!(c.trimmed_entities, 1);
    let (_, kept, bytes) = load_entity(&env, &key).await;
    assert!(
        bytes <= dynamo::ENTITY_ITEM_BUDGET + 1024,
        "item is {bytes} bytes"
    );
    assert_eq!(c.trimmed_pieces, 10_000 - kept.rates.len() as u64);
    // The newest series survived: the dropped ones were the idlest.
    let oldest_kept = kept.rates.values().map(|r| r.watermark).min().unwrap();
    assert_eq!(oldest_kept, fixtures::T0 / 60 + c.trimmed_pieces as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_overwritten_after_its_event_fails_naming_it() {
    let env = Env::new("ifmatch", true).await;
    let first = fixtures::ct_object(
        fixtures::T0 + 300,
        "over0001",
        fixtures::invokes(fixtures::T0, 1, 3, "etag-role", fixtures::US_IP),
    );
    let key = first.key.clone();
    let uploaded = env.upload(&[first]).await;
    let (old_ref, size) = uploaded[0].clone();
    // The same key written again with other content: a new ETag.
    let second = fixtures::ct_object(
        fixtures::T0 + 300,
        "over0001",
        fixtures::invokes(fixtures::T0, 1, 5, "etag-role", fixtures::DE_IP),
    );
    assert_eq!(second.key, key);
    let new_ref = env.upload(&[second]).await[0].0.clone();
    assert_ne!(new_ref.version, old_ref.version);
    let deps = env.deps(0, 1.0).await;
    let e = trailhound_aws::lambda::handle(&deps, s3_event(&old_ref, size))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("s3://{}/{key}", env.bucket)), "{e}");
    assert!(
        e.contains("the object was overwritten after the event named it"),
        "{e}"
    );
    assert!(
        env.item(
            &dynamo::entity_pk(&fixtures::role_entity("etag-role")),
            "state"
        )
        .await
        .is_none()
    );
    // The event of the new content applies it, once.
    trailhound_aws::lambda::handle(&deps, s3_event(&new_ref, size))
        .await
        .unwrap();
    let (version, state, _) = load_entity(&env, &fixtures::role_entity("etag-role")).await;
    assert_eq!(version, 1);
    let series = &state.rates["invoke-spike/anthropic.claude-3-haiku-20240307-v1:0"];
    assert_eq!(series.minutes.values().sum::<u64>(), 5);
}

/// Part identities are bucket/key/ETag plus the part's index in a split that depends only
/// on the object's activities and [`MAX_PART_ENTITIES`] (never on the number of parts, the
/// state or the run): this golden split fails if a build changes it, which would re-apply
/// committed parts of redelivered objects under new names.
#[test]
fn part_identities_are_a_fixed_function_of_the_content() {
    assert_eq!(MAX_PART_ENTITIES, 45);
    let engine = trailhound_core::detect::Engine::defaults(0).unwrap();
    let acts: Vec<trailhound_core::activity::Activity> = (0..100)
        .map(|i| {
            trailhound_core::activity::Activity::new(
                fixtures::T0 + 99 - i as i64,
                trailhound_core::activity::Source::Cloudtrail,
                &format!("arn:aws:iam::111122223333:role/r{i:03}"),
            )
        })
        .collect();
    let o = ObjectRef::s3("logs", "AWSLogs/x.json.gz", "etag1");
    let parts = split_parts(&engine, acts.clone(), MAX_PART_ENTITIES);
    let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
    assert_eq!(sizes, [45, 45, 10]);
    let first: Vec<&str> = parts[0].iter().map(|a| &*a.principal_key).collect();
    assert_eq!(
        first[0], "arn:aws:iam::111122223333:role/r044",
        "event-time order within a part"
    );
    assert_eq!(first[44], "arn:aws:iam::111122223333:role/r000");
    let ids: Vec<String> = (0..parts.len())
        .map(|i| part_ref(&o, i, parts.len()).identity())
        .collect();
    assert_eq!(
        ids,
        [
            "logs/AWSLogs/x.json.gz#etag1#part1",
            "logs/AWSLogs/x.json.gz#etag1#part2",
            "logs/AWSLogs/x.json.gz#etag1#part3"
        ]
    );
    // The same content in another order splits the same way.
    let mut shuffled = acts;
    shuffled.reverse();
    let again = split_parts(&engine, shuffled, MAX_PART_ENTITIES);
    let keys = |p: &Vec<Vec<trailhound_core::activity::Activity>>| -> Vec<Vec<String>> {
        p.iter()
            .map(|v| v.iter().map(|a| a.principal_key.to_string()).collect())
            .collect()
    };
    assert_eq!(keys(&again), keys(&parts));
}

/// A commit checks that every entity it read and left unchanged is still as it read it, but
/// for the AI markers (`g#ai/…`): a concurrent refresh of a marker it only read is no
/// conflict, and costs no `ConditionCheck`; a concurrent change of a bucket it only read is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_checks_the_entities_it_read_but_not_the_ai_markers() {
    let env = Env::new("marker-checks", false).await;
    let store = DynamoStore::new(env.dynamo.clone(), &env.table);
    let principal = fixtures::role_entity("caller-role");
    let marker = format!("g#ai/{}/role/caller-role", fixtures::ACCOUNT);
    let bucket = "b#training-data".to_string();
    let keys = vec![bucket.clone(), marker.clone(), principal.clone()];
    let at = |t: i64| EntityState {
        first_seen: fixtures::T0,
        last_seen: fixtures::T0 + t,
        ..Default::default()
    };
    let commit = async |name: &str, keys: &[String], change: &[&String], t: i64| {
        let o = ObjectRef::s3("logs", name, "e");
        let snap = store.load(std::slice::from_ref(&o), keys).await.unwrap();
        (
            o,
            snap,
            change
                .iter()
                .map(|k| ((*k).clone(), at(t)))
                .collect::<Vec<_>>(),
        )
    };
    // Every entity written once.
    let (o, snap, all) = commit("k0", &keys, &[&bucket, &marker, &principal], 0).await;
    let r = store
        .commit(&[(&o, &[])], &snap, States::from_iter(all))
        .await;
    assert_eq!(r.unwrap(), Commit::Done);

    for (name, other, want) in [
        ("k1", &marker, Commit::Done),
        ("k2", &bucket, Commit::Conflict),
    ] {
        // The object reads all three and will change the principal only...
        let (o, snap, _) = commit(name, &keys, &[], 0).await;
        let mut states = snap.states.clone();
        states.insert(principal.clone(), at(60));
        // ...while another commit changes the marker, then the bucket.
        let (o2, snap2, change) = commit(&format!("{name}-other"), &keys, &[other], 30).await;
        let mut states2 = snap2.states.clone();
        states2.extend(change);
        let r = store.commit(&[(&o2, &[])], &snap2, states2).await;
        assert_eq!(r.unwrap(), Commit::Done);
        let before = store.counters();
        let r = store.commit(&[(&o, &[])], &snap, states).await;
        assert_eq!(r.unwrap(), want, "{other} changed underneath");
        let written = store.counters().items_written - before.items_written;
        if want == Commit::Done {
            // The principal, the bucket's check and the object's mark: the marker unchecked.
            assert_eq!(written, 3);
        }
    }
}
