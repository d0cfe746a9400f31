//! trailhound: threat detection for AI workloads on AWS.
//!
//! Data flows one way: ingest → record (decode) → activity (normalize) → state → detect →
//! alert → sink. The replay and Lambda drivers share everything but their sources and sinks.

pub mod activity;
pub mod alert;
pub mod cli;
pub mod detect;
pub mod geo;
pub mod ingest;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod samples;
pub mod state;
pub mod time;

/// Runs the Lambda driver (filled in by the Lambda module).
pub fn lambda_main() -> i32 {
    eprintln!("the Lambda driver is not built yet");
    1
}
