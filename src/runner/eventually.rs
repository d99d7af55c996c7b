//! All polling of assertions: an assertion on the API looks again until its deadline; one on a
//! probe's result runs that probe again, with the same arguments, until it holds over its
//! settle window or the deadline passes (see `observe`), every round in the report; one on a
//! fixed result is judged once. Which is which is `assert::reobserve`'s (exhaustive).

use std::time::Duration;

use tokio::time::Instant;

use super::backend::Backend;
use super::engine::{HANG_GRACE, Run};
use super::observe::{Next, Rounds};
use super::outcome::Status;
use crate::assert::{Reobserve, Verdict, reobserve};
use crate::scenario::model::*;

impl<B: Backend> Run<'_, B> {
    /// Judge `a` until it holds or `timeout` passes; the last mismatch is the report.
    pub(super) async fn eventually(
        &mut self,
        a: &Assertion,
        timeout: Duration,
    ) -> Result<Status, Status> {
        let repeatable = |id: &str| self.state.probes.get(id).is_some_and(|p| p.repeatable);
        match reobserve(a, repeatable) {
            Reobserve::Probe(id, settle) => {
                let id = id.to_string();
                self.observe(a, &id, settle, timeout).await
            }
            Reobserve::Once => Ok(match self.check(a).await? {
                Ok(()) => Status::Passed,
                Err((message, observed)) => Status::failed(message, observed),
            }),
            Reobserve::Api => self.poll(a, timeout).await,
        }
    }

    /// Look at the API until `a` holds or `timeout` passes.
    async fn poll(&mut self, a: &Assertion, timeout: Duration) -> Result<Status, Status> {
        let every = self.cx.poll;
        let last: Result<Verdict, Status> = until!(every, timeout, self.check(a).await);
        Ok(match last? {
            Ok(()) => Status::Passed,
            Err((message, observed)) => Status::failed(message, observed),
        })
    }

    /// Judge `a` on probe `id`'s latest result, then on fresh runs of it, until it has held
    /// over `settle` or `timeout` passes. The rounds go into the step's report.
    async fn observe(
        &mut self,
        a: &Assertion,
        id: &str,
        settle: Settle,
        timeout: Duration,
    ) -> Result<Status, Status> {
        let begun = Instant::now();
        let deadline = begun + timeout;
        let since = |t: Instant| -> f64 {
            if t >= begun {
                (t - begun).as_secs_f64()
            } else {
                -(begun - t).as_secs_f64()
            }
        };
        let mut rounds = Rounds::new(settle);
        // A routing assertion judges one target: only that one is probed again.
        let target = match a {
            Assertion::Routing { target, .. } => Some(self.resolve(target)?),
            _ => None,
        };
        let mut failing: Option<String> = None;
        let verdict = loop {
            let at = since(self.state.probes[id].at);
            let next = match self.check(a).await? {
                Ok(()) => rounds.record(at, true, self.observation(a)),
                Err((message, observed)) => {
                    failing = Some(message);
                    rounds.record(at, false, observed)
                }
            };
            let earliest = match next {
                Next::Settled => break Status::Passed,
                Next::Settling { after } => begun + Duration::from_secs_f64(after.max(0.0)),
                Next::Again => Instant::now() + self.cx.poll,
            };
            if earliest >= deadline {
                break self.not_settled(&rounds, failing.as_deref(), timeout);
            }
            tokio::time::sleep_until(earliest).await;
            // A run of the probe that fails (a pod exec while the API server restarts) is
            // another "not yet"; if the last one failed so at the deadline, it is broken.
            loop {
                let budget = deadline.saturating_duration_since(Instant::now()) + HANG_GRACE / 2;
                match self.reprobe(id, budget, target.as_deref()).await {
                    Ok(()) => break,
                    Err(broken) if Instant::now() >= deadline => {
                        self.extra.rounds = rounds.rounds;
                        return Err(broken);
                    }
                    Err(broken) => {
                        tracing::debug!("probe {id} failed to run again: {broken:?}");
                        tokio::time::sleep(self.cx.poll).await;
                    }
                }
            }
        };
        self.extra.rounds = rounds.rounds;
        Ok(verdict)
    }

    /// The failure of an observed assertion at its deadline: the last round's mismatch, or, if
    /// it held at the end but not for long enough, by how much it fell short.
    fn not_settled(&self, rounds: &Rounds, failing: Option<&str>, timeout: Duration) -> Status {
        let observed = rounds.last_observed().unwrap_or("nothing").to_string();
        let n = rounds.rounds.len();
        // The number of rounds is in the step's report; the message is the check's own.
        match (
            rounds.rounds.last().is_some_and(|r| r.held),
            rounds.shortfall(),
        ) {
            (true, Some(short)) => Status::failed(
                format!("not settled within {timeout:?} ({n} rounds): {short}"),
                observed,
            ),
            _ => Status::failed(failing.unwrap_or("did not hold"), observed),
        }
    }
}

/// Look (evaluate `$look`, a `Result<Verdict, Status>`) every `$every` until a look holds or
/// `$timeout` passes: the last mismatch, if none held. A look that fails (a request to an API
/// server restarting with its node) is another "not yet"; if the last look failed so at the
/// deadline, the result is broken, not failed. Waits and assertions on the API both poll
/// through here. (A macro: the look borrows the run mutably, which a closure's future cannot
/// while staying `Send`.)
macro_rules! until {
    ($every:expr, $timeout:expr, $look:expr) => {{
        let deadline = tokio::time::Instant::now() + $timeout;
        loop {
            let look: Result<crate::assert::Verdict, crate::runner::outcome::Status> = $look;
            match look {
                Ok(Ok(())) => break Ok(Ok(())),
                Ok(Err(mismatch)) if tokio::time::Instant::now() >= deadline => {
                    break Ok(Err(mismatch));
                }
                Ok(Err(_)) => {}
                Err(broken) if tokio::time::Instant::now() >= deadline => break Err(broken),
                Err(broken) => tracing::debug!("a look failed: {broken:?}"),
            }
            tokio::time::sleep($every).await;
        }
    }};
}
pub(super) use until;
