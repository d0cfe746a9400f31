//! Group commit: consecutive objects of one invocation applied in one load and one commit.
//!
//! Each commit is a DynamoDB transaction, billed per item written, and every object's commit
//! writes its applied mark and each entity it touched. The objects of one SQS batch (or of
//! one S3 event with several records) are mostly consecutive deliveries of the same trails:
//! they share principals, buckets and account entities. Applied as a group, each shared
//! entity is read and written once instead of once per object, and the invocation makes one
//! `BatchGetItem` and one `TransactWriteItems` instead of one of each per object. Exactly-once
//! is unchanged: every object's mark is written in the transaction that writes the state it
//! changed, so a redelivery (alone or in another batch) finds each object applied or not.
//!
//! A group stays within one transaction's [`MAX_TRANSACT_ITEMS`] items: its entities plus
//! its objects (one applied mark each), at most [`MAX_GROUP_OBJECTS`] objects, the pending
//! findings of all its objects sharing one inline budget; and within
//! [`MAX_GROUP_ACTIVITIES`] activities, which bounds the memory held by decoded objects
//! waiting for the commit. Its size in bytes is known only once its states are loaded: a
//! commit over a transaction's 4 MB (many large states at once) is refused before anything
//! is written, and the pipeline applies the group in halves
//! ([`Commit::TooLarge`](trailhound_core::state::Commit::TooLarge)). An object wider than
//! [`MAX_PART_ENTITIES`] is applied alone, in parts, after the group before it. The cost of
//! a group is its blast radius: when its commit fails, every object in it is retried (their
//! redeliveries are applied once).
//!
//! Entity puts are most of the write cost (each a transactional write of 2 WRU or more), and
//! a group saves one for every entity its objects share. On the many-small-objects archive
//! (about 20 entities an object, a few shared with the objects delivered next to it), groups
//! capped at 45 entities held two objects each; filled up to the transaction's 100 items
//! they hold about eight, and the archive costs 1.58x fewer write and read units
//! (`bench/lambda.py`, batches of 50).

use std::collections::HashSet;

use trailhound_core::state::Store;

use crate::dynamo::MAX_TRANSACT_ITEMS;

use super::metrics::Invocation;
use super::object::{self, Failed, MAX_PART_ENTITIES, Ready};
use super::{Deps, Fetch, Publish};

/// Objects one commit may mark applied (their entities fill the rest of its
/// [`MAX_TRANSACT_ITEMS`]).
pub const MAX_GROUP_OBJECTS: usize = 50;
/// Activities a group may hold while its objects wait for their commit (about 10 MB).
pub const MAX_GROUP_ACTIVITIES: usize = 20_000;

/// Decoded objects waiting to be applied together, with the index of each one's delivery.
#[derive(Default)]
pub(super) struct Group<'t> {
    members: Vec<(usize, Ready<'t>)>,
    keys: HashSet<String>,
    acts: usize,
}

/// An object's outcome: its delivery's index and whether it is done.
pub(super) type Outcome = (usize, Result<usize, Failed>);

impl<'t> Group<'t> {
    /// Takes in the decoded object of delivery `index`: it joins the group when the group
    /// can hold it; otherwise the group is applied first (its outcomes returned) and the
    /// object starts the next one, or, wider than one commit, is applied alone.
    pub(super) async fn offer<F: Fetch, S: Store, P: Publish>(
        &mut self,
        deps: &Deps<F, S, P>,
        index: usize,
        ready: Ready<'t>,
        inv: &mut Invocation,
    ) -> Vec<Outcome> {
        let keys = deps.decoder.engine.entity_keys(&ready.acts);
        if keys.len() > MAX_PART_ENTITIES {
            let mut out = self.flush(deps, inv).await;
            out.push((index, object::apply_alone(deps, ready, inv).await));
            return out;
        }
        let out = if self.admits(&ready, &keys) {
            Vec::new()
        } else {
            self.flush(deps, inv).await
        };
        self.acts += ready.acts.len();
        self.keys.extend(keys);
        self.members.push((index, ready));
        out
    }

    /// Whether `ready`, needing `keys`, fits in this group's commit. An object already in
    /// the group does not: applied after the group, its second delivery is a duplicate.
    fn admits(&self, ready: &Ready<'_>, keys: &[String]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        let new = keys.iter().filter(|k| !self.keys.contains(*k)).count();
        // The commit's items with `ready` in: every entity, and every object's mark.
        let items = (self.keys.len() + new) + (self.members.len() + 1);
        self.members.len() < MAX_GROUP_OBJECTS
            && self.acts + ready.acts.len() <= MAX_GROUP_ACTIVITIES
            && items <= MAX_TRANSACT_ITEMS
            && !self
                .members
                .iter()
                .any(|(_, r)| r.target.object == ready.target.object)
    }

    /// Applies the objects waiting (if any) and empties the group.
    pub(super) async fn flush<F: Fetch, S: Store, P: Publish>(
        &mut self,
        deps: &Deps<F, S, P>,
        inv: &mut Invocation,
    ) -> Vec<Outcome> {
        let group = std::mem::take(self);
        if group.members.is_empty() {
            return Vec::new();
        }
        let (indices, members): (Vec<usize>, Vec<Ready<'t>>) = group.members.into_iter().unzip();
        // The keys `offer` computed to size the group, not computed again (sorted: the
        // order `Pipeline::apply_group` loads them in).
        let mut keys: Vec<String> = group.keys.into_iter().collect();
        keys.sort_unstable();
        let results = object::apply_group(deps, members, &keys, inv).await;
        indices.into_iter().zip(results).collect()
    }
}
