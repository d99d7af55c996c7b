//! `kindproof run`: the arguments mapped onto a plan, a provider (`--cluster`, `--kubeconfig`
//! or kind per shape), the reporters and a [`Runner`]; the first signal stops the run in order
//! (bounded), a second aborts; the exit code: 1 when an assertion failed, 3 when the harness
//! broke.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cluster::kind::{check_kind, check_provider};
use crate::cluster::provider::ExistingCluster;
use crate::commands::validate::load_scenarios;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kind_cli::{installed_version, rules_version};
use crate::labels::new_run_id;
use crate::runner::cleanup::Cleanup;
use crate::runner::outcome::Status;
use crate::runner::plan::{Group, Partition, group, select};
use crate::runner::provider::ClusterProvider;
use crate::runner::providers::{existing::Existing, kind::KindShapes, named::NamedKind};
use crate::runner::reporter::{Event, Reporter, Reporters};
use crate::runner::reporters::{files, terminal::Terminal};
use crate::runner::run::{Runner, Settings};
use crate::runner::stop::Stop;
use crate::runner::timeline::Recorder;
use crate::scenario::model::Scenario;
use crate::signals::Signals;
use crate::version::Version;

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

/// How long an interrupted run waits for its variants' `finally` and `cleanup:` steps.
const STOP_BOUND: Duration = Duration::from_secs(90);

pub async fn run(args: RunArgs) -> Result<(), AppError> {
    let started = Instant::now();
    let signals = Signals::listen()?;
    let creating = args.cluster.is_none() && args.kubeconfig.is_none();
    let version = if creating {
        check_provider()?;
        check_kind()?
    } else {
        rules_version(None)?.0
    };
    let scenarios = load_scenarios(version, &args.paths)?;
    let (filter, variant) = (args.filter.as_deref(), args.variant.as_deref());
    if (filter.is_some() || variant.is_some())
        && select(&scenarios, filter, variant, None).is_empty()
    {
        let what = match (filter, variant) {
            (Some(f), Some(v)) => format!("--filter {f:?} with --variant {v:?}"),
            (Some(f), None) => format!("--filter {f:?}"),
            (None, v) => format!("--variant {:?}", v.unwrap_or_default()),
        };
        return Err(AppError::InvalidInput(format!(
            "{what} matches no variant of the scenarios given (`kindproof list` shows them)"
        )));
    }
    let picks = select(&scenarios, filter, variant, args.partition);
    if picks.is_empty() {
        crate::outln!("no variant in this partition; nothing to run");
        return Ok(());
    }
    let groups = if creating {
        group(&scenarios, &picks)
    } else {
        // One given cluster takes everything.
        vec![Group {
            config_file: PathBuf::new(),
            image: None,
            picks,
        }]
    };
    let engine = BollardEngine::connect().await?;
    let ci = std::env::var_os("CI").is_some();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Terminal::new(
        args.verbose,
        !ci && std::io::stdout().is_terminal(),
    ))];
    if let Some(path) = &args.report_junit {
        reporters.push(Box::new(files::Junit(path.clone())));
    }
    if let Some(path) = &args.report_json {
        reporters.push(Box::new(files::Json(path.clone())));
    }
    let events = Reporters::new(reporters);
    let settings = Settings {
        jobs: args.jobs.max(1),
        keep: args.keep,
        keep_failed: !ci && std::io::stderr().is_terminal(),
        verbose: args.verbose,
        artifacts: args
            .artifacts
            .clone()
            .unwrap_or_else(|| "kindproof-artifacts".into()),
        poll: Duration::from_millis(500),
        kind_version: installed_version()
            .ok()
            .flatten()
            .map(|k| Version::new(k.major.into(), k.minor.into(), k.patch.into())),
    };
    let load = started.elapsed();
    let go = Go {
        engine: &engine,
        scenarios: &scenarios,
        settings,
        events: &events,
        groups: &groups,
        signals,
        started,
        load,
    };
    let outcome = match (&args.cluster, &args.kubeconfig) {
        (Some(name), kubeconfig) => {
            let p = NamedKind {
                engine: &engine,
                name: name.clone(),
                kubeconfig: kubeconfig.clone(),
                context: args.context.clone(),
            };
            go.run(&p).await
        }
        (None, Some(kubeconfig)) => {
            let cluster = ExistingCluster {
                kubeconfig: kubeconfig.clone(),
                context: args.context.clone(),
            };
            go.run(&Existing {
                engine: &engine,
                cluster,
            })
            .await
        }
        (None, None) => {
            let p = KindShapes {
                engine: &engine,
                version,
                image: args.image.clone(),
                wait: args.wait,
            };
            go.run(&p).await
        }
    };
    let (failed, broken) = outcome?;
    events.finish()?;
    if failed + broken > 0 {
        return Err(AppError::Verdict { failed, broken });
    }
    Ok(())
}

/// A run ready to go on whichever provider the arguments chose.
struct Go<'a> {
    engine: &'a BollardEngine,
    scenarios: &'a [Scenario],
    settings: Settings,
    events: &'a Reporters,
    groups: &'a [Group],
    signals: Signals,
    started: Instant,
    load: Duration,
}

impl Go<'_> {
    /// The runner on `provider`: how many variants failed and broke.
    async fn run<P: ClusterProvider>(mut self, provider: &P) -> Result<(usize, usize), AppError> {
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
                crate::errln!("kindproof: interrupted: cleaning up: running the current variants' finally and cleanup steps (at most {}s; a second signal aborts)", STOP_BOUND.as_secs());
                stop_handle.request();
                let finished = self.signals.cleanup_or_abort(tokio::time::timeout(STOP_BOUND, &mut work)).await;
                if finished.is_err() {
                    crate::errln!("kindproof: finally and cleanup steps did not finish in time");
                }
                crate::errln!("kindproof: interrupted: removing what this run created");
                for left in self.signals.cleanup_or_abort(runner.after_stop()).await {
                    crate::errln!("kindproof: {left}");
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
        Ok((
            count(|s| matches!(s, Status::Failed { .. })),
            count(|s| matches!(s, Status::Broken { .. })),
        ))
    }
}
