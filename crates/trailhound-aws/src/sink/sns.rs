//! The SNS sink: `PublishBatch` in chunks of at most 10 entries and 256 KiB, each message
//! with `MessageStructure=json` (the finding JSON as `default`, readable text for `email`),
//! a subject under 100 characters (`[High] invoke-spike: ` and the detector file's `subject`
//! template as rendered into the finding), and the attributes subscriptions filter on:
//! `severity` (Number), `severity_label`, `detector`, `account`.
//!
//! With [`SnsFormat::Chatbot`] the `default` message is the custom notification of Amazon Q
//! Developer in chat applications ([`super::chatbot`]), which its HTTPS subscription reads,
//! and the finding JSON goes to the `sqs` and `lambda` keys, so queue and function
//! subscribers still receive findings.
//!
//! Size: SNS counts the final message (the JSON-in-JSON body after escaping, which grows
//! with every quote in the finding), the subject and the attributes against 256 KiB. The
//! body is measured as sent, and when it is over, the finding's evidence is shortened
//! ([`super::fit`]) until it fits. The email text is bounded ([`MAX_EMAIL`]); attribute
//! values are cleaned of control characters and bounded ([`MAX_ATTRIBUTE`]).

use std::collections::HashMap;

use aws_sdk_sns::Client;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use trailhound_core::alert::{Finding, render};

use super::fit::{bound, clean, fit};

/// SNS limits: entries per `PublishBatch`, bytes per message and per batch.
pub const MAX_BATCH: usize = 10;
pub const MAX_BYTES: usize = 256 * 1024;
/// The email text's bound (bytes).
pub const MAX_EMAIL: usize = 32 * 1024;
/// An attribute value's bound (bytes).
pub const MAX_ATTRIBUTE: usize = 256;
/// Room kept under [`MAX_BYTES`] for SNS's own accounting.
const SLACK: usize = 512;

/// The shape of SNS messages (`TRAILHOUND_SNS_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnsFormat {
    /// `default`: the finding JSON; `email`: readable text.
    #[default]
    Default,
    /// `default`: the Amazon Q Developer in chat applications custom notification;
    /// `sqs` and `lambda`: the finding JSON; `email`: readable text.
    Chatbot,
}

/// What SNS did with one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Finding ids SNS accepted.
    pub accepted: Vec<String>,
    /// Finding ids SNS refused, with the reason.
    pub failed: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
}

/// One SNS message for a finding, and its size as SNS counts it (body + subject + attributes).
pub struct Message {
    pub id: String,
    pub entry: PublishBatchRequestEntry,
    pub bytes: usize,
}

fn attr(data_type: &str, v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(v)
        .build()
        .expect("data type is set")
}

/// The readable email text, at most [`MAX_EMAIL`] bytes: the full text, or without the
/// evidence when that is too long.
pub fn email_text(f: &Finding) -> String {
    let full = render::email(f);
    if full.len() <= MAX_EMAIL {
        return full;
    }
    let short = format!(
        "{}\n\n{}\n\nSeverity {} ({:.1}), detector {}, principal {}, finding id {}.\nThe evidence is too large for email: subscribe with email-json or SQS for the full finding.\n",
        f.title, f.description, f.severity_label, f.severity, f.detector, f.principal, f.id
    );
    bound(&short, MAX_EMAIL, "\n[cut]\n")
}

/// The `MessageStructure=json` body in the default format.
pub fn body(f: &Finding) -> String {
    body_as(f, SnsFormat::Default)
}

/// The `MessageStructure=json` body.
pub fn body_as(f: &Finding, format: SnsFormat) -> String {
    let json = serde_json::to_string(f).expect("a finding always serializes");
    let email = email_text(f);
    match format {
        SnsFormat::Default => serde_json::json!({ "default": json, "email": email }),
        SnsFormat::Chatbot => {
            let chat = super::chatbot::notification(f).to_string();
            serde_json::json!({ "default": chat, "sqs": json, "lambda": json, "email": email })
        }
    }
    .to_string()
}

/// The attributes subscriptions filter on: cleaned, bounded, empty ones left out.
fn attributes(f: &Finding) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if f.severity.is_finite() {
        out.push(("severity", "Number", format!("{}", f.severity)));
    }
    for (name, v) in [
        ("severity_label", &f.severity_label),
        ("detector", &f.detector),
        ("account", &f.account),
    ] {
        let v = clean(v, MAX_ATTRIBUTE);
        if !v.trim().is_empty() {
            out.push((name, "String", v));
        }
    }
    out
}

/// The message for one finding in the default format.
pub fn message(f: &Finding) -> Message {
    message_as(f, SnsFormat::Default)
}

