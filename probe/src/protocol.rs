//! The probe's protocol: the JSON lines `kindproof-probe` prints and kindproof reads, defined
//! once. The probe emits these types (adding fields of its own, which readers ignore) and
//! kindproof decodes them, so the two cannot drift apart silently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The event of one target's tally (`connect`).
pub const CONNECT_SUMMARY: &str = "connect-summary";
/// The event of one DNS query (`dns`).
pub const DNS: &str = "dns";
/// The event of a DNS sampling's summary (`dns`).
pub const DNS_SUMMARY: &str = "dns-summary";
/// The event of a bind's outcome (`bind`).
pub const BIND: &str = "bind";

/// The first line of a streaming `connect` (`--for`, `--until-signal`): when it began.
pub const STREAM: &str = "stream";
/// The event of one attempt of a streaming `connect`, printed as it ends.
pub const ATTEMPT: &str = "attempt";

/// The first line of a streaming `connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStart {
    /// Wall-clock milliseconds since the Unix epoch when the stream began: every attempt's
    /// `t_ms` counts from here.
    pub epoch_ms: u64,
    pub interval_ms: f64,
    pub targets: Vec<String>,
}

/// One attempt of a streaming `connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The target as given.
    pub target: String,
    /// When the attempt started, in ms since the stream began.
    pub t_ms: f64,
    /// `answered`, `refused`, `timeout`, `closed`, `bad-answer` or `error`.
    pub outcome: String,
    /// Who answered (for `answered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// How long the attempt took, in ms.
    pub latency_ms: f64,
}

/// One target's tally from `kindproof-probe connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectSummary {
    pub target: String,
    #[serde(default)]
    pub attempts: u64,
    #[serde(default)]
    pub answered: u64,
    #[serde(default)]
    pub backends: BTreeMap<String, u64>,
    #[serde(default)]
    pub refused: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub errors: u64,
    /// Connected, then closed (or reset) before a byte came back.
    #[serde(default)]
    pub closed: u64,
    #[serde(default)]
    pub bad_answer: u64,
    /// Why no attempt could be made (a name that did not resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The summary of `kindproof-probe dns`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsSummary {
    pub name: String,
    pub resolved: bool,
    #[serde(default)]
    pub attempts: u64,
    /// RFC 3339, when the sampling started.
    pub started: String,
    pub first_success: Option<String>,
    pub first_success_after_ms: Option<f64>,
    #[serde(default)]
    pub codes_before_success: BTreeMap<String, u64>,
}

/// The record of `kindproof-probe bind`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BindRecord {
    pub address: String,
    pub ok: bool,
    pub errno: Option<i64>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub flower_message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of an older or newer probe: unknown fields are ignored, missing counts are 0.
    #[test]
    fn summaries_read_with_extra_and_missing_fields() {
        let line = r#"{"time":"2026-12-01T00:00:00.000Z","event":"connect-summary","target":"a:1","attempts":3,"answered":1,"refused":2,"backends":{"pod-a":1},"latency_ms":{"p50":1.0}}"#;
        let s: ConnectSummary = serde_json::from_str(line).unwrap();
        assert_eq!((s.attempts, s.answered, s.refused, s.timeout), (3, 1, 2, 0));
        assert_eq!(s.backends["pod-a"], 1);
        let b: BindRecord = serde_json::from_str(r#"{"address":"1.2.3.4:5","ok":true}"#).unwrap();
        assert!(b.ok && b.errno.is_none());
        let a: AttemptRecord = serde_json::from_str(
            r#"{"time":"x","event":"attempt","target":"a:1","t_ms":20.5,"outcome":"answered","backend":"pod-a","latency_ms":0.4}"#,
        )
        .unwrap();
        assert_eq!((a.t_ms, a.backend.as_deref()), (20.5, Some("pod-a")));
    }
}
