//! The port plan: for every extraPortMapping of a (valid) kind config, what was asked for and
//! who will choose the host port. Pure: nothing is bound here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::kind_config::defaults::ROLE_CONTROL_PLANE;
use crate::kind_config::model::{Cluster, Protocol};
use crate::kind_config::validate::parse_ip;
use crate::kind_config::version::Rules;

/// Who chooses the host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// The config names the port.
    Fixed,
    /// kindproof picks a free port and reserves it across processes.
    Picked,
    /// Docker picks when the node container is created (`hostPort: -1`); read back afterwards.
    Runtime,
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            How::Fixed => "fixed",
            How::Picked => "picked",
            How::Runtime => "runtime",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMapping {
    /// Index of the node in the config.
    pub node: usize,
    pub role: String,
    /// Index of the mapping within its node.
    pub index: usize,
    pub container_port: u16,
    pub protocol: Protocol,
    /// After kind's provider defaulting (`0.0.0.0`, or `::` for an IPv6 cluster).
    pub listen_address: IpAddr,
    /// The hostPort as written; `None` when unset.
    pub requested: Option<i64>,
    pub how: How,
    /// Why the mapping is handled the way it is, when that is not obvious.
    pub note: Option<String>,
}

/// Plan every mapping of `cluster`. The config must have passed validation (its ports and
/// listen addresses are known to be well-formed); anything else is reported as a bug.
pub fn plan(cluster: &Cluster, rules: Rules) -> Vec<PlannedMapping> {
    let ipv6 = cluster
        .networking
        .as_ref()
        .and_then(|n| n.ip_family.as_ref())
        .is_some_and(|f| f.value == "ipv6");
    let default_address = if ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let mut out = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        let role = node
            .role
            .as_ref()
            .map(|r| r.value.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| ROLE_CONTROL_PLANE.to_string());
        for (m, pm) in node.extra_port_mappings.iter().enumerate() {
            let requested = pm.host_port.as_ref().map(|h| h.value);
            let listen_address = pm
                .listen_address
                .as_ref()
                .filter(|a| !a.value.is_empty())
                .and_then(|a| parse_ip(&a.value))
                .unwrap_or(default_address);
            let protocol = pm
                .protocol
                .as_ref()
                .and_then(|p| Protocol::parse(&p.value))
                .unwrap_or(Protocol::Tcp);
            let (how, note) = match requested.unwrap_or(0) {
                -1 if rules.kindproof_picks(requested) => (
                    How::Picked,
                    Some(
                        "hostPort -1 picked by kindproof: this kind version rejects repeated -1 mappings"
                            .to_string(),
                    ),
                ),
                -1 => (How::Runtime, None),
                0 => (How::Picked, None),
                _ => (How::Fixed, None),
            };
            out.push(PlannedMapping {
                node: n,
                role: role.clone(),
                index: m,
                container_port: pm
                    .container_port
                    .as_ref()
                    .and_then(|c| u16::try_from(c.value).ok())
                    .unwrap_or(0),
                protocol,
                listen_address,
                requested,
                how,
                note,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind_config::load::load_str;
    use crate::kind_config::version::KindVersion;
    use std::path::Path;

    fn planned(version: &str, body: &str) -> Vec<PlannedMapping> {
        let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
        let c = load_str(Path::new("c.yaml"), &text).unwrap();
        plan(&c, version.parse::<KindVersion>().unwrap().rules())
    }

    const BODY: &str = "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n  - containerPort: 53\n    hostPort: 0\n    protocol: udp\n  - containerPort: 443\n    hostPort: -1\n  - containerPort: 8080\n    hostPort: 18080\n- role: worker\n  extraPortMappings:\n  - containerPort: 30001\n";

    #[test]
    fn plans_each_kind_of_request() {
        let p = planned("0.33.0", BODY);
        let hows: Vec<How> = p.iter().map(|m| m.how).collect();
        assert_eq!(
            hows,
            [
                How::Picked,
                How::Picked,
                How::Runtime,
                How::Fixed,
                How::Picked
            ]
        );
        assert_eq!(p[0].listen_address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(p[1].listen_address, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(p[1].protocol, Protocol::Udp);
        assert_eq!(p[2].protocol, Protocol::Tcp);
        assert_eq!((p[4].node, p[4].role.as_str()), (1, "worker"));
        assert_eq!(p[0].requested, None);
        assert_eq!(p[1].requested, Some(0));
    }

    #[test]
    fn minus_one_is_picked_under_old_rules_and_says_so() {
        let p = planned("0.20.0", BODY);
        assert_eq!(p[2].how, How::Picked);
        assert!(p[2].note.as_ref().unwrap().contains("-1"));
    }

    #[test]
    fn ipv6_clusters_default_to_the_ipv6_wildcard() {
        let p = planned(
            "0.33.0",
            "networking:\n  ipFamily: ipv6\nnodes:\n- extraPortMappings:\n  - containerPort: 80\n",
        );
        assert_eq!(p[0].listen_address, "::".parse::<IpAddr>().unwrap());
    }
}
