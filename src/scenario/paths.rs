//! Where a scenario's files are, and what its names may be: kind configs beside it or in a
//! `kind-configs/` directory above it, manifests in its directory, all confined there after
//! symlinks are resolved; scenario and variant names are DNS labels (they name directories).

use std::path::{Path, PathBuf};

use crate::input::Confinement;

/// A kind config named by a scenario: beside it, else in the nearest `kind-configs/` above
/// (searched from the scenario's real directory, so the working directory does not matter).
/// The file must resolve into the scenario's [`Confinement`].
pub fn kind_config_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    Confinement::plain_relative(name)?;
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let beside = dir.join(name);
    let found = if beside.is_file() {
        Some(beside)
    } else {
        real.ancestors()
            .map(|a| a.join("kind-configs").join(name))
            .find(|p| p.is_file())
    };
    let Some(path) = found else {
        return Err(format!(
            "kind config {name:?} not found beside the scenario or in a kind-configs/ directory above it"
        ));
    };
    Confinement::for_scenario(dir).check(&path)?;
    Ok(path)
}

/// A file a scenario names (a manifest): relative to the scenario's directory, and resolving
/// into its [`Confinement`].
pub fn scenario_file(dir: &Path, name: &str) -> Result<PathBuf, String> {
    Confinement::plain_relative(name)?;
    let path = dir.join(name);
    Confinement::for_scenario(dir).check(&path)?;
    Ok(path)
}

/// Scenario and variant names name directories of the diagnostics bundle and JUnit test
/// cases: a DNS label (1 to 63 lowercase letters, digits and dashes, starting and ending with
/// a letter or digit), so no name is a path.
pub fn dns_label(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "is a DNS label (1 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit), not {name:?}"
        ))
    }
}
