//! Waiting with a deadline at every call site, and the pure conditions waits check. A wait that
//! times out says what it saw last, not just "timed out".

use std::time::Duration;

use tokio::time::Instant;

use serde_json::Value;

use super::error::KubeError;

/// One look at the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll<T> {
    Ready(T),
    /// Not yet; what was seen, for the timeout message.
    Pending(String),
}

/// Call `check` every `interval` until it is ready or `timeout` has passed since the first
/// call. Errors from `check` end the wait at once.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, KubeError>>,
{
    let started = Instant::now();
    loop {
        let round = Instant::now();
        match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(last) if started.elapsed() >= timeout => {
                return Err(KubeError::Timeout {
                    what: what.to_string(),
                    waited: timeout,
                    last,
                });
            }
            Poll::Pending(_) => {}
        }
        tokio::time::sleep(interval.saturating_sub(round.elapsed())).await;
    }
}

/// The status of the container named `container` (else the first) of a pod.
fn container_status<'a>(pod: &'a Value, container: Option<&str>) -> Option<&'a Value> {
    let statuses = pod.pointer("/status/containerStatuses")?.as_array()?;
    match container {
        Some(name) => statuses.iter().find(|s| s["name"] == name),
        None => statuses.first(),
    }
}

pub fn phase(pod: &Value) -> Option<&str> {
    pod.pointer("/status/phase").and_then(Value::as_str)
}

/// The pod's `Ready` condition is `True`.
pub fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// `state.waiting.reason` of a container (e.g. `CrashLoopBackOff`).
pub fn waiting_reason<'a>(pod: &'a Value, container: Option<&str>) -> Option<&'a str> {
    container_status(pod, container)?
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str)
}

/// `state.terminated.reason` of a container (e.g. `Error`).
pub fn terminated_reason<'a>(pod: &'a Value, container: Option<&str>) -> Option<&'a str> {
    container_status(pod, container)?
        .pointer("/state/terminated/reason")
        .and_then(Value::as_str)
}

pub fn restart_count(pod: &Value, container: Option<&str>) -> Option<u64> {
    container_status(pod, container)?["restartCount"].as_u64()
}

/// The exit code of the container's previous run (`lastState.terminated.exitCode`).
pub fn last_exit_code(pod: &Value, container: Option<&str>) -> Option<i64> {
    container_status(pod, container)?
        .pointer("/lastState/terminated/exitCode")
        .and_then(Value::as_i64)
}

/// One line on a pod for timeout messages and reports.
pub fn pod_summary(pod: &Value) -> String {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut parts = vec![format!("{name}: {}", phase(pod).unwrap_or("no phase"))];
    parts.push(if ready(pod) { "ready" } else { "not ready" }.into());
    if let Some(n) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        parts.push(format!("on {n}"));
    }
    if let Some(r) = waiting_reason(pod, None) {
        parts.push(format!("waiting {r}"));
    }
    if let Some(r) = terminated_reason(pod, None) {
        parts.push(format!("terminated {r}"));
    }
    if let Some(c) = restart_count(pod, None) {
        parts.push(format!("restarts {c}"));
    }
    if let Some(c) = last_exit_code(pod, None) {
        parts.push(format!("last exit {c}"));
    }
    parts.join(", ")
}

