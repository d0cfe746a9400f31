//! The `trailhound` binary's two drivers, thin: the CLI ([`cli`]) and the replay driver
//! ([`replay`]). The Lambda driver is `trailhound_aws::lambda`; the engine is
//! `trailhound_core`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod replay;
