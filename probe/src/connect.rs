//! `connect`: N fresh connections per target (a new connection each time, since conntrack pins
//! a connection to one backend), classifying every attempt — answered (by which identity),
//! refused, timed out, closed without an answer, bad answer, other error — so the classes always
//! sum to the attempts, plus latency percentiles. A target is `IP:PORT` or `NAME:PORT`; names
//! are resolved once per target where the probe runs (its own /etc/hosts and /etc/resolv.conf,
//! so a pod's search domains apply). One JSON summary per target.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use kindproof_probe::protocol::{CONNECT_SUMMARY, ConnectSummary};

use crate::out::{emit_record, millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The identity key (pod name, else hostname) that answered.
    Answered(String),
    Refused,
    Timeout,
    /// Connected, then the peer closed (or reset) before sending a byte: Docker's port proxy
    /// does this while nothing listens behind it.
    Closed,
    /// Connected, but the answer was not an identity.
    BadAnswer(String),
    Error(String),
}

/// Tally of one target.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub backends: BTreeMap<String, u64>,
    pub refused: u64,
    pub timeout: u64,
    pub closed: u64,
    pub bad_answer: u64,
    pub errors: u64,
    pub latencies_ms: Vec<f64>,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Answered(who) => {
                *self.backends.entry(who).or_default() += 1;
                self.latencies_ms.push(millis(latency));
            }
            Outcome::Refused => self.refused += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Closed => self.closed += 1,
            Outcome::BadAnswer(_) => self.bad_answer += 1,
            Outcome::Error(_) => self.errors += 1,
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (who, n) in other.backends {
            *self.backends.entry(who).or_default() += n;
        }
        self.refused += other.refused;
        self.timeout += other.timeout;
        self.closed += other.closed;
        self.bad_answer += other.bad_answer;
        self.errors += other.errors;
        self.latencies_ms.extend(other.latencies_ms);
    }

    pub fn answered(&self) -> u64 {
        self.backends.values().sum()
    }

    /// Every attempt lands in exactly one class: this is the number of attempts.
    pub fn attempts(&self) -> u64 {
        self.answered() + self.refused + self.timeout + self.closed + self.bad_answer + self.errors
    }

    /// The `q`-quantile (0..=1) of answered latencies, nearest rank.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        if self.latencies_ms.is_empty() {
            return None;
        }
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}

/// Answers already read, so a backend answering the same bytes again is not parsed again (a
/// backend's answer is the same every time; parsing was most of the client's work per
/// connection).
#[derive(Debug, Default)]
pub struct AnswerCache {
    seen: Vec<(Vec<u8>, Outcome)>,
}

impl AnswerCache {
    const MAX: usize = 64;

    fn identity(&mut self, answer: &[u8]) -> Outcome {
        if let Some((_, o)) = self.seen.iter().find(|(a, _)| a == answer) {
            return o.clone();
        }
        let o = identity_of(answer);
        if self.seen.len() < Self::MAX {
            self.seen.push((answer.to_vec(), o.clone()));
        }
        o
    }
}

/// One fresh connection to `target`.
pub async fn attempt(
    target: SocketAddr,
    proto: Proto,
    timeout: Duration,
    known: &mut AnswerCache,
) -> Outcome {
    let work = async {
        let mut stream = match TcpStream::connect(target).await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
            Err(e) => return Outcome::Error(e.to_string()),
        };
        let _ = stream.set_nodelay(true);
        if proto == Proto::Http {
            let req =
                format!("GET /identity HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
            if let Err(e) = stream.write_all(req.as_bytes()).await {
                return Outcome::Error(e.to_string());
            }
        }
        let mut buf = Vec::with_capacity(512);
        if let Err(e) = stream.read_to_end(&mut buf).await {
            return match e.kind() {
                // Accepted, then reset before a byte: nobody answered behind the acceptor.
                std::io::ErrorKind::ConnectionReset if buf.is_empty() => Outcome::Closed,
                _ => Outcome::Error(e.to_string()),
            };
        }
        if buf.is_empty() {
            return Outcome::Closed;
        }
        known.identity(&buf)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(o) => o,
        Err(_) => Outcome::Timeout,
    }
}

