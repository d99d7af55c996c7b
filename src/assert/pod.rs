//! Pod assertions: the state, restarts, logs and events of the pods a selector matches. The
//! observation is those pods with the logs and events the checks read (nothing else is
//! fetched); `evaluate` is pure.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Verdict;
use crate::kube_ops::pods::EventSummary;
use crate::kube_ops::wait as cond;
use crate::runner::outcome::Status;
use crate::scenario::model::{PodCheck, Template};

/// What the checks of a pod assertion are judged on.
#[derive(Debug, Default)]
pub struct Observation {
    pub pods: Vec<Value>,
    /// Logs by (pod, previous container instance).
    pub logs: BTreeMap<(String, bool), String>,
    /// The namespace's events, when a check reads them.
    pub events: Vec<EventSummary>,
}

/// Which logs the checks read: the current instance's, the previous one's.
pub fn logs_read(checks: &[PodCheck]) -> Vec<bool> {
    let mut out = Vec::new();
    for c in checks {
        let previous = match c {
            PodCheck::LogsContain(_) => false,
            PodCheck::PreviousLogsContain(_) => true,
            _ => continue,
        };
        if !out.contains(&previous) {
            out.push(previous);
        }
    }
    out
}

/// Whether the checks read the namespace's events.
pub fn events_read(checks: &[PodCheck]) -> bool {
    checks.iter().any(|c| matches!(c, PodCheck::EventReason(_)))
}

/// The name of a pod as the API gives it.
pub fn name(pod: &Value) -> String {
    pod["metadata"]["name"].as_str().unwrap_or("?").to_string()
}

/// Judge `checks` on every pod `sel` matched (`container`: the one the checks are about).
pub fn evaluate(
    sel: &str,
    container: Option<&str>,
    checks: &[PodCheck],
    seen: &Observation,
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Verdict, Status> {
    if seen.pods.is_empty() {
        return Ok(Err((
            format!("pods {sel}"),
            format!("no pod matches {sel}"),
        )));
    }
    let c = container;
    let mut failures = Vec::new();
    for pod in &seen.pods {
        let name = name(pod);
        for check in checks {
            let (ok, want) = match check {
                PodCheck::Phase(p) => (cond::phase(pod) == Some(p.as_str()), format!("phase {p}")),
                PodCheck::Ready(r) => (cond::ready(pod) == *r, format!("ready {r}")),
                PodCheck::WaitingReason(r) => (
                    cond::waiting_reason(pod, c) == Some(r.as_str()),
                    format!("waiting {r}"),
                ),
                PodCheck::TerminatedReason(r) => (
                    cond::terminated_reason(pod, c) == Some(r.as_str()),
                    format!("terminated {r}"),
                ),
                PodCheck::MinRestarts(n) => (
                    cond::restart_count(pod, c).unwrap_or(0) >= *n,
                    format!("at least {n} restarts"),
                ),
                PodCheck::MaxRestarts(n) => (
                    cond::restart_count(pod, c).unwrap_or(0) <= *n,
                    format!("at most {n} restarts"),
                ),
                PodCheck::LastExitCode(e) => (
                    cond::last_exit_code(pod, c) == Some(*e),
                    format!("last exit code {e}"),
                ),
                PodCheck::LogsContain(t) | PodCheck::PreviousLogsContain(t) => {
                    let previous = matches!(check, PodCheck::PreviousLogsContain(_));
                    let t = resolve(t)?;
                    let log = seen
                        .logs
                        .get(&(name.clone(), previous))
                        .map_or("", String::as_str);
                    (
                        log.contains(&t),
                        format!(
                            "{}log contains {t:?}",
                            if previous { "previous " } else { "" }
                        ),
                    )
                }
                PodCheck::EventReason(r) => {
                    let object = format!("pod/{name}");
                    let seen = seen
                        .events
                        .iter()
                        .any(|e| e.object == object && &e.reason == r);
                    (seen, format!("an event {r}"))
                }
            };
            if !ok {
                failures.push(format!("{name}: {want}"));
            }
        }
    }
    Ok(if failures.is_empty() {
        Ok(())
    } else {
        Err((
            format!("pods {sel}: {}", failures.join("; ")),
            seen.pods
                .iter()
                .map(cond::pod_summary)
                .collect::<Vec<_>>()
                .join("; "),
        ))
    })
}
