//! The `[match]` table of a detector file: which activities a detector looks at. Compiled
//! once when the file loads; checked once per activity and detector.

use serde::Deserialize;

use crate::activity::{Activity, Source};

/// Activity filter; an empty list matches everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `cloudtrail`, `invocation`.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// e.g. `bedrock.amazonaws.com`.
    #[serde(default)]
    pub event_sources: Vec<String>,
    /// e.g. `InvokeModel`.
    #[serde(default)]
    pub event_names: Vec<String>,
    /// `userIdentity.type` values, e.g. `AssumedRole`, `IAMUser`.
    #[serde(default)]
    pub principal_types: Vec<String>,
    /// `false`: only successful calls; `true`: only failed calls; absent: both.
    #[serde(default)]
    pub errors: Option<bool>,
}

impl Filter {
    pub fn matches(&self, a: &Activity) -> bool {
        (self.sources.is_empty() || self.sources.contains(&a.source))
            && (self.event_sources.is_empty()
                || self.event_sources.iter().any(|s| **s == *a.event_source))
            && (self.event_names.is_empty()
                || self.event_names.iter().any(|s| **s == *a.event_name))
            && (self.principal_types.is_empty()
                || self
                    .principal_types
                    .iter()
                    .any(|s| **s == *a.principal_type))
            && self.errors.is_none_or(|e| e == a.error_code.is_some())
    }
}
