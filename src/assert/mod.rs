//! Assertions, one module per kind. Each has its observation (what is read to judge it), a
//! pure `evaluate` of that observation, and a place in [`reobserve`], which says exhaustively
//! whether a look is worth repeating. The runner reads the observations (`engine_assert`) and
//! does all the polling (`runner::eventually`); nothing here does I/O.

pub mod dns;
pub mod during;
pub mod endpoints;
pub mod field;
pub mod pod;
pub mod result;
pub mod routing;

use crate::scenario::model::{Assertion, DnsCheck, Settle};

/// A judgement: it holds, or it does not (yet): what was expected and what was observed.
pub type Verdict = Result<(), (String, String)>;

/// How an assertion is observed over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reobserve<'a> {
    /// It reads the API: look again until the deadline.
    Api,
    /// It judges probe step `.0`'s result: run the probe again until it settles.
    Probe(&'a str, Settle),
    /// Its evidence does not change: judge it once.
    Once,
}

/// How `a` is observed, given which probe steps can run again (`repeatable`).
pub fn reobserve(a: &Assertion, repeatable: impl Fn(&str) -> bool) -> Reobserve<'_> {
    match a {
        Assertion::Field { .. } | Assertion::Pod { .. } | Assertion::Endpoints { .. } => {
            Reobserve::Api
        }
        Assertion::Routing { probe, settle, .. } if repeatable(probe) => {
            Reobserve::Probe(probe, *settle)
        }
        Assertion::Dns {
            probe,
            checks,
            settle,
        } if repeatable(probe) && !checks.iter().any(DnsCheck::judges_timeline) => {
            Reobserve::Probe(probe, *settle)
        }
        // The result of a bind (or any) probe step: run it again until it holds.
        Assertion::Result { step, .. } if repeatable(step) => Reobserve::Probe(step, Settle::ONCE),
        // A window of a timeline is judged once, when it is complete.
        Assertion::Routing { .. }
        | Assertion::Dns { .. }
        | Assertion::Result { .. }
        | Assertion::During(_) => Reobserve::Once,
    }
}
