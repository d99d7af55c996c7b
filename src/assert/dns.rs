//! DNS assertions: whether and when a name resolved in a dns probe's timeline. The observation
//! is the probe's summary; `evaluate` is pure; checks on the timeline itself (when it first
//! resolved) are judged once, the others re-observed until they settle.

use std::time::SystemTime;

use super::Verdict;
use crate::probe::DnsSummary;
use crate::runner::outcome::Status;
use crate::scenario::model::{DnsCheck, Template};

/// A dns summary in words.
pub fn dns_observed(s: &DnsSummary) -> String {
    format!(
        "{}: resolved {}, first success {}, codes before success {:?}, {} attempts",
        s.name,
        s.resolved,
        s.first_success.as_deref().unwrap_or("never"),
        s.codes_before_success,
        s.attempts
    )
}

fn parse_time(t: &str) -> Result<SystemTime, Status> {
    crate::runner::fresh::parse_time(t)
        .map_err(|e| Status::broken(format!("not a timestamp: {t:?}: {e}")))
}

/// DNS checks on a dns probe's summary.
pub fn evaluate(
    s: &DnsSummary,
    checks: &[DnsCheck],
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Verdict, Status> {
    let observed = dns_observed(s);
    let since = |t: &Option<Template>| -> Result<SystemTime, Status> {
        match t {
            Some(t) => parse_time(&resolve(t)?),
            None => parse_time(&s.started),
        }
    };
    let first = s.first_success.as_deref().map(parse_time).transpose()?;
    let mut failures = Vec::new();
    for c in checks {
        match c {
            DnsCheck::Resolved(r) => {
                if s.resolved != *r {
                    failures.push(if *r {
                        "resolves".to_string()
                    } else {
                        "never resolves".to_string()
                    });
                }
            }
            DnsCheck::Within { bound, since: t } => {
                let from = since(t)?;
                match first {
                    Some(f) if f.duration_since(from).unwrap_or_default() <= *bound => {}
                    _ => failures.push(format!("resolves within {bound:?}")),
                }
            }
            DnsCheck::NotBefore { bound, since: t } => {
                let from = since(t)?;
                if let Some(f) = first
                    && f.duration_since(from).unwrap_or_default() < *bound
                {
                    failures.push(format!("does not resolve before {bound:?}"));
                }
            }
            DnsCheck::SeenBeforeSuccess(code) => {
                if !s.codes_before_success.contains_key(code) {
                    failures.push(format!("{code} before the first success"));
                }
            }
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((format!("{}: {}", s.name, failures.join("; ")), observed))
    })
}
