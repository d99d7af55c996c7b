//! Background probes' steps, "during" assertions and faults as written (serde types, as strict
//! as the rest of `raw`): `stop`, `assert.during`, `disconnect-node`/`reconnect-node`, `netem`/
//! `netem-clear`, `stop-kubelet`/`start-kubelet` and `kill-pods`.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::kind_config::model::S;

/// Stop a background probe: its timeline ends here.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StopProbe {
    /// The `id` of a background probe step.
    #[schemars(with = "String")]
    pub probe: S<String>,
}

/// Judge a window of a background probe's timeline, once every attempt that started in it has
/// reported. Failures are attempts not answered (refused, timed out, closed without an
/// answer, a bad answer, another error).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DuringAssert {
    /// The `id` of a background probe step.
    #[schemars(with = "String")]
    pub probe: S<String>,
    /// The window starts when this step started (default: when the probe started).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<S<String>>,
    /// The window ends when this step ended, or `end`: when the probe was stopped (default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub until: Option<S<String>>,
    /// Only this one of the probe's targets (default: all).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target: Option<S<String>>,
    pub max_failures: Option<u64>,
    /// At least this many attempts failed (a reproduction of a bug that loses requests).
    pub min_failures: Option<u64>,
    /// At most this fraction (0..1) of the attempts failed.
    pub max_failure_ratio: Option<f64>,
    /// The longest stretch without an answered attempt, e.g. `2s`.
    #[schemars(with = "Option<String>")]
    pub max_gap: Option<S<String>>,
    /// Every answer came from these backends.
    #[schemars(with = "Option<Vec<String>>")]
    pub only: Option<Vec<S<String>>>,
    /// No answer came from these backends.
    #[schemars(with = "Option<Vec<String>>")]
    pub never: Option<Vec<S<String>>>,
    /// After a time (`${steps.<id>.end}`), answers came only from these backends.
    pub after: Option<AfterTime>,
    /// The first answer came within this long of the window's start.
    #[schemars(with = "Option<String>")]
    pub first_success_within: Option<S<String>>,
    /// The 99th percentile latency of answered attempts is below this, e.g. `50ms`.
    #[schemars(with = "Option<String>")]
    pub p99_below: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AfterTime {
    /// An RFC 3339 time, usually a step's `${steps.<id>.time}` or `${steps.<id>.end}`.
    #[schemars(with = "String")]
    pub time: S<String>,
    #[schemars(with = "Vec<String>")]
    pub only: Vec<S<String>>,
}

/// Delay, jitter and loss on a node's interface (tc netem, from the node image), undone by
/// `netem-clear` or at the variant's end.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Netem {
    #[schemars(with = "String")]
    pub node: S<String>,
    /// Added to every packet leaving the interface, e.g. `200ms`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub delay: Option<S<String>>,
    /// Variation of the delay, e.g. `20ms` (needs `delay`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub jitter: Option<S<String>>,
    /// Packets dropped, e.g. `5%`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub loss: Option<S<String>>,
    /// The interface (default: the one holding the node's address on the kind network).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interface: Option<S<String>>,
}

/// Delete pods by label selector at once (grace period 0), as a crash would.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KillPods {
    #[schemars(with = "String")]
    pub selector: S<String>,
    /// Default: the variant's namespace.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub namespace: Option<S<String>>,
}
