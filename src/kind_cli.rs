//! The installed `kind` binary, as far as kindproof needs it before any cluster exists: where it
//! is and which version it is (its validation rules depend on it).

use std::io;
use std::path::PathBuf;
use std::process::Command;

use crate::kind_config::version::KindVersion;

/// Environment variable naming the kind binary to use (default: `kind` on PATH).
pub const KIND_BIN_ENV: &str = "KINDPROOF_KIND";

/// Failed to ask kind for its version.
#[derive(Debug, thiserror::Error)]
pub enum KindCliError {
    #[error("failed to run `{bin} version`: {source}")]
    Run {
        bin: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to run `{bin} version`: it exited with {status}: {stderr}")]
    Failed {
        bin: String,
        status: String,
        stderr: String,
    },
    #[error("failed to read a version from `{bin} version` output {output:?}")]
    Unparsable { bin: String, output: String },
}

pub fn kind_bin() -> PathBuf {
    std::env::var_os(KIND_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kind"))
}

/// The installed kind's version; `Ok(None)` when no kind binary is installed.
pub fn installed_version() -> Result<Option<KindVersion>, KindCliError> {
    let bin = kind_bin();
    let shown = bin.display().to_string();
    let output = match Command::new(&bin).arg("version").output() {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KindCliError::Run { bin: shown, source }),
    };
    if !output.status.success() {
        return Err(KindCliError::Failed {
            bin: shown,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    KindVersion::from_kind_output(&text)
        .map(Some)
        .ok_or(KindCliError::Unparsable {
            bin: shown,
            output: text.trim().to_string(),
        })
}

/// Where a version used for validation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// `--kind-version`.
    Flag,
    /// The installed kind binary.
    Installed,
    /// No kind installed: kindproof's newest known rules.
    NewestKnown,
}

impl std::fmt::Display for VersionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Flag => "from --kind-version",
            Self::Installed => "the installed kind",
            Self::NewestKnown => "no kind installed: newest rules known",
        })
    }
}

/// The version to validate against: the flag, else the installed kind, else the newest known.
pub fn rules_version(
    flag: Option<KindVersion>,
) -> Result<(KindVersion, VersionSource), KindCliError> {
    if let Some(v) = flag {
        return Ok((v, VersionSource::Flag));
    }
    Ok(match installed_version()? {
        Some(v) => (v, VersionSource::Installed),
        None => (KindVersion::NEWEST_KNOWN, VersionSource::NewestKnown),
    })
}
