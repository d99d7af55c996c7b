//! An orderly stop of a run, asked for by the first SIGINT/SIGTERM/SIGHUP/SIGQUIT: variants not
//! yet started are skipped, the step that is running is cut short, and every `finally` and
//! `cleanup:` step still runs (the run bounds how long it waits for them; a second signal
//! aborts).

/// Whether a stop was asked for; cheap to clone into every variant. The default never stops.
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<tokio::sync::watch::Receiver<bool>>);

/// Asks for the stop.
#[derive(Debug)]
pub struct StopHandle(tokio::sync::watch::Sender<bool>);

impl Stop {
    /// A stop and the handle that asks for it.
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (StopHandle(tx), Stop(Some(rx)))
    }

    /// Whether the stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves once the stop is asked for (never, for the default stop).
    pub async fn wait(&self) {
        match &self.0 {
            Some(rx) => {
                let mut rx = rx.clone();
                // An error means the handle is gone without asking: never resolve.
                if rx.wait_for(|s| *s).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl StopHandle {
    pub fn request(&self) {
        let _ = self.0.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_is_seen_by_every_clone_and_the_default_never_stops() {
        let (handle, stop) = Stop::new();
        let other = stop.clone();
        assert!(!stop.requested());
        let waiter = tokio::spawn(async move { other.wait().await });
        handle.request();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter saw the stop")
            .unwrap();
        assert!(stop.requested());
        let never = Stop::default();
        assert!(!never.requested());
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), never.wait()).await;
        assert!(waited.is_err());
    }
}
