//! The CI recipe the README shows (`docs/ci/github-actions.yml`) stays true: it parses, and
//! every command it runs exists — kindproof's subcommands and their flags, the make targets,
//! the nextest profile and test target.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{kindproof, root, text};

/// Every `run:` of every step of every job.
fn runs(workflow: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        for step in job["steps"].as_array().expect("steps") {
            if let Some(r) = step["run"].as_str() {
                out.push(r.to_string());
            }
        }
    }
    out
}

fn help(args: &[&str]) -> String {
    let o = kindproof().args(args).arg("--help").output().unwrap();
    assert!(o.status.success(), "{args:?} --help: {}", text(&o).1);
    text(&o).0
}

#[test]
fn the_ci_recipe_parses_and_names_only_commands_that_exist() {
    let path = root().join("docs/ci/github-actions.yml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let workflow: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let targets: BTreeSet<&str> = makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && !t.contains([' ', '\t', '$', '.', '=']))
        .collect();
    let nextest = std::fs::read_to_string(root().join(".config/nextest.toml")).unwrap();
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let mut seen = 0;
    for run in runs(&workflow) {
        let words: Vec<&str> = run.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "kindproof") {
            // `cargo run -q --bin kindproof -- <sub> …`
            let rest: Vec<&str> = words[i + 1..]
                .iter()
                .skip_while(|w| **w == "--")
                .copied()
                .collect();
            let sub = rest[0];
            let top = help(&[]);
            assert!(
                top.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
                "kindproof has no subcommand {sub:?} ({run})"
            );
            let mut scope = vec![sub];
            if sub == "pool" {
                scope.push(rest[1]);
            }
            let sub_help = help(&scope);
            for flag in rest.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    sub_help.contains(flag),
                    "kindproof {scope:?} has no {flag} ({run})"
                );
            }
            seen += 1;
        }
        if words.first() == Some(&"make") {
            for t in &words[1..] {
                assert!(targets.contains(t), "the Makefile has no target {t:?}");
            }
            seen += 1;
        }
        if words.starts_with(&["cargo", "nextest", "run"]) {
            let profile = words
                .iter()
                .skip_while(|w| **w != "--profile")
                .nth(1)
                .unwrap();
            assert!(
                nextest.contains(&format!("[profile.{profile}]")),
                "no nextest profile {profile}"
            );
            let test = words.iter().skip_while(|w| **w != "--test").nth(1).unwrap();
            assert!(
                cargo.contains(&format!("name = \"{test}\"")),
                "no test target {test}"
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 6,
        "the recipe runs too few commands checked here: {seen}"
    );
}
