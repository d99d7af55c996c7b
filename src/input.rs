//! Reading what a user hands kindproof: regular files only, bounded in size, UTF-8, and — for
//! the files a scenario names — confined to the directories a scenario may use.
//!
//! Scenarios arrive from pull requests and run next to CI secrets, so a scenario must not be
//! able to make kindproof read `/dev/zero` until memory runs out, or `../../etc/shadow` and echo
//! it in an error.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The largest input file kindproof reads (a scenario, a kind config, a manifest, a report).
pub const MAX_INPUT_BYTES: u64 = 8 * 1024 * 1024;

/// Why an input file could not be read; the messages never contain the file's contents.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} is {what}, not a regular file")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path} is {size} bytes, more than the {MAX_INPUT_BYTES} bytes kindproof reads")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path} is not UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("failed to read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What kind of file `meta` describes, in words, when it is not a regular file.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Read `path` (following symlinks) as UTF-8 text: a regular file of at most
/// [`MAX_INPUT_BYTES`].
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let io = |source: std::io::Error| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReadError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    if let Some(what) = not_regular(&meta) {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // The file may grow (or be swapped) between the check and the read: bound the read too.
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// The directories a scenario's files may come from: its own directory (and below) and every
/// `kind-configs/` directory in or above it, all with symlinks resolved.
#[derive(Debug, Clone)]
pub struct Confinement {
    roots: Vec<PathBuf>,
}

impl Confinement {
    /// The confinement of the scenario in `dir`.
    pub fn for_scenario(dir: &Path) -> Self {
        let mut roots = Vec::new();
        if let Ok(own) = dir.canonicalize() {
            roots.push(own.clone());
            for a in own.ancestors() {
                if let Ok(c) = a.join("kind-configs").canonicalize() {
                    roots.push(c);
                }
            }
        }
        Self { roots }
    }

    /// `path` with symlinks resolved, if it lies under one of the roots; otherwise why not
    /// (without reading it).
    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let real = match path.canonicalize() {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("{} does not exist", path.display()));
            }
            Err(e) => return Err(format!("failed to resolve {}: {e}", path.display())),
        };
        if self.roots.iter().any(|r| real.starts_with(r)) {
            Ok(real)
        } else {
            Err(format!(
                "{} resolves to {}, outside the scenario's directory and its kind-configs/ directories: a scenario may only use files there",
                path.display(),
                real.display()
            ))
        }
    }

    /// Whether a name given in a scenario is a plain relative path (no `..`, not absolute):
    /// the refusal comes before anything is looked up.
    pub fn plain_relative(name: &str) -> Result<(), String> {
        let p = Path::new(name);
        if p.is_absolute() {
            return Err(format!(
                "{name:?} is an absolute path: name a file relative to the scenario's directory"
            ));
        }
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!(
                "{name:?} climbs out with `..`: name a file in the scenario's directory or a kind-configs/ directory"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_bounded_regular_utf8_files() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("ok.yaml");
        std::fs::write(&ok, "a: 1\n").unwrap();
        assert_eq!(read_text(&ok).unwrap(), "a: 1\n");
        let missing = d.path().join("missing.yaml");
        assert!(matches!(
            read_text(&missing),
            Err(ReadError::NotFound { .. })
        ));
        assert!(matches!(
            read_text(d.path()),
            Err(ReadError::NotRegular {
                what: "a directory",
                ..
            })
        ));
        assert!(matches!(
            read_text(Path::new("/dev/zero")),
            Err(ReadError::NotRegular {
                what: "a device",
                ..
            })
        ));
        let big = d.path().join("big.yaml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_INPUT_BYTES + 1).unwrap();
        assert!(matches!(read_text(&big), Err(ReadError::TooLarge { .. })));
        let latin = d.path().join("latin1.yaml");
        std::fs::write(&latin, b"a: \xe9\n").unwrap();
        let e = read_text(&latin).unwrap_err();
        assert!(matches!(e, ReadError::NotUtf8 { .. }), "{e}");
    }

    #[test]
    fn confinement_allows_the_scenario_dir_and_kind_configs_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("scenarios/s/sub")).unwrap();
        std::fs::create_dir_all(root.join("kind-configs")).unwrap();
        std::fs::write(root.join("scenarios/s/m.yaml"), "").unwrap();
        std::fs::write(root.join("scenarios/s/sub/n.yaml"), "").unwrap();
        std::fs::write(root.join("kind-configs/c.yaml"), "").unwrap();
        std::fs::write(root.join("secret"), "").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("scenarios/s/link.yaml"))
            .unwrap();
        let c = Confinement::for_scenario(&root.join("scenarios/s"));
        let s = root.join("scenarios/s");
        assert!(c.check(&s.join("m.yaml")).is_ok());
        assert!(c.check(&s.join("sub/n.yaml")).is_ok());
        assert!(c.check(&root.join("kind-configs/c.yaml")).is_ok());
        let e = c.check(&s.join("link.yaml")).unwrap_err();
        assert!(e.contains("outside the scenario's directory"), "{e}");
        assert!(c.check(&s.join("../../secret")).is_err());
        assert!(Confinement::plain_relative("m.yaml").is_ok());
        assert!(Confinement::plain_relative("sub/n.yaml").is_ok());
        assert!(Confinement::plain_relative("/etc/passwd").is_err());
        assert!(Confinement::plain_relative("../../etc/passwd").is_err());
    }
}
