//! The DynamoDB store: the [`Store`] semantics over one table (`pk` S, `sk` S, TTL on
//! `expires_at`), shared by every concurrent and cold-started invocation.
//!
//! Items:
//! - entity `pk=<entity key>` (`p#<principal key>`, `b#<bucket>`), `sk=state`: `version` (N,
//!   bumped on every write), `state` (B: a format byte then the deflated JSON of
//!   [`EntityState`]), `expires_at` (write time + [`ENTITY_TTL_SECS`], so idle entities expire).
//! - applied object `pk=obj#<bucket>/<key>#<etag or version id>`, `sk=applied`: `pending`
//!   (M: finding id → B, the deflated finding JSON; or S, the entity key whose open finding it
//!   is, when an object raises more than [`PENDING_BUDGET`] bytes of findings), `applied_at`,
//!   `expires_at` (+[`OBJECT_TTL_SECS`]).
//!
//! `load` is one `BatchGetItem` (100 keys a call, consistent reads, `UnprocessedKeys`
//! retried) for the item of each object of the group and every entity. `commit` is one
//! `TransactWriteItems`: a `Put` per changed entity conditioned on `version = :v` (or
//! `attribute_not_exists(pk)`), a `ConditionCheck` per unchanged one (but the AI markers:
//! [`validates_unchanged`]), and a `Put` of each
//! object's item conditioned on `attribute_not_exists(pk)`; the objects share the inline
//! budget of pending findings ([`PENDING_BUDGET`]). A commit of several objects over
//! [`TRANSACT_BUDGET`] writes nothing and is [`Commit::TooLarge`] (the pipeline applies the
//! objects in halves); one object's is made to fit by trimming its largest states. Any failed condition is a
//! [`Commit::Conflict`] (a cancellation for throttling a [`Commit::Throttled`]) and the
//! pipeline loads and applies again, so concurrent invocations lose no counts.
//! `mark_published` is one
//! `UpdateItem` removing the accepted ids from `pending`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem,
};

use sha2::{Digest, Sha256};
use trailhound_core::alert::Finding;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::store::{Commit, Outbox, Snapshot, Store};
use trailhound_core::state::{EntityState, States, validates_unchanged};

mod counters;
mod item;
mod outbox;
pub mod trim;

pub use counters::{Counters, CountersSnapshot};
pub use item::{entity_item, entity_pk, item_size, object_pk, pack, unpack};
use item::{get_n, key, n, now};

