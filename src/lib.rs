//! trailhound: threat detection for AI workloads on AWS.
//!
//! Data flows one way: ingest → record (decode) → activity (normalize) → state → detect →
//! alert → sink. The replay and Lambda drivers share everything but their sources and sinks.

pub mod activity;
pub mod geo;
pub mod ingest;
pub mod record;
pub mod time;
pub mod alert;
pub mod detect;
pub mod state;
