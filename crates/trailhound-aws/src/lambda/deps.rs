//! What the handler needs from the outside world, as small traits: fetch an object
//! ([`Fetch`]), keep state ([`trailhound_core::state::Store`]) and publish findings
//! ([`Publish`]). The real clients implement them here (S3, [`crate::dynamo::DynamoStore`],
//! [`crate::sink::Sinks`]: SNS plus the optional Security Hub and EventBridge sinks); tests
//! use in-memory ones, so the handler's logic (envelopes, order, deadline, partial batch
//! failures, outbox, redelivery) runs in milliseconds.

use trailhound_core::ingest::ObjectError;
use trailhound_core::state::Store;

use crate::envelope::Target;
use crate::s3::{Decoder, Fetched};
use std::collections::BTreeSet;

use trailhound_core::finding::Finding;

use crate::sink::sns::{BatchOutcome, Message, SnsFormat};
use crate::sink::{SinkKind, Sinks};

/// Reads one object and decodes it.
#[allow(async_fn_in_trait)]
pub trait Fetch: Sync {
    async fn fetch_decode(
        &self,
        decoder: &Decoder,
        target: &Target,
    ) -> Result<Fetched, ObjectError>;
}

/// Publishes findings: SNS batches ([`Publish::publish_batch`], always), and the other
/// configured sinks ([`Publish::others`], none by default).
#[allow(async_fn_in_trait)]
pub trait Publish: Sync {
    /// Publishes one SNS batch of at most [`crate::sink::sns::MAX_BATCH`] messages. An error
    /// means none was accepted; otherwise the outcome says which were.
    async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome>;

    /// The shape of SNS messages.
    fn sns_format(&self) -> SnsFormat {
        SnsFormat::Default
    }

    /// The sinks besides SNS, in publish order.
    fn others(&self) -> Vec<SinkKind> {
        Vec::new()
    }

    /// Publishes findings to one of [`Publish::others`]: the outcome names each finding
    /// accepted or refused (a call that fails whole refuses all of its findings). `updates`
    /// holds the ids of findings a version of which was published before.
    async fn publish_other(
        &self,
        sink: SinkKind,
        findings: &[&Finding],
        updates: &BTreeSet<String>,
    ) -> BatchOutcome {
        let _ = updates;
        BatchOutcome {
            accepted: Vec::new(),
            failed: findings
                .iter()
                .map(|f| (f.id.clone(), format!("{} is not configured", sink.name())))
                .collect(),
        }
    }
}

impl Fetch for aws_sdk_s3::Client {
    async fn fetch_decode(
        &self,
        decoder: &Decoder,
        target: &Target,
    ) -> Result<Fetched, ObjectError> {
        crate::s3::fetch_decode(self, decoder, target).await
    }
}

impl Publish for crate::sink::SnsSink {
    async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome> {
        crate::sink::SnsSink::publish_batch(self, batch).await
    }
}

impl Publish for Sinks {
    async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome> {
        self.sns.publish_batch(batch).await
    }

    fn sns_format(&self) -> SnsFormat {
        self.format
    }

    fn others(&self) -> Vec<SinkKind> {
        Sinks::others(self)
    }

    async fn publish_other(
        &self,
        sink: SinkKind,
        findings: &[&Finding],
        updates: &BTreeSet<String>,
    ) -> BatchOutcome {
        match (sink, &self.securityhub, &self.eventbridge) {
            (SinkKind::SecurityHub, Some(hub), _) => {
                Box::pin(hub.import(hub.documents(findings, updates))).await
            }
            (SinkKind::EventBridge, _, Some(bus)) => Box::pin(bus.publish(findings)).await,
            _ => BatchOutcome {
                accepted: Vec::new(),
                failed: findings
                    .iter()
                    .map(|f| (f.id.clone(), format!("{} is not configured", sink.name())))
                    .collect(),
            },
        }
    }
}

/// Everything the handler needs, built once per cold start (or by a test).
pub struct Deps<F, S, P> {
    pub fetch: F,
    pub store: S,
    pub sink: P,
    pub decoder: Decoder,
    /// Findings below this severity are recorded, not published (the one place this rule
    /// lives: it decides what enters the store's outbox and what is sent).
    pub min_severity: f64,
    /// The `FunctionName` metrics dimension.
    pub function_name: String,
    /// Print EMF metric lines (off in tests).
    pub emit_metrics: bool,
}

/// The dependencies of the deployed function.
pub type AwsDeps = Deps<aws_sdk_s3::Client, crate::dynamo::DynamoStore, Sinks>;

impl<F: Fetch, S: Store, P: Publish> Deps<F, S, P> {
    pub(crate) fn publishes(&self, f: &trailhound_core::finding::Finding) -> bool {
        f.severity >= self.min_severity
    }
}
