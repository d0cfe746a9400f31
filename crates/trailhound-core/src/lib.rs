//! trailhound-core: the engine, with no AWS SDK and no async runtime.
//!
//! Data flows one way, and each module imports only the modules before it (a test,
//! `layering`, reads the sources and fails on an import back up):
//!
//! ```text
//! ingest ──► record ──► activity ──► state ──► detect ──► alert ──► pipeline, events
//! (keys,     (typed     (normalize,  (windows, (detector  (ids,      (the per-object path
//!  inflate)   records,   decode      baselines, files,    dedup,     both drivers share;
//!             splitter)  objects)    Store)    kinds)     formats)   what happened to it)
//! ```
//!
//! `time`, `geo` (with its `centroids`) and `finding` (the contract types of a finding,
//! which state keeps in its outbox) sit below all of them. The AWS parts (S3, DynamoDB,
//! SNS, Lambda) live in `trailhound-aws`, which depends on this crate and never the other
//! way.
#![forbid(unsafe_code)]

pub mod centroids;
pub mod concat;
pub mod finding;
pub mod geo;
pub mod time;

pub mod ingest;

pub mod record;

pub mod activity;

pub mod state;

pub mod detect;

pub mod alert;

pub mod events;
pub mod pipeline;
pub mod prices;

#[cfg(test)]
mod layering;
#[cfg(test)]
mod test_rng;
