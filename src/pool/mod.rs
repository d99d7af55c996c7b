//! Clusters leased across processes: a registry under the runtime directory, one shape (kind
//! config, node image, kind version) per key. The first process that needs a shape creates
//! its cluster; the others wait on the shape's lock and reuse it. Each holds a shared lease
//! while its variants run; variants whose cluster-wide claims collide take the claim's lock
//! (or the shape's "alone" lock) across processes. Idle clusters stay warm for a TTL, then
//! `prune` deletes them. Every lock is a `flock`: a holder that dies releases it with its
//! file descriptors. See `lease.rs` for the lock order.

pub mod lease;
pub mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use lease::{Hold, Lease};
pub use state::{Holder, ShapeState};

use crate::exit::AppError;

/// How long an idle cluster stays warm by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// The environment variable that sets the TTL (`90s`, `10m`).
pub const TTL_ENV: &str = "KINDPROOF_POOL_TTL";

/// What makes, checks and deletes a shape's cluster (kind for real; a fake in tests).
pub trait Maker: Send + Sync {
    /// Create the cluster of shape `key`, named `name`: its record.
    fn create(
        &self,
        key: &str,
        name: &str,
    ) -> impl Future<Output = Result<ShapeState, AppError>> + Send;
    /// Whether the cluster `state` names still exists (someone may have deleted it).
    fn exists(&self, state: &ShapeState) -> impl Future<Output = bool> + Send;
    /// Delete the cluster `state` names.
    fn delete(&self, state: &ShapeState) -> impl Future<Output = Result<(), AppError>> + Send;
    /// Remove what dead holders left on the cluster (their namespaces, by run id).
    fn sweep(
        &self,
        state: &ShapeState,
        dead: &[Holder],
    ) -> impl Future<Output = Result<(), AppError>> + Send;
}

/// The registry.
#[derive(Debug, Clone)]
pub struct Pool {
    pub dir: PathBuf,
    pub ttl: Duration,
}

impl Pool {
    /// The registry under kindproof's runtime directory, with the TTL from the environment.
    pub fn from_env() -> Result<Self, AppError> {
        let ttl = match std::env::var(TTL_ENV) {
            Ok(t) => humantime::parse_duration(t.trim()).map_err(|e| {
                AppError::InvalidInput(format!("{TTL_ENV}={t:?}: not a duration: {e}"))
            })?,
            Err(_) => DEFAULT_TTL,
        };
        Ok(Self {
            dir: crate::ports::reserve::runtime_base().join("pool"),
            ttl,
        })
    }

    pub fn at(dir: impl Into<PathBuf>, ttl: Duration) -> Self {
        Self {
            dir: dir.into(),
            ttl,
        }
    }

    /// The cluster name of shape `key` here.
    pub fn cluster_name(&self, key: &str) -> String {
        cluster_name(&self.dir, key)
    }

    fn path(&self, key: &str, what: &str) -> PathBuf {
        self.dir.join(format!("{key}.{what}"))
    }

    /// Every shape the registry records.
    pub fn shapes(&self) -> Vec<ShapeState> {
        let mut out: Vec<ShapeState> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| state::read(&e.path()))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Delete every idle cluster whose last use is at least the TTL ago (all idle ones with
    /// `all`); the ones deleted. A shape in use, or being created, is left.
    pub async fn prune<M: Maker>(&self, maker: &M, all: bool) -> Result<Vec<String>, AppError> {
        let mut deleted = Vec::new();
        for s in self.shapes() {
            let idle_for = state::unix_now().saturating_sub(s.last_used);
            if !all && Duration::from_secs(idle_for) < self.ttl {
                continue;
            }
            if self.remove_idle(maker, &s.key).await? {
                deleted.push(s.cluster.clone());
            }
        }
        Ok(deleted)
    }

    /// Delete shape `key`'s cluster if no one holds it (and forget the shape); whether it did.
    pub async fn remove_idle<M: Maker>(&self, maker: &M, key: &str) -> Result<bool, AppError> {
        let Some(_mutex) = lease::try_lock(&self.path(key, "lock"), lease::Mode::Exclusive)? else {
            return Ok(false);
        };
        let Some(_users) = lease::try_lock(&self.path(key, "use"), lease::Mode::Exclusive)? else {
            return Ok(false);
        };
        let json = self.path(key, "json");
        let Some(s) = state::read(&json) else {
            return Ok(false);
        };
        maker.delete(&s).await?;
        std::fs::remove_file(&json).map_err(AppError::io(format!("forget pool shape {key}")))?;
        Ok(true)
    }
}

/// The key of a shape: the kind config as resolved (its text), the node image and the kind
/// version, hashed.
pub fn shape_key(config: &str, image: &str, kind_version: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [config, image, kind_version] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// The key of the shape a kind config file makes with `image` under kind `version`'s rules
/// (the file's text as written: the same file is the same shape).
pub fn shape_of(config_file: &Path, image: &str, version: &str) -> Result<String, AppError> {
    let text =
        crate::input::read_text(config_file).map_err(|e| AppError::InvalidInput(e.to_string()))?;
    Ok(shape_key(&text, image, version))
}

/// The cluster name of shape `key` in the registry at `dir` (two registries on one Docker
/// host, two users say, never share a name).
pub fn cluster_name(dir: &Path, key: &str) -> String {
    format!("kp-pool-{}", shape_key(&dir.display().to_string(), key, ""))
}

fn ensure_dir(dir: &Path) -> Result<(), AppError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(AppError::io(format!(
            "create the pool directory {}",
            dir.display()
        )))
}

#[cfg(test)]
mod tests;
