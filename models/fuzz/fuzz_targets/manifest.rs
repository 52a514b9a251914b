//! Fuzzes the package manifest parser: `Manifest::from_json` must return (never panic) on any
//! UTF-8 input, and every accepted manifest must be valid and survive serialisation (compact
//! and pretty, as `Manifest::save` writes it) → `from_json` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reticle_models::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let manifest = match Manifest::from_json(text) {
        Ok(m) => m,
        Err(message) => {
            assert!(!message.is_empty(), "empty error message for {text:?}");
            return;
        }
    };
    assert_eq!(manifest.validate(), Ok(()), "accepted an invalid manifest");
    // Every named file is a plain relative name, never empty.
    for file in manifest.files() {
        assert!(!file.is_empty(), "empty file name in {manifest:?}");
    }
    for json in [
        serde_json::to_string(&manifest),
        serde_json::to_string_pretty(&manifest),
    ] {
        let json = json.unwrap_or_else(|e| panic!("cannot serialise {manifest:?}: {e}"));
        let again = Manifest::from_json(&json)
            .unwrap_or_else(|e| panic!("re-serialised manifest does not parse: {e}: {json}"));
        assert_eq!(again, manifest, "round trip changed the manifest: {json}");
    }
});
