//! Records into S3 objects: keys, delivery delay, gzip, and the kinds a reader
//! skips (digest, insight, large body, permission check, zero-byte object).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::cast::{LOG_BUCKET, ML, ORG, PROD, TRAIL, USE1, USW2};
use super::json::{J, iso, key_parts};
use super::rng::Rng;
use super::{DAY, HOUR, Out, Rec, SEED, START, Summary};

struct Writer<'a> {
    root: &'a Path,
    objects: usize,
    bytes: u64,
}

impl Writer<'_> {
    fn put(&mut self, key: &str, data: &[u8]) -> anyhow::Result<()> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        self.objects += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

/// Records grouped by (account, region, delivery hour), each with its delivery
/// time and arrival sequence.
type Batches = BTreeMap<(&'static str, &'static str, i64), Vec<(i64, usize, i64, J)>>;

fn batch(recs: Vec<Rec>, rng: &mut Rng, delay: (i64, i64)) -> Batches {
    let mut files = Batches::new();
    for (seq, r) in recs.into_iter().enumerate() {
        let delivered = r.t + rng.range(delay.0, delay.1);
        files
            .entry((r.acct, r.region, delivered.div_euclid(HOUR)))
            .or_default()
            .push((delivered, seq, r.t, r.body));
    }
    for v in files.values_mut() {
        // delivery order: close to, but not strictly, event-time order
        v.sort_by_key(|r| (r.0, r.1));
    }
    files
}

/// A CloudTrail log file as a digest lists it.
struct LogFile {
    acct: &'static str,
    region: &'static str,
    key: String,
    written: i64,
    oldest: i64,
    newest: i64,
    hash: String,
}

pub fn write(root: &Path, o: Out) -> anyhow::Result<Summary> {
    let mut rng = Rng::stream(SEED, "archive");
    let mut w = Writer {
        root,
        objects: 0,
        bytes: 0,
    };
    let mut records = 0;
    let mut logs = Vec::new();

    // CloudTrail: one object per account, region and delivery hour; delivered
    // 5 to 15 minutes after the event.
    for ((acct, region, _), recs) in batch(o.ct, &mut rng, (300, 900)) {
        let written = recs.last().map_or(0, |r| r.0);
        let (day, minute, _, _) = key_parts(written);
        let key = format!(
            "AWSLogs/{ORG}/{acct}/CloudTrail/{region}/{day}/{acct}_CloudTrail_{region}_{minute}_{}.json.gz",
            rng.alnum(16)
        );
        let mut buf = Vec::with_capacity(recs.len() * 1200);
        buf.extend_from_slice(b"{\"Records\":[");
        for (i, r) in recs.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            r.3.write(&mut buf);
        }
        buf.extend_from_slice(b"]}");
        records += recs.len();
        w.put(&key, &gzip(&buf)?)?;
        let oldest = recs.iter().map(|r| r.2).min().unwrap_or(written);
        let newest = recs.iter().map(|r| r.2).max().unwrap_or(written);
        logs.push(LogFile {
            acct,
            region,
            key,
            written,
            oldest,
            newest,
            hash: rng.hex(64),
        });
    }

    // Bedrock invocation logs: one JSON Lines object per account, region and hour,
    // a minute or few after the call.
    for ((acct, region, _), recs) in batch(o.inv, &mut rng, (40, 200)) {
        let written = recs.last().map_or(0, |r| r.0);
        let (day, _, second, hh) = key_parts(written);
        let key = format!(
            "AWSLogs/{acct}/BedrockModelInvocationLogs/{region}/{day}/{hh}/{second}_{}.json.gz",
            rng.hex(16)
        );
        let mut buf = Vec::with_capacity(recs.len() * 1500);
        for r in &recs {
            r.3.write(&mut buf);
            buf.push(b'\n');
        }
        records += recs.len();
        w.put(&key, &gzip(&buf)?)?;
    }

    // Large request bodies Bedrock wrote beside the logs.
    for d in &o.data {
        let (day, _, _, hh) = key_parts(d.t);
        let key = format!(
            "AWSLogs/{}/BedrockModelInvocationLogs/{}/{day}/{hh}/data/{}.json.gz",
            d.acct, d.region, d.name
        );
        let mut buf = Vec::new();
        d.body.write(&mut buf);
        w.put(&key, &gzip(&buf)?)?;
    }

    // The marker object Bedrock writes when logging is configured.
    for acct in [PROD, ML] {
        let key = format!(
            "AWSLogs/{acct}/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check"
        );
        w.put(
            &key,
            b"Amazon Bedrock model invocation logging permission check\n",
        )?;
    }

    // Two digest files.
    digest(
        &mut w,
        &mut rng,
        &logs,
        PROD,
        USE1,
        START + HOUR + 36 * 60 + 49,
    )?;
    digest(
        &mut w,
        &mut rng,
        &logs,
        ML,
        USW2,
        START + 4 * DAY + 14 * HOUR + 12 * 60 + 5,
    )?;

    insight(&mut w, &mut rng)?;

    // An empty object where a log file would be.
    let t = START + 5 * DAY + 4 * HOUR + 15 * 60;
    let (day, minute, _, _) = key_parts(t);
    let key = format!(
        "AWSLogs/{ORG}/{ML}/CloudTrail/{USW2}/{day}/{ML}_CloudTrail_{USW2}_{minute}_{}.json.gz",
        rng.alnum(16)
    );
    w.put(&key, b"")?;

    Ok(Summary {
        objects: w.objects,
        records,
        bytes: w.bytes,
    })
}

