//! What the fuzz targets share: one engine (the shipped detectors) built once, and decoding
//! an object through the pipeline then detection on what it yields, so a panic anywhere on
//! the path from bytes to findings (splitter, decoder, normalize, time checks, detectors,
//! state arithmetic) is a crash the fuzzer reports.

use std::sync::OnceLock;

use trailhound_core::detect::Engine;
use trailhound_core::geo::Geo;
use trailhound_core::ingest::ObjectRef;
use trailhound_core::pipeline::Pipeline;
use trailhound_core::record::Limits;

pub fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::defaults(0).expect("the shipped detectors load"))
}

pub fn geo() -> &'static Geo {
    static G: OnceLock<Geo> = OnceLock::new();
    G.get_or_init(Geo::none)
}

/// Small limits, so the fuzzer reaches the caps (inflated size, record size, records).
pub fn limits() -> Limits {
    Limits {
        max_object_bytes: 4 << 20,
        max_record_bytes: 64 << 10,
        max_records: 2_000,
        ..Limits::default()
    }
}

/// Decodes `data` as the object `key` and applies what it yields to fresh state.
pub fn decode_and_detect(key: &str, data: &[u8]) {
    let pipeline = Pipeline {
        engine: engine(),
        geo: geo(),
        limits: limits(),
        since: None,
        until: None,
        // Fixed, so a run does not depend on the wall clock.
        newest_allowed: Some(1_900_000_000),
    };
    let object = ObjectRef::s3("fuzz", key, "etag");
    let Ok((decoded, acts)) = pipeline.decode(&object, data) else {
        return;
    };
    assert_eq!(decoded.records, acts.len() as u64, "records counted = activities");
    let mut states = trailhound_core::state::States::default();
    for k in engine().entity_keys(&acts) {
        states.insert(k, Default::default());
    }
    let _ = engine().apply_counted(&mut states, &acts, &object);
}
