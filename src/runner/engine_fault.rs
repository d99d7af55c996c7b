//! Fault steps in a variant: each applied through the backend, remembered with its undo, and
//! undone by its paired step (`reconnect-node`, `netem-clear`, `start-kubelet`) or, for what
//! is left, at the variant's end before the cleanup steps (reported among them). After a node
//! comes back, waits believe only status written since (a disruption, see `fresh`).

use std::time::{Duration, SystemTime};

use super::backend::{Backend, NodeFault};
use super::engine::Run;
use super::engine_state::{Applied, Undo};
use super::fresh::DisruptionKind;
use super::outcome::{Status, StepReport};
use crate::cluster::provider::{Node, short_name};
use crate::scenario::model::*;

fn show(ip: Option<std::net::IpAddr>) -> String {
    ip.map_or_else(|| "no IPv4 address".into(), |i| i.to_string())
}

impl<B: Backend> Run<'_, B> {
    fn applied(&mut self, key: &str) -> Option<Applied> {
        let i = self.state.faults.iter().position(|a| a.key == key)?;
        Some(self.state.faults.remove(i))
    }

    fn remember(&mut self, key: String, node: Node, undo: Undo) {
        // A fault applied twice is undone once.
        if !self.state.faults.iter().any(|a| a.key == key) {
            self.state.faults.push(Applied {
                key,
                node,
                undo,
                began: SystemTime::now(),
            });
        }
    }

    /// A node that came back: its new state, and waits believe only what is newer.
    fn back(&mut self, was: &Node, now: Option<Node>, what: DisruptionKind, began: SystemTime) {
        self.state.disruptions.push(super::fresh::Disruption {
            node: was.name.clone(),
            what,
            began,
            ended: SystemTime::now(),
        });
        if let Some(now) = now {
            let short = short_name(&self.cx.cluster, &now.name).to_string();
            self.state.nodes.insert(short, now);
        }
    }

    pub(super) async fn fault(&mut self, f: &Fault) -> Result<Status, Status> {
        let b = self.backend;
        if let Fault::KillPods {
            selector,
            namespace,
        } = f
        {
            let sel = self.resolve(selector)?;
            let ns = match namespace {
                Some(n) => self.resolve(n)?,
                None => self.cx.namespace.clone(),
            };
            let killed = b.kill_pods(&ns, &sel).await.map_err(Status::from)?;
            if killed.is_empty() {
                return Ok(Status::failed(
                    format!("pods matching {sel} in {ns} to kill"),
                    "no pod matched",
                ));
            }
            self.extra.evidence = Some(format!("killed {}", killed.join(", ")));
            return Ok(Status::Passed);
        }
        let node = self.node(f.node().expect("every other fault names a node"))?;
        let short = short_name(&self.cx.cluster, &node.name).to_string();
        match f {
            Fault::Disconnect(_) => {
                b.disconnect_node(&node).await.map_err(Status::from)?;
                self.remember(format!("network {short}"), node, Undo::Reconnect);
            }
            Fault::Reconnect(_) => {
                let began = self
                    .applied(&format!("network {short}"))
                    .map_or_else(SystemTime::now, |a| a.began);
                let now = b.reconnect_node(&node).await.map_err(Status::from)?;
                self.extra.evidence = Some(if now.ipv4 == node.ipv4 {
                    format!("{short} is back at {}", show(now.ipv4))
                } else {
                    format!(
                        "{short} came back at {} (it was {}): Docker gave it another address",
                        show(now.ipv4),
                        show(node.ipv4)
                    )
                });
                self.back(&node, Some(now), DisruptionKind::Disconnect, began);
            }
            Fault::Netem {
                delay,
                jitter,
                loss,
                interface,
                ..
            } => {
                let interface = interface.as_ref().map(|i| self.resolve(i)).transpose()?;
                let fault = NodeFault::Netem {
                    delay: *delay,
                    jitter: *jitter,
                    loss: *loss,
                    interface: interface.clone(),
                };
                let ran = b.node_fault(&node, &fault).await.map_err(Status::from)?;
                self.extra.evidence = Some(ran.stdout.trim().to_string());
                let undo = Undo::Fault(NodeFault::NetemClear { interface });
                self.remember(format!("netem {short}"), node, undo);
            }
            Fault::NetemClear(_) => {
                let interface = match self.applied(&format!("netem {short}")) {
                    Some(Applied {
                        undo: Undo::Fault(NodeFault::NetemClear { interface }),
                        ..
                    }) => interface,
                    _ => None,
                };
                b.node_fault(&node, &NodeFault::NetemClear { interface })
                    .await
                    .map_err(Status::from)?;
            }
            Fault::StopKubelet(_) => {
                b.node_fault(&node, &NodeFault::StopKubelet)
                    .await
                    .map_err(Status::from)?;
                let undo = Undo::Fault(NodeFault::StartKubelet);
                self.remember(format!("kubelet {short}"), node, undo);
            }
            Fault::StartKubelet(_) => {
                let began = self
                    .applied(&format!("kubelet {short}"))
                    .map_or_else(SystemTime::now, |a| a.began);
                b.node_fault(&node, &NodeFault::StartKubelet)
                    .await
                    .map_err(Status::from)?;
                self.back(&node, None, DisruptionKind::Kubelet, began);
            }
            Fault::KillPods { .. } => unreachable!("handled above"),
        }
        Ok(Status::Passed)
    }

    /// Undo every fault still in force, newest first: one report each.
    pub(super) async fn undo_faults(&mut self, bound: Duration) -> Vec<StepReport> {
        let mut out = Vec::new();
        while let Some(a) = self.state.faults.pop() {
            let started = tokio::time::Instant::now();
            let b = self.backend;
            let done = tokio::time::timeout(bound, async {
                match &a.undo {
                    Undo::Reconnect => b.reconnect_node(&a.node).await.map(Some),
                    Undo::Fault(f) => b.node_fault(&a.node, f).await.map(|_| None),
                }
            })
            .await;
            let status = match done {
                Ok(Ok(now)) => {
                    let what = match a.undo {
                        Undo::Reconnect => DisruptionKind::Disconnect,
                        _ => DisruptionKind::Kubelet,
                    };
                    self.back(&a.node, now, what, a.began);
                    Status::Passed
                }
                Ok(Err(e)) => Status::from(e),
                Err(_) => Status::broken(format!("not undone within {bound:?}")),
            };
            out.push(StepReport {
                name: format!("undo: {}", a.key),
                status,
                duration: started.elapsed(),
                finally: Vec::new(),
                rounds: Vec::new(),
                evidence: None,
            });
        }
        out
    }
}
