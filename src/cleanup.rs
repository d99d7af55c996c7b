//! Cleanup that survives failure: everything a run creates is registered here as it is
//! created, and released last-in-first-out, each step within a time bound, on success, on
//! failure and on the first signal. A step that fails or times out is reported and the rest
//! still run.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

type Step = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What a cleanup could not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub what: String,
    pub why: String,
}

/// A stack of cleanup steps.
#[derive(Default)]
pub struct Cleanup {
    steps: Vec<(String, Step)>,
}

impl Cleanup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the release of `what`, to run before everything registered earlier.
    pub fn push<F>(&mut self, what: impl Into<String>, step: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.steps.push((what.into(), Box::pin(step)));
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Run every step, newest first, each within `bound`; what could not be released.
    pub async fn run(self, bound: Duration) -> Vec<Leftover> {
        let mut leftovers = Vec::new();
        for (what, step) in self.steps.into_iter().rev() {
            match tokio::time::timeout(bound, step).await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => leftovers.push(Leftover { what, why }),
                Err(_) => leftovers.push(Leftover {
                    what,
                    why: format!("not done within {bound:?}"),
                }),
            }
        }
        leftovers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn steps_run_newest_first_and_a_failure_or_hang_does_not_stop_the_rest() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut c = Cleanup::new();
        for (name, outcome) in [
            ("cluster", 0),
            ("namespace", 1),
            ("pod", 2),
            ("temp file", 0),
        ] {
            let order = order.clone();
            c.push(name, async move {
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
    }
}
