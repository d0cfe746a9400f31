//! `replay --jobs N`: objects decoded on N threads are applied in key-time order, so the
//! findings (and every counter of the summary) are those of `--jobs 1`; `--decode-only`
//! reads and counts the same records but raises nothing.

use crate::support::common;

use std::path::Path;
use std::process::{Command, Output};

fn replay(args: &[&str], path: &Path) -> Output {
    let geo = common::geoip();
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["replay", "--no-progress", "--format", "jsonl", "--geoip"])
        .arg(geo)
        .args(args)
        .arg(path)
        .current_dir(common::repo())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The summary's first line (counts); the second has the timing.
fn counts(out: &Output) -> String {
    let err = text(&out.stderr);
    err.lines()
        .find(|l| l.starts_with("objects read"))
        .unwrap_or_else(|| panic!("no summary in: {err}"))
        .to_string()
}

/// The finding lines' ids, for short assertion messages.
fn ids(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            format!("{} {}", v["detector"], v["id"])
        })
        .collect()
}

/// `other` ran and printed the same findings and summary counts as `base`.
fn assert_same(other: &Output, base: &Output, what: &str) {
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    assert_eq!(ids(other), ids(base), "{what}");
    assert!(
        other.stdout == base.stdout,
        "{what}: same ids, different findings"
    );
    assert_eq!(counts(other), counts(base), "{what}");
}

#[test]
fn jobs_give_the_same_findings_on_the_samples() {
    let samples = common::repo().join("samples");
    let one = replay(&["--jobs", "1"], &samples);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert!(ids(&one).len() >= 5, "{:?}", ids(&one));
    for jobs in ["2", "3", "8"] {
        let many = replay(&["--jobs", jobs], &samples);
        assert_same(&many, &one, &format!("--jobs {jobs}"));
    }
}

#[test]
fn jobs_give_the_same_findings_on_a_generated_archive() {
    // 192 objects of the many-small-objects benchmark shape (thousands of principals, one
    // hour): with no learning period the baseline detectors fire, and what they raise
    // depends on the order state is updated in.
    let dir = tempfile::tempdir().unwrap();
    let case = trailhound_samples::bench::small_archive(dir.path(), 1).unwrap();
    assert_eq!(case.objects, 192);
    let one = replay(&["--jobs", "1", "--learning", "0s"], dir.path());
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let findings = text(&one.stdout).lines().count();
    assert!(findings > 10, "{findings} findings: {}", counts(&one));
    assert!(
        counts(&one).starts_with(&format!(
            "objects read 192 (cloudtrail 192); skipped 0 (none); failed 0 (none); records {}",
            case.records
        )),
        "{}",
        counts(&one)
    );
    for jobs in ["2", "5"] {
        let many = replay(&["--jobs", jobs, "--learning", "0s"], dir.path());
        assert_same(&many, &one, &format!("--jobs {jobs}"));
    }
}

#[test]
fn decode_only_reads_every_record_and_raises_nothing() {
    let samples = common::repo().join("samples");
    let full = replay(&[], &samples);
    let only = replay(&["--decode-only", "--jobs", "2"], &samples);
    assert_eq!(only.status.code(), Some(0), "{}", text(&only.stderr));
    assert_eq!(text(&only.stdout), "");
    let records = |s: &str| {
        s.split("; records ")
            .nth(1)
            .map(|r| r.split(';').next().unwrap().to_string())
    };
    assert_eq!(records(&counts(&only)), records(&counts(&full)));
    assert!(
        counts(&only).contains("findings 0 (none)"),
        "{}",
        counts(&only)
    );
}

