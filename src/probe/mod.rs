//! The probe's modes as kindproof drives them, one module each: the command line built from a
//! step (templates resolved), and the JSON lines it prints decoded into the protocol's types
//! (`kindproof_probe::protocol`, the same types the probe emits). Where it runs and when it runs
//! again is the engine's (`runner/engine_probe.rs`).

pub mod bind;
pub mod connect;
pub mod dns;
pub mod timeline;

use std::time::Duration;

use serde_json::Value;

pub use kindproof_probe::protocol::{BindRecord, ConnectSummary, DnsSummary};

use crate::runner::outcome::Status;
use crate::scenario::model::{DnsUntil, ProbeSpec, Template};

/// Which mode a probe step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Connect,
    Dns,
    Bind,
    /// A background connect probe.
    Stream,
}

impl Mode {
    pub fn of(p: &ProbeSpec) -> Self {
        match p {
            ProbeSpec::Connect { .. } => Mode::Connect,
            ProbeSpec::Dns { .. } => Mode::Dns,
            ProbeSpec::Bind { .. } => Mode::Bind,
            ProbeSpec::Stream { .. } | ProbeSpec::DnsStream { .. } => Mode::Stream,
        }
    }
}

/// The probe's command line for `p` (a step of `timeout`; for a background probe, the longest
/// it may run), templates resolved with `resolve`.
pub fn args(
    p: &ProbeSpec,
    timeout: Duration,
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Vec<String>, Status> {
    Ok(match p {
        ProbeSpec::Connect {
            targets,
            count,
            concurrency,
            per_connection,
            http,
            ..
        } => connect::args(
            &targets
                .iter()
                .map(&resolve)
                .collect::<Result<Vec<_>, _>>()?,
            *count,
            *concurrency,
            *per_connection,
            *http,
        ),
        ProbeSpec::Dns {
            name,
            interval,
            until,
            ..
        } => dns::args(&resolve(name)?, *interval, until, timeout),
        ProbeSpec::Bind { address, .. } => bind::args(&resolve(address)?),
        ProbeSpec::Stream {
            targets,
            interval,
            per_connection,
            http,
            ..
        } => connect::stream_args(
            &targets
                .iter()
                .map(&resolve)
                .collect::<Result<Vec<_>, _>>()?,
            *interval,
            *per_connection,
            *http,
            timeout,
        ),
        ProbeSpec::DnsStream { name, interval, .. } => {
            dns::args(&resolve(name)?, *interval, &DnsUntil::For(timeout), timeout)
        }
    })
}

/// Whether running `p` again makes sense for an assertion: a dns probe that samples until it
/// resolves, or for a while, is one long observation, judged as it is.
pub fn repeatable(p: &ProbeSpec) -> bool {
    !matches!(
        p,
        ProbeSpec::Dns {
            until: DnsUntil::Resolved | DnsUntil::For(_),
            ..
        } | ProbeSpec::Stream { .. }
            | ProbeSpec::DnsStream { .. }
    )
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

pub(crate) fn events<'a>(stdout: &'a str, event: &'a str) -> impl Iterator<Item = Value> + 'a {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(move |v| v["event"] == event)
}

/// The end of a probe's output, for an error that quotes it.
pub(crate) fn tail(text: &str) -> String {
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
    use super::bind::decode as bind_record;
    use super::connect::decode as connect_summaries;
    use super::dns::decode as dns_summary;

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
