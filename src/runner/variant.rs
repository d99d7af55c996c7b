//! One variant on its cluster: its version gates, its claims and its turn (the scheduler), a
//! namespace of its own (on the cleanup stack before it exists), the steps, a diagnostics
//! bundle when it did not pass, a teardown that frees its cluster-wide numbers at once while
//! the namespace goes in the background, and the nodes read again after it disrupted them.

use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use super::claims::{Holding, holding};
use super::cleanup::Cleanup;
use super::engine::{Context, run_variant};
use super::outcome::{Status, StepReport, VariantReport};
use super::provider::ClusterProvider;
use super::reporter::{Event, Reporters};
use super::schedule::Scheduler;
use super::stop::Stop;
use super::timeline::{Recorder, VariantSpan};
use crate::cluster::provider::{ClusterHandle, Node};
use crate::kube_ops::client::Kube;
use crate::kube_ops::{pods, teardown};
use crate::probe_image::image_name;
use crate::scenario::model::{Action, Fault, Scenario, Variant};
use crate::version::Version;

/// How long teardown waits for the objects holding cluster-wide numbers to go.
const RELEASE_BOUND: Duration = Duration::from_secs(60);

/// What every variant of one cluster shares.
pub(super) struct Shared<'a, 'p, P: ClusterProvider> {
    pub provider: &'p P,
    pub backend: &'a P::Backend<'p>,
    pub kube: Option<Kube>,
    pub handle: &'a ClusterHandle,
    /// The nodes as last read (a variant that restarts or pauses one reads them again).
    pub nodes: RwLock<Vec<Node>>,
    pub server_version: Option<Version>,
    /// The API server's version as it said it, when it was asked.
    pub stated_version: Option<String>,
    /// The node image the group's cluster was made from, when the run named it, and its id.
    pub node_image: Option<String>,
    pub node_image_id: Option<String>,
    pub kind_version: Option<Version>,
    pub run_id: &'a str,
    pub artifacts: PathBuf,
    pub verbose: bool,
    /// `--keep`: a variant that did not pass keeps its namespace and objects.
    pub keep: bool,
    pub poll: Duration,
    pub scheduler: &'a Scheduler,
    pub recorder: &'a Recorder,
    pub events: &'a Reporters,
    pub cleanup: &'a Cleanup<'p>,
    /// Namespaces deleted in the background, waited for once at the end.
    pub pending: &'a Mutex<Vec<String>>,
    /// The run's orderly stop (see [`Stop`]).
    pub stop: Stop,
}

