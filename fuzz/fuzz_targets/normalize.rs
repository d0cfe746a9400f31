//! Normalize: principal keys and types from ARNs, times, addresses; then one CloudTrail
//! record built around the fuzzed strings, decoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use trailhound_core::activity::{principal_key, principal_key_for, principal_name, principal_type};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.splitn(4, '\u{1}');
    let (arn, time, ip, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let key = principal_key(arn);
    let _ = principal_key_for(arn, true);
    let _ = principal_type(arn);
    let _ = principal_name(&key);
    if let Some(t) = trailhound_core::time::parse(time) {
        let _ = trailhound_core::time::format(t);
    }
    let _ = trailhound_core::time::parse_duration(rest);
    let record = serde_json::json!({"Records": [{
        "eventVersion": "1.09",
        "eventTime": time,
        "eventSource": "bedrock.amazonaws.com",
        "eventName": "InvokeModel",
        "awsRegion": rest,
        "sourceIPAddress": ip,
        "userAgent": rest,
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "AssumedRole", "arn": arn, "accountId": "111122223333"},
        "requestParameters": {"modelId": rest},
    }]});
    trailhound_fuzz::decode_and_detect(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/x_CloudTrail_us-east-1_20261001T0105Z_n.json",
        record.to_string().as_bytes(),
    );
});
