//! The validated scenario: what the runner executes. Every step holds exactly one action, every
//! duration is parsed and every timeout resolved (defaults, then scenario, then step), every
//! variable reference was checked against what the scenario can know.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::field_path::FieldPath;
use crate::kind_config::model::Cluster as KindCluster;
use crate::yaml::Position;

pub use super::model_faults::{During, DuringCheck, Fault};
pub use super::template::Template;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub summary: String,
    pub upstream: Vec<String>,
    /// The scenario's directory (manifests are relative to it).
    pub dir: PathBuf,
    pub file: PathBuf,
    pub cluster: ClusterSpec,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub config_file: PathBuf,
    pub config: KindCluster,
    pub image: Option<String>,
    pub shared: bool,
}

#[derive(Debug, Clone)]
pub struct Variant {
    /// This variant's own cluster, when it names one; else the scenario's.
    pub cluster: Option<ClusterSpec>,
    pub name: String,
    pub expect: String,
    /// The scenario's variables with this variant's on top.
    pub variables: BTreeMap<String, String>,
    pub when: Vec<Gate>,
    pub steps: Vec<Step>,
    /// The scenario's cleanup steps, run last in reverse order.
    pub cleanup: Vec<Step>,
}

/// A version gate of a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub what: GateOn,
    pub op: Cmp,
    pub version: crate::version::Version,
    /// As written, for the skip reason.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOn {
    Kind,
    Kubernetes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Scenario {
    /// The cluster variant `v` runs on.
    pub fn cluster_of<'a>(&'a self, v: &'a Variant) -> &'a ClusterSpec {
        v.cluster.as_ref().unwrap_or(&self.cluster)
    }
}

