//! The Runner: a plan's groups on the clusters a [`ClusterProvider`] gives, in parallel where
//! `-j` allows, every created thing on one cleanup stack, and every happening an [`Event`] for
//! the reporters. Per group: offline preflight, the probe image built while the cluster is
//! acquired, images loaded, the variants (`variant.rs`), stragglers waited for once, and the
//! cluster kept or released by the keep policy. A cluster that cannot be had breaks every
//! variant of its group; a run stopped by a signal ends through [`Runner::after_stop`].

use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::cleanup::{Cleanup, Leftover, Live};
use super::outcome::{Status, VariantReport};
use super::plan::{Group, Needs, manifest_images, needs};
use super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::providers::kind::DELETE_BOUND;
use super::report::Phases;
use super::reporter::{Event, Reporters};
use super::schedule::Scheduler;
use super::stop::Stop;
use super::timeline::{Recorder, Timeline, union};
use super::variant::{Shared, run_one};
use crate::cluster::provider::ClusterHandle;
use crate::cluster::state::{self, state_base};
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::kube_ops::client::Kube;
use crate::probe_image::{find_binary, image_name};
use crate::scenario::model::Scenario;
use crate::version::Version;

/// How long the run waits, at its end, for the namespaces it deleted in the background.
const STRAGGLERS: Duration = Duration::from_secs(60);

/// How long one cleanup step may take after a stop.
pub const STEP_BOUND: Duration = Duration::from_secs(120);

/// How a run behaves, apart from what it runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Clusters, and variants on one cluster, at once.
    pub jobs: usize,
    /// `--keep`: clusters and failed variants' namespaces stay.
    pub keep: bool,
    /// A cluster where a variant did not pass stays (an interactive terminal, not CI).
    pub keep_failed: bool,
    pub verbose: bool,
    /// Diagnostics bundles go under here.
    pub artifacts: PathBuf,
    /// How often waits and assertions look again.
    pub poll: Duration,
    /// The installed kind's version, for `when: kind` gates.
    pub kind_version: Option<Version>,
    /// `--pull`: images the manifests use that are not here are pulled before they are loaded.
    pub pull: bool,
}

impl Settings {
    /// The settings of a run from a terminal or CI (`CI` set): a failed variant's cluster is
    /// kept only where someone can look at it, the kind gates use the installed kind.
    pub fn detect(jobs: usize, keep: bool, verbose: bool, artifacts: Option<PathBuf>) -> Self {
        use std::io::IsTerminal;
        let kind_version = crate::kind_cli::installed_release();
        Self {
            jobs: jobs.max(1),
            keep,
            keep_failed: std::env::var_os("CI").is_none() && std::io::stderr().is_terminal(),
            verbose,
            artifacts: artifacts.unwrap_or_else(|| "kindproof-artifacts".into()),
            poll: Duration::from_millis(500),
            kind_version,
            pull: false,
        }
    }
}

pub struct Runner<'a, E: Engine, P: ClusterProvider> {
    pub engine: &'a E,
    pub provider: &'a P,
    pub scenarios: &'a [Scenario],
    pub settings: Settings,
    pub events: &'a Reporters,
    pub run_id: String,
    pub recorder: Recorder,
    pub stop: Stop,
    /// Everything the run created and has not released yet, newest last.
    pub cleanup: Cleanup<'a>,
}

