//! "during" assertions: judgements over a window of a background probe's timeline — how many
//! attempts failed, the longest stretch without an answer, who answered (at all, or after a
//! time), how soon the first answer came, latency. A window is judged once, when every attempt
//! that started in it has reported. The observation in words accounts for every attempt and
//! says when each kind of failure happened, relative to the window's start.

use std::collections::BTreeMap;

use super::Verdict;
use crate::probe::timeline::{Attempt, Class, Timeline};

/// A "during" check with its names resolved and its times in ms since the stream began.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    MaxFailures(u64),
    MinFailures(u64),
    MaxFailureRatio(f64),
    /// The longest stretch without an answered attempt, in ms.
    MaxGap(f64),
    Only(Vec<String>),
    Never(Vec<String>),
    /// After `at_ms`, only these answer.
    OnlyAfter {
        at_ms: f64,
        only: Vec<String>,
    },
    /// The first answer at most this many ms after the window began.
    FirstSuccessWithin(f64),
    /// The 99th percentile latency of answered attempts below this many ms.
    P99Below(f64),
}

/// The window judged: `[from, to]` in ms since the stream began, and the targets counted
/// (`None`: all).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub target: Option<String>,
}

/// The attempts of `w`, in start order.
pub fn attempts<'t>(t: &'t Timeline, w: &Window) -> Vec<&'t Attempt> {
    let target = w
        .target
        .as_ref()
        .map(|name| t.targets.iter().position(|n| n == name));
    let mut v: Vec<&Attempt> = t
        .attempts
        .iter()
        .filter(|a| {
            let at = f64::from(a.t_ms);
            at >= w.from
                && at <= w.to
                && match target {
                    None => true,
                    Some(Some(i)) => a.target as usize == i,
                    Some(None) => false,
                }
        })
        .collect();
    v.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    v
}

/// The latencies of the answered attempts among `all`, sorted (for [`quantile`]).
pub fn answered_latencies(all: &[&Attempt]) -> Vec<f32> {
    let mut lat: Vec<f32> = all
        .iter()
        .filter(|a| a.class == Class::Answered)
        .map(|a| a.latency_ms)
        .collect();
    lat.sort_by(f32::total_cmp);
    lat
}

/// The `q` quantile (0..1, nearest rank) of `sorted`; `None` when it is empty.
pub fn quantile(sorted: &[f32], q: f64) -> Option<f32> {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// `1,912`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rel(w: &Window, t: f32) -> String {
    format!("+{:.1} s", (f64::from(t) - w.from).max(0.0) / 1000.0)
}

/// The window in one line: `1,912 attempts over 38.2 s: 1,897 answered (pod-a 950, pod-b
/// 947), 15 refused between +3.2 s and +4.0 s`.
pub fn summary(t: &Timeline, w: &Window) -> String {
    let all = attempts(t, w);
    let mut backends: BTreeMap<&str, u64> = BTreeMap::new();
    let mut classes: BTreeMap<Class, (u64, f32, f32)> = BTreeMap::new();
    for a in &all {
        if let Some(b) = t.backend_of(a) {
            *backends.entry(b).or_default() += 1;
        }
        let e = classes.entry(a.class).or_insert((0, a.t_ms, a.t_ms));
        e.0 += 1;
        e.2 = a.t_ms;
    }
    let mut out = format!(
        "{} attempts over {:.1} s",
        grouped(all.len() as u64),
        (w.to - w.from).max(0.0) / 1000.0
    );
    if all.is_empty() {
        return out;
    }
    let mut parts = Vec::new();
    for (class, (n, first, last)) in &classes {
        let mut part = format!("{} {}", grouped(*n), class.words());
        if *class == Class::Answered {
            let who: Vec<String> = backends
                .iter()
                .map(|(b, n)| format!("{b} {}", grouped(*n)))
                .collect();
            part.push_str(&format!(" ({})", who.join(", ")));
        } else if first == last {
            part.push_str(&format!(" at {}", rel(w, *first)));
        } else {
            part.push_str(&format!(
                " between {} and {}",
                rel(w, *first),
                rel(w, *last)
            ));
        }
        parts.push(part);
    }
    out.push_str(": ");
    out.push_str(&parts.join(", "));
    out
}

/// The first few of `offending`, with times relative to the window.
fn first_few(t: &Timeline, w: &Window, offending: &[&Attempt]) -> String {
    const SHOWN: usize = 5;
    let mut shown: Vec<String> = offending
        .iter()
        .take(SHOWN)
        .map(|a| {
            let what = t.backend_of(a).map_or_else(
                || a.class.words().to_string(),
                |b| format!("answered by {b}"),
            );
            format!("{} {what} ({:.1} ms)", rel(w, a.t_ms), a.latency_ms)
        })
        .collect();
    if offending.len() > SHOWN {
        shown.push(format!(
            "and {} more",
            grouped((offending.len() - SHOWN) as u64)
        ));
    }
    shown.join("; ")
}

