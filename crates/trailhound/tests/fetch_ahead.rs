//! Fetching ahead in the Lambda handler (in-memory parts): objects are read several at a
//! time, within the count and byte budget, and applied in the invocation's order with the
//! same findings and state as when read one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::fixtures::{self, Obj};
use crate::support::memory::{self, MemoryObjects, MemorySink};
use crate::support::*;
use serde_json::Value;
use trailhound_aws::envelope::Target;
use trailhound_aws::lambda::{Deps, Fetch, handle};
use trailhound_aws::s3::{Decoder, Fetched};
use trailhound_core::ingest::{ObjectError, ObjectRef};
use trailhound_core::state::MemoryStore;

/// Objects in memory, each read taking 20 ms, counting the reads in flight.
#[derive(Default)]
struct Slow {
    objects: MemoryObjects,
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Fetch for Slow {
    async fn fetch_decode(
        &self,
        decoder: &Decoder,
        target: &Target,
    ) -> Result<Fetched, ObjectError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = self.objects.fetch_decode(decoder, target).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

fn deps<F: Fetch>(fetch: F) -> Deps<F, MemoryStore, MemorySink> {
    let d = memory::deps(0, 1.0);
    Deps {
        fetch,
        store: d.store,
        sink: d.sink,
        decoder: d.decoder,
        min_severity: d.min_severity,
        function_name: d.function_name,
        emit_metrics: false,
    }
}

/// The synthetic archive's three log objects and seven more by the same roles.
fn objects() -> Vec<Obj> {
    let mut objs: Vec<Obj> = fixtures::archive()
        .into_iter()
        .filter(|o| !o.body.is_empty() && !o.key.contains("Digest"))
        .collect();
    for j in 0..7i64 {
        let start = fixtures::T0 + 4_800 + j * 600;
        let recs = fixtures::invokes(start, 5, 30, "support-bot-role", fixtures::US_IP);
        objs.push(fixtures::ct_object(
            start + 300,
            &format!("ahead{j:03}"),
            recs,
        ));
    }
    objs
}

/// One SQS batch naming `up`, each notification's size replaced by `size` (`None`: left out).
fn batch(up: &[(ObjectRef, i64)], size: Option<Option<i64>>) -> Value {
    let messages: Vec<(String, Value)> = up
        .iter()
        .enumerate()
        .map(|(i, (o, s))| {
            let mut e = s3_event(o, *s);
            let object = &mut e["Records"][0]["s3"]["object"];
            match size {
                Some(Some(n)) => object["size"] = n.into(),
                Some(None) => {
                    object.as_object_mut().unwrap().remove("size");
                }
                None => {}
            }
            (format!("m{i}"), e)
        })
        .collect();
    sqs_event(&messages)
}

/// Runs one batch through a slow fetch; returns the most reads in flight, the findings
/// sent and the state, checked against the same batch read without delay.
async fn run(size: Option<Option<i64>>) -> usize {
    let slow = deps(Slow::default());
    let up = slow.fetch.objects.upload(&objects());
    let r = handle(&slow, batch(&up, size)).await.unwrap();
    assert_eq!(batch_failures(&r), Vec::<String>::new());
    let plain = memory::deps(0, 1.0);
    plain.fetch.upload(&objects());
    handle(&plain, batch(&up, size)).await.unwrap();
    assert!(!slow.sink.ids().is_empty());
    assert_eq!(slow.sink.ids(), plain.sink.ids());
    assert_eq!(state_of(&slow.store), state_of(&plain.store));
    assert_eq!(slow.fetch.objects.fetched(), plain.fetch.fetched());
    slow.fetch.most.load(Ordering::SeqCst)
}

fn state_of(store: &MemoryStore) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    store.save_file(&path).unwrap();
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn small_objects_are_read_four_at_a_time_with_the_same_results() {
    assert_eq!(run(None).await, 4);
}

#[tokio::test]
async fn objects_are_read_ahead_within_the_byte_budget() {
    // The test decoder's limits give a 32 MB budget (1,000,000 records x 32 bytes): three
    // objects of 10 MiB at once; objects of unknown size one at a time.
    assert_eq!(run(Some(Some(10 << 20))).await, 3);
    assert_eq!(run(Some(None)).await, 1);
}
