//! kindproof as a library: load a suite of scenarios, look at its cases (one per variant,
//! named `scenario::variant`), and run one on a cluster from the pool, a fresh one, or a
//! named kind cluster, getting the same report the CLI prints.
//!
//! ```no_run
//! use kindproof::suite::{Suite, Target};
//!
//! # async fn demo() -> Result<(), kindproof::exit::AppError> {
//! let suite = Suite::load(&["scenarios"])?;
//! for case in suite.cases() {
//!     if let Some(why) = case.not_runnable(&suite.env().await) {
//!         println!("{}: skipped ({why})", case.name());
//!         continue;
//!     }
//!     // Leased from the pool every kindproof process on this host shares.
//!     let report = case.run(&Target::Pool).await?;
//!     println!("{}: {:?} in {:?}", case.name(), report.status, report.duration);
//! }
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::kind::node_image;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kind_config::version::KindVersion;
use crate::runner::drive::Drive;
use crate::runner::outcome::VariantReport;
use crate::runner::plan::{Pick, group, needs, select};
use crate::runner::providers::{kind::KindShapes, named::NamedKind, pool::Pooled};
use crate::runner::reporter::{Event, Reporter, Reporters};
use crate::runner::reporters::terminal::Terminal;
use crate::runner::run::Settings;
use crate::scenario::model::{Scenario, Variant};
use crate::version::Version;

/// Scenarios loaded and checked, with the kind rules they were checked by.
pub struct Suite {
    pub scenarios: Vec<Scenario>,
    pub kind_rules: KindVersion,
}

/// One variant of one scenario.
#[derive(Clone, Copy)]
pub struct Case<'s> {
    suite: &'s Suite,
    pick: Pick,
}

/// Where a case runs.
#[derive(Debug, Clone)]
pub enum Target {
    /// A lease on the shape's cluster from the host-wide pool (made once, kept warm).
    Pool,
    /// A cluster made for this run and deleted after it.
    Fresh,
    /// This existing kind cluster (made by `kindproof up`, say).
    Cluster(String),
}

/// What this host offers, for deciding which cases can run.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The node image clusters would use, if it is local.
    pub node_image: Option<String>,
    /// The installed kind's version.
    pub kind: Option<Version>,
    /// The Kubernetes version of the node image, from its tag (`kindest/node:v1.36.2`).
    pub kubernetes: Option<Version>,
}

impl Suite {
    /// Load every scenario under `paths` (directories or files), checked by the installed
    /// kind's rules (else the newest kindproof knows); an invalid one is an error naming it.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, AppError> {
        let kind_rules = crate::kind_cli::rules_version(None)?.0;
        let inputs: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let scenarios = crate::commands::validate::load_scenarios(kind_rules, &inputs)?;
        Ok(Self {
            scenarios,
            kind_rules,
        })
    }

    /// Every case, scenario by scenario.
    pub fn cases(&self) -> Vec<Case<'_>> {
        select(&self.scenarios, None, None, None)
            .into_iter()
            .map(|pick| Case { suite: self, pick })
            .collect()
    }

    /// The case named `scenario::variant`.
    pub fn case(&self, name: &str) -> Option<Case<'_>> {
        self.cases().into_iter().find(|c| c.name() == name)
    }

    /// What this host offers (Docker is asked whether the node image is local).
    pub async fn env(&self) -> Env {
        let kind = crate::kind_cli::installed_release();
        let node_image = match BollardEngine::connect().await {
            Ok(e) => node_image(&e, None, false).await.ok().map(|i| i.name),
            Err(_) => None,
        };
        let kubernetes = node_image
            .as_deref()
            .and_then(crate::runner::matrix::tag_version);
        Env {
            node_image,
            kind,
            kubernetes,
        }
    }
}

impl<'s> Case<'s> {
    pub fn scenario(&self) -> &'s Scenario {
        &self.suite.scenarios[self.pick.scenario]
    }

    pub fn variant(&self) -> &'s Variant {
        &self.scenario().variants[self.pick.variant]
    }

    /// `scenario::variant`, the name test harnesses list.
    pub fn name(&self) -> String {
        format!("{}::{}", self.scenario().name, self.variant().name)
    }

    /// Whether it needs a cluster (some cases only ask kind to refuse a config).
    pub fn needs_cluster(&self) -> bool {
        needs(self.variant()).cluster
    }

    /// Why it cannot run here, if it cannot: no node image for a case that needs a cluster,
    /// or a version gate this host does not meet (judged before anything runs).
    pub fn not_runnable(&self, env: &Env) -> Option<String> {
        if self.needs_cluster() && env.node_image.is_none() {
            return Some(
                "needs a kind node image, and none is local (`docker load` one; KINDPROOF_NODE_IMAGE names it)"
                    .into(),
            );
        }
        self.variant()
            .unmet_gate(env.kind.as_ref(), env.kubernetes.as_ref(), "this host")
    }

    /// Run it on `target`: its report, as the CLI prints it (on stdout as it runs). The first
    /// SIGINT/SIGTERM stops it in order (its `finally` and `cleanup:` steps run).
    pub async fn run(&self, target: &Target) -> Result<VariantReport, AppError> {
        let started = Instant::now();
        let engine = BollardEngine::connect().await?;
        let kept = std::sync::Arc::new(Kept::default());
        let events = Reporters::new(vec![
            Box::new(Terminal::new(true, false)),
            Box::new(kept.clone()),
        ]);
        let scenarios = std::slice::from_ref(self.scenario());
        let pick = Pick {
            scenario: 0,
            variant: self.pick.variant,
        };
        let groups = group(scenarios, &[pick]);
        let drive = Drive {
            engine: &engine,
            scenarios,
            settings: Settings::detect(1, false, true, None),
            events: &events,
            groups: &groups,
            signals: crate::signals::Signals::listen()?,
            started,
            load: Duration::ZERO,
        };
        let (version, wait) = (self.suite.kind_rules, Duration::from_secs(180));
        match target {
            Target::Pool => {
                let pool = crate::pool::Pool::from_env()?;
                let pooled = Pooled::new(&engine, version, wait, pool);
                pooled.prune_expired(&events).await;
                drive.run(&pooled).await?
            }
            Target::Fresh => {
                drive
                    .run(&KindShapes {
                        engine: &engine,
                        version,
                        wait,
                        pull: false,
                    })
                    .await?
            }
            Target::Cluster(name) => {
                let p = NamedKind {
                    engine: &engine,
                    name: name.clone(),
                    kubeconfig: None,
                    context: None,
                };
                drive.run(&p).await?
            }
        };
        events.finish()?;
        let report = kept.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        report.ok_or_else(|| AppError::Environment(format!("{} produced no report", self.name())))
    }
}

/// The report of the one variant a case runs.
#[derive(Default)]
struct Kept(Mutex<Option<VariantReport>>);

impl Reporter for Kept {
    fn event(&self, e: &Event<'_>) -> Result<(), AppError> {
        if let Event::VariantFinished { report } = e {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((*report).clone());
        }
        Ok(())
    }
}
