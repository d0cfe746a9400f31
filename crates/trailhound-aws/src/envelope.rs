//! Lambda event envelopes: which S3 objects an invocation names.
//!
//! The function is triggered by S3 notifications, EventBridge `Object Created` events, SQS
//! batches whose bodies are either (or an SNS notification wrapping one), and SNS. Each is
//! parsed with the `aws_lambda_events` types; SNS-wrapped bodies are unwrapped in one place
//! ([`Envelope::from_value`]). Keys are URL-decoded (`+` is a space). `s3:TestEvent`,
//! `ObjectRemoved` and other event kinds are ignored, and said so.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use trailhound_core::ingest::ObjectRef;

/// SNS-in-SQS-in-SNS nesting deeper than this is not a real delivery path.
const MAX_DEPTH: u8 = 4;

/// An object to process, as the event named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `version` holds the ETag (quotes stripped), else the version id: the identity used
    /// for idempotency.
    pub object: ObjectRef,
    /// Fetch this exact version when the bucket is versioned.
    pub version_id: Option<String>,
    pub size: Option<i64>,
}

/// Why part of an event names no object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    TestEvent,
    /// `ObjectRemoved:*` or EventBridge `Object Deleted`.
    Removed,
    /// Another S3 event kind (restore, tagging, ACL, lifecycle…).
    OtherEvent(String),
    /// Not an envelope we know; the reason says what it looked like.
    Unrecognized(String),
}

impl Ignored {
    pub fn as_str(&self) -> &'static str {
        match self {
            Ignored::TestEvent => "s3-test-event",
            Ignored::Removed => "object-removed",
            Ignored::OtherEvent(_) => "other-s3-event",
            Ignored::Unrecognized(_) => "unrecognized-event",
        }
    }
}

/// The unit that succeeds or fails as a whole: one SQS message, or the whole event for the
/// other sources (which AWS retries whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The SQS message id (reported in `batchItemFailures`); `None` outside SQS.
    pub message_id: Option<String>,
    pub targets: Vec<Target>,
    pub ignored: Vec<Ignored>,
}

/// An invocation's payload, parsed.
#[derive(Debug)]
pub enum Envelope {
    S3(S3Event),
    EventBridge(Box<EventBridgeEvent<S3Detail>>),
    Sqs(SqsEvent),
    Sns(SnsEvent),
    TestEvent,
    Unrecognized(String),
}

/// The `detail` of an S3 EventBridge event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Detail {
    #[serde(default)]
    pub bucket: EbBucket,
    #[serde(default)]
    pub object: EbObject,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EbBucket {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EbObject {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
}

/// An SNS notification as it appears in an SQS body (or any JSON that wraps a `Message`).
#[derive(Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).take(6).collect();
            format!("a JSON object with keys {keys:?}")
        }
        Value::String(_) => "a JSON string".into(),
        Value::Array(_) => "a JSON array".into(),
        other => format!("JSON {}", if other.is_null() { "null" } else { "scalar" }),
    }
}

fn record_source(v: &Value) -> Option<&str> {
    let r = v.get("Records")?.as_array()?.first()?;
    r.get("eventSource")
        .or_else(|| r.get("EventSource"))
        .and_then(Value::as_str)
}

impl Envelope {
    /// Parses a message body (SQS body, SNS message): JSON, else unrecognized.
    pub fn from_body(body: &str) -> Envelope {
        Self::from_str_at(body, 0)
    }

