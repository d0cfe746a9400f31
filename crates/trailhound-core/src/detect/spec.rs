//! The detector file format (`detectors/*.toml`). These structs' doc comments are the user
//! documentation of each field.

use std::path::Path;

use serde::Deserialize;

pub use super::filter::Filter;
use super::matcher::{Cidr, Glob};
use crate::activity::Activity;

/// One detector file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Stable detector id (a contract), e.g. `invoke-spike`.
    pub id: String,
    /// GuardDuty-style finding type, `ThreatPurpose:ResourceType/ThreatFamily`.
    #[serde(rename = "type")]
    pub finding_type: String,
    /// 1.0–10.0 on GuardDuty's scale.
    pub severity: f64,
    /// Title template; `{placeholders}` are filled per finding (see each kind's docs).
    pub title: String,
    /// Description template, same placeholders.
    pub description: String,
    /// Repeats within this long of the last event update the same finding (`15m`, `6h`, `1d`).
    #[serde(default = "default_cooldown")]
    pub cooldown: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The detector kind, which decides what `params` means.
    pub kind: String,
    /// Which activities the detector looks at.
    #[serde(default, rename = "match")]
    pub filter: Filter,
    /// Kind-specific parameters.
    #[serde(default)]
    pub params: toml::Table,
    /// Known-good activity that must not raise findings, each with a reason.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
}

fn default_cooldown() -> String {
    "1h".into()
}

fn yes() -> bool {
    true
}

/// Suppresses findings for matching activity. Every non-empty list must match (and within a
/// list any entry may); `reason` is required so the file documents why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub reason: String,
    /// Globs on the principal key or ARN, e.g. `arn:aws:iam::*:role/load-test-*`.
    #[serde(default)]
    pub principals: Vec<String>,
    /// Source address blocks, e.g. `203.0.113.0/24`.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// Two-letter country codes.
    #[serde(default)]
    pub countries: Vec<String>,
    /// Globs on the user agent.
    #[serde(default)]
    pub user_agents: Vec<String>,
}

/// A suppression compiled for matching.
#[derive(Debug, Clone)]
pub struct CompiledSuppression {
    principals: Vec<Glob>,
    cidrs: Vec<Cidr>,
    countries: Vec<String>,
    user_agents: Vec<Glob>,
}

impl CompiledSuppression {
    pub fn compile(s: &Suppression) -> Result<Self, (String, String)> {
        if s.reason.trim().is_empty() {
            return Err((
                "suppress.reason".into(),
                "a suppression needs a reason".into(),
            ));
        }
        if s.principals.is_empty()
            && s.cidrs.is_empty()
            && s.countries.is_empty()
            && s.user_agents.is_empty()
        {
            return Err((
                "suppress".into(),
                "a suppression must name principals, cidrs, countries or user_agents".into(),
            ));
        }
        let cidrs = s
            .cidrs
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("suppress.cidrs".to_string(), e))?;
        Ok(CompiledSuppression {
            principals: s.principals.iter().map(|p| Glob::new(p)).collect(),
            cidrs,
            countries: s.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            user_agents: s.user_agents.iter().map(|p| Glob::new(p)).collect(),
        })
    }

    pub fn matches(&self, a: &Activity) -> bool {
        (self.principals.is_empty()
            || self
                .principals
                .iter()
                .any(|g| g.is_match(&a.principal_key) || g.is_match(&a.principal)))
            && (self.cidrs.is_empty()
                || a.source_ip
                    .is_some_and(|ip| self.cidrs.iter().any(|c| c.contains(ip))))
            && (self.countries.is_empty()
                || a.country
                    .is_some_and(|c| self.countries.iter().any(|x| x.as_bytes() == c)))
            && (self.user_agents.is_empty()
                || a.user_agent
                    .as_deref()
                    .is_some_and(|ua| self.user_agents.iter().any(|g| g.is_match(ua))))
    }
}

/// A detector file that failed to load: the file, the field and the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {field}: {reason}")]
pub struct SpecError {
    pub file: String,
    pub field: String,
    pub reason: String,
}

impl Spec {
    /// Parses and checks the common fields of one file.
    pub fn parse(file: &str, text: &str) -> Result<Spec, SpecError> {
        let err = |field: &str, reason: String| SpecError {
            file: file.into(),
            field: field.into(),
            reason,
        };
        let spec: Spec = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let field = msg
                .split('`')
                .nth(1)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    line.map(|l| format!("line {l}"))
                        .unwrap_or_else(|| "(file)".into())
                });
            err(
                &field,
                format!(
                    "{msg}{}",
                    line.map(|l| format!(" (line {l})")).unwrap_or_default()
                ),
            )
        })?;
        if !super::valid_id(&spec.id) {
            return Err(err(
                "id",
                format!(
                    "`{}` is not a detector id: use 1-64 lowercase letters, digits and hyphens, starting with a letter",
                    spec.id
                ),
            ));
        }
        if !(1.0..=10.0).contains(&spec.severity) {
            return Err(err(
                "severity",
                format!("{} is outside 1.0–10.0", spec.severity),
            ));
        }
        let ty_ok = spec.finding_type.split_once(':').is_some_and(|(p, r)| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_alphabetic())
                && r.split_once('/')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        });
        if !ty_ok {
            return Err(err(
                "type",
                format!(
                    "`{}` is not ThreatPurpose:ResourceType/ThreatFamily",
                    spec.finding_type
                ),
            ));
        }
        if crate::time::parse_duration(&spec.cooldown).is_none() {
            return Err(err(
                "cooldown",
                format!("`{}` is not a duration such as 30m, 6h, 1d", spec.cooldown),
            ));
        }
        if spec.title.trim().is_empty() {
            return Err(err("title", "must not be empty".into()));
        }
        Ok(spec)
    }

    pub fn cooldown_secs(&self) -> i64 {
        crate::time::parse_duration(&self.cooldown).unwrap_or(3600)
    }
}

/// Reads every `*.toml` in a folder, sorted by name.
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!("could not read the detectors folder {}: {e}", dir.display())
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("could not read {}: {e}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no detector files (*.toml) in {}",
        dir.display()
    );
    Ok(files)
}
