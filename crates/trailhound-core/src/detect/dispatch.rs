//! Per-object lookup tables keyed by the addresses of interned strings.

use std::collections::HashMap;
use std::sync::Arc;

use super::filter::Filter;
use crate::activity::{Activity, Source};

/// The address of an interned string: within one object's activities (one normalizer, one
/// `Arc` per distinct text, alive while they are) it stands for the text, and hashes and
/// compares in one word. Equal text behind different `Arc`s only adds entries computed from
/// the same text.
pub(crate) fn addr(s: &Arc<str>) -> usize {
    Arc::as_ptr(s) as *const u8 as usize
}

/// The detectors whose filters can pass each kind of event (source, event source, event
/// name) of one object, found once per kind: an object holds thousands of activities of a
/// few dozen kinds, and most detectors never see most kinds.
#[derive(Default)]
pub(super) struct Dispatch {
    /// By source and the addresses of the interned event source and name; valid while the
    /// object's activities are alive (see [`addr`]).
    by_kind: HashMap<(Source, usize, usize), Box<[usize]>, foldhash::fast::RandomState>,
}

impl Dispatch {
    /// Indices into `filters` (the detectors' filters, in their order) of those that may
    /// pass `a`'s kind of event; `filters` is read only the first time a kind is seen.
    pub(super) fn candidates<'f>(
        &mut self,
        a: &Activity,
        filters: impl Iterator<Item = &'f Filter>,
    ) -> &[usize] {
        self.by_kind
            .entry((a.source, addr(&a.event_source), addr(&a.event_name)))
            .or_insert_with(|| {
                filters
                    .enumerate()
                    .filter(|(_, f)| f.may_match(a.source, &a.event_source, &a.event_name))
                    .map(|(i, _)| i)
                    .collect()
            })
    }
}
