//! The probe image `kindproof/probe:<version>`: the static `kindproof-probe` binary in an image
//! built `FROM scratch` through bollard, from an in-memory context, with the network off. Never
//! `:latest`, so Kubernetes' default pull policy does not reach for a registry.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::docker::api::Engine;
use crate::docker::error::DockerError;
use crate::docker::image::{RootfsEntry, rootfs_tar};

pub const REPO: &str = "kindproof/probe";
/// The binary's digest, so an image with the same binary is not rebuilt.
pub const DIGEST_LABEL: &str = "io.kindproof.probe-digest";
/// Environment variable naming the probe binary.
pub const BINARY_ENV: &str = "KINDPROOF_PROBE_BIN";

pub fn image_name() -> String {
    format!("{REPO}:{}", env!("CARGO_PKG_VERSION"))
}

/// Failed to build the probe image.
#[derive(Debug, thiserror::Error)]
pub enum ProbeImageError {
    #[error(
        "failed to find the kindproof-probe binary (looked at {looked}): build it with `make probe`, or name it with --binary or {BINARY_ENV}"
    )]
    NotFound { looked: String },
    #[error("failed to read the probe binary {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the probe binary {path} is dynamically linked: a FROM scratch image cannot run it; build it with `make probe`"
    )]
    NotStatic { path: PathBuf },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Where the probe binary is: `explicit`, else `$KINDPROOF_PROBE_BIN`, else beside this
/// executable, else the static build `make probe` leaves under `target/`.
pub fn find_binary(explicit: Option<&Path>) -> Result<PathBuf, ProbeImageError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_path_buf());
    } else {
        if let Some(p) = std::env::var_os(BINARY_ENV) {
            candidates.push(PathBuf::from(p));
        }
        if let Ok(exe) = std::env::current_exe()
            && let Some(dir) = exe.parent()
        {
            candidates.push(dir.join("kindproof-probe"));
        }
        candidates.push(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/x86_64-unknown-linux-gnu/release/kindproof-probe"),
        );
    }
    // A development tree also holds dynamic debug builds: prefer the first static one.
    let existing: Vec<&PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
    existing
        .iter()
        .find(|p| std::fs::read(p).is_ok_and(|b| !is_dynamic_elf(&b)))
        .or(existing.first())
        .map(|p| (*p).clone())
        .ok_or_else(|| ProbeImageError::NotFound {
            looked: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Whether an ELF executable asks for a dynamic loader (has a PT_INTERP program header).
pub fn is_dynamic_elf(bytes: &[u8]) -> bool {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) {
        return false;
    }
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..usize::from(count)).any(|i| u32_at(phoff as usize + i * usize::from(size)) == Some(3))
}

/// The outcome of [`build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub image: String,
    pub digest: String,
    /// False when an image with this binary existed already.
    pub built_now: bool,
}

/// Build the probe image from `binary` unless an image with the same binary digest exists.
pub async fn build<E: Engine>(engine: &E, binary: &Path) -> Result<Built, ProbeImageError> {
    let bytes = std::fs::read(binary).map_err(|source| ProbeImageError::Read {
        path: binary.to_path_buf(),
        source,
    })?;
    if is_dynamic_elf(&bytes) {
        return Err(ProbeImageError::NotStatic {
            path: binary.to_path_buf(),
        });
    }
    let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
    let image = image_name();
    if let Some(existing) = engine.inspect_image(&image).await?
        && existing.labels.get(DIGEST_LABEL) == Some(&digest)
    {
        return Ok(Built {
            image,
            digest,
            built_now: false,
        });
    }
    let dockerfile = format!(
        "FROM scratch\nCOPY kindproof-probe /kindproof-probe\nUSER 65534:65534\nENTRYPOINT [\"/kindproof-probe\"]\nLABEL {DIGEST_LABEL}=\"{digest}\"\n"
    );
    let context = rootfs_tar(&[
        RootfsEntry::File {
            path: "Dockerfile".into(),
            contents: dockerfile.into_bytes(),
            mode: 0o644,
        },
        RootfsEntry::File {
            path: "kindproof-probe".into(),
            contents: bytes,
            mode: 0o755,
        },
    ])
    .map_err(|source| DockerError::Pack {
        image: image.clone(),
        source,
    })?;
    engine.build_image(context, &image).await?;
    Ok(Built {
        image,
        digest,
        built_now: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_dynamic_from_static_executables() {
        // This test binary is dynamically linked (no crt-static for tests).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(is_dynamic_elf(&me));
        assert!(!is_dynamic_elf(b"#!/bin/sh\n"));
        assert!(!is_dynamic_elf(&[]));
    }

    #[test]
    fn the_tag_is_the_crate_version_never_latest() {
        assert!(image_name().starts_with("kindproof/probe:"));
        assert!(!image_name().ends_with(":latest"));
    }
}
