//! The outbox's publish path over in-memory parts: a finding SNS refuses is counted, kept in
//! the outbox and retried without holding back the others; and a stale version of a finding
//! left in one object's outbox is never sent after a newer version another object sent.

use std::collections::BTreeSet;

use crate::support::fixtures;
use crate::support::memory::{self, MemoryDeps};
use crate::support::*;
use trailhound_aws::envelope::Target;
use trailhound_aws::lambda::handle;
use trailhound_aws::lambda::metrics::Invocation;
use trailhound_core::ingest::ObjectRef;

/// The synthetic archive in memory: the second object raises an invoke spike, the third
/// updates it (and raises twelve new-country findings).
async fn archive() -> (MemoryDeps, Vec<(ObjectRef, i64)>) {
    let deps = memory::deps(0, 1.0);
    let up = deps.fetch.upload(&fixtures::archive());
    (deps, up)
}

async fn process(
    deps: &MemoryDeps,
    o: &ObjectRef,
    size: i64,
) -> (Result<usize, String>, Invocation) {
    let mut inv = Invocation::default();
    let target = Target {
        object: o.clone(),
        version_id: None,
        size: Some(size),
    };
    let r = trailhound_aws::lambda::object::process(deps, &target, &mut inv)
        .await
        .map_err(|e| e.0);
    (r, inv)
}

fn metric(inv: &Invocation, name: &str) -> f64 {
    inv.metrics()
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .value
}

#[tokio::test]
async fn a_refused_finding_is_counted_kept_and_does_not_hold_back_the_others() {
    let (deps, up) = archive().await;
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();
    handle(&deps, s3_event(&up[1].0, up[1].1)).await.unwrap();
    let before = deps.sink.ids().len();
    let (o3, size3) = &up[2];
    // Dry run on a copy to learn the third object's findings: 13, in two SNS batches.
    let (probe, probe_up) = archive().await;
    for (o, s) in &probe_up {
        handle(&probe, s3_event(o, *s)).await.unwrap();
    }
    let third: Vec<String> = probe.sink.ids()[before..].to_vec();
    assert_eq!(third.len(), 13);
    // SNS refuses one finding of the first batch, and the whole second call fails.
    let bad = third[3].clone();
    deps.sink.refuse([bad.clone()]);
    deps.sink.fail_after(1, 1);
    let (r, inv) = process(&deps, o3, *size3).await;
    let err = r.unwrap_err();
    assert!(err.contains("SNS refused"), "{err}");
    // The other 9 of the first batch went out; the refused one and the 3 of the failed call
    // were counted as rejected, one each.
    let sent: BTreeSet<String> = deps.sink.ids()[before..].iter().cloned().collect();
    assert_eq!(sent.len(), 9);
    assert!(!sent.contains(&bad));
    assert_eq!(inv.stats.rejected.get("sns"), Some(&4));
    assert_eq!(metric(&inv, "RejectedFindings"), 4.0);
    assert_eq!(metric(&inv, "PublishedFindings"), 9.0);
    // Still refused on the retry: only the 4 are tried, 3 go out, the bad one stays.
    deps.sink.accept_all();
    deps.sink.refuse([bad.clone()]);
    let calls = deps.sink.calls();
    let (r, inv) = process(&deps, o3, *size3).await;
    assert!(r.is_err());
    assert_eq!(deps.sink.calls(), calls + 1, "one batch of the 4 left");
    assert_eq!(deps.sink.ids().len(), before + 12);
    assert_eq!(inv.stats.rejected.get("sns"), Some(&1));
    // Accepted at last: only it goes out, once; then nothing is left.
    deps.sink.accept_all();
    let r = handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(r["published"], 1, "{r}");
    let all: Vec<String> = deps.sink.ids()[before..].to_vec();
    let unique: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!((all.len(), unique.len()), (13, 13), "each finding once");
    assert_eq!(unique, third.iter().cloned().collect());
    let calls = deps.sink.calls();
    let r = handle(&deps, s3_event(o3, *size3)).await.unwrap();
    assert_eq!(r["published"], 0, "{r}");
    assert_eq!(deps.sink.calls(), calls);
}

#[tokio::test]
async fn a_stale_version_in_the_outbox_is_not_sent_after_a_newer_one() {
    let (deps, up) = archive().await;
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();
    // The second object raises the invoke spike (version 1); SNS refuses it, so it stays in
    // that object's outbox.
    let (probe, probe_up) = archive().await;
    for (o, s) in &probe_up[..2] {
        handle(&probe, s3_event(o, *s)).await.unwrap();
    }
    let spike = probe
        .sink
        .sent()
        .into_iter()
        .map(|s| s.finding())
        .find(|f| f.detector == "invoke-spike")
        .expect("the second object raises an invoke spike");
    deps.sink.refuse([spike.id.clone()]);
    assert!(handle(&deps, s3_event(&up[1].0, up[1].1)).await.is_err());
    assert!(!deps.sink.ids().contains(&spike.id));
    // The third object updates it (version 2), and SNS takes that.
    deps.sink.accept_all();
    handle(&deps, s3_event(&up[2].0, up[2].1)).await.unwrap();
    let newer: Vec<_> = deps
        .sink
        .sent()
        .into_iter()
        .map(|s| s.finding())
        .filter(|f| f.id == spike.id)
        .collect();
    assert_eq!(newer.len(), 1);
    assert!(
        newer[0].count > spike.count,
        "{} vs {}",
        newer[0].count,
        spike.count
    );
    // The second object is redelivered: its version 1 is stale, dropped, never sent.
    let sent = deps.sink.ids();
    let calls = deps.sink.calls();
    let (r, inv) = process(&deps, &up[1].0, up[1].1).await;
    assert_eq!(r.unwrap(), 0);
    assert_eq!(inv.stats.superseded, 1);
    assert_eq!(metric(&inv, "SupersededFindings"), 1.0);
    assert_eq!(deps.sink.ids(), sent, "the stale version was republished");
    assert_eq!(deps.sink.calls(), calls);
    // And it left the outbox: a further redelivery finds nothing to do.
    let (r, inv) = process(&deps, &up[1].0, up[1].1).await;
    assert_eq!(r.unwrap(), 0);
    assert_eq!(inv.stats.superseded, 0);
    assert_eq!(deps.sink.ids(), sent);
}
