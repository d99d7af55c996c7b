//! Cleanup that survives failure: everything a run creates is registered here as it is
//! created, and released last-in-first-out, each step within a time bound, on success, on
//! failure and on the first signal. The owner of a thing may release it early (or keep it) by
//! its token; a step that fails or times out is reported and the rest still run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

type Step<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// What a cleanup could not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub what: String,
    pub why: String,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} was not removed: {}", self.what, self.why)
    }
}

/// One registered release, to run early ([`Cleanup::release`]) or drop ([`Cleanup::forget`]).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a token is how its owner releases or keeps what it registered"]
pub struct Token(u64);

/// A stack of cleanup steps, shared by everything a run does.
#[derive(Default)]
pub struct Cleanup<'a> {
    steps: Mutex<Vec<(u64, String, Step<'a>)>>,
    next: AtomicU64,
}

impl<'a> Cleanup<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    fn steps(&self) -> std::sync::MutexGuard<'_, Vec<(u64, String, Step<'a>)>> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register the release of `what`, to run before everything registered earlier.
    pub fn push<F>(&self, what: impl Into<String>, step: F) -> Token
    where
        F: Future<Output = Result<(), String>> + Send + 'a,
    {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.steps().push((id, what.into(), Box::pin(step)));
        Token(id)
    }

    pub fn len(&self) -> usize {
        self.steps().len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps().is_empty()
    }

    /// What is registered, oldest first.
    pub fn pending(&self) -> Vec<String> {
        self.steps().iter().map(|(_, w, _)| w.clone()).collect()
    }

    fn take(&self, token: Token) -> Option<(String, Step<'a>)> {
        let mut steps = self.steps();
        let i = steps.iter().position(|(id, _, _)| *id == token.0)?;
        let (_, what, step) = steps.remove(i);
        Some((what, step))
    }

    /// Drop a registered release without running it (the thing is kept, or already gone).
    pub fn forget(&self, token: Token) {
        drop(self.take(token));
    }

    /// Run one registered release now, within `bound` (nothing if it already ran).
    pub async fn release(&self, token: Token, bound: Duration) -> Result<(), Leftover> {
        match self.take(token) {
            Some((what, step)) => bounded(what, step, bound).await,
            None => Ok(()),
        }
    }

    /// Run every step still registered, newest first, each within `bound`; what could not be
    /// released.
    pub async fn run(&self, bound: Duration) -> Vec<Leftover> {
        let mut leftovers = Vec::new();
        // Taken one at a time: a step may register more (they run next).
        loop {
            let Some((_, what, step)) = self.steps().pop() else {
                break;
            };
            if let Err(l) = bounded(what, step, bound).await {
                leftovers.push(l);
            }
        }
        leftovers
    }
}

async fn bounded(what: String, step: Step<'_>, bound: Duration) -> Result<(), Leftover> {
    match tokio::time::timeout(bound, step).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(Leftover { what, why }),
        Err(_) => Err(Leftover {
            what,
            why: format!("not done within {bound:?}"),
        }),
    }
}

/// Things created and removed many times over, alive now: probe containers (ids), local
/// background probes (pids), and faults in force with what restores them. One cleanup step
/// per cluster ends whatever is left.
#[derive(Debug, Clone, Default)]
pub struct Live(std::sync::Arc<Mutex<Alive>>);

#[derive(Debug, Default)]
struct Alive {
    ids: std::collections::BTreeSet<String>,
    pids: std::collections::BTreeSet<u32>,
    /// Background probes by exec in a pod: the tasks reading them.
    execs: std::collections::BTreeMap<u64, tokio::task::AbortHandle>,
    /// By key (`network <container>`), in the order applied.
    restores: Vec<(String, Restore)>,
}

/// How to undo a fault from outside the variant (the run was cut short).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Put a container back on a network with its addresses.
    Reconnect {
        network: String,
        container: String,
        ipv4: Option<String>,
        ipv6: Option<String>,
    },
    /// Run a command in a container.
    Exec {
        container: String,
        command: Vec<String>,
    },
}