/// The message for one finding: measured as SNS counts it, and fitted under [`MAX_BYTES`].
pub fn message_as(f: &Finding, format: SnsFormat) -> Message {
    let subject = render::subject(f);
    let attrs = attributes(f);
    let fixed = subject.len()
        + attrs
            .iter()
            .map(|(n, t, v)| n.len() + t.len() + v.len())
            .sum::<usize>();
    let budget = MAX_BYTES - SLACK - fixed;
    let fitted = fit(f, budget, |g| body_as(g, format).len());
    let text = body_as(&fitted, format);
    let bytes = fixed + text.len();
    let map: HashMap<String, MessageAttributeValue> = attrs
        .iter()
        .map(|(n, t, v)| (n.to_string(), attr(t, v)))
        .collect();
    let entry = PublishBatchRequestEntry::builder()
        .id(&f.id)
        .message(text)
        .message_structure("json")
        .subject(subject)
        .set_message_attributes(Some(map))
        .build()
        .expect("id and message are set");
    Message {
        id: f.id.clone(),
        entry,
        bytes,
    }
}

/// Splits messages into batches of at most [`MAX_BATCH`] entries and [`MAX_BYTES`] in all.
pub fn batches(messages: Vec<Message>) -> Vec<Vec<Message>> {
    let mut out: Vec<Vec<Message>> = Vec::new();
    let mut size = 0;
    for m in messages {
        let full = out
            .last()
            .is_none_or(|b| b.len() >= MAX_BATCH || size + m.bytes > MAX_BYTES);
        if full {
            out.push(Vec::new());
            size = 0;
        }
        size += m.bytes;
        out.last_mut().expect("just pushed").push(m);
    }
    out
}

