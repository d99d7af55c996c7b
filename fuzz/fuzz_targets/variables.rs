//! Fuzz variable substitution: the first line is a template, the others `name=value`
//! variables; references, substitution, bounded expansion (cycles, depth, size) and the
//! structure check of a filled manifest never panic.
#![no_main]

use std::collections::BTreeMap;

use kindproof::scenario::expand::{expand_all, fill_keeping_structure};
use kindproof::scenario::vars::{references, substitute};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let template = lines.next().unwrap_or_default().replace("\\n", "\n");
    let user: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("\\n", "\n")))
        .collect();
    let _ = references(&template);
    let _ = substitute(&template, |n| user.get(n).cloned());
    if let Ok(values) = expand_all(&user) {
        let _ = fill_keeping_structure(&template, |n| values.get(n).cloned());
    }
});
