//! Helpers for the replay tests: options, runs, schema checks, fixtures.

use std::path::{Path, PathBuf};

use trailhound::replay::{self, Options, Output};
use trailhound_core::alert::Finding;

pub use super::moto::repo;

pub fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

pub use super::geoip;

pub fn options(paths: &[&Path]) -> Options {
    Options {
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        geoip: Some(geoip()),
        learning: 7 * 86_400,
        ..Default::default()
    }
}

pub fn run(opts: &Options) -> Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(replay::run(opts)).expect("replay runs")
}

/// Validates every finding against the contract schema.
pub fn assert_schema(findings: &[Finding]) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema/finding.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for f in findings {
        let v = serde_json::to_value(f).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "finding {} violates the schema: {errors:?}",
            f.id
        );
    }
}

/// Reads findings from a JSON Lines file.
pub fn read_jsonl(path: &Path) -> Vec<Finding> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a finding"))
        .collect()
}

/// Writes a gzip file.
pub fn gz(path: &Path, data: &[u8]) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(data).unwrap();
    e.finish().unwrap();
}
