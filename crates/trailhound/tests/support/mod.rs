//! The one support module of the test binary: replay helpers ([`common`]), a moto server
//! ([`moto`]), a synthetic archive ([`fixtures`]), per-test AWS resources, event envelopes,
//! and reading what SNS delivered.

pub mod common;
pub mod faults;
pub mod fixtures;
pub mod memory;
pub mod moto;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::{Value, json};
use trailhound_aws::lambda::{AwsDeps, Config, Detectors, deps_from_config};
use trailhound_core::alert::Finding;
use trailhound_core::ingest::ObjectRef;

pub fn geoip() -> PathBuf {
    let p = moto::repo().join("geo/country.mmdb");
    assert!(
        p.exists(),
        "geo/country.mmdb is missing: run scripts/setup.sh"
    );
    p
}

/// A bucket, table, topic and queue (subscribed to the topic) unique to one test.
pub struct Env {
    pub conf: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bucket: String,
    pub table: String,
    pub topic_name: String,
    pub topic_arn: String,
    pub queue_url: String,
}

impl Env {
    /// Creates everything but the topic when `with_topic` is false (the topic ARN is still
    /// the one [`Env::create_topic`] makes later).
    pub async fn new(test: &str, with_topic: bool) -> Env {
        let conf = moto::sdk_config().await;
        let name = moto::unique(test);
        let env = Env {
            s3: moto::s3(&conf),
            dynamo: aws_sdk_dynamodb::Client::new(&conf),
            sns: aws_sdk_sns::Client::new(&conf),
            sqs: aws_sdk_sqs::Client::new(&conf),
            bucket: name.clone(),
            table: name.clone(),
            topic_name: name.clone(),
            topic_arn: format!("arn:aws:sns:us-east-1:123456789012:{name}"),
            queue_url: String::new(),
            conf,
        };
        env.s3
            .create_bucket()
            .bucket(&env.bucket)
            .send()
            .await
            .unwrap();
        create_table(&env.dynamo, &env.table).await;
        let queue_url = env
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let mut env = Env { queue_url, ..env };
        if with_topic {
            env.create_topic().await;
        }
        env
    }

    /// Creates the topic and subscribes the queue to it.
    pub async fn create_topic(&mut self) {
        let arn = self
            .sns
            .create_topic()
            .name(&self.topic_name)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        assert_eq!(arn, self.topic_arn, "moto's account id changed");
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn =
            attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        self.sns
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
    }

    /// The same bucket, topic and queue over a new table `<table>-<suffix>`: a second run
    /// over the same objects (same sources in its findings) with state of its own.
    pub async fn twin(&self, suffix: &str) -> Env {
        let table = format!("{}-{suffix}", self.table);
        create_table(&self.dynamo, &table).await;
        Env {
            conf: self.conf.clone(),
            s3: self.s3.clone(),
            dynamo: self.dynamo.clone(),
            sns: self.sns.clone(),
            sqs: self.sqs.clone(),
            bucket: self.bucket.clone(),
            table,
            topic_name: self.topic_name.clone(),
            topic_arn: self.topic_arn.clone(),
            queue_url: self.queue_url.clone(),
        }
    }

    /// Handler dependencies over this environment's resources.
    pub async fn deps(&self, learning_days: u32, min_severity: f64) -> AwsDeps {
        let config = Config {
            topic_arn: self.topic_arn.clone(),
            table: self.table.clone(),
            detectors: Detectors::Embedded,
            geoip: Some(geoip()),
            min_severity,
            learning_days,
            function_name: "trailhound-test".into(),
            max_records: trailhound_core::record::DEFAULT_MAX_RECORDS,
            max_object_bytes: 2 << 30,
            sinks: Default::default(),
        };
        let mut d = deps_from_config(&config, &self.conf).await.unwrap();
        d.fetch = self.s3.clone();
        d.emit_metrics = false;
        d
    }

    /// Uploads objects; returns each object's reference (ETag as the version) and size.
    pub async fn upload(&self, objs: &[fixtures::Obj]) -> Vec<(ObjectRef, i64)> {
        let mut out = Vec::new();
        for o in objs {
            let r = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(&o.key)
                .body(o.body.clone().into())
                .send()
                .await
                .unwrap();
            let etag = r.e_tag.unwrap_or_default().trim_matches('"').to_string();
            out.push((
                ObjectRef::s3(&self.bucket, &o.key, etag),
                o.body.len() as i64,
            ));
        }
        out
    }

