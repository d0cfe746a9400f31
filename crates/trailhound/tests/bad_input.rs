//! Bad input: each bad object or record gets a clear, counted error; the rest of the run is
//! processed; nothing panics.

use crate::support::common;

use std::path::Path;

use trailhound_core::activity::Normalizer;
use trailhound_core::activity::decode_object;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectKind, ObjectRef, SkipReason, classify};
use trailhound_core::record::{BadRecord, Limits};

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0000Z_abc.json.gz";

fn event(name: &str, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE"}},"eventTime":"2026-10-01T00:00:00Z","eventSource":"sts.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2","requestID":"r-{name}","eventID":"e-{name}","recipientAccountId":"111122223333"{extra}}}"#
    )
}

fn good_file() -> String {
    let huge = format!(
        r#","requestParameters":{{"blob":"{}"}}"#,
        "x".repeat(200_000)
    );
    format!(
        r#"{{"Records":[{},{},{},{}]}}"#,
        event(
            "GetCallerIdentity",
            r#","someFieldFromTheFuture":{"nested":[1,2,3]}"#
        ),
        event("Huge", &huge),
        r#"{"eventName":"NoTime","eventSource":"sts.amazonaws.com"}"#,
        event("OddRegion", "").replace("us-east-1", "moon-base-alpha"),
    )
}

fn decode(
    key: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<trailhound_core::activity::Decoded, String> {
    let geo = Geo::none();
    let mut norm = Normalizer::new(&geo);
    let mut acts = Vec::new();
    let obj = ObjectRef::s3("archive", key, "etag");
    let r = decode_object(&obj, classify(key), bytes, limits, &mut norm, &mut acts);
    match r {
        Ok(d) => {
            assert_eq!(acts.len() as u64, d.records);
            Ok(d)
        }
        Err(e) => {
            assert!(acts.is_empty(), "a failed object leaves no activities");
            Err(e.to_string())
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn limits() -> Limits {
    Limits {
        max_object_bytes: 10 << 20,
        max_record_bytes: 64 << 10,
        ..Limits::default()
    }
}

#[test]
fn bad_records_are_counted_and_the_rest_decoded() {
    let d = decode(KEY, &gzip(good_file().as_bytes()), &limits()).unwrap();
    assert_eq!(
        d.records, 2,
        "the unknown-field record and the odd-region record are kept"
    );
    let want: std::collections::BTreeMap<_, _> =
        [(BadRecord::Oversized, 1), (BadRecord::MissingField, 1)]
            .into_iter()
            .collect();
    assert_eq!(d.bad, want);
    assert_eq!(d.odd.get("region"), Some(&1));
}

#[test]
fn truncated_gzip_is_an_object_error_naming_the_object() {
    let full = gzip(good_file().as_bytes());
    let cut = &full[..full.len() / 2];
    let err = decode(KEY, cut, &limits()).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "s3://archive/{KEY}: the gzip stream is corrupt or truncated ("
        )),
        "{err}"
    );
    assert!(
        err.ends_with(
            "the object was cut short or is not gzip: check the writer, then redeliver it"
        ),
        "{err}"
    );
}

#[test]
fn non_json_is_an_object_error() {
    let err = decode(KEY, &gzip(b"hello, I am not JSON"), &limits()).unwrap_err();
    assert_eq!(
        err,
        format!(
            "s3://archive/{KEY}: not JSON (starts with 'h'); expected a CloudTrail {{\"Records\":[...]}} file or JSON Lines of invocation logs"
        )
    );
}

#[test]
fn a_bomb_stops_at_the_cap() {
    let mut body = b"{\"Records\":[".to_vec();
    body.extend(std::iter::repeat_n(b' ', 50 << 20));
    let bomb = gzip(&body);
    assert!(
        bomb.len() < 200 << 10,
        "a small gzip ({} bytes)",
        bomb.len()
    );
    let err = decode(KEY, &bomb, &limits()).unwrap_err();
    assert_eq!(
        err,
        format!(
            "s3://archive/{KEY}: inflates past the cap of 10485760 bytes (a decompression bomb, or an unusually large log); raise --max-object-bytes if the object is genuine"
        )
    );
}

#[test]
fn zero_byte_and_truncated_json_objects() {
    assert_eq!(
        decode(KEY, b"", &limits()).unwrap().kind,
        Some(ObjectKind::Skipped(SkipReason::Empty))
    );
    let err = decode(KEY, br#"{"Records":[{"eventName":"A"},"#, &limits()).unwrap_err();
    assert!(
        err.contains("the JSON ends before the Records array closes"),
        "{err}"
    );
    let err = decode(KEY, br#"{"NotRecords":[]}"#, &limits()).unwrap_err();
    assert_eq!(
        err,
        format!("s3://archive/{KEY}: unexpected JSON layout: no \"Records\" array")
    );
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn a_replay_processes_everything_around_the_bad_objects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T00";
    write(
        d,
        &format!("{base}00Z_good.json.gz"),
        &gzip(good_file().as_bytes()),
    );
    let full = gzip(good_file().as_bytes());
    write(
        d,
        &format!("{base}05Z_truncated.json.gz"),
        &full[..full.len() / 2],
    );
    write(
        d,
        &format!("{base}10Z_notjson.json.gz"),
        &gzip(b"<html>nope</html>"),
    );
    let mut body = b"{\"Records\":[".to_vec();
    body.extend(std::iter::repeat_n(b' ', 50 << 20));
    write(d, &format!("{base}15Z_bomb.json.gz"), &gzip(&body));
    write(d, &format!("{base}20Z_empty.json.gz"), b"");
    write(
        d,
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/01/digest.json.gz",
        &gzip(b"{}"),
    );
    write(
        d,
        &format!("{base}25Z_good2.json.gz"),
        &gzip(good_file().as_bytes()),
    );
    let mut opts = common::options(&[d]);
    opts.limits = limits();
    let out = common::run(&opts);
    let s = &out.stats;
    let errors: Vec<(&str, u64)> = s.errors.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        errors,
        vec![("inflate", 1), ("not-json", 1), ("too-large", 1)]
    );
    assert_eq!(s.objects.get("cloudtrail"), Some(&2));
    assert_eq!(s.skipped.get("empty"), Some(&1));
    assert_eq!(s.skipped.get("cloudtrail-digest"), Some(&1));
    assert_eq!(s.records, 4);
    assert_eq!(s.bad_total(), 4);
}
