//! The CloudTrail stream splitter and decoder (then detection), on a CloudTrail key.
#![no_main]
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0105Z_fuzz.json.gz";

fuzz_target!(|data: &[u8]| {
    trailhound_fuzz::decode_and_detect(KEY, data);
});
