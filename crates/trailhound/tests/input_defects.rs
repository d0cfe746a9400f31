//! Regression tests for four input defects: content sniffing that let a caller hide the
//! object recording its own calls, a 5-byte object that spun forever, nested wrappers that
//! overflowed the stack, and a secret scan quadratic on runs of a secret prefix.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use trailhound_core::activity::{Activity, Decoded, Normalizer, decode_object};
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectKind, ObjectRef, SkipReason, classify};
use trailhound_core::record::content::{ContentFlags, scan};
use trailhound_core::record::{BadRecord, Limits};

const CT_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/09/111122223333_CloudTrail_us-east-1_20261009T0300Z_abc.json.gz";
const INV_KEY: &str = "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/10/09/03/20261009T030000Z_abc.json.gz";
const UNKNOWN_KEY: &str = "exports/2026-10-09/events.jsonl";

/// Every sniffer string of the old decoder, as a caller can put it in a user agent, an S3
/// key, a model id or a prompt.
const LURE: &str = r#"s3:TestEvent "digestStartTime" aws:s3 "Type":"Notification""#;

fn decode_with(
    key: &str,
    bytes: &[u8],
    limits: &Limits,
) -> (Result<Decoded, String>, Vec<Activity>) {
    let geo = Geo::none();
    let mut norm = Normalizer::new(&geo);
    let mut acts = Vec::new();
    let obj = ObjectRef::s3("archive", key, "etag");
    let r = decode_object(&obj, classify(key), bytes, limits, &mut norm, &mut acts);
    match r {
        Ok(d) => {
            assert_eq!(acts.len() as u64, d.records, "{key}");
            (Ok(d), acts)
        }
        Err(e) => {
            assert!(acts.is_empty(), "a failed object leaves no activities");
            (Err(e.to_string()), acts)
        }
    }
}

fn decode(key: &str, bytes: &[u8]) -> (Decoded, Vec<Activity>) {
    let (d, acts) = decode_with(key, bytes, &Limits::default());
    (d.unwrap_or_else(|e| panic!("{key}: {e}")), acts)
}

fn bad(pairs: &[(BadRecord, u64)]) -> BTreeMap<BadRecord, u64> {
    pairs.iter().copied().collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A CloudTrail event with the given user agent and raw `requestParameters` JSON.
fn ct_event(name: &str, user_agent: &str, params: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE"}},"eventTime":"2026-10-09T03:00:00Z","eventSource":"s3.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":{ua},"requestParameters":{params},"requestID":"r-{name}","eventID":"e-{name}","recipientAccountId":"111122223333"}}"#,
        ua = json_str(user_agent)
    )
}

/// An invocation log record with the given model id and raw `inputBodyJson`.
fn inv_record(id: &str, model: &str, body: &str) -> String {
    format!(
        r#"{{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"2026-10-09T03:00:00Z","accountId":"111122223333","identity":{{"arn":"arn:aws:iam::111122223333:user/mallory"}},"region":"us-east-1","requestId":"{id}","operation":"InvokeModel","modelId":{model},"input":{{"inputContentType":"application/json","inputBodyJson":{body},"inputTokenCount":10}},"output":{{"outputContentType":"application/json","outputBodyJson":{{"text":"ok"}},"outputTokenCount":2}}}}"#,
        model = json_str(model)
    )
}

/// Request parameters whose keys (not only values) are the sniffer strings: map keys such as
/// tags are the caller's, and they appear unescaped in the bytes.
fn lure_params() -> String {
    format!(
        r#"{{"bucketName":"b","key":{key},"tags":{{"Event":"s3:TestEvent","digestStartTime":"x","Type":"Notification","Message":"m","eventSource":"aws:s3","s3":{{}},"schemaType":"x"}}}}"#,
        key = json_str(LURE)
    )
}

// --- 1. Content sniffing ------------------------------------------------------------------

