//! The probe's protocol as kindproof reads it: JSON lines on the probe's stdout (from a local
//! process, a container's log or a pod exec), turned into typed results the assertions check.

use serde_json::Value;

use kindproof_probe::protocol::{BIND, CONNECT_SUMMARY, DNS_SUMMARY};
pub use kindproof_probe::protocol::{BindRecord, ConnectSummary, DnsSummary};

fn events<'a>(stdout: &'a str, event: &'a str) -> impl Iterator<Item = Value> + 'a {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(move |v| v["event"] == event)
}

/// Every `connect-summary` line, in target order.
pub fn connect_summaries(stdout: &str) -> Result<Vec<ConnectSummary>, String> {
    let out: Vec<ConnectSummary> = events(stdout, CONNECT_SUMMARY)
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("failed to read the probe's connect summary: {e}"))?;
    if out.is_empty() {
        return Err(format!(
            "the probe printed no connect summary; its output was: {}",
            tail(stdout)
        ));
    }
    Ok(out)
}

/// The last `dns-summary` line.
pub fn dns_summary(stdout: &str) -> Result<DnsSummary, String> {
    let last = events(stdout, DNS_SUMMARY).last().ok_or_else(|| {
        format!(
            "the probe printed no dns summary; its output was: {}",
            tail(stdout)
        )
    })?;
    serde_json::from_value(last).map_err(|e| format!("failed to read the probe's dns summary: {e}"))
}

/// The `bind` line.
pub fn bind_record(stdout: &str) -> Result<BindRecord, String> {
    let first = events(stdout, BIND).next().ok_or_else(|| {
        format!(
            "the probe printed no bind record; its output was: {}",
            tail(stdout)
        )
    })?;
    serde_json::from_value(first)
        .map_err(|e| format!("failed to read the probe's bind record: {e}"))
}

fn tail(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        "(nothing)".into()
    } else {
        t.chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_probes_json_lines() {
        let out = r#"{"event":"connect-summary","target":"172.18.0.3:30001","attempts":40,"answered":40,"backends":{"pod-a":22,"pod-b":18},"refused":0,"timeout":0,"errors":0,"bad_answer":0,"latency_ms":{"p50":0.4},"time":"2026-11-22T15:00:00.000Z"}
not json
{"event":"connect-summary","target":"172.18.0.2:30001","attempts":40,"answered":0,"backends":{},"refused":0,"timeout":40,"errors":0,"bad_answer":0}"#;
        let s = connect_summaries(out).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].backends["pod-b"], 18);
        assert_eq!(s[1].timeout, 40);
        assert!(connect_summaries("boom").unwrap_err().contains("boom"));

        let d = dns_summary(r#"{"event":"dns","code":"NXDOMAIN"}
{"event":"dns-summary","name":"job-w-1.job","resolved":true,"attempts":12,"started":"2026-11-22T15:00:00.000Z","first_success":"2026-11-22T15:00:30.120Z","first_success_after_ms":30120.4,"codes_before_success":{"NXDOMAIN":11}}"#).unwrap();
        assert!(d.resolved);
        assert_eq!(d.codes_before_success["NXDOMAIN"], 11);

        let b = bind_record(r#"{"event":"bind","address":"172.18.0.3:30457","ok":false,"errno":99,"error":"EADDRNOTAVAIL","message":"Cannot assign requested address (os error 99)","flower_message":"Port in server address 172.18.0.3:30457 is already in use."}"#).unwrap();
        assert_eq!(b.error.as_deref(), Some("EADDRNOTAVAIL"));
    }
}
