//! The Bedrock model-invocation log decoder (JSON Lines, content scan, then detection).
#![no_main]
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/10/01/01/20261001T010500Z_fuzz.json.gz";

fuzz_target!(|data: &[u8]| {
    trailhound_fuzz::decode_and_detect(KEY, data);
});
