//! The `Store` trait: load and commit per-entity state, once per group of log objects (one
//! object in a replay; consecutive objects of one Lambda invocation, applied by the
//! pipeline's `apply_group`).
//!
//! Semantics every implementation keeps (the DynamoDB store included):
//! - `load` returns the current state and version of each entity (version 0: absent), and
//!   for each object of the group whether it was already applied, with the findings it
//!   raised that are not yet published.
//! - `commit` writes all entities and marks every object of the commit applied, atomically,
//!   only if no entity changed since `load` (optimistic concurrency) and none of the objects
//!   is applied yet; else it returns [`Commit::Conflict`] and the caller loads and applies
//!   again. Each object keeps its own outbox.
//! - `mark_published` records that findings were accepted by every sink, so a retry of the
//!   object publishes only what is still pending.
//! - The outbox entry of a finding version carries a sequence number, assigned by `commit`:
//!   the new version of the principal entity that holds the finding. Every commit that
//!   changes a finding writes that entity, and optimistic concurrency orders those writes,
//!   so the number grows with each version of a finding id. `outbox` returns the numbers and
//!   the sinks that already accepted each entry (`mark_accepted`), so a retry sends a
//!   finding only to the sinks still missing it; `record_published` / `published_versions`
//!   keep the newest sequence number sent per finding id, so a stale version left in one
//!   object's outbox is never sent after a newer one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{ENTITY_TTL_SECS, EntityState, States, principal_entity};
use crate::finding::Finding;
use crate::ingest::ObjectRef;

/// States as loaded, with the version each was read at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The loaded states: the pipeline takes them (`std::mem::take`) and works on them in
    /// place, so a store must not rely on them in `commit` (use `fingerprints`).
    pub states: States,
    pub versions: HashMap<String, u64>,
    /// A store's own fingerprint of each loaded state (a cryptographic hash of its
    /// serialized form), for `commit` to tell unchanged entities from changed ones without
    /// a second copy of every state. Empty when the store does not need it.
    pub fingerprints: HashMap<String, [u8; 32]>,
    /// One entry per object of the `load`, in its order: `Some` when the object was
    /// applied before, with its findings not yet published. When every object was, a store
    /// may leave `states` empty.
    pub applied: Vec<Option<Vec<Finding>>>,
}

impl Snapshot {
    /// Whether every object of the load was applied before (nothing to apply).
    pub fn all_applied(&self) -> bool {
        self.applied.iter().all(Option::is_some)
    }
}

/// One object of a commit and its outbox: the findings to publish, as the caller chose them.
pub type Outbox<'a> = (&'a ObjectRef, &'a [Finding]);

/// One finding version in an object's outbox: its sequence number (0 when the store does
/// not keep them) and the sinks that accepted it already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: u64,
    pub accepted: BTreeSet<String>,
}

/// The sequence number `commit` gives a finding version: the version, after the commit, of
/// the entity that holds the finding open (its principal, or for account-wide findings
/// such as a logging gap the account-and-region entity), found in `states`; the principal
/// when no state holds it.
pub fn outbox_seq(base: &Snapshot, states: &States, f: &Finding) -> u64 {
    let holder = states
        .iter()
        .filter(|(_, s)| s.open.values().any(|o| o.finding.id == f.id))
        .map(|(k, _)| k.clone())
        .min()
        .unwrap_or_else(|| principal_entity(&f.principal_key));
    base.versions.get(&holder).copied().unwrap_or(0) + 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    Done,
    /// An entity changed since `load`, or another invocation applied the object first.
    Conflict,
    /// The store refused the commit for capacity (DynamoDB cancelled the transaction for
    /// throttling): nothing was written; wait, load and apply again, as for a conflict. Kept
    /// apart so a commit that never goes through says which of the two stopped it.
    Throttled,
    /// The commit marks several objects and is larger than the store writes at once
    /// (DynamoDB: 4 MB a transaction): nothing was written; the pipeline applies the
    /// objects in smaller groups. Never said of a commit that marks one object (a store
    /// trims the largest states to fit that one instead).
    TooLarge,
}

