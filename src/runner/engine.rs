//! Running one variant of a scenario: steps in order, each with its own deadline; a step's
//! `finally` after it whatever happened; the scenario's cleanup last, in reverse order. After a
//! step fails or breaks, the remaining steps are skipped (and reported so). Waits live in
//! `engine_wait`, probes in `engine_probe`, assertions in `engine_assert`: each looks again
//! until its deadline and reports the last value it saw.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::time::Instant;

use super::backend::{Backend, ProbeSite, Ran};
use super::fresh::{Disruption, DisruptionKind};
use super::observe::Round;
use super::outcome::{Status, StepReport, VariantReport, overall};
pub use super::stop::Stop;
use crate::cluster::provider::{Node, short_name};
use crate::kube_ops::apply::Written;
use crate::kube_ops::manifest::Manifest;
use crate::probe::{BindRecord, ConnectSummary, DnsSummary};
use crate::scenario::model::*;
use crate::scenario::vars::substitute;

/// Why a step is skipped once the run is stopping.
pub(super) const INTERRUPTED: &str = "the run was interrupted";

/// How long past its deadline a wait or an assertion may take to report, for a call that hangs.
pub(super) const HANG_GRACE: Duration = Duration::from_secs(10);

/// Everything a variant runs with.
pub struct Context<'a> {
    pub scenario: &'a Scenario,
    pub variant: &'a Variant,
    pub namespace: String,
    pub cluster: String,
    pub nodes: Vec<Node>,
    pub probe_image: String,
    /// How often waits and assertions look again.
    pub poll: Duration,
    /// The run's orderly stop: steps not started are skipped, the running one is cut short,
    /// `finally` and `cleanup:` steps still run.
    pub stop: Stop,
    /// Told of every step (and cleanup step) as it ends.
    pub on_step: Option<&'a (dyn Fn(&StepReport) + Send + Sync)>,
}

/// What steps produced so far: outputs by step id, probe results by step id, the probe steps
/// as they ran (to run them again), the nodes as last read, and the node disruptions so far.
#[derive(Default)]
pub(super) struct State {
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    pub connect: BTreeMap<String, Vec<ConnectSummary>>,
    pub dns: BTreeMap<String, DnsSummary>,
    pub bind: BTreeMap<String, BindRecord>,
    pub probes: BTreeMap<String, ProbeRun>,
    pub nodes: BTreeMap<String, Node>,
    pub disruptions: Vec<Disruption>,
    /// Background probes by step id, running or stopped.
    pub background: BTreeMap<String, super::engine_state::Background>,
    /// When each step with an id started and ended.
    pub times: BTreeMap<String, (SystemTime, SystemTime)>,
    /// Faults in force, oldest first.
    pub faults: Vec<super::engine_state::Applied>,
}

/// A probe step as it ran (see `engine_probe`): enough to run it again.
#[derive(Debug, Clone)]
pub(super) struct ProbeRun {
    pub site: ProbeSite,
    pub args: Vec<String>,
    pub kind: crate::probe::Mode,
    /// The probe step's own deadline.
    pub timeout: Duration,
    /// When its latest run started.
    pub at: Instant,
    pub repeatable: bool,
}

/// What the current step adds to its report besides a status.
#[derive(Default)]
pub(super) struct StepExtra {
    pub rounds: Vec<Round>,
    pub evidence: Option<String>,
}

pub(super) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

pub(super) struct Run<'a, B: Backend> {
    pub backend: &'a B,
    pub cx: &'a Context<'a>,
    pub state: State,
    pub extra: StepExtra,
    /// Running `finally` or `cleanup:` steps, which a stop does not cut short.
    pub finishing: bool,
}

