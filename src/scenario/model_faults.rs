//! The validated model's faults (actions that break a node or the pods on purpose, each with
//! its undo) and "during" assertions over a background probe's timeline.

use std::time::Duration;

use super::template::Template;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Cut the node off kind's Docker network.
    Disconnect(Template),
    /// Put it back, with the address it had.
    Reconnect(Template),
    Netem {
        node: Template,
        delay: Duration,
        jitter: Duration,
        /// Percent of packets dropped (0..=100).
        loss: f64,
        interface: Option<Template>,
    },
    NetemClear(Template),
    StopKubelet(Template),
    StartKubelet(Template),
    /// Delete the pods a selector matches, grace period 0.
    KillPods {
        selector: Template,
        namespace: Option<Template>,
    },
}

impl Fault {
    /// The node the fault acts on (none for `kill-pods`).
    pub fn node(&self) -> Option<&Template> {
        match self {
            Fault::Disconnect(n)
            | Fault::Reconnect(n)
            | Fault::Netem { node: n, .. }
            | Fault::NetemClear(n)
            | Fault::StopKubelet(n)
            | Fault::StartKubelet(n) => Some(n),
            Fault::KillPods { .. } => None,
        }
    }

    /// What the fault does, for a claim or a label.
    pub fn describe(&self) -> String {
        match self {
            Fault::Disconnect(n) => format!("disconnect node {}", n.0),
            Fault::Reconnect(n) => format!("reconnect node {}", n.0),
            Fault::Netem {
                node,
                delay,
                jitter,
                loss,
                ..
            } => {
                let mut parts = Vec::new();
                if !delay.is_zero() {
                    let mut d = format!("delay {}ms", delay.as_millis());
                    if !jitter.is_zero() {
                        d.push_str(&format!(" ± {}ms", jitter.as_millis()));
                    }
                    parts.push(d);
                }
                if *loss > 0.0 {
                    parts.push(format!("loss {loss}%"));
                }
                format!("netem on node {}: {}", node.0, parts.join(", "))
            }
            Fault::NetemClear(n) => format!("netem-clear on node {}", n.0),
            Fault::StopKubelet(n) => format!("stop kubelet on node {}", n.0),
            Fault::StartKubelet(n) => format!("start kubelet on node {}", n.0),
            Fault::KillPods { selector, .. } => format!("kill pods {}", selector.0),
        }
    }
}

/// A "during" assertion: checks over the window of background probe `probe` from step
/// `from`'s start (`None`: the probe's start) to step `until`'s end (`None`: the probe's end).
#[derive(Debug, Clone, PartialEq)]
pub struct During {
    pub probe: String,
    pub from: Option<String>,
    pub until: Option<String>,
    pub target: Option<Template>,
    pub checks: Vec<DuringCheck>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DuringCheck {
    MaxFailures(u64),
    MinFailures(u64),
    MaxFailureRatio(f64),
    MaxGap(Duration),
    Only(Vec<Template>),
    Never(Vec<Template>),
    After { time: Template, only: Vec<Template> },
    FirstSuccessWithin(Duration),
    P99Below(Duration),
}
