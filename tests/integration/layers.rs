//! The shape of the source tree, checked: every file opens with a `//!` line, no file's code
//! (before its tests) is over 500 lines, no two files import each other (directly or round a
//! loop), and the lower layers (`docker`, `kube_ops`) import neither `cluster` nor `runner`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// Every `src/**/*.rs` as (module path, text before its `#[cfg(test)]`).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(base).unwrap().with_extension("");
                let mut m = rel.to_string_lossy().replace('/', "::");
                if let Some(parent) = m.strip_suffix("::mod") {
                    m = parent.to_string();
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                out.insert(m, code);
            }
        }
    }
    let mut out = BTreeMap::new();
    let src = root().join("src");
    walk(&src, &src, &mut out);
    out
}

/// The module a `crate::…`/`super::…` path names (the longest prefix that is a file).
fn target(from: &str, path: &str, mods: &BTreeMap<String, String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = match parts.first() {
        Some(&"crate") => Vec::new(),
        Some(&"super") => from.split("::").collect(),
        _ => return None,
    };
    while parts.first() == Some(&"super") {
        base.pop();
        parts.remove(0);
    }
    if parts.first() == Some(&"crate") {
        parts.remove(0);
    }
    let full: Vec<&str> = base.into_iter().chain(parts).collect();
    (1..=full.len())
        .rev()
        .map(|k| full[..k].join("::"))
        .find(|m| mods.contains_key(m))
}

/// Which modules each module refers to (parents and children aside: they are one unit).
fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let re = regex_lite::Regex::new(r"\b(?:crate|super)(?:::\w+)+").unwrap();
    let mut out = BTreeMap::new();
    for (m, code) in mods {
        let to: BTreeSet<String> = re
            .find_iter(code)
            .filter_map(|x| target(m, x.as_str(), mods))
            .filter(|t| {
                t != m && !t.starts_with(&format!("{m}::")) && !m.starts_with(&format!("{t}::"))
            })
            .collect();
        out.insert(m.clone(), to);
    }
    out
}

#[test]
fn every_file_opens_with_its_responsibility_and_stays_short() {
    for entry in walkdir(&root().join("src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not open with a `//!` line",
            entry.display()
        );
        let code_lines = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .count();
        let is_test_file = entry.to_string_lossy().ends_with("_tests.rs");
        assert!(
            is_test_file || code_lines <= 500,
            "{} has {code_lines} lines of code (more than 500): split it",
            entry.display()
        );
    }
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn no_two_files_import_each_other() {
    let mods = modules();
    let graph = edges(&mods);
    // A loop exists when a module reaches itself: report the first one found.
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((m, path)) = stack.pop() {
            for next in &graph[&m] {
                if next == start {
                    panic!("import cycle: {} -> {start}", path.join(" -> "));
                }
                if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
}

#[test]
fn lower_layers_do_not_import_higher_ones() {
    let mods = modules();
    let graph = edges(&mods);
    for (m, to) in &graph {
        if m.starts_with("docker") || m.starts_with("kube_ops") {
            for t in to {
                assert!(
                    !t.starts_with("cluster")
                        && !t.starts_with("runner")
                        && !t.starts_with("commands"),
                    "{m} imports {t}: the Docker and Kubernetes layers sit below clusters and the runner"
                );
            }
        }
    }
}
