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

/// Things created and removed many times over (probe containers): the ids alive now, which
/// one cleanup step removes at the end.
#[derive(Debug, Clone, Default)]
pub struct Live(std::sync::Arc<Mutex<std::collections::BTreeSet<String>>>);

impl Live {
    fn ids(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, id: &str) {
        self.ids().insert(id.to_string());
    }

    pub fn remove(&self, id: &str) {
        self.ids().remove(id);
    }

    /// Every id alive now, forgotten here.
    pub fn drain(&self) -> Vec<String> {
        std::mem::take(&mut *self.ids()).into_iter().collect()
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