#[test]
fn cloudtrail_key_with_sniffer_strings_in_the_records_is_decoded() {
    let events = [
        ct_event("GetObject", LURE, &lure_params()),
        ct_event(
            "PutObject",
            "aws:s3",
            r#"{"bucketName":"b","key":"s3:TestEvent"}"#,
        ),
        ct_event(
            "DeleteObject",
            r#"{"Event":"s3:TestEvent"}"#,
            r#"{"bucketName":"b","key":"k"}"#,
        ),
    ];
    let body = format!(r#"{{"Records":[{}]}}"#, events.join(","));
    for bytes in [body.as_bytes().to_vec(), gzip(body.as_bytes())] {
        let (d, acts) = decode(CT_KEY, &bytes);
        assert_eq!(d.kind, Some(ObjectKind::CloudTrail));
        assert_eq!((d.records, d.bad_total()), (3, 0));
        assert_eq!(acts[0].user_agent.as_deref(), Some(LURE));
        assert_eq!(acts[1].user_agent.as_deref(), Some("aws:s3"));
    }
    // The same records in JSON Lines under a key that says nothing: decided by structure.
    let lines = events.join("\n");
    let (d, _) = decode(UNKNOWN_KEY, lines.as_bytes());
    assert_eq!(d.kind, Some(ObjectKind::CloudTrail));
    assert_eq!((d.records, d.bad_total()), (3, 0));
    let (d, _) = decode(UNKNOWN_KEY, body.as_bytes());
    assert_eq!(d.kind, Some(ObjectKind::CloudTrail));
    assert_eq!((d.records, d.bad_total()), (3, 0));
}

#[test]
fn invocation_key_with_sniffer_strings_in_model_id_and_prompt_is_decoded() {
    let prompt = format!(
        r#"{{"Event":"s3:TestEvent","digestStartTime":"x","Type":"Notification","Message":"m","Records":[{{"eventSource":"aws:s3","s3":{{}}}}],"prompt":{lure}}}"#,
        lure = json_str(LURE)
    );
    let records = [
        inv_record("r-1", LURE, &prompt),
        inv_record("r-2", "aws:s3", r#"{"prompt":"s3:TestEvent"}"#),
        inv_record("r-3", "anthropic.claude-3-haiku", &prompt),
    ];
    let body = records.join("\n") + "\n";
    for bytes in [body.as_bytes().to_vec(), gzip(body.as_bytes())] {
        let (d, acts) = decode(INV_KEY, &bytes);
        assert_eq!(d.kind, Some(ObjectKind::Invocation));
        assert_eq!((d.records, d.bad_total()), (3, 0));
        assert_eq!(acts[0].model_id.as_deref(), Some(LURE));
    }
    let (d, _) = decode(UNKNOWN_KEY, body.as_bytes());
    assert_eq!(d.kind, Some(ObjectKind::Invocation));
    assert_eq!((d.records, d.bad_total()), (3, 0));
}

#[test]
fn notifications_digests_and_test_events_under_unknown_keys_are_still_skipped() {
    let skipped = |bytes: &str| decode(UNKNOWN_KEY, bytes.as_bytes()).0.skipped();
    assert_eq!(
        skipped(
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-10-09T03:00:00Z","Bucket":"b","RequestId":"r","HostId":"h"}"#
        ),
        Some(SkipReason::TestEvent)
    );
    assert_eq!(
        skipped(
            r#"{"awsAccountId":"111122223333","digestStartTime":"2026-10-09T02:00:00Z","digestEndTime":"2026-10-09T03:00:00Z","logFiles":[]}"#
        ),
        Some(SkipReason::Digest)
    );
    assert_eq!(
        skipped(
            r#"{"Type" : "Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:111122223333:t","Message":"{\"Records\":[]}"}"#
        ),
        Some(SkipReason::Envelope)
    );
    assert_eq!(
        skipped(
            r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2026-10-09T03:00:00Z","region":"us-east-1","resources":[],"detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#
        ),
        Some(SkipReason::Envelope)
    );
    assert_eq!(
        skipped(
            r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-10-09T03:00:00Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#
        ),
        Some(SkipReason::Envelope)
    );
    // EventBridge's "AWS API Call via CloudTrail" for S3 carries a CloudTrail event: read it.
    let via_eventbridge = format!(
        r#"{{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-10-09T03:00:00Z","region":"us-east-1","resources":[],"detail":{}}}"#,
        ct_event("PutBucketPolicy", "aws-cli/2", r#"{"bucketName":"b"}"#)
    );
    let (d, acts) = decode(UNKNOWN_KEY, via_eventbridge.as_bytes());
    assert_eq!((d.skipped(), d.records), (None, 1));
    assert_eq!(&*acts[0].event_name, "PutBucketPolicy");
}

#[test]
fn under_a_log_key_a_notification_is_read_not_skipped() {
    // Under a CloudTrail key content never decides a skip: an S3 notification batch there is
    // read as a Records document, a test event is an object error, both counted and logged.
    let batch = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-10-09T03:00:00Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:X"},"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
    let (d, _) = decode(CT_KEY, batch.as_bytes());
    assert_eq!((d.kind, d.records), (Some(ObjectKind::CloudTrail), 1));
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-10-09T03:00:00Z","Bucket":"b"}"#;
    let (r, _) = decode_with(CT_KEY, test_event.as_bytes(), &Limits::default());
    assert_eq!(
        r.unwrap_err(),
        format!("s3://archive/{CT_KEY}: unexpected JSON layout: no \"Records\" array")
    );
    let (d, _) = decode(INV_KEY, test_event.as_bytes());
    assert_eq!(d.kind, Some(ObjectKind::Invocation));
    assert_eq!(
        (d.records, d.bad),
        (0, bad(&[(BadRecord::MissingField, 1)]))
    );
}

// --- 2. Progress on every input -----------------------------------------------------------

#[test]
fn five_byte_object_returns_with_exact_counts() {
    let (d, acts) = decode(INV_KEY, b"{\n}\n,");
    assert_eq!(d.kind, Some(ObjectKind::Invocation));
    assert!(acts.is_empty());
    // `{}` lacks every field; the stray `,` is not JSON.
    assert_eq!(
        d.bad,
        bad(&[(BadRecord::NotJson, 1), (BadRecord::MissingField, 1)])
    );
    assert_eq!(d.inflated_bytes, 5);
    let (d, _) = decode(INV_KEY, &gzip(b"{\n}\n,"));
    assert_eq!(
        d.bad,
        bad(&[(BadRecord::NotJson, 1), (BadRecord::MissingField, 1)])
    );
    let (d, _) = decode(UNKNOWN_KEY, b"{\n}\n,");
    assert_eq!(
        d.bad,
        bad(&[(BadRecord::NotJson, 1), (BadRecord::MissingField, 1)])
    );
    // A good record around a run of stray separators: one bad record for the run.
    let rec = inv_record("r-1", "m", r#"{"p":1}"#);
    let pretty = format!("{}\n,,]}}\n}}\n{}", rec.replace(",\"", ",\n\""), rec);
    let (d, _) = decode(INV_KEY, pretty.as_bytes());
    assert_eq!((d.records, d.bad), (2, bad(&[(BadRecord::NotJson, 1)])));
}

/// xorshift64*: a fixed sequence, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn short_adversarial_inputs_all_return() {
    const ALPHABET: &[u8] = b"{},\n\"[]\\";
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    // Every string of up to three bytes over the alphabet (584 of them)…
    let mut layer: Vec<Vec<u8>> = vec![Vec::new()];
    for _ in 0..3 {
        layer = layer
            .iter()
            .flat_map(|p| {
                ALPHABET.iter().map(move |&c| {
                    let mut v = p.clone();
                    v.push(c);
                    v
                })
            })
            .collect();
        inputs.extend(layer.iter().cloned());
    }
    // …and a few hundred longer ones, with scalars, keys and record fragments mixed in.
    let pieces: [&[u8]; 16] = [
        b"{",
        b"}",
        b",",
        b"\n",
        b"\"",
        b"[",
        b"]",
        b"\\",
        b":",
        b" ",
        b"1",
        b"\"Records\"",
        b"\"event\":",
        b"\"schemaType\"",
        b"{\"Records\":[",
        b"\xEF\xBB\xBF",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let exhaustive = inputs.len();
    for _ in 0..300 {
        let n = 1 + (rng.next() % 24) as usize;
        let mut v = Vec::new();
        for _ in 0..n {
            v.extend_from_slice(pieces[(rng.next() % pieces.len() as u64) as usize]);
        }
        inputs.push(v);
    }
    let tiny = Limits {
        max_object_bytes: 1 << 20,
        max_record_bytes: 8,
        ..Limits::default()
    };
    let mut returned = 0;
    for (n, input) in inputs.iter().enumerate() {
        for key in [INV_KEY, CT_KEY, UNKNOWN_KEY] {
            // (Each decode zero-fills a 256 KiB read buffer, slow in a debug build.)
            let all_limits = [Limits::default(), tiny];
            let limits = if n < exhaustive {
                &all_limits[..1]
            } else {
                &all_limits[..]
            };
            for limits in limits {
                // Returning (Ok or a counted object error) is the point; the helper also
                // checks that a failed object leaves no activities.
                let _ = decode_with(key, input, limits);
                returned += 1;
            }
        }
    }
    assert_eq!(returned, exhaustive * 3 + (inputs.len() - exhaustive) * 6);
}

// --- 3. Nesting ---------------------------------------------------------------------------

fn wrapped(inner: &str, levels: usize) -> String {
    let mut s = String::with_capacity(inner.len() + levels * 11);
    for _ in 0..levels {
        s.push_str(r#"{"event":"#);
    }
    s.push_str(inner);
    s.extend(std::iter::repeat_n('}', levels));
    s
}

#[test]
fn wrapper_nested_100k_levels_is_one_bad_record() {
    let ct = ct_event("GetObject", "aws-cli/2", r#"{"bucketName":"b","key":"k"}"#);
    let inv = inv_record("r-1", "m", r#"{"p":1}"#);
    for (key, rec, kind) in [
        (UNKNOWN_KEY, &ct, ObjectKind::CloudTrail),
        (INV_KEY, &inv, ObjectKind::Invocation),
    ] {
        // The deep one in the middle, and first (where the sniffer reads it too).
        let middle = format!("{rec}\n{}\n{rec}\n", wrapped(rec, 100_000));
        let first = format!("{}\n{rec}\n{rec}\n", wrapped(rec, 100_000));
        for body in [middle, first] {
            let (d, acts) = decode(key, body.as_bytes());
            assert_eq!(d.kind, Some(kind), "{key}");
            assert_eq!(
                (d.records, d.bad),
                (2, bad(&[(BadRecord::WrongSchema, 1)])),
                "{key}"
            );
            assert_eq!(acts.len(), 2);
        }
    }
}

#[test]
fn wrappers_unwrap_up_to_four_levels() {
    let ct = ct_event("GetObject", "aws-cli/2", r#"{"bucketName":"b","key":"k"}"#);
    let inv = inv_record("r-1", "m", r#"{"p":1}"#);
    for rec in [&ct, &inv] {
        let body = (0..=10)
            .map(|n| wrapped(rec, n))
            .collect::<Vec<_>>()
            .join("\n");
        for key in [UNKNOWN_KEY, INV_KEY] {
            let (d, _) = decode(key, body.as_bytes());
            assert_eq!(
                (d.records, d.bad),
                (5, bad(&[(BadRecord::WrongSchema, 6)])),
                "{key}"
            );
        }
    }
}

#[test]
fn deeply_nested_values_inside_valid_records_are_bad_records() {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = wrapped("1", 100_000).replace("\"event\"", "\"x\"");
    let ok = ct_event("GetObject", "aws-cli/2", r#"{"bucketName":"b","key":"k"}"#);
    for deep in [&deep_array, &deep_object] {
        // Kept raw (`requestParameters`) and skipped unread (an unknown field).
        let raw = ct_event("PutObject", "aws-cli/2", deep);
        let ignored = ok.replacen('{', &format!(r#"{{"futureField":{deep},"#), 1);
        let body = format!(r#"{{"Records":[{ok},{raw},{ok},{ignored},{ok}]}}"#);
        let (d, _) = decode(CT_KEY, body.as_bytes());
        assert_eq!((d.records, d.bad), (3, bad(&[(BadRecord::WrongSchema, 2)])));
        let (d, _) = decode(UNKNOWN_KEY, format!("{ok}\n{raw}\n{ignored}\n").as_bytes());
        assert_eq!((d.records, d.bad), (1, bad(&[(BadRecord::WrongSchema, 2)])));
        // In an invocation record: the prompt body is a RawValue.
        let inv = inv_record("r-1", "m", r#"{"p":1}"#);
        let deep_inv = inv_record("r-2", "m", deep);
        let (d, _) = decode(INV_KEY, format!("{inv}\n{deep_inv}\n{inv}\n").as_bytes());
        assert_eq!((d.records, d.bad), (2, bad(&[(BadRecord::WrongSchema, 1)])));
    }
    // Up to 128 levels (serde_json's own limit for the values it builds) a record is read.
    let nested = |arrays: usize| {
        let rec = ct_event(
            "PutObject",
            "aws-cli/2",
            &format!("{}{}", "[".repeat(arrays), "]".repeat(arrays)),
        );
        decode(CT_KEY, format!(r#"{{"Records":[{rec}]}}"#).as_bytes()).0
    };
    let d = nested(127);
    assert_eq!((d.records, d.bad_total()), (1, 0));
    let d = nested(128);
    assert_eq!((d.records, d.bad), (0, bad(&[(BadRecord::WrongSchema, 1)])));
}

// --- 4. Secret scan -----------------------------------------------------------------------

fn timed_scan(body: &[u8]) -> (ContentFlags, Duration) {
    let mut f = ContentFlags::default();
    let t = Instant::now();
    scan(body, &mut f);
    (f, t.elapsed())
}

#[test]
fn secret_scan_is_linear_on_runs_of_a_prefix() {
    const SIZE: usize = 4 << 20;
    let run = |unit: &str| unit.repeat(SIZE / unit.len());
    for (lead, unit, want) in [
        // After a token character no occurrence in the run is on a boundary: the old scan
        // measured the rest of the run from every one of them (4 MB: hours).
        ("x", "sk-", None),
        ("x", "ghp_", None),
        ("x", "xoxb-", None),
        ("x", "AKIA", None),
        ("x", "ASIA", None),
        // On a boundary the run is one (absurd) token that starts with the prefix.
        // (Masks keep four characters at each end and at most 32 stars.)
        (
            "",
            "sk-",
            Some(("openai-key", "sk-s********************************-sk-")),
        ),
        (
            "",
            "ghp_",
            Some(("github-token", "ghp_********************************ghp_")),
        ),
        (
            "",
            "xoxb-",
            Some(("slack-token", "xoxb********************************oxb-")),
        ),
        ("", "AKIA", None),
        // Many short candidates, each on a boundary.
        ("", "sk- ", None),
        ("", "AKIA ", None),
    ] {
        let body = format!(r#"{{"prompt":"{lead}{}"}}"#, run(unit));
        let (f, took) = timed_scan(body.as_bytes());
        assert!(took < Duration::from_secs(30), "{lead}{unit:?}: {took:?}");
        assert_eq!(
            f.secret,
            want.map(|(k, m)| (k, m.to_string())),
            "{lead}{unit:?}"
        );
    }
    // Real secrets after the runs are still found and masked.
    let body = format!(
        r#"{{"prompt":"x{} x{} key AKIAR7K2M4QQJV5SXE3D"}}"#,
        run("AKIA"),
        run("sk-")
    );
    let (f, took) = timed_scan(body.as_bytes());
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        f.secret,
        Some(("aws-access-key-id", "AKIA************XE3D".to_string()))
    );
    let body = format!(
        r#"{{"prompt":"x{} sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"}}"#,
        run("sk-")
    );
    let (f, took) = timed_scan(body.as_bytes());
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        f.secret,
        Some((
            "openai-key",
            "sk-p********************************6789".to_string()
        ))
    );
}

#[test]
fn a_4mb_prompt_of_a_secret_prefix_decodes_quickly() {
    for (unit, secret) in [("sk-", None), ("AKIA", None), ("sk-", Some("openai-key"))] {
        let lead = if secret.is_some() { "" } else { "x" };
        let prompt = format!(
            r#"{{"prompt":"{lead}{}"}}"#,
            unit.repeat((4 << 20) / unit.len())
        );
        let body = format!("{}\n", inv_record("r-1", "m", &prompt));
        let t = Instant::now();
        let (d, acts) = decode(INV_KEY, body.as_bytes());
        let took = t.elapsed();
        assert!(took < Duration::from_secs(30), "{unit}: {took:?}");
        assert_eq!((d.records, d.bad_total()), (1, 0));
        // The kind names the side: `openai-key@prompt`.
        assert_eq!(
            acts[0]
                .secret
                .as_ref()
                .map(|s| trailhound_core::record::content::split_kind(s.0).0),
            secret
        );
    }
}
