//! End to end against moto: an archive uploaded to S3, the handler invoked once per object
//! (rotating through every envelope kind), and the findings read back from an SQS queue
//! subscribed to the topic must be exactly what `replay` prints for the same archive, with
//! the right subjects and attributes. Also reports DynamoDB calls per object and the
//! handler's time per MB next to replay's.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};
use trailhound_aws::envelope::Target;
use trailhound_core::alert::{Finding, render};
use trailhound_core::ingest::ObjectRef;
use trailhound_core::ingest::local;

/// The envelope kinds the function is triggered with.
fn envelope(kind: usize, o: &ObjectRef, size: i64, i: usize) -> (Value, bool) {
    match kind % 5 {
        0 => (s3_event(o, size), false),
        1 => (eventbridge_event(o, size), false),
        2 => (sqs_event(&[(format!("m{i}"), s3_event(o, size))]), true),
        3 => (
            sqs_event(&[(format!("m{i}"), sns_wrap(&s3_event(o, size)))]),
            true,
        ),
        _ => (sns_event(&s3_event(o, size)), false),
    }
}

/// Runs the whole archive under `dir` through the handler and checks the messages.
async fn end_to_end(test: &str, dir: &Path, learning_days: u32) {
    let objects = local::list(&[dir.to_path_buf()]).unwrap();
    assert!(!objects.is_empty(), "no objects under {}", dir.display());
    let env = Env::new(test, true).await;
    let objs: Vec<fixtures::Obj> = objects
        .iter()
        .map(|o| fixtures::Obj {
            key: o.object.key.clone(),
            body: std::fs::read(&o.path).unwrap(),
        })
        .collect();
    let uploaded = env.upload(&objs).await;
    let bytes: u64 = objs.iter().map(|o| o.body.len() as u64).sum();

    let replayed = replay(dir, learning_days).await;
    let expected: BTreeMap<String, Finding> = replayed
        .findings
        .iter()
        .map(|f| (f.id.clone(), f.clone()))
        .collect();

    let deps = env.deps(learning_days, 1.0).await;
    // Events that name no object come first: they change nothing.
    let first = &uploaded[0].0;
    let ignored = [
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/public/envelopes/s3-test-event.json"
        ))
        .unwrap(),
        json!({"Records": [s3_record(first, 0, "ObjectRemoved:Delete")]}),
        sqs_event(&[(
            "t".into(),
            serde_json::from_str(include_str!(
                "../../../tests/fixtures/public/envelopes/s3-test-event.json"
            ))
            .unwrap(),
        )]),
    ];
    for ev in ignored {
        let r = trailhound_aws::lambda::handle(&deps, ev).await.unwrap();
        assert!(
            r.get("batchItemFailures").is_none_or(|f| f == &json!([])),
            "{r}"
        );
    }
    assert!(env.received().await.is_empty());

    let started = Instant::now();
    let mut handler_time = Duration::ZERO;
    for (i, (o, size)) in uploaded.iter().enumerate() {
        let (ev, sqs) = envelope(i, o, *size, i);
        let t = Instant::now();
        let r = trailhound_aws::lambda::handle(&deps, ev)
            .await
            .unwrap_or_else(|e| panic!("{o}: {e:#}"));
        handler_time += t.elapsed();
        if sqs {
            assert_eq!(batch_failures(&r), Vec::<String>::new(), "{o}");
        }
    }
    let wall = started.elapsed();
    let counters = deps.store.counters();
    // The same objects fetched from S3 and decoded only, and a bare moto round trip: what
    // of the handler's time is the engine, and what is the (local, Python) AWS API.
    let t = Instant::now();
    for (o, size) in &uploaded {
        let target = Target {
            object: o.clone(),
            version_id: None,
            size: Some(*size),
        };
        let _ = trailhound_aws::s3::fetch_decode(&deps.fetch, &deps.decoder, &target).await;
    }
    let fetch_decode = t.elapsed();
    let t = Instant::now();
    for _ in 0..50 {
        env.item("nothing", "here").await;
    }
    let round_trip = t.elapsed() / 50;

    let received = env.received().await;
    let got: BTreeMap<String, Finding> = latest(&received)
        .into_iter()
        .map(|(id, f)| (id, local_sources(f)))
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "finding ids: got {:?}, want {:?}",
        got.keys(),
        expected.keys()
    );
    for (id, want) in &expected {
        assert_eq!(got.get(id), Some(want), "finding {id} differs from replay");
    }
    // Every message carries its subject and attributes.
    for r in &received {
        let f = &r.finding;
        assert_eq!(r.subject, render::subject(f));
        assert!(r.subject.len() < 100);
        let attr = |k: &str| r.attributes.get(k).cloned().unwrap_or_default();
        assert_eq!(
            attr("severity"),
            ("Number".into(), format!("{}", f.severity))
        );
        assert_eq!(
            attr("severity_label"),
            ("String".into(), f.severity_label.clone())
        );
        assert_eq!(attr("detector"), ("String".into(), f.detector.clone()));
        assert_eq!(attr("account"), ("String".into(), f.account.clone()));
        assert!(f.sources.iter().all(|s| s.bucket == env.bucket));
    }
    // Each object publishes the findings it raised or updated, once: as many messages as
    // (object, finding) pairs a sequential apply yields.
    let per_object = touched_per_object(dir, learning_days).await;
    assert_eq!(received.len(), per_object, "messages published");

    let n = uploaded.len() as f64;
    let mb = bytes as f64 / 1e6;
    eprintln!(
        "{test}: {} objects, {:.2} MB, {} findings, {} messages; DynamoDB per object: {:.2} read calls ({:.2} items), {:.2} write calls ({:.2} items), {} conflicts",
        uploaded.len(),
        mb,
        expected.len(),
        received.len(),
        counters.read_calls as f64 / n,
        counters.items_read as f64 / n,
        counters.write_calls as f64 / n,
        counters.items_written as f64 / n,
        counters.conflicts
    );
    eprintln!(
        "{test}: handler {:.3}s ({:.1} ms/MB) vs replay {:.3}s ({:.1} ms/MB): ratio {:.1}x (wall {:.3}s)",
        handler_time.as_secs_f64(),
        handler_time.as_secs_f64() * 1000.0 / mb.max(1e-9),
        replayed.elapsed.as_secs_f64(),
        replayed.elapsed.as_secs_f64() * 1000.0 / mb.max(1e-9),
        handler_time.as_secs_f64() / replayed.elapsed.as_secs_f64().max(1e-9),
        wall.as_secs_f64(),
    );
    eprintln!(
        "{test}: of which S3 fetch + decode {:.3}s; state and publishing {:.3}s; one moto round trip {:.1} ms",
        fetch_decode.as_secs_f64(),
        (handler_time.saturating_sub(fetch_decode)).as_secs_f64(),
        round_trip.as_secs_f64() * 1000.0
    );
}

