//! trailhound-aws: trailhound on AWS. The S3 source ([`s3`]), the DynamoDB store
//! ([`dynamo`]), the sinks ([`sink`]), the Lambda trigger envelopes ([`envelope`]) and the
//! Lambda driver ([`lambda`]). The engine is `trailhound-core`; nothing here decides what a
//! finding is, only where objects come from, where state lives and where findings go.
#![forbid(unsafe_code)]

pub mod deadline;
pub mod dynamo;
pub mod envelope;
pub mod lambda;
pub mod s3;
pub mod sink;
