//! The scenario file as it is written: serde types that mirror the YAML field for field
//! (unknown fields are rejected), with source spans where conversion reports errors. The runner
//! never sees these; `convert` turns them into the validated model.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::kind_config::model::S;

pub use super::raw_checks::*;
pub use super::raw_faults::*;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    #[schemars(with = "String")]
    pub api_version: S<String>,
    #[schemars(with = "String")]
    pub kind: S<String>,
    #[schemars(with = "String")]
    pub name: S<String>,
    pub summary: String,
    /// The upstream threads this reproduces (URLs).
    #[serde(default)]
    pub upstream: Vec<String>,
    pub cluster: Cluster,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Defaults of the user variables; variants override them.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub variables: BTreeMap<String, S<String>>,
    #[schemars(with = "Vec<Variant>")]
    pub variants: Vec<S<Variant>>,
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<S<Step>>,
    /// Runs last, in reverse order, whatever happened.
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub cleanup: Vec<S<Step>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    /// A file in `kind-configs/`.
    #[schemars(with = "String")]
    pub config: S<String>,
    /// A pinned node image (must be present locally).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub image: Option<S<String>>,
    /// May this scenario share its cluster with others of the same shape (isolated by
    /// namespace)? A scenario that changes the cluster itself must not.
    #[serde(default = "yes")]
    pub shared: bool,
}

fn yes() -> bool {
    true
}

/// Timeouts by action type; every field is a duration such as `90s`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Timeouts {
    #[schemars(with = "Option<String>")]
    pub apply: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub wait: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub assert: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub exec: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub probe: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub delete: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub node: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub cleanup: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Variant {
    #[schemars(with = "String")]
    pub name: S<String>,
    /// What a user sees when this variant holds (shown in reports).
    pub expect: String,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub variables: BTreeMap<String, S<String>>,
    /// Version gates, e.g. `{kind: ">=0.22", kubernetes: ">=1.24"}`.
    #[serde(default)]
    pub when: Option<When>,
    /// Steps of this variant only, replacing the scenario's.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Step>>")]
    pub steps: Option<Vec<S<Step>>>,
    /// A cluster of this variant only (another kind config), replacing the scenario's.
    #[serde(default)]
    pub cluster: Option<Cluster>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct When {
    #[schemars(with = "Option<String>")]
    pub kind: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub kubernetes: Option<S<String>>,
}

/// One step: exactly one action, plus options every step has.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    /// Names the step's outputs: `${steps.<id>.<output>}`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<S<String>>,
    /// Steps that run after this one whatever happened.
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub finally: Vec<S<Step>>,

    pub apply: Option<Apply>,
    pub patch: Option<Patch>,
    pub delete: Option<Delete>,
    pub wait: Option<Wait>,
    #[schemars(with = "Option<String>")]
    pub sleep: Option<S<String>>,
    pub exec: Option<Exec>,
    #[serde(rename = "restart-node")]
    #[schemars(with = "Option<String>")]
    pub restart_node: Option<S<String>>,
    #[serde(rename = "pause-node")]
    pub pause_node: Option<PauseNode>,
    pub probe: Option<Probe>,
    pub assert: Option<Assert>,
    #[serde(rename = "kind-create")]
    pub kind_create: Option<KindCreate>,
    /// Stop a background probe.
    pub stop: Option<StopProbe>,
    /// Cut a node off kind's Docker network (undone by `reconnect-node` or at the end).
    #[serde(rename = "disconnect-node")]
    #[schemars(with = "Option<String>")]
    pub disconnect_node: Option<S<String>>,
    /// Put a node back on kind's Docker network, with its address.
    #[serde(rename = "reconnect-node")]
    #[schemars(with = "Option<String>")]
    pub reconnect_node: Option<S<String>>,
    pub netem: Option<Netem>,
    /// Remove a node's netem (delay, loss).
    #[serde(rename = "netem-clear")]
    #[schemars(with = "Option<String>")]
    pub netem_clear: Option<S<String>>,
    /// `systemctl stop kubelet` in a node (undone by `start-kubelet` or at the end).
    #[serde(rename = "stop-kubelet")]
    #[schemars(with = "Option<String>")]
    pub stop_kubelet: Option<S<String>>,
    #[serde(rename = "start-kubelet")]
    #[schemars(with = "Option<String>")]
    pub start_kubelet: Option<S<String>>,
    #[serde(rename = "kill-pods")]
    pub kill_pods: Option<KillPods>,
}

