//! `dns`: repeated lookups of one name with a resolver that reads the pod's /etc/resolv.conf
//! itself (no libc resolver: the image is `FROM scratch`) and has no cache of its own, so every
//! attempt reaches the cluster DNS. One JSON line per attempt with the answer code (NXDOMAIN,
//! SERVFAIL, timeout, success…), then a summary with the time of the first success.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use hickory_resolver::TokioResolver;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use serde_json::json;

use kindproof_probe::protocol::{DNS, DNS_SUMMARY, DnsSummary, STREAM, StreamStart};

use crate::out::{emit, emit_record, millis, rfc3339_millis};

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Until {
    Once,
    Resolved { deadline: Duration },
    For(Duration),
}

/// What one lookup said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Success(Vec<IpAddr>),
    /// The server answered with this code and no records (`NOERROR` = the name exists without
    /// records of this type).
    Code(String),
    Timeout,
    Error(String),
}

impl Answer {
    pub fn code(&self) -> String {
        match self {
            Self::Success(_) => "NOERROR".into(),
            Self::Code(c) => c.clone(),
            Self::Timeout => "TIMEOUT".into(),
            Self::Error(_) => "ERROR".into(),
        }
    }
}

pub fn resolver(timeout: Duration) -> Result<TokioResolver, String> {
    let mut b = TokioResolver::builder_tokio()
        .map_err(|e| format!("failed to read /etc/resolv.conf: {e}"))?;
    let o = b.options_mut();
    o.cache_size = 0;
    o.timeout = timeout;
    o.attempts = 1;
    b.build()
        .map_err(|e| format!("failed to build the resolver: {e}"))
}

fn classify(result: Result<Vec<IpAddr>, NetError>) -> Answer {
    match result {
        Ok(v) if !v.is_empty() => Answer::Success(v),
        Ok(_) => Answer::Code("NOERROR".into()),
        Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
            Answer::Code(code_name(nr.response_code))
        }
        Err(NetError::Dns(DnsError::ResponseCode(c))) => Answer::Code(code_name(c)),
        Err(NetError::Timeout) => Answer::Timeout,
        Err(e) => Answer::Error(e.to_string()),
    }
}

fn code_name(c: ResponseCode) -> String {
    match c {
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::NoError => "NOERROR".into(),
        other => other.to_string().to_uppercase(),
    }
}

pub async fn lookup(r: &TokioResolver, name: &str, rtype: RecordType) -> Answer {
    let result = r.lookup(name, rtype).await.map(|l| {
        l.answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                hickory_resolver::proto::rr::RData::A(a) => Some(IpAddr::V4(a.0)),
                hickory_resolver::proto::rr::RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    classify(result)
}

/// Run lookups until `until`; returns whether the name resolved.
pub async fn run(
    name: &str,
    rtype: RecordType,
    until: Until,
    interval: Duration,
    timeout: Duration,
) -> Result<bool, String> {
    let r = resolver(timeout)?;
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let mut codes_before: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_success: Option<(SystemTime, Duration)> = None;
    let mut attempts = 0u64;
    // As a stream (`--for`, a background probe's timeline): when it began, and each query's
    // start in ms since then.
    emit_record(
        STREAM,
        &StreamStart {
            epoch_ms: started_wall
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            interval_ms: millis(interval),
            targets: vec![name.to_string()],
        },
        json!({}),
    );
    loop {
        let t = Instant::now();
        let t_ms = millis(started.elapsed());
        let answer = lookup(&r, name, rtype).await;
        attempts += 1;
        let (addresses, detail) = match &answer {
            Answer::Success(a) => (a.iter().map(|i| i.to_string()).collect(), None),
            Answer::Error(e) => (vec![], Some(e.clone())),
            _ => (vec![], None),
        };
        emit(
            DNS,
            json!({"name": name, "type": rtype.to_string(), "code": answer.code(), "addresses": addresses, "t_ms": t_ms, "latency_ms": millis(t.elapsed()), "error": detail}),
        );
        if first_success.is_none() {
            match answer {
                Answer::Success(_) => first_success = Some((SystemTime::now(), started.elapsed())),
                other => *codes_before.entry(other.code()).or_default() += 1,
            }
        }
        let done = match until {
            Until::Once => true,
            Until::Resolved { deadline } => {
                first_success.is_some() || started.elapsed() >= deadline
            }
            Until::For(d) => started.elapsed() >= d,
        };
        if done {
            break;
        }
        tokio::time::sleep(interval.saturating_sub(t.elapsed())).await;
    }
    let record = DnsSummary {
        name: name.to_string(),
        resolved: first_success.is_some(),
        attempts,
        started: rfc3339_millis(started_wall),
        first_success: first_success.map(|(w, _)| rfc3339_millis(w)),
        first_success_after_ms: first_success.map(|(_, d)| millis(d)),
        codes_before_success: codes_before,
    };
    emit_record(DNS_SUMMARY, &record, json!({"type": rtype.to_string()}));
    Ok(first_success.is_some())
}