/// (object, finding) pairs: the findings each object raises or updates, applied in order.
async fn touched_per_object(dir: &Path, learning_days: u32) -> usize {
    let engine =
        trailhound_core::detect::Engine::defaults(i64::from(learning_days) * 86_400).unwrap();
    let geo = trailhound_core::geo::Geo::open(&geoip()).unwrap();
    let pipeline = trailhound_core::pipeline::Pipeline {
        engine: &engine,
        geo: &geo,
        limits: Default::default(),
        since: None,
        until: None,
        newest_allowed: None,
    };
    let store = trailhound_core::state::MemoryStore::new();
    let mut n = 0;
    for o in local::list(&[dir.to_path_buf()]).unwrap() {
        let Ok((_, acts)) = pipeline.decode(&o.object, std::fs::File::open(&o.path).unwrap())
        else {
            continue;
        };
        n += pipeline
            .apply(&store, &o.object, &acts, |_| true)
            .await
            .unwrap()
            .findings
            .len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_archive_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write_dir(&fixtures::archive(), dir.path());
    end_to_end("e2e-synthetic", dir.path(), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_archive_end_to_end() {
    let dir = moto::repo().join("samples");
    if local::list(std::slice::from_ref(&dir))
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        eprintln!(
            "samples/ holds no objects yet: generate it with `cargo run -p trailhound-samples -- samples`"
        );
        return;
    }
    end_to_end("e2e-samples", &dir, 7).await;
}
