//! `finding-chain`: several different detectors raising findings on one principal within a
//! window: the steps of one attack (new country, enumeration, probes, model access enabled,
//! logging deleted, an invocation burst) read as one finding that lists them in order.
//!
//! ```toml
//! kind = "finding-chain"
//! [params]
//! window = "24h"           # the chain's findings all fall within this long
//! min_detectors = 3        # distinct detectors at least
//! detectors = []           # globs on the member detectors' ids (empty: every detector)
//! ```
//!
//! Its input is findings, not log records: the engine hands it every finding another
//! detector opens, at the event time of the activity that opened it (`[match]` is
//! ignored). Findings of `finding-chain` detectors are never members. The finding lists the
//! chain in event-time order with each member's finding id, detector and severity; a chain
//! that grows within the episode updates it.
//!
//! State caps: see `state::correlate` (32 links per principal, the oldest dropped; links
//! older than the window before the newest dropped).
//!
//! Template placeholders: [`PLACEHOLDERS`].

use serde::Deserialize;
use serde_json::json;

use crate::activity::{Activity, principal_name};
use crate::detect::matcher::Glob;
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, Signal, render};
use crate::state::correlate::Link;

/// Placeholders of `finding-chain` templates.
pub const PLACEHOLDERS: &[&str] = &["principal_name", "steps", "detectors", "window"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_window")]
    window: String,
    #[serde(default = "default_min")]
    min_detectors: usize,
    #[serde(default)]
    detectors: Vec<String>,
}

fn default_window() -> String {
    "24h".into()
}
fn default_min() -> usize {
    3
}

pub struct FindingChain {
    spec: Spec,
    window: i64,
    min_detectors: usize,
    members: Vec<Glob>,
}

impl FindingChain {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let window = super::duration("params.window", &p.window)?;
        if window > 7 * 86_400 {
            return Err(("params.window".into(), "at most 7d".into()));
        }
        if p.min_detectors < 2 {
            return Err((
                "params.min_detectors".into(),
                "at least 2: one detector's findings are not a chain".into(),
            ));
        }
        Ok(FindingChain {
            members: p.detectors.iter().map(|g| Glob::new(g)).collect(),
            spec,
            window,
            min_detectors: p.min_detectors,
        })
    }
}

impl Detector for FindingChain {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn observe(&self, _ctx: &mut Ctx<'_>, _a: &Activity) {}

    fn takes_findings(&self) -> bool {
        true
    }

    fn observe_finding(&self, ctx: &mut Ctx<'_>, a: &Activity, s: &Signal) {
        if !self.members.is_empty() && !self.members.iter().any(|g| g.is_match(&s.detector)) {
            return;
        }
        let chain = ctx
            .principal
            .kinds
            .chains
            .entry(self.spec.id.clone())
            .or_default();
        chain.add(
            Link {
                time: s.time,
                detector: s.detector.clone(),
                finding_id: s.finding_id.clone(),
                severity: s.severity,
            },
            self.window,
        );
        let links: Vec<Link> = chain.within(s.time, self.window).cloned().collect();
        let mut detectors: Vec<&str> = Vec::new();
        for l in &links {
            if !detectors.contains(&l.detector.as_str()) {
                detectors.push(&l.detector);
            }
        }
        if detectors.len() < self.min_detectors {
            return;
        }
        let start = links.first().map_or(s.time, |l| l.time);
        let Some(open) = ctx.alerts.raise(
            &self.spec,
            ctx.principal,
            a,
            "chain",
            start,
            links.len() as u64,
        ) else {
            return;
        };
        let f = &mut open.finding;
        f.count = links.len() as u64;
        let chain: Vec<_> = links
            .iter()
            .map(|l| {
                json!({
                    "time": crate::time::format(l.time),
                    "detector": l.detector,
                    "finding_id": l.finding_id,
                    "severity": l.severity,
                })
            })
            .collect();
        f.evidence.insert("chain".into(), json!(chain));
        f.evidence.insert("detectors".into(), json!(detectors));
        f.evidence.insert("window_secs".into(), json!(self.window));
        let vars = [
            ("principal_name", principal_name(&a.principal).to_string()),
            ("steps", links.len().to_string()),
            ("detectors", detectors.join(" → ")),
            ("window", crate::time::humanize(self.window)),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
