//! Result assertions: what a step produced (an exec's or apply's exit code and output, a bind
//! probe's outcome). The observation is the step's outputs; `evaluate` is pure.

use std::collections::BTreeMap;

use super::Verdict;
use crate::runner::outcome::Status;
use crate::scenario::model::{ResultCheck, Template};

/// A step's outputs in words (for a round that held).
pub fn observed(outputs: Option<&BTreeMap<String, String>>) -> String {
    let get = |k: &str| outputs.and_then(|o| o.get(k)).cloned().unwrap_or_default();
    format!(
        "exit {}, stdout {:?}",
        get("exitCode"),
        get("stdout").trim()
    )
}

/// Judge `checks` on the outputs of step `step`.
pub fn evaluate(
    step: &str,
    outputs: &BTreeMap<String, String>,
    checks: &[ResultCheck],
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Verdict, Status> {
    let get = |k: &str| outputs.get(k).cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for c in checks {
        let (ok, want) = match c {
            ResultCheck::ExitCode(e) => {
                (get("exitCode") == e.to_string(), format!("exit code {e}"))
            }
            ResultCheck::StdoutContains(t) => {
                let t = resolve(t)?;
                (get("stdout").contains(&t), format!("stdout contains {t:?}"))
            }
            ResultCheck::StderrContains(t) => {
                let t = resolve(t)?;
                (get("stderr").contains(&t), format!("stderr contains {t:?}"))
            }
            ResultCheck::Reason(r) => (get("reason") == *r, format!("reason {r}")),
            ResultCheck::MessageContains(t) => {
                let t = resolve(t)?;
                (
                    get("message").contains(&t),
                    format!("message contains {t:?}"),
                )
            }
        };
        if !ok {
            failures.push(want);
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((
            format!("result of {step}: {}", failures.join("; ")),
            format!(
                "exit {}, stdout {:?}, stderr {:?}, reason {:?}",
                get("exitCode"),
                get("stdout").trim(),
                get("stderr").trim(),
                get("reason")
            ),
        ))
    })
}