impl SnsSink {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsSink {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes one batch. An error means SNS took none of it; otherwise the outcome says
    /// which entries it accepted.
    pub async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome> {
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let entries: Vec<PublishBatchRequestEntry> = batch.into_iter().map(|m| m.entry).collect();
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                let hint = match e.code() {
                    Some("NotFound") => {
                        "; the topic does not exist: check TRAILHOUND_TOPIC_ARN and the deploy stack"
                    }
                    Some("AuthorizationError") => {
                        "; allow sns:Publish on the topic in the function's role"
                    }
                    Some(c) if c.starts_with("KMS") => {
                        "; allow kms:GenerateDataKey and kms:Decrypt on the topic's key in the function's role"
                    }
                    _ => "; the event will be retried",
                };
                anyhow::anyhow!(
                    "SNS PublishBatch to {} failed for {} findings: {}{hint}",
                    self.topic_arn,
                    ids.len(),
                    DisplayErrorContext(&e)
                )
            })?;
        let mut outcome = BatchOutcome::default();
        for s in out.successful() {
            if let Some(id) = s.id() {
                outcome.accepted.push(id.to_string());
            }
        }
        for f in out.failed() {
            outcome.failed.push((
                f.id().to_string(),
                format!("{}: {}", f.code(), f.message().unwrap_or("")),
            ));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn finding(id: &str, evidence_bytes: usize) -> Finding {
        let mut evidence = serde_json::Map::new();
        evidence.insert("blob".into(), serde_json::json!("x".repeat(evidence_bytes)));
        evidence.insert("ratio".into(), serde_json::json!(41.0));
        Finding {
            schema_version: 1,
            id: id.into(),
            detector: "invoke-spike".into(),
            finding_type: "Impact:Bedrock/InvokeModelSpike".into(),
            severity: 7.5,
            severity_label: "High".into(),
            title: "t".into(),
            description: "d".into(),
            subject: "support-bot-role 41x usual Bedrock calls".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            principal: "arn:aws:sts::111122223333:assumed-role/support-bot-role/s".into(),
            principal_key: "arn:aws:iam::111122223333:role/support-bot-role".into(),
            principal_type: "AssumedRole".into(),
            first_seen: "2026-10-01T00:00:00Z".into(),
            last_seen: "2026-10-01T00:00:00Z".into(),
            count: 1,
            evidence,
            sources: vec![],
            attack: vec!["T1496.004".into(), "T1496.A007".into()],
            atlas: vec!["AML.T0034".into()],
        }
    }

    #[test]
    fn messages_carry_json_email_subject_and_attributes() {
        let f = finding("0123456789abcdef0123456789abcdef", 10);
        let m = message(&f);
        assert_eq!(m.entry.message_structure(), Some("json"));
        assert_eq!(
            m.entry.subject(),
            Some("[High] invoke-spike: support-bot-role 41x usual Bedrock calls")
        );
        let body: serde_json::Value = serde_json::from_str(m.entry.message()).unwrap();
        let back: Finding = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        assert_eq!(back, f);
        assert!(
            body["email"]
                .as_str()
                .unwrap()
                .contains("Severity:   High (7.5)")
        );
        let a = m.entry.message_attributes().unwrap();
        assert_eq!(a["severity"].data_type(), "Number");
        assert_eq!(a["severity"].string_value(), Some("7.5"));
        assert_eq!(a["severity_label"].string_value(), Some("High"));
        assert_eq!(a["detector"].string_value(), Some("invoke-spike"));
        assert_eq!(a["account"].string_value(), Some("111122223333"));
    }

    #[test]
    fn subjects_come_from_the_finding_and_stay_short_and_ascii() {
        let mut f = finding("0123456789abcdef0123456789abcdef", 10);
        f.subject = format!("caf\u{e9} {}", "x".repeat(200));
        let s = message(&f).entry.subject().unwrap().to_string();
        assert!(s.len() < 100 && s.is_ascii(), "{s}");
        assert!(
            s.starts_with("[High] invoke-spike: caf? xxx") && s.ends_with("..."),
            "{s}"
        );
        // A finding stored before subjects existed: the title stands in.
        f.subject.clear();
        f.title = "support-bot-role called Bedrock".into();
        assert_eq!(
            message(&f).entry.subject(),
            Some("[High] invoke-spike: support-bot-role called Bedrock")
        );
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let small: Vec<Message> = (0..23)
            .map(|i| message(&finding(&format!("{i:032x}"), 10)))
            .collect();
        let b = batches(small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
        // ~60 KB each (JSON + email text): four fit under 256 KiB.
        let big: Vec<Message> = (0..6)
            .map(|i| message(&finding(&format!("{i:032x}"), 30_000)))
            .collect();
        assert!(big.iter().all(|m| m.bytes < MAX_BYTES));
        let b = batches(big);
        assert!(
            b.iter()
                .all(|x| x.iter().map(|m| m.bytes).sum::<usize>() <= MAX_BYTES)
        );
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 6);
        assert!(b.len() >= 2);
        // A finding too large for JSON plus text keeps the JSON whole and shortens the text.
        let huge = message(&finding("f", 150_000));
        assert!(huge.bytes < MAX_BYTES, "{}", huge.bytes);
    }

    /// The size SNS counts: the serialized body after escaping, subject and attributes.
    fn wire_size(m: &Message) -> usize {
        m.entry.message().len()
            + m.entry.subject().map_or(0, str::len)
            + m.entry.message_attributes().map_or(0, |a| {
                a.iter()
                    .map(|(k, v)| {
                        k.len() + v.data_type().len() + v.string_value().map_or(0, str::len)
                    })
                    .sum()
            })
    }

    #[test]
    fn the_final_message_fits_however_much_escaping_grows_it() {
        // 200 KB of quotes and control characters: each escapes to 2 (`\"`) or 6 (`\u0007`)
        // bytes in the finding JSON, and again inside the JSON-in-JSON body.
        for evidence in [
            "\"".repeat(200_000),
            "\u{7}".repeat(100_000),
            "é".repeat(200_000),
        ] {
            for format in [SnsFormat::Default, SnsFormat::Chatbot] {
                let mut f = finding("0123456789abcdef0123456789abcdef", 10);
                f.evidence.insert("q".into(), serde_json::json!(evidence));
                let m = message_as(&f, format);
                assert_eq!(m.bytes, wire_size(&m));
                assert!(m.bytes <= MAX_BYTES, "{format:?}: {}", m.bytes);
                let body: serde_json::Value = serde_json::from_str(m.entry.message()).unwrap();
                let key = if format == SnsFormat::Chatbot {
                    "sqs"
                } else {
                    "default"
                };
                let back: Finding = serde_json::from_str(body[key].as_str().unwrap()).unwrap();
                assert_eq!(back.evidence["truncated"], true);
                assert_eq!((back.id.as_str(), back.count), (f.id.as_str(), f.count));
                assert!(body["email"].as_str().unwrap().len() <= MAX_EMAIL);
            }
        }
    }

    #[test]
    fn the_chatbot_shape_keeps_the_finding_for_queues() {
        let f = finding("0123456789abcdef0123456789abcdef", 10);
        let m = message_as(&f, SnsFormat::Chatbot);
        let body: serde_json::Value = serde_json::from_str(m.entry.message()).unwrap();
        let chat: serde_json::Value =
            serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        assert_eq!(
            (chat["version"].as_str(), chat["source"].as_str()),
            (Some("1.0"), Some("custom"))
        );
        for k in ["sqs", "lambda"] {
            let back: Finding = serde_json::from_str(body[k].as_str().unwrap()).unwrap();
            assert_eq!(back, f);
        }
    }

    #[test]
    fn attributes_are_cleaned_bounded_and_empty_ones_left_out() {
        let mut f = finding("0123456789abcdef0123456789abcdef", 10);
        f.detector = format!("evil\n\u{0}{}", "d".repeat(1000));
        f.account = " \t ".into();
        f.severity = f64::NAN;
        let m = message(&f);
        let a = m.entry.message_attributes().unwrap();
        let d = a["detector"].string_value().unwrap();
        assert!(d.starts_with("evil  d") && d.len() == MAX_ATTRIBUTE, "{d}");
        assert!(!a.contains_key("account"));
        assert!(!a.contains_key("severity"));
        // The email text is bounded however long the finding's text is.
        f.description = "x".repeat(100_000);
        assert!(email_text(&f).len() <= MAX_EMAIL);
    }
}
