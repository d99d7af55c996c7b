//! The engine's waits: look until the condition holds or the deadline passes, reporting the
//! last state seen. After a node restart or pause, a pod on that node (or the node) counts only
//! with evidence written after the disruption (see `fresh`), and the step says which.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::backend::Backend;
use super::engine::Run;
use super::eventually::until;
use super::fresh::{self, Disruption};
use super::outcome::Status;
use crate::assert::Verdict;
use crate::kube_ops::manifest::object_ref;
use crate::kube_ops::wait as cond;
use crate::scenario::model::*;

/// One look: whether it holds, what was seen, and the evidence of freshness it relied on.
struct Look {
    holds: bool,
    seen: String,
    evidence: Vec<String>,
}

impl<B: Backend> Run<'_, B> {
    /// Wait until `w` holds. A request that fails meanwhile (an API server restarting with
    /// its node) is another "not yet"; if the last look failed so at the deadline, the wait
    /// is broken, not failed.
    pub(super) async fn wait(&mut self, w: &WaitFor, timeout: Duration) -> Result<Status, Status> {
        let mut evidence = Vec::new();
        let every = self.cx.poll;
        let last: Result<Verdict, Status> = until!(
            every,
            timeout,
            match self.wait_once(w).await {
                Ok(look) if look.holds => {
                    evidence = look.evidence;
                    Ok(Ok(()))
                }
                Ok(look) => Ok(Err((String::new(), look.seen))),
                Err(broken) => Err(broken),
            }
        );
        Ok(match last? {
            Ok(()) => {
                if !evidence.is_empty() {
                    self.extra.evidence = Some(evidence.join("; "));
                }
                Status::Passed
            }
            Err((_, seen)) => Status::failed(format!("not so within {timeout:?}"), seen),
        })
    }

    /// The ready endpoints (address, node) of Service `service` in the variant's namespace.
    pub(super) async fn ready_endpoints(
        &self,
        service: &Template,
    ) -> Result<(String, Vec<(String, Option<String>)>), Status> {
        let svc = self.resolve(service)?;
        let slices = self
            .backend
            .endpoint_slices(&self.cx.namespace, &svc)
            .await
            .map_err(Status::from)?;
        Ok((svc, crate::kube_ops::wait::ready_endpoints(&slices)))
    }

    /// When the kubelet of each node in `nodes` last renewed its Lease.
    async fn leases(
        &self,
        nodes: impl Iterator<Item = &str>,
    ) -> Result<BTreeMap<String, Option<SystemTime>>, Status> {
        let mut out = BTreeMap::new();
        for n in nodes {
            if out.contains_key(n) {
                continue;
            }
            let lease = self.backend.node_lease(n).await.map_err(Status::from)?;
            out.insert(n.to_string(), lease.as_ref().and_then(fresh::lease_renewed));
        }
        Ok(out)
    }

    /// One look for [`Self::wait`].
    async fn wait_once(&mut self, w: &WaitFor) -> Result<Look, Status> {
        let ns = self.cx.namespace.clone();
        Ok(match w {
            WaitFor::Pods {
                selector,
                ready,
                phase,
                count,
            } => {
                let sel = self.resolve(selector)?;
                let pods = self.backend.pods(&ns, &sel).await.map_err(Status::from)?;
                let disruptions = self.state.disruptions.clone();
                // Leases matter only after a pause (see `fresh::pod_evidence`).
                let paused = disruptions
                    .iter()
                    .filter(|d| d.what == fresh::DisruptionKind::Pause)
                    .map(|d| d.node.as_str());
                let leases = self.leases(paused).await?;
                let mut evidence = Vec::new();
                let mut stale = Vec::new();
                let mut ok = |p: &Value| {
                    let holds = ready.is_none_or(|r| cond::ready(p) == r)
                        && phase.as_deref().is_none_or(|ph| cond::phase(p) == Some(ph));
                    if !holds {
                        return false;
                    }
                    let Some(d) = fresh::of_pod(p, &disruptions) else {
                        return true;
                    };
                    let lease = leases.get(&d.node).copied().flatten();
                    match fresh::pod_evidence(p, d, lease) {
                        Some(e) => {
                            evidence.push(e);
                            true
                        }
                        None => {
                            stale.push(stale_pod(p, d));
                            false
                        }
                    }
                };
                let good = pods.iter().filter(|p| ok(p)).count();
                let enough = match count {
                    Some(c) => good >= *c as usize,
                    None => !pods.is_empty() && good == pods.len(),
                };
                let mut seen = if pods.is_empty() {
                    format!("no pods match {sel}")
                } else {
                    pods.iter()
                        .map(cond::pod_summary)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                if !stale.is_empty() {
                    seen.push_str(&format!(" (not counted: {})", stale.join("; ")));
                }
                Look {
                    holds: enough,
                    seen,
                    evidence,
                }
            }
            WaitFor::Deployment(name) => {
                // `name`, or `namespace/name` for one outside the variant's namespace.
                let full = self.resolve(name)?;
                let (in_ns, name) = match full.split_once('/') {
                    Some((n, d)) => (n.to_string(), d.to_string()),
                    None => (ns.clone(), full.clone()),
                };
                let obj = object_ref("apps/v1", "Deployment", &name, Some(in_ns.clone()));
                let (holds, seen) =
                    match self.backend.get(&obj, &in_ns).await.map_err(Status::from)? {
                        Some(d) => (
                            cond::deployment_available(&d),
                            format!("deployment {name} status {}", d["status"]),
                        ),
                        None => (false, format!("deployment {name} does not exist")),
                    };
                Look {
                    holds,
                    seen,
                    evidence: Vec::new(),
                }
            }
            WaitFor::Endpoints { service, ready } => {
                let (svc, eps) = self.ready_endpoints(service).await?;
                Look {
                    holds: eps.len() >= *ready as usize,
                    seen: format!("{} ready endpoints of {svc}: {eps:?}", eps.len()),
                    evidence: Vec::new(),
                }
            }
            WaitFor::NodesReady => {
                let not_ready = self.backend.nodes_not_ready().await.map_err(Status::from)?;
                let disruptions = self.state.disruptions.clone();
                let leases = self
                    .leases(disruptions.iter().map(|d| d.node.as_str()))
                    .await?;
                let mut evidence = Vec::new();
                let mut stale = Vec::new();
                for d in last_per_node(&disruptions) {
                    let lease = leases.get(&d.node).copied().flatten();
                    match fresh::node_evidence(d, lease) {
                        Some(e) => evidence.push(e),
                        None => stale.push(format!(
                            "{}: its kubelet has not renewed its lease since the node came back",
                            d.node
                        )),
                    }
                }
                let mut seen = format!("not ready: {}", not_ready.join(", "));
                if !stale.is_empty() {
                    seen.push_str(&format!("; not yet counted: {}", stale.join("; ")));
                }
                Look {
                    holds: not_ready.is_empty() && stale.is_empty(),
                    seen,
                    evidence,
                }
            }
        })
    }
}

fn stale_pod(p: &Value, d: &Disruption) -> String {
    format!(
        "{}'s status predates the end of the {} of {}",
        p["metadata"]["name"].as_str().unwrap_or("?"),
        d.what.word(),
        d.node
    )
}

/// The newest disruption of each node.
fn last_per_node(all: &[Disruption]) -> Vec<&Disruption> {
    let mut by: BTreeMap<&str, &Disruption> = BTreeMap::new();
    for d in all {
        by.insert(d.node.as_str(), d);
    }
    by.into_values().collect()
}