pub async fn run_variant<B: Backend>(backend: &B, cx: &Context<'_>) -> VariantReport {
    let started = Instant::now();
    let mut run = Run {
        backend,
        cx,
        state: State::default(),
        extra: StepExtra::default(),
        finishing: false,
    };
    for n in &cx.nodes {
        run.state
            .nodes
            .insert(short_name(&cx.cluster, &n.name).to_string(), n.clone());
    }
    let steps = run.steps(&cx.variant.steps, false).await;
    // Cleanup runs whatever happened (a stop included), newest first, each step on its own;
    // before it, background probes stop and faults still in force are undone.
    run.finishing = true;
    run.stop_all_background().await;
    let mut cleanup = run.undo_faults(HANG_GRACE * 6).await;
    if let Some(tell) = cx.on_step {
        cleanup.iter().for_each(tell);
    }
    for step in cx.variant.cleanup.iter().rev() {
        let report = run.step(step).await;
        if let Some(tell) = cx.on_step {
            tell(&report);
        }
        cleanup.push(report);
    }
    let mut status = overall(&steps);
    // Steps the stop skipped prove nothing: a variant cut short before them did not pass.
    if status.is_passed()
        && steps
            .iter()
            .any(|s| matches!(&s.status, Status::Skipped { reason } if reason == INTERRUPTED))
    {
        status = Status::Skipped {
            reason: "the run was interrupted before all its steps ran".into(),
        };
    }
    if status.is_passed() {
        // A cleanup that broke breaks the run (something may be left behind); it cannot turn
        // a verdict on behaviour around.
        if let Some(broken) = cleanup
            .iter()
            .find(|c| matches!(c.status, Status::Broken { .. }))
        {
            status = broken.status.clone();
        }
    }
    VariantReport {
        scenario: cx.scenario.name.clone(),
        variant: cx.variant.name.clone(),
        expect: cx.variant.expect.clone(),
        status,
        namespace: cx.namespace.clone(),
        duration: started.elapsed(),
        steps,
        cleanup,
        // The reports read the timelines first; then they are moved out.
        probes: run.probes(),
        timelines: run
            .state
            .background
            .iter()
            .map(|(id, b)| (id.clone(), b.take()))
            .collect(),
        diagnostics: None,
        kubernetes: None,
        node_image: None,
    }
}

impl<'a, B: Backend> Run<'a, B> {
    /// What every probe step observed, for the reports.
    fn probes(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (id, s) in &self.state.connect {
            out.insert(id.clone(), serde_json::to_value(s).unwrap_or_default());
        }
        for (id, s) in &self.state.dns {
            out.insert(id.clone(), serde_json::to_value(s).unwrap_or_default());
        }
        for (id, s) in &self.state.bind {
            out.insert(id.clone(), serde_json::to_value(s).unwrap_or_default());
        }
        for (id, b) in &self.state.background {
            out.insert(id.clone(), b.report());
        }
        out
    }

    /// Run `steps` in order; after one that does not pass, the rest are skipped. Steps of a
    /// `finally` list all run regardless.
    fn steps<'s>(
        &'s mut self,
        steps: &'s [Step],
        all: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<StepReport>> + Send + 's>>
    where
        B: 's,
        'a: 's,
    {
        Box::pin(async move {
            let mut out = Vec::new();
            // Why the remaining steps are skipped, once one is.
            let mut skip: Option<String> = None;
            for step in steps {
                if !all && !self.finishing && self.cx.stop.requested() {
                    skip = Some(INTERRUPTED.to_string());
                }
                if let Some(reason) = &skip {
                    out.push(StepReport {
                        name: self.display(&step.name),
                        status: Status::Skipped {
                            reason: reason.clone(),
                        },
                        duration: Duration::ZERO,
                        finally: Vec::new(),
                        rounds: Vec::new(),
                        evidence: None,
                    });
                } else {
                    let report = self.step(step).await;
                    if !all && !report.status.is_passed() {
                        skip = Some(format!("after {:?} did not pass", step.name));
                    }
                    out.push(report);
                }
                if let (false, Some(tell), Some(last)) = (all, self.cx.on_step, out.last()) {
                    tell(last);
                }
            }
            out
        })
    }

