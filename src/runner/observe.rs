//! Observation in rounds: an assertion over a probe is judged again, on a fresh run of that
//! probe, until it holds or its deadline passes. A check that forbids something (`only`,
//! `excludes`, `unreachable`, `resolved: false`) must hold over a settle window — several
//! consecutive rounds spanning a minimum time — so that neither a lucky moment passes it nor a
//! moment before the dataplane converged fails it. This file keeps the rounds and decides; the
//! engine runs the probes.

use serde::Serialize;

use crate::scenario::model::Settle;

/// One round of an observed assertion, for the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// Since the assertion began (the first round judges the probe step's own run, which may
    /// be a little older: negative).
    #[serde(serialize_with = "signed_ms")]
    pub at: f64,
    pub held: bool,
    pub observed: String,
}

fn signed_ms<S: serde::Serializer>(at: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((at * 1e6).round() / 1e3)
}

/// What to do after a round.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Held over the whole settle window.
    Settled,
    /// Held, but the window is not covered yet: observe again at `after` (seconds since the
    /// assertion began) at the earliest.
    Settling { after: f64 },
    /// Did not hold: observe again.
    Again,
}

/// The rounds of one assertion and the settle rule they are judged by.
#[derive(Debug, Clone)]
pub struct Rounds {
    settle: Settle,
    pub rounds: Vec<Round>,
    /// Index of the first round of the current unbroken run of holding rounds.
    streak_from: Option<usize>,
}

impl Rounds {
    pub fn new(settle: Settle) -> Self {
        Self {
            settle,
            rounds: Vec::new(),
            streak_from: None,
        }
    }

    /// Record a round observed at `at` seconds since the assertion began.
    pub fn record(&mut self, at: f64, held: bool, observed: String) -> Next {
        self.rounds.push(Round { at, held, observed });
        if !held {
            self.streak_from = None;
            return Next::Again;
        }
        let from = *self.streak_from.get_or_insert(self.rounds.len() - 1);
        let streak = &self.rounds[from..];
        let span = at - streak[0].at;
        if streak.len() as u32 >= self.settle.rounds
            && span + 1e-9 >= self.settle.span.as_secs_f64()
        {
            return Next::Settled;
        }
        // The next round comes at least a gap later.
        Next::Settling {
            after: at + Settle::GAP.as_secs_f64(),
        }
    }

    /// How the holding rounds fell short of the window, for a failure at the deadline.
    pub fn shortfall(&self) -> Option<String> {
        let from = self.streak_from?;
        let streak = &self.rounds[from..];
        let span = streak.last()?.at - streak[0].at;
        Some(format!(
            "held for {} consecutive round(s) over {:.1}s, but must hold for {} round(s) over {:?} before it counts",
            streak.len(),
            span,
            self.settle.rounds,
            self.settle.span
        ))
    }

    pub fn last_observed(&self) -> Option<&str> {
        self.rounds.last().map(|r| r.observed.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settle(rounds: u32, span_ms: u64) -> Settle {
        Settle {
            rounds,
            span: Duration::from_millis(span_ms),
        }
    }

    #[test]
    fn a_positive_check_settles_on_its_first_holding_round() {
        let mut r = Rounds::new(settle(1, 0));
        assert_eq!(r.record(0.0, false, "0 of 40".into()), Next::Again);
        assert_eq!(r.record(0.6, true, "40 of 40".into()), Next::Settled);
        assert_eq!(r.rounds.len(), 2);
    }

    #[test]
    fn a_negative_check_needs_two_holding_rounds_a_second_apart() {
        let mut r = Rounds::new(settle(2, 1000));
        assert_eq!(
            r.record(0.0, true, "only a".into()),
            Next::Settling { after: 1.0 }
        );
        // A second holding round too soon does not close the window.
        assert_eq!(
            r.record(0.5, true, "only a".into()),
            Next::Settling { after: 1.5 }
        );
        assert_eq!(r.record(1.0, true, "only a".into()), Next::Settled);
    }

    #[test]
    fn a_round_that_does_not_hold_starts_the_window_again() {
        let mut r = Rounds::new(settle(2, 1000));
        r.record(0.0, true, "only a".into());
        assert_eq!(r.record(1.0, false, "a 20, b 20".into()), Next::Again);
        assert_eq!(r.shortfall(), None);
        assert_eq!(
            r.record(2.0, true, "only a".into()),
            Next::Settling { after: 3.0 }
        );
        assert!(
            r.shortfall()
                .unwrap()
                .starts_with("held for 1 consecutive round(s)")
        );
        assert_eq!(r.record(3.0, true, "only a".into()), Next::Settled);
        assert_eq!(r.last_observed(), Some("only a"));
    }

    #[test]
    fn settle_rounds_and_a_longer_window_both_count() {
        let mut r = Rounds::new(settle(3, 3000));
        r.record(0.0, true, "x".into());
        r.record(1.0, true, "x".into());
        // Three rounds, but only two seconds: not yet.
        assert_eq!(
            r.record(2.0, true, "x".into()),
            Next::Settling { after: 3.0 }
        );
        assert_eq!(r.record(3.0, true, "x".into()), Next::Settled);
    }
}
