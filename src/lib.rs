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
pub mod lambda;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod samples;
pub mod sink;
pub mod state;
pub mod time;

/// Runs the Lambda driver (see [`lambda`]); returns the process exit code.
pub fn lambda_main() -> i32 {
    lambda::main()
}
