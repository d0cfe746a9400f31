//! The detector file format (`detectors/*.toml`). These structs' doc comments are the user
//! documentation of each field.

use std::path::Path;

use serde::Deserialize;

pub use super::filter::Filter;
use super::matcher::{Cidr, Glob};
use super::testcase::TestCase;
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
    /// SNS subject template, same placeholders: subjects read `[High] <id>: <subject>` and are
    /// cut under 100 characters. Absent: the title.
    #[serde(default)]
    pub subject: Option<String>,
    /// The episode period (`15m`, `6h`, `1d`): the events that raise or update a finding for
    /// one principal and dedup key within one aligned period of this length (UTC, counted from
    /// the epoch) are one finding, with one id, whatever order they arrive in; the next period
    /// opens a new finding. Field name kept from the first round, where it was a cooldown
    /// after the last event (which made ids depend on arrival order).
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
    /// MITRE ATT&CK technique ids (`T1496`, `T1496.004`) and AWS threat technique catalog ids
    /// (`T1496.A007`); findings carry them.
    #[serde(default)]
    pub attack: Vec<String>,
    /// MITRE ATLAS technique ids (`AML.T0034`, `AML.T0024.002`); findings carry them.
    #[serde(default)]
    pub atlas: Vec<String>,
    /// URLs of the public rules and research the detector resembles.
    #[serde(default)]
    pub references: Vec<String>,
    /// What legitimate activity can raise this finding, and how to tell it apart.
    #[serde(default)]
    pub false_positives: Option<String>,
    /// `[[test]]` cases as written; checked at load into [`Spec::tests`].
    #[serde(default, rename = "test")]
    test_tables: Vec<toml::Value>,
    /// The `[[test]]` cases, run by `trailhound detectors test` (see [`super::testcase`]).
    #[serde(skip)]
    pub tests: Vec<TestCase>,
}

fn default_cooldown() -> String {
    "1h".into()
}

fn yes() -> bool {
    true
}

/// Suppresses findings for matching activity. Every non-empty list must match (and within a
/// list any entry may); `reason` is required so the file documents why.
///
/// `expires` (an RFC 3339 date `2027-03-31`, meaning its start in UTC, or date-time) ends a
/// suppression: it applies to activity whose **event time** is before it. Event time, not
/// the wall clock, so a replay of old logs suppresses exactly what the Lambda suppressed when
/// the events were new, and a Lambda (whose events are minutes old) stops suppressing at the
/// expiry. A suppression already expired by the wall clock when the file loads is reported:
/// a warning naming the file, the suppression's reason and the date.
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
    /// When the suppression stops applying (see above).
    #[serde(default)]
    pub expires: Option<String>,
}

impl Suppression {
    /// `expires` in Unix seconds (`Err`: not a date or date-time).
    pub fn expires_at(&self) -> Result<Option<i64>, String> {
        let Some(e) = &self.expires else {
            return Ok(None);
        };
        let t = if e.len() == 10 {
            crate::time::parse(&format!("{e}T00:00:00Z"))
        } else {
            crate::time::parse(e)
        };
        t.map(Some).ok_or_else(|| {
            format!(
                "`{e}` is not an RFC 3339 date (2027-03-31) or date-time (2027-03-31T12:00:00Z)"
            )
        })
    }
}