/// Applied-object markers outlive any redelivery: SQS keeps messages 14 days at most, a DLQ
/// redrive another 14.
pub const OBJECT_TTL_SECS: i64 = 35 * 86_400;
/// Pending findings above this many (compressed) bytes are stored as references to the
/// entity holding them, keeping the object item far under the 400 KB item limit.
pub const PENDING_BUDGET: usize = 200 * 1024;
/// DynamoDB's limits.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
pub const MAX_TRANSACT_ITEMS: usize = 100;
pub const MAX_TRANSACT_BYTES: usize = 4 * 1024 * 1024;
/// An entity state packed above this is trimmed ([`trim`]) rather than failing at 400 KB.
/// Far under the limit on purpose: the rest of the item (keys, numbers) is small, but local
/// emulators (moto) count a binary attribute by its base64 length, 4/3 of its bytes, and
/// 280 KB stays under 400 KB either way.
pub const ENTITY_ITEM_BUDGET: usize = 280 * 1024;
/// What a transaction's items may total: 4 MB less a margin for DynamoDB's own accounting.
/// Past it the largest entities of the commit are trimmed until it fits.
pub const TRANSACT_BUDGET: usize = MAX_TRANSACT_BYTES - 96 * 1024;
/// No entity is trimmed below this to make a transaction fit.
const MIN_TRIM_BUDGET: usize = 8 * 1024;
const ENTITY_SK: &str = "state";
const OBJECT_SK: &str = "applied";
/// Format byte of `state` and pending blobs: deflated JSON.
const FORMAT_DEFLATE_JSON: u8 = 1;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    counters: Arc<Counters>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Consistent `BatchGetItem` of `keys` (pk, sk), 100 per call, retrying `UnprocessedKeys`
    /// with backoff. Returns items by pk.
    async fn batch_get(
        &self,
        keys: Vec<(String, &'static str)>,
    ) -> anyhow::Result<HashMap<String, HashMap<String, AttributeValue>>> {
        let mut out = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<_> = keys
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect();
        for chunk in keys.chunks(100) {
            let mut request: Vec<HashMap<String, AttributeValue>> =
                chunk.iter().map(|(pk, sk)| key(pk.clone(), sk)).collect();
            let mut attempt = 0u32;
            while !request.is_empty() {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut request)))
                    .consistent_read(true)
                    .build()
                    .expect("keys are set");
                self.counters.add(&self.counters.read_calls, 1);
                let call = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send();
                let resp = crate::deadline::bounded("DynamoDB BatchGetItem", call)
                    .await?
                    .map_err(|e| self.err("BatchGetItem", e))?;
                for item in resp
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    self.counters.add(&self.counters.items_read, 1);
                    if let Some(AttributeValue::S(pk)) = item.get("pk") {
                        out.insert(pk.clone(), item);
                    }
                }
                if let Some(mut un) = resp.unprocessed_keys
                    && let Some(ka) = un.remove(&self.table)
                {
                    request = ka.keys;
                }
                if !request.is_empty() {
                    attempt += 1;
                    if attempt > 10 {
                        bail!(
                            "DynamoDB table {} kept returning unprocessed keys (throttled): the event will be retried",
                            self.table
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(25 << attempt.min(8))).await;
                }
            }
        }
        Ok(out)
    }

    fn err<E, R>(&self, op: &str, e: SdkError<E, R>) -> anyhow::Error
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let hint = match e.code() {
            Some("ResourceNotFoundException") => format!(
                "; the table {} does not exist: check TRAILHOUND_TABLE and the deploy stack",
                self.table
            ),
            Some("AccessDeniedException") => format!(
                "; allow dynamodb:BatchGetItem, TransactWriteItems, ConditionCheckItem, PutItem and UpdateItem on {} in the function's role",
                self.table
            ),
            _ => String::new(),
        };
        anyhow::anyhow!(
            "DynamoDB {op} on {}: {}{hint}",
            self.table,
            DisplayErrorContext(&e)
        )
    }

    /// Trims `state` of `entity` to `budget` packed bytes, counting and logging what went.
    fn trim(&self, entity: &str, state: &mut EntityState, budget: usize) -> Option<trim::Trimmed> {
        let t = trim::trim(state, budget)?;
        self.counters.add(&self.counters.trimmed_entities, 1);
        self.counters
            .add(&self.counters.trimmed_pieces, t.dropped() as usize);
        tracing::warn!(
            entity = %entity,
            from_bytes = t.from_bytes,
            to_bytes = t.to_bytes,
            rate_series = t.rate_series,
            seen_values = t.seen_values,
            kind_entries = t.kind_entries,
            open_findings = t.open_findings,
            "entity state over its item budget: trimmed (idlest series and oldest values first)"
        );
        Some(t)
    }

    fn decode_state(
        &self,
        entity: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> anyhow::Result<(u64, EntityState)> {
        let version = get_n(item, "version").unwrap_or(0).max(0) as u64;
        let state = match item.get("state") {
            Some(AttributeValue::B(b)) => unpack(b.as_ref()).with_context(|| {
                format!(
                    "entity {entity} in table {}: stored state is unreadable; delete the item (pk={}) to start it afresh",
                    self.table,
                    entity_pk(entity)
                )
            })?,
            _ => EntityState::default(),
        };
        Ok((version, state))
    }

    /// The pending findings of an applied object item, references resolved.
    async fn pending(
        &self,
        item: &HashMap<String, AttributeValue>,
    ) -> anyhow::Result<Vec<Finding>> {
        let Some(AttributeValue::M(map)) = item.get("pending") else {
            return Ok(Vec::new());
        };
        let mut found = BTreeMap::new();
        let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, v) in map {
            match v {
                AttributeValue::B(b) => {
                    let f: Finding = unpack(b.as_ref())
                        .with_context(|| format!("pending finding {id} is unreadable"))?;
                    found.insert(id.clone(), f);
                }
                AttributeValue::S(entity) => {
                    refs.entry(entity.clone()).or_default().push(id.clone())
                }
                _ => {}
            }
        }
        if !refs.is_empty() {
            let keys = refs.keys().map(|e| (entity_pk(e), ENTITY_SK)).collect();
            let items = self.batch_get(keys).await?;
            for (entity, ids) in refs {
                let state = match items.get(&entity_pk(&entity)) {
                    Some(item) => self.decode_state(&entity, item)?.1,
                    None => EntityState::default(),
                };
                for id in ids {
                    match state.open.values().find(|o| o.finding.id == id) {
                        Some(o) => {
                            found.insert(id, o.finding.clone());
                        }
                        None => {
                            tracing::warn!(finding = %id, entity = %entity, "a pending finding is no longer open (its cooldown passed); it cannot be republished")
                        }
                    }
                }
            }
        }
        Ok(found.into_values().collect())
    }
}

