//! Every file of real public sample data (tests/fixtures/public, see its README) is handled:
//! records decoded, digests, envelopes and test events skipped, odd values tolerated,
//! with exact counts.

use crate::support::common;

use std::collections::BTreeMap;

use trailhound_core::activity::Normalizer;
use trailhound_core::activity::decode_object;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectKind, ObjectRef, SkipReason, classify};
use trailhound_core::record::{BadRecord, Limits};

fn decode(
    rel: &str,
) -> (
    trailhound_core::activity::Decoded,
    Vec<trailhound_core::activity::Activity>,
) {
    let geo = Geo::open(&common::geoip()).unwrap();
    let path = common::fixtures().join("public").join(rel);
    let obj = ObjectRef::local(rel);
    let mut norm = Normalizer::new(&geo);
    let mut acts = Vec::new();
    let file = std::fs::File::open(&path).unwrap();
    let d = decode_object(
        &obj,
        classify(rel),
        file,
        &Limits::default(),
        &mut norm,
        &mut acts,
    )
    .unwrap();
    (d, acts)
}

fn bad(pairs: &[(BadRecord, u64)]) -> BTreeMap<BadRecord, u64> {
    pairs.iter().copied().collect()
}

#[test]
fn cloudtrail_rule_tests_decode_with_exact_counts() {
    let (d, acts) = decode("cloudtrail/cloudtrail_rule_tests.jsonl");
    assert_eq!(d.kind, Some(ObjectKind::CloudTrail));
    // 537 lines: 78 lack eventName or eventSource, 13 eventTime; 2 have unparseable times.
    assert_eq!(
        d.bad,
        bad(&[(BadRecord::MissingField, 91), (BadRecord::BadTime, 2)])
    );
    assert_eq!(d.records, 537 - 93);
    assert_eq!(acts.len() as u64, d.records);
    // Odd values are kept, not fatal: a leading-zero IPv4 and a fake region.
    assert_eq!(d.odd.get("source-ip-leading-zero"), Some(&1));
    let zero = acts
        .iter()
        .find(|a| a.source_ip == Some("6.237.252.245".parse().unwrap()));
    assert!(
        zero.is_some(),
        "06.237.252.245 is read as decimal 6.237.252.245"
    );
}

#[test]
fn compromised_root_scenario_decodes() {
    let (d, acts) = decode("cloudtrail/test_scenarios_compromised_root_creds_and_enrichment.jsonl");
    assert_eq!(
        (d.records, d.bad, d.odd.len()),
        (27, bad(&[(BadRecord::MissingField, 3)]), 0)
    );
    assert!(
        acts.iter()
            .all(|a| &*a.principal_type == "Root" || !a.principal.is_empty())
    );
}

#[test]
fn converse_event_is_normalized() {
    let (d, acts) = decode("cloudtrail/cloudtrail_converse.json");
    assert_eq!((d.records, d.bad_total()), (1, 0));
    let a = &acts[0];
    assert_eq!(&*a.event_name, "Converse");
    assert_eq!(
        a.model_id.as_deref(),
        Some("anthropic.claude-3-5-sonnet-20240620-v1:0")
    );
    assert_eq!(
        &*a.principal_key,
        "arn:aws:iam::00000000000:role/private-ec2-instance-role"
    );
    assert_eq!(&*a.principal_type, "AssumedRole");
    assert_eq!(a.source_ip, Some("216.160.83.56".parse().unwrap()));
    assert_eq!(a.country, Some(*b"US"));
    assert_eq!(
        a.time,
        trailhound_core::time::parse("2024-10-29T15:51:44Z").unwrap()
    );
}

#[test]
fn digest_is_skipped() {
    let (d, acts) = decode("cloudtrail/cloudtrail_digest.json");
    assert_eq!(d.kind, Some(ObjectKind::Skipped(SkipReason::Digest)));
    assert_eq!((d.records, acts.len()), (0, 0));
}

#[test]
fn invocation_logs_decode_and_flag_guardrails_without_copying_prompts() {
    let (d, acts) = decode("bedrock/aws_bedrock_invocation_subset.jsonl");
    assert_eq!(d.kind, Some(ObjectKind::Invocation));
    assert_eq!((d.records, d.bad_total()), (5, 0));
    // One record has a 14-digit account id: kept, counted as odd.
    assert_eq!(d.odd.get("account"), Some(&1));
    // Two Converse records stop with guardrail_intervened, one stream ends INTERVENED.
    assert_eq!(acts.iter().filter(|a| a.guardrail_intervened).count(), 3);
    assert!(
        acts.iter()
            .all(|a| &*a.event_source == "bedrock.amazonaws.com" && a.model_id.is_some())
    );
    let (d, acts) = decode("bedrock/bedrock_invocation_rule_tests.jsonl");
    assert_eq!((d.records, d.bad_total()), (8, 0));
    assert_eq!(
        acts[0].principal_key.as_ref(),
        "arn:aws:iam::111111111111:role/role_details"
    );
    assert_eq!(
        acts[0].time,
        trailhound_core::time::parse("2025-05-15T14:17:22Z").unwrap()
    );
}

#[test]
fn envelopes_and_test_events_are_not_logs() {
    let dir = common::fixtures().join("public/envelopes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 14);
    for name in names {
        let (d, acts) = decode(&format!("envelopes/{name}"));
        let want = if name == "s3-test-event.json" {
            SkipReason::TestEvent
        } else {
            SkipReason::Envelope
        };
        assert_eq!(d.kind, Some(ObjectKind::Skipped(want)), "{name}");
        assert!(acts.is_empty(), "{name}");
    }
}

#[test]
fn replay_of_the_whole_folder_counts_everything() {
    let dir = common::fixtures().join("public");
    let out = common::run(&common::options(&[&dir]));
    let s = &out.stats;
    assert_eq!(s.objects.get("cloudtrail"), Some(&3));
    assert_eq!(s.objects.get("invocation"), Some(&2));
    assert_eq!(s.skipped.get("cloudtrail-digest"), Some(&1));
    assert_eq!(s.skipped.get("event-envelope"), Some(&13));
    assert_eq!(s.skipped.get("s3-test-event"), Some(&1));
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.records, 444 + 27 + 1 + 5 + 8);
    assert_eq!(s.bad_total(), 93 + 3);
    common::assert_schema(&out.findings);
}
