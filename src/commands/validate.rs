//! `kindproof validate`: kind's verdict on each config for the chosen kind version, located,
//! and what kindproof will do about it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::AppError;
use crate::kind_cli::rules_version;
use crate::kind_config::check::{ConfigCheck, Verdict};
use crate::kind_config::load::load_file;
use crate::kind_config::validate::Cause;
use crate::kind_config::version::KindVersion;

/// Expand directories into their `*.yaml`/`*.yml` files (sorted); files stay as given.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, AppError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(AppError::io(format!("read directory {}", input.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(AppError::InvalidInput(format!(
                    "{}: no *.yaml files in this directory",
                    input.display()
                )));
            }
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

/// The report for one file, and whether it is usable.
pub fn report(path: &Path, version: KindVersion) -> (String, bool) {
    match load_file(path) {
        Ok(loaded) => render(path, &ConfigCheck::run(path, &loaded.cluster, version)),
        Err(e) => (format!("error  {e}\n"), false),
    }
}

/// The report for a config already checked, and whether it is usable.
pub fn render(path: &Path, check: &ConfigCheck) -> (String, bool) {
    let mut out = String::new();
    let version = check.version;
    let kind_says = |out: &mut String| {
        if let Some(msg) = &check.kind_message {
            let _ = writeln!(
                out,
                "  kind {version} would say: ERROR: failed to create cluster: {msg}"
            );
        }
    };
    match check.verdict() {
        Verdict::Valid => {
            let _ = writeln!(out, "ok     {}", path.display());
            (out, true)
        }
        Verdict::ResolvedByKindproof => {
            let _ = writeln!(
                out,
                "ok     {} (kind {version} rejects it as written; kindproof runs it)",
                path.display()
            );
            for p in &check.problems {
                let _ = writeln!(out, "  {}: {}: {}", p.position, p.field, p.message);
            }
            kind_says(&mut out);
            let _ = writeln!(
                out,
                "  kindproof resolves these ports itself: the config it hands kind names a concrete free host port for each random mapping, so the cluster will start."
            );
            (out, true)
        }
        Verdict::Invalid => {
            let _ = writeln!(out, "error  {}", path.display());
            for p in &check.blocking {
                let who = if p.cause == Cause::KindproofOnly {
                    "kindproof: "
                } else {
                    ""
                };
                let _ = writeln!(out, "  {}: {}: {who}{}", p.position, p.field, p.message);
            }
            kind_says(&mut out);
            (out, false)
        }
    }
}

pub fn run(kind_version: Option<KindVersion>, files: &[PathBuf]) -> Result<(), AppError> {
    let (version, source) = rules_version(kind_version)?;
    if crate::scenario::load::names_scenarios(files) {
        return scenarios(version, files);
    }
    let files = expand(files)?;
    println!(
        "checking {} kind config(s) against kind {version} ({source})",
        files.len()
    );
    let mut bad = 0;
    for f in &files {
        let (text, ok) = report(f, version);
        print!("{text}");
        if !ok {
            bad += 1;
        }
    }
    if bad > 0 {
        return Err(AppError::InvalidInput(format!(
            "{bad} of {} kind config(s) invalid",
            files.len()
        )));
    }
    Ok(())
}

/// Load every scenario (strictly, with its kind config and manifests) and report each.
pub fn load_scenarios(
    version: KindVersion,
    inputs: &[PathBuf],
) -> Result<Vec<crate::scenario::model::Scenario>, AppError> {
    let files = crate::scenario::load::find(inputs).map_err(AppError::InvalidInput)?;
    let mut loaded = Vec::new();
    let mut bad = 0;
    for f in &files {
        match crate::scenario::load::load(f, version) {
            Ok(s) => loaded.push(s),
            Err(errors) => {
                bad += 1;
                eprintln!("error  {}", f.display());
                for e in errors {
                    eprintln!("  {e}");
                }
            }
        }
    }
    if bad > 0 {
        return Err(AppError::InvalidInput(format!(
            "{bad} of {} scenario(s) invalid",
            files.len()
        )));
    }
    Ok(loaded)
}

fn scenarios(version: KindVersion, inputs: &[PathBuf]) -> Result<(), AppError> {
    let loaded = load_scenarios(version, inputs)?;
    for s in &loaded {
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        println!(
            "ok     {} ({} variant(s): {}; cluster {})",
            s.file.display(),
            s.variants.len(),
            names.join(", "),
            s.cluster.config_file.display()
        );
    }
    println!("{} scenario(s) valid (kind {version} rules)", loaded.len());
    Ok(())
}
