//! The secret scanner on prompt and completion bodies: any bytes, must return (linear time
//! is checked by the per-input timeout), and a reported secret is masked.
#![no_main]
use libfuzzer_sys::fuzz_target;
use trailhound_core::record::content::{ContentFlags, scan};

fuzz_target!(|data: &[u8]| {
    let mut flags = ContentFlags::default();
    scan(data, &mut flags);
    if let Some((_, masked)) = flags.activity_secret() {
        assert!(masked.len() <= 128, "a masked secret stays short");
    }
});
