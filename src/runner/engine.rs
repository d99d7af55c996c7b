//! Running one variant of a scenario: steps in order, each with its own deadline; a step's
//! `finally` after it whatever happened; the scenario's cleanup last, in reverse order. After a
//! step fails or breaks, the remaining steps are skipped (and reported so). Assertions poll
//! until their deadline and report the last value they saw.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use kube::api::DynamicObject;
use serde_json::Value;
use tokio::time::Instant;

use super::backend::{Backend, ProbeSite, Ran};
use super::outcome::{Status, StepReport, VariantReport, overall};
use super::results::{
    BindRecord, ConnectSummary, DnsSummary, bind_record, connect_summaries, dns_summary,
};
use crate::cluster::provider::Node;
use crate::kube_ops::apply::Written;
use crate::kube_ops::manifest::{Manifest, object_ref};
use crate::kube_ops::wait as cond;
use crate::scenario::model::*;
use crate::scenario::vars::substitute;

/// How long past its deadline a wait or an assertion may take to report, for a call that hangs.
const HANG_GRACE: Duration = Duration::from_secs(10);

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
}

/// What steps produced so far: outputs by step id, probe results by step id.
#[derive(Default)]
struct State {
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    connect: BTreeMap<String, Vec<ConnectSummary>>,
    dns: BTreeMap<String, DnsSummary>,
    bind: BTreeMap<String, BindRecord>,
    nodes: BTreeMap<String, Node>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// A node's short name (`worker2`) from its container name (`<cluster>-worker2`).
fn short_name<'n>(cluster: &str, node: &'n str) -> &'n str {
    node.strip_prefix(cluster)
        .and_then(|s| s.strip_prefix('-'))
        .unwrap_or(node)
}

struct Run<'a, B: Backend> {
    backend: &'a B,
    cx: &'a Context<'a>,
    state: State,
}