impl Variant {
    /// Every step it can run, `finally` and `cleanup:` steps included, in order.
    pub fn all_steps(&self) -> Vec<&Step> {
        fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a Step>) {
            for s in steps {
                out.push(s);
                walk(&s.finally, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        walk(&self.cleanup, &mut out);
        out
    }

    /// The first version gate that `kind` and `kubernetes` (as this run or host has them; `None`
    /// when unknown) do not meet, as a reason: `needs kind >=0.22; this run has 0.21.0`.
    pub fn unmet_gate(
        &self,
        kind: Option<&crate::version::Version>,
        kubernetes: Option<&crate::version::Version>,
        who: &str,
    ) -> Option<String> {
        self.when.iter().find_map(|gate| {
            let (have, what) = match gate.what {
                GateOn::Kind => (kind, "kind"),
                GateOn::Kubernetes => (kubernetes, "kubernetes"),
            };
            if have.is_some_and(|h| gate.holds(h)) {
                return None;
            }
            let have = have.map_or_else(|| "unknown".into(), |v| v.to_string());
            Some(format!("needs {what} {}; {who} has {have}", gate.text))
        })
    }
}

impl Gate {
    /// Whether version `v` (as the server or tool states it, pre-release included) meets
    /// the gate.
    pub fn holds(&self, v: &crate::version::Version) -> bool {
        let v = v.clone();
        match self.op {
            Cmp::Ge => v >= self.version,
            Cmp::Gt => v > self.version,
            Cmp::Le => v <= self.version,
            Cmp::Lt => v < self.version,
            Cmp::Eq => v == self.version,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Shown in reports: the `name`, else a description of the action.
    pub name: String,
    pub id: Option<String>,
    /// The resolved timeout of this step.
    pub timeout: Duration,
    pub action: Action,
    pub finally: Vec<Step>,
    pub position: Position,
}

#[derive(Debug, Clone)]
pub enum ManifestSource {
    File(Template),
    Inline(Template),
}

#[derive(Debug, Clone)]
pub struct ObjectRef {
    pub api_version: Template,
    pub kind: Template,
    pub name: Template,
    pub namespace: Option<Template>,
}

/// Where a probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// The machine kindproof runs on (outside every node).
    Host,
    /// A node's network namespace (like a hostNetwork pod on it).
    Node(Template),
    /// A pod (by name, in the scenario's namespace).
    Pod(Template),
}

/// How an apply step writes (the Kubernetes adapter has its own; the backend maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    ClientSide,
    ServerSide { force: bool },
    Replace,
    Create,
}

/// The type of a patch step's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

#[derive(Debug, Clone)]
pub enum Action {
    Apply {
        source: ManifestSource,
        mode: ApplyMode,
        expect_error: bool,
    },
    Patch {
        target: ObjectRef,
        patch_type: PatchType,
        patch: Value,
        expect_error: bool,
    },
    /// Delete what a manifest holds, or one object: exactly one, by construction.
    Delete(DeleteWhat),
    Wait(WaitFor),
    Sleep(Duration),
    Exec {
        target: ExecTarget,
        command: Vec<Template>,
        exit_code: i64,
    },
    RestartNode(Template),
    PauseNode {
        node: Template,
        duration: Duration,
    },
    Probe(ProbeSpec),
    Assert(Assertion),
    KindCreate {
        config_file: PathBuf,
        version: crate::kind_config::version::KindVersion,
    },
    /// Stop background probe step `.0`.
    Stop(String),
    Fault(Fault),
}

/// What a `delete` step deletes.
#[derive(Debug, Clone)]
pub enum DeleteWhat {
    /// The objects of a manifest (file or inline).
    Manifest(ManifestSource),
    /// One object by reference.
    Object(ObjectRef),
}

#[derive(Debug, Clone)]
pub enum WaitFor {
    Pods {
        selector: Template,
        ready: Option<bool>,
        phase: Option<String>,
        count: Option<u32>,
    },
    Deployment(Template),
    Endpoints {
        service: Template,
        ready: u32,
    },
    NodesReady,
}

#[derive(Debug, Clone)]
pub enum ExecTarget {
    Node(Template),
    Pod {
        pod: Template,
        container: Option<Template>,
    },
}

#[derive(Debug, Clone)]
pub enum ProbeSpec {
    Connect {
        from: From,
        targets: Vec<Template>,
        count: u32,
        concurrency: u32,
        per_connection: Duration,
        http: bool,
    },
    Dns {
        from: From,
        name: Template,
        interval: Duration,
        until: DnsUntil,
    },
    Bind {
        from: From,
        address: Template,
    },
    /// A background dns probe: one query every `interval` until stopped.
    DnsStream {
        from: From,
        name: Template,
        interval: Duration,
    },
    /// A background connect probe: one attempt per target every `interval` until stopped.
    Stream {
        from: From,
        targets: Vec<Template>,
        interval: Duration,
        per_connection: Duration,
        http: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsUntil {
    Once,
    Resolved,
    For(Duration),
}

#[derive(Debug, Clone)]
pub enum Assertion {
    Field {
        target: ObjectRef,
        path: FieldPath,
        check: FieldCheck,
    },
    Pod {
        selector: Template,
        container: Option<Template>,
        checks: Vec<PodCheck>,
    },
    Routing {
        probe: String,
        target: Template,
        checks: Vec<RoutingCheck>,
        settle: Settle,
    },
    Dns {
        probe: String,
        checks: Vec<DnsCheck>,
        settle: Settle,
    },
    Result {
        step: String,
        checks: Vec<ResultCheck>,
    },
    Endpoints {
        service: Template,
        ready: Option<u32>,
        nodes: Option<Vec<Template>>,
    },
    During(During),
}

/// How long an observed assertion must hold before it passes: `rounds` consecutive holding
/// rounds (at least a second apart) spanning at least `span`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    pub rounds: u32,
    pub span: Duration,
}

impl Settle {
    /// The least time between two rounds of an observed assertion.
    pub const GAP: Duration = Duration::from_secs(1);

    /// A check that something happens: one holding round is proof.
    pub const ONCE: Self = Self {
        rounds: 1,
        span: Duration::ZERO,
    };
    /// A check that something does not happen (or happens only): by default two rounds a
    /// second apart.
    pub const NEGATIVE: Self = Self {
        rounds: 2,
        span: Duration::from_secs(1),
    };
}

#[derive(Debug, Clone)]
pub enum FieldCheck {
    Equals(Value),
    Contains(Template),
    Matches(regex_lite::Regex),
    Count(u32),
}

#[derive(Debug, Clone)]
pub enum PodCheck {
    Phase(String),
    Ready(bool),
    WaitingReason(String),
    TerminatedReason(String),
    MinRestarts(u64),
    MaxRestarts(u64),
    LastExitCode(i64),
    LogsContain(Template),
    PreviousLogsContain(Template),
    EventReason(String),
}

#[derive(Debug, Clone)]
pub enum RoutingCheck {
    Only(Vec<Template>),
    Includes(Vec<Template>),
    Excludes(Vec<Template>),
    MinDistinct(u32),
    MinShare(f64),
    Unreachable(bool),
}

#[derive(Debug, Clone)]
pub enum DnsCheck {
    Resolved(bool),
    Within {
        bound: Duration,
        since: Option<Template>,
    },
    NotBefore {
        bound: Duration,
        since: Option<Template>,
    },
    SeenBeforeSuccess(String),
}

impl RoutingCheck {
    /// Whether the check says something must not happen (or happen only): such a check
    /// passes only once it has held over a settle window.
    pub fn forbids(&self) -> bool {
        match self {
            Self::Only(_) | Self::Excludes(_) | Self::Unreachable(true) => true,
            Self::Includes(_)
            | Self::MinDistinct(_)
            | Self::MinShare(_)
            | Self::Unreachable(false) => false,
        }
    }
}

impl DnsCheck {
    /// Whether the check says something must not happen.
    pub fn forbids(&self) -> bool {
        match self {
            Self::Resolved(r) => !r,
            Self::Within { .. } | Self::NotBefore { .. } | Self::SeenBeforeSuccess(_) => false,
        }
    }

    /// Whether the check judges the timeline of one observation (when the first success
    /// came, what came before it): a re-run would judge another timeline, so such an
    /// assertion is judged once.
    pub fn judges_timeline(&self) -> bool {
        match self {
            Self::Within { .. } | Self::NotBefore { .. } | Self::SeenBeforeSuccess(_) => true,
            Self::Resolved(_) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ResultCheck {
    ExitCode(i64),
    StdoutContains(Template),
    StderrContains(Template),
    Reason(String),
    MessageContains(Template),
}

/// Outputs each kind of step has (`${steps.<id>.<output>}`).
pub fn outputs(action: &Action) -> &'static [&'static str] {
    match action {
        Action::Apply { .. } | Action::Patch { .. } | Action::Delete(_) => &[
            "time", "end", "exitCode", "stdout", "stderr", "reason", "message",
        ],
        Action::Exec { .. } | Action::KindCreate { .. } => {
            &["time", "end", "exitCode", "stdout", "stderr"]
        }
        Action::Probe(_) => &["time", "end", "started"],
        _ => &["time", "end"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_that_forbid_and_the_ones_that_judge_a_timeline() {
        assert!(RoutingCheck::Only(vec![]).forbids());
        assert!(RoutingCheck::Excludes(vec![]).forbids());
        assert!(RoutingCheck::Unreachable(true).forbids());
        assert!(!RoutingCheck::Unreachable(false).forbids());
        assert!(!RoutingCheck::Includes(vec![]).forbids());
        assert!(!RoutingCheck::MinShare(0.2).forbids());
        assert!(DnsCheck::Resolved(false).forbids());
        assert!(!DnsCheck::Resolved(true).forbids());
        assert!(DnsCheck::SeenBeforeSuccess("NXDOMAIN".into()).judges_timeline());
        assert!(!DnsCheck::Resolved(true).judges_timeline());
    }
}