    /// Every SNS message the queue received, deleted once read.
    pub async fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            let r = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                empty += 1;
                continue;
            }
            for m in msgs {
                let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                out.push(Received::parse(&body));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        out
    }

    /// The table's items as comparable JSON (pk/sk → attributes), timestamps left out.
    pub async fn items(&self) -> BTreeMap<(String, String), BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut start = None;
        loop {
            let r = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in r.items.unwrap_or_default() {
                let s = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let attrs = item
                    .iter()
                    .filter(|(k, _)| {
                        !["pk", "sk", "applied_at", "expires_at"].contains(&k.as_str())
                    })
                    .map(|(k, v)| (k.clone(), format!("{v:?}")))
                    .collect();
                out.insert((s("pk"), s("sk")), attrs);
            }
            start = r.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        out
    }

    pub async fn item(&self, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

/// Finding ids still pending in an object's outbox (the object must have been applied).
pub async fn pending(
    env: &Env,
    o: &trailhound_core::ingest::ObjectRef,
) -> std::collections::BTreeSet<String> {
    let item = env
        .item(&trailhound_aws::dynamo::object_pk(o), "applied")
        .await
        .expect("object applied");
    item["pending"].as_m().unwrap().keys().cloned().collect()
}

pub async fn create_table(dynamo: &aws_sdk_dynamodb::Client, table: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    dynamo
        .create_table()
        .table_name(table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    dynamo
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// One SNS notification as an SQS subscriber gets it.
#[derive(Debug, Clone)]
pub struct Received {
    pub finding: Finding,
    pub subject: String,
    /// name → (type, value)
    pub attributes: BTreeMap<String, (String, String)>,
}

impl Received {
    fn parse(body: &Value) -> Received {
        let finding: Finding =
            serde_json::from_str(body["Message"].as_str().expect("Message")).expect("a finding");
        let attributes = body["MessageAttributes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            (
                                v["Type"].as_str().unwrap_or("").to_string(),
                                v["Value"].as_str().unwrap_or("").to_string(),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Received {
            finding,
            subject: body["Subject"].as_str().unwrap_or("").to_string(),
            attributes,
        }
    }
}

/// The latest version of each finding (highest count, then last seen), by id.
pub fn latest(received: &[Received]) -> BTreeMap<String, Finding> {
    let mut out: BTreeMap<String, Finding> = BTreeMap::new();
    for r in received {
        let f = &r.finding;
        let newer = out
            .get(&f.id)
            .is_none_or(|o| (f.count, &f.last_seen) >= (o.count, &o.last_seen));
        if newer {
            out.insert(f.id.clone(), f.clone());
        }
    }
    out
}

/// A finding with its sources' bucket cleared, to compare with a local replay.
pub fn local_sources(mut f: Finding) -> Finding {
    for s in &mut f.sources {
        s.bucket.clear();
    }
    f
}

// Envelopes, as AWS delivers them.

pub fn s3_record(o: &ObjectRef, size: i64, event: &str) -> Value {
    let key: String = o
        .key
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-10-01T01:00:00.000Z", "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "X"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "trailhound",
               "bucket": {"name": o.bucket, "ownerIdentity": {"principalId": "A"}, "arn": format!("arn:aws:s3:::{}", o.bucket)},
               "object": {"key": key, "size": size, "eTag": o.version, "sequencer": "0A1B"}}
    })
}

/// S3's encoding of keys in notifications: spaces as `+`, reserved characters escaped.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn s3_event(o: &ObjectRef, size: i64) -> Value {
    json!({ "Records": [s3_record(o, size, "ObjectCreated:Put")] })
}

pub fn eventbridge_event(o: &ObjectRef, size: i64) -> Value {
    json!({
        "version": "0", "id": "eb-1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-10-01T01:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{}", o.bucket)],
        "detail": {"version": "0", "bucket": {"name": o.bucket},
                   "object": {"key": o.key, "size": size, "etag": o.version, "sequencer": "0A1B"},
                   "request-id": "R", "requester": "123456789012", "reason": "PutObject"}
    })
}

pub fn sns_wrap(message: &Value) -> Value {
    json!({
        "Type": "Notification", "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:log-bucket-events",
        "Subject": "Amazon S3 Notification", "Message": message.to_string(),
        "Timestamp": "2026-10-01T01:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
        "SigningCertURL": "https://example.invalid/c.pem", "UnsubscribeURL": "https://example.invalid/u"
    })
}

pub fn sns_event(message: &Value) -> Value {
    let mut sns = sns_wrap(message);
    sns["MessageAttributes"] = json!({});
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:log-bucket-events:sub",
        "Sns": sns
    }]})
}

/// An SQS batch: (message id, body).
pub fn sqs_event(messages: &[(String, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "md5OfBody": "x", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:log-events", "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The findings `replay` prints for a local folder.
pub async fn replay(dir: &Path, learning_days: u32) -> trailhound::replay::Output {
    let opts = trailhound::replay::Options {
        paths: vec![dir.display().to_string()],
        geoip: Some(geoip()),
        learning: i64::from(learning_days) * 86_400,
        ..Default::default()
    };
    trailhound::replay::run(&opts).await.expect("replay runs")
}

/// Failed message ids of an SQS partial batch response.
pub fn batch_failures(resp: &Value) -> Vec<String> {
    resp["batchItemFailures"]
        .as_array()
        .expect("a partial batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}
