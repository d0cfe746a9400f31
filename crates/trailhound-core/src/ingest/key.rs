//! What an object is, judged from its key: a CloudTrail file, a Bedrock invocation log,
//! one of the kinds we skip on purpose, or something the content must tell.

use std::fmt;

/// The kind of a log object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    CloudTrail,
    Invocation,
    /// Neither key nor extension says; the first bytes decide.
    Unknown,
    Skipped(SkipReason),
}

impl ObjectKind {
    /// A short stable name, used as a counter label.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::CloudTrail => "cloudtrail",
            ObjectKind::Invocation => "invocation",
            ObjectKind::Unknown => "unknown",
            ObjectKind::Skipped(r) => r.as_str(),
        }
    }
}

/// Objects that are expected in a log archive and deliberately not analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    Digest,
    Insight,
    LargeBody,
    PermissionCheck,
    Empty,
    /// Some other service's logs (e.g. Config, VPC flow logs) under `AWSLogs/`.
    OtherService,
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    TestEvent,
    /// An S3/SQS/SNS/EventBridge notification saved as an object: a pointer to logs, not logs.
    Envelope,
    /// trailhound's own findings (`replay --format jsonl` output) saved next to the logs.
    Findings,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Digest => "cloudtrail-digest",
            SkipReason::Insight => "cloudtrail-insight",
            SkipReason::LargeBody => "bedrock-large-body",
            SkipReason::PermissionCheck => "bedrock-permission-check",
            SkipReason::Empty => "empty",
            SkipReason::OtherService => "other-service",
            SkipReason::TestEvent => "s3-test-event",
            SkipReason::Envelope => "event-envelope",
            SkipReason::Findings => "trailhound-findings",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an S3 key (or a local path laid out like one).
pub fn classify(key: &str) -> ObjectKind {
    if key.contains("/CloudTrail-Digest/") {
        return ObjectKind::Skipped(SkipReason::Digest);
    }
    if key.contains("/CloudTrail-Insight/") {
        return ObjectKind::Skipped(SkipReason::Insight);
    }
    if key.ends_with("amazon-bedrock-logs-permission-check") {
        return ObjectKind::Skipped(SkipReason::PermissionCheck);
    }
    if key.contains("/BedrockModelInvocationLogs/") {
        if key.contains("/data/") {
            return ObjectKind::Skipped(SkipReason::LargeBody);
        }
        return ObjectKind::Invocation;
    }
    if key.contains("/CloudTrail/") {
        return ObjectKind::CloudTrail;
    }
    if key.contains("AWSLogs/") {
        // AWSLogs/<acct>/<Service>/...: a service we do not read (Config, vpcflowlogs, elasticloadbalancing).
        let known = ["/CloudTrail", "/BedrockModelInvocationLogs"];
        if !known.iter().any(|k| key.contains(k)) && has_service_segment(key) {
            return ObjectKind::Skipped(SkipReason::OtherService);
        }
    }
    ObjectKind::Unknown
}

fn has_service_segment(key: &str) -> bool {
    let Some(rest) = key.split("AWSLogs/").nth(1) else {
        return false;
    };
    let mut parts = rest.split('/');
    let mut first = parts.next().unwrap_or("");
    if first.starts_with("o-") {
        first = parts.next().unwrap_or("");
    }
    let service = parts.next().unwrap_or("");
    first.len() >= 12
        && first.bytes().all(|b| b.is_ascii_digit())
        && !service.is_empty()
        && parts.next().is_some()
}

/// The delivery time written in the key, in Unix seconds: the `YYYYMMDDTHHmm[ss]Z` stamp of the file
/// name, else the `/YYYY/MM/DD/[HH/]` folders. Replay orders objects by it.
pub fn key_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let b = name.as_bytes();
    for i in 0..b.len().saturating_sub(13) {
        if b[i + 8] != b'T' || !b[i..i + 8].iter().all(u8::is_ascii_digit) {
            continue;
        }
        let digits = b[i + 9..].iter().take_while(|c| c.is_ascii_digit()).count();
        if (digits == 4 || digits == 6) && b.get(i + 9 + digits) == Some(&b'Z') {
            let s = &name[i..i + 9 + digits];
            let sec = if digits == 6 { &s[13..15] } else { "00" };
            let iso = format!(
                "{}-{}-{}T{}:{}:{}Z",
                &s[0..4],
                &s[4..6],
                &s[6..8],
                &s[9..11],
                &s[11..13],
                sec
            );
            if let Some(t) = crate::time::parse(&iso) {
                return Some(t);
            }
        }
    }
    // Folder stamp: .../YYYY/MM/DD[/HH]/
    let segs: Vec<&str> = key.split('/').collect();
    for w in (0..segs.len().saturating_sub(3)).rev() {
        let (y, m, d) = (segs[w], segs[w + 1], segs[w + 2]);
        if y.len() == 4
            && m.len() == 2
            && d.len() == 2
            && [y, m, d]
                .iter()
                .all(|s| s.bytes().all(|c| c.is_ascii_digit()))
        {
            let h = segs
                .get(w + 3)
                .filter(|h| h.len() == 2 && h.bytes().all(|c| c.is_ascii_digit()))
                .copied()
                .unwrap_or("00");
            return crate::time::parse(&format!("{y}-{m}-{d}T{h}:00:00Z"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_archive_keys() {
        let ct = "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0105Z_abcdefgh12345678.json.gz";
        assert_eq!(classify(ct), ObjectKind::CloudTrail);
        assert_eq!(key_time(ct), crate::time::parse("2026-10-01T01:05:00Z"));
        let inv = "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/10/01/03/20261001T031500Z_0123456789abcdef.json.gz";
        assert_eq!(classify(inv), ObjectKind::Invocation);
        assert_eq!(key_time(inv), crate::time::parse("2026-10-01T03:15:00Z"));
        assert_eq!(
            classify(
                "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/10/01/03/data/abc.json.gz"
            ),
            ObjectKind::Skipped(SkipReason::LargeBody)
        );
        assert_eq!(
            classify(
                "AWSLogs/111122223333/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check"
            ),
            ObjectKind::Skipped(SkipReason::PermissionCheck)
        );
        assert_eq!(
            classify("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/01/x.json.gz"),
            ObjectKind::Skipped(SkipReason::Digest)
        );
        assert_eq!(
            classify("AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/10/01/x.log.gz"),
            ObjectKind::Skipped(SkipReason::OtherService)
        );
        assert_eq!(classify("exports/events.json"), ObjectKind::Unknown);
        assert_eq!(
            key_time("logs/2026/10/02/x.json"),
            crate::time::parse("2026-10-02T00:00:00Z")
        );
        assert_eq!(key_time("x.json"), None);
    }
}
