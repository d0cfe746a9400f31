//! Decode alone and decode + detect on a generated CloudTrail file of about 100 MB (inflated).
//!
//! `cargo bench --bench decode`; `TRAILHOUND_BENCH_MB` changes the size. The file is also
//! written to `target/bench-data/` so `scripts/bench.sh` can time a whole replay of it.

use std::io::Write;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::pipeline::Pipeline;
use trailhound_core::state::MemoryStore;

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0000Z_bench.json.gz";

/// A realistic mix: Bedrock invocations by app roles, S3 data events, console and CLI calls.
fn record(i: u64, out: &mut String) {
    let t = 1_790_000_000 + i / 20; // ~20 events per second
    let ts = trailhound_core::time::format(t as i64);
    let role = [
        "support-bot-role",
        "summarizer-role",
        "etl-role",
        "web-role",
    ][(i % 4) as usize];
    let ip = format!("54.{}.{}.{}", 80 + i % 7, (i / 7) % 250, 1 + i % 200);
    let (source, name, params) = match i % 5 {
        0 | 1 => (
            "bedrock.amazonaws.com",
            "InvokeModel",
            r#"{"modelId":"anthropic.claude-3-5-sonnet-20240620-v1:0"}"#.to_string(),
        ),
        2 => (
            "s3.amazonaws.com",
            "GetObject",
            format!(
                r#"{{"bucketName":"acme-app-assets","Host":"acme-app-assets.s3.us-east-1.amazonaws.com","key":"static/img/{i}.png"}}"#
            ),
        ),
        3 => (
            "ec2.amazonaws.com",
            "DescribeInstances",
            r#"{"instancesSet":{},"filterSet":{}}"#.to_string(),
        ),
        _ => ("sts.amazonaws.com", "GetCallerIdentity", "null".to_string()),
    };
    out.push_str(&format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:botocore-session-{s}","arn":"arn:aws:sts::111122223333:assumed-role/{role}/botocore-session-{s}","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE{k:05}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/{role}","accountId":"111122223333","userName":"{role}"}},"attributes":{{"creationDate":"{ts}","mfaAuthenticated":"false"}}}}}},"eventTime":"{ts}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"Boto3/1.35.50 md/Botocore#1.35.50 ua/2.0 os/linux#6.8.0-1016-aws md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.50","requestParameters":{params},"responseElements":null,"requestID":"{i:08x}-1ef0-4460-97af-26528a80b511","eventID":"{i:08x}-eef1-4d64-9620-77af8f372ae7","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        s = t / 3600,
        k = i % 1000,
        host = source.replace(".amazonaws.com", ".us-east-1.amazonaws.com"),
    ));
}

/// Writes (once) and returns the gzip file and its inflated size.
pub fn bench_file() -> (PathBuf, u64, u64) {
    let mb: u64 = std::env::var("TRAILHOUND_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join(format!("cloudtrail-{mb}MB.json.gz"));
    let meta = dir.join(format!("cloudtrail-{mb}MB.meta"));
    if let (true, Ok(m)) = (path.exists(), std::fs::read_to_string(&meta)) {
        let mut it = m.split_whitespace().map(|v| v.parse::<u64>().unwrap());
        return (path, it.next().unwrap(), it.next().unwrap());
    }
    std::fs::create_dir_all(&dir).unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    let mut written = 0u64;
    let mut n = 0u64;
    let mut buf = String::with_capacity(4096);
    enc.write_all(b"{\"Records\":[").unwrap();
    while written < mb * 1_000_000 {
        buf.clear();
        if n > 0 {
            buf.push(',');
        }
        record(n, &mut buf);
        enc.write_all(buf.as_bytes()).unwrap();
        written += buf.len() as u64;
        n += 1;
    }
    enc.write_all(b"]}").unwrap();
    enc.finish().unwrap();
    std::fs::write(&meta, format!("{} {}", written + 14, n)).unwrap();
    (path, written + 14, n)
}

fn benches(c: &mut Criterion) {
    let (path, inflated, records) = bench_file();
    let raw = std::fs::read(&path).unwrap();
    eprintln!(
        "bench file {}: {} MB gzip, {} MB inflated, {records} records",
        path.display(),
        raw.len() / 1_000_000,
        inflated / 1_000_000
    );
    let geo_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geo/country.mmdb");
    let geo = if geo_path.exists() {
        Geo::open(&geo_path).unwrap()
    } else {
        Geo::none()
    };
    let engine = Engine::defaults(7 * 86_400).unwrap();
    let pipeline = Pipeline {
        engine: &engine,
        geo: &geo,
        limits: Default::default(),
        since: None,
        until: None,
        newest_allowed: None,
    };
    let object = ObjectRef::s3("bench", KEY, "etag");

    let mut g = c.benchmark_group("cloudtrail-100MB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(inflated));
    g.bench_function("inflate-only", |b| {
        b.iter(|| {
            let mut r = trailhound_core::ingest::inflate::open(&raw[..], u64::MAX).unwrap();
            std::io::copy(&mut r, &mut std::io::sink()).unwrap()
        })
    });
    // The naive way, for the ratio: the whole document through serde_json::from_reader.
    g.bench_function("baseline-from_reader-value", |b| {
        b.iter(|| {
            let r = trailhound_core::ingest::inflate::open(&raw[..], u64::MAX).unwrap();
            let v: serde_json::Value = serde_json::from_reader(r).unwrap();
            v["Records"].as_array().map(|a| a.len()).unwrap_or(0)
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let (d, acts) = pipeline.decode(&object, &raw[..]).unwrap();
            assert_eq!(d.records, records);
            acts.len()
        })
    });
    g.bench_function("decode+detect", |b| {
        b.iter(|| {
            let store = MemoryStore::new();
            let (_, acts) = pipeline.decode(&object, &raw[..]).unwrap();
            futures::executor::block_on(pipeline.apply(&store, &object, &acts, |_| true))
                .unwrap()
                .findings
                .len()
        })
    });
    g.finish();
}

criterion_group!(decode, benches);
criterion_main!(decode);
