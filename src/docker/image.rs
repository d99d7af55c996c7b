//! Images made here, never pulled: a root filesystem packed into an in-memory tarball and
//! imported (`docker import`). Nothing kindproof or its tests use comes from a registry.

use std::io;

use bytes::Bytes;

use super::api::Engine;
use super::error::DockerError;

/// One entry of a root filesystem.
#[derive(Debug, Clone)]
pub enum RootfsEntry {
    Dir {
        path: String,
    },
    File {
        path: String,
        contents: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// Pack `entries` into a tarball (paths relative to `/`).
pub fn rootfs_tar(entries: &[RootfsEntry]) -> io::Result<Bytes> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            RootfsEntry::Dir { path } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, path, io::empty())?;
            }
            RootfsEntry::File {
                path,
                contents,
                mode,
            } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(contents.len() as u64);
                builder.append_data(&mut header, path, contents.as_slice())?;
            }
            RootfsEntry::Symlink { path, target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    Ok(Bytes::from(builder.into_inner()?))
}

/// Import `repo:tag` from `entries` unless an image of that name exists already. Returns
/// whether it was imported now.
pub async fn ensure_imported<E: Engine>(
    engine: &E,
    repo: &str,
    tag: &str,
    entries: &[RootfsEntry],
    changes: &[String],
) -> Result<bool, DockerError> {
    let name = format!("{repo}:{tag}");
    if engine.inspect_image(&name).await?.is_some() {
        return Ok(false);
    }
    let tar = rootfs_tar(entries).map_err(|source| DockerError::Pack {
        image: name.clone(),
        source,
    })?;
    engine.import_image(tar, repo, tag, changes).await?;
    Ok(true)
}

/// The busybox applets the local busybox image links.
pub const BUSYBOX_TOOLS: [&str; 14] = [
    "sh", "httpd", "nc", "sleep", "cat", "echo", "nslookup", "wget", "tar", "sed", "mkdir", "date",
    "ip", "tc",
];

/// A local image `repo:<tag>` holding the host's static busybox (Debian's busybox-static) and
/// the [`BUSYBOX_TOOLS`] links, for tests and benchmarks that need a shell. The tag names the
/// binary and the tool list, so a changed list makes a new image. Returns the image name.
pub async fn ensure_busybox_image<E: Engine>(
    engine: &E,
    repo: &str,
    busybox: &std::path::Path,
) -> Result<String, DockerError> {
    let bytes = std::fs::read(busybox).map_err(|source| DockerError::Pack {
        image: repo.to_string(),
        source,
    })?;
    let tag = format!(
        "{:016x}",
        crate::fnv::fnv1a(&[&bytes[..], BUSYBOX_TOOLS.join(",").as_bytes()].concat())
    );
    let mut entries = vec![
        RootfsEntry::Dir { path: "bin".into() },
        RootfsEntry::Dir { path: "www".into() },
        RootfsEntry::Dir { path: "tmp".into() },
        RootfsEntry::File {
            path: "bin/busybox".into(),
            contents: bytes,
            mode: 0o755,
        },
    ];
    for tool in BUSYBOX_TOOLS {
        entries.push(RootfsEntry::Symlink {
            path: format!("bin/{tool}"),
            target: "busybox".into(),
        });
    }
    ensure_imported(engine, repo, &tag, &entries, &[]).await?;
    Ok(format!("{repo}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarball_holds_every_entry() {
        let tar = rootfs_tar(&[
            RootfsEntry::Dir { path: "bin".into() },
            RootfsEntry::File {
                path: "bin/tool".into(),
                contents: b"#!x".to_vec(),
                mode: 0o755,
            },
            RootfsEntry::Symlink {
                path: "bin/alias".into(),
                target: "tool".into(),
            },
        ])
        .unwrap();
        let mut archive = tar::Archive::new(tar.as_ref());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["bin", "bin/tool", "bin/alias"]);
    }
}