#[allow(async_fn_in_trait)]
pub trait Store: Sync {
    /// Loads `keys` and the applied marks of `objects` (one object, or a group).
    async fn load(&self, objects: &[ObjectRef], keys: &[String]) -> anyhow::Result<Snapshot>;
    /// Commits `states` (taken by value: a store may move them in) and marks each object
    /// applied with its outbox, if no entity changed since `base` was loaded and none of
    /// the objects is applied yet. `objects` are those of the load not applied before. A
    /// store may leave out of that check the entities `states` leaves unchanged for which
    /// [`super::validates_unchanged`] is false (the DynamoDB store does).
    async fn commit(
        &self,
        objects: &[Outbox<'_>],
        base: &Snapshot,
        states: States,
    ) -> anyhow::Result<Commit>;
    async fn mark_published(&self, object: &ObjectRef, ids: &[String]) -> anyhow::Result<()>;

    /// The object's outbox entries by finding id (absent: no sequence kept, no sink yet).
    async fn outbox(&self, object: &ObjectRef) -> anyhow::Result<HashMap<String, OutboxEntry>> {
        let _ = object;
        Ok(HashMap::new())
    }

    /// Records that `sink` accepted these findings of the object's outbox.
    async fn mark_accepted(
        &self,
        object: &ObjectRef,
        sink: &str,
        ids: &[String],
    ) -> anyhow::Result<()> {
        let _ = (object, sink, ids);
        Ok(())
    }

    /// The newest sequence number published per finding id (ids never published: absent).
    async fn published_versions(&self, ids: &[String]) -> anyhow::Result<HashMap<String, u64>> {
        let _ = ids;
        Ok(HashMap::new())
    }

    /// Raises the newest published sequence number of each finding id (never lowers it).
    async fn record_published(&self, versions: &[(String, u64)]) -> anyhow::Result<()> {
        let _ = versions;
        Ok(())
    }

    /// Waits before attempt `attempt + 1` after a [`Commit::Conflict`]. Stores shared by
    /// concurrent writers back off (with random jitter, so contenders do not retry in
    /// lockstep); the memory store has no other writer to wait for.
    async fn backoff(&self, attempt: u32) {
        let _ = attempt;
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Inner {
    entities: BTreeMap<String, Versioned>,
    /// AppliedObject objects by identity: the newest event time seen in them, findings pending.
    objects: BTreeMap<String, AppliedObject>,
    /// The newest sequence number published per finding id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    published: BTreeMap<String, u64>,
    /// [`MemoryStore::exclusive`]: the entities a `load` moved out, until its `commit`.
    #[serde(skip)]
    checked_out: std::collections::HashSet<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Versioned {
    version: u64,
    state: EntityState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AppliedObject {
    last_seen: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<Finding>,
    /// Sequence number of each pending finding version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    seq: BTreeMap<String, u64>,
    /// Sinks that accepted each pending finding.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    accepted: BTreeMap<String, BTreeSet<String>>,
}

/// In-memory store for replay and tests, saved to and loaded from a JSON file.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// One writer, objects applied one after another (replay): `load` moves each state out
    /// instead of copying it and `commit` moves it back, so an object costs nothing per byte
    /// of the state it touches (a copy of every loaded state per object was most of the
    /// time of a replay of many small objects). A second `load` of an entity before the
    /// first one's `commit`, or a commit that would conflict, is an error: that use needs
    /// the default (copying) store.
    exclusive: bool,
}

/// The file format of `--state`.
#[derive(Serialize, Deserialize)]
struct StateFile {
    trailhound_state: u32,
    // Not `#[serde(flatten)]`: flattening buffers the content and loses integer map keys.
    state: Inner,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// This store for a single writer (see the field `exclusive`).
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    pub fn load_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("could not read the state file {}", path.display()))?;
        let file: StateFile = serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not a trailhound state file (written by `replay --state`); delete it to start afresh", path.display())
        })?;
        anyhow::ensure!(
            file.trailhound_state == 1,
            "{}: unsupported state version {}",
            path.display(),
            file.trailhound_state
        );
        Ok(MemoryStore {
            inner: Mutex::new(file.state),
            exclusive: false,
        })
    }

