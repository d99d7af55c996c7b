//! The probes and assertions of a scenario as written (serde types, as strict as the rest of
//! `raw`), and the object references steps and assertions share.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::kind_config::model::S;

/// What a connect probe speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// A TCP connection answered with an identity line.
    Tcp,
    /// An HTTP GET answered with an identity body.
    Http,
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
pub struct Probe {
    /// Names the probe (the same as the step's `id`; give one or the other).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<S<String>>,
    /// Keep probing across the steps that follow, until `stop: {probe: <id>}` or the
    /// variant's end, recording every attempt (connect or dns, with `interval`).
    #[serde(default)]
    pub background: bool,
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
    /// `tcp` (default): an identity line; `http`: an HTTP GET.
    #[serde(default)]
    pub proto: Option<Proto>,
    /// For a background probe: one attempt per target this often, e.g. `50ms` (at least
    /// 1ms); `count` and `concurrency` do not apply.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interval: Option<S<String>>,
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
    pub during: Option<super::raw_faults::DuringAssert>,
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