/// A suppression compiled for matching.
#[derive(Debug, Clone)]
pub struct CompiledSuppression {
    principals: Vec<Glob>,
    cidrs: Vec<Cidr>,
    countries: Vec<String>,
    user_agents: Vec<Glob>,
    /// Unix seconds; activity at or after it is not suppressed.
    expires: Option<i64>,
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
        let expires = s
            .expires_at()
            .map_err(|e| ("suppress.expires".to_string(), e))?;
        Ok(CompiledSuppression {
            expires,
            principals: s.principals.iter().map(|p| Glob::new(p)).collect(),
            cidrs,
            countries: s.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            user_agents: s.user_agents.iter().map(|p| Glob::new(p)).collect(),
        })
    }

    pub fn matches(&self, a: &Activity) -> bool {
        self.expires.is_none_or(|e| a.time < e) && self.criteria_match(a)
    }

    /// Whether the suppression would match `a` but for having expired before its time.
    pub fn matches_expired(&self, a: &Activity) -> bool {
        self.expires.is_some_and(|e| a.time >= e) && self.criteria_match(a)
    }

    fn criteria_match(&self, a: &Activity) -> bool {
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

/// The text before the first `[[test]]` header, when every header after it opens a test
/// table or one of its sub-tables (`[test.template]`), so the cut text holds every field but
/// the tests. A later line starting with `[` that is anything else (another table, or an
/// array continued on its own line) gives `None`: the whole file is parsed.
fn before_tests(text: &str) -> Option<&str> {
    let mut cut = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        match cut {
            None if t.starts_with("[[test]]") => cut = Some(offset),
            Some(_)
                if t.starts_with('[')
                    && !["[[test]]", "[test.", "[[test."]
                        .iter()
                        .any(|h| t.starts_with(h)) =>
            {
                return None;
            }
            _ => {}
        }
        offset += line.len();
    }
    cut.map(|c| &text[..c])
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
    /// Parses and checks one file, its `[[test]]` cases included.
    pub fn parse(file: &str, text: &str) -> Result<Spec, SpecError> {
        Self::parse_with(file, text, true)
    }

    /// Parses and checks one file to run it: its `[[test]]` cases are neither read nor
    /// checked (`trailhound detectors validate` and `test` do that). They are about half of
    /// each shipped file's text, and parsing them was 60% of loading the detectors (callgrind:
    /// 16 M of 27 M instructions, on every Lambda cold start and every replay).
    pub fn parse_rule(file: &str, text: &str) -> Result<Spec, SpecError> {
        if let Some(head) = before_tests(text)
            && let Ok(spec) = Self::parse_with(file, head, false)
        {
            return Ok(spec);
        }
        // No test section to cut off, or the cut fell inside a multi-line string: the whole
        // text, so errors name the file's own lines.
        Self::parse_with(file, text, false)
    }

    fn parse_with(file: &str, text: &str, tests: bool) -> Result<Spec, SpecError> {
        let err = |field: &str, reason: String| SpecError {
            file: file.into(),
            field: field.into(),
            reason,
        };
        let mut spec: Spec = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let field = error_field(text, &e).unwrap_or_else(|| {
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
        spec.check_metadata().map_err(|(f, r)| err(&f, r))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        for (i, s) in spec.suppress.iter().enumerate() {
            let field = |f: &str| format!("suppress[{i}].{f}");
            if s.reason.trim().is_empty() {
                return Err(err(
                    &field("reason"),
                    "a suppression needs a reason: say why this activity is known-good".into(),
                ));
            }
            let expires = s.expires_at().map_err(|e| err(&field("expires"), e))?;
            if let Some(t) = expires
                && t <= now
            {
                tracing::warn!(
                    file,
                    detector = %spec.id,
                    reason = %s.reason,
                    expires = s.expires.as_deref().unwrap_or(""),
                    "a suppression has expired and no longer applies: renew its expires date or remove it"
                );
            }
        }
        if tests {
            spec.tests =
                super::testcase::parse_all(&spec.test_tables).map_err(|(f, r)| err(&f, r))?;
        }
        spec.test_tables = Vec::new();
        Ok(spec)
    }

    pub fn cooldown_secs(&self) -> i64 {
        crate::time::parse_duration(&self.cooldown).unwrap_or(3600)
    }

    /// The SNS subject template: `subject`, else the title.
    pub fn subject_template(&self) -> &str {
        self.subject.as_deref().unwrap_or(&self.title)
    }

    /// Templates (placeholders known to the kind, subject length), technique ids, references.
    fn check_metadata(&self) -> Result<(), (String, String)> {
        let known = super::kinds::placeholders(&self.kind);
        // An unknown kind is reported by the kind check, with the list of kinds.
        if !known.is_empty() {
            let templates = [
                ("title", Some(&self.title)),
                ("description", Some(&self.description)),
                ("subject", self.subject.as_ref()),
            ];
            for (field, template) in templates {
                let Some(template) = template else { continue };
                if let Some(p) = placeholders(template).find(|p| !known.contains(p)) {
                    return Err((
                        field.into(),
                        format!("unknown placeholder {{{p}}} (known: {})", known.join(", ")),
                    ));
                }
            }
        }
        if let Some(subject) = &self.subject {
            // `[Critical] <id>: ` plus the template's own text must leave room under 100.
            let fixed = "[Critical] ".len()
                + self.id.len()
                + 2
                + placeholders(subject).fold(subject.chars().count(), |n, p| n - p.len() - 2);
            if subject.trim().is_empty() || fixed >= 100 {
                return Err((
                    "subject".into(),
                    format!(
                        "must be a short line: with `[Critical] {}: ` it is {fixed} characters before placeholders are filled, and SNS subjects stay under 100",
                        self.id
                    ),
                ));
            }
        }
        for id in &self.attack {
            if !attack_id(id) {
                return Err((
                    "attack".into(),
                    format!(
                        "`{id}` is not a MITRE ATT&CK technique id (T1496, T1496.004) or an AWS threat technique catalog id (T1496.A007)"
                    ),
                ));
            }
        }
        for id in &self.atlas {
            if !atlas_id(id) {
                return Err((
                    "atlas".into(),
                    format!("`{id}` is not a MITRE ATLAS technique id (AML.T0034, AML.T0024.002)"),
                ));
            }
        }
        for url in &self.references {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() > 10
                && !url.chars().any(char::is_whitespace);
            if !ok {
                return Err((
                    "references".into(),
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
        }
        Ok(())
    }
}

/// The `{placeholders}` of a template, found the way `render` finds them: `{` up to the next
/// `}`, when what is between is a name (letters, digits, `_`). Other braces are text.
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    let mut rest = template;
    std::iter::from_fn(move || {
        loop {
            let i = rest.find('{')?;
            let after = &rest[i + 1..];
            let j = after.find('}')?;
            let name = &after[..j];
            rest = &after[j + 1..];
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Some(name);
            }
        }
    })
}

/// `T1496`, `T1496.004` (ATT&CK) or `T1496.A007` (AWS threat technique catalog).
fn attack_id(id: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    match rest.split_once('.') {
        None => digits(rest, 4),
        Some((t, sub)) => {
            digits(t, 4) && (digits(sub, 3) || sub.strip_prefix('A').is_some_and(|n| digits(n, 3)))
        }
    }
}

/// `AML.T0034` or `AML.T0024.002`.
fn atlas_id(id: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = id.strip_prefix("AML.T") else {
        return false;
    };
    match rest.split_once('.') {
        None => digits(rest, 4),
        Some((t, sub)) => digits(t, 4) && digits(sub, 3),
    }
}

/// The field a TOML error is about: the key path at the error's position (`params.window`,
/// `test[1].expect`), else the first backticked word of the message (`missing field `x``).
pub(crate) fn error_field(text: &str, e: &toml::de::Error) -> Option<String> {
    let msg = e.message();
    let named = msg.split('`').nth(1).map(str::to_string);
    let start = e.span().map(|s| s.start);
    if msg.starts_with("missing field") {
        // The error points at the table that lacks the field.
        let table = start.and_then(|p| key_path_at(text, p, true));
        return match (table, named) {
            (Some(t), Some(n)) => Some(format!("{t}.{n}")),
            (_, n) => n,
        };
    }
    start.and_then(|p| key_path_at(text, p, false)).or(named)
}

/// The dotted key path (`params.window`, `test[1].events[0].at`) of the innermost key or
/// value at byte `pos` of a TOML document (with `tables`, of the innermost table).
pub(crate) fn key_path_at(text: &str, pos: usize, tables: bool) -> Option<String> {
    use std::ops::Range;
    use toml::de::{DeTable, DeValue};
    struct Find {
        pos: usize,
        tables: bool,
        best: Option<(usize, String)>,
    }
    impl Find {
        fn table(&mut self, table: &DeTable<'_>, path: &str) {
            for (k, v) in table.iter() {
                let p = if path.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{path}.{}", k.get_ref())
                };
                self.value(v.get_ref(), v.span(), Some(k.span()), p);
            }
        }
        fn value(
            &mut self,
            v: &DeValue<'_>,
            span: Range<usize>,
            key: Option<Range<usize>>,
            path: String,
        ) {
            let candidate = !self.tables || matches!(v, DeValue::Table(_));
            for s in [Some(span), key].into_iter().flatten() {
                let len = s.end.saturating_sub(s.start);
                if candidate
                    && s.contains(&self.pos)
                    && self.best.as_ref().is_none_or(|(l, _)| len <= *l)
                {
                    self.best = Some((len, path.clone()));
                }
            }
            match v {
                DeValue::Table(t) => self.table(t, &path),
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item.get_ref(), item.span(), None, format!("{path}[{i}]"));
                    }
                }
                _ => {}
            }
        }
    }
    let doc = DeTable::parse(text).ok()?;
    let mut find = Find {
        pos,
        tables,
        best: None,
    };
    find.table(doc.get_ref(), "");
    find.best.map(|(_, p)| p)
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

#[cfg(test)]
mod tests;
