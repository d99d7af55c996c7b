//! Cross-process port reservations: one lock file per port and protocol under a per-user runtime
//! directory, held with `flock` for as long as the reservation lives.
//!
//! Why: picking a free port by binding port 0 and releasing it (kind's `GetFreePort`,
//! portpicker) races with every other job on the host doing the same. A held `flock` tells other
//! kindproof processes the port is taken until the cluster's containers own it, and the kernel
//! drops the lock when a process dies, so a crashed run never blocks a port.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::kind_config::model::Protocol;

/// Environment variable that moves the reservation directory (tests, shared CI hosts).
pub const DIR_ENV: &str = "KINDPROOF_RUNTIME_DIR";

/// Where kindproof keeps host-wide coordination state (port reservations, locks):
/// `$KINDPROOF_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/kindproof`, else `/tmp/kindproof-<uid>`.
pub fn runtime_base() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV) {
        PathBuf::from(dir)
    } else if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(dir).join("kindproof")
    } else {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        std::env::temp_dir().join(format!("kindproof-{uid}"))
    }
}

/// `dir`, created with mode 0700 if missing, and refused unless it is a real directory (not a
/// symlink) owned by this user that no one else can write to: as ssh treats `~/.ssh`, since
/// another user who controls it could steal or block every reservation.
pub fn private_dir(dir: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        // Something else in the way (a file): the checks below say what it is.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let refuse = |why: String| {
        io::Error::other(format!(
            "{} {why}; kindproof keeps its locks only in a directory of its own (mode 0700, owned by you): remove it or set {DIR_ENV}",
            dir.display()
        ))
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symlink".into()));
    }
    if !meta.is_dir() {
        return Err(refuse("is not a directory".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!("is owned by uid {}, not {uid}", meta.uid())));
    }
    // As ssh's StrictModes: others must not be able to write (create, replace or remove lock
    // files); kindproof itself creates the directory 0700.
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!("has mode {mode:o}: others can write to it")));
    }
    Ok(dir.to_path_buf())
}

/// The directory where reservations live.
#[derive(Debug, Clone)]
pub struct ReservationDir {
    path: PathBuf,
}

impl ReservationDir {
    /// `<runtime base>/ports` (see [`runtime_base`]); created with mode 0700.
    pub fn default_location() -> io::Result<Self> {
        Self::at(private_dir(&runtime_base())?.join("ports"))
    }

    pub fn at(path: PathBuf) -> io::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reserve `port`/`protocol` for this process. `Ok(None)` when another live process holds it.
    pub fn try_reserve(&self, port: u16, protocol: Protocol) -> io::Result<Option<Reservation>> {
        let path = self.path.join(format!("{port}-{}", protocol.lower()));
        // The holder unlinks the file when it releases. A process that opened the old file just
        // before that could lock an orphaned inode while a third one locks a new file at the
        // same path; so after locking, the path must still name the inode we locked.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            let locked = file.metadata()?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => {
                    file.set_len(0)?;
                    writeln!(file, "pid={}", std::process::id())?;
                    return Ok(Some(Reservation { file, path }));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// A held reservation; released (file unlinked, lock dropped) on drop.
#[derive(Debug)]
pub struct Reservation {
    file: File,
    path: PathBuf,
}

impl Reservation {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so no one can lock this inode and believe it is
        // the live file; the lock itself goes with the descriptor.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_cannot_be_reserved_twice_and_is_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ReservationDir::at(tmp.path().join("ports")).unwrap();
        let first = dir.try_reserve(40001, Protocol::Tcp).unwrap().unwrap();
        // flock locks belong to the open file description: a second open in the same process
        // conflicts just like another process would.
        assert!(dir.try_reserve(40001, Protocol::Tcp).unwrap().is_none());
        assert!(dir.try_reserve(40001, Protocol::Udp).unwrap().is_some());
        let path = first.path().to_path_buf();
        assert!(path.exists());
        drop(first);
        assert!(!path.exists());
        assert!(dir.try_reserve(40001, Protocol::Tcp).unwrap().is_some());
    }

    #[test]
    fn a_reservation_left_by_a_dead_process_is_taken_over() {
        // A killed process leaves its file behind, but the kernel dropped its lock.
        let tmp = tempfile::tempdir().unwrap();
        let dir = ReservationDir::at(tmp.path().join("ports")).unwrap();
        std::fs::write(dir.path().join("40002-tcp"), "pid=999999\n").unwrap();
        let r = dir.try_reserve(40002, Protocol::Tcp).unwrap();
        assert!(
            r.is_some(),
            "a stale file without a lock must not block the port"
        );
        let text = std::fs::read_to_string(dir.path().join("40002-tcp")).unwrap();
        assert_eq!(text, format!("pid={}\n", std::process::id()));
    }

    #[test]
    fn directory_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ReservationDir::at(tmp.path().join("a/ports")).unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
