//! Per-stage benches on the realistic benchmark data of `trailhound-samples bench` (cached
//! under `target/bench-data/`, generated on first use), so a regression shows where it is:
//!
//! - `realistic-2MB/*`: the realistic CloudTrail shape (thousands of principals) on a 2 MB
//!   file, stage by stage: `inflate`, `split+parse` (records cut out and parsed into the
//!   borrowed record struct), `decode+normalize` (activities, geo), `state-load-commit`
//!   (the in-memory store's load and commit for the object's entities), `detect` (every
//!   default detector over the activities, updating a copy of the loaded state);
//!   normalize alone is `decode+normalize` minus `split+parse`;
//! - `cloudtrail-100MB/*` and `uniform-100MB/*`: decode and decode+detect on the realistic
//!   100 MB file and on the old uniform file (4 principals, 5 event shapes), whose ratio is
//!   the cost of realistic data.
//!
//! `cargo bench -p trailhound-core --bench decode`; `bench/run.sh` runs the whole side by side.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailhound_core::activity::Activity;
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::pipeline::Pipeline;
use trailhound_core::record::cloudtrail::CtRecord;
use trailhound_core::record::split::{Piece, Splitter};
use trailhound_core::state::{MemoryStore, Store};
use trailhound_samples::bench::Case;

fn data() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    trailhound_samples::bench::ensure(&root.join("target/bench-data"), false)
        .expect("generating the benchmark data under target/bench-data")
}

fn case<'a>(cases: &'a [Case], name: &str) -> &'a Case {
    cases
        .iter()
        .find(|c| c.name == name)
        .expect("case in manifest")
}

/// The object key (relative to the case folder, as replay would see it) and its bytes.
fn object(c: &Case) -> (ObjectRef, Vec<u8>) {
    let key = c
        .path
        .to_string_lossy()
        .split_once("/AWSLogs/")
        .map(|(_, k)| format!("AWSLogs/{k}"))
        .expect("a key under AWSLogs/");
    (
        ObjectRef::s3("bench", &key, "etag"),
        std::fs::read(&c.path).expect("reading the bench file"),
    )
}

fn geo() -> Geo {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../geo/country.mmdb");
    if p.exists() {
        Geo::open(&p).expect("geo database")
    } else {
        Geo::none()
    }
}

/// Cuts the records out of a CloudTrail document and parses each; returns the count.
fn split_parse(raw: &[u8]) -> u64 {
    let r = trailhound_core::ingest::inflate::open(raw, u64::MAX).unwrap();
    let mut s = Splitter::new(r, 1 << 20);
    assert!(s.expect(b'{').unwrap());
    assert_eq!(s.key().unwrap().as_deref(), Some("Records"));
    assert!(s.expect(b':').unwrap() && s.expect(b'[').unwrap());
    let mut n = 0;
    loop {
        match s.value().unwrap() {
            Some(Piece::Record(b)) => {
                let rec: CtRecord = serde_json::from_slice(b).unwrap();
                std::hint::black_box(&rec);
                n += 1;
            }
            Some(_) => {}
            None => break,
        }
        if !s.expect(b',').unwrap() {
            break;
        }
    }
    n
}

fn pipeline<'a>(engine: &'a Engine, geo: &'a Geo) -> Pipeline<'a> {
    Pipeline {
        engine,
        geo,
        limits: Default::default(),
        since: None,
        until: None,
        newest_allowed: None,
    }
}

fn stages(c: &mut Criterion, cases: &[Case], engine: &Engine, geo: &Geo) {
    let small = case(cases, "callgrind");
    let (obj, raw) = object(small);
    let p = pipeline(engine, geo);
    let (_, acts) = p.decode(&obj, &raw[..]).unwrap();
    assert_eq!(acts.len() as u64, small.records);
    let keys = engine.entity_keys(&acts);

    let mut g = c.benchmark_group("realistic-2MB");
    g.throughput(Throughput::Bytes(small.inflated_bytes));
    g.bench_function("inflate", |b| {
        b.iter(|| {
            let mut r = trailhound_core::ingest::inflate::open(&raw[..], u64::MAX).unwrap();
            std::io::copy(&mut r, &mut std::io::sink()).unwrap()
        })
    });
    g.bench_function("split+parse", |b| {
        b.iter(|| assert_eq!(split_parse(&raw), small.records))
    });
    g.bench_function("decode+normalize", |b| {
        b.iter(|| p.decode(&obj, &raw[..]).unwrap().1.len())
    });
    g.bench_function("state-load-commit", |b| {
        b.iter(|| {
            let store = MemoryStore::new();
            let snap =
                futures::executor::block_on(store.load(std::slice::from_ref(&obj), &keys)).unwrap();
            futures::executor::block_on(store.commit(&[(&obj, &[])], &snap, snap.states.clone()))
                .unwrap();
        })
    });
    let store = MemoryStore::new();
    let snap = futures::executor::block_on(store.load(std::slice::from_ref(&obj), &keys)).unwrap();
    g.bench_function("detect", |b| {
        b.iter(|| {
            let mut states = snap.states.clone();
            engine.apply_counted(&mut states, &acts, &obj).0.len()
        })
    });
    g.finish();
}

fn whole(c: &mut Criterion, group: &str, case: &Case, engine: &Engine, geo: &Geo) {
    let (obj, raw) = object(case);
    let p = pipeline(engine, geo);
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Bytes(case.inflated_bytes));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let (d, acts) = p.decode(&obj, &raw[..]).unwrap();
            assert_eq!(d.records, case.records);
            acts.len()
        })
    });
    g.bench_function("decode+detect", |b| {
        b.iter(|| {
            let store = MemoryStore::new();
            let (_, acts): (_, Vec<Activity>) = p.decode(&obj, &raw[..]).unwrap();
            futures::executor::block_on(p.apply(&store, &obj, &acts, |_| true))
                .unwrap()
                .findings
                .len()
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let cases = data();
    let engine = Engine::defaults(7 * 86_400).unwrap();
    let geo = geo();
    stages(c, &cases, &engine, &geo);
    whole(
        c,
        "cloudtrail-100MB",
        case(&cases, "cloudtrail"),
        &engine,
        &geo,
    );
    whole(c, "uniform-100MB", case(&cases, "uniform"), &engine, &geo);
}

criterion_group!(decode, benches);
criterion_main!(decode);
