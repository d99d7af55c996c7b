//! Routing assertions: which backends answered a connect probe's target. The observation is
//! the probe's tally for that target; `evaluate` is pure; a routing assertion on a probe that
//! can run again is re-observed round by round until it settles (see `runner::eventually`).

use super::Verdict;
use crate::probe::ConnectSummary;
use crate::runner::outcome::Status;
use crate::scenario::model::{RoutingCheck, Template};

/// A connect tally in words, every attempt accounted for: `28 of 30 answered: pod-a 28; 2
/// refused`, `0 of 10 answered: 10 closed without an answer`.
pub fn connect_observed(s: &ConnectSummary) -> String {
    let mut out = format!("{} of {} answered", s.answered, s.attempts);
    let backends = s
        .backends
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut others: Vec<String> = [
        (s.refused, "refused"),
        (s.timeout, "timed out"),
        (s.closed, "closed without an answer"),
        (
            s.bad_answer,
            "answered with something else than an identity",
        ),
        (s.errors, "failed otherwise"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let counted = s.answered + s.refused + s.timeout + s.closed + s.bad_answer + s.errors;
    if counted < s.attempts {
        others.push(format!("{} unaccounted for", s.attempts - counted));
    }
    match (backends.is_empty(), others.is_empty()) {
        (false, true) => out.push_str(&format!(": {backends}")),
        (false, false) => out.push_str(&format!(": {backends}; {}", others.join(", "))),
        (true, false) => out.push_str(&format!(": {}", others.join(", "))),
        (true, true) => out.push_str(": nothing was attempted"),
    }
    if let Some(e) = &s.error {
        out.push_str(&format!(" ({e})"));
    }
    out
}

/// Routing checks on one target's tally.
pub fn evaluate(
    s: &ConnectSummary,
    checks: &[RoutingCheck],
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Verdict, Status> {
    let seen: Vec<&str> = s.backends.keys().map(String::as_str).collect();
    let observed = connect_observed(s);
    let names =
        |list: &[Template]| -> Result<Vec<String>, Status> { list.iter().map(&resolve).collect() };
    let mut failures = Vec::new();
    for c in checks {
        match c {
            RoutingCheck::Only(list) => {
                let want = names(list)?;
                if seen.is_empty() || seen.iter().any(|b| !want.iter().any(|w| w == b)) {
                    failures.push(format!("only {} answer", want.join(", ")));
                }
            }
            RoutingCheck::Includes(list) => {
                for w in names(list)? {
                    if !seen.contains(&w.as_str()) {
                        failures.push(format!("{w} answers"));
                    }
                }
            }
            RoutingCheck::Excludes(list) => {
                for w in names(list)? {
                    if seen.contains(&w.as_str()) {
                        failures.push(format!("{w} never answers"));
                    }
                }
            }
            RoutingCheck::MinDistinct(n) => {
                if seen.len() < *n as usize {
                    failures.push(format!("at least {n} distinct backends answer"));
                }
            }
            RoutingCheck::MinShare(f) => {
                let total = s.answered.max(1) as f64;
                if s.backends.values().any(|v| (*v as f64) / total < *f) || s.backends.is_empty() {
                    failures.push(format!("every backend gets at least {:.0}%", f * 100.0));
                }
            }
            RoutingCheck::Unreachable(u) => {
                if *u && s.answered > 0 {
                    failures.push("nothing answers".into());
                }
                if !*u && s.answered == 0 {
                    failures.push("something answers".into());
                }
            }
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((format!("{}: {}", s.target, failures.join("; ")), observed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(backends: &[(&str, u64)], refused: u64, closed: u64, attempts: u64) -> ConnectSummary {
        ConnectSummary {
            target: "t:1".into(),
            attempts,
            answered: backends.iter().map(|(_, n)| n).sum(),
            backends: backends.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            refused,
            closed,
            ..Default::default()
        }
    }

    #[test]
    fn every_attempt_is_accounted_for_in_words() {
        assert_eq!(
            connect_observed(&tally(&[("pod-a", 30)], 0, 0, 30)),
            "30 of 30 answered: pod-a 30"
        );
        assert_eq!(
            connect_observed(&tally(&[], 0, 10, 10)),
            "0 of 10 answered: 10 closed without an answer"
        );
        assert_eq!(
            connect_observed(&tally(&[("pod-a", 20), ("pod-b", 18)], 2, 0, 40)),
            "38 of 40 answered: pod-a 20, pod-b 18; 2 refused"
        );
        // A probe that lost attempts says so rather than adding up wrong.
        assert_eq!(
            connect_observed(&tally(&[], 3, 0, 10)),
            "0 of 10 answered: 3 refused, 7 unaccounted for"
        );
    }
}
