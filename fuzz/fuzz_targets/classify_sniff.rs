//! Key classification and content sniffing: the first line is the key, the rest the
//! object's bytes (so the content decides when the key does not).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (key, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let key = String::from_utf8_lossy(key);
    let _ = trailhound_core::ingest::classify(&key);
    let _ = trailhound_core::ingest::key_time(&key);
    let _ = trailhound_core::ingest::log_like(&key);
    let _ = trailhound_aws::envelope::decode_key(&key);
    trailhound_fuzz::decode_and_detect(&key, body);
});