    /// Writes the state (pruned of entities idle past the TTL) atomically: temp file + rename.
    pub fn save_file(&self, path: &Path) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().expect("store lock");
        let newest = inner
            .entities
            .values()
            .map(|v| v.state.last_seen)
            .max()
            .unwrap_or(0);
        inner
            .entities
            .retain(|_, v| newest - v.state.last_seen <= ENTITY_TTL_SECS);
        inner
            .objects
            .retain(|_, o| newest - o.last_seen <= ENTITY_TTL_SECS || !o.pending.is_empty());
        let file = StateFile {
            trailhound_state: 1,
            state: std::mem::take(&mut *inner),
        };
        let json = serde_json::to_vec(&file)?;
        *inner = file.state;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).with_context(|| format!("could not write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("could not replace {}", path.display()))?;
        Ok(())
    }

    /// Number of entities held (for summaries and tests).
    pub fn len(&self) -> usize {
        self.inner.lock().expect("store lock").entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of one entity's state.
    pub fn get(&self, key: &str) -> Option<EntityState> {
        self.inner
            .lock()
            .expect("store lock")
            .entities
            .get(key)
            .map(|v| v.state.clone())
    }
}

impl Store for MemoryStore {
    async fn load(&self, objects: &[ObjectRef], keys: &[String]) -> anyhow::Result<Snapshot> {
        let mut inner = self.inner.lock().expect("store lock");
        let mut snap = Snapshot {
            applied: objects
                .iter()
                .map(|o| inner.objects.get(&o.identity()).map(|a| a.pending.clone()))
                .collect(),
            ..Snapshot::default()
        };
        if snap.all_applied() {
            return Ok(snap);
        }
        if self.exclusive {
            let inner = &mut *inner;
            for k in keys {
                anyhow::ensure!(
                    inner.checked_out.insert(k.clone()),
                    "{}: entity {k} is still held by an object not yet committed (the exclusive memory store has one writer)",
                    objects[0]
                );
                let (version, state) = match inner.entities.get_mut(k) {
                    Some(v) => (v.version, std::mem::take(&mut v.state)),
                    None => (0, EntityState::default()),
                };
                snap.versions.insert(k.clone(), version);
                snap.states.insert(k.clone(), state);
            }
            return Ok(snap);
        }
        for k in keys {
            let v = inner.entities.get(k).cloned().unwrap_or_default();
            snap.versions.insert(k.clone(), v.version);
            snap.states.insert(k.clone(), v.state);
        }
        Ok(snap)
    }

    async fn commit(
        &self,
        objects: &[Outbox<'_>],
        base: &Snapshot,
        states: States,
    ) -> anyhow::Result<Commit> {
        let mut inner = self.inner.lock().expect("store lock");
        let conflict = objects
            .iter()
            .any(|(o, _)| inner.objects.contains_key(&o.identity()))
            || base
                .versions
                .iter()
                .any(|(k, v)| inner.entities.get(k).map_or(0, |e| e.version) != *v);
        if conflict {
            // The exclusive store moved the states out: with a second writer they would be
            // lost, so say so rather than let the caller reload emptied states.
            anyhow::ensure!(
                !self.exclusive,
                "{}: a concurrent commit on the exclusive memory store (it has one writer)",
                objects
                    .first()
                    .map_or_else(String::new, |(o, _)| o.to_string())
            );
            return Ok(Commit::Conflict);
        }
        if self.exclusive {
            for k in base.versions.keys() {
                inner.checked_out.remove(k);
            }
        }
        let marks: Vec<(String, BTreeMap<String, u64>)> = objects
            .iter()
            .map(|(o, findings)| {
                let seq = findings
                    .iter()
                    .map(|f| (f.id.clone(), outbox_seq(base, &states, f)))
                    .collect();
                (o.identity(), seq)
            })
            .collect();
        let mut last_seen = 0;
        for (k, s) in states {
            last_seen = last_seen.max(s.last_seen);
            let e = inner.entities.entry(k).or_default();
            e.version += 1;
            e.state = s;
        }
        for ((_, findings), (id, seq)) in objects.iter().zip(marks) {
            inner.objects.insert(
                id,
                AppliedObject {
                    last_seen,
                    pending: findings.to_vec(),
                    seq,
                    accepted: BTreeMap::new(),
                },
            );
        }
        Ok(Commit::Done)
    }

    async fn mark_published(&self, object: &ObjectRef, ids: &[String]) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().expect("store lock");
        if let Some(a) = inner.objects.get_mut(&object.identity()) {
            a.pending.retain(|f| !ids.contains(&f.id));
            for id in ids {
                a.seq.remove(id);
                a.accepted.remove(id);
            }
        }
        Ok(())
    }

    async fn outbox(&self, object: &ObjectRef) -> anyhow::Result<HashMap<String, OutboxEntry>> {
        let inner = self.inner.lock().expect("store lock");
        let Some(a) = inner.objects.get(&object.identity()) else {
            return Ok(HashMap::new());
        };
        Ok(a.pending
            .iter()
            .map(|f| {
                let e = OutboxEntry {
                    seq: a.seq.get(&f.id).copied().unwrap_or(0),
                    accepted: a.accepted.get(&f.id).cloned().unwrap_or_default(),
                };
                (f.id.clone(), e)
            })
            .collect())
    }

    async fn mark_accepted(
        &self,
        object: &ObjectRef,
        sink: &str,
        ids: &[String],
    ) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().expect("store lock");
        if let Some(a) = inner.objects.get_mut(&object.identity()) {
            for id in ids {
                a.accepted
                    .entry(id.clone())
                    .or_default()
                    .insert(sink.to_string());
            }
        }
        Ok(())
    }

    async fn published_versions(&self, ids: &[String]) -> anyhow::Result<HashMap<String, u64>> {
        let inner = self.inner.lock().expect("store lock");
        Ok(ids
            .iter()
            .filter_map(|id| inner.published.get(id).map(|s| (id.clone(), *s)))
            .collect())
    }

    async fn record_published(&self, versions: &[(String, u64)]) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().expect("store lock");
        for (id, seq) in versions {
            let e = inner.published.entry(id.clone()).or_default();
            *e = (*e).max(*seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn obj(key: &str) -> ObjectRef {
        ObjectRef {
            bucket: "b".into(),
            key: key.into(),
            version: "e".into(),
            part: 0,
        }
    }

    #[test]
    fn the_exclusive_store_moves_states_and_refuses_a_second_writer() {
        let store = MemoryStore::new().exclusive();
        let keys = vec!["p#a".to_string()];
        let (o1, o2) = (obj("1"), obj("2"));
        let mut snap = block_on(store.load(std::slice::from_ref(&o1), &keys)).unwrap();
        let mut states = std::mem::take(&mut snap.states);
        states.get_mut("p#a").unwrap().touch(100);
        // While o1 holds p#a, another load of it is an error, not an empty state.
        let err = block_on(store.load(std::slice::from_ref(&o2), &keys))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "s3://b/2: entity p#a is still held by an object not yet committed (the exclusive memory store has one writer)"
        );
        assert_eq!(
            block_on(store.commit(&[(&o1, &[])], &snap, states)).unwrap(),
            Commit::Done
        );
        assert_eq!(store.get("p#a").unwrap().last_seen, 100);
        // Committed: the next object gets the state (moved, version 1), and o1 again is a
        // duplicate that takes nothing.
        let again = block_on(store.load(std::slice::from_ref(&o1), &keys)).unwrap();
        assert!(again.all_applied() && again.states.is_empty());
        let snap = block_on(store.load(std::slice::from_ref(&o2), &keys)).unwrap();
        assert_eq!(snap.versions["p#a"], 1);
        assert_eq!(snap.states["p#a"].last_seen, 100);
        // A commit of o1 a second time would conflict: with moved states that is an error.
        let err = block_on(store.commit(&[(&o1, &[])], &snap, States::default()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("concurrent commit on the exclusive memory store"),
            "{err}"
        );
    }
}