/// The identity key in a raw JSON line or an HTTP response whose body is one.
pub fn identity_of(answer: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(answer);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/") => body,
        _ => &text,
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body.trim()) else {
        return Outcome::BadAnswer(text.chars().take(80).collect());
    };
    match v["pod"].as_str().or(v["hostname"].as_str()) {
        Some(who) => Outcome::Answered(who.to_string()),
        None => Outcome::BadAnswer(text.chars().take(80).collect()),
    }
}

/// A target as given (`IP:PORT` or `NAME:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub text: String,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("--target must be HOST:PORT, got {text:?}");
        if let Ok(a) = text.parse::<SocketAddr>() {
            return Ok(Self {
                text: text.into(),
                host: a.ip().to_string(),
                port: a.port(),
            });
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(':') && host.parse::<std::net::IpAddr>().is_err() {
            return Err(bad());
        }
        Ok(Self {
            text: text.into(),
            host: host.into(),
            port,
        })
    }

    /// The address to connect to: the literal IP, else the name looked up where the probe
    /// runs (the first address the resolver gives).
    pub async fn resolve(&self, timeout: Duration) -> Result<SocketAddr, String> {
        if let Ok(ip) = self.host.parse::<std::net::IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let mut b = hickory_resolver::TokioResolver::builder_tokio()
            .map_err(|e| format!("failed to read /etc/resolv.conf: {e}"))?;
        b.options_mut().timeout = timeout;
        b.options_mut().use_hosts_file = hickory_resolver::config::ResolveHosts::Always;
        let r = b
            .build()
            .map_err(|e| format!("failed to build the resolver: {e}"))?;
        let found = r
            .lookup_ip(self.host.as_str())
            .await
            .map_err(|e| format!("failed to resolve {}: {e}", self.host))?;
        found
            .iter()
            .next()
            .map(|ip| SocketAddr::new(ip, self.port))
            .ok_or_else(|| format!("{} has no address", self.host))
    }
}

/// Run `count` connections per target with at most `concurrency` in flight; print a summary
/// per target. Returns the tallies in target order. A target whose name does not resolve
/// counts every attempt as an error, with the reason in its summary.
pub async fn run(
    targets: &[Target],
    count: u64,
    concurrency: usize,
    timeout: Duration,
    proto: Proto,
) -> Vec<Tally> {
    let mut out = Vec::new();
    for t in targets {
        let started = Instant::now();
        let target = match t.resolve(timeout).await {
            Ok(a) => a,
            Err(e) => {
                let tally = Tally {
                    errors: count,
                    ..Tally::default()
                };
                summary(t, None, proto, count, &tally, started.elapsed(), Some(&e));
                out.push(tally);
                continue;
            }
        };
        // `concurrency` workers share a counter of attempts left; each keeps its own tally
        // (no task per connection, no lock per result), merged at the end.
        let left = Arc::new(AtomicU64::new(count));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1).min(count.max(1) as usize) {
            let left = left.clone();
            workers.spawn(async move {
                let mut tally = Tally::default();
                let mut known = AnswerCache::default();
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let t = Instant::now();
                    let o = attempt(target, proto, timeout, &mut known).await;
                    tally.add(o, t.elapsed());
                }
                tally
            });
        }
        let mut tally = Tally::default();
        while let Some(r) = workers.join_next().await {
            tally.merge(r.expect("connection worker"));
        }
        summary(
            t,
            Some(target),
            proto,
            count,
            &tally,
            started.elapsed(),
            None,
        );
        out.push(tally);
    }
    out
}

