//! trailhound-aws: trailhound on AWS. The S3 source ([`s3`]), the DynamoDB store
//! ([`dynamo`]), the sinks ([`sink`]), the Lambda trigger envelopes ([`envelope`]) and the
//! Lambda driver ([`lambda`]). The engine is `trailhound-core`; nothing here decides what a
//! finding is, only where objects come from, where state lives and where findings go.
//!
//! Without the default `sdk` feature only [`envelope`] is built (the fuzz targets use it so).
#![forbid(unsafe_code)]

#[cfg(feature = "sdk")]
pub mod deadline;
#[cfg(feature = "sdk")]
pub mod dynamo;
pub mod envelope;
#[cfg(feature = "sdk")]
pub mod lambda;
#[cfg(feature = "sdk")]
pub mod s3;
#[cfg(feature = "sdk")]
pub mod sink;
