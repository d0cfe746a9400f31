//! Publishing through the outbox: with the topic missing or SNS failing (down, or failing
//! after the first batch), the invocation errors and the state keeps the findings SNS did
//! not accept as pending; once SNS works, a retry publishes each finding exactly once.
//! Findings under the minimum severity are recorded, not published.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;
use aws_sdk_sns::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_sns::config::{ConfigBag, Intercept};
use trailhound_aws::dynamo;
use trailhound_aws::lambda::{AwsDeps, handle};
use trailhound_aws::sink::SnsSink;

/// Lets the first `allow` SNS calls through, fails the rest before they are sent.
#[derive(Debug)]
struct FailAfter {
    allow: usize,
    calls: AtomicUsize,
}

impl Intercept for FailAfter {
    fn name(&self) -> &'static str {
        "FailAfter"
    }

    fn read_before_execution(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.allow {
            Ok(())
        } else {
            Err("SNS is failing (test)".into())
        }
    }
}

async fn with_sink(env: &Env, sns: aws_sdk_sns::Client) -> AwsDeps {
    let mut d = env.deps(0, 1.0).await;
    d.sink.sns = SnsSink::new(sns, &env.topic_arn);
    d
}

fn ids(r: &[Received]) -> Vec<String> {
    r.iter().map(|m| m.finding.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_fails_the_invocation_and_the_retry_publishes_once() {
    let mut env = Env::new("missing-topic", false).await;
    let up = env.upload(&fixtures::archive()).await;
    let deps = env.deps(0, 1.0).await;
    handle(&deps, s3_event(&up[0].0, up[0].1)).await.unwrap();
    let (o2, size2) = &up[1];
    let err = handle(&deps, s3_event(o2, *size2))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("TRAILHOUND_TOPIC_ARN"),
        "{err}"
    );
    let waiting = pending(&env, o2).await;
    assert!(waiting.len() >= 2, "{waiting:?}");
    // Through SQS: the message fails, alone.
    let r = handle(&deps, sqs_event(&[("m2".into(), s3_event(o2, *size2))]))
        .await
        .unwrap();
    assert_eq!(batch_failures(&r), ["m2"]);
    assert_eq!(pending(&env, o2).await, waiting);

    env.create_topic().await;
    handle(&deps, s3_event(o2, *size2)).await.unwrap();
    let got = env.received().await;
    assert_eq!(ids(&got).into_iter().collect::<BTreeSet<_>>(), waiting);
    assert_eq!(got.len(), waiting.len(), "each finding once");
    assert!(pending(&env, o2).await.is_empty());
    handle(&deps, s3_event(o2, *size2)).await.unwrap();
    assert!(env.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_failing_midway_publishes_each_finding_exactly_once() {
    let env = Env::new("sns-failing", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let good = env.deps(0, 1.0).await;
    for (o, size) in &up[..2] {
        handle(&good, s3_event(o, *size)).await.unwrap();
    }
    env.received().await;
    let (o3, size3) = &up[2];

    // SNS unreachable: nothing is accepted, everything stays pending.
    let dead = moto::sdk_config_at("http://127.0.0.1:9").await;
    let down = with_sink(&env, aws_sdk_sns::Client::new(&dead)).await;
    assert!(handle(&down, s3_event(o3, *size3)).await.is_err());
    let all = pending(&env, o3).await;
    assert_eq!(
        all.len(),
        13,
        "twelve new countries and the updated invoke spike"
    );
    assert!(env.received().await.is_empty());

    // SNS takes the first batch of 10, then fails.
    let flaky_conf = aws_sdk_sns::config::Builder::from(&env.conf)
        .interceptor(FailAfter {
            allow: 1,
            calls: AtomicUsize::new(0),
        })
        .build();
    let flaky = with_sink(&env, aws_sdk_sns::Client::from_conf(flaky_conf)).await;
    assert!(handle(&flaky, s3_event(o3, *size3)).await.is_err());
    let first = env.received().await;
    assert_eq!(first.len(), 10);
    let left = pending(&env, o3).await;
    assert_eq!(left.len(), 3);
    assert!(
        ids(&first)
            .iter()
            .all(|id| all.contains(id) && !left.contains(id))
    );

    // SNS works again: only the rest goes out, once.
    handle(&good, s3_event(o3, *size3)).await.unwrap();
    let rest = env.received().await;
    assert_eq!(ids(&rest).into_iter().collect::<BTreeSet<_>>(), left);
    assert_eq!(rest.len(), 3);
    handle(&good, s3_event(o3, *size3)).await.unwrap();
    assert!(env.received().await.is_empty());
    assert!(pending(&env, o3).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_under_the_minimum_severity_are_recorded_not_published() {
    let env = Env::new("min-severity", true).await;
    let up = env.upload(&fixtures::archive()).await;
    let deps = env.deps(0, 7.0).await;
    for (o, size) in &up {
        handle(&deps, s3_event(o, *size)).await.unwrap();
    }
    let got = env.received().await;
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|m| m.finding.severity >= 7.0),
        "{:?}",
        ids(&got)
    );
    assert!(!got.iter().any(|m| m.finding.detector == "unusual-geo"));
    for (o, _) in &up[..3] {
        assert!(pending(&env, o).await.is_empty(), "{o}");
    }
    // The unusual-geo finding (severity 6) is in the role's state all the same.
    let pk = dynamo::entity_pk(&format!(
        "p#arn:aws:iam::{}:role/etl-role",
        fixtures::ACCOUNT
    ));
    let item = env.item(&pk, "state").await.unwrap();
    let state: trailhound_core::state::EntityState =
        dynamo::unpack(item["state"].as_b().unwrap().as_ref()).unwrap();
    assert!(
        state.open.keys().any(|k| k.starts_with("unusual-geo/")),
        "{:?}",
        state.open.keys()
    );
}