    fn from_str_at(body: &str, depth: u8) -> Envelope {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => Self::from_value_at(v, depth),
            Err(_) => Envelope::Unrecognized(format!(
                "a message body that is not JSON ({} bytes)",
                body.len()
            )),
        }
    }

    /// Parses an invocation payload or a decoded message body.
    pub fn from_value(v: Value) -> Envelope {
        Self::from_value_at(v, 0)
    }

    fn from_value_at(v: Value, depth: u8) -> Envelope {
        if depth > MAX_DEPTH {
            return Envelope::Unrecognized("envelopes nested too deep".into());
        }
        let bad = |what: &str, e: serde_json::Error| {
            Envelope::Unrecognized(format!("{what} that does not parse: {e}"))
        };
        if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Envelope::TestEvent;
        }
        // SNS-wrapped bodies (SNS → SQS without raw delivery): unwrapped here, once.
        if v.get("Type").and_then(Value::as_str) == Some("Notification")
            && v.get("Message").is_some()
        {
            return match serde_json::from_value::<SnsNotification>(v) {
                Ok(n) if n.kind == "Notification" => Self::from_str_at(&n.message, depth + 1),
                Ok(_) => Envelope::Unrecognized("an SNS message that is not a notification".into()),
                Err(e) => bad("an SNS notification", e),
            };
        }
        if v.get("detail-type").is_some() {
            if v.get("source").and_then(Value::as_str) != Some("aws.s3") {
                return Envelope::Unrecognized(format!(
                    "an EventBridge event from {}",
                    v.get("source").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            return match serde_json::from_value::<EventBridgeEvent<S3Detail>>(v) {
                Ok(e) => Envelope::EventBridge(Box::new(e)),
                Err(e) => bad("an EventBridge S3 event", e),
            };
        }
        match record_source(&v) {
            Some("aws:s3") => match serde_json::from_value::<S3Event>(v) {
                Ok(e) => Envelope::S3(e),
                Err(e) => bad("an S3 notification", e),
            },
            Some("aws:sqs") => match serde_json::from_value::<SqsEvent>(v.clone()) {
                Ok(e) => Envelope::Sqs(e),
                // A field we do not use (e.g. a message attribute whose `binaryValue` is not
                // base64) must not lose the batch: keep each message's id and body.
                Err(e) => {
                    tracing::debug!(error = %e, "SQS event parsed leniently");
                    Envelope::Sqs(lenient_sqs(&v))
                }
            },
            Some("aws:sns") => match serde_json::from_value::<SnsEvent>(v) {
                Ok(e) => Envelope::Sns(e),
                Err(e) => bad("an SNS event", e),
            },
            Some(other) => Envelope::Unrecognized(format!("records from {other}")),
            None => Envelope::Unrecognized(describe(&v)),
        }
    }

    /// The objects named, grouped by the unit that fails or succeeds together.
    pub fn deliveries(self) -> Vec<Delivery> {
        match self {
            Envelope::Sqs(e) => e
                .records
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    let mut d = Delivery {
                        message_id: Some(m.message_id.unwrap_or_else(|| format!("message-{i}"))),
                        ..Default::default()
                    };
                    match m.body {
                        Some(body) => Envelope::from_str_at(&body, 1).collect(&mut d),
                        None => d.ignored.push(Ignored::Unrecognized(
                            "an SQS message without a body".into(),
                        )),
                    }
                    d
                })
                .collect(),
            other => {
                let mut d = Delivery::default();
                other.collect(&mut d);
                vec![d]
            }
        }
    }

    fn collect(self, d: &mut Delivery) {
        match self {
            Envelope::S3(e) => {
                for r in e.records {
                    let name = r.event_name.unwrap_or_default();
                    if name.starts_with("ObjectRemoved") {
                        d.ignored.push(Ignored::Removed);
                    } else if !name.starts_with("ObjectCreated") {
                        d.ignored.push(Ignored::OtherEvent(name));
                    } else {
                        let o = r.s3.object;
                        match (r.s3.bucket.name, o.key) {
                            (Some(b), Some(k)) if !b.is_empty() && !k.is_empty() => {
                                d.targets.push(target(b, &k, o.e_tag, o.version_id, o.size))
                            }
                            _ => d.ignored.push(Ignored::Unrecognized(
                                "an S3 record without a bucket or key".into(),
                            )),
                        }
                    }
                }
            }
            Envelope::EventBridge(e) => match e.detail_type.as_str() {
                "Object Created"
                    if !e.detail.bucket.name.is_empty() && !e.detail.object.key.is_empty() =>
                {
                    let o = e.detail.object;
                    // Keys are decoded like S3 notifications'; log keys hold neither `+` nor `%`.
                    d.targets.push(target(
                        e.detail.bucket.name,
                        &o.key,
                        o.etag,
                        o.version_id,
                        o.size,
                    ));
                }
                "Object Created" => d.ignored.push(Ignored::Unrecognized(
                    "an EventBridge Object Created event without a bucket or key".into(),
                )),
                "Object Deleted" => d.ignored.push(Ignored::Removed),
                other => d.ignored.push(Ignored::OtherEvent(other.to_string())),
            },
            Envelope::Sns(e) => {
                for r in e.records {
                    Envelope::from_str_at(&r.sns.message, 1).collect(d);
                }
            }
            Envelope::Sqs(_) => d.ignored.push(Ignored::Unrecognized(
                "an SQS event inside a message".into(),
            )),
            Envelope::TestEvent => d.ignored.push(Ignored::TestEvent),
            Envelope::Unrecognized(why) => d.ignored.push(Ignored::Unrecognized(why)),
        }
    }

    /// True for SQS batches: the response names failed messages (`batchItemFailures`).
    pub fn is_sqs(&self) -> bool {
        matches!(self, Envelope::Sqs(_))
    }
}