    async fn step(&mut self, step: &Step) -> StepReport {
        let started = Instant::now();
        let began = SystemTime::now();
        // Waits and assertions end at their own deadline with the last value they saw; the
        // outer bound only catches a call that hangs.
        let bound = match step.action {
            Action::Wait(_) | Action::Assert(_) => step.timeout + HANG_GRACE,
            _ => step.timeout,
        };
        let stop = self.cx.stop.clone();
        let cut = !self.finishing;
        let status = tokio::select! {
            done = tokio::time::timeout(bound, self.action(step)) => match done {
                Ok(s) => s,
                Err(_) => Status::failed(
                    format!("did not finish within {bound:?}"),
                    "(still running when the deadline passed)",
                ),
            },
            () = stop.wait(), if cut => Status::broken("interrupted: the run was stopped by a signal"),
        };
        if let Some(id) = &step.id {
            let ended = SystemTime::now();
            let o = self.state.outputs.entry(id.clone()).or_default();
            o.insert("time".into(), rfc3339(began));
            o.insert("end".into(), rfc3339(ended));
            self.state.times.insert(id.clone(), (began, ended));
        }
        let extra = std::mem::take(&mut self.extra);
        let duration = started.elapsed();
        let was = std::mem::replace(&mut self.finishing, true);
        let finally = self.steps(&step.finally, true).await;
        self.finishing = was;
        StepReport {
            name: self.display(&step.name),
            status,
            duration,
            finally,
            rounds: extra.rounds,
            evidence: extra.evidence,
        }
    }

    fn record(&mut self, step: &Step, written: &Written, code: i64) {
        if let Some(id) = &step.id {
            let o = self.state.outputs.entry(id.clone()).or_default();
            o.insert("exitCode".into(), code.to_string());
            o.insert("stdout".into(), written.stdout.clone());
            o.insert("stderr".into(), written.stderr.clone());
            if let Some(r) = &written.refused {
                o.insert("reason".into(), r.reason.clone());
                o.insert("message".into(), r.message.clone());
            }
        }
    }

    /// An apply/patch/delete outcome against what the step expected.
    fn written(&mut self, step: &Step, written: Written, expect_error: bool) -> Status {
        let code = i64::from(written.exit_code);
        self.record(step, &written, code);
        let refused = code != 0 || written.refused.is_some();
        match (refused, expect_error) {
            (false, false) | (true, true) => Status::Passed,
            (true, false) => Status::failed(
                "the cluster refused the write",
                format!("exit {code}: {}", written.stderr.trim()),
            ),
            (false, true) => Status::failed(
                "the write was expected to be refused; it succeeded",
                written.stdout.trim().to_string(),
            ),
        }
    }

    async fn action(&mut self, step: &Step) -> Status {
        match self.try_action(step).await {
            Ok(s) => s,
            Err(s) => s,
        }
    }