impl Live {
    fn alive(&self) -> std::sync::MutexGuard<'_, Alive> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, id: &str) {
        self.alive().ids.insert(id.to_string());
    }

    pub fn remove(&self, id: &str) {
        self.alive().ids.remove(id);
    }

    /// Every id alive now, forgotten here.
    pub fn drain(&self) -> Vec<String> {
        std::mem::take(&mut self.alive().ids).into_iter().collect()
    }

    pub fn add_pid(&self, pid: u32) {
        self.alive().pids.insert(pid);
    }

    /// Whether `pid` is still one of ours (and running): only then may it be signalled.
    pub fn has_pid(&self, pid: u32) -> bool {
        self.alive().pids.contains(&pid)
    }

    pub fn remove_pid(&self, pid: u32) {
        self.alive().pids.remove(&pid);
    }

    /// End every local background probe and pod exec still running (SIGTERM; closed).
    pub fn end_streams(&self) {
        let mut a = self.alive();
        for pid in std::mem::take(&mut a.pids) {
            // SAFETY: a pid of our own child not reaped yet (its reader removes it after
            // `wait`, under this same lock).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        for (_, t) in std::mem::take(&mut a.execs) {
            t.abort();
        }
    }

    pub fn add_exec(&self, n: u64, task: tokio::task::AbortHandle) {
        self.alive().execs.insert(n, task);
    }

    /// End the reading of exec `n`: its stream closes, and the probe ends on its next write.
    pub fn end_exec(&self, n: u64) {
        if let Some(t) = self.alive().execs.remove(&n) {
            t.abort();
        }
    }

    /// A fault in force under `key`; applied again, it keeps its first restore.
    pub fn hold(&self, key: &str, restore: Restore) {
        let mut a = self.alive();
        if !a.restores.iter().any(|(k, _)| k == key) {
            a.restores.push((key.to_string(), restore));
        }
    }

    /// The fault under `key` was undone.
    pub fn undone(&self, key: &str) {
        self.alive().restores.retain(|(k, _)| k != key);
    }

    /// Every fault still in force, newest first, forgotten here.
    pub fn drain_restores(&self) -> Vec<Restore> {
        let mut v: Vec<Restore> = std::mem::take(&mut self.alive().restores)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        v.reverse();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn steps_run_newest_first_and_a_failure_or_hang_does_not_stop_the_rest() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let c = Cleanup::new();
        for (name, outcome) in [
            ("cluster", 0),
            ("namespace", 1),
            ("pod", 2),
            ("temp file", 0),
        ] {
            let order = order.clone();
            let _ = c.push(name, async move {
                order.lock().unwrap().push(name);
                match outcome {
                    1 => Err("403 Forbidden".to_string()),
                    2 => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        Ok(())
                    }
                    _ => Ok(()),
                }
            });
        }
        assert_eq!(c.len(), 4);
        let leftovers = c.run(Duration::from_secs(30)).await;
        assert_eq!(
            *order.lock().unwrap(),
            ["temp file", "pod", "namespace", "cluster"]
        );
        assert_eq!(
            leftovers,
            [
                Leftover {
                    what: "pod".into(),
                    why: "not done within 30s".into()
                },
                Leftover {
                    what: "namespace".into(),
                    why: "403 Forbidden".into()
                },
            ]
        );
        assert!(c.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_owner_releases_early_or_keeps_and_neither_runs_again() {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let c = Cleanup::new();
        let step = |name: &'static str| {
            let ran = ran.clone();
            async move {
                ran.lock().unwrap().push(name);
                Ok(())
            }
        };
        let cluster = c.push("cluster", step("cluster"));
        let namespace = c.push("namespace", step("namespace"));
        let probe = c.push("probe container", step("probe container"));
        assert_eq!(c.pending(), ["cluster", "namespace", "probe container"]);
        c.release(namespace, Duration::from_secs(1)).await.unwrap();
        c.forget(probe);
        assert_eq!(c.pending(), ["cluster"]);
        assert!(c.run(Duration::from_secs(1)).await.is_empty());
        // Released once, the cluster's token does nothing.
        c.release(cluster, Duration::from_secs(1)).await.unwrap();
        assert_eq!(*ran.lock().unwrap(), ["namespace", "cluster"]);
    }
}