/// One object of at least a MiB with more jobs than objects: it is inflated on a thread of
/// its own while it is parsed, and gives what `--jobs 1` gives; cut short, it fails the same.
#[test]
fn a_large_object_inflated_ahead_gives_the_same_findings() {
    use std::io::{Read, Write};
    // The samples' CloudTrail records in one object (no key time, so none is out of range).
    let mut records = Vec::new();
    let mut files = walk(&common::repo().join("samples"));
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.to_string_lossy().contains("/CloudTrail/"))
    {
        let mut text = String::new();
        let gz = std::fs::File::open(f).unwrap();
        // The samples' defects (a truncated object, bad records) are left out.
        if flate2::read::MultiGzDecoder::new(gz)
            .read_to_string(&mut text)
            .is_err()
        {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if let Some(r) = doc["Records"].as_array() {
            records.extend(r.iter().cloned());
        }
    }
    assert!(records.len() > 10_000, "{}", records.len());
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    serde_json::to_writer(&mut enc, &serde_json::json!({ "Records": records })).unwrap();
    let gz = enc.finish().unwrap();
    assert!(
        gz.len() >= 1 << 20,
        "{} bytes: under the inflate-ahead size",
        gz.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("merged.json.gz");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&gz)
        .unwrap();
    let one = replay(&["--jobs", "1"], &path);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert!(ids(&one).len() > 10, "{}", counts(&one));
    assert_same(&replay(&["--jobs", "2"], &path), &one, "inflated ahead");
    // Cut short: the object fails whole, with the same error, either way.
    std::fs::write(&path, &gz[..gz.len() - 40]).unwrap();
    let one = replay(&["--jobs", "1"], &path);
    assert!(
        counts(&one).contains("; failed 1 (inflate 1);"),
        "{}",
        counts(&one)
    );
    assert_eq!(text(&one.stdout), "");
    let ahead = replay(&["--jobs", "2"], &path);
    assert_same(&ahead, &one, "inflated ahead, cut short");
    let error = |o: &Output| {
        text(&o.stderr)
            .lines()
            .find(|l| l.contains("merged.json.gz"))
            .map(|l| l.split_once("merged.json.gz").unwrap().1.to_string())
    };
    assert!(error(&one).is_some(), "{}", text(&one.stderr));
    assert_eq!(error(&ahead), error(&one));
}

#[test]
fn jobs_zero_is_a_usage_error() {
    let out = replay(&["--jobs", "0"], &common::repo().join("samples"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--jobs"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn objects_past_the_segment_size_are_applied_in_parts_with_the_same_findings() {
    // `--segment-records 3`: every object of the generated archive (about 17 records each)
    // is decoded whole, then read again and applied in parts of 3. One object is cut short:
    // it fails whole before any of it is applied, as it does when held whole.
    let dir = tempfile::tempdir().unwrap();
    trailhound_samples::bench::small_archive(dir.path(), 1).unwrap();
    let mut objects: Vec<_> = walk(dir.path());
    objects.sort();
    let cut = &objects[objects.len() / 2];
    let bytes = std::fs::read(cut).unwrap();
    std::fs::write(cut, &bytes[..bytes.len() - 40]).unwrap();
    let whole = replay(&["--learning", "0s", "--segment-records", "0"], dir.path());
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    assert!(ids(&whole).len() > 10, "{}", counts(&whole));
    assert!(
        counts(&whole).contains("; failed 1 (inflate 1);"),
        "{}",
        counts(&whole)
    );
    for jobs in ["1", "2"] {
        let parts = replay(
            &["--learning", "0s", "--segment-records", "3", "--jobs", jobs],
            dir.path(),
        );
        assert_same(&parts, &whole, &format!("parts of 3, --jobs {jobs}"));
    }
    // Continued from a state file, the parts already applied are not applied again.
    let state = dir.path().join("state.json");
    let args = [
        "--learning",
        "0s",
        "--segment-records",
        "3",
        "--state",
        state.to_str().unwrap(),
    ];
    let first = replay(&args, dir.path());
    assert!(first.stdout == whole.stdout, "{}", text(&first.stderr));
    let again = replay(&args, dir.path());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "gz") {
            out.push(p);
        }
    }
    out
}