/// Ask kind to create a cluster from a config as written (no port resolution), judged by the
/// rules of kind version `rules`: the real kind when it is such a version and will refuse,
/// else kindproof's port of those rules. Nothing is left running.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KindCreate {
    #[schemars(with = "String")]
    pub config: S<String>,
    #[schemars(with = "String")]
    pub rules: S<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Apply {
    /// A manifest file beside the scenario (may use variables).
    #[schemars(with = "Option<String>")]
    pub file: Option<S<String>>,
    /// An inline manifest.
    #[schemars(with = "Option<String>")]
    pub manifest: Option<S<String>>,
    /// How it is written (default `client-side`).
    #[serde(default)]
    pub mode: Option<ApplyModeName>,
    /// With `server-side`: take the fields other managers own.
    #[serde(default)]
    pub force: bool,
    /// The apply is expected to be refused (kubectl non-zero, or an API error): the step
    /// passes and the refusal is kept for `assert.result`.
    #[serde(default)]
    pub expect_error: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Patch {
    pub target: ObjectRef,
    #[serde(rename = "type")]
    pub patch_type: PatchTypeName,
    pub patch: Value,
    #[serde(default)]
    pub expect_error: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Delete {
    #[schemars(with = "Option<String>")]
    pub file: Option<S<String>>,
    pub target: Option<ObjectRef>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Wait {
    pub pods: Option<PodWait>,
    /// A Deployment that has rolled out: its name, or `namespace/name` for one outside the
    /// variant's namespace (`kube-system/coredns`).
    #[schemars(with = "Option<String>")]
    pub deployment: Option<S<String>>,
    pub endpoints: Option<EndpointsWait>,
    pub nodes: Option<NodesWait>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodWait {
    #[schemars(with = "String")]
    pub selector: S<String>,
    #[serde(default)]
    pub ready: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub phase: Option<S<String>>,
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointsWait {
    #[schemars(with = "String")]
    pub service: S<String>,
    pub ready: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodesWait {
    pub ready: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exec {
    #[schemars(with = "Option<String>")]
    pub node: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub pod: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub container: Option<S<String>>,
    #[schemars(with = "Vec<String>")]
    pub command: Vec<S<String>>,
    /// Expected exit code (default 0); anything else fails the step.
    #[serde(default)]
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PauseNode {
    #[schemars(with = "String")]
    pub node: S<String>,
    /// How long the node stays paused.
    #[serde(rename = "for")]
    #[schemars(with = "String")]
    pub duration: S<String>,
}

/// How an apply step writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyModeName {
    /// `kubectl apply`: the last-applied annotation and a three-way merge.
    ClientSide,
    /// Server-side apply, fields owned by the manager `kindproof`.
    ServerSide,
    /// `kubectl replace`: the whole object, as written.
    Replace,
    /// Create only: an object that exists is refused.
    Create,
}

/// The type of a patch step's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchTypeName {
    Json,
    Merge,
    Strategic,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn an_unknown_action_is_rejected_with_its_place() {
        let e = crate::yaml::from_str::<Step>(Path::new("s.yaml"), "explode: now\n").unwrap_err();
        assert_eq!(e.field, "explode");
        assert!(
            e.message.contains("unknown field `explode`"),
            "{}",
            e.message
        );
    }
}
