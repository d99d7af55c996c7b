//! Where clusters kindproof created are recorded: one private directory per cluster holding its
//! resolved kind config, its own kubeconfig and a record (who created it, when, whether it is
//! meant to stay). `down` and `clean` work from these records; kind's labels find the nodes.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Moves the state directory (tests, shared CI hosts).
pub const STATE_ENV: &str = "KINDPROOF_STATE_DIR";
const RECORD: &str = "cluster.json";

/// `$KINDPROOF_STATE_DIR`, else `$XDG_STATE_HOME/kindproof`, else `~/.local/state/kindproof`.
pub fn state_base() -> PathBuf {
    if let Some(d) = std::env::var_os(STATE_ENV) {
        PathBuf::from(d)
    } else if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        PathBuf::from(d).join("kindproof")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".local/state/kindproof")
    } else {
        std::env::temp_dir().join("kindproof-state")
    }
}

/// One cluster's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub name: String,
    /// The process that created it; `clean` removes clusters whose creator is gone.
    pub pid: u32,
    pub run_id: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// Created by `up` (or kept with `--keep`): only `down` removes it.
    pub keep: bool,
    /// Which provider made it, and so which one deletes it (`kind`; records written before
    /// this field existed are kind's).
    #[serde(default = "kind_provider")]
    pub provider: String,
}

/// The provider of kind clusters, and of records that name none.
pub const KIND_PROVIDER: &str = "kind";

fn kind_provider() -> String {
    KIND_PROVIDER.to_string()
}

impl ClusterRecord {
    pub fn new(name: &str, run_id: &str, keep: bool) -> Self {
        Self {
            name: name.to_string(),
            pid: std::process::id(),
            run_id: run_id.to_string(),
            created: unix_now(),
            keep,
            provider: kind_provider(),
        }
    }

    pub fn age_secs(&self) -> u64 {
        unix_now().saturating_sub(self.created)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `name` is a kind cluster name (`^[a-z0-9][a-z0-9.-]*$`, at most 50 characters so
/// that `<name>-control-plane` is a valid container and host name). Names become state
/// directories, so nothing else — no `/`, no `..` — is accepted.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && (name.as_bytes()[0].is_ascii_lowercase() || name.as_bytes()[0].is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a kind cluster name: lowercase letters, digits, '.' and '-', starting with a letter or digit, at most 50 characters"
        ))
    }
}

/// The state directory of cluster `name` under `base`. `name` must have passed
/// [`check_name`]; any other name maps to a directory that never exists.
pub fn cluster_dir(base: &Path, name: &str) -> PathBuf {
    if check_name(name).is_ok() {
        base.join("clusters").join(name)
    } else {
        base.join("clusters").join(".invalid-name")
    }
}

/// The cluster's own kubeconfig (kind writes it there).
pub fn kubeconfig(base: &Path, name: &str) -> PathBuf {
    cluster_dir(base, name).join("kubeconfig")
}

/// Create the private directory for a new cluster and record it; fails if it exists.
pub fn create(base: &Path, record: &ClusterRecord) -> std::io::Result<PathBuf> {
    check_name(&record.name).map_err(std::io::Error::other)?;
    let parent = base.join("clusters");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&parent)?;
    let dir = cluster_dir(base, &record.name);
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let json = serde_json::to_vec_pretty(record).expect("a record serializes");
    std::fs::write(dir.join(RECORD), json)?;
    Ok(dir)
}

/// The record of cluster `name`, if kindproof has one.
pub fn read(base: &Path, name: &str) -> Option<ClusterRecord> {
    let bytes = std::fs::read(cluster_dir(base, name).join(RECORD)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every recorded cluster.
pub fn all(base: &Path) -> Vec<ClusterRecord> {
    let Ok(entries) = std::fs::read_dir(base.join("clusters")) else {
        return Vec::new();
    };
    let mut out: Vec<ClusterRecord> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| read(base, &e.file_name().to_string_lossy()))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Forget cluster `name` (its directory, kubeconfig included).
pub fn remove(base: &Path, name: &str) -> std::io::Result<()> {
    check_name(name).map_err(std::io::Error::other)?;
    match std::fs::remove_dir_all(cluster_dir(base, name)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Whether process `pid` still exists (signal 0 probes without sending anything).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn records_round_trip_and_directories_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = ClusterRecord::new("kp-a-1", "1", true);
        let dir = create(tmp.path(), &rec).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(read(tmp.path(), "kp-a-1"), Some(rec.clone()));
        assert!(create(tmp.path(), &rec).is_err(), "a name is recorded once");
        assert_eq!(all(tmp.path()), vec![rec]);
        remove(tmp.path(), "kp-a-1").unwrap();
        assert!(all(tmp.path()).is_empty());
        remove(tmp.path(), "kp-a-1").unwrap();
    }

    #[test]
    fn a_record_names_its_provider_and_old_records_are_kinds() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = ClusterRecord::new("kp-b-1", "1", false);
        assert_eq!(rec.provider, KIND_PROVIDER);
        let dir = create(tmp.path(), &rec).unwrap();
        let json = std::fs::read_to_string(dir.join(RECORD)).unwrap();
        assert!(json.contains(r#""provider": "kind""#), "{json}");
        std::fs::write(
            dir.join(RECORD),
            r#"{"name":"kp-b-1","pid":1,"run_id":"1","created":0,"keep":false}"#,
        )
        .unwrap();
        assert_eq!(read(tmp.path(), "kp-b-1").unwrap().provider, KIND_PROVIDER);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }
}
