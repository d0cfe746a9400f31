//! A small synthetic archive (S3 layout, gzip CloudTrail) whose findings are known in kind:
//! an invoke spike updated by a later object, unusual-geo for one role then for twelve roles
//! in one object (more than one SNS batch), S3 data events on a training bucket, and
//! objects the pipeline skips (digest, zero bytes).

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";
/// 2026-10-01T00:00:00Z.
pub const T0: i64 = 1_790_812_800;
pub const US_IP: &str = "8.8.8.8";
pub const DE_IP: &str = "193.99.144.80";

pub struct Obj {
    pub key: String,
    pub body: Vec<u8>,
}

pub fn role_session(role: &str) -> (String, String) {
    (
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/i-0abc"),
        format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
    )
}

/// The entity key of a role of [`ACCOUNT`] (assumed-role sessions key on the role).
pub fn role_entity(role: &str) -> String {
    format!("p#arn:aws:iam::{ACCOUNT}:role/{role}")
}

/// One CloudTrail record by an assumed role.
pub fn record(
    t: i64,
    role: &str,
    ip: &str,
    source: &str,
    name: &str,
    params: Value,
    n: usize,
) -> Value {
    let (arn, role_arn) = role_session(role);
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "arn": arn, "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE", "principalId": "AROAEXAMPLE:i-0abc",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": ACCOUNT}}
        },
        "eventTime": trailhound_core::time::format(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "Boto3/1.34.0 md/Botocore#1.34.0",
        "requestParameters": params,
        "requestID": format!("req-{role}-{t}-{n}"),
        "eventID": format!("evt-{role}-{t}-{n}"),
        "recipientAccountId": ACCOUNT,
    })
}

/// `n` Bedrock InvokeModel calls spread over `minutes` from `start`.
pub fn invokes(start: i64, minutes: i64, n: usize, role: &str, ip: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let t = start + (i as i64 * minutes * 60) / n as i64;
            record(
                t,
                role,
                ip,
                "bedrock.amazonaws.com",
                "InvokeModel",
                json!({"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}),
                i,
            )
        })
        .collect()
}

pub fn ct_key(t: i64, suffix: &str) -> String {
    let s = trailhound_core::time::format(t);
    let (y, mo, d, h, mi) = (&s[0..4], &s[5..7], &s[8..10], &s[11..13], &s[14..16]);
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{y}/{mo}/{d}/{ACCOUNT}_CloudTrail_us-east-1_{y}{mo}{d}T{h}{mi}Z_{suffix}.json.gz"
    )
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn ct_object(t: i64, suffix: &str, records: Vec<Value>) -> Obj {
    Obj {
        key: ct_key(t, suffix),
        body: gzip(json!({ "Records": records }).to_string().as_bytes()),
    }
}

pub fn apps() -> Vec<String> {
    (0..12).map(|i| format!("app-{i:02}-role")).collect()
}

/// The synthetic archive, in key-time order.
pub fn archive() -> Vec<Obj> {
    let mut o1 = invokes(T0, 10, 40, "support-bot-role", US_IP);
    o1.extend(invokes(T0, 5, 3, "etl-role", US_IP));
    for (i, app) in apps().iter().enumerate() {
        o1.push(record(
            T0 + 60 + i as i64,
            app,
            US_IP,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            json!({}),
            i,
        ));
    }
    for (i, ev) in ["GetObject", "ListObjectsV2"].iter().enumerate() {
        o1.push(record(
            T0 + 120 + i as i64,
            "sagemaker-training-role",
            US_IP,
            "s3.amazonaws.com",
            ev,
            json!({"bucketName": "acme-fine-tune-data", "key": "sets/a.jsonl"}),
            i,
        ));
    }
    let mut o2 = invokes(T0 + 1800, 10, 600, "support-bot-role", US_IP);
    o2.extend(invokes(T0 + 1800, 5, 2, "etl-role", DE_IP));
    o2.push(record(
        T0 + 1900,
        "reporting-role",
        US_IP,
        "s3.amazonaws.com",
        "GetObject",
        json!({"bucketName": "acme-fine-tune-data", "key": "sets/a.jsonl"}),
        0,
    ));
    let mut o3 = invokes(T0 + 2460, 3, 30, "support-bot-role", US_IP);
    for (i, app) in apps().iter().enumerate() {
        o3.push(record(
            T0 + 3600 + i as i64,
            app,
            DE_IP,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            json!({}),
            i,
        ));
    }
    vec![
        ct_object(T0 + 600, "aaaa1111", o1),
        ct_object(T0 + 2400, "bbbb2222", o2),
        ct_object(T0 + 3900, "cccc3333", o3),
        Obj {
            key: format!(
                "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/10/01/{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261001T010000Z.json.gz"
            ),
            body: gzip(b"{\"awsAccountId\":\"111122223333\"}"),
        },
        Obj {
            key: ct_key(T0 + 4200, "empty000"),
            body: Vec::new(),
        },
    ]
}

/// Writes objects under `dir` at their keys.
pub fn write_dir(objs: &[Obj], dir: &Path) {
    for o in objs {
        let p = dir.join(&o.key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &o.body).unwrap();
    }
}
