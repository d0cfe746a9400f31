//! Alerts: the finding (the contract of `shared/contracts/finding.schema.json`), its stable
//! id, cooldown-based dedup, and rendering for terminals and email.

mod finding;
pub mod render;

pub use finding::{Finding, SourceRef, finding_id, severity_label};
