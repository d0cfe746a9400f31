//! Lambda trigger envelopes (S3, SQS, SNS, EventBridge, nested): any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = trailhound_aws::envelope::Envelope::from_body(text);
    let _ = env.is_sqs();
    for d in env.deliveries() {
        for t in &d.targets {
            let _ = t.object.identity();
            let _ = trailhound_core::ingest::classify(&t.object.key);
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = trailhound_aws::envelope::Envelope::from_value(v).deliveries();
    }
});
