//! The finding: the contract of `schema/finding.schema.json` (one JSON object per finding),
//! its stable id and its GuardDuty-style severity label. Plain data below every stage: the
//! state keeps open findings and the outbox, detect raises them, alert renders them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A security finding, schema version 1 (a contract: see docs/ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub schema_version: u32,
    pub id: String,
    pub detector: String,
    #[serde(rename = "type")]
    pub finding_type: String,
    pub severity: f64,
    pub severity_label: String,
    pub title: String,
    pub description: String,
    /// The detector's `subject` template rendered for this finding; SNS subjects are
    /// `[<severity_label>] <detector>: <subject>`, cut under 100 characters. Empty in findings
    /// stored before subjects existed (the title stands in).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    pub account: String,
    pub region: String,
    pub principal: String,
    pub principal_key: String,
    pub principal_type: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    pub evidence: serde_json::Map<String, serde_json::Value>,
    pub sources: Vec<SourceRef>,
    /// MITRE ATT&CK technique ids (`T1496.004`) and AWS threat technique catalog ids
    /// (`T1496.A007`) of the detector.
    #[serde(default)]
    pub attack: Vec<String>,
    /// MITRE ATLAS technique ids (`AML.T0034`) of the detector.
    #[serde(default)]
    pub atlas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub bucket: String,
    pub key: String,
}

/// Longest title a finding carries (`schema/finding.schema.json`), in characters.
pub const MAX_TITLE_CHARS: usize = 200;

impl Finding {
    /// Cuts the title to [`MAX_TITLE_CHARS`] with a trailing `…`: a template with a long
    /// value (a chain of many detectors, a long session name) must not break the schema.
    pub fn cap_title(&mut self) {
        if self.title.chars().count() > MAX_TITLE_CHARS {
            let cut: String = self.title.chars().take(MAX_TITLE_CHARS - 1).collect();
            self.title = format!("{}…", cut.trim_end());
        }
    }
}

/// GuardDuty's bands: Low 1.0–3.9, Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0.
pub fn severity_label(severity: f64) -> &'static str {
    match severity {
        s if s >= 9.0 => "Critical",
        s if s >= 7.0 => "High",
        s if s >= 4.0 => "Medium",
        _ => "Low",
    }
}

/// Stable id: the same detector, principal key, dedup key and episode start give the same id.
pub fn finding_id(
    detector: &str,
    principal_key: &str,
    dedup_key: &str,
    episode_start: i64,
) -> String {
    let mut h = Sha256::new();
    for part in [
        detector,
        principal_key,
        dedup_key,
        &episode_start.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_labels_follow_guardduty() {
        let a = finding_id("invoke-spike", "arn:aws:iam::1:role/r", "m", 100);
        assert_eq!(
            a,
            finding_id("invoke-spike", "arn:aws:iam::1:role/r", "m", 100)
        );
        assert_ne!(
            a,
            finding_id("invoke-spike", "arn:aws:iam::1:role/r", "m", 160)
        );
        assert_eq!(a.len(), 32);
        assert_eq!(severity_label(3.9), "Low");
        assert_eq!(severity_label(7.5), "High");
        assert_eq!(severity_label(9.0), "Critical");
    }
}