pub async fn run_variant<B: Backend>(backend: &B, cx: &Context<'_>) -> VariantReport {
    let started = Instant::now();
    let mut run = Run {
        backend,
        cx,
        state: State::default(),
    };
    for n in &cx.nodes {
        run.state
            .nodes
            .insert(short_name(&cx.cluster, &n.name).to_string(), n.clone());
    }
    let steps = run.steps(&cx.variant.steps, false).await;
    // Cleanup runs whatever happened, newest first, each step on its own.
    let mut cleanup = Vec::new();
    for step in cx.variant.cleanup.iter().rev() {
        cleanup.push(run.step(step).await);
    }
    let mut status = overall(&steps);
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
        probes: run.probes(),
        diagnostics: None,
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
            let mut stopped: Option<String> = None;
            for step in steps {
                if let Some(after) = &stopped {
                    out.push(StepReport {
                        name: self.display(&step.name),
                        status: Status::Skipped {
                            reason: format!("after {after:?} did not pass"),
                        },
                        duration: Duration::ZERO,
                        finally: Vec::new(),
                    });
                    continue;
                }
                let report = self.step(step).await;
                if !all && !report.status.is_passed() {
                    stopped = Some(step.name.clone());
                }
                out.push(report);
            }
            out
        })
    }

    async fn step(&mut self, step: &Step) -> StepReport {
        let started = Instant::now();
        // Waits and assertions end at their own deadline with the last value they saw; the
        // outer bound only catches a call that hangs.
        let bound = match step.action {
            Action::Wait(_) | Action::Assert(_) => step.timeout + HANG_GRACE,
            _ => step.timeout,
        };
        let status = match tokio::time::timeout(bound, self.action(step)).await {
            Ok(s) => s,
            Err(_) => Status::failed(
                format!("did not finish within {bound:?}"),
                "(still running when the deadline passed)",
            ),
        };
        if let Some(id) = &step.id {
            self.state
                .outputs
                .entry(id.clone())
                .or_default()
                .insert("time".into(), rfc3339(SystemTime::now()));
        }
        let finally = self.steps(&step.finally, true).await;
        StepReport {
            name: self.display(&step.name),
            status,
            duration: started.elapsed(),
            finally,
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.lookup_at(name, 0)
    }

    fn lookup_at(&self, name: &str, depth: usize) -> Option<String> {
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        match parts.as_slice() {
            ["cluster", "name"] => Some(self.cx.cluster.clone()),
            ["namespace"] => Some(self.cx.namespace.clone()),
            ["probe", "image"] => Some(self.cx.probe_image.clone()),
            ["nodes", node, field] => {
                let n = self.state.nodes.get(*node)?;
                match *field {
                    "ip" => n.ipv4.map(|i| i.to_string()),
                    "ipv6" => n.ipv6.map(|i| i.to_string()),
                    "name" => Some(n.name.clone()),
                    _ => None,
                }
            }
            ["ports", node, port] => {
                let n = self.state.nodes.get(*node)?;
                let (number, proto) = port.split_once('/')?;
                n.published
                    .iter()
                    .find(|p| p.container_port.to_string() == number && p.protocol.lower() == proto)
                    .map(|p| p.host_port.to_string())
            }
            ["steps", id, output] => self.state.outputs.get(*id)?.get(*output).cloned(),
            // A user variable may refer to others (`job-w-1.job.${namespace}`).
            [single] => {
                let value = self.cx.variant.variables.get(*single)?;
                if depth >= 8 {
                    return None;
                }
                substitute(value, |n| self.lookup_at(n, depth + 1)).ok()
            }
            _ => None,
        }
    }

    /// A step's name for reports, with the variables it names filled in where they are known
    /// (`probe connect from node:worker2` rather than a template).
    fn display(&self, name: &str) -> String {
        substitute(name, |n| {
            self.lookup(n).or_else(|| Some(format!("${{{n}}}")))
        })
        .unwrap_or_else(|_| name.to_string())
    }

    fn resolve(&self, t: &Template) -> Result<String, Status> {
        substitute(&t.0, |n| self.lookup(n))
            .map_err(|m| Status::broken(format!("failed to resolve {:?}: {m}", t.0)))
    }

    fn node(&self, t: &Template) -> Result<Node, Status> {
        let name = self.resolve(t)?;
        self.state
            .nodes
            .get(short_name(&self.cx.cluster, &name))
            .cloned()
            .ok_or_else(|| Status::broken(format!("the cluster has no node {name:?}")))
    }

    fn manifest(&self, source: &ManifestSource) -> Result<Manifest, Status> {
        let (file, text) = match source {
            ManifestSource::File(t) => {
                let name = self.resolve(t)?;
                let path = self.cx.scenario.dir.join(&name);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Status::broken(format!("failed to read {}: {e}", path.display()))
                })?;
                (path, text)
            }
            ManifestSource::Inline(t) => ("(inline)".into(), t.0.clone()),
        };
        let text = substitute(&text, |n| self.lookup(n))
            .map_err(|m| Status::broken(format!("{}: {m}", file.display())))?;
        Manifest::from_text(&file, &text).map_err(|e| Status::broken(e.to_string()))
    }

    fn object(&self, r: &ObjectRef) -> Result<DynamicObject, Status> {
        let namespace = match &r.namespace {
            Some(n) => Some(self.resolve(n)?),
            None => None,
        };
        Ok(object_ref(
            &self.resolve(&r.api_version)?,
            &self.resolve(&r.kind)?,
            &self.resolve(&r.name)?,
            namespace,
        ))
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
                let w = b.apply(&m, *mode, &ns).await.map_err(Status::broken)?;
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
                    .map_err(Status::broken)?;
                self.written(step, w, *expect_error)
            }
            Action::Delete { source, target } => {
                let m = match (source, target) {
                    (Some(s), _) => self.manifest(s)?,
                    (None, Some(t)) => {
                        let obj = self.object(t)?;
                        Manifest {
                            file: "(target)".into(),
                            text: String::new(),
                            objects: vec![obj],
                        }
                    }
                    (None, None) => return Err(Status::broken("nothing to delete")),
                };
                let w = b
                    .delete(&m, &ns, step.timeout)
                    .await
                    .map_err(Status::broken)?;
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
                .map_err(Status::broken)?;
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
                let after = b.restart_node(&node).await.map_err(Status::broken)?;
                let short = short_name(&self.cx.cluster, &after.name).to_string();
                self.state.nodes.insert(short, after);
                Status::Passed
            }
            Action::PauseNode { node, duration } => {
                let node = self.node(node)?;
                b.pause_node(&node, *duration)
                    .await
                    .map_err(Status::broken)?;
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
                    .map_err(Status::broken)?;
                self.ran(step, &ran);
                // What kind said is the outcome; `assert.result` judges it.
                Status::Passed
            }
            Action::Assert(a) => self.eventually(a, step.timeout).await?,
        })
    }

    fn ran(&mut self, step: &Step, ran: &Ran) {
        if let Some(id) = &step.id {
            let o = self.state.outputs.entry(id.clone()).or_default();
            o.insert("exitCode".into(), ran.exit_code.to_string());
            o.insert("stdout".into(), ran.stdout.clone());
            o.insert("stderr".into(), ran.stderr.clone());
        }
    }

    /// Wait until `w` holds. A request that fails meanwhile (an API server restarting with
    /// its node) is another "not yet"; if the last look failed so at the deadline, the wait
    /// is broken, not failed.
    async fn wait(&mut self, w: &WaitFor, timeout: Duration) -> Result<Status, Status> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.wait_once(w).await {
                Ok((true, _)) => return Ok(Status::Passed),
                Ok((false, seen)) => Ok(seen),
                Err(broken) => Err(broken),
            };
            if Instant::now() >= deadline {
                return match last {
                    Ok(seen) => Ok(Status::failed(format!("not so within {timeout:?}"), seen)),
                    Err(broken) => Err(broken),
                };
            }
            tokio::time::sleep(self.cx.poll).await;
        }
    }

    /// One look for [`Self::wait`]: whether it holds, and what was seen.
    async fn wait_once(&mut self, w: &WaitFor) -> Result<(bool, String), Status> {
        let ns = self.cx.namespace.clone();
        Ok(match w {
            WaitFor::Pods {
                selector,
                ready,
                phase,
                count,
            } => {
                let sel = self.resolve(selector)?;
                let pods = self.backend.pods(&ns, &sel).await.map_err(Status::broken)?;
                let ok = |p: &Value| {
                    ready.is_none_or(|r| cond::ready(p) == r)
                        && phase.as_deref().is_none_or(|ph| cond::phase(p) == Some(ph))
                };
                let want = count.map(|c| c as usize);
                let enough = match want {
                    Some(c) => pods.iter().filter(|p| ok(p)).count() >= c,
                    None => !pods.is_empty() && pods.iter().all(ok),
                };
                let seen = if pods.is_empty() {
                    format!("no pods match {sel}")
                } else {
                    pods.iter()
                        .map(cond::pod_summary)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                (enough, seen)
            }
            WaitFor::Deployment(name) => {
                let name = self.resolve(name)?;
                let obj = object_ref("apps/v1", "Deployment", &name, None);
                match self.backend.get(&obj, &ns).await.map_err(Status::broken)? {
                    Some(d) => (
                        cond::deployment_available(&d),
                        format!("deployment {name} status {}", d["status"]),
                    ),
                    None => (false, format!("deployment {name} does not exist")),
                }
            }
            WaitFor::Endpoints { service, ready } => {
                let svc = self.resolve(service)?;
                let slices = self
                    .backend
                    .endpoint_slices(&ns, &svc)
                    .await
                    .map_err(Status::broken)?;
                let eps = cond::ready_endpoints(&slices);
                (
                    eps.len() >= *ready as usize,
                    format!("{} ready endpoints of {svc}: {eps:?}", eps.len()),
                )
            }
            WaitFor::NodesReady => {
                let not_ready = self
                    .backend
                    .nodes_not_ready()
                    .await
                    .map_err(Status::broken)?;
                (
                    not_ready.is_empty(),
                    format!("not ready: {}", not_ready.join(", ")),
                )
            }
        })
    }

    async fn probe(&mut self, step: &Step, p: &ProbeSpec) -> Result<Status, Status> {
        let started = rfc3339(SystemTime::now());
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let (from, args) = match p {
            ProbeSpec::Connect {
                from,
                targets,
                count,
                concurrency,
                per_connection,
                http,
            } => {
                let mut args = vec!["connect".to_string()];
                for t in targets {
                    args.push("--target".into());
                    args.push(self.resolve(t)?);
                }
                args.extend([
                    "--count".into(),
                    count.to_string(),
                    "--concurrency".into(),
                    concurrency.to_string(),
                    "--timeout".into(),
                    ms(*per_connection),
                    "--proto".into(),
                    if *http { "http" } else { "tcp" }.into(),
                ]);
                (from, args)
            }
            ProbeSpec::Dns {
                from,
                name,
                interval,
                until,
            } => {
                let mut args = vec![
                    "dns".to_string(),
                    "--name".into(),
                    self.resolve(name)?,
                    "--interval".into(),
                    ms(*interval),
                ];
                match until {
                    DnsUntil::Once => args.push("--once".into()),
                    DnsUntil::Resolved => args.extend([
                        "--until-resolved".into(),
                        "--deadline".into(),
                        ms(step.timeout.saturating_sub(Duration::from_secs(2))),
                    ]),
                    DnsUntil::For(d) => args.extend(["--for".into(), ms(*d)]),
                }
                (from, args)
            }
            ProbeSpec::Bind { from, address } => (
                from,
                vec![
                    "bind".to_string(),
                    "--address".into(),
                    self.resolve(address)?,
                    "--check".into(),
                ],
            ),
        };
        let site = match from {
            From::Host => ProbeSite::Host,
            From::Node(n) => ProbeSite::Node(self.node(n)?),
            From::Pod(p) => ProbeSite::Pod(self.resolve(p)?),
        };
        let ran = self
            .backend
            .probe(&site, &args, &self.cx.namespace, step.timeout)
            .await
            .map_err(Status::broken)?;
        self.ran(step, &ran);
        let id = step.id.clone().unwrap_or_else(|| step.name.clone());
        self.state
            .outputs
            .entry(id.clone())
            .or_default()
            .insert("started".into(), started);
        match p {
            ProbeSpec::Connect { .. } => {
                let s = connect_summaries(&ran.stdout).map_err(Status::broken)?;
                self.state.connect.insert(id, s);
            }
            ProbeSpec::Dns { .. } => {
                let s = dns_summary(&ran.stdout).map_err(Status::broken)?;
                self.state.dns.insert(id, s);
            }
            ProbeSpec::Bind { .. } => {
                let r = bind_record(&ran.stdout).map_err(Status::broken)?;
                self.state.bind.insert(id, r);
            }
        }
        Ok(Status::Passed)
    }

    /// Check `a` until it holds or `timeout` passes; the last mismatch is the report.
    async fn eventually(&mut self, a: &Assertion, timeout: Duration) -> Result<Status, Status> {
        let deadline = Instant::now() + timeout;
        loop {
            let look = match self.check(a).await {
                Ok(look) => look,
                // A failed request is another "not yet" until the deadline.
                Err(broken) if Instant::now() < deadline => {
                    tracing::debug!("assertion look failed: {broken:?}");
                    tokio::time::sleep(self.cx.poll).await;
                    continue;
                }
                Err(broken) => return Err(broken),
            };
            match look {
                Ok(()) => return Ok(Status::Passed),
                Err((message, observed)) => {
                    // Results of earlier steps do not change: no point in looking again.
                    let fixed = matches!(
                        a,
                        Assertion::Routing { .. }
                            | Assertion::Dns { .. }
                            | Assertion::Result { .. }
                    );
                    if fixed || Instant::now() >= deadline {
                        return Ok(Status::failed(message, observed));
                    }
                }
            }
            tokio::time::sleep(self.cx.poll).await;
        }
    }

    /// One look: `Ok(Ok(()))` holds, `Ok(Err((what, observed)))` does not (yet).
    async fn check(&mut self, a: &Assertion) -> Result<Result<(), (String, String)>, Status> {
        let ns = self.cx.namespace.clone();
        Ok(match a {
            Assertion::Field {
                target,
                path,
                check,
            } => {
                let obj = self.object(target)?;
                let what = format!(
                    "{}/{} {path}",
                    obj.types
                        .as_ref()
                        .map(|t| t.kind.clone())
                        .unwrap_or_default(),
                    obj.metadata.name.clone().unwrap_or_default()
                );
                let Some(live) = self.backend.get(&obj, &ns).await.map_err(Status::broken)? else {
                    return Ok(Err((
                        format!("{what}: the object does not exist"),
                        "absent".into(),
                    )));
                };
                let values = path.read(&live);
                let observed = path
                    .read_value(&live)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "nothing at that path".into());
                let text = |v: &Value| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                };
                let ok = match check {
                    FieldCheck::Equals(want) => path.read_value(&live).as_ref() == Some(want),
                    FieldCheck::Contains(t) => {
                        let t = self.resolve(t)?;
                        values.iter().any(|v| text(v).contains(&t))
                    }
                    FieldCheck::Matches(re) => values.iter().any(|v| re.is_match(&text(v))),
                    FieldCheck::Count(n) => values.len() == *n as usize,
                };
                let expected = match check {
                    FieldCheck::Equals(v) => format!("equals {v}"),
                    FieldCheck::Contains(t) => format!("contains {:?}", t.0),
                    FieldCheck::Matches(r) => format!("matches /{}/", r.as_str()),
                    FieldCheck::Count(n) => format!("has {n} values"),
                };
                if ok {
                    Ok(())
                } else {
                    Err((format!("{what} {expected}"), observed))
                }
            }
            Assertion::Pod {
                selector,
                container,
                checks,
            } => {
                let sel = self.resolve(selector)?;
                let container = match container {
                    Some(c) => Some(self.resolve(c)?),
                    None => None,
                };
                let pods = self.backend.pods(&ns, &sel).await.map_err(Status::broken)?;
                if pods.is_empty() {
                    return Ok(Err((
                        format!("pods {sel}"),
                        format!("no pod matches {sel}"),
                    )));
                }
                let c = container.as_deref();
                let mut failures = Vec::new();
                let mut events = None;
                for pod in &pods {
                    let name = pod["metadata"]["name"].as_str().unwrap_or("?").to_string();
                    for check in checks {
                        let (ok, want) = match check {
                            PodCheck::Phase(p) => {
                                (cond::phase(pod) == Some(p.as_str()), format!("phase {p}"))
                            }
                            PodCheck::Ready(r) => (cond::ready(pod) == *r, format!("ready {r}")),
                            PodCheck::WaitingReason(r) => (
                                cond::waiting_reason(pod, c) == Some(r.as_str()),
                                format!("waiting {r}"),
                            ),
                            PodCheck::TerminatedReason(r) => (
                                cond::terminated_reason(pod, c) == Some(r.as_str()),
                                format!("terminated {r}"),
                            ),
                            PodCheck::MinRestarts(n) => (
                                cond::restart_count(pod, c).unwrap_or(0) >= *n,
                                format!("at least {n} restarts"),
                            ),
                            PodCheck::MaxRestarts(n) => (
                                cond::restart_count(pod, c).unwrap_or(0) <= *n,
                                format!("at most {n} restarts"),
                            ),
                            PodCheck::LastExitCode(e) => (
                                cond::last_exit_code(pod, c) == Some(*e),
                                format!("last exit code {e}"),
                            ),
                            PodCheck::LogsContain(t) | PodCheck::PreviousLogsContain(t) => {
                                let previous = matches!(check, PodCheck::PreviousLogsContain(_));
                                let t = self.resolve(t)?;
                                let log = self
                                    .backend
                                    .logs(&ns, &name, c, previous)
                                    .await
                                    .unwrap_or_default();
                                (
                                    log.contains(&t),
                                    format!(
                                        "{}log contains {t:?}",
                                        if previous { "previous " } else { "" }
                                    ),
                                )
                            }
                            PodCheck::EventReason(r) => {
                                if events.is_none() {
                                    events = Some(
                                        self.backend.events(&ns).await.map_err(Status::broken)?,
                                    );
                                }
                                let object = format!("pod/{name}");
                                let seen = events
                                    .as_ref()
                                    .expect("read above")
                                    .iter()
                                    .any(|e| e.object == object && &e.reason == r);
                                (seen, format!("an event {r}"))
                            }
                        };
                        if !ok {
                            failures.push(format!("{name}: {want}"));
                        }
                    }
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err((
                        format!("pods {sel}: {}", failures.join("; ")),
                        pods.iter()
                            .map(cond::pod_summary)
                            .collect::<Vec<_>>()
                            .join("; "),
                    ))
                }
            }
            Assertion::Routing {
                probe,
                target,
                checks,
            } => {
                let target = self.resolve(target)?;
                let summaries = self
                    .state
                    .connect
                    .get(probe)
                    .ok_or_else(|| Status::broken(format!("no connect probe {probe:?} ran")))?;
                let s = summaries
                    .iter()
                    .find(|s| s.target == target)
                    .ok_or_else(|| {
                        Status::broken(format!("probe {probe:?} did not target {target}"))
                    })?
                    .clone();
                routing(&s, checks, |t| self.resolve(t))?
            }
            Assertion::Dns { probe, checks } => {
                let s = self
                    .state
                    .dns
                    .get(probe)
                    .ok_or_else(|| Status::broken(format!("no dns probe {probe:?} ran")))?
                    .clone();
                dns(&s, checks, |t| self.resolve(t))?
            }
            Assertion::Result { step, checks } => {
                let o = self
                    .state
                    .outputs
                    .get(step)
                    .ok_or_else(|| Status::broken(format!("step {step:?} has no outputs")))?;
                let get = |k: &str| o.get(k).cloned().unwrap_or_default();
                let mut failures = Vec::new();
                for c in checks {
                    let (ok, want) = match c {
                        ResultCheck::ExitCode(e) => {
                            (get("exitCode") == e.to_string(), format!("exit code {e}"))
                        }
                        ResultCheck::StdoutContains(t) => {
                            let t = self.resolve(t)?;
                            (get("stdout").contains(&t), format!("stdout contains {t:?}"))
                        }
                        ResultCheck::StderrContains(t) => {
                            let t = self.resolve(t)?;
                            (get("stderr").contains(&t), format!("stderr contains {t:?}"))
                        }
                        ResultCheck::Reason(r) => (get("reason") == *r, format!("reason {r}")),
                        ResultCheck::MessageContains(t) => {
                            let t = self.resolve(t)?;
                            (
                                get("message").contains(&t),
                                format!("message contains {t:?}"),
                            )
                        }
                    };
                    if !ok {
                        failures.push(want);
                    }
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err((
                        format!("result of {step}: {}", failures.join("; ")),
                        format!(
                            "exit {}, stdout {:?}, stderr {:?}, reason {:?}",
                            get("exitCode"),
                            get("stdout").trim(),
                            get("stderr").trim(),
                            get("reason")
                        ),
                    ))
                }
            }
            Assertion::Endpoints {
                service,
                ready,
                nodes,
            } => {
                let svc = self.resolve(service)?;
                let slices = self
                    .backend
                    .endpoint_slices(&ns, &svc)
                    .await
                    .map_err(Status::broken)?;
                let eps = cond::ready_endpoints(&slices);
                let mut on: Vec<String> = eps.iter().filter_map(|(_, n)| n.clone()).collect();
                on.sort();
                on.dedup();
                let mut failures = Vec::new();
                if let Some(n) = ready
                    && eps.len() != *n as usize
                {
                    failures.push(format!("{n} ready endpoints"));
                }
                if let Some(want) = nodes {
                    let mut names = Vec::new();
                    for t in want {
                        names.push(self.node(t)?.name);
                    }
                    names.sort();
                    if names != on {
                        failures.push(format!("endpoints on {}", names.join(", ")));
                    }
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err((
                        format!("service {svc}: {}", failures.join("; ")),
                        format!("{} ready endpoints on {}", eps.len(), on.join(", ")),
                    ))
                }
            }
        })
    }
}

