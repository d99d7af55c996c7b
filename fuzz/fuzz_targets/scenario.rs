//! Fuzz the scenario loader: any bytes go through the raw types and the conversion to the
//! validated model (with the repository's kind configs and no manifests) without a panic.
#![no_main]

use std::path::Path;

use kindproof::kind_config::version::KindVersion;
use kindproof::scenario::load::load_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A scenario directory that does not exist: manifests are "not found", kind configs come
    // from the repository's kind-configs/ (run from the repository root).
    let file = Path::new("scenarios/fuzz-does-not-exist/scenario.yaml");
    let _ = load_text(file, text, KindVersion::NEWEST_KNOWN);
});
