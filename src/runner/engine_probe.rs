//! Probe steps: the probe's command line built from the step, run where the step says, and
//! what it printed kept by step id; and the same probe run again, with the same arguments, for
//! an assertion that observes until it holds.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::backend::{Backend, ProbeSite, Ran};
use super::engine::{Kind, ProbeRun, Run, rfc3339};
use super::outcome::Status;
use super::results::{bind_record, connect_summaries, dns_summary};
use crate::scenario::model::*;

impl<B: Backend> Run<'_, B> {
    pub(super) async fn probe(&mut self, step: &Step, p: &ProbeSpec) -> Result<Status, Status> {
        let started = rfc3339(SystemTime::now());
        let run = self.probe_command(step, p)?;
        let id = step.id.clone().unwrap_or_else(|| step.name.clone());
        let ran = self
            .backend
            .probe(&run.site, &run.args, &self.cx.namespace, step.timeout)
            .await
            .map_err(Status::broken)?;
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
            (Kind::Connect, Some(t)) => only_target(&run.args, t),
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
            .map_err(Status::broken)?;
        self.keep(id, run.kind, &ran)?;
        self.state.probes.insert(id.to_string(), run);
        Ok(())
    }

    /// Keep what probe step `id` printed: its outputs, and its decoded results.
    fn keep(&mut self, id: &str, kind: Kind, ran: &Ran) -> Result<(), Status> {
        let o = self.state.outputs.entry(id.to_string()).or_default();
        o.insert("exitCode".into(), ran.exit_code.to_string());
        o.insert("stdout".into(), ran.stdout.clone());
        o.insert("stderr".into(), ran.stderr.clone());
        let id = id.to_string();
        match kind {
            Kind::Connect => {
                // Target by target: a run to some of the targets leaves the others' results.
                let fresh = connect_summaries(&ran.stdout).map_err(Status::broken)?;
                let all = self.state.connect.entry(id).or_default();
                for f in fresh {
                    match all.iter_mut().find(|s| s.target == f.target) {
                        Some(old) => *old = f,
                        None => all.push(f),
                    }
                }
            }
            Kind::Dns => {
                let s = dns_summary(&ran.stdout).map_err(Status::broken)?;
                self.state.dns.insert(id, s);
            }
            Kind::Bind => {
                let r = bind_record(&ran.stdout).map_err(Status::broken)?;
                self.state.bind.insert(id, r);
            }
        }
        Ok(())
    }

    /// Where `p` runs and its command line, resolved now; and whether running it again
    /// makes sense for an assertion (a dns probe that samples until it resolves, or for a
    /// while, is one long observation: it is judged as it is).
    fn probe_command(&self, step: &Step, p: &ProbeSpec) -> Result<ProbeRun, Status> {
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
        let repeatable = !matches!(
            p,
            ProbeSpec::Dns {
                until: DnsUntil::Resolved | DnsUntil::For(_),
                ..
            }
        );
        Ok(ProbeRun {
            site,
            args,
            kind: match p {
                ProbeSpec::Connect { .. } => Kind::Connect,
                ProbeSpec::Dns { .. } => Kind::Dns,
                ProbeSpec::Bind { .. } => Kind::Bind,
            },
            timeout: step.timeout,
            at: Instant::now(),
            repeatable,
        })
    }
}

/// A connect probe's arguments with `--target` pairs other than `target` left out.
fn only_target(args: &[String], target: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--target" {
            if args.get(i + 1).is_some_and(|t| t == target) {
                out.extend_from_slice(&args[i..i + 2]);
            }
            i += 2;
        } else {
            out.push(args[i].clone());
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_probe_runs_again_to_the_judged_target_only() {
        let args: Vec<String> = [
            "connect",
            "--target",
            "a:1",
            "--target",
            "b:2",
            "--count",
            "40",
            "--timeout",
            "1000ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            only_target(&args, "b:2"),
            [
                "connect",
                "--target",
                "b:2",
                "--count",
                "40",
                "--timeout",
                "1000ms"
            ]
        );
    }
}
