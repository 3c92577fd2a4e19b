//! The spec parser must reject any input with errors, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = polaris_core::spec::parse_spec(text);
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = polaris_core::spec::parse_spec_value(&value);
    }
});
