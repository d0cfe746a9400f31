//! The DynamoDB store against moto: redelivery changes nothing, concurrent invocations on
//! one principal lose no counts, stale commits conflict, objects wider than a transaction
//! are split, large pending sets are stored as references, and the worst-case entity item
//! stays far under DynamoDB's 400 KB limit.

use crate::support::*;
use serde_json::json;
use trailhound_aws::dynamo::{self, DynamoStore};
use trailhound_core::alert::Finding;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::{
    Commit, EntityState, OpenFinding, RateSeries, SeenSet, States, Store,
};

async fn load_entity(env: &Env, key: &str) -> (u64, EntityState) {
    let item = env
        .item(&dynamo::entity_pk(key), "state")
        .await
        .expect("entity item");
    let version: u64 = item["version"].as_n().unwrap().parse().unwrap();
    let state = dynamo::unpack(item["state"].as_b().unwrap().as_ref()).unwrap();
    (version, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_changes_no_item_and_sends_no_message() {
    let env = Env::new("redelivery", true).await;
    let uploaded = env.upload(&fixtures::archive()).await;
    let deps = env.deps(0, 1.0).await;
    for (o, size) in &uploaded {
        trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
            .await
            .unwrap();
    }
    let items = env.items().await;
    let first = env.received().await;
    assert!(!first.is_empty());
    let writes = deps.store.counters().write_calls;
    // Every event again: one by one, then all in one SQS batch.
    for (o, size) in &uploaded {
        trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
            .await
            .unwrap();
    }
    let batch: Vec<(String, serde_json::Value)> = uploaded
        .iter()
        .enumerate()
        .map(|(i, (o, s))| (format!("m{i}"), s3_event(o, *s)))
        .collect();
    let r = trailhound_aws::lambda::handle(&deps, sqs_event(&batch))
        .await
        .unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    assert_eq!(
        env.items().await,
        items,
        "state items changed on redelivery"
    );
    assert!(
        env.received().await.is_empty(),
        "redelivery published again"
    );
    assert_eq!(
        deps.store.counters().write_calls,
        writes,
        "redelivery wrote to DynamoDB"
    );
    // Pending lists are empty once published.
    for ((pk, sk), attrs) in &items {
        if sk == "applied" {
            assert_eq!(attrs["pending"], "M({})", "{pk}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_on_one_principal_keep_exact_counts() {
    const OBJECTS: usize = 12;
    const CALLS: usize = 20;
    let env = Env::new("concurrency", true).await;
    let objs: Vec<fixtures::Obj> = (0..OBJECTS)
        .map(|j| {
            let start = fixtures::T0 + (j as i64) * 4 * 60;
            let mut recs = fixtures::invokes(start, 4, CALLS, "busy-role", fixtures::US_IP);
            recs.push(fixtures::record(
                start,
                "shared-role",
                fixtures::US_IP,
                "sts.amazonaws.com",
                "GetCallerIdentity",
                json!({}),
                j,
            ));
            fixtures::ct_object(start + 300, &format!("c{j:07}"), recs)
        })
        .collect();
    let uploaded = env.upload(&objs).await;
    let deps = env.deps(0, 1.0).await;
    let mut pending: Vec<usize> = (0..OBJECTS).collect();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= 5, "objects still failing after 5 deliveries");
        let results = futures::future::join_all(pending.iter().map(|&j| {
            let (o, size) = &uploaded[j];
            trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
        }))
        .await;
        // A failed invocation is retried, as AWS would.
        pending = pending
            .into_iter()
            .zip(results)
            .filter(|(_, r)| r.is_err())
            .map(|(j, _)| j)
            .collect();
    }
    let c = deps.store.counters();
    eprintln!(
        "{OBJECTS} concurrent objects: {} commits, {} conflicts, {rounds} delivery rounds",
        c.write_calls, c.conflicts
    );
    let (version, busy) = load_entity(&env, &fixtures::role_entity("busy-role")).await;
    assert_eq!(version, OBJECTS as u64, "one commit per object");
    let series = &busy.rates["invoke-spike/anthropic.claude-3-haiku-20240307-v1:0"];
    assert_eq!(
        series.minutes.values().sum::<u64>(),
        (OBJECTS * CALLS) as u64
    );
    assert_eq!(series.minutes.len(), OBJECTS * 4);
    assert!(
        series.minutes.values().all(|&n| n == 5),
        "{:?}",
        series.minutes
    );
    assert_eq!(series.late, 0);
    let (shared_version, shared) = load_entity(&env, &fixtures::role_entity("shared-role")).await;
    // Objects older than what it has seen leave its state unchanged (checked, not written).
    assert!((1..=OBJECTS as u64).contains(&shared_version));
    assert_eq!(shared.first_seen, fixtures::T0);
    assert_eq!(shared.last_seen, fixtures::T0 + (OBJECTS as i64 - 1) * 240);
}

fn finding(id: &str, principal_key: &str, evidence_bytes: usize) -> Finding {
    let mut evidence = serde_json::Map::new();
    // Incompressible evidence: hex of a hash chain.
    let mut blob = String::new();
    let mut h = id.to_string();
    while blob.len() < evidence_bytes {
        h = format!("{:x}", sha2_hex(&h));
        blob.push_str(&h);
    }
    evidence.insert("sample".into(), json!(blob));
    Finding {
        schema_version: 1,
        id: id.into(),
        detector: "unusual-geo".into(),
        finding_type: "UnauthorizedAccess:IAMUser/UnusualGeoLocation".into(),
        severity: 6.0,
        severity_label: "Medium".into(),
        title: "t".into(),
        description: "d".into(),
        subject: String::new(),
        account: fixtures::ACCOUNT.into(),
        region: "us-east-1".into(),
        principal: principal_key.into(),
        principal_key: principal_key.into(),
        principal_type: "AssumedRole".into(),
        first_seen: "2026-10-01T00:00:00Z".into(),
        last_seen: "2026-10-01T00:00:00Z".into(),
        count: 1,
        evidence,
        sources: vec![],
        attack: vec![],
        atlas: vec![],
    }
}

fn sha2_hex(s: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut a = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut a);
    let x = a.finish();
    (u128::from(x) << 64) | u128::from(x.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_commits_conflict_and_applied_objects_are_duplicates() {
    let env = Env::new("conflict", false).await;
    let store = DynamoStore::new(env.dynamo.clone(), &env.table);
    let keys = vec!["p#a".to_string(), "b#bucket".to_string()];
    let o1 = ObjectRef::s3("logs", "k1", "e1");
    let o2 = ObjectRef::s3("logs", "k2", "e2");
    let s1 = store.load(std::slice::from_ref(&o1), &keys).await.unwrap();
    let s2 = store.load(std::slice::from_ref(&o2), &keys).await.unwrap();
    assert_eq!(s1.versions["p#a"], 0);
    let mut states = s1.states.clone();
    states.get_mut("p#a").unwrap().touch(100);
    // The outbox is what the caller passes (the Lambda filters by its minimum severity).
    assert_eq!(
        store
            .commit(&[(&o1, &[finding("f1", "a", 10)])], &s1, states.clone())
            .await
            .unwrap(),
        Commit::Done
    );
    // o2 read version 0 of p#a: its commit conflicts.
    let mut states2 = s2.states.clone();
    states2.get_mut("p#a").unwrap().touch(200);
    assert_eq!(
        store
            .commit(&[(&o2, &[])], &s2, states2.clone())
            .await
            .unwrap(),
        Commit::Conflict
    );
    // o1 again: applied, with its pending findings.
    let again = store.load(std::slice::from_ref(&o1), &keys).await.unwrap();
    let pending: Vec<String> = again.applied[0]
        .clone()
        .unwrap()
        .iter()
        .map(|f| f.id.clone())
        .collect();
    assert_eq!(pending, ["f1"]);
    assert_eq!(
        store
            .commit(&[(&o1, &[])], &s1, states.clone())
            .await
            .unwrap(),
        Commit::Conflict
    );
    store.mark_published(&o1, &["f1".into()]).await.unwrap();
    assert_eq!(
        store
            .load(std::slice::from_ref(&o1), &keys)
            .await
            .unwrap()
            .applied[0]
            .clone()
            .unwrap(),
        vec![]
    );
    // o2 reloads and commits on top.
    let s2 = store.load(std::slice::from_ref(&o2), &keys).await.unwrap();
    assert_eq!(s2.versions["p#a"], 1);
    assert_eq!(
        s2.versions["b#bucket"], 0,
        "unchanged entities are checked, not written"
    );
    let mut states2 = s2.states.clone();
    states2.get_mut("p#a").unwrap().touch(200);
    assert_eq!(
        store
            .commit(&[(&o2, &[])], &s2, states2.clone())
            .await
            .unwrap(),
        Commit::Done
    );
    let (v, st) = load_entity(&env, "p#a").await;
    assert_eq!((v, st.first_seen, st.last_seen), (2, 100, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_pending_sets_are_stored_as_references() {
    let env = Env::new("references", false).await;
    let store = DynamoStore::new(env.dynamo.clone(), &env.table);
    // 40 findings of 12 KB hex evidence (~6.5 KB deflated): 260 KB, over the inline budget.
    let findings: Vec<Finding> = (0..40)
        .map(|i| finding(&format!("f{i:02}"), &format!("role-{i}"), 12_000))
        .collect();
    let keys: Vec<String> = (0..40).map(|i| format!("p#role-{i}")).collect();
    let o = ObjectRef::s3("logs", "wide", "e");
    let snap = store.load(std::slice::from_ref(&o), &keys).await.unwrap();
    let mut states = snap.states.clone();
    for f in &findings {
        let st = states.get_mut(&format!("p#{}", f.principal_key)).unwrap();
        st.touch(100);
        st.open.insert(
            format!("unusual-geo/{}", f.id),
            OpenFinding {
                first: 100,
                last: 100,
                cooldown: 86_400,
                finding: f.clone(),
            },
        );
    }
    assert_eq!(
        store
            .commit(&[(&o, &findings)], &snap, states.clone())
            .await
            .unwrap(),
        Commit::Done
    );
    let item = env.item(&dynamo::object_pk(&o), "applied").await.unwrap();
    let pending = item["pending"].as_m().unwrap();
    assert!(pending.values().all(|v| v.is_s()), "stored as references");
    assert!(dynamo::item_size(&item) < 4_000);
    let back = store
        .load(std::slice::from_ref(&o), &keys)
        .await
        .unwrap()
        .applied[0]
        .clone()
        .unwrap();
    assert_eq!(back, findings);
}

/// A principal at every cap: 20 model series full (150 minutes of counts, a baseline of 672
/// windows), a 64-value seen set per new-value detector, and 104 open findings with full
/// evidence (64 countries of unusual-geo within a day, 20 invoke spikes, 20 training
/// buckets), values incompressible where real logs make them so (IPs, request ids).
fn worst_case_state() -> EntityState {
    let mut s = EntityState {
        first_seen: fixtures::T0,
        last_seen: fixtures::T0 + 8 * 86_400,
        ..Default::default()
    };
    let uid = |i: usize, j: usize| {
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            sha2_hex(&format!("{i}/{j}")) as u32,
            i,
            j,
            i ^ j,
            sha2_hex(&format!("{j}/{i}")) as u64 & 0xffff_ffff_ffff
        )
    };
    for m in 0..20 {
        let mut r = RateSeries {
            watermark: 29_846_880 + 150,
            ..Default::default()
        };
        for k in 0..150 {
            r.minutes.insert(
                29_846_880 + k,
                1 + (sha2_hex(&format!("{m}/{k}")) % 5_000) as u64,
            );
        }
        for w in 0..672u64 {
            r.baseline
                .record(1 + (sha2_hex(&format!("w{m}/{w}")) % 100_000) as u64);
        }
        r.flagged.insert(1_989_792);
        s.rates
            .insert(format!("invoke-spike/vendor.model-{m:02}-v{m}:0"), r);
    }
    for d in [
        "unusual-geo",
        "training-data-access/readers",
        "new-model",
        "new-asn",
    ] {
        let mut set = SeenSet::default();
        for v in 0..64 {
            set.insert(
                &format!("arn:aws:iam::{}:role/reader-{d}-{v:03}", fixtures::ACCOUNT),
                fixtures::T0 + v,
            );
        }
        s.seen.insert(d.into(), set);
    }
    let ua = "aws-sdk-java/2.25.11 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard ft/s3-transfer";
    let mut n = 0;
    for (detector, count) in [
        ("unusual-geo", 64),
        ("invoke-spike", 20),
        ("training-data-access", 20),
    ] {
        for i in 0..count {
            n += 1;
            let mut f = finding(
                &format!("{n:032x}"),
                &format!("arn:aws:iam::{}:role/busy-role", fixtures::ACCOUNT),
                0,
            );
            f.detector = detector.into();
            f.title = format!(
                "busy-role made calls from country {i:02}, a country never seen for it, and this title is as long as titles get in practice"
            );
            f.description = "d".repeat(600);
            f.evidence.clear();
            let ips: Vec<String> = (0..10)
                .map(|j| {
                    format!(
                        "{}.{}.{}.{}",
                        1 + (sha2_hex(&format!("{n}{j}a")) % 223),
                        sha2_hex(&format!("{n}{j}b")) % 256,
                        sha2_hex(&format!("{n}{j}c")) % 256,
                        sha2_hex(&format!("{n}{j}d")) % 256
                    )
                })
                .collect();
            f.evidence.insert("source_ips".into(), json!(ips));
            f.evidence.insert(
                "countries".into(),
                json!((0..10).map(|j| format!("C{j}")).collect::<Vec<_>>()),
            );
            f.evidence.insert(
                "access_key_ids".into(),
                json!(
                    (0..5)
                        .map(|j| format!("ASIA{:016X}", sha2_hex(&format!("{n}k{j}")) as u64))
                        .collect::<Vec<_>>()
                ),
            );
            f.evidence.insert(
                "user_agents".into(),
                json!((0..5).map(|j| format!("{ua} app/{j}")).collect::<Vec<_>>()),
            );
            f.evidence.insert(
                "event_names".into(),
                json!(
                    (0..20)
                        .map(|j| format!("SomeApiCallName{j}"))
                        .collect::<Vec<_>>()
                ),
            );
            f.evidence.insert(
                "sample_request_ids".into(),
                json!((0..5).map(|j| uid(n, j)).collect::<Vec<_>>()),
            );
            f.evidence.insert(
                "baseline_values".into(),
                json!((0..64).map(|j| format!("C{j:02}")).collect::<Vec<_>>()),
            );
            f.evidence.insert(
                "baseline".into(),
                json!({"p50": 120, "p90": 480, "p99": 1200, "max": 1500, "windows": 672}),
            );
            f.sources = (0..20)
                .map(|j| trailhound_core::alert::SourceRef {
                    bucket: "org-cloudtrail-archive-111122223333".into(),
                    key: fixtures::ct_key(
                        fixtures::T0 + j * 300,
                        &format!("{:016x}", sha2_hex(&format!("{n}s{j}")) as u64),
                    ),
                })
                .collect();
            s.open.insert(
                format!("{detector}/{i}"),
                OpenFinding {
                    first: fixtures::T0,
                    last: fixtures::T0,
                    cooldown: 86_400,
                    finding: f,
                },
            );
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worst_case_entity_item_is_far_under_the_item_limit() {
    let state = worst_case_state();
    let raw = serde_json::to_vec(&state).unwrap().len();
    let item = dynamo::entity_item("p#arn:aws:iam::111122223333:role/busy-role", &state, 7, 0);
    let size = dynamo::item_size(&item);
    eprintln!(
        "worst-case entity: {} KB of JSON, item {} KB compressed",
        raw / 1024,
        size / 1024
    );
    assert!(size < 100 * 1024, "worst-case item is {size} bytes");
    let back: EntityState = dynamo::unpack(item["state"].as_b().unwrap().as_ref()).unwrap();
    assert_eq!(serde_json::to_vec(&back).unwrap().len(), raw);
    // DynamoDB (moto) takes it through the store.
    let env = Env::new("worst-case", false).await;
    let store = DynamoStore::new(env.dynamo.clone(), &env.table);
    let key = "p#arn:aws:iam::111122223333:role/busy-role".to_string();
    let o = ObjectRef::s3("logs", "busy", "e");
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
    let (v, _) = load_entity(&env, &key).await;
    assert_eq!(v, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_wider_than_a_transaction_are_applied_in_parts() {
    let env = Env::new("parts", true).await;
    let roles: Vec<String> = (0..150).map(|i| format!("wide-{i:03}-role")).collect();
    let at = |t: i64, ip: &str| -> Vec<serde_json::Value> {
        roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                fixtures::record(
                    t + i as i64,
                    r,
                    ip,
                    "sts.amazonaws.com",
                    "GetCallerIdentity",
                    json!({}),
                    i,
                )
            })
            .collect()
    };
    let objs = vec![
        fixtures::ct_object(
            fixtures::T0 + 300,
            "wide0001",
            at(fixtures::T0, fixtures::US_IP),
        ),
        fixtures::ct_object(
            fixtures::T0 + 3900,
            "wide0002",
            at(fixtures::T0 + 3600, fixtures::DE_IP),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_dir(&objs, dir.path());
    let uploaded = env.upload(&objs).await;
    let deps = env.deps(0, 1.0).await;
    for (o, size) in &uploaded {
        trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
            .await
            .unwrap();
    }
    let c = deps.store.counters();
    assert_eq!(
        c.commits, 8,
        "four parts per object (45 + 45 + 45 + 15 entities), one commit each"
    );
    assert_eq!(c.conflicts, 0);
    let got: Vec<Finding> = latest(&env.received().await)
        .into_values()
        .map(local_sources)
        .collect();
    let mut want = replay(dir.path(), 0).await.findings;
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got.len(), 150);
    assert_eq!(got, want);
    // Redelivery of a split object changes nothing.
    let items = env.items().await;
    for (o, size) in &uploaded {
        trailhound_aws::lambda::handle(&deps, s3_event(o, *size))
            .await
            .unwrap();
    }
    assert_eq!(env.items().await, items);
    assert!(env.received().await.is_empty());
}
