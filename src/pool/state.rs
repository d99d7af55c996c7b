//! What the pool records of a shape (`<key>.json`, written under the shape's lock): its
//! cluster, when it was made and last used, and who holds it now (pid and run id, so that a
//! dead holder's leftovers can be swept).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub run_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeState {
    pub key: String,
    pub cluster: String,
    pub kubeconfig: PathBuf,
    /// The kind config file it was made from, and its node image (for `pool ls`).
    pub config: String,
    pub image: String,
    pub created: u64,
    pub last_used: u64,
    #[serde(default)]
    pub holders: Vec<Holder>,
}

pub fn unix_now() -> u64 {
    crate::cluster::state::unix_now()
}

pub fn read(path: &Path) -> Option<ShapeState> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Write atomically (a temporary file renamed), so a reader never sees half a record.
pub fn write(path: &Path, s: &ShapeState) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(s).expect("a record serializes"),
    )?;
    std::fs::rename(&tmp, path)
}