impl<'a, E: Engine, P: ClusterProvider> Runner<'a, E, P> {
    /// Run every group (their reports in the groups' order).
    pub async fn run(&self, groups: &[Group]) -> Vec<VariantReport> {
        let runs = groups.iter().enumerate().map(|(gi, g)| async move {
            let mut need = g
                .picks
                .iter()
                .map(|p| needs(&self.scenarios[p.scenario].variants[p.variant]))
                .fold(Needs::default(), Needs::merge);
            // The version gates read the API server, unless the named image's tag says it.
            let tagged = g.image.as_deref().and_then(super::matrix::tag_version);
            need.api |= need.version && tagged.is_none();
            let reports = match self.group(g, gi, need).await {
                Ok(r) => r,
                // The cluster could not be had (or not given back): every variant is broken.
                Err(e) => g
                    .picks
                    .iter()
                    .map(|p| {
                        let s = &self.scenarios[p.scenario];
                        let v = &s.variants[p.variant];
                        let r = VariantReport::without_steps(
                            &s.name,
                            &v.name,
                            &v.expect,
                            Status::broken(e.to_string()),
                            "",
                        );
                        self.events.emit(&Event::VariantFinished { report: &r });
                        r
                    })
                    .collect(),
            };
            (gi, reports)
        });
        let mut done: Vec<(usize, Vec<VariantReport>)> = futures_util::stream::iter(runs)
            .buffer_unordered(self.settings.jobs.max(1))
            .collect()
            .await;
        done.sort_by_key(|(gi, _)| *gi);
        done.into_iter().flat_map(|(_, r)| r).collect()
    }

    /// The images `g`'s manifests use, every one but the probe's present locally (pulled
    /// first where `--pull` allows).
    async fn images(&self, g: &Group) -> Result<Vec<String>, AppError> {
        let probe_image = image_name();
        let mut images = Vec::new();
        for p in &g.picks {
            let s = &self.scenarios[p.scenario];
            let found = manifest_images(s, &s.variants[p.variant], &probe_image)
                .map_err(AppError::InvalidInput)?;
            images.extend(found);
        }
        images.sort();
        images.dedup();
        // kubelet may never pull: what is not here is refused, or pulled here with --pull.
        let others: Vec<String> = images
            .iter()
            .filter(|i| **i != probe_image)
            .cloned()
            .collect();
        for i in super::images::make_local(self.engine, &others, self.settings.pull).await? {
            self.events
                .emit(&Event::Notice(format!("pulled image {i} (--pull)")));
        }
        Ok(images)
    }

    async fn group(
        &self,
        g: &Group,
        index: usize,
        need: Needs,
    ) -> Result<Vec<VariantReport>, AppError> {
        let shape = Shape {
            group: g,
            scenarios: self.scenarios,
            need,
            run_id: &self.run_id,
            index,
            events: self.events,
        };
        // Offline preflight: whatever the run needs locally exists before anything is made.
        let probe_bin = if need.host_probe {
            Some(find_binary(None)?)
        } else {
            None
        };
        let images = self.images(g).await?;
        if need.cluster {
            self.provider.preflight(&shape).await?;
        }
        // The cluster is made while the probe image is built (neither needs the other). A
        // group whose variants use no cluster (a kind-create refusal) makes none.
        let build = async {
            if need.node_probe || images.contains(&image_name()) {
                let binary = find_binary(None)?;
                crate::probe_image::build(self.engine, &binary).await?;
            }
            Ok::<(), AppError>(())
        };
        let t = Instant::now();
        let get = async {
            if !need.cluster {
                return Ok(no_cluster());
            }
            // A stop cuts an acquire short (kind is killed); the stack removes what it made.
            tokio::select! {
                got = self.provider.acquire(&shape, &self.cleanup) => got,
                () = self.stop.wait() => Err(AppError::Interrupted),
            }
        };
        let (built, acquired) = tokio::join!(build, get);
        let acquired = acquired?;
        if let Err(e) = built {
            if let Some(token) = acquired.owned {
                let _ = self.cleanup.release(token, DELETE_BOUND).await;
            }
            return Err(e);
        }
        let ready = Instant::now();
        let name = acquired.handle.name.clone();
        self.events.emit(&Event::ClusterReady {
            name: &name,
            took: ready - t,
        });
        if acquired.owned.is_some() {
            // kind's create, then (when the run needs the API) every node Ready.
            let r = &self.recorder;
            r.cluster(&name, |c| {
                c.create = Some([r.at(t), r.at(ready)]);
                c.ready = Some(r.at(ready));
            });
            r.phase("cluster_create", t, ready);
        }
        let result = self.on_cluster(g, need, &acquired, images, probe_bin).await;
        // The cluster goes whatever happened above (an image that failed to load included),
        // unless it is kept.
        let Some(token) = acquired.owned else {
            return result;
        };
        let any_bad = match &result {
            Ok(reports) => reports
                .iter()
                .any(|r| !matches!(r.status, Status::Passed | Status::Skipped { .. })),
            Err(_) => true,
        };
        if self.settings.keep || (any_bad && self.settings.keep_failed) {
            self.cleanup.forget(token);
            if let Err(e) = self.provider.keep(&acquired.handle) {
                self.events.emit(&Event::Notice(e.to_string()));
            }
            self.events.emit(&Event::ClusterKept {
                name: &name,
                kubeconfig: &acquired.handle.kubeconfig,
            });
        } else {
            let t = Instant::now();
            self.cleanup
                .release(token, DELETE_BOUND)
                .await
                .map_err(|l| AppError::Environment(l.to_string()))?;
            let done = Instant::now();
            let r = &self.recorder;
            r.phase("cluster_delete", t, done);
            r.cluster(&name, |c| c.delete = Some([r.at(t), r.at(done)]));
            self.events.emit(&Event::ClusterDeleted {
                name: &name,
                took: done - t,
            });
        }
        result
    }

