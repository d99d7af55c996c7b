//! A failed variant's replay record: `replay.json` in its diagnostics bundle says what ran
//! (scenario, variant, node image and its id, server version, kindproof version, its variables as
//! resolved, the kind config as handed to kind), and `replay/<scenario>/` holds a copy of the
//! scenario's own files (manifests, kind configs), so the bundle alone can run it again.
//! Reading one back checks it: a record from elsewhere is input like any other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::model::{Scenario, Variant};

/// The file in a bundle.
pub const FILE: &str = "replay.json";
/// The most bytes of scenario files copied into a bundle.
const MAX_COPIED: u64 = 16 << 20;

/// What `replay.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The kindproof version that ran it.
    pub kindproof: String,
    pub scenario: String,
    /// The variant's name in the scenario (a matrix's `@tag` taken off).
    pub variant: String,
    /// The node image, when the run named it, and its id (`sha256:…`) then.
    pub node_image: Option<String>,
    pub node_image_id: Option<String>,
    /// The API server's version, when the run asked it.
    pub kubernetes: Option<String>,
    /// The cluster it ran on.
    pub cluster: String,
    /// Its variables as the run resolved them (before steps ran).
    pub variables: BTreeMap<String, String>,
    /// The kind config as handed to kind (host ports resolved), for a kind cluster.
    pub kind_config: Option<String>,
}

/// Write `record` and a copy of `s`'s files (and of the kind configs `v` uses) into `dir`.
/// Failures are noted in the bundle, never fatal.
pub fn write(dir: &Path, s: &Scenario, v: &Variant, record: &Record) {
    let copy = dir.join("replay").join(&s.name);
    let mut budget = MAX_COPIED;
    let mut notes = Vec::new();
    copy_tree(&s.dir, &copy, 0, &mut budget, &mut notes);
    for spec in std::iter::once(&s.cluster).chain(v.cluster.as_ref()) {
        let f = &spec.config_file;
        if let Some(name) = f.file_name()
            && !copy.join(name).exists()
            && let Err(e) = copy_file(f, &copy.join(name), &mut budget)
        {
            notes.push(format!("{}: {e}", f.display()));
        }
    }
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    let _ = std::fs::write(dir.join(FILE), text);
    if !notes.is_empty() {
        let _ = std::fs::write(dir.join("replay.errors"), notes.join("\n") + "\n");
    }
}

fn copy_file(from: &Path, to: &Path, budget: &mut u64) -> std::io::Result<()> {
    let len = std::fs::symlink_metadata(from)?.len();
    if len > *budget {
        return Err(std::io::Error::other("too large to copy into the bundle"));
    }
    *budget -= len;
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::copy(from, to).map(|_| ())
}

/// Regular files and directories only (a symlink may lead outside the scenario).
fn copy_tree(from: &Path, to: &Path, depth: usize, budget: &mut u64, notes: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(from) else {
        notes.push(format!("{}: not readable", from.display()));
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if t.is_file() {
            if let Err(err) = copy_file(&src, &dst, budget) {
                notes.push(format!("{}: {err}", src.display()));
            }
        } else if t.is_dir() && depth < 4 {
            copy_tree(&src, &dst, depth + 1, budget, notes);
        }
    }
}

/// The record of `bundle` and the directory of its scenario copy, checked: names that are
/// plain names, a copy that is there.
pub fn read(bundle: &Path) -> Result<(Record, PathBuf), String> {
    let file = bundle.join(FILE);
    let text = crate::input::read_text(&file).map_err(|e| e.to_string())?;
    let record: Record =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    for (field, name) in [("scenario", &record.scenario), ("variant", &record.variant)] {
        let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
        if !plain {
            return Err(format!(
                "{}: {field}: {name:?} is not a plain name",
                file.display()
            ));
        }
    }
    let dir = bundle.join("replay").join(&record.scenario);
    if !dir.join("scenario.yaml").is_file() {
        return Err(format!(
            "{}: no copy of scenario {} beside it (replay/{}/scenario.yaml)",
            file.display(),
            record.scenario,
            record.scenario
        ));
    }
    Ok((record, dir))
}

/// A variant's name in its scenario: a matrix run's `name@tag` without the tag.
pub fn base_name(name: &str, node_image: Option<&str>) -> String {
    let tag = node_image.map(super::matrix::label);
    match tag.and_then(|t| name.strip_suffix(&format!("@{t}")).map(str::to_string)) {
        Some(base) => base,
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(scenario: &str, variant: &str) -> Record {
        Record {
            kindproof: "0.1.0".into(),
            scenario: scenario.into(),
            variant: variant.into(),
            node_image: Some("kindest/node:v1.36.2".into()),
            node_image_id: None,
            kubernetes: None,
            cluster: "kp-x".into(),
            variables: BTreeMap::new(),
            kind_config: None,
        }
    }

    #[test]
    fn a_record_reads_back_and_names_that_are_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let copy = d.path().join("replay/s");
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::write(copy.join("scenario.yaml"), "x").unwrap();
        let r = record("s", "bug");
        std::fs::write(d.path().join(FILE), serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(read(d.path()).unwrap(), (r, copy));
        for (scenario, variant) in [("../etc", "bug"), ("s", "a/b"), (".", "bug")] {
            let r = record(scenario, variant);
            std::fs::write(d.path().join(FILE), serde_json::to_string(&r).unwrap()).unwrap();
            assert!(read(d.path()).unwrap_err().contains("is not a plain name"));
        }
        std::fs::write(d.path().join(FILE), "{\"kindproof\": 1}").unwrap();
        assert!(read(d.path()).is_err());
    }

    #[test]
    fn a_matrix_name_loses_its_tag() {
        assert_eq!(
            base_name("bug@v1.36.2", Some("kindest/node:v1.36.2")),
            "bug"
        );
        assert_eq!(base_name("bug", Some("kindest/node:v1.36.2")), "bug");
        assert_eq!(base_name("a@b", None), "a@b");
    }
}