impl<P: ClusterProvider> Shared<'_, '_, P> {
    fn nodes(&self) -> Vec<Node> {
        self.nodes.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A variable of the run as far as it is known before the variant runs (user variables,
    /// the cluster, its nodes, the probe image); the rest stay unknown.
    fn known(&self, s: &Scenario, v: &Variant, name: &str, depth: usize) -> Option<String> {
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        match parts.as_slice() {
            ["cluster", "name"] => Some(self.handle.name.clone()),
            ["probe", "image"] => Some(image_name()),
            ["nodes", head, rest] => {
                let nodes = self.nodes();
                let pairs: Vec<(&str, &Node)> =
                    nodes.iter().map(|n| (n.name.as_str(), n)).collect();
                let config = &s.cluster_of(v).config;
                let (n, field) = crate::cluster::provider::find_node(
                    &pairs,
                    &self.handle.name,
                    config,
                    head,
                    rest,
                )?;
                known_field(n, field)
            }
            [single] if depth < 8 => {
                let value = v.variables.get(*single)?;
                crate::scenario::vars::substitute(value, |n| {
                    self.known(s, v, n, depth + 1)
                        .or_else(|| Some(format!("${{{n}}}")))
                })
                .ok()
            }
            _ => None,
        }
    }

    /// What a replay of `v` needs to know about this run.
    fn replay_record(&self, s: &Scenario, v: &Variant) -> super::replay::Record {
        let variables = v
            .variables
            .iter()
            .map(|(k, raw)| {
                (
                    k.clone(),
                    self.known(s, v, k, 0).unwrap_or_else(|| raw.clone()),
                )
            })
            .collect();
        // The kind provider keeps the config it handed kind beside the cluster's kubeconfig.
        let kind_config = self
            .handle
            .kubeconfig
            .parent()
            .map(|d| d.join("kind-config.yaml"))
            .and_then(|f| crate::input::read_text(&f).ok());
        super::replay::Record {
            kindproof: env!("CARGO_PKG_VERSION").to_string(),
            scenario: s.name.clone(),
            variant: super::replay::base_name(&v.name, self.node_image.as_deref()),
            node_image: self.node_image.clone(),
            node_image_id: self.node_image_id.clone(),
            kubernetes: self.stated_version.clone(),
            cluster: self.handle.name.clone(),
            variables,
            kind_config,
        }
    }

    /// The first gate of `v` this run does not meet, as a skip.
    fn gated(&self, s: &Scenario, v: &Variant) -> Option<VariantReport> {
        let why = v.unmet_gate(
            self.kind_version.as_ref(),
            self.server_version.as_ref(),
            "this run",
        )?;
        Some(skipped(s, v, why))
    }

    /// Read every node again after `v` restarted or paused one (its ports may have moved).
    async fn refresh_nodes(&self) {
        let mut fresh = Vec::new();
        for n in self.nodes() {
            match self.provider.refresh_node(self.handle, &n).await {
                Ok(now) => fresh.push(now),
                Err(e) => {
                    self.events.emit(&Event::Notice(format!(
                        "node {} could not be read again: {e}",
                        n.name
                    )));
                    fresh.push(n);
                }
            }
        }
        *self.nodes.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
}

fn skipped(s: &Scenario, v: &Variant, reason: String) -> VariantReport {
    VariantReport::without_steps(&s.name, &v.name, &v.expect, Status::Skipped { reason }, "")
}

/// Whether `v` restarts or pauses a node.
fn disrupts_nodes(v: &Variant) -> bool {
    v.all_steps().iter().any(|s| {
        matches!(
            s.action,
            Action::RestartNode(_)
                | Action::PauseNode { .. }
                | Action::Fault(Fault::Disconnect(_) | Fault::Reconnect(_))
        )
    })
}

/// Free what `held` holds now and let the namespace go; a failure to free is the variant's.
async fn tear_down(kube: &Kube, namespace: &str, held: &Holding) -> Result<(), String> {
    let objects: Vec<kube::api::DynamicObject> = held
        .holders
        .iter()
        .filter_map(|d| serde_json::from_value(d.clone()).ok())
        .collect();
    if !objects.is_empty() || held.pods {
        teardown::release_now(kube, &objects, namespace, held.pods, RELEASE_BOUND)
            .await
            .map_err(|e| e.to_string())?;
    }
    teardown::delete_namespace_background(kube, namespace)
        .await
        .map_err(|e| e.to_string())
}

pub(super) async fn run_one<P: ClusterProvider>(
    sh: &Shared<'_, '_, P>,
    s: &Scenario,
    v: &Variant,
    i: usize,
) -> VariantReport {
    let queued = Instant::now();
    let id = format!("{}/{}", s.name, v.name);
    if let Some(r) = sh.gated(s, v) {
        return r;
    }
    let held = match holding(s, v, |n| sh.known(s, v, n, 0)) {
        Ok(h) => h,
        Err(e) => {
            return VariantReport::without_steps(
                &s.name,
                &v.name,
                &v.expect,
                Status::broken(format!("failed to read its manifests: {e}")),
                "",
            );
        }
    };
    // A stopped run starts no variant, and stops waiting for a turn.
    let interrupted = || skipped(s, v, "the run was interrupted before it started".into());
    if sh.stop.requested() {
        return interrupted();
    }
    sh.events.emit(&Event::VariantQueued { id: &id });
    let (slot, waited) = tokio::select! {
        biased;
        () = sh.stop.wait() => return interrupted(),
        admitted = sh.scheduler.admit(&id, &held.claims) => admitted,
    };
    // Other processes on a pooled cluster: their variants' claims count too.
    let _across = tokio::select! {
        biased;
        () = sh.stop.wait() => return interrupted(),
        hold = sh.provider.hold(sh.handle, &held.claims) => match hold {
            Ok(h) => h,
            Err(e) => {
                let why = format!("holding its claims on the shared cluster: {e}");
                return VariantReport::without_steps(&s.name, &v.name, &v.expect, Status::broken(why), "");
            }
        },
    };
    // Admitted as the stop came (the slot freed by a variant the stop ended): not started.
    if sh.stop.requested() {
        return interrupted();
    }
    if sh.verbose {
        for w in &waited {
            sh.events.emit(&Event::Notice(format!("{id} {w}")));
        }
    }
    sh.events.emit(&Event::VariantStarted { id: &id });
    let start = Instant::now();
    let namespace = pods::namespace_name(&id.replace('/', "-"), &format!("{}{i}", sh.run_id));
    // On the stack before it exists: a stop at any point leaves an entry that removes it.
    let token = sh.kube.clone().map(|k| {
        let (ns, held) = (namespace.clone(), held.clone());
        sh.cleanup
            .push(format!("namespace {namespace}"), async move {
                tear_down(&k, &ns, &held).await
            })
    });
    let mut report = run_in(sh, s, v, &id, &namespace).await;
    let mut teardown_time = Duration::ZERO;
    let kept = sh.keep && !matches!(report.status, Status::Passed | Status::Skipped { .. });
    if let Some(token) = token {
        if kept {
            sh.cleanup.forget(token);
            sh.events.emit(&Event::NamespaceKept {
                id: &id,
                namespace: &namespace,
            });
        } else {
            let t = Instant::now();
            match sh.cleanup.release(token, RELEASE_BOUND * 2).await {
                Err(left) => {
                    if report.status.is_passed() {
                        report.status = Status::broken(format!("cleanup: {}", left.why));
                    }
                }
                Ok(()) => sh
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(namespace.clone()),
            }
            teardown_time = t.elapsed();
        }
    }
    if disrupts_nodes(v) {
        sh.refresh_nodes().await;
    }
    drop(slot);
    let end = Instant::now();
    sh.recorder.phase("variants", start, end);
    sh.recorder.variant(VariantSpan {
        id,
        cluster: sh.handle.name.clone(),
        queued: sh.recorder.at(queued),
        start: sh.recorder.at(start),
        end: sh.recorder.at(end),
        steps: report.duration.as_secs_f64(),
        teardown: teardown_time.as_secs_f64(),
        claims: held.claims.keys(),
        alone: held.claims.alone.is_some(),
        waited,
    });
    report
}

/// The variant's namespace, its steps, and its diagnostics bundle when it did not pass.
async fn run_in<P: ClusterProvider>(
    sh: &Shared<'_, '_, P>,
    s: &Scenario,
    v: &Variant,
    id: &str,
    namespace: &str,
) -> VariantReport {
    if let Some(k) = &sh.kube
        && let Err(e) = pods::create_namespace(k, namespace, sh.run_id).await
    {
        return VariantReport::without_steps(
            &s.name,
            &v.name,
            &v.expect,
            Status::broken(e.to_string()),
            namespace,
        );
    }
    let on_step = |step: &StepReport| sh.events.emit(&Event::StepFinished { id, step });
    let cx = Context {
        scenario: s,
        variant: v,
        namespace: namespace.to_string(),
        cluster: sh.handle.name.clone(),
        nodes: sh.nodes(),
        probe_image: image_name(),
        poll: sh.poll,
        stop: sh.stop.clone(),
        on_step: Some(&on_step),
    };
    let mut report = run_variant(sh.backend, &cx).await;
    if !matches!(report.status, Status::Passed | Status::Skipped { .. }) {
        // Before teardown: what was there is what explains the failure.
        let root = sh.artifacts.join(sh.run_id);
        let dir =
            super::diagnostics::collect(&root, &report, sh.backend, sh.kube.as_ref(), &sh.nodes())
                .await;
        super::replay::write(&dir, s, v, &sh.replay_record(s, v));
        report.diagnostics = Some(dir.display().to_string());
    }
    report
}

/// A node's field as far as it is known before a variant runs (its address and name).
fn known_field(n: &Node, field: &str) -> Option<String> {
    match field {
        "ip" => n.ipv4.map(|i| i.to_string()),
        "name" => Some(n.name.clone()),
        _ => None,
    }
}
