//! Whether a status read from the API was written after a node was disrupted (restarted or
//! paused). After `docker restart` of a kind node its pods' Ready condition still reads `True`
//! from before the restart, and the node's Ready condition may never have changed: a wait that
//! believed them would pass before anything runs again. So a wait that follows a disruption
//! counts a pod on that node, or the node itself, only with evidence written after the
//! disruption ended, and says which evidence it used. Pure: the engine reads, this judges.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A node action whose aftermath the API reports late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disruption {
    /// The node's name in the API (kind's node container name).
    pub node: String,
    pub what: DisruptionKind,
    pub began: SystemTime,
    pub ended: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisruptionKind {
    Restart,
    Pause,
    /// Cut off the network, then put back.
    Disconnect,
    /// Its kubelet stopped, then started.
    Kubelet,
}

impl DisruptionKind {
    pub fn word(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Pause => "pause",
            Self::Disconnect => "disconnection",
            Self::Kubelet => "kubelet stop",
        }
    }
}

fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// RFC 3339 timestamps as the API and the probe write them (`2026-12-01T19:12:07Z`, MicroTime
/// `…07.123456Z`, milliseconds `…07.123Z`).
pub fn parse_time(text: &str) -> Result<SystemTime, humantime::TimestampError> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(text))
}

/// The API keeps most timestamps in whole seconds: a write in the second the disruption ended
/// counts as after it. (Nothing of the disruption is written that early: a restarted kubelet
/// needs seconds to come back, and a paused one writes nothing until it is unpaused.)
fn after(t: SystemTime, d: &Disruption) -> bool {
    let secs = d
        .ended
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    t >= UNIX_EPOCH + Duration::from_secs(secs)
}

/// The newest status write by the kubelet (`managedFields`, manager kubelet, subresource
/// status).
fn kubelet_status_write(pod: &Value) -> Option<SystemTime> {
    pod.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .filter(|m| m["manager"] == "kubelet" && m["subresource"] == "status")
        .filter_map(|m| m["time"].as_str().and_then(|t| parse_time(t).ok()))
        .max()
}

fn ready_since(pod: &Value) -> Option<SystemTime> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["lastTransitionTime"]
        .as_str()
        .and_then(|t| parse_time(t).ok())
}

/// The disruption a pod's status must be newer than: the last one of the pod's node.
pub fn of_pod<'d>(pod: &Value, disruptions: &'d [Disruption]) -> Option<&'d Disruption> {
    let node = pod.pointer("/spec/nodeName")?.as_str()?;
    disruptions.iter().rev().find(|d| d.node == node)
}

/// Why a pod's status can be believed after `d`, or `None` when it may predate it.
/// `lease_renewed` is when the kubelet of the pod's node last renewed its Lease.
pub fn pod_evidence(
    pod: &Value,
    d: &Disruption,
    lease_renewed: Option<SystemTime>,
) -> Option<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("?");
    let what = d.what.word();
    let ended = stamp(d.ended);
    if let Some(t) = ready_since(pod).filter(|t| after(*t, d)) {
        return Some(format!(
            "{name}: Ready condition changed at {} (after the {what} of {} ended at {ended})",
            stamp(t),
            d.node
        ));
    }
    if let Some(t) = kubelet_status_write(pod).filter(|t| after(*t, d)) {
        return Some(format!(
            "{name}: status written by the kubelet at {} (after the {what} of {} ended at {ended})",
            stamp(t),
            d.node
        ));
    }
    // A paused (or cut off, or kubelet-less) node's containers were not restarted: once its
    // kubelet is back (it renewed its lease), the status it had is current again.
    if d.what != DisruptionKind::Restart
        && let Some(t) = lease_renewed.filter(|t| after(*t, d))
    {
        return Some(format!(
            "{name}: the kubelet of {} renewed its lease at {} (after the {what} ended at {ended})",
            d.node,
            stamp(t)
        ));
    }
    None
}

/// Why a node's Ready can be believed after `d`: its kubelet renewed its lease since.
pub fn node_evidence(d: &Disruption, lease_renewed: Option<SystemTime>) -> Option<String> {
    let t = lease_renewed.filter(|t| after(*t, d))?;
    Some(format!(
        "{}: kubelet lease renewed at {} (after the {} ended at {})",
        d.node,
        stamp(t),
        d.what.word(),
        stamp(d.ended)
    ))
}

