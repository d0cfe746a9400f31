//! Deterministic sample log archive: nine days (2026-10-01 .. 2026-10-09 UTC) of
//! CloudTrail and Bedrock model-invocation logs for two accounts of organization
//! `o-a1b2c3d4e5`, laid out as in an S3 log archive, with attacks on the last days
//! (`attacks`: A to C; `llmjacking`: D to F; `machines`: G, the training job's
//! exfiltration night) and benign traps that make detectors noisy
//! in practice (`traps`). The same bytes come out on every run and machine: a seeded
//! splitmix64 stream per actor, no clock, no hash-map order, gzip with mtime 0.
//! Currently 1,046 objects, 29,574 records, 3,736,632 bytes (see the tests).
//!
//! Layout of the module: `cast` (names, ids, IPs, user agents), `rng`, `json`
//! (ordered JSON), `ct` (CloudTrail shapes), `calls` (the API calls actors make),
//! `bedrock` (a model call in both logs), `content` (synthetic prompts); the
//! baseline actors in `bots`, `humans` (alice), `bob`, `contractor`, `machines`
//! (training job, CI) and `services`; `attacks`; `archive` (objects, keys, gzip).
#![forbid(unsafe_code)]

#[macro_use]
mod json;
mod archive;
pub mod attacks;
mod bedrock;
pub mod bench;
mod bench_ct;
mod bench_inv;
mod bob;
mod bots;
mod calls;
pub mod cast;
mod content;
mod contractor;
mod ct;
mod humans;
mod llmjacking;
mod machines;
mod rng;
mod services;
mod traps;

use std::path::Path;

use json::J;

/// What `generate` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Objects written, skipped kinds (digest, insight, large body, permission
    /// check, zero-byte) included.
    pub objects: usize,
    /// CloudTrail records plus invocation-log lines in the objects a reader
    /// processes (the skipped kinds are not counted).
    pub records: usize,
    /// Sum of the object sizes, all objects (file-system blocks not counted).
    pub bytes: u64,
}

/// Writes the archive under `out` (`out/AWSLogs/...`). Existing files with the same
/// keys are overwritten; nothing else under `out` is touched.
pub fn generate(out: &Path) -> anyhow::Result<Summary> {
    archive::write(out, build(true))
}

/// The same archive without the attacks: the benign traffic alone, on which no
/// detector may fire.
pub fn generate_benign(out: &Path) -> anyhow::Result<Summary> {
    archive::write(out, build(false))
}

/// Every record of the archive, before it is cut into objects.
fn build(with_attacks: bool) -> Out {
    let mut o = Out::default();
    bots::support_bot(&mut o);
    bots::summarizer(&mut o);
    humans::alice(&mut o);
    bob::bob(&mut o);
    contractor::contractor(&mut o);
    machines::training(&mut o, with_attacks);
    machines::ci(&mut o);
    services::services(&mut o);
    if with_attacks {
        attacks::invoke_spike(&mut o);
        attacks::stolen_key(&mut o);
        attacks::training_data(&mut o);
        llmjacking::llmjacking(&mut o);
        llmjacking::secret_in_prompt(&mut o);
        llmjacking::jailbreak(&mut o);
        // Invocation logging deleted in PROD us-east-1: no record written there from then on.
        o.inv.retain(|r| {
            !(r.acct == cast::PROD && r.region == cast::USE1 && r.t >= llmjacking::LOGGING_OFF)
        });
    }
    traps::traps(&mut o);
    o
}

/// Seed of every stream.
const SEED: u64 = 0x7472_6169_6c68_6f75; // "trailhou"
/// 2026-10-01T00:00:00Z
pub const START: i64 = 1_790_812_800;
pub const DAYS: i64 = 9;
pub const END: i64 = START + DAYS * 86_400; // exclusive
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Start of day `d` (0 = 2026-10-01).
fn day_start(d: i64) -> i64 {
    START + d * DAY
}

/// Monday = 0 .. Sunday = 6; 2026-10-01 is a Thursday.
fn weekday(d: i64) -> i64 {
    (d + 3) % 7
}

fn is_weekday(d: i64) -> bool {
    weekday(d) < 5
}

/// One log record on its way to an object.
pub(crate) struct Rec {
    pub acct: &'static str,
    pub region: &'static str,
    pub t: i64,
    pub body: J,
}

/// A large request body Bedrock offloaded to `.../data/`.
pub(crate) struct DataObj {
    pub acct: &'static str,
    pub region: &'static str,
    pub t: i64,
    pub name: String,
    pub body: J,
}

#[derive(Default)]
pub(crate) struct Out {
    pub ct: Vec<Rec>,
    pub inv: Vec<Rec>,
    pub data: Vec<DataObj>,
}

impl Out {
    fn ct(&mut self, ev: &ct::Ev) {
        self.ct.push(Rec {
            acct: ev.recipient,
            region: ev.region,
            t: ev.t,
            body: ev.to_json(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over every record as written (before gzip and object cutting).
    fn fingerprint(o: &Out) -> (usize, usize, u64) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut buf = Vec::new();
        for r in o.ct.iter().chain(&o.inv) {
            buf.clear();
            r.body.write(&mut buf);
            for b in &buf {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        (o.ct.len(), o.inv.len(), h)
    }

    #[test]
    fn records_are_the_same_every_run() {
        assert_eq!(fingerprint(&build(true)), fingerprint(&build(true)));
    }

    #[test]
    fn attack_counts() {
        let o = build(true);
        let (from, to) = attacks::SPIKE_WINDOW;
        let spike = o
            .inv
            .iter()
            .filter(|r| (from..to).contains(&r.t) && r.acct == cast::PROD && r.region == cast::USE1)
            .count();
        assert_eq!(spike, attacks::SPIKE_CALLS);
        // Successful model calls in CloudTrail, each with whether it falls in the logging gap
        // (PROD us-east-1 after the attacker deleted the logging configuration): failed
        // calls and calls in the gap write no invocation-log record.
        let calls: Vec<(bool, bool)> =
            o.ct.iter()
                .filter_map(|r| {
                    let mut b = Vec::new();
                    r.body.write(&mut b);
                    let s = String::from_utf8_lossy(&b);
                    let bedrock = r#""eventSource":"bedrock.amazonaws.com","eventName":"#;
                    let invoke = s.contains(&format!(r#"{bedrock}"InvokeModel""#));
                    let call = invoke || s.contains(&format!(r#"{bedrock}"Converse""#));
                    let in_gap = r.acct == cast::PROD
                        && r.region == cast::USE1
                        && r.t >= llmjacking::LOGGING_OFF;
                    (call && !s.contains(r#""errorCode""#)).then_some((in_gap, invoke))
                })
                .collect();
        let logged = calls.iter().filter(|(gap, _)| !gap).count();
        assert_eq!(
            logged,
            o.inv.len(),
            "every logged model call is in both logs"
        );
        let unlogged = calls.iter().filter(|(gap, invoke)| *gap && *invoke).count();
        assert!(
            unlogged >= 5,
            "the logging gap has calls without records: {unlogged}"
        );
        assert!(
            o.ct.iter()
                .chain(&o.inv)
                .all(|r| (START..END).contains(&r.t))
        );
    }

    #[test]
    fn writes_a_small_archive() {
        let dir = std::env::temp_dir().join(format!("trailhound-samples-{}", std::process::id()));
        let s = generate(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(s.objects > 1000 && s.records > 25_000, "{s:?}");
        assert!(s.bytes < 4_000_000, "{s:?}");
    }
}
