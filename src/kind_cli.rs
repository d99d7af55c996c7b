//! The installed `kind` binary, as far as kindproof needs it before any cluster exists: where it
//! is and which version it is (its validation rules depend on it).

use std::io::{self, Read};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    #[error("`{bin} version` did not finish within {after:?}: killed it")]
    TimedOut { bin: String, after: Duration },
    #[error("failed to read a version from `{bin} version` output {output:?}")]
    Unparsable { bin: String, output: String },
}

pub fn kind_bin() -> PathBuf {
    std::env::var_os(KIND_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kind"))
}

/// How long `kind version` may take: a kind that hangs must not hang kindproof.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// The most output of `kind version` kindproof reads.
const MAX_OUTPUT: u64 = 64 * 1024;

/// The installed kind's release (`0.33.0`), for version gates; `None` when it cannot be told.
pub fn installed_release() -> Option<crate::version::Version> {
    let k = installed_version().ok().flatten()?;
    Some(crate::version::Version::new(
        k.major.into(),
        k.minor.into(),
        k.patch.into(),
    ))
}

/// The installed kind's version; `Ok(None)` when no kind binary is installed. `kind version`
/// runs in its own process group, is killed (with anything it started) after
/// [`VERSION_TIMEOUT`], and dies with kindproof if kindproof is killed meanwhile.
pub fn installed_version() -> Result<Option<KindVersion>, KindCliError> {
    let bin = kind_bin();
    let shown = bin.display().to_string();
    let mut cmd = Command::new(&bin);
    cmd.arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setpgid, prctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KindCliError::Run { bin: shown, source }),
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let kill_group = || {
        // SAFETY: a negative pid names the process group the child leads; the child is not
        // reaped yet (a zombie at most), so the group id cannot have been reused.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    };
    loop {
        match exited(pid) {
            Ok(true) => break,
            Ok(false) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            other => {
                kill_group();
                let _ = child.wait();
                return Err(match other {
                    Err(source) => KindCliError::Run { bin: shown, source },
                    _ => KindCliError::TimedOut {
                        bin: shown,
                        after: VERSION_TIMEOUT,
                    },
                });
            }
        }
    }
    // Anything it started may keep the pipes open: end the group before reading, then reap.
    kill_group();
    let status = child.wait().map_err(|source| KindCliError::Run {
        bin: shown.clone(),
        source,
    })?;
    let text = stdout.join().unwrap_or_default();
    let err_text = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(KindCliError::Failed {
            bin: shown,
            status: status.to_string(),
            stderr: err_text.trim().chars().take(500).collect(),
        });
    }
    KindVersion::from_kind_output(&text)
        .map(Some)
        .ok_or(KindCliError::Unparsable {
            bin: shown,
            output: text.trim().chars().take(200).collect(),
        })
}

/// Read at most [`MAX_OUTPUT`] bytes of `pipe` on a thread of its own (so a full pipe never
/// blocks the child while kindproof waits for it).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(p) = pipe {
            let _ = p.take(MAX_OUTPUT).read_to_end(&mut out);
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Whether child `pid` has exited, without reaping it (so its process group id stays ours).
fn exited(pid: i32) -> io::Result<bool> {
    // SAFETY: waitid writes only into `info`, which lives across the call.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let id = libc::id_t::try_from(pid).map_err(|_| io::Error::other("bad pid"))?;
    // SAFETY: as above.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info`; si_pid is 0 when the child has not exited.
    Ok(unsafe { info.si_pid() } != 0)
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
    /// The installed kind is broken: kindproof's newest known rules.
    Broken,
}

impl std::fmt::Display for VersionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Flag => "from --kind-version",
            Self::Installed => "the installed kind",
            Self::NewestKnown => "no kind installed: newest rules known",
            Self::Broken => "the installed kind is broken: newest rules known",
        })
    }
}

/// The version to validate against: the flag, else the installed kind, else the newest known.
/// A kind that is broken (not executable, hanging, exiting non-zero, printing no version) is
/// not fatal here: the newest rules are used, with a warning naming `--kind-version`.
pub fn rules_version(
    flag: Option<KindVersion>,
) -> Result<(KindVersion, VersionSource), KindCliError> {
    if let Some(v) = flag {
        return Ok((v, VersionSource::Flag));
    }
    Ok(match installed_version() {
        Ok(Some(v)) => (v, VersionSource::Installed),
        Ok(None) => (KindVersion::NEWEST_KNOWN, VersionSource::NewestKnown),
        Err(e) => {
            crate::errln!(
                "kindproof: warning: {e}\n  using the newest rules known (kind {}); pass --kind-version to choose",
                KindVersion::NEWEST_KNOWN
            );
            (KindVersion::NEWEST_KNOWN, VersionSource::Broken)
        }
    })
}
