//! SIGINT, SIGTERM, SIGHUP and SIGQUIT as one stream: the first asks for an orderly stop
//! (clean up, exit 130), a second during the cleanup aborts at once. A closed terminal (SIGHUP)
//! or a Ctrl-\ (SIGQUIT) must not leave clusters, containers or port reservations behind.

use crate::exit::AppError;

pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    /// Start listening; from here on the signals no longer kill the process by default.
    pub fn listen() -> Result<Self, AppError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())
                .map_err(AppError::io("listen for SIGINT"))?,
            terminate: signal(SignalKind::terminate())
                .map_err(AppError::io("listen for SIGTERM"))?,
            hangup: signal(SignalKind::hangup()).map_err(AppError::io("listen for SIGHUP"))?,
            quit: signal(SignalKind::quit()).map_err(AppError::io("listen for SIGQUIT"))?,
        })
    }

    /// The next SIGINT, SIGTERM, SIGHUP or SIGQUIT.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
            _ = self.quit.recv() => {}
        }
    }

    /// Run `cleanup` after a first signal; a second signal meanwhile exits at once with 130.
    pub async fn cleanup_or_abort<T>(&mut self, cleanup: impl Future<Output = T>) -> T {
        tokio::select! {
            out = cleanup => out,
            _ = self.recv() => {
                crate::errln!("kindproof: second signal: exiting without finishing the cleanup");
                std::process::exit(crate::exit::INTERRUPTED);
            }
        }
    }
}
