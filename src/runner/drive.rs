//! Driving a [`Runner`] to its end: the work, the first signal's orderly stop (the running
//! variants' `finally` and `cleanup:` steps within a bound, a second signal aborts, then the
//! cleanup stack and the sweep), the run's conclusion and its `RunFinished` event.

use std::time::{Duration, Instant};

use super::cleanup::Cleanup;
use super::outcome::Status;
use super::plan::Group;
use super::provider::ClusterProvider;
use super::reporter::{Event, Reporters};
use super::run::{Runner, Settings};
use super::stop::Stop;
use super::timeline::Recorder;
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::labels::new_run_id;
use crate::scenario::model::Scenario;
use crate::signals::Signals;

/// How long an interrupted run waits for its variants' `finally` and `cleanup:` steps.
pub const STOP_BOUND: Duration = Duration::from_secs(90);

/// How many variants failed (a verdict) and broke (the harness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub failed: usize,
    pub broken: usize,
}

/// A run ready to go on whichever provider the arguments chose.
pub struct Drive<'a, E: Engine> {
    pub engine: &'a E,
    pub scenarios: &'a [Scenario],
    pub settings: Settings,
    pub events: &'a Reporters,
    pub groups: &'a [Group],
    pub signals: Signals,
    pub started: Instant,
    pub load: Duration,
}

impl<E: Engine> Drive<'_, E> {
    /// The runner on `provider`: how many variants failed and broke.
    pub async fn run<P: ClusterProvider>(mut self, provider: &P) -> Result<Tally, AppError> {
        let recorder = Recorder::new(self.started);
        recorder.phase("load", self.started, self.started + self.load);
        let (stop_handle, stop) = Stop::new();
        let runner = Runner {
            engine: self.engine,
            provider,
            scenarios: self.scenarios,
            settings: self.settings,
            events: self.events,
            run_id: new_run_id(),
            recorder,
            stop,
            cleanup: Cleanup::new(),
        };
        let work = runner.run(self.groups);
        tokio::pin!(work);
        let reports = tokio::select! {
            reports = &mut work => reports,
            () = self.signals.recv() => {
                // The running variants' steps are cut short; their `finally` and `cleanup:`
                // steps run (bounded); then the stack and the sweep.
                self.events.emit(&Event::Notice(format!("interrupted: cleaning up: running the current variants' finally and cleanup steps (at most {}s; a second signal aborts)", STOP_BOUND.as_secs())));
                stop_handle.request();
                let finished = self.signals.cleanup_or_abort(tokio::time::timeout(STOP_BOUND, &mut work)).await;
                if finished.is_err() {
                    self.events.emit(&Event::Notice("finally and cleanup steps did not finish in time".into()));
                }
                self.events.emit(&Event::Notice("interrupted: removing what this run created".into()));
                for left in self.signals.cleanup_or_abort(runner.after_stop()).await {
                    self.events.emit(&Event::Notice(left.to_string()));
                }
                return Err(AppError::Interrupted);
            }
        };
        let (phases, timeline) = runner.conclude(self.load, self.started);
        self.events.emit(&Event::RunFinished {
            reports: &reports,
            phases: &phases,
            timeline: &timeline,
        });
        let count = |f: fn(&Status) -> bool| reports.iter().filter(|r| f(&r.status)).count();
        Ok(Tally {
            failed: count(|s| matches!(s, Status::Failed { .. })),
            broken: count(|s| matches!(s, Status::Broken { .. })),
        })
    }
}
