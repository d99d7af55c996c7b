//! One variant of `kindproof run` on its cluster: its version gates, its claims and its turn
//! (the scheduler), a namespace of its own, the steps, a diagnostics bundle when it did not
//! pass, and a teardown that frees its cluster-wide numbers at once (grace 0) while the
//! namespace goes in the background. Its span goes into the run's timeline.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::provider::ClusterHandle;
use crate::docker::bollard_engine::BollardEngine;
use crate::kube_ops::client::Kube;
use crate::kube_ops::{pods, teardown};
use crate::probe_image::image_name;
use crate::runner::claims::{Holding, holding};
use crate::runner::cluster_backend::ClusterBackend;
use crate::runner::engine::{Context, run_variant};
use crate::runner::outcome::{Status, VariantReport};
use crate::runner::schedule::Scheduler;
use crate::runner::stop::Stop;
use crate::runner::timeline::{Recorder, VariantSpan};
use crate::scenario::model::{GateOn, Scenario, Variant};
use crate::version::Version;

/// How long teardown waits for the objects holding cluster-wide numbers to go.
const RELEASE_BOUND: Duration = Duration::from_secs(60);

/// What every variant of one cluster shares.
pub(super) struct Shared<'a> {
    pub backend: &'a ClusterBackend<'a, BollardEngine>,
    pub kube: Option<Kube>,
    pub handle: &'a ClusterHandle,
    pub server_version: Option<Version>,
    pub kind_version: Option<Version>,
    pub run_id: &'a str,
    pub artifacts: PathBuf,
    pub verbose: bool,
    /// `--keep`: a variant that did not pass keeps its namespace and objects.
    pub keep: bool,
    pub scheduler: &'a Scheduler,
    pub recorder: &'a Recorder,
    /// Namespaces deleted in the background, waited for once at the end.
    pub pending: &'a Mutex<Vec<String>>,
    /// The run's orderly stop (see [`Stop`]).
    pub stop: Stop,
}

/// A variable of the run as far as it is known before the variant runs (user variables, the
/// cluster, its nodes, the probe image); the rest stay unknown.
fn known(sh: &Shared<'_>, v: &Variant, name: &str, depth: usize) -> Option<String> {
    let parts: Vec<&str> = name.splitn(3, '.').collect();
    match parts.as_slice() {
        ["cluster", "name"] => Some(sh.handle.name.clone()),
        ["probe", "image"] => Some(image_name()),
        ["nodes", node, field] => {
            let n = sh.handle.nodes.iter().find(|n| {
                n.name == *node
                    || n.name.strip_prefix(&format!("{}-", sh.handle.name)) == Some(node)
            })?;
            match *field {
                "ip" => n.ipv4.map(|i| i.to_string()),
                "name" => Some(n.name.clone()),
                _ => None,
            }
        }
        [single] if depth < 8 => {
            let value = v.variables.get(*single)?;
            crate::scenario::vars::substitute(value, |n| {
                known(sh, v, n, depth + 1).or_else(|| Some(format!("${{{n}}}")))
            })
            .ok()
        }
        _ => None,
    }
}

fn skipped(s: &Scenario, v: &Variant, reason: String) -> VariantReport {
    VariantReport::without_steps(&s.name, &v.name, &v.expect, Status::Skipped { reason }, "")
}

/// The first gate of `v` this run does not meet, as a skip.
fn gated(sh: &Shared<'_>, s: &Scenario, v: &Variant) -> Option<VariantReport> {
    for gate in &v.when {
        let (have, what) = match gate.what {
            GateOn::Kind => (sh.kind_version.as_ref(), "kind"),
            GateOn::Kubernetes => (sh.server_version.as_ref(), "kubernetes"),
        };
        if !have.is_some_and(|h| gate.holds(h)) {
            let have = have.map_or_else(|| "unknown".into(), |v| v.to_string());
            return Some(skipped(
                s,
                v,
                format!("needs {what} {}; this run has {have}", gate.text),
            ));
        }
    }
    None
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

pub(super) async fn run_one(sh: &Shared<'_>, s: &Scenario, v: &Variant, i: usize) -> VariantReport {
    let queued = Instant::now();
    let id = format!("{}/{}", s.name, v.name);
    if let Some(r) = gated(sh, s, v) {
        return r;
    }
    let held = match holding(s, v, |n| known(sh, v, n, 0)) {
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
    let (slot, waited) = tokio::select! {
        admitted = sh.scheduler.admit(&id, &held.claims) => admitted,
        () = sh.stop.wait() => return interrupted(),
    };
    if sh.verbose {
        for w in &waited {
            crate::errln!("kindproof: {id} {w}");
        }
    }
    let start = Instant::now();
    let namespace = pods::namespace_name(&id.replace('/', "-"), &format!("{}{i}", sh.run_id));
    let mut report = run_in(sh, s, v, &namespace).await;
    let mut teardown_time = Duration::ZERO;
    let kept = sh.keep && !matches!(report.status, Status::Passed | Status::Skipped { .. });
    if kept {
        crate::errln!(
            "kindproof: kept namespace {namespace} of {id} (--keep); what it holds stays held"
        );
    }
    if let Some(k) = sh.kube.as_ref().filter(|_| !kept) {
        let t = Instant::now();
        if let Err(e) = tear_down(k, &namespace, &held).await {
            if report.status.is_passed() {
                report.status = Status::broken(format!("cleanup: {e}"));
            }
        } else {
            sh.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(namespace.clone());
        }
        teardown_time = t.elapsed();
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
async fn run_in(sh: &Shared<'_>, s: &Scenario, v: &Variant, namespace: &str) -> VariantReport {
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
    let cx = Context {
        scenario: s,
        variant: v,
        namespace: namespace.to_string(),
        cluster: sh.handle.name.clone(),
        nodes: sh.handle.nodes.clone(),
        probe_image: image_name(),
        poll: Duration::from_millis(500),
        stop: sh.stop.clone(),
    };
    let mut report = run_variant(sh.backend, &cx).await;
    if !matches!(report.status, Status::Passed | Status::Skipped { .. }) {
        // Before teardown: what was there is what explains the failure.
        let root = sh.artifacts.join(sh.run_id);
        let dir = crate::runner::diagnostics::collect(
            &root,
            &report,
            sh.backend,
            sh.kube.as_ref(),
            &sh.handle.nodes,
        )
        .await;
        report.diagnostics = Some(dir.display().to_string());
    }
    report
}
