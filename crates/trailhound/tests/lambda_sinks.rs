//! The Lambda sinks against moto with the real SDK clients: Security Hub
//! (`BatchImportFindings`, read back with `GetFindings`), an EventBridge bus with a rule
//! targeting an SQS queue, and the `chatbot` SNS shape. Each finding reaches every sink
//! exactly once per version; redelivery changes nothing; a sink that fails gets the findings
//! on the retry while the sinks that accepted them already get nothing again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_eventbridge::config::interceptors::BeforeSerializationInterceptorContextRef as EbCtx;
use aws_sdk_sns::config::interceptors::BeforeSerializationInterceptorContextRef as SnsCtx;
use serde_json::{Value, json};

use crate::support::*;
use trailhound_aws::dynamo;
use trailhound_aws::lambda::{AwsDeps, handle};
use trailhound_aws::sink::securityhub::product_arn;
use trailhound_aws::sink::{EventBridgeSink, SecurityHubSink, SnsFormat, SnsSink};
use trailhound_core::alert::Finding;
use trailhound_core::alert::asff::to_asff;
use trailhound_core::alert::output::OutputContext;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// moto's account, and the topic's region: where Security Hub imports.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A bus with a rule sending every trailhound event to a new queue; returns the queue URL.
async fn bus_to_queue(env: &Env, name: &str) -> String {
    let eb = aws_sdk_eventbridge::Client::new(&env.conf);
    eb.create_event_bus().name(name).send().await.unwrap();
    let queue_url = env
        .sqs
        .create_queue()
        .queue_name(format!("{name}-events"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = env
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    eb.put_rule()
        .name("trailhound-findings")
        .event_bus_name(name)
        .event_pattern(
            json!({"source": ["trailhound"], "detail-type": ["Trailhound Finding"]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("trailhound-findings")
        .event_bus_name(name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    queue_url
}

/// Every message body on a queue, deleted once read.
async fn drain(env: &Env, queue_url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let r = env
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let msgs = r.messages.unwrap_or_default();
        if msgs.is_empty() {
            empty += 1;
        }
        for m in msgs {
            out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            env.sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    out
}

/// The findings of EventBridge events, checking each event's envelope.
fn events(bodies: &[Value]) -> Vec<Finding> {
    bodies
        .iter()
        .map(|b| {
            assert_eq!(b["source"], "trailhound", "{b}");
            assert_eq!(b["detail-type"], "Trailhound Finding", "{b}");
            let f: Finding = serde_json::from_value(b["detail"].clone()).expect("a finding");
            // The principal's ARN; an account-and-region finding has none.
            let arn: Vec<&String> = [&f.principal, &f.principal_key]
                .into_iter()
                .filter(|a| a.starts_with("arn:"))
                .take(1)
                .collect();
            assert_eq!(b["resources"], json!(arn), "{b}");
            f
        })
        .collect()
}

/// The newest version of each finding.
fn latest_of(findings: &[Finding]) -> BTreeMap<String, Finding> {
    let mut m: BTreeMap<String, Finding> = BTreeMap::new();
    for f in findings {
        if m.get(&f.id)
            .is_none_or(|o| (f.count, &f.last_seen) >= (o.count, &o.last_seen))
        {
            m.insert(f.id.clone(), f.clone());
        }
    }
    m
}

fn hub_client(env: &Env, region: &'static str) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Builder::from(&env.conf)
            .region(aws_sdk_securityhub::config::Region::new(region))
            .build(),
    )
}

async fn hub_findings(
    hub: &aws_sdk_securityhub::Client,
) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = hub
            .get_findings()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        out.extend(r.findings().iter().cloned());
        token = r.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out
}

fn with_sinks(
    mut d: AwsDeps,
    hub: aws_sdk_securityhub::Client,
    eb: aws_sdk_eventbridge::Client,
    bus: &str,
) -> AwsDeps {
    d.sink.securityhub = Some(SecurityHubSink::new(
        hub,
        Some(ACCOUNT.into()),
        Some(REGION.into()),
    ));
    d.sink.eventbridge = Some(EventBridgeSink::new(eb, bus));
    d
}

/// Runs a test on a runtime with large stacks, as the function's runtime has: the Security
/// Hub SDK's ASFF types nest deep, large frames (more than 4 MiB in a debug build).
fn big_stack<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(64 << 20)
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn the_samples_reach_security_hub_and_eventbridge_exactly_once() {
    big_stack(samples_reach_security_hub_and_eventbridge());
}

async fn samples_reach_security_hub_and_eventbridge() {
    let dir = moto::repo().join("samples");
    let objects = trailhound_core::ingest::local::list(std::slice::from_ref(&dir)).unwrap();
    assert!(
        !objects.is_empty(),
        "samples/ is empty: run scripts/setup.sh"
    );
    let env = Env::new("sinks-samples", true).await;
    let bus = moto::unique("sinks-bus");
    let events_queue = bus_to_queue(&env, &bus).await;
    let hub = hub_client(&env, "eu-west-1");
    hub.enable_security_hub().send().await.unwrap();
    let objs: Vec<fixtures::Obj> = objects
        .iter()
        .map(|o| fixtures::Obj {
            key: o.object.key.clone(),
            body: std::fs::read(&o.path).unwrap(),
        })
        .collect();
    let uploaded = env.upload(&objs).await;
    let expected: BTreeMap<String, Finding> = replay(&dir, 7)
        .await
        .findings
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    assert!(!expected.is_empty());

    let eb = aws_sdk_eventbridge::Client::new(&env.conf);
    let deps = with_sinks(env.deps(7, 1.0).await, hub.clone(), eb, &bus);
    for (o, size) in &uploaded {
        handle(&deps, s3_event(o, *size))
            .await
            .unwrap_or_else(|e| panic!("{o}: {e:#}"));
    }

    // EventBridge: the final version of every finding is the one replay prints, and no
    // version came twice.
    let got = events(&drain(&env, &events_queue).await);
    // A version is the whole finding (some kinds update evidence without adding events).
    let as_json = |f: &Finding| serde_json::to_string(f).unwrap();
    let versions: BTreeSet<String> = got.iter().map(as_json).collect();
    assert_eq!(versions.len(), got.len(), "a version was put twice");
    // SNS got the same versions.
    let sns: BTreeSet<String> = env
        .received()
        .await
        .iter()
        .map(|r| as_json(&r.finding))
        .collect();
    assert_eq!(sns, versions);
    // Then the final versions are those replay prints (a difference here is a Lambda/replay
    // parity difference of a detector, not of the sinks: lambda_e2e shows it for SNS too).
    let latest_events: BTreeMap<String, Finding> =
        got.iter()
            .fold(BTreeMap::new(), |mut m: BTreeMap<String, Finding>, f| {
                if m.get(&f.id)
                    .is_none_or(|o| (f.count, &f.last_seen) >= (o.count, &o.last_seen))
                {
                    m.insert(f.id.clone(), f.clone());
                }
                m
            });
    assert_eq!(latest_events.len(), expected.len());
    for (id, want) in &expected {
        assert_eq!(
            latest_events.get(id).cloned().map(local_sources),
            Some(want.clone()),
            "{id}"
        );
    }

    // Security Hub: one finding per id (updates re-imported under the same Id), each the
    // ASFF of the final version.
    let imported = hub_findings(&hub).await;
    let by_id: BTreeMap<String, _> = imported
        .iter()
        .map(|f| (f.id().unwrap().to_string(), f))
        .collect();
    assert_eq!(by_id.len(), imported.len(), "one finding per Id");
    assert_eq!(
        by_id.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, want) in &expected {
        let got = by_id[id];
        let ctx = OutputContext {
            account: Some(ACCOUNT.into()),
            region: Some(REGION.into()),
            now: 0,
            update: false,
        };
        let asff = to_asff(want, &ctx);
        assert_eq!(got.schema_version(), Some("2018-10-08"));
        assert_eq!(
            got.product_arn(),
            Some(product_arn("aws", REGION, ACCOUNT).as_str())
        );
        assert_eq!(got.generator_id(), Some(want.detector.as_str()));
        assert_eq!(got.aws_account_id(), asff["AwsAccountId"].as_str());
        assert_eq!(got.title(), asff["Title"].as_str());
        assert_eq!(got.description(), asff["Description"].as_str());
        let types: Vec<&str> = asff["Types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(got.types(), types);
        let sev = got.severity().unwrap();
        assert_eq!(
            sev.label().map(|l| l.as_str()),
            asff["Severity"]["Label"].as_str()
        );
        assert_eq!(
            sev.normalized().map(i64::from),
            asff["Severity"]["Normalized"].as_i64()
        );
        assert_eq!(got.first_observed_at(), asff["FirstObservedAt"].as_str());
        assert_eq!(got.last_observed_at(), asff["LastObservedAt"].as_str());
        let kinds: Vec<&str> = got
            .resources()
            .iter()
            .map(|r| r.r#type().unwrap())
            .collect();
        let want_kinds: Vec<&str> = asff["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, want_kinds, "{id}");
        assert!(
            got.updated_at().unwrap() >= got.created_at().unwrap(),
            "{id}"
        );
    }

    // Redelivery of every object: nothing reaches any sink, no item changes.
    let items = env.items().await;
    for (o, size) in &uploaded {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert!(
        drain(&env, &events_queue).await.is_empty(),
        "redelivery put events again"
    );
    assert!(
        env.received().await.is_empty(),
        "redelivery published again"
    );
    assert_eq!(env.items().await, items, "redelivery changed items");
    assert_eq!(hub_findings(&hub).await.len(), expected.len());
}

/// Fails every call of the client it is installed on, before it is sent.
#[derive(Debug)]
struct Down;

impl aws_sdk_eventbridge::config::Intercept for Down {
    fn name(&self) -> &'static str {
        "Down"
    }

    fn read_before_execution(
        &self,
        _ctx: &EbCtx<'_>,
        _cfg: &mut aws_sdk_eventbridge::config::ConfigBag,
    ) -> Result<(), BoxError> {
        Err("EventBridge is down (test)".into())
    }
}

/// Records the messages of every SNS `PublishBatch`.
#[derive(Debug, Default, Clone)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl aws_sdk_sns::config::Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_execution(
        &self,
        ctx: &SnsCtx<'_>,
        _cfg: &mut aws_sdk_sns::config::ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(i) = ctx
            .input()
            .downcast_ref::<aws_sdk_sns::operation::publish_batch::PublishBatchInput>()
        {
            let mut v = self.0.lock().unwrap();
            for e in i.publish_batch_request_entries() {
                v.push(e.message().to_string());
            }
        }
        Ok(())
    }
}

#[test]
fn a_failing_sink_gets_the_findings_on_the_retry_and_the_others_nothing_again() {
    big_stack(failing_sink_retry());
}

async fn failing_sink_retry() {
    let env = Env::new("sinks-retry", true).await;
    let bus = moto::unique("retry-bus");
    let events_queue = bus_to_queue(&env, &bus).await;
    let hub = hub_client(&env, "ap-southeast-2");
    let up = env.upload(&fixtures::archive()).await;
    let capture = Capture::default();
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&env.conf)
            .interceptor(capture.clone())
            .build(),
    );
    let down = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&env.conf)
            .interceptor(Down)
            .build(),
    );
    let mut deps = with_sinks(env.deps(0, 1.0).await, hub.clone(), down, &bus);
    deps.sink.sns = SnsSink::new(sns, &env.topic_arn);
    deps.sink.format = SnsFormat::Chatbot;

    // EventBridge down: objects with findings fail; SNS and Security Hub took them.
    let mut failed = Vec::new();
    for (o, size) in &up {
        if let Err(e) = handle(&deps, s3_event(o, *size)).await {
            let e = format!("{e:#}");
            assert!(
                e.contains("EventBridge refused") && e.contains("down"),
                "{e}"
            );
            failed.push((o.clone(), *size));
        }
    }
    assert_eq!(
        failed.len(),
        2,
        "the second and third objects raise findings"
    );
    let sent: Vec<Finding> = env
        .received()
        .await
        .into_iter()
        .map(|r| r.finding)
        .collect();
    let pairs: BTreeMap<String, u64> = sent.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.id.clone()).or_default() += 1;
        m
    });
    assert_eq!(sent.len(), 3 + 13);
    let hub_ids: BTreeSet<String> = hub_findings(&hub)
        .await
        .iter()
        .map(|f| f.id().unwrap().to_string())
        .collect();
    assert_eq!(hub_ids, pairs.keys().cloned().collect());
    // The outbox records which sinks took each pending finding.
    for (o, _) in &failed {
        let item = env.item(&dynamo::object_pk(o), "applied").await.unwrap();
        let pending: BTreeSet<String> = item["pending"].as_m().unwrap().keys().cloned().collect();
        assert!(!pending.is_empty());
        for sink in ["acc_sns", "acc_securityhub"] {
            let acc: BTreeSet<String> = item[sink].as_ss().unwrap().iter().cloned().collect();
            assert_eq!(acc, pending, "{sink}");
        }
        assert!(!item.contains_key("acc_eventbridge"));
    }
    // The chatbot shape went to SNS as `default`; queues got the finding JSON.
    let messages = capture.0.lock().unwrap().clone();
    assert_eq!(messages.len(), sent.len());
    for m in &messages {
        let body: Value = serde_json::from_str(m).unwrap();
        let chat: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        let f: Finding = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["content"]["textType"], "client-markdown");
        assert!(
            chat["content"]["title"]
                .as_str()
                .unwrap()
                .contains(&f.detector)
        );
        assert!(
            chat["content"]["description"]
                .as_str()
                .unwrap()
                .contains(&f.id)
        );
        assert_eq!(chat["metadata"]["threadId"], f.id.as_str());
        assert_eq!(chat["content"]["nextSteps"].as_array().unwrap().len(), 3);
    }

    // EventBridge back: the retries put each finding once, in its newest version (the
    // spike's first version, left in the second object's outbox, is stale by then: SNS
    // already took the third object's version); SNS sends nothing.
    let eb = aws_sdk_eventbridge::Client::new(&env.conf);
    deps.sink.eventbridge = Some(EventBridgeSink::new(eb, &bus));
    for (o, size) in &failed {
        let r = handle(&deps, s3_event(o, *size)).await.unwrap();
        assert_eq!(r["duplicates"], 1, "{r}");
    }
    let put = events(&drain(&env, &events_queue).await);
    let put_ids: BTreeSet<String> = put.iter().map(|f| f.id.clone()).collect();
    assert_eq!(put_ids.len(), put.len(), "a finding was put twice");
    assert_eq!(put_ids, pairs.keys().cloned().collect());
    let newest = latest_of(&sent);
    for f in &put {
        assert_eq!(
            f.count, newest[&f.id].count,
            "{} was put in a stale version",
            f.id
        );
    }
    assert_eq!(
        pairs.values().filter(|n| **n == 2).count(),
        1,
        "the spike was sent to SNS twice (two versions)"
    );
    assert!(env.received().await.is_empty(), "SNS was sent again");
    assert_eq!(capture.0.lock().unwrap().len(), messages.len());
    for (o, _) in &failed {
        let item = env.item(&dynamo::object_pk(o), "applied").await.unwrap();
        assert!(item["pending"].as_m().unwrap().is_empty());
    }
    // Once more: nothing anywhere.
    for (o, size) in &failed {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    assert!(drain(&env, &events_queue).await.is_empty());
    assert!(env.received().await.is_empty());
}