pub(crate) fn summary(
    t: &Target,
    address: Option<SocketAddr>,
    proto: Proto,
    count: u64,
    tally: &Tally,
    elapsed: Duration,
    error: Option<&str>,
) {
    debug_assert_eq!(tally.attempts(), count, "every attempt lands in one class");
    let record = ConnectSummary {
        target: t.text.clone(),
        attempts: count,
        answered: tally.answered(),
        backends: tally.backends.clone(),
        refused: tally.refused,
        timeout: tally.timeout,
        errors: tally.errors,
        closed: tally.closed,
        bad_answer: tally.bad_answer,
        error: error.map(str::to_string),
    };
    emit_record(
        CONNECT_SUMMARY,
        &record,
        json!({
            "address": address.map(|a| a.to_string()),
            "proto": if proto == Proto::Http {"http"} else {"tcp"},
            "latency_ms": {
                "p50": tally.percentile(0.5),
                "p90": tally.percentile(0.9),
                "p99": tally.percentile(0.99),
            },
            "elapsed_ms": millis(elapsed),
            "per_second": count as f64 / elapsed.as_secs_f64().max(1e-9),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_identity_from_raw_and_http_answers() {
        assert_eq!(
            identity_of(b"{\"pod\":\"a\",\"hostname\":\"h\"}\n"),
            Outcome::Answered("a".into())
        );
        assert_eq!(
            identity_of(b"{\"pod\":null,\"hostname\":\"h\"}\n"),
            Outcome::Answered("h".into())
        );
        assert_eq!(
            identity_of(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"hostname\":\"x\"}\n"),
            Outcome::Answered("x".into())
        );
        assert!(matches!(identity_of(b"hello"), Outcome::BadAnswer(_)));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut t = Tally::default();
        for ms in 1..=100 {
            t.add(Outcome::Answered("a".into()), Duration::from_millis(ms));
        }
        assert_eq!(t.percentile(0.5), Some(50.0));
        assert_eq!(t.percentile(0.99), Some(99.0));
        assert_eq!(t.backends["a"], 100);
    }

    #[test]
    fn every_class_counts_once_and_the_classes_sum_to_the_attempts() {
        let every = [
            Outcome::Answered("a".into()),
            Outcome::Answered("b".into()),
            Outcome::Refused,
            Outcome::Timeout,
            Outcome::Closed,
            Outcome::BadAnswer("x".into()),
            Outcome::Error("e".into()),
        ];
        let mut one = Tally::default();
        let mut merged = Tally::default();
        for (i, o) in every.iter().enumerate() {
            one.add(o.clone(), Duration::from_millis(1));
            let mut part = Tally::default();
            part.add(o.clone(), Duration::from_millis(1));
            assert_eq!(part.attempts(), 1, "{o:?} is counted exactly once");
            merged.merge(part);
            assert_eq!(one.attempts(), i as u64 + 1);
        }
        assert_eq!(one, merged);
        assert_eq!(
            (
                one.answered(),
                one.refused,
                one.timeout,
                one.closed,
                one.bad_answer,
                one.errors
            ),
            (2, 1, 1, 1, 1, 1)
        );
    }

    #[test]
    fn targets_are_ip_or_name_with_a_port() {
        let t = Target::parse("10.96.0.10:53").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("10.96.0.10", 53));
        let t = Target::parse("web.ns.svc.cluster.local:80").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("web.ns.svc.cluster.local", 80));
        let t = Target::parse("[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        for bad in ["web", "web:", "web:http", ":80", "a:b:c:80", "web:70000"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_peer_that_closes_without_a_byte_is_closed_not_refused() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            drop(s);
        });
        let o = attempt(
            addr,
            Proto::Tcp,
            Duration::from_secs(2),
            &mut AnswerCache::default(),
        )
        .await;
        server.await.unwrap();
        assert_eq!(o, Outcome::Closed);
    }

    #[tokio::test]
    async fn a_name_from_the_hosts_file_resolves() {
        let t = Target::parse("localhost:9").unwrap();
        let a = t.resolve(Duration::from_secs(2)).await.unwrap();
        assert!(a.ip().is_loopback(), "{a}");
        assert_eq!(a.port(), 9);
    }

    #[tokio::test]
    async fn a_closed_port_counts_as_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let o = attempt(
            addr,
            Proto::Tcp,
            Duration::from_secs(1),
            &mut AnswerCache::default(),
        )
        .await;
        assert_eq!(o, Outcome::Refused);
    }
}
