//! `kindproof run`: the arguments mapped onto a plan, a provider (`--cluster`, `--kubeconfig`
//! or kind per shape), the reporters and the runner's settings; the run itself is the
//! runner's (`runner::drive`). The exit code: 1 when an assertion failed, 3 when the harness
//! broke.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cluster::kind::{check_kind, check_provider};
use crate::cluster::provider::ExistingCluster;
use crate::commands::validate::load_scenarios;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kind_cli::rules_version;
use crate::pool::Pool;
use crate::runner::drive::{Drive, Tally};
use crate::runner::matrix;
use crate::runner::plan::{Group, Partition, choose, group};
use crate::runner::providers::pool::Pooled;
use crate::runner::providers::{existing::Existing, kind::KindShapes, named::NamedKind};
use crate::runner::reporters::standard;
use crate::runner::run::Settings;
use crate::signals::Signals;

pub struct RunArgs {
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    pub filter: Option<String>,
    pub variant: Option<String>,
    pub keep: bool,
    /// Keep the cluster when a variant does not pass (default: on a terminal, not in CI).
    pub keep_failed: Option<bool>,
    pub partition: Option<Partition>,
    pub cluster: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `--image`: one overrides every shape's node image; more make a matrix.
    pub image: Vec<String>,
    /// `--pull`: node images and the manifests' images may be pulled.
    pub pull: bool,
    pub report_junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// Diagnostics bundles of variants that do not pass go under here.
    pub artifacts: Option<PathBuf>,
    /// How long kind and kindproof wait for a created cluster to be ready.
    pub wait: Duration,
    /// Lease cluster shapes from the cross-process pool instead of making them.
    pub pool: bool,
    pub verbose: bool,
}

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
    let picks =
        choose(&scenarios, filter, variant, args.partition).map_err(AppError::InvalidInput)?;
    if picks.is_empty() {
        crate::outln!("no variant in this partition; nothing to run");
        return Ok(());
    }
    // Several images: every pick once per image, each image's shapes clusters of their own.
    let matrix = args.image.len() > 1;
    if matrix && (!creating || args.pool) {
        return Err(AppError::InvalidInput(
            "--image more than once runs a matrix on clusters this run creates: not with --cluster, --kubeconfig or --pool".into(),
        ));
    }
    let labels: Vec<String> = args.image.iter().map(|i| matrix::label(i)).collect();
    let (scenarios, picks) = if matrix {
        matrix::expand(&scenarios, &picks, &args.image).map_err(AppError::InvalidInput)?
    } else {
        (scenarios, picks)
    };
    let image = if matrix {
        None
    } else {
        args.image.first().cloned()
    };
    let mut groups = match creating {
        true => group(&scenarios, &picks),
        // One given cluster takes everything.
        false => vec![Group {
            config_file: PathBuf::new(),
            image: None,
            picks,
        }],
    };
    // One `--image` is every shape's: the groups say so (reports and replays name it).
    if let (true, Some(i)) = (creating, &image) {
        for g in &mut groups {
            g.image = Some(i.clone());
        }
    }
    let engine = BollardEngine::connect().await?;
    let live = std::env::var_os("CI").is_none() && std::io::stdout().is_terminal();
    let mut events = standard(args.verbose, live, args.report_junit, args.report_json);
    if matrix {
        events.add(Box::new(matrix::Table { labels }));
    }
    let mut settings = Settings::detect(args.jobs, args.keep, args.verbose, args.artifacts);
    let pull = crate::cluster::kind::pull_allowed(args.pull);
    settings.pull = pull;
    if let Some(k) = args.keep_failed {
        settings.keep_failed = k;
    }
    let load = started.elapsed();
    let (engine, context) = (&engine, args.context);
    let drive = Drive {
        engine,
        scenarios: &scenarios,
        settings,
        events: &events,
        groups: &groups,
        signals,
        started,
        load,
    };
    let tally = match (args.cluster, args.kubeconfig) {
        (Some(name), kubeconfig) => {
            drive
                .run(&NamedKind {
                    engine,
                    name,
                    kubeconfig,
                    context,
                })
                .await
        }
        (None, Some(kubeconfig)) => {
            let cluster = ExistingCluster {
                kubeconfig,
                context,
            };
            drive.run(&Existing { engine, cluster }).await
        }
        (None, None) if args.pool => {
            let wait = args.wait;
            let mut pooled = Pooled::new(engine, version, wait, Pool::from_env()?);
            pooled.pull = pull;
            pooled.prune_expired(&events).await;
            drive.run(&pooled).await
        }
        (None, None) => {
            let wait = args.wait;
            drive
                .run(&KindShapes {
                    engine,
                    version,
                    wait,
                    pull,
                })
                .await
        }
    };
    let Tally { failed, broken } = tally?;
    events.finish()?;
    if failed + broken > 0 {
        return Err(AppError::Verdict { failed, broken });
    }
    Ok(())
}
