//! Fuzz the kind-config loader: any bytes are loaded (strictly), defaulted and checked against
//! every kind version's rules without a panic.
#![no_main]

use std::path::Path;

use kindproof::kind_config::check::ConfigCheck;
use kindproof::kind_config::load::load_str;
use kindproof::kind_config::version::KindVersion;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("fuzz.yaml");
    if let Ok(cluster) = load_str(file, text) {
        for v in ["0.17.0", "0.20.0", "0.21.0", "0.33.0"] {
            let version: KindVersion = v.parse().expect("a known version");
            let check = ConfigCheck::run(file, &cluster, version);
            let _ = check.verdict();
        }
    }
});
