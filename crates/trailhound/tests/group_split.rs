//! A store may refuse a commit of several objects as too large (`Commit::TooLarge`, as the
//! DynamoDB store does over a transaction's 4 MB): the pipeline then applies the group in
//! halves, in order, each half split again if it must. The entities and the findings are
//! those of applying the objects one at a time; objects applied before stay duplicates.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::support::common;
use crate::support::memory;
use trailhound_core::activity::Activity;
use trailhound_core::finding::Finding;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::ingest::local;
use trailhound_core::state::store::Outbox;
use trailhound_core::state::{Commit, MemoryStore, Snapshot, States, Store};

/// A memory store that refuses commits of more than `max` objects, and records the objects
/// of every commit it takes.
struct Refusing {
    inner: MemoryStore,
    max: usize,
    commits: Mutex<Vec<Vec<String>>>,
}

impl Store for Refusing {
    async fn load(&self, objects: &[ObjectRef], keys: &[String]) -> anyhow::Result<Snapshot> {
        self.inner.load(objects, keys).await
    }

    async fn commit(
        &self,
        objects: &[Outbox<'_>],
        base: &Snapshot,
        states: States,
    ) -> anyhow::Result<Commit> {
        if objects.len() > self.max {
            return Ok(Commit::TooLarge);
        }
        let names = objects.iter().map(|(o, _)| o.key.clone()).collect();
        self.commits.lock().unwrap().push(names);
        self.inner.commit(objects, base, states).await
    }

    async fn mark_published(&self, object: &ObjectRef, ids: &[String]) -> anyhow::Result<()> {
        self.inner.mark_published(object, ids).await
    }
}

/// The state of each entity, as the store's state file holds it (versions count commits,
/// which differ).
fn entities(store: &MemoryStore) -> BTreeMap<String, serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    store.save_file(&path).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let entities = v["state"]["entities"].as_object().unwrap();
    assert!(!entities.is_empty());
    entities
        .iter()
        .map(|(k, e)| (k.clone(), e["state"].clone()))
        .collect()
}

/// The last version of each finding: (count, last seen).
fn latest(findings: impl IntoIterator<Item = Finding>) -> BTreeMap<String, (u64, String)> {
    findings
        .into_iter()
        .map(|f| (f.id, (f.count, f.last_seen)))
        .collect()
}

#[tokio::test]
async fn a_group_the_store_refuses_is_applied_in_halves_in_order() {
    let decoder = memory::decoder(7);
    let pipeline = decoder.pipeline();
    // The samples' first twelve log objects with activities, in replay order.
    let mut decoded: Vec<(ObjectRef, Vec<Activity>)> = Vec::new();
    for o in local::list(&[common::repo().join("samples")]).unwrap() {
        let body = std::fs::read(&o.path).unwrap();
        if let Ok((_, acts)) = pipeline.decode(&o.object, &body[..])
            && !acts.is_empty()
        {
            decoded.push((o.object, acts));
        }
        if decoded.len() == 12 {
            break;
        }
    }
    assert_eq!(decoded.len(), 12);
    let group = |r: std::ops::Range<usize>| -> Vec<(&ObjectRef, &[Activity])> {
        decoded[r].iter().map(|(o, a)| (o, a.as_slice())).collect()
    };

    let single = MemoryStore::new();
    let mut want = Vec::new();
    for (o, acts) in &decoded {
        let out = pipeline.apply(&single, o, acts, |_| true).await.unwrap();
        want.extend(out.findings);
    }

    let store = Refusing {
        inner: MemoryStore::new(),
        max: 2,
        commits: Mutex::new(Vec::new()),
    };
    let first = pipeline
        .apply_group(&store, &group(0..5), |_| true)
        .await
        .unwrap();
    // Objects 3 and 4 again, with seven new ones.
    let second = pipeline
        .apply_group(&store, &group(3..12), |_| true)
        .await
        .unwrap();
    let dup: Vec<bool> = second.iter().map(|o| o.duplicate).collect();
    assert_eq!(
        dup,
        [true, true, false, false, false, false, false, false, false]
    );
    assert!(first.iter().all(|o| !o.duplicate));

    // Objects 0-4: halves 0-1 (committed) and 2-4 (refused: 2, then 3-4). Objects 3-11:
    // halves 3-6 (3 and 4 found applied: 5-6 committed) and 7-11 (refused: 7-8, then 9-11,
    // refused: 9, then 10-11). Every commit within 2 objects, each object once, in order.
    let key = |i: usize| decoded[i].0.key.clone();
    let commits = store.commits.lock().unwrap().clone();
    assert!(commits.iter().all(|c| c.len() <= 2), "{commits:?}");
    assert_eq!(
        commits.concat(),
        (0..12).map(key).collect::<Vec<_>>(),
        "each object committed once, in order"
    );
    assert_eq!(
        commits.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 1, 2, 2, 2, 1, 2],
    );

    assert_eq!(entities(&store.inner), entities(&single));
    let got = first
        .into_iter()
        .chain(second.into_iter().filter(|o| !o.duplicate))
        .flat_map(|o| o.findings);
    assert_eq!(latest(got), latest(want));
}
