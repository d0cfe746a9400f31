//! Alerts: what the detectors' findings become for people and machines: rendering for
//! terminals, email and SNS subjects. The finding itself (the contract of
//! `schema/finding.schema.json`), its stable id and severity label live in [`crate::finding`].

pub mod asff;
pub mod ocsf;
pub mod output;
pub mod render;

pub use crate::finding::{Finding, SourceRef, finding_id, severity_label};
pub use output::OutputContext;
