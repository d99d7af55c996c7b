//! Probe steps: run where the step says (the command line and decoding are `probe/`'s), what
//! it printed kept by step id; and the same probe run again, with the same arguments, for an
//! assertion that observes until it holds.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::backend::{Backend, ProbeSite, Ran};
use super::engine::{ProbeRun, Run, rfc3339};
use super::outcome::Status;
use crate::probe::{self, Mode};
use crate::scenario::model::*;

impl<B: Backend> Run<'_, B> {
    pub(super) async fn probe(&mut self, step: &Step, p: &ProbeSpec) -> Result<Status, Status> {
        if let ProbeSpec::Stream { .. } | ProbeSpec::DnsStream { .. } = p {
            return self.start_background(step, p).await;
        }
        let started = rfc3339(SystemTime::now());
        let run = self.probe_command(step, p, step.timeout)?;
        let id = step.id.clone().unwrap_or_else(|| step.name.clone());
        let ran = self
            .backend
            .probe(&run.site, &run.args, &self.cx.namespace, step.timeout)
            .await
            .map_err(Status::from)?;
        self.state
            .outputs
            .entry(id.clone())
            .or_default()
            .insert("started".into(), started);
        self.keep(&id, run.kind, &ran)?;
        self.state.probes.insert(id, run);
        Ok(Status::Passed)
    }

    /// Run probe step `id` again as it ran before, at most `budget` long; what it says
    /// replaces what it said. With `target`, a connect probe goes to that one of its targets
    /// only (same count, concurrency and timeouts): an assertion judges one target, and the
    /// others (a node that drops every SYN, say) need not be waited for again.
    pub(super) async fn reprobe(
        &mut self,
        id: &str,
        budget: Duration,
        target: Option<&str>,
    ) -> Result<(), Status> {
        let mut run = self
            .state
            .probes
            .get(id)
            .cloned()
            .ok_or_else(|| Status::broken(format!("no probe step {id:?} ran")))?;
        run.at = Instant::now();
        let args = match (run.kind, target) {
            (Mode::Connect, Some(t)) => probe::connect::only_target(&run.args, t),
            _ => run.args.clone(),
        };
        let ran = self
            .backend
            .probe(
                &run.site,
                &args,
                &self.cx.namespace,
                run.timeout.min(budget),
            )
            .await
            .map_err(Status::from)?;
        self.keep(id, run.kind, &ran)?;
        self.state.probes.insert(id.to_string(), run);
        Ok(())
    }

    /// Keep what probe step `id` printed: its outputs, and its decoded results.
    fn keep(&mut self, id: &str, kind: Mode, ran: &Ran) -> Result<(), Status> {
        let o = self.state.outputs.entry(id.to_string()).or_default();
        o.insert("exitCode".into(), ran.exit_code.to_string());
        o.insert("stdout".into(), ran.stdout.clone());
        o.insert("stderr".into(), ran.stderr.clone());
        let id = id.to_string();
        match kind {
            Mode::Connect => {
                // Target by target: a run to some of the targets leaves the others' results.
                let fresh = probe::connect::decode(&ran.stdout).map_err(Status::broken)?;
                let all = self.state.connect.entry(id).or_default();
                for f in fresh {
                    match all.iter_mut().find(|s| s.target == f.target) {
                        Some(old) => *old = f,
                        None => all.push(f),
                    }
                }
            }
            Mode::Dns => {
                let s = probe::dns::decode(&ran.stdout).map_err(Status::broken)?;
                self.state.dns.insert(id, s);
            }
            Mode::Bind => {
                let r = probe::bind::decode(&ran.stdout).map_err(Status::broken)?;
                self.state.bind.insert(id, r);
            }
            // Read as it streams (engine_background), never kept whole.
            Mode::Stream => {}
        }
        Ok(())
    }

    /// Where `p` runs and its command line (for at most `bound`), resolved now.
    pub(super) fn probe_command(
        &self,
        step: &Step,
        p: &ProbeSpec,
        bound: Duration,
    ) -> Result<ProbeRun, Status> {
        let from = match p {
            ProbeSpec::Connect { from, .. }
            | ProbeSpec::Dns { from, .. }
            | ProbeSpec::Bind { from, .. }
            | ProbeSpec::Stream { from, .. }
            | ProbeSpec::DnsStream { from, .. } => from,
        };
        let site = match from {
            From::Host => ProbeSite::Host,
            From::Node(n) => ProbeSite::Node(self.node(n)?),
            From::Pod(p) => ProbeSite::Pod(self.resolve(p)?),
        };
        Ok(ProbeRun {
            site,
            args: probe::args(p, bound, |t| self.resolve(t))?,
            kind: Mode::of(p),
            timeout: step.timeout,
            at: Instant::now(),
            repeatable: probe::repeatable(p),
        })
    }
}