/// A Deployment has rolled out, as `kubectl rollout status` judges it: the controller has seen
/// the latest spec (`observedGeneration` ≥ `generation`, so a status from before a patch does
/// not count), every replica is updated, no old replica is left, every one is ready and
/// available, and `Available` is `True`.
pub fn deployment_available(dep: &Value) -> bool {
    let want = dep
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let count = |f: &str| {
        dep.pointer(&format!("/status/{f}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let generation = dep
        .pointer("/metadata/generation")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let available = dep
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True")
        });
    available
        && count("observedGeneration") >= generation
        && count("updatedReplicas") >= want
        && count("replicas") <= count("updatedReplicas")
        && count("readyReplicas") >= want
        && count("availableReplicas") >= want
}

/// The ready endpoints of a Service's EndpointSlices: (address, node name).
pub fn ready_endpoints(slices: &[Value]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for slice in slices {
        for ep in slice["endpoints"].as_array().into_iter().flatten() {
            // An endpoint without conditions.ready counts as ready (the API's rule).
            if ep.pointer("/conditions/ready") == Some(&Value::Bool(false)) {
                continue;
            }
            let node = ep["nodeName"].as_str().map(str::to_string);
            for addr in ep["addresses"].as_array().into_iter().flatten() {
                if let Some(a) = addr.as_str() {
                    out.push((a.to_string(), node.clone()));
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crashing() -> Value {
        json!({"metadata": {"name": "flower-0"}, "spec": {"nodeName": "kp-x-worker"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "server", "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}})
    }

    #[test]
    fn pod_conditions_read_the_container_status() {
        let p = crashing();
        assert_eq!(phase(&p), Some("Running"));
        assert!(!ready(&p));
        assert_eq!(waiting_reason(&p, None), Some("CrashLoopBackOff"));
        assert_eq!(waiting_reason(&p, Some("server")), Some("CrashLoopBackOff"));
        assert_eq!(waiting_reason(&p, Some("other")), None);
        assert_eq!(restart_count(&p, None), Some(2));
        assert_eq!(last_exit_code(&p, None), Some(1));
        assert_eq!(terminated_reason(&p, None), None);
        assert_eq!(
            pod_summary(&p),
            "flower-0: Running, not ready, on kp-x-worker, waiting CrashLoopBackOff, restarts 2, last exit 1"
        );
    }

    #[test]
    fn deployments_are_available_when_rolled_out() {
        let mut d = json!({"metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2,
            "readyReplicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}]}});
        assert!(!deployment_available(&d));
        d["status"]["readyReplicas"] = json!(2);
        d["status"]["availableReplicas"] = json!(2);
        assert!(deployment_available(&d));
        // Right after a patch the status is the previous generation's: not rolled out yet.
        d["metadata"]["generation"] = json!(4);
        assert!(!deployment_available(&d));
        d["status"]["observedGeneration"] = json!(4);
        // An old replica still running beside the new ones.
        d["status"]["replicas"] = json!(3);
        assert!(!deployment_available(&d));
        d["status"]["replicas"] = json!(2);
        assert!(deployment_available(&d));
        d["status"]["conditions"][0]["status"] = json!("False");
        assert!(!deployment_available(&d));
    }

    #[test]
    fn endpoints_count_only_ready_ones_with_their_nodes() {
        let slices = [json!({"endpoints": [
            {"addresses": ["10.244.1.5"], "nodeName": "w1", "conditions": {"ready": true}},
            {"addresses": ["10.244.2.7"], "nodeName": "w2", "conditions": {"ready": false, "serving": true}},
            {"addresses": ["10.244.2.8"], "nodeName": "w2"}
        ]})];
        assert_eq!(
            ready_endpoints(&slices),
            [
                ("10.244.1.5".to_string(), Some("w1".to_string())),
                ("10.244.2.8".to_string(), Some("w2".to_string()))
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_reports_the_last_state_it_saw() {
        let mut n = 0;
        let e = until(
            "pod flower-0 to be ready",
            Duration::from_secs(5),
            Duration::from_secs(1),
            || {
                n += 1;
                let seen = format!("look {n}");
                async move { Ok::<Poll<()>, KubeError>(Poll::Pending(seen)) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "timed out after 5s waiting for pod flower-0 to be ready; last seen: look 6"
        );
        let mut n = 0;
        let v = until("x", Duration::from_secs(5), Duration::from_secs(1), || {
            n += 1;
            let r = if n == 3 {
                Poll::Ready(n)
            } else {
                Poll::Pending(String::new())
            };
            async move { Ok::<_, KubeError>(r) }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }
}