/// What a cancelled transaction means for the pipeline: a condition or a concurrent
/// transaction is a [`Commit::Conflict`], throttling a [`Commit::Throttled`] (a condition
/// wins when both are named: reloading is what fixes it); both load and apply again. `None`:
/// an error to report.
fn cancelled_as(
    e: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Option<Commit> {
    let SdkError::ServiceError(se) = e else {
        return None;
    };
    match se.err() {
        TransactWriteItemsError::TransactionCanceledException(c) => {
            let codes = || c.cancellation_reasons().iter().filter_map(|r| r.code());
            if codes().any(|c| matches!(c, "ConditionalCheckFailed" | "TransactionConflict")) {
                Some(Commit::Conflict)
            } else if codes()
                .any(|c| matches!(c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
            {
                Some(Commit::Throttled)
            } else {
                None
            }
        }
        TransactWriteItemsError::TransactionInProgressException(_) => Some(Commit::Conflict),
        _ => None,
    }
}

/// A state's fingerprint: SHA-256 of its JSON form (what `commit` compares to tell an
/// unchanged entity, which gets a version check instead of a write). A cryptographic hash,
/// because states hold attacker-chosen text: a crafted collision would drop an update.
fn fingerprint(s: &EntityState) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(s).unwrap_or_default()).into()
}

impl Store for DynamoStore {
    async fn load(&self, objects: &[ObjectRef], keys: &[String]) -> anyhow::Result<Snapshot> {
        let opks: Vec<String> = objects.iter().map(object_pk).collect();
        let mut wanted: Vec<(String, &'static str)> =
            opks.iter().map(|p| (p.clone(), OBJECT_SK)).collect();
        wanted.extend(keys.iter().map(|k| (entity_pk(k), ENTITY_SK)));
        let items = self.batch_get(wanted).await?;
        let mut snap = Snapshot::default();
        for opk in &opks {
            let applied = match items.get(opk).filter(|i| {
                i.get("sk").and_then(|s| s.as_s().ok()).map(String::as_str) == Some(OBJECT_SK)
            }) {
                Some(obj) => Some(self.pending(obj).await?),
                None => None,
            };
            snap.applied.push(applied);
        }
        if snap.all_applied() {
            return Ok(snap);
        }
        for k in keys {
            let (version, state) = match items.get(&entity_pk(k)) {
                Some(item) => self.decode_state(k, item)?,
                None => (0, EntityState::default()),
            };
            snap.versions.insert(k.clone(), version);
            snap.fingerprints.insert(k.clone(), fingerprint(&state));
            snap.states.insert(k.clone(), state);
        }
        Ok(snap)
    }

    async fn commit(
        &self,
        objects: &[Outbox<'_>],
        base: &Snapshot,
        states: States,
    ) -> anyhow::Result<Commit> {
        let Some(&(object, _)) = objects.first() else {
            bail!("a commit names no object: this is a bug");
        };
        let at = now();
        let mut items = Vec::new();
        let mut bytes = 0usize;
        let mut token = Sha256::new();
        token.update(at.to_le_bytes());
        let mut budget = PENDING_BUDGET;
        let obj_items: Vec<HashMap<String, AttributeValue>> = objects
            .iter()
            .map(|(o, findings)| {
                token.update(o.identity().as_bytes());
                let mut item = self.object_item(o, findings, at, &mut budget);
                outbox::with_seq(&mut item, base, &states, findings);
                item
            })
            .collect();
        let mut sorted: Vec<(String, EntityState)> = states.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        // Changed entities, packed (and trimmed to their item budget); then, while the
        // transaction is over its budget, the largest trimmed further.
        let mut changed: BTreeMap<String, (EntityState, usize)> = BTreeMap::new();
        let mut keys: Vec<String> = Vec::with_capacity(sorted.len());
        for (k, mut s) in sorted {
            let unchanged = base.fingerprints.get(&k) == Some(&fingerprint(&s));
            if !unchanged {
                self.trim(&k, &mut s, ENTITY_ITEM_BUDGET);
                let size = item::pack(&s).len();
                changed.insert(k.clone(), (s, size));
            }
            keys.push(k);
        }
        let fixed = obj_items.iter().map(item_size).sum::<usize>() + keys.len() * 2 * 1024;
        loop {
            let total: usize = fixed + changed.values().map(|(_, n)| n).sum::<usize>();
            if total <= TRANSACT_BUDGET {
                break;
            }
            if objects.len() > 1 {
                // Several objects: the pipeline applies them in smaller groups rather than
                // losing state to trimming (only one object's commit is ever trimmed here).
                self.counters.add(&self.counters.oversized_groups, 1);
                tracing::info!(
                    object = %object,
                    objects = objects.len(),
                    entities = keys.len(),
                    kb = total / 1024,
                    "group commit over a transaction's size: applying it in halves"
                );
                return Ok(Commit::TooLarge);
            }
            let Some((k, (s, size))) = changed.iter_mut().max_by_key(|(k, (_, n))| (*n, *k)) else {
                break;
            };
            let budget = size
                .saturating_sub(total - TRANSACT_BUDGET)
                .max(MIN_TRIM_BUDGET);
            if budget >= *size {
                break;
            }
            let k: &String = k;
            match self.trim(k, s, budget) {
                Some(_) => *size = item::pack(s).len(),
                None => break,
            }
        }
        for k in &keys {
            let v = base.versions.get(k).copied().unwrap_or(0);
            token.update(k.as_bytes());
            token.update(v.to_le_bytes());
            let (cond, vals) = if v == 0 {
                ("attribute_not_exists(pk)", None)
            } else {
                (
                    "version = :v",
                    Some(HashMap::from([(":v".to_string(), n(v as i64))])),
                )
            };
            let item = match changed.get(k) {
                None if !validates_unchanged(k) => continue,
                None => {
                    let c = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(entity_pk(k), ENTITY_SK)))
                        .condition_expression(cond)
                        .set_expression_attribute_values(vals)
                        .build()
                        .expect("fields set");
                    TransactWriteItem::builder().condition_check(c).build()
                }
                Some((s, _)) => {
                    let item = entity_item(k, s, v + 1, at);
                    let size = item_size(&item);
                    if size > MAX_ITEM_BYTES {
                        bail!(
                            "entity {k}: its state is {} KB compressed after trimming, over DynamoDB's 400 KB item limit: report it as a bug with the principal's activity volume",
                            size / 1024
                        );
                    }
                    bytes += size;
                    let p = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression(cond)
                        .set_expression_attribute_values(vals)
                        .build()
                        .expect("fields set");
                    TransactWriteItem::builder().put(p).build()
                }
            };
            items.push(item);
        }
        for obj_item in obj_items {
            bytes += item_size(&obj_item);
            let p = Put::builder()
                .table_name(&self.table)
                .set_item(Some(obj_item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("fields set");
            items.push(TransactWriteItem::builder().put(p).build());
        }
        if items.len() > MAX_TRANSACT_ITEMS || bytes > MAX_TRANSACT_BYTES {
            bail!(
                "{object}: one commit would write {} items ({} KB); DynamoDB transactions take at most {MAX_TRANSACT_ITEMS} items and 4 MB: the Lambda driver splits objects into parts and sizes groups, so this is a bug",
                items.len(),
                bytes / 1024
            );
        }
        let token: String = token.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let n_items = items.len();
        self.counters.add(&self.counters.write_calls, 1);
        self.counters.add(&self.counters.commits, 1);
        let call = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send();
        // Cut off at the deadline, the commit may or may not have happened: the object
        // fails, and its redelivery finds the object item (applied) or applies it.
        let r = crate::deadline::bounded("DynamoDB TransactWriteItems", call).await?;
        match r {
            Ok(_) => {
                self.counters.add(&self.counters.items_written, n_items);
                Ok(Commit::Done)
            }
            Err(e) => match cancelled_as(&e) {
                Some(Commit::Conflict) => {
                    self.counters.add(&self.counters.conflicts, 1);
                    Ok(Commit::Conflict)
                }
                Some(Commit::Throttled) => {
                    self.counters.add(&self.counters.throttled_commits, 1);
                    Ok(Commit::Throttled)
                }
                _ => Err(self.err("TransactWriteItems", e)),
            },
        }
    }

    async fn mark_published(&self, object: &ObjectRef, ids: &[String]) -> anyhow::Result<()> {
        for chunk in ids.chunks(50) {
            let mut names = HashMap::from([("#p".to_string(), "pending".to_string())]);
            let mut paths = Vec::new();
            for (i, id) in chunk.iter().enumerate() {
                names.insert(format!("#i{i}"), id.clone());
                paths.push(format!("#p.#i{i}"));
                // The entry's sequence number goes with it (absent on older items: fine).
                names.insert(format!("#q{i}"), outbox::seq_attr(id));
                paths.push(format!("#q{i}"));
            }
            self.counters.add(&self.counters.write_calls, 1);
            let r = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(object_pk(object), OBJECT_SK)))
                .update_expression(format!("REMOVE {}", paths.join(", ")))
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_names(Some(names))
                .send()
                .await;
            match r {
                Ok(_) => self.counters.add(&self.counters.items_written, 1),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    tracing::warn!(object = %object, "the applied-object item is gone (expired?); nothing to mark");
                }
                Err(e) => return Err(self.err("UpdateItem", e)),
            }
        }
        Ok(())
    }

    async fn outbox(
        &self,
        object: &ObjectRef,
    ) -> anyhow::Result<HashMap<String, trailhound_core::state::store::OutboxEntry>> {
        self.outbox_entries(object).await
    }

    async fn mark_accepted(
        &self,
        object: &ObjectRef,
        sink: &str,
        ids: &[String],
    ) -> anyhow::Result<()> {
        self.add_accepted(object, sink, ids).await
    }

    async fn published_versions(&self, ids: &[String]) -> anyhow::Result<HashMap<String, u64>> {
        self.published_seqs(ids).await
    }

    async fn record_published(&self, versions: &[(String, u64)]) -> anyhow::Result<()> {
        self.raise_published(versions).await
    }

    /// Exponential backoff (10 ms doubling to 1.28 s) with full random jitter, so
    /// invocations contending for one hot principal spread out instead of retrying in
    /// lockstep.
    async fn backoff(&self, attempt: u32) {
        let cap = 10u64 << attempt.min(7);
        let r = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            attempt,
        );
        tokio::time::sleep(Duration::from_millis(cap / 2 + r % (cap / 2 + 1))).await;
    }
}