fn lenient_sqs(v: &Value) -> SqsEvent {
    let mut e = SqsEvent::default();
    for r in v["Records"].as_array().into_iter().flatten() {
        let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
        m.message_id = r["messageId"].as_str().map(str::to_string);
        m.body = r["body"].as_str().map(str::to_string);
        e.records.push(m);
    }
    e
}

/// URL-decodes an S3 notification key: `+` is a space, then `%XX` escapes.
pub fn decode_key(key: &str) -> String {
    let plus = key.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

fn target(
    bucket: String,
    key: &str,
    etag: Option<String>,
    version_id: Option<String>,
    size: Option<i64>,
) -> Target {
    let etag = etag
        .map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty());
    let version_id = version_id.filter(|v| !v.is_empty() && v != "null");
    let version = etag.or_else(|| version_id.clone()).unwrap_or_default();
    Target {
        object: ObjectRef::s3(bucket, decode_key(key), version),
        version_id,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (bool, Vec<Delivery>) {
        let env = Envelope::from_value(serde_json::from_str(text).unwrap());
        (env.is_sqs(), env.deliveries())
    }

    fn one(bucket: &str, key: &str, version: &str, vid: Option<&str>, size: Option<i64>) -> Target {
        Target {
            object: ObjectRef::s3(bucket, key, version),
            version_id: vid.map(str::to_string),
            size,
        }
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../tests/fixtures/public/envelopes/", $name))
        };
    }

    #[test]
    fn s3_notifications_yield_their_object_with_the_key_decoded() {
        let happy = one(
            "sourcebucket",
            "Happy Face.jpg",
            "d41d8cd98f00b204e9800998ecf8427e",
            Some("version"),
            Some(1024),
        );
        for text in [
            fixture!("example-s3-event.json"),
            fixture!("example-s3-event-with-decoded.json"),
            fixture!("s3EventDecodedKey.json"),
        ] {
            let (sqs, d) = parse(text);
            assert!(!sqs);
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].targets, vec![happy.clone()]);
            assert!(d[0].ignored.is_empty() && d[0].message_id.is_none());
        }
        let (_, d) = parse(fixture!("s3Event.json"));
        assert_eq!(
            d[0].targets,
            vec![one(
                "lambda-artifacts-deafc19498e3f2df",
                "b21b84d653bb07b05b1e6b33684dc11b",
                "b21b84d653bb07b05b1e6b33684dc11b",
                None,
                Some(1305107)
            )]
        );
    }

    #[test]
    fn removals_and_test_events_are_ignored() {
        let (_, d) = parse(fixture!("s3EventDeleteObject.json"));
        assert_eq!(d.len(), 1);
        assert!(d[0].targets.is_empty());
        assert_eq!(d[0].ignored, vec![Ignored::Removed]);
        let (_, d) = parse(fixture!("s3EventBridgeNotificationObjectDeletedEvent.json"));
        assert_eq!(d[0].ignored, vec![Ignored::Removed]);
        assert!(d[0].targets.is_empty());
        let (_, d) = parse(fixture!("s3-test-event.json"));
        assert_eq!(d[0].ignored, vec![Ignored::TestEvent]);
        assert!(d[0].targets.is_empty());
    }

    #[test]
    fn eventbridge_object_created_yields_its_object() {
        let (sqs, d) = parse(fixture!("s3EventBridgeNotificationObjectCreatedEvent.json"));
        assert!(!sqs);
        assert_eq!(
            d[0].targets,
            vec![one(
                "example-bucket",
                "IMG_m7fzo3.jpg",
                "4e68adba0abe2dc8653dc3354e14c01d",
                None,
                Some(184662)
            )]
        );
    }

    #[test]
    fn sqs_bodies_are_parsed_per_message() {
        let (sqs, d) = parse(fixture!("s3SqsEvent.json"));
        assert!(sqs);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message_id.as_deref(),
            Some("ca3e7a89-c358-40e5-8aa0-5da01403c267")
        );
        assert_eq!(
            d[0].targets,
            vec![one(
                "xxx",
                "test.pdf",
                "2e3ad1e983318bbd8e73b080e2997980",
                Some("yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV"),
                Some(104681)
            )]
        );
        // Bodies that are not notifications are ignored, per message.
        for (text, n) in [
            (fixture!("sqsEvent.json"), 2),
            (fixture!("example-sqs-event.json"), 1),
            (fixture!("example-sqs-event-obj.json"), 1),
            (fixture!("snsSqsEvent.json"), 1),
        ] {
            let (sqs, d) = parse(text);
            assert!(sqs);
            assert_eq!(d.len(), n, "{text}");
            for m in &d {
                assert!(m.message_id.is_some());
                assert!(m.targets.is_empty());
                assert!(
                    matches!(m.ignored[..], [Ignored::Unrecognized(_)]),
                    "{:?}",
                    m.ignored
                );
            }
        }
    }

    #[test]
    fn sns_events_and_sns_wrapped_bodies_are_unwrapped() {
        let (sqs, d) = parse(fixture!("example-sns-event.json"));
        assert!(!sqs);
        assert!(d[0].targets.is_empty());
        assert!(matches!(d[0].ignored[..], [Ignored::Unrecognized(_)]));

        // An S3 notification published to SNS, delivered to SQS without raw delivery.
        let s3 = serde_json::json!({"Records": [{
            "eventSource": "aws:s3", "eventTime": "2026-10-01T00:00:00Z",
            "eventName": "ObjectCreated:Put", "userIdentity": {}, "requestParameters": {},
            "responseElements": {},
            "s3": {"bucket": {"name": "logs"}, "object": {"key": "AWSLogs/1/a+b.json"}}
        }]})
        .to_string();
        let wrapped = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": s3});
        let sqs_event = serde_json::json!({"Records": [{
            "messageId": "m1", "body": wrapped.to_string(), "eventSource": "aws:sqs"
        }]});
        let d = Envelope::from_value(sqs_event).deliveries();
        assert_eq!(d[0].message_id.as_deref(), Some("m1"));
        assert_eq!(d[0].targets.len(), 1);
        assert_eq!(d[0].targets[0].object.key, "AWSLogs/1/a b.json");
        assert_eq!(d[0].targets[0].object.version, "");
    }

    #[test]
    fn keys_decode_plus_and_escapes() {
        assert_eq!(decode_key("a+b%2Bc%3A1.json.gz"), "a b+c:1.json.gz");
        assert_eq!(decode_key("AWSLogs/1/x.json"), "AWSLogs/1/x.json");
        let t = target(
            "b".into(),
            "k",
            Some("\"abc\"".into()),
            Some("null".into()),
            None,
        );
        assert_eq!(t.object.version, "abc");
        assert_eq!(t.version_id, None);
    }
}
