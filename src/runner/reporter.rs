//! What a run tells the world, as events the Runner emits and reporters consume (the
//! dispatcher/reporter split nextest uses): the terminal, JUnit and JSON reporters are
//! `reporters/`; tests record the events. A reporter's failure (a report file that cannot be
//! written) is kept and returned once the run is over; it never stops the run.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::outcome::{StepReport, VariantReport};
use super::report::Phases;
use super::timeline::Timeline;
use crate::exit::AppError;

/// One thing that happened in a run.
#[derive(Debug)]
pub enum Event<'a> {
    /// A provider is about to create a cluster for a shape.
    ClusterCreating { name: &'a str, config: &'a Path },
    /// A cluster is ready for the group's variants (created and Ready, or borrowed).
    ClusterReady { name: &'a str, took: Duration },
    /// A cluster this run made stays (`--keep`, or a failure seen on a terminal).
    ClusterKept { name: &'a str, kubeconfig: &'a Path },
    /// A cluster this run made is deleted.
    ClusterDeleted { name: &'a str, took: Duration },
    /// A variant is waiting for its turn on its cluster.
    VariantQueued { id: &'a str },
    /// A variant's steps begin.
    VariantStarted { id: &'a str },
    /// One of a variant's steps (or cleanup steps) ended.
    StepFinished { id: &'a str, step: &'a StepReport },
    /// A variant ended; its report is final.
    VariantFinished { report: &'a VariantReport },
    /// A variant's namespace stays (`--keep`).
    NamespaceKept { id: &'a str, namespace: &'a str },
    /// Something worth a line on the terminal (kept on stderr).
    Notice(String),
    /// The run is over: every report, the phases and the timeline.
    RunFinished {
        reports: &'a [VariantReport],
        phases: &'a Phases,
        timeline: &'a Timeline,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>) -> Result<(), AppError>;
}

/// A reporter shared (a test keeps its own handle on what it recorded).
impl<R: Reporter> Reporter for std::sync::Arc<R> {
    fn event(&self, event: &Event<'_>) -> Result<(), AppError> {
        (**self).event(event)
    }
}

/// Every reporter of a run, in order; their first failure is kept for the end.
#[derive(Default)]
pub struct Reporters {
    all: Vec<Box<dyn Reporter>>,
    failed: Mutex<Option<AppError>>,
}

impl Reporters {
    pub fn new(all: Vec<Box<dyn Reporter>>) -> Self {
        Self {
            all,
            failed: Mutex::new(None),
        }
    }

    /// One more reporter, after the others.
    pub fn add(&mut self, r: Box<dyn Reporter>) {
        self.all.push(r);
    }

    pub fn emit(&self, event: &Event<'_>) {
        for r in &self.all {
            if let Err(e) = r.event(event) {
                let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                failed.get_or_insert(e);
            }
        }
    }

    /// The first failure of any reporter, if one failed.
    pub fn finish(self) -> Result<(), AppError> {
        match self.failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
