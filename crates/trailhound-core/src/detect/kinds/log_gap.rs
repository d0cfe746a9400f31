//! `log-gap`: Bedrock calls recorded in CloudTrail, for an account and region whose
//! model-invocation logs had been arriving, with no invocation-log record of the same
//! request id (logging silently switched off, redirected, or its delivery broken).
//!
//! ```toml
//! kind = "log-gap"
//! [match]                    # must let both logs through
//! sources = ["cloudtrail", "invocation"]
//! event_names = ["InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"]
//! [params]
//! grace = "3h"               # a record may arrive this long (event time) after its call
//! active = "7d"              # records seen within this long before a call: logging was on
//! min_missing = 5            # calls without their record before a finding
//! ```
//!
//! The join is by request id (CloudTrail's `requestID` is the invocation log's
//! `requestId`) on the entity `g#<account>/<region>`, in either arrival order: a record that
//! comes first waits for its call, a call waits `grace` for its record. A call is judged
//! missing when a later call of the same account and region is more than `grace` after it
//! (objects of both logs arrive minutes apart; the judgement needs no clock). Failed calls
//! (`errorCode`) have no record and are ignored. A record arriving again ends the run.
//! The finding lives on the account-and-region entity (one per account, region and
//! episode, whoever made the calls; its principal is the one whose call completed the run,
//! and the evidence lists the principals seen); later missing calls update it. While the
//! early-record map is full (a burst of records delivered before their CloudTrail calls),
//! calls that find no record are not judged, so a burst cannot raise a false gap.
//!
//! State caps: see `state::correlate` (1,024 waiting calls and 1,024 early records per
//! account and region, as 64-bit hashes).
//!
//! Template placeholders: [`PLACEHOLDERS`].

use serde::Deserialize;
use serde_json::json;

use super::rule::context_evidence;
use crate::activity::{Activity, Source, principal_name};
use crate::detect::spec::Spec;
use crate::detect::{Ctx, Detector, push_unique, render, thousands};
use crate::state::correlate::request_hash;

/// Placeholders of `log-gap` templates.
pub const PLACEHOLDERS: &[&str] = &[
    "principal_name",
    "account",
    "region",
    "missing",
    "grace",
    "last_record",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_grace")]
    grace: String,
    #[serde(default = "default_active")]
    active: String,
    #[serde(default = "default_min")]
    min_missing: u64,
}

fn default_grace() -> String {
    "3h".into()
}
fn default_active() -> String {
    "7d".into()
}
fn default_min() -> u64 {
    5
}

pub struct LogGap {
    spec: Spec,
    grace: i64,
    active: i64,
    min_missing: u64,
}

impl LogGap {
    pub fn new(spec: Spec) -> Result<Self, (String, String)> {
        let p: Params = super::params(&spec)?;
        let grace = super::duration("params.grace", &p.grace)?;
        let active = super::duration("params.active", &p.active)?;
        if grace > 86_400 {
            return Err(("params.grace".into(), "at most 1d".into()));
        }
        if active > 30 * 86_400 {
            return Err(("params.active".into(), "at most 30d".into()));
        }
        if p.min_missing == 0 {
            return Err(("params.min_missing".into(), "at least 1".into()));
        }
        let filter = &spec.filter;
        if !filter.can_see(Source::Cloudtrail) || !filter.can_see(Source::Invocation) {
            return Err((
                "match.sources".into(),
                "a log-gap joins both logs: let `cloudtrail` and `invocation` through".into(),
            ));
        }
        Ok(LogGap {
            spec,
            grace,
            active,
            min_missing: p.min_missing,
        })
    }
}

fn entity(a: &Activity) -> String {
    crate::concat::concat(&["g#", &a.account, "/", &a.region])
}

impl Detector for LogGap {
    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn has_extra_entities(&self) -> bool {
        true
    }

    fn extra_entities(&self, a: &Activity, out: &mut Vec<String>) {
        if a.request_id.is_some() {
            out.push(entity(a));
        }
    }

    fn observe(&self, ctx: &mut Ctx<'_>, a: &Activity) {
        let Some(rid) = a.request_id.as_deref() else {
            return;
        };
        let id = request_hash(rid);
        let state = ctx.others.entry(entity(a)).or_default();
        state.touch(a.time);
        let gap = state.kinds.gaps.entry(self.spec.id.clone()).or_default();
        match a.source {
            Source::Invocation => {
                gap.record(id, a.time, self.grace);
                return;
            }
            Source::Cloudtrail if a.error_code.is_some() => return,
            Source::Cloudtrail => {}
        }
        let late = gap.call(id, rid, a.time, self.grace, self.active);
        if late == 0 || gap.missing_run < self.min_missing {
            return;
        }
        let (run, since, last_record) = (gap.missing_run, gap.missing_since, gap.last_record);
        let samples = gap.missing.clone();
        let dedup = crate::concat::concat(&[&a.account, "/", &a.region]);
        let key = entity(a);
        let state = ctx.others.get_mut(&key).expect("loaded above");
        let Some(open) = ctx
            .alerts
            .raise_on(&self.spec, &key, state, a, &dedup, since, run)
        else {
            return;
        };
        let f = &mut open.finding;
        f.count = f.count.max(run);
        let ev = &mut f.evidence;
        ev.insert("missing_records".into(), json!(run));
        ev.insert("grace_secs".into(), json!(self.grace));
        ev.insert(
            "last_invocation_record".into(),
            json!(crate::time::format(last_record)),
        );
        for s in &samples {
            push_unique(ev, "missing_request_ids", s, 5);
        }
        context_evidence(ev, a);
        push_unique(ev, "principals", &a.principal_key, 10);
        let vars = [
            ("principal_name", principal_name(&a.principal).to_string()),
            ("account", a.account.to_string()),
            ("region", a.region.to_string()),
            ("missing", thousands(run)),
            ("grace", crate::time::humanize(self.grace)),
            ("last_record", crate::time::format(last_record)),
        ];
        f.title = render(&self.spec.title, &vars);
        f.description = render(&self.spec.description, &vars);
        f.subject = render(self.spec.subject_template(), &vars);
    }
}