/// A digest covering the hour before `end`, listing the log files written in it.
fn digest(
    w: &mut Writer,
    rng: &mut Rng,
    logs: &[LogFile],
    acct: &str,
    region: &str,
    end: i64,
) -> anyhow::Result<()> {
    let start = end - HOUR;
    let listed: Vec<&LogFile> = logs
        .iter()
        .filter(|l| l.acct == acct && l.region == region && (start..end).contains(&l.written))
        .collect();
    let (day, _, second, _) = key_parts(end);
    let (prev_day, _, prev_second, _) = key_parts(start);
    let key = format!(
        "AWSLogs/{ORG}/{acct}/CloudTrail-Digest/{region}/{day}/{acct}_CloudTrail-Digest_{region}_{TRAIL}_{region}_{second}.json.gz"
    );
    let prev = format!(
        "AWSLogs/{ORG}/{acct}/CloudTrail-Digest/{region}/{prev_day}/{acct}_CloudTrail-Digest_{region}_{TRAIL}_{region}_{prev_second}.json.gz"
    );
    let newest = listed.iter().map(|l| l.newest).max();
    let oldest = listed.iter().map(|l| l.oldest).min();
    let files: Vec<J> = listed
        .iter()
        .map(|l| {
            obj! {
                "s3Bucket": LOG_BUCKET,
                "s3Object": &l.key,
                "hashValue": &l.hash,
                "hashAlgorithm": "SHA-256",
                "newestEventTime": iso(l.newest),
                "oldestEventTime": iso(l.oldest),
            }
        })
        .collect();
    let body = obj! {
        "awsAccountId": acct,
        "digestStartTime": iso(start),
        "digestEndTime": iso(end),
        "digestS3Bucket": LOG_BUCKET,
        "digestS3Object": &key,
        "digestPublicKeyFingerprint": rng.hex(32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": newest.map(iso),
        "oldestEventTime": oldest.map(iso),
        "previousDigestS3Bucket": LOG_BUCKET,
        "previousDigestS3Object": prev,
        "previousDigestHashValue": rng.hex(64),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": rng.hex(512),
        "logFiles": files,
    };
    let mut buf = Vec::new();
    body.write(&mut buf);
    w.put(&key, &gzip(&buf)?)
}

/// A CloudTrail Insights file: the start and end of a call-rate insight on the CI
/// role's Lambda deploys.
fn insight(w: &mut Writer, rng: &mut Rng) -> anyhow::Result<()> {
    let begin = START + 5 * DAY + 16 * HOUR + 3 * 60;
    let end = begin + 5 * 60;
    let shared = rng.uuid();
    let rec = |rng: &mut Rng, state: &str, t: i64| {
        let mut stats = obj! {
            "baseline": obj! { "average": J::Num("0.0041") },
            "insight": obj! { "average": J::Num("0.6") },
        };
        if state == "End" {
            stats.push("insightDuration", 5);
            stats.push("baselineDuration", 10080);
        }
        obj! {
            "eventVersion": "1.08",
            "eventTime": iso(t),
            "awsRegion": USE1,
            "eventID": rng.uuid(),
            "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": ML,
            "sharedEventID": &shared,
            "insightDetails": obj! {
                "state": state,
                "eventSource": "lambda.amazonaws.com",
                "eventName": "UpdateFunctionCode20150331v2",
                "insightType": "ApiCallRateInsight",
                "insightContext": obj! { "statistics": stats },
            },
            "eventCategory": "Insight",
        }
    };
    let start_rec = rec(rng, "Start", begin);
    let end_rec = rec(rng, "End", end);
    let mut buf = b"{\"Records\":[".to_vec();
    start_rec.write(&mut buf);
    buf.push(b',');
    end_rec.write(&mut buf);
    buf.extend_from_slice(b"]}");
    let written = end + 17 * 60;
    let (day, minute, _, _) = key_parts(written);
    let key = format!(
        "AWSLogs/{ORG}/{ML}/CloudTrail-Insight/{USE1}/{day}/{ML}_CloudTrail-Insight_{USE1}_{minute}_{}.json.gz",
        rng.alnum(16)
    );
    w.put(&key, &gzip(&buf)?)
}
