//! The probe's `dns` mode: the name, the interval, and how long it samples (once, until it
//! resolves within the step's deadline, or for a while); its last `dns-summary` line decoded.

use std::time::Duration;

use super::{DnsSummary, events, ms, tail};
use crate::scenario::model::DnsUntil;
use kindproof_probe::protocol::DNS_SUMMARY;

/// The command line of a dns probe of `name` (resolved) in a step of `timeout`.
pub fn args(name: &str, interval: Duration, until: &DnsUntil, timeout: Duration) -> Vec<String> {
    let mut args = vec![
        "dns".to_string(),
        "--name".into(),
        name.to_string(),
        "--interval".into(),
        ms(interval),
    ];
    match until {
        DnsUntil::Once => args.push("--once".into()),
        // It stops sampling before the step's deadline, so that its summary is printed.
        DnsUntil::Resolved => args.extend([
            "--until-resolved".into(),
            "--deadline".into(),
            ms(timeout.saturating_sub(Duration::from_secs(2))),
        ]),
        DnsUntil::For(d) => args.extend(["--for".into(), ms(*d)]),
    }
    args
}

/// The last `dns-summary` line.
pub fn decode(stdout: &str) -> Result<DnsSummary, String> {
    let last = events(stdout, DNS_SUMMARY).last().ok_or_else(|| {
        format!(
            "the probe printed no dns summary; its output was: {}",
            tail(stdout)
        )
    })?;
    serde_json::from_value(last).map_err(|e| format!("failed to read the probe's dns summary: {e}"))
}
