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
use crate::scenario::find::{InputKind, classify, scenarios_only};

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
    let warn = |out: &mut String| {
        for w in &check.warnings {
            let _ = writeln!(out, "  warning: {}: {}: {}", w.position, w.field, w.message);
        }
    };
    match check.verdict() {
        Verdict::Valid => {
            let _ = writeln!(out, "ok     {}", path.display());
            warn(&mut out);
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
            warn(&mut out);
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
            warn(&mut out);
            (out, false)
        }
    }
}

pub fn run(
    kind_version: Option<KindVersion>,
    portable: bool,
    files: &[PathBuf],
) -> Result<(), AppError> {
    let (version, source) = rules_version(kind_version)?;
    let inputs = classify(files).map_err(AppError::InvalidInput)?;
    let scenario_files: Vec<PathBuf> = inputs
        .iter()
        .filter(|i| i.kind == InputKind::Scenario)
        .map(|i| i.path.clone())
        .collect();
    let configs: Vec<&PathBuf> = inputs
        .iter()
        .filter(|i| i.kind == InputKind::KindConfig)
        .map(|i| &i.path)
        .collect();
    let mut bad = Vec::new();
    if !scenario_files.is_empty()
        && let Err(e) = scenarios(version, portable, &scenario_files)
    {
        bad.push(e.to_string());
    }
    if !configs.is_empty() {
        let mut out = format!(
            "checking {} kind config(s) against kind {version} ({source})\n",
            configs.len()
        );
        let mut invalid = 0;
        for f in &configs {
            let (text, ok) = report(f, version);
            out.push_str(&text);
            if !ok {
                invalid += 1;
            }
        }
        crate::out!("{out}");
        if invalid > 0 {
            bad.push(format!(
                "{invalid} of {} kind config(s) invalid",
                configs.len()
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(AppError::InvalidInput(bad.join("; ")))
    }
}

/// Load every scenario (strictly, with its kind config and manifests) and report each.
pub fn load_scenarios(
    version: KindVersion,
    inputs: &[PathBuf],
) -> Result<Vec<crate::scenario::model::Scenario>, AppError> {
    let files = classify(inputs)
        .and_then(|i| scenarios_only(&i))
        .map_err(AppError::InvalidInput)?;
    load_files(version, &files)
}

/// Load the scenario files `files`, reporting each one that is invalid.
fn load_files(
    version: KindVersion,
    files: &[PathBuf],
) -> Result<Vec<crate::scenario::model::Scenario>, AppError> {
    let mut loaded = Vec::new();
    let mut bad = 0;
    let mut report = String::new();
    for f in files {
        match crate::scenario::load::load(f, version) {
            Ok(s) => loaded.push(s),
            Err(errors) => {
                bad += 1;
                report.push_str(&format!("error  {}\n", f.display()));
                for e in errors {
                    report.push_str(&format!("  {e}\n"));
                }
            }
        }
    }
    crate::err!("{report}");
    if bad > 0 {
        return Err(AppError::InvalidInput(format!(
            "{bad} of {} scenario(s) invalid",
            files.len()
        )));
    }
    Ok(loaded)
}

fn scenarios(version: KindVersion, portable: bool, files: &[PathBuf]) -> Result<(), AppError> {
    let loaded = load_files(version, files)?;
    let mut out = String::new();
    let mut anywhere = 0;
    for s in &loaded {
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        out.push_str(&format!(
            "ok     {} ({} variant(s): {}; cluster {})\n",
            s.file.display(),
            s.variants.len(),
            names.join(", "),
            s.cluster.config_file.display()
        ));
        if portable {
            let why = crate::scenario::portable::reasons(s);
            if why.is_empty() {
                anywhere += 1;
                out.push_str("  portable: runs on any cluster (run --kubeconfig)\n");
            } else {
                out.push_str("  not portable: it needs kind\n");
                for w in why {
                    out.push_str(&format!("    {w}\n"));
                }
            }
        }
    }
    out.push_str(&format!(
        "{} scenario(s) valid (kind {version} rules)\n",
        loaded.len()
    ));
    if portable {
        out.push_str(&format!(
            "{anywhere} of {} scenario(s) portable\n",
            loaded.len()
        ));
    }
    crate::out!("{out}");
    Ok(())
}
