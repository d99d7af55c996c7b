//! What a `kindproof run` is given (its arguments) and what every group of it shares (the
//! engine, the scenarios, the run id, the recorder, the stop), apart from the code that uses
//! them, so that the run's files depend on this one and not on each other.

use std::path::PathBuf;
use std::time::Duration;

use crate::docker::bollard_engine::BollardEngine;
use crate::runner::plan::Partition;
use crate::runner::stop::Stop;
use crate::runner::timeline::Recorder;
use crate::scenario::model::Scenario;

pub struct RunArgs {
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    pub filter: Option<String>,
    pub variant: Option<String>,
    pub keep: bool,
    pub partition: Option<Partition>,
    pub cluster: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub image: Option<String>,
    pub report_junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// Diagnostics bundles of variants that do not pass go under here.
    pub artifacts: Option<PathBuf>,
    /// How long kind and kindproof wait for a created cluster to be ready.
    pub wait: Duration,
    pub verbose: bool,
}

/// What every group of a run shares.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub engine: &'a BollardEngine,
    pub args: &'a RunArgs,
    pub scenarios: &'a [Scenario],
    pub run_id: &'a str,
    pub version: crate::kind_config::version::KindVersion,
    pub recorder: &'a Recorder,
    pub stop: &'a Stop,
}