    /// The group's variants on its cluster, once the cluster is there.
    async fn on_cluster(
        &self,
        g: &Group,
        need: Needs,
        acquired: &Acquired,
        images: Vec<String>,
        probe_bin: Option<PathBuf>,
    ) -> Result<Vec<VariantReport>, AppError> {
        let handle = &acquired.handle;
        let kube = if need.api {
            Some(
                Kube::connect(&handle.kubeconfig, handle.context.as_deref())
                    .await
                    .map_err(crate::cluster::kind::ClusterError::from)?,
            )
        } else {
            None
        };
        if need.api && !images.is_empty() {
            // The nodes get every image the manifests use, so kubelet never pulls.
            let t = Instant::now();
            self.provider.load_images(handle, &images).await?;
            self.recorder.phase("image_load", t, Instant::now());
        }
        let stated = match &kube {
            Some(k) => server_version(k).await,
            None => None,
        };
        // `when: kubernetes` gates: the server's word, else the node image's tag (a run that
        // needs no API server does not ask it).
        let server_version = stated
            .clone()
            .or_else(|| g.image.as_deref().and_then(super::matrix::tag_version));
        // Probe containers the backend starts are removed by it, and faults undone by the
        // variant; any a stop cut off, here (faults first: the cluster may outlive the run).
        let live = Live::default();
        let containers = {
            let (engine, live) = (self.engine, live.clone());
            self.cleanup
                .push(format!("probe containers on {}", handle.name), async move {
                    live.end_streams();
                    for r in live.drain_restores() {
                        super::cluster_faults::restore(engine, &r)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    for id in live.drain() {
                        engine
                            .remove_container(&id)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
        };
        let backend = self.provider.backend(
            handle,
            Session {
                kube: kube.clone(),
                probe_bin: probe_bin.unwrap_or_default(),
                probe_image: image_name(),
                run_id: self.run_id.clone(),
                live,
            },
        );
        // At most -j variants at once, and never two whose cluster-wide claims collide.
        let scheduler = Scheduler::new(self.settings.jobs.max(1));
        let pending = Mutex::new(Vec::new());
        let shared = Shared {
            provider: self.provider,
            backend: &backend,
            kube: kube.clone(),
            handle,
            nodes: RwLock::new(handle.nodes.clone()),
            server_version: server_version.clone(),
            stated_version: stated.as_ref().map(|v| v.to_string()),
            node_image: g.image.clone(),
            node_image_id: match &g.image {
                Some(i) => self
                    .engine
                    .inspect_image(i)
                    .await
                    .ok()
                    .flatten()
                    .map(|i| i.id),
                None => None,
            },
            kind_version: self.settings.kind_version.clone(),
            run_id: &self.run_id,
            artifacts: self.settings.artifacts.clone(),
            verbose: self.settings.verbose,
            keep: self.settings.keep,
            poll: self.settings.poll,
            scheduler: &scheduler,
            recorder: &self.recorder,
            events: self.events,
            cleanup: &self.cleanup,
            pending: &pending,
            stop: self.stop.clone(),
        };
        let runs = g.picks.iter().enumerate().map(|(i, p)| {
            let s = &self.scenarios[p.scenario];
            let shared = &shared;
            async move { run_one(shared, s, &s.variants[p.variant], i).await }
        });
        let mut reports = Vec::new();
        // Every variant waits for its turn in the scheduler; reports keep the picks' order.
        let mut stream = futures_util::stream::iter(runs).buffered(g.picks.len().max(1));
        while let Some(mut r) = stream.next().await {
            r.kubernetes = stated.as_ref().map(|v| v.to_string());
            r.node_image.clone_from(&g.image);
            self.events.emit(&Event::VariantFinished { report: &r });
            reports.push(r);
        }
        drop(stream);
        // The namespaces went in the background; the run waits for them once, bounded.
        if let Some(k) = &kube {
            let names = pending.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let left = crate::kube_ops::teardown::namespaces_left(k, &names, STRAGGLERS).await;
            if !left.is_empty() {
                self.events.emit(&Event::Notice(format!(
                    "namespaces still terminating after {STRAGGLERS:?}: {}",
                    left.join(", ")
                )));
                self.recorder.straggled(left);
            }
        }
        if let Err(l) = self.cleanup.release(containers, STEP_BOUND).await {
            self.events.emit(&Event::Notice(l.to_string()));
        }
        Ok(reports)
    }

    /// After a stop, once the variants' `finally` and `cleanup:` steps ran (or their bound
    /// passed): release whatever is still on the stack, then sweep what carries the run's id
    /// (records of this provider, labelled containers). What could not be removed.
    pub async fn after_stop(&self) -> Vec<Leftover> {
        let mut left = self.cleanup.run(STEP_BOUND).await;
        for rec in state::all(&state_base()) {
            let ours =
                rec.run_id == self.run_id && !rec.keep && rec.provider == self.provider.name();
            if ours && let Err(e) = self.provider.delete_record(&rec).await {
                left.push(Leftover {
                    what: format!("cluster {}", rec.name),
                    why: e.to_string(),
                });
            }
        }
        let label = crate::labels::run_filter(&self.run_id);
        if let Ok(list) = self.engine.list_containers(&label).await {
            for c in list {
                if let Err(e) = self.engine.remove_container(&c.id).await {
                    left.push(Leftover {
                        what: format!("container {}", c.name),
                        why: e.to_string(),
                    });
                }
            }
        }
        left
    }

    /// The run's phases (wall-clock: the union of each phase's intervals) and its timeline.
    pub fn conclude(&self, load: Duration, started: Instant) -> (Phases, Timeline) {
        let r = &self.recorder;
        let mut phases = Phases {
            load,
            cluster_create: r.phase_total("cluster_create"),
            image_load: r.phase_total("image_load"),
            cluster_delete: r.phase_total("cluster_delete"),
            variants: r.phase_total("variants"),
            ..Default::default()
        };
        let timeline = r.finish();
        phases.stragglers = timeline.stragglers.clone();
        phases.total = started.elapsed();
        let all: Vec<[f64; 2]> = timeline.phases.values().flatten().copied().collect();
        phases.harness = phases
            .total
            .saturating_sub(Duration::from_secs_f64(union(&all)));
        (phases, timeline)
    }
}

/// The server's full version as it states it (`v1.36.2`), pre-release included.
async fn server_version(k: &Kube) -> Option<Version> {
    let v = k.client.apiserver_version().await.ok()?;
    Version::parse(&v.git_version).or_else(|| {
        let minor: u64 = v.minor.trim_end_matches('+').parse().ok()?;
        Some(Version::new(v.major.parse().ok()?, minor, 0))
    })
}

/// What a group of variants that use no cluster runs on: nothing.
fn no_cluster() -> Acquired {
    Acquired {
        handle: ClusterHandle {
            name: "(no cluster)".into(),
            kubeconfig: PathBuf::new(),
            context: None,
            nodes: Vec::new(),
            provider: "none",
            network: None,
        },
        owned: None,
    }
}
