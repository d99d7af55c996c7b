//! The engine's looks at assertions: each reads its observation (through the backend or the
//! state of the steps so far) and hands it to its kind's pure `evaluate` in `assert/`. The
//! polling is `eventually`'s.

use super::backend::Backend;
use super::engine::Run;
use super::outcome::Status;
use crate::assert::{self, Verdict};
use crate::scenario::model::*;

impl<B: Backend> Run<'_, B> {
    /// What the probe an assertion judges says now, in words (for a round that held).
    pub(super) fn observation(&self, a: &Assertion) -> String {
        match a {
            Assertion::Routing { probe, target, .. } => {
                let target = self.resolve(target).unwrap_or_default();
                self.state
                    .connect
                    .get(probe)
                    .and_then(|all| all.iter().find(|s| s.target == target))
                    .map(crate::assert::routing::connect_observed)
                    .unwrap_or_default()
            }
            Assertion::Dns { probe, .. } => self
                .state
                .dns
                .get(probe)
                .map(crate::assert::dns::dns_observed)
                .unwrap_or_default(),
            Assertion::Result { step, .. } => {
                crate::assert::result::observed(self.state.outputs.get(step))
            }
            Assertion::During(d) => self
                .state
                .background
                .get(&d.probe)
                .and_then(|b| b.windows.last())
                .and_then(|w| w["summary"].as_str())
                .unwrap_or_default()
                .to_string(),
            Assertion::Field { .. } | Assertion::Pod { .. } | Assertion::Endpoints { .. } => {
                String::new()
            }
        }
    }

    /// One look: `Ok(Ok(()))` holds, `Ok(Err((what, observed)))` does not (yet).
    pub(super) async fn check(&mut self, a: &Assertion) -> Result<Verdict, Status> {
        let ns = self.cx.namespace.clone();
        let resolve = |t: &Template| self.resolve(t);
        match a {
            Assertion::During(d) => self.during(d).await,
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
                let live = self.backend.get(&obj, &ns).await.map_err(Status::from)?;
                assert::field::evaluate(&what, live.as_ref(), path, check, resolve)
            }
            Assertion::Pod {
                selector,
                container,
                checks,
            } => {
                let sel = self.resolve(selector)?;
                let container = container.as_ref().map(|c| self.resolve(c)).transpose()?;
                let c = container.as_deref();
                let mut seen = assert::pod::Observation {
                    pods: self.backend.pods(&ns, &sel).await.map_err(Status::from)?,
                    ..Default::default()
                };
                for previous in assert::pod::logs_read(checks) {
                    for pod in &seen.pods {
                        let name = assert::pod::name(pod);
                        // A log that cannot be read (no previous instance yet) contains nothing.
                        let log = self
                            .backend
                            .logs(&ns, &name, c, previous)
                            .await
                            .unwrap_or_default();
                        seen.logs.insert((name, previous), log);
                    }
                }
                if !seen.pods.is_empty() && assert::pod::events_read(checks) {
                    seen.events = self.backend.events(&ns).await.map_err(Status::from)?;
                }
                assert::pod::evaluate(&sel, c, checks, &seen, resolve)
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
                    })?;
                assert::routing::evaluate(s, checks, resolve)
            }
            Assertion::Dns { probe, checks, .. } => {
                let s = self
                    .state
                    .dns
                    .get(probe)
                    .ok_or_else(|| Status::broken(format!("no dns probe {probe:?} ran")))?;
                assert::dns::evaluate(s, checks, resolve)
            }
            Assertion::Result { step, checks } => {
                let o = self
                    .state
                    .outputs
                    .get(step)
                    .ok_or_else(|| Status::broken(format!("step {step:?} has no outputs")))?;
                assert::result::evaluate(step, o, checks, resolve)
            }
            Assertion::Endpoints {
                service,
                ready,
                nodes,
            } => {
                let (svc, eps) = self.ready_endpoints(service).await?;
                let names = match nodes {
                    Some(want) => Some(
                        want.iter()
                            .map(|t| self.node(t).map(|n| n.name))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    None => None,
                };
                Ok(assert::endpoints::evaluate(&svc, &eps, *ready, names))
            }
        }
    }
}
