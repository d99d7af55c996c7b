//! Leases and holds on a pooled shape, as `flock`s on files beside its record:
//!
//! - `<key>.lock`, exclusive and brief: deciding whether the cluster exists, creating it
//!   (the others wait here), updating the record;
//! - `<key>.use`, shared by every lease holder for as long as it holds; `prune` deletes a
//!   cluster only when it can take it exclusively (no one holds it);
//! - `<key>.alone`, shared by every running variant, exclusive for one that must run alone;
//! - `<key>.claim-<hash>`, exclusive while a variant holding that cluster-wide claim runs.
//!
//! Order, always: `lock` before `use`; `alone` before the claims, the claims sorted. A lease
//! gives `use` back before it takes `lock` to record its release, so nothing waits in a
//! circle. A holder that dies releases everything with its file descriptors.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::state::{self, Holder, ShapeState};
use super::{Maker, Pool, ensure_dir};
use crate::exit::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

fn open(path: &Path) -> Result<File, AppError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(AppError::io(format!(
            "open the pool lock {}",
            path.display()
        )))
}

/// Take `mode` on `path`, waiting as long as it takes: at once when it is free, else in a
/// blocking thread, which the kernel wakes the moment the lock is free (polling would let
/// others overtake a waiter again and again). A future dropped meanwhile (a stopped run)
/// leaves that thread to take the lock and drop it at once; the CLI never waits for it
/// (`shutdown_background`).
pub async fn lock(path: &Path, mode: Mode) -> Result<File, AppError> {
    if let Some(file) = try_lock(path, mode)? {
        return Ok(file);
    }
    let file = open(path)?;
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        match mode {
            Mode::Shared => file.lock_shared(),
            Mode::Exclusive => file.lock(),
        }
        .map(|()| file)
    })
    .await
    .map_err(|e| AppError::Environment(format!("waiting for the pool lock {shown}: {e}")))?
    .map_err(AppError::io(format!("lock {}", path.display())))
}

/// Take `mode` on `path` if no one holds it otherwise.
pub fn try_lock(path: &Path, mode: Mode) -> Result<Option<File>, AppError> {
    let file = open(path)?;
    let got = match mode {
        Mode::Shared => file.try_lock_shared(),
        Mode::Exclusive => file.try_lock(),
    };
    match got {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(AppError::io(format!("lock {}", path.display()))(e))
        }
    }
}

/// A shared lease on a pooled shape's cluster.
#[derive(Debug)]
pub struct Lease {
    pool: Pool,
    pub state: ShapeState,
    /// Whether this lease made the cluster (else it reused a warm one).
    pub created: bool,
    holder: Holder,
    users: std::sync::Mutex<Option<File>>,
    /// Why dead holders' leftovers could not be swept, if they could not.
    pub unswept: Option<String>,
}

/// What a running variant holds across processes (its claims, or the shape alone).
#[derive(Debug, Default)]
pub struct Hold(#[allow(dead_code, reason = "held for its locks")] Vec<File>);

impl Pool {
    /// Lease shape `key`, its cluster made by `maker` if there is none (the others wait for
    /// it and reuse it). Dead holders' leftovers are swept first.
    pub async fn lease<M: Maker>(
        &self,
        maker: &M,
        key: &str,
        run_id: &str,
    ) -> Result<Lease, AppError> {
        ensure_dir(&self.dir)?;
        let mutex = lock(&self.path(key, "lock"), Mode::Exclusive).await?;
        let json = self.path(key, "json");
        let (mut s, created) = match state::read(&json) {
            Some(s) if maker.exists(&s).await => (s, false),
            _ => (maker.create(key, &self.cluster_name(key)).await?, true),
        };
        let (alive, dead): (Vec<Holder>, Vec<Holder>) = s
            .holders
            .drain(..)
            .partition(|h| crate::cluster::state::pid_alive(h.pid));
        // Best effort: a cluster whose API cannot be reached still serves what needs none.
        let unswept = match dead.is_empty() {
            true => None,
            false => maker.sweep(&s, &dead).await.err().map(|e| {
                let runs: Vec<&str> = dead.iter().map(|h| h.run_id.as_str()).collect();
                format!(
                    "the leftovers of dead runs {} were not swept: {e}",
                    runs.join(", ")
                )
            }),
        };
        let holder = Holder {
            pid: std::process::id(),
            run_id: run_id.to_string(),
        };
        s.holders = alive;
        s.holders.push(holder.clone());
        s.last_used = state::unix_now();
        state::write(&json, &s).map_err(AppError::io(format!("record pool shape {key}")))?;
        // Taken while the shape is locked: no prune can come between.
        let users = lock(&self.path(key, "use"), Mode::Shared).await?;
        drop(mutex);
        Ok(Lease {
            pool: self.clone(),
            state: s,
            created,
            holder,
            users: std::sync::Mutex::new(Some(users)),
            unswept,
        })
    }
}

impl Lease {
    fn claim_path(&self, claim: &str) -> PathBuf {
        let h = super::shape_key(claim, "", "");
        self.pool.path(&self.state.key, &format!("claim-{h}"))
    }

    /// Hold `claims` (or the whole shape, `alone`) against every other process's variants on
    /// this cluster, waiting until they are free.
    pub async fn hold(&self, claims: &[String], alone: bool) -> Result<Hold, AppError> {
        let alone_path = self.pool.path(&self.state.key, "alone");
        if alone {
            return Ok(Hold(vec![lock(&alone_path, Mode::Exclusive).await?]));
        }
        let mut held = vec![lock(&alone_path, Mode::Shared).await?];
        let mut sorted: Vec<&String> = claims.iter().collect();
        sorted.sort();
        sorted.dedup();
        for c in sorted {
            held.push(lock(&self.claim_path(c), Mode::Exclusive).await?);
        }
        Ok(Hold(held))
    }

    fn take_users(&self) -> Option<File> {
        self.users.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Give the lease back: the cluster stays warm for the pool's TTL. Once only; later calls
    /// do nothing.
    pub async fn release(&self) -> Result<(), AppError> {
        if self.take_users().is_none() {
            return Ok(());
        }
        let _mutex = lock(&self.pool.path(&self.state.key, "lock"), Mode::Exclusive).await?;
        self.record_release()
    }

    fn record_release(&self) -> Result<(), AppError> {
        let json = self.pool.path(&self.state.key, "json");
        let Some(mut s) = state::read(&json) else {
            return Ok(());
        };
        if let Some(i) = s.holders.iter().position(|h| *h == self.holder) {
            s.holders.remove(i);
        }
        s.last_used = state::unix_now();
        state::write(&json, &s).map_err(AppError::io(format!("record pool shape {}", s.key)))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Not given back by `release` (a run cut off): record it if the shape is free now;
        // else the record keeps this holder until its process is gone.
        if let Some(users) = self.take_users() {
            drop(users);
            if let Ok(Some(_mutex)) =
                try_lock(&self.pool.path(&self.state.key, "lock"), Mode::Exclusive)
            {
                let _ = self.record_release();
            }
        }
    }
}
