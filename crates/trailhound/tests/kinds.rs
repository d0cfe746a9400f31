//! The `[match]` table's predicates and the `rule`, `window-threshold`, `sequence` and
//! `geo-velocity` kinds, through the engine, with detector files written in the tests. The
//! helpers are here; the tests are in one file per subject under `kinds/`.

mod geo_velocity;
mod matching;
mod rule;
mod sequence;
mod window_threshold;

use std::collections::BTreeMap;
use std::sync::Arc;

use trailhound_core::activity::{Activity, Normalizer, ParamValue, Source, decode_object};
use trailhound_core::alert::Finding;
use trailhound_core::centroids::country_distance_km;
use trailhound_core::detect::Engine;
use trailhound_core::detect::filter::declared_paths;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::{ObjectRef, classify};
use trailhound_core::record::Limits;
use trailhound_core::record::cloudtrail::{JsonPath, PathId, Paths, Scalar};
use trailhound_core::state::States;

use crate::support::common::assert_schema;

const T0: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOT: &str = "arn:aws:sts::111122223333:assumed-role/support-bot-role/botocore-session-1";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// The detector id of the files below (the finding schema holds findings to catalogue ids).
const ID: &str = "bedrock-probing";

/// A detector file: `kind`, then free TOML for `[match]` and `[params]` (in that order).
fn file(kind: &str, title: &str, rest: &str) -> String {
    format!(
        "id = \"{ID}\"\ntype = \"Test:IAMUser/Kind\"\nseverity = 7.0\nkind = \"{kind}\"\ncooldown = \"1h\"\ntitle = \"{title}\"\ndescription = \"{title}.\"\n{rest}\n"
    )
}

fn act(t: i64, name: &str) -> Activity {
    Activity {
        account: "111122223333".into(),
        event_source: "bedrock.amazonaws.com".into(),
        event_name: name.into(),
        access_key_id: Some(KEY.into()),
        source_ip: Some("3.218.54.201".parse().unwrap()),
        country: Some(*b"US"),
        user_agent: Some("aws-cli/2.15.0".into()),
        ..Activity::new(t, Source::Cloudtrail, ALICE)
    }
}

fn param(path: &str, v: ParamValue) -> (PathId, ParamValue) {
    (PathId::of(path), v)
}

fn text(s: &str) -> ParamValue {
    Scalar::Str(s.into())
}

struct Run {
    engine: Engine,
    states: States,
    /// Latest version of every finding, by id.
    findings: BTreeMap<String, Finding>,
}

impl Run {
    fn new(text: &str) -> Run {
        let engine = Engine::from_files(&[("x.toml".into(), text.into())], 7 * 86_400)
            .unwrap_or_else(|e| panic!("{e}"));
        Run {
            engine,
            states: States::default(),
            findings: BTreeMap::new(),
        }
    }

    /// Applies activities as one object; returns the findings it touched.
    fn apply(&mut self, mut acts: Vec<Activity>) -> Vec<Finding> {
        acts.sort_by_key(|a| a.time);
        let touched = self
            .engine
            .apply(&mut self.states, &acts, &ObjectRef::local("k"));
        assert_schema(&touched);
        for f in &touched {
            self.findings.insert(f.id.clone(), f.clone());
        }
        touched
    }

    fn only(&self) -> &Finding {
        assert_eq!(self.findings.len(), 1, "{:#?}", self.findings);
        self.findings.values().next().unwrap()
    }
}

/// The field and reason of the error loading `text`.
fn load_error(text: &str) -> (String, String) {
    match Engine::from_files(&[("x.toml".into(), text.into())], 0) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => (e.0[0].field.clone(), e.0[0].reason.clone()),
    }
}
