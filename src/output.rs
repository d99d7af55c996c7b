//! Writing kindproof's output: output files only where a regular file is or may be, and
//! standard output and standard error without panicking: a closed pipe
//! (`kindproof list | head -1`) ends the output quietly, and any other write failure (a full
//! disk) is remembered so that the command exits 3 saying so — where `println!` would panic
//! with exit 101.
//!
//! Every command prints through [`outln!`](crate::outln), [`out!`](crate::out),
//! [`errln!`](crate::errln) and [`err!`](crate::err). A command keeps running after its output
//! closed: a run still cleans up what it created.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn write(to_stdout: bool, args: std::fmt::Arguments<'_>) {
    let closed = if to_stdout {
        &STDOUT_CLOSED
    } else {
        &STDERR_CLOSED
    };
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let result = if to_stdout {
        let mut s = std::io::stdout().lock();
        s.write_fmt(args).and_then(|()| s.flush())
    } else {
        std::io::stderr().lock().write_fmt(args)
    };
    if let Err(e) = result {
        closed.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let name = if to_stdout {
                "standard output"
            } else {
                "standard error"
            };
            let mut f = FAILURE.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert_with(|| format!("failed to write to {name}: {e}"));
        }
    }
}

/// Write to standard output (see the module documentation).
pub fn stdout(args: std::fmt::Arguments<'_>) {
    write(true, args);
}

/// Write to standard error (see the module documentation).
pub fn stderr(args: std::fmt::Arguments<'_>) {
    write(false, args);
}

/// The first write that failed for a reason other than a closed pipe, if any.
pub fn failure() -> Option<String> {
    FAILURE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Refuse an output path that is anything but a regular file or nothing: kindproof replaces
/// only its own kind of file, never a symlink (or what it points to), a FIFO or a device; and
/// the directory it goes in must exist.
pub fn check_file(out: &Path, flag: &str) -> Result<(), String> {
    let named = if flag.is_empty() {
        out.display().to_string()
    } else {
        format!("{flag} {}", out.display())
    };
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(m) => {
            let what = if m.file_type().is_symlink() {
                "a symlink"
            } else if m.is_dir() {
                "a directory"
            } else {
                "not a regular file (a FIFO, socket or device)"
            };
            Err(format!(
                "{named}: it is {what}; kindproof writes only regular files"
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if dir.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "{named}: directory {} does not exist",
                    dir.display()
                ))
            }
        }
        Err(e) => Err(format!("{named}: {e}")),
    }
}

/// Write `text` to `out` atomically: a temporary file in the same directory, then a rename,
/// which replaces a regular file (or a symlink put there meanwhile) without following it.
/// `out` is checked first ([`check_file`]): refused is invalid input, a failed write is
/// infrastructure.
pub fn write_file(out: &Path, text: &str, flag: &str) -> Result<(), crate::exit::AppError> {
    use crate::exit::AppError;
    check_file(out, flag).map_err(AppError::InvalidInput)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(AppError::io(format!(
        "create a temporary file in {}",
        dir.display()
    )))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.flush())
        .map_err(AppError::io(format!("write {}", out.display())))?;
    tmp.persist(out)
        .map_err(|e| AppError::io(format!("write {}", out.display()))(e.error))?;
    Ok(())
}

/// A `--report-*` flag's value, checked when the command line is parsed (before any cluster
/// exists): see [`check_file`].
pub fn output_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    check_file(&p, "").map(|()| p)
}

/// An output directory (`--artifacts`): a directory, or nothing yet.
pub fn output_dir(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_dir() => Ok(p),
        Ok(_) => Err(format!("{s}: it exists and is not a directory")),
        Err(_) => Ok(p),
    }
}

/// `println!` that never panics.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    () => { $crate::output::stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!($($arg)*)) };
}
