//! The outbox parts of the DynamoDB store (see [`trailhound_core::state::store`]):
//!
//! - the applied-object item's `pending` map (built here for `commit`, the inline budget
//!   shared by the objects of one group commit);
//! - on the applied-object item, `seq_<finding id>` (N, the version's sequence number,
//!   written by `commit`, removed with the pending entry) and one string set per sink,
//!   `acc_<sink>` (the finding ids that sink accepted; `ADD` creates it);
//! - one item per published finding, `pk=fnd#<finding id>`, `sk=published`: `seq` (N, the
//!   newest sequence number sent, only ever raised by a conditional update) and
//!   `expires_at` (+[`OBJECT_TTL_SECS`]: no outbox entry outlives its object item).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use trailhound_core::finding::Finding;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::state::store::{OutboxEntry, outbox_seq};
use trailhound_core::state::{Snapshot, principal_entity};

use super::item::{bounded, get_n, key, n, now, pack};
use super::{DynamoStore, OBJECT_SK, OBJECT_TTL_SECS, object_pk};

const PUBLISHED_SK: &str = "published";
const ACCEPTED_PREFIX: &str = "acc_";
const SEQ_PREFIX: &str = "seq_";

fn published_pk(id: &str) -> String {
    bounded(format!("fnd#{id}"))
}

/// Adds the sequence numbers of the outbox's findings to the object item.
pub(super) fn with_seq(
    item: &mut HashMap<String, AttributeValue>,
    base: &Snapshot,
    states: &trailhound_core::state::States,
    findings: &[Finding],
) {
    for f in findings {
        item.insert(seq_attr(&f.id), n(outbox_seq(base, states, f) as i64));
    }
}

/// The attribute holding a pending finding's sequence number.
pub(super) fn seq_attr(id: &str) -> String {
    format!("{SEQ_PREFIX}{id}")
}

impl DynamoStore {
    /// The object item: pending findings (the outbox the caller chose) inline while they
    /// fit in what is left of `budget` (shared by the objects of one commit), or as
    /// references when they would make the item, or the transaction, large.
    pub(super) fn object_item(
        &self,
        object: &ObjectRef,
        findings: &[Finding],
        at: i64,
        budget: &mut usize,
    ) -> HashMap<String, AttributeValue> {
        let publish: Vec<&Finding> = findings.iter().collect();
        let packed: Vec<(String, Vec<u8>)> =
            publish.iter().map(|f| (f.id.clone(), pack(f))).collect();
        let total: usize = packed.iter().map(|(id, b)| id.len() + b.len()).sum();
        let pending: HashMap<String, AttributeValue> = if total <= *budget {
            *budget -= total;
            packed
                .into_iter()
                .map(|(id, b)| (id, AttributeValue::B(Blob::new(b))))
                .collect()
        } else {
            publish
                .iter()
                .map(|f| {
                    (
                        f.id.clone(),
                        AttributeValue::S(principal_entity(&f.principal_key)),
                    )
                })
                .collect()
        };
        let mut item = key(object_pk(object), OBJECT_SK);
        item.insert("pending".into(), AttributeValue::M(pending));
        item.insert("applied_at".into(), n(at));
        item.insert("expires_at".into(), n(at + OBJECT_TTL_SECS));
        if object_pk(object) != format!("obj#{}", object.identity()) {
            item.insert("id".into(), AttributeValue::S(object.identity()));
        }
        item
    }

    pub(super) async fn outbox_entries(
        &self,
        object: &ObjectRef,
    ) -> anyhow::Result<HashMap<String, OutboxEntry>> {
        self.counters.add(&self.counters.read_calls, 1);
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), OBJECT_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?
            .item
            .unwrap_or_default();
        let mut out: HashMap<String, OutboxEntry> = HashMap::new();
        if let Some(AttributeValue::M(pending)) = item.get("pending") {
            for id in pending.keys() {
                out.insert(id.clone(), OutboxEntry::default());
            }
        }
        for (id, e) in out.iter_mut() {
            e.seq = get_n(&item, &seq_attr(id)).unwrap_or(0).max(0) as u64;
        }
        for (name, v) in &item {
            let (Some(sink), AttributeValue::Ss(ids)) = (name.strip_prefix(ACCEPTED_PREFIX), v)
            else {
                continue;
            };
            for id in ids {
                if let Some(e) = out.get_mut(id) {
                    e.accepted.insert(sink.to_string());
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn add_accepted(
        &self,
        object: &ObjectRef,
        sink: &str,
        ids: &[String],
    ) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        self.counters.add(&self.counters.write_calls, 1);
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(object_pk(object), OBJECT_SK)))
            .update_expression("ADD #a :ids")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#a", format!("{ACCEPTED_PREFIX}{sink}"))
            .expression_attribute_values(":ids", AttributeValue::Ss(set.into_iter().collect()))
            .send()
            .await;
        match r {
            Ok(_) => {
                self.counters.add(&self.counters.items_written, 1);
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                tracing::warn!(object = %object, "the applied-object item is gone (expired?); nothing to mark");
                Ok(())
            }
            Err(e) => Err(self.err("UpdateItem", e)),
        }
    }

    pub(super) async fn published_seqs(
        &self,
        ids: &[String],
    ) -> anyhow::Result<HashMap<String, u64>> {
        let keys = ids
            .iter()
            .map(|id| (published_pk(id), PUBLISHED_SK))
            .collect();
        let items = self.batch_get(keys).await?;
        Ok(ids
            .iter()
            .filter_map(|id| {
                let item = items.get(&published_pk(id))?;
                Some((id.clone(), get_n(item, "seq")?.max(0) as u64))
            })
            .collect())
    }

    pub(super) async fn raise_published(&self, versions: &[(String, u64)]) -> anyhow::Result<()> {
        let at = now();
        for (id, seq) in versions {
            self.counters.add(&self.counters.write_calls, 1);
            let r = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(published_pk(id), PUBLISHED_SK)))
                .update_expression("SET #s = :s, expires_at = :e")
                .condition_expression("attribute_not_exists(#s) OR #s < :s")
                .expression_attribute_names("#s", "seq")
                .expression_attribute_values(":s", n(*seq as i64))
                .expression_attribute_values(":e", n(at + OBJECT_TTL_SECS))
                .send()
                .await;
            match r {
                Ok(_) => self.counters.add(&self.counters.items_written, 1),
                // A newer (or the same) version is recorded already.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.err("UpdateItem", e)),
            }
        }
        Ok(())
    }
}
