//! The engine's assertions: how each is observed over time, and one look at each. An assertion
//! on the API looks again until its deadline. An assertion on a probe's result runs that probe
//! again, with the same arguments, until it holds over its settle window or the deadline
//! passes (see `observe`); every round goes into the report. An assertion on a fixed result
//! (an apply's output, a dns timeline) is judged once.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::backend::Backend;
use super::engine::{HANG_GRACE, Run};
use super::judge::{dns, routing};
use super::observe::{Next, Rounds};
use super::outcome::Status;
use crate::kube_ops::wait as cond;
use crate::scenario::model::*;

/// How an assertion is observed.
enum Observed<'a> {
    /// It reads the API: look again until the deadline.
    Api,
    /// It judges probe step `.0`'s result: run the probe again until it settles.
    Probe(&'a str, Settle),
    /// Its evidence does not change: judge it once.
    Once,
}

impl<B: Backend> Run<'_, B> {
    fn observed<'a>(&self, a: &'a Assertion) -> Observed<'a> {
        let repeatable = |id: &str| self.state.probes.get(id).is_some_and(|p| p.repeatable);
        match a {
            Assertion::Field { .. } | Assertion::Pod { .. } | Assertion::Endpoints { .. } => {
                Observed::Api
            }
            Assertion::Routing { probe, settle, .. } if repeatable(probe) => {
                Observed::Probe(probe, *settle)
            }
            Assertion::Dns {
                probe,
                checks,
                settle,
            } if repeatable(probe) && !checks.iter().any(DnsCheck::judges_timeline) => {
                Observed::Probe(probe, *settle)
            }
            // The result of a bind (or any) probe step: run it again until it holds.
            Assertion::Result { step, .. } if repeatable(step) => {
                Observed::Probe(step, Settle::ONCE)
            }
            Assertion::Routing { .. } | Assertion::Dns { .. } | Assertion::Result { .. } => {
                Observed::Once
            }
        }
    }

    /// Judge `a` until it holds or `timeout` passes; the last mismatch is the report.
    pub(super) async fn eventually(
        &mut self,
        a: &Assertion,
        timeout: Duration,
    ) -> Result<Status, Status> {
        match self.observed(a) {
            Observed::Probe(id, settle) => {
                let id = id.to_string();
                self.observe(a, &id, settle, timeout).await
            }
            Observed::Once => Ok(match self.check(a).await? {
                Ok(()) => Status::Passed,
                Err((message, observed)) => Status::failed(message, observed),
            }),
            Observed::Api => self.poll(a, timeout).await,
        }
    }

    /// Look at the API until `a` holds or `timeout` passes. A failed request is another "not
    /// yet" until the deadline.
    async fn poll(&mut self, a: &Assertion, timeout: Duration) -> Result<Status, Status> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.check(a).await {
                Ok(Ok(())) => return Ok(Status::Passed),
                Ok(Err((message, observed))) if Instant::now() >= deadline => {
                    return Ok(Status::failed(message, observed));
                }
                Ok(Err(_)) => {}
                Err(broken) if Instant::now() >= deadline => return Err(broken),
                Err(broken) => tracing::debug!("assertion look failed: {broken:?}"),
            }
            tokio::time::sleep(self.cx.poll).await;
        }
    }

    /// Judge `a` on probe `id`'s latest result, then on fresh runs of it, until it has held
    /// over `settle` or `timeout` passes. The rounds go into the step's report.
    async fn observe(
        &mut self,
        a: &Assertion,
        id: &str,
        settle: Settle,
        timeout: Duration,
    ) -> Result<Status, Status> {
        let begun = Instant::now();
        let deadline = begun + timeout;
        let since = |t: Instant| -> f64 {
            if t >= begun {
                (t - begun).as_secs_f64()
            } else {
                -(begun - t).as_secs_f64()
            }
        };
        let mut rounds = Rounds::new(settle);
        // A routing assertion judges one target: only that one is probed again.
        let target = match a {
            Assertion::Routing { target, .. } => Some(self.resolve(target)?),
            _ => None,
        };
        let mut failing: Option<String> = None;
        let verdict = loop {
            let at = since(self.state.probes[id].at);
            let next = match self.check(a).await? {
                Ok(()) => rounds.record(at, true, self.observation(a)),
                Err((message, observed)) => {
                    failing = Some(message);
                    rounds.record(at, false, observed)
                }
            };
            let earliest = match next {
                Next::Settled => break Status::Passed,
                Next::Settling { after } => begun + Duration::from_secs_f64(after.max(0.0)),
                Next::Again => Instant::now() + self.cx.poll,
            };
            if earliest >= deadline {
                break self.not_settled(&rounds, failing.as_deref(), timeout);
            }
            tokio::time::sleep_until(earliest).await;
            // A run of the probe that fails (a pod exec while the API server restarts) is
            // another "not yet"; if the last one failed so at the deadline, it is broken.
            loop {
                let budget = deadline.saturating_duration_since(Instant::now()) + HANG_GRACE / 2;
                match self.reprobe(id, budget, target.as_deref()).await {
                    Ok(()) => break,
                    Err(broken) if Instant::now() >= deadline => {
                        self.extra.rounds = rounds.rounds;
                        return Err(broken);
                    }
                    Err(broken) => {
                        tracing::debug!("probe {id} failed to run again: {broken:?}");
                        tokio::time::sleep(self.cx.poll).await;
                    }
                }
            }
        };
        self.extra.rounds = rounds.rounds;
        Ok(verdict)
    }

    /// The failure of an observed assertion at its deadline: the last round's mismatch, or, if
    /// it held at the end but not for long enough, by how much it fell short.
    fn not_settled(&self, rounds: &Rounds, failing: Option<&str>, timeout: Duration) -> Status {
        let observed = rounds.last_observed().unwrap_or("nothing").to_string();
        let n = rounds.rounds.len();
        // The number of rounds is in the step's report; the message is the check's own.
        match (
            rounds.rounds.last().is_some_and(|r| r.held),
            rounds.shortfall(),
        ) {
            (true, Some(short)) => Status::failed(
                format!("not settled within {timeout:?} ({n} rounds): {short}"),
                observed,
            ),
            _ => Status::failed(failing.unwrap_or("did not hold"), observed),
        }
    }

    /// What the probe an assertion judges says now, in words (for a round that held).
    fn observation(&self, a: &Assertion) -> String {
        match a {
            Assertion::Routing { probe, target, .. } => {
                let target = self.resolve(target).unwrap_or_default();
                self.state
                    .connect
                    .get(probe)
                    .and_then(|all| all.iter().find(|s| s.target == target))
                    .map(super::judge::connect_observed)
                    .unwrap_or_default()
            }
            Assertion::Dns { probe, .. } => self
                .state
                .dns
                .get(probe)
                .map(super::judge::dns_observed)
                .unwrap_or_default(),
            Assertion::Result { step, .. } => {
                let o = self.state.outputs.get(step);
                let get = |k: &str| o.and_then(|o| o.get(k)).cloned().unwrap_or_default();
                format!(
                    "exit {}, stdout {:?}",
                    get("exitCode"),
                    get("stdout").trim()
                )
            }
            Assertion::Field { .. } | Assertion::Pod { .. } | Assertion::Endpoints { .. } => {
                String::new()
            }
        }
    }

    /// One look: `Ok(Ok(()))` holds, `Ok(Err((what, observed)))` does not (yet).
    pub(super) async fn check(
        &mut self,
        a: &Assertion,
    ) -> Result<Result<(), (String, String)>, Status> {
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
                ..
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
            Assertion::Dns { probe, checks, .. } => {
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
                let (svc, eps) = self.ready_endpoints(service).await?;
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