type Check = Result<(), (String, String)>;

/// Routing checks on one target's tally.
pub fn routing(
    s: &ConnectSummary,
    checks: &[RoutingCheck],
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Check, Status> {
    let seen: Vec<&str> = s.backends.keys().map(String::as_str).collect();
    let observed = format!(
        "{} of {} answered: {}; refused {}, timed out {}, errors {}",
        s.answered,
        s.attempts,
        if s.backends.is_empty() {
            "no backend".to_string()
        } else {
            s.backends
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        s.refused,
        s.timeout,
        s.errors
    );
    let names =
        |list: &[Template]| -> Result<Vec<String>, Status> { list.iter().map(&resolve).collect() };
    let mut failures = Vec::new();
    for c in checks {
        match c {
            RoutingCheck::Only(list) => {
                let want = names(list)?;
                if seen.is_empty() || seen.iter().any(|b| !want.iter().any(|w| w == b)) {
                    failures.push(format!("only {} answer", want.join(", ")));
                }
            }
            RoutingCheck::Includes(list) => {
                for w in names(list)? {
                    if !seen.contains(&w.as_str()) {
                        failures.push(format!("{w} answers"));
                    }
                }
            }
            RoutingCheck::Excludes(list) => {
                for w in names(list)? {
                    if seen.contains(&w.as_str()) {
                        failures.push(format!("{w} never answers"));
                    }
                }
            }
            RoutingCheck::MinDistinct(n) => {
                if seen.len() < *n as usize {
                    failures.push(format!("at least {n} distinct backends answer"));
                }
            }
            RoutingCheck::MinShare(f) => {
                let total = s.answered.max(1) as f64;
                if s.backends.values().any(|v| (*v as f64) / total < *f) || s.backends.is_empty() {
                    failures.push(format!("every backend gets at least {:.0}%", f * 100.0));
                }
            }
            RoutingCheck::Unreachable(u) => {
                if *u && s.answered > 0 {
                    failures.push("nothing answers".into());
                }
                if !*u && s.answered == 0 {
                    failures.push("something answers".into());
                }
            }
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((format!("{}: {}", s.target, failures.join("; ")), observed))
    })
}

fn parse_time(t: &str) -> Result<SystemTime, Status> {
    humantime::parse_rfc3339_weak(t.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(t))
        .map_err(|e| Status::broken(format!("not a timestamp: {t:?}: {e}")))
}

/// DNS checks on a dns probe's summary.
pub fn dns(
    s: &DnsSummary,
    checks: &[DnsCheck],
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Check, Status> {
    let observed = format!(
        "{}: resolved {}, first success {}, codes before success {:?}, {} attempts",
        s.name,
        s.resolved,
        s.first_success.as_deref().unwrap_or("never"),
        s.codes_before_success,
        s.attempts
    );
    let since = |t: &Option<Template>| -> Result<SystemTime, Status> {
        match t {
            Some(t) => parse_time(&resolve(t)?),
            None => parse_time(&s.started),
        }
    };
    let first = s.first_success.as_deref().map(parse_time).transpose()?;
    let mut failures = Vec::new();
    for c in checks {
        match c {
            DnsCheck::Resolved(r) => {
                if s.resolved != *r {
                    failures.push(if *r {
                        "resolves".to_string()
                    } else {
                        "never resolves".to_string()
                    });
                }
            }
            DnsCheck::Within { bound, since: t } => {
                let from = since(t)?;
                match first {
                    Some(f) if f.duration_since(from).unwrap_or_default() <= *bound => {}
                    _ => failures.push(format!("resolves within {bound:?}")),
                }
            }
            DnsCheck::NotBefore { bound, since: t } => {
                let from = since(t)?;
                if let Some(f) = first
                    && f.duration_since(from).unwrap_or_default() < *bound
                {
                    failures.push(format!("does not resolve before {bound:?}"));
                }
            }
            DnsCheck::SeenBeforeSuccess(code) => {
                if !s.codes_before_success.contains_key(code) {
                    failures.push(format!("{code} before the first success"));
                }
            }
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((format!("{}: {}", s.name, failures.join("; ")), observed))
    })
}
