//! What the handler needs from the outside world, as small traits: fetch an object
//! ([`Fetch`]), keep state ([`trailhound_core::state::Store`]) and publish findings
//! ([`Publish`]). The real clients implement them here (S3, [`crate::dynamo::DynamoStore`],
//! [`crate::sink::SnsSink`]); tests use in-memory ones, so the handler's logic (envelopes,
//! order, deadline, partial batch failures, outbox, redelivery) runs in milliseconds.

use trailhound_core::ingest::ObjectError;
use trailhound_core::state::Store;

use crate::envelope::Target;
use crate::s3::{Decoder, Fetched};
use crate::sink::sns::{BatchOutcome, Message};

/// Reads one object and decodes it.
#[allow(async_fn_in_trait)]
pub trait Fetch: Sync {
    async fn fetch_decode(
        &self,
        decoder: &Decoder,
        target: &Target,
    ) -> Result<Fetched, ObjectError>;
}

/// Publishes one batch of at most [`crate::sink::sns::MAX_BATCH`] messages. An error means
/// none was accepted; otherwise the outcome says which were.
#[allow(async_fn_in_trait)]
pub trait Publish: Sync {
    async fn publish_batch(&self, batch: Vec<Message>) -> anyhow::Result<BatchOutcome>;
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
pub type AwsDeps = Deps<aws_sdk_s3::Client, crate::dynamo::DynamoStore, crate::sink::SnsSink>;

impl<F: Fetch, S: Store, P: Publish> Deps<F, S, P> {
    pub(crate) fn publishes(&self, f: &trailhound_core::finding::Finding) -> bool {
        f.severity >= self.min_severity
    }
}