/// The longest stretch of `w` without an answered attempt: (length, start, end) in ms.
pub fn longest_gap(w: &Window, all: &[&Attempt]) -> (f64, f64, f64) {
    let mut last = w.from;
    let mut best = (0.0, w.from, w.from);
    let answered = all
        .iter()
        .filter(|a| a.class == Class::Answered)
        .map(|a| f64::from(a.t_ms));
    for at in answered.chain(std::iter::once(w.to)) {
        if at - last > best.0 {
            best = (at - last, last, at);
        }
        last = at;
    }
    best
}

/// Judge every check over window `w` of `t`. A window without attempts proves nothing: it
/// fails.
pub fn evaluate(t: &Timeline, w: &Window, checks: &[Check]) -> Verdict {
    let all = attempts(t, w);
    let observed = summary(t, w);
    if all.is_empty() {
        return Err(("attempts in the window".into(), observed));
    }
    let failed: Vec<&Attempt> = all
        .iter()
        .copied()
        .filter(|a| a.class != Class::Answered)
        .collect();
    let answered_by = |names: &[String], inside: bool, from: f64| -> Vec<&Attempt> {
        all.iter()
            .copied()
            .filter(|a| f64::from(a.t_ms) >= from)
            .filter(|a| {
                t.backend_of(a)
                    .is_some_and(|b| names.iter().any(|n| n == b) == inside)
            })
            .collect()
    };
    let mut wrong = Vec::new();
    for c in checks {
        let (expected, offending): (String, Vec<&Attempt>) = match c {
            Check::MaxFailures(n) if failed.len() as u64 > *n => {
                (format!("at most {n} failed attempts"), failed.clone())
            }
            Check::MinFailures(n) if (failed.len() as u64) < *n => {
                (format!("at least {n} failed attempts"), vec![])
            }
            Check::MaxFailureRatio(r) if failed.len() as f64 / all.len() as f64 > *r => (
                format!(
                    "at most {:.2}% failed ({:.2}% did)",
                    r * 100.0,
                    failed.len() as f64 * 100.0 / all.len() as f64
                ),
                failed.clone(),
            ),
            Check::MaxGap(ms) => {
                let (gap, from, to) = longest_gap(w, &all);
                if gap <= *ms {
                    continue;
                }
                (
                    format!(
                        "no stretch over {ms:.0} ms without an answer (the longest: {:.0} ms, from +{:.1} s to +{:.1} s)",
                        gap,
                        (from - w.from) / 1000.0,
                        (to - w.from) / 1000.0
                    ),
                    failed.clone(),
                )
            }
            Check::Only(names) => {
                let off = answered_by(names, false, w.from);
                if off.is_empty() {
                    continue;
                }
                (format!("answers only from {}", names.join(", ")), off)
            }
            Check::Never(names) => {
                let off = answered_by(names, true, w.from);
                if off.is_empty() {
                    continue;
                }
                (format!("no answer from {}", names.join(", ")), off)
            }
            Check::OnlyAfter { at_ms, only } => {
                let off = answered_by(only, false, *at_ms);
                if off.is_empty() {
                    continue;
                }
                (
                    format!(
                        "after +{:.1} s answers only from {}",
                        (at_ms - w.from) / 1000.0,
                        only.join(", ")
                    ),
                    off,
                )
            }
            Check::FirstSuccessWithin(ms) => {
                let first = all.iter().find(|a| a.class == Class::Answered);
                match first {
                    Some(a) if f64::from(a.t_ms) - w.from <= *ms => continue,
                    Some(a) => (
                        format!(
                            "a first answer within {:.1} s (it came at {})",
                            ms / 1000.0,
                            rel(w, a.t_ms)
                        ),
                        vec![],
                    ),
                    None => (
                        format!("a first answer within {:.1} s (none came)", ms / 1000.0),
                        vec![],
                    ),
                }
            }
            Check::P99Below(ms) => match quantile(&answered_latencies(&all), 0.99) {
                Some(p) if f64::from(p) < *ms => continue,
                Some(p) => (
                    format!("p99 latency below {ms:.1} ms (it was {p:.1} ms)"),
                    vec![],
                ),
                None => (
                    format!("p99 latency below {ms:.1} ms (nothing answered)"),
                    vec![],
                ),
            },
            _ => continue,
        };
        let mut line = expected;
        if !offending.is_empty() {
            line.push_str(&format!(": {}", first_few(t, w, &offending)));
        }
        wrong.push(line);
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err((wrong.join("; "), observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt every 20 ms for 10 s from pod-a and pod-b by turns; refused from 3.2 s to
    /// 4.0 s.
    fn outage() -> Timeline {
        let mut t = Timeline {
            epoch_ms: Some(0),
            targets: vec!["n:1".into()],
            backends: vec!["pod-a".into(), "pod-b".into()],
            ..Default::default()
        };
        for i in 0..500u16 {
            let at = f32::from(i) * 20.0;
            let down = (3200.0..4000.0).contains(&at);
            t.attempts.push(Attempt {
                t_ms: at,
                latency_ms: if down { 0.1 } else { 1.0 + f32::from(i % 2) },
                class: if down {
                    Class::Refused
                } else {
                    Class::Answered
                },
                target: 0,
                backend: i % 2,
            });
        }
        t
    }

    fn window(from: f64, to: f64) -> Window {
        Window {
            from,
            to,
            target: None,
        }
    }

    #[test]
    fn counts_failures_and_says_when_they_happened() {
        let t = outage();
        let w = window(0.0, 9999.0);
        assert_eq!(
            summary(&t, &w),
            "500 attempts over 10.0 s: 460 answered (pod-a 230, pod-b 230), 40 refused between +3.2 s and +4.0 s"
        );
        assert!(evaluate(&t, &w, &[Check::MaxFailures(40), Check::MinFailures(1)]).is_ok());
        let (expected, observed) = evaluate(&t, &w, &[Check::MaxFailures(0)]).unwrap_err();
        assert!(
            expected.starts_with("at most 0 failed attempts: +3.2 s refused"),
            "{expected}"
        );
        assert!(expected.ends_with("and 35 more"), "{expected}");
        assert!(observed.contains("40 refused"));
        assert!(evaluate(&t, &w, &[Check::MaxFailureRatio(0.05)]).is_err());
        assert!(evaluate(&t, &w, &[Check::MaxFailureRatio(0.1)]).is_ok());
        // Outside the outage nothing failed.
        assert!(evaluate(&t, &window(5000.0, 9000.0), &[Check::MaxFailures(0)]).is_ok());
        assert!(evaluate(&t, &window(5000.0, 9000.0), &[Check::MinFailures(1)]).is_err());
    }

    #[test]
    fn the_longest_gap_spans_the_outage() {
        let t = outage();
        let w = window(0.0, 9999.0);
        let all = attempts(&t, &w);
        let (gap, from, to) = longest_gap(&w, &all);
        assert_eq!((gap, from, to), (820.0, 3180.0, 4000.0));
        assert!(evaluate(&t, &w, &[Check::MaxGap(1000.0)]).is_ok());
        let (e, _) = evaluate(&t, &w, &[Check::MaxGap(500.0)]).unwrap_err();
        assert!(
            e.contains("the longest: 820 ms, from +3.2 s to +4.0 s"),
            "{e}"
        );
        // A window with no answer at all is one gap.
        assert!(evaluate(&t, &window(3300.0, 3900.0), &[Check::MaxGap(500.0)]).is_err());
    }

    #[test]
    fn who_answered_and_when() {
        let t = outage();
        let w = window(0.0, 9999.0);
        let a = || vec!["pod-a".to_string()];
        assert!(evaluate(&t, &w, &[Check::Only(vec!["pod-a".into(), "pod-b".into()])]).is_ok());
        let (e, _) = evaluate(&t, &w, &[Check::Only(a())]).unwrap_err();
        assert!(e.contains("+0.0 s answered by pod-b"), "{e}");
        assert!(evaluate(&t, &w, &[Check::Never(vec!["pod-c".into()])]).is_ok());
        assert!(evaluate(&t, &w, &[Check::Never(a())]).is_err());
        let after = |at_ms| Check::OnlyAfter { at_ms, only: a() };
        assert!(evaluate(&t, &w, &[after(9990.0)]).is_ok(), "nothing after");
        assert!(evaluate(&t, &w, &[after(5000.0)]).is_err());
        assert!(
            evaluate(
                &t,
                &window(3300.0, 9999.0),
                &[Check::FirstSuccessWithin(800.0)]
            )
            .is_ok()
        );
        let (e, _) = evaluate(
            &t,
            &window(3300.0, 9999.0),
            &[Check::FirstSuccessWithin(500.0)],
        )
        .unwrap_err();
        assert!(e.contains("it came at +0.7 s"), "{e}");
        assert!(evaluate(&t, &w, &[Check::P99Below(2.5)]).is_ok());
        assert!(evaluate(&t, &w, &[Check::P99Below(1.5)]).is_err());
    }

    #[test]
    fn an_empty_window_or_an_unknown_target_proves_nothing() {
        let t = outage();
        assert!(evaluate(&t, &window(20_000.0, 30_000.0), &[Check::MaxFailures(0)]).is_err());
        let w = Window {
            target: Some("other:1".into()),
            ..window(0.0, 9999.0)
        };
        assert!(evaluate(&t, &w, &[Check::MaxFailures(0)]).is_err());
        assert_eq!(grouped(1_912), "1,912");
        assert_eq!(grouped(200_000), "200,000");
        assert_eq!(grouped(12), "12");
    }
}