    async fn try_action(&mut self, step: &Step) -> Result<Status, Status> {
        let ns = self.cx.namespace.clone();
        let b = self.backend;
        Ok(match &step.action {
            Action::Apply {
                source,
                mode,
                expect_error,
            } => {
                let m = self.manifest(source)?;
                let w = b.apply(&m, *mode, &ns).await.map_err(Status::from)?;
                self.written(step, w, *expect_error)
            }
            Action::Patch {
                target,
                patch_type,
                patch,
                expect_error,
            } => {
                let obj = self.object(target)?;
                let text = serde_json::to_string(patch).expect("a patch serializes");
                let text = substitute(&text, |n| self.lookup(n)).map_err(Status::broken)?;
                let body: Value =
                    serde_json::from_str(&text).map_err(|e| Status::broken(e.to_string()))?;
                let w = b
                    .patch(&obj, *patch_type, &body, &ns)
                    .await
                    .map_err(Status::from)?;
                self.written(step, w, *expect_error)
            }
            Action::Delete(what) => {
                let m = match what {
                    DeleteWhat::Manifest(s) => self.manifest(s)?,
                    DeleteWhat::Object(t) => {
                        let obj = self.object(t)?;
                        Manifest {
                            file: "(target)".into(),
                            text: String::new(),
                            objects: vec![obj],
                        }
                    }
                };
                let w = b
                    .delete(&m, &ns, step.timeout)
                    .await
                    .map_err(Status::from)?;
                self.written(step, w, false)
            }
            Action::Wait(w) => self.wait(w, step.timeout).await?,
            Action::Sleep(d) => {
                // tokio's timer rounds up to a millisecond: a zero sleep only yields.
                if d.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(*d).await;
                }
                Status::Passed
            }
            Action::Exec {
                target,
                command,
                exit_code,
            } => {
                let cmd = command
                    .iter()
                    .map(|c| self.resolve(c))
                    .collect::<Result<Vec<_>, _>>()?;
                let ran = match target {
                    ExecTarget::Node(n) => {
                        let node = self.node(n)?;
                        b.exec_node(&node, &cmd).await
                    }
                    ExecTarget::Pod { pod, container } => {
                        let pod = self.resolve(pod)?;
                        let container = match container {
                            Some(c) => Some(self.resolve(c)?),
                            None => None,
                        };
                        b.exec_pod(&ns, &pod, container.as_deref(), &cmd).await
                    }
                }
                .map_err(Status::from)?;
                self.ran(step, &ran);
                if ran.exit_code == *exit_code {
                    Status::Passed
                } else {
                    Status::failed(
                        format!(
                            "`{}` exited {}, expected {exit_code}",
                            cmd.join(" "),
                            ran.exit_code
                        ),
                        format!("{}{}", ran.stdout, ran.stderr).trim().to_string(),
                    )
                }
            }
            Action::RestartNode(n) => {
                let node = self.node(n)?;
                let began = SystemTime::now();
                let after = b.restart_node(&node).await.map_err(Status::from)?;
                self.disrupted(&node, DisruptionKind::Restart, began);
                let short = short_name(&self.cx.cluster, &after.name).to_string();
                self.state.nodes.insert(short, after);
                Status::Passed
            }
            Action::PauseNode { node, duration } => {
                let node = self.node(node)?;
                let began = SystemTime::now();
                let paused = b.pause_node(&node, *duration).await;
                // Even a pause that failed to end cleanly may have frozen the node.
                self.disrupted(&node, DisruptionKind::Pause, began);
                paused.map_err(Status::from)?;
                Status::Passed
            }
            Action::Probe(p) => self.probe(step, p).await?,
            Action::KindCreate {
                config_file,
                version,
            } => {
                let ran = b
                    .kind_create(config_file, *version)
                    .await
                    .map_err(Status::from)?;
                self.ran(step, &ran);
                // What kind said is the outcome; `assert.result` judges it.
                Status::Passed
            }
            Action::Assert(a) => self.eventually(a, step.timeout).await?,
            Action::Stop(id) => self.stop_background(id).await?,
            Action::Fault(f) => self.fault(f).await?,
        })
    }

    /// From now on, waits believe `node`'s status (and its pods') only if written after now.
    fn disrupted(&mut self, node: &Node, what: DisruptionKind, began: SystemTime) {
        self.state.disruptions.push(Disruption {
            node: node.name.clone(),
            what,
            began,
            ended: SystemTime::now(),
        });
    }

    fn ran(&mut self, step: &Step, ran: &Ran) {
        if let Some(id) = &step.id {
            let o = self.state.outputs.entry(id.clone()).or_default();
            o.insert("exitCode".into(), ran.exit_code.to_string());
            o.insert("stdout".into(), ran.stdout.clone());
            o.insert("stderr".into(), ran.stderr.clone());
        }
    }
}