/// `spec.renewTime` of a Lease.
pub fn lease_renewed(lease: &Value) -> Option<SystemTime> {
    parse_time(lease.pointer("/spec/renewTime")?.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> SystemTime {
        parse_time(text).unwrap()
    }

    fn restart() -> Disruption {
        Disruption {
            node: "kp-x-control-plane".into(),
            what: DisruptionKind::Restart,
            began: at("2026-12-01T19:12:00.400Z"),
            ended: at("2026-12-01T19:12:11.700Z"),
        }
    }

    fn pod(ready_at: &str, kubelet_at: &str) -> Value {
        json!({
            "metadata": {"name": "web", "managedFields": [
                {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-12-01T19:13:00Z"},
                {"manager": "kubelet", "operation": "Update", "subresource": "status", "time": kubelet_at}
            ]},
            "spec": {"nodeName": "kp-x-control-plane"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}]}
        })
    }

    #[test]
    fn a_ready_from_before_the_restart_is_no_evidence() {
        let p = pod("2026-12-01T19:11:30Z", "2026-12-01T19:11:30Z");
        assert_eq!(pod_evidence(&p, &restart(), None), None);
        // Not even a lease renewed since: the kubelet is back, its pods may not be.
        assert_eq!(
            pod_evidence(&p, &restart(), Some(at("2026-12-01T19:12:20Z"))),
            None
        );
        // Another manager's write says nothing about the status.
        assert!(kubelet_status_write(&p) == Some(at("2026-12-01T19:11:30Z")));
    }

    #[test]
    fn a_ready_or_a_kubelet_write_after_the_restart_is_evidence() {
        let p = pod("2026-12-01T19:12:24Z", "2026-12-01T19:12:24Z");
        let e = pod_evidence(&p, &restart(), None).unwrap();
        assert!(
            e.starts_with("web: Ready condition changed at 2026-12-01T19:12:24"),
            "{e}"
        );
        let p = pod("2026-12-01T19:11:30Z", "2026-12-01T19:12:25Z");
        let e = pod_evidence(&p, &restart(), None).unwrap();
        assert!(e.contains("status written by the kubelet"), "{e}");
        // The second the restart ended counts (whole-second timestamps).
        let p = pod("2026-12-01T19:12:11Z", "2026-12-01T19:11:30Z");
        assert!(pod_evidence(&p, &restart(), None).is_some());
    }

    #[test]
    fn after_a_pause_a_renewed_lease_is_evidence() {
        let d = Disruption {
            what: DisruptionKind::Pause,
            ..restart()
        };
        let p = pod("2026-12-01T19:11:30Z", "2026-12-01T19:11:30Z");
        assert_eq!(pod_evidence(&p, &d, Some(at("2026-12-01T19:12:05Z"))), None);
        let e = pod_evidence(&p, &d, Some(at("2026-12-01T19:12:15.250Z"))).unwrap();
        assert!(e.contains("renewed its lease"), "{e}");
        assert!(node_evidence(&d, Some(at("2026-12-01T19:12:15.250Z"))).is_some());
        assert!(node_evidence(&d, Some(at("2026-12-01T19:11:59Z"))).is_none());
        assert!(node_evidence(&d, None).is_none());
    }

    #[test]
    fn a_pod_answers_to_the_last_disruption_of_its_own_node() {
        let mut later = restart();
        later.ended = at("2026-12-01T19:20:00Z");
        let other = Disruption {
            node: "kp-x-worker".into(),
            ..restart()
        };
        let all = [restart(), other, later.clone()];
        let p = pod("2026-12-01T19:12:24Z", "2026-12-01T19:12:24Z");
        assert_eq!(of_pod(&p, &all), Some(&later));
        assert_eq!(of_pod(&json!({"spec": {}}), &all), None);
        assert_eq!(
            lease_renewed(&json!({"spec": {"renewTime": "2026-12-01T19:12:15.250123Z"}})),
            Some(at("2026-12-01T19:12:15.250123Z"))
        );
    }
}
