//! The scenario file as it is written: serde types that mirror the YAML field for field
//! (unknown fields are rejected), with source spans where conversion reports errors. The runner
//! never sees these; `convert` turns them into the validated model.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::kind_config::model::S;

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
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub mode: Option<S<String>>,
    #[serde(default)]
    pub force: bool,
    /// The apply is expected to be refused (kubectl non-zero, or an API error): the step
    /// passes and the refusal is kept for `assert.result`.
    #[serde(default)]
    pub expect_error: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectRef {
    #[schemars(with = "String")]
    pub api_version: S<String>,
    #[schemars(with = "String")]
    pub kind: S<String>,
    #[schemars(with = "String")]
    pub name: S<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Patch {
    pub target: ObjectRef,
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub patch_type: S<String>,
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

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    pub connect: Option<ConnectProbe>,
    pub dns: Option<DnsProbe>,
    pub bind: Option<BindProbe>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectProbe {
    /// `host`, `node:<node>` (the node's network namespace), or `pod:<pod name>`.
    #[schemars(with = "String")]
    pub from: S<String>,
    #[schemars(with = "Vec<String>")]
    pub targets: Vec<S<String>>,
    /// Attempts per target (default 40, at most 10000).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub count: Option<S<u32>>,
    /// Attempts in flight at once (default 4, 1 to 256).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub concurrency: Option<S<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub per_connection_timeout: Option<S<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub proto: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsProbe {
    /// `pod:<pod name>` (a probe pod already running `dns`), `node:<node>` or `host`.
    #[schemars(with = "String")]
    pub from: S<String>,
    #[schemars(with = "String")]
    pub name: S<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interval: Option<S<String>>,
    /// `once`, `until-resolved` (default) or a duration to keep sampling.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub until: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BindProbe {
    #[schemars(with = "String")]
    pub from: S<String>,
    #[schemars(with = "String")]
    pub address: S<String>,
}

/// One assertion; it polls until its deadline and reports the last value it saw.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Assert {
    pub field: Option<FieldAssert>,
    pub pod: Option<PodAssert>,
    pub routing: Option<RoutingAssert>,
    pub dns: Option<DnsAssert>,
    pub result: Option<ResultAssert>,
    pub endpoints: Option<EndpointsAssert>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldAssert {
    pub target: ObjectRef,
    #[schemars(with = "String")]
    pub path: S<String>,
    pub equals: Option<Value>,
    #[schemars(with = "Option<String>")]
    pub contains: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub matches: Option<S<String>>,
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodAssert {
    #[schemars(with = "String")]
    pub selector: S<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub container: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub phase: Option<S<String>>,
    pub ready: Option<bool>,
    #[schemars(with = "Option<String>")]
    pub waiting_reason: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub terminated_reason: Option<S<String>>,
    pub min_restarts: Option<u64>,
    pub max_restarts: Option<u64>,
    pub last_exit_code: Option<i64>,
    #[schemars(with = "Option<String>")]
    pub logs_contain: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub previous_logs_contain: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub event_reason: Option<S<String>>,
}

/// Which backends answered a connect probe's target. The probe is run again, with the same
/// arguments, until this holds (over its settle window) or the step's timeout passes; every
/// round is reported.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoutingAssert {
    /// The `id` of a connect probe step.
    #[schemars(with = "String")]
    pub probe: S<String>,
    #[schemars(with = "String")]
    pub target: S<String>,
    #[schemars(with = "Option<Vec<String>>")]
    pub only: Option<Vec<S<String>>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub includes: Option<Vec<S<String>>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub excludes: Option<Vec<S<String>>>,
    pub min_distinct: Option<u32>,
    /// Every backend's share of answers is at least this fraction (0..1).
    pub min_share: Option<f64>,
    #[serde(default)]
    pub unreachable: Option<bool>,
    /// How long it must hold before it passes, e.g. `3s` (default for `only`, `excludes` and
    /// `unreachable: true`: 2 consecutive rounds at least 1s apart; else the first holding
    /// round).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub settle: Option<S<String>>,
    /// How many consecutive holding rounds (at least 1s apart) it needs before it passes.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub settle_rounds: Option<u32>,
}

/// What a dns probe saw. Timing checks (`within`, `notBefore`, `seenBeforeSuccess`) judge the
/// timeline of that one observation, once. Otherwise a probe with `until: once` is run again
/// until `resolved` holds (over its settle window) or the step's timeout passes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsAssert {
    /// The `id` of a dns probe step.
    #[schemars(with = "String")]
    pub probe: S<String>,
    pub resolved: Option<bool>,
    /// The first success came within this long of `since` (a step's `time` output).
    #[schemars(with = "Option<String>")]
    pub within: Option<S<String>>,
    /// … and not before this long after it.
    #[schemars(with = "Option<String>")]
    pub not_before: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub since: Option<S<String>>,
    /// An answer code seen before the first success (`NXDOMAIN`, `TIMEOUT`).
    #[schemars(with = "Option<String>")]
    pub seen_before_success: Option<S<String>>,
    /// How long `resolved` must hold before it passes, when the probe is re-run (`until:
    /// once`); default for `resolved: false`: 2 consecutive rounds at least 1s apart.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub settle: Option<S<String>>,
    /// How many consecutive holding rounds (at least 1s apart) it needs before it passes.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub settle_rounds: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResultAssert {
    /// The `id` of an apply, patch, exec or bind step.
    #[schemars(with = "String")]
    pub step: S<String>,
    pub exit_code: Option<i64>,
    #[schemars(with = "Option<String>")]
    pub stdout_contains: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub stderr_contains: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub reason: Option<S<String>>,
    #[schemars(with = "Option<String>")]
    pub message_contains: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointsAssert {
    #[schemars(with = "String")]
    pub service: S<String>,
    pub ready: Option<u32>,
    /// The nodes that have ready endpoints, by node short name (`worker`, `worker2`).
    #[schemars(with = "Option<Vec<String>>")]
    pub nodes: Option<Vec<S<String>>>,
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
