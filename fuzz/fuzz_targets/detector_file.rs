//! The detector file parser and the engine built from it (merged over the shipped files).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = trailhound_core::detect::spec::Spec::parse("fuzz.toml", text);
    let files = vec![("fuzz.toml".to_string(), text.to_string())];
    let _ = trailhound_core::detect::Engine::merged(&files, 86_400);
});
