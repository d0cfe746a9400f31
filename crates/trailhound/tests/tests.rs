//! The integration tests of the workspace, one binary (ripgrep's `tests/tests.rs` shape):
//! the engine on bad and public input, detectors, the CLI, the sample archive, the Lambda
//! handler with in-memory parts, and the real AWS clients against a local moto server.
#![allow(dead_code)]

mod support;

mod bad_input;
mod baselines;
mod cli;
mod concurrency;
mod detectors;
mod faults;
mod fetch_ahead;
mod formats;
mod group_split;
mod handler;
mod input_defects;
mod kinds;
mod lambda_batch;
mod lambda_e2e;
mod lambda_group;
mod lambda_publish;
mod lambda_replay_s3;
mod lambda_runtime;
mod lambda_sinks;
mod lambda_sinks_outbox;
mod lambda_state;
mod malformed;
mod no_leak;
mod order;
mod parallel;
mod public_data;
mod report;
mod samples;
mod supply_chain;
