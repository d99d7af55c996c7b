//! What kind accepts but Docker will refuse when the node containers start: one fixed host
//! port published by two nodes (the second `docker run` fails with "port is already
//! allocated"), and a listen address this host does not have ("cannot assign requested
//! address").

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::model::{Cluster, Protocol};
use super::validate::{Cause, Problem, Scope};
use crate::yaml::Position;

/// A fixed host port (with its protocol and listen address) that an earlier node already
/// publishes: a problem at the later node's `hostPort`. Wildcard addresses overlap every
/// address of their port.
pub fn across_nodes(file: &Path, cluster: &Cluster) -> Vec<Problem> {
    // (port, protocol) -> (node index, listen address) of each publisher so far.
    type Publishers = Vec<(usize, Option<IpAddr>)>;
    let mut seen: BTreeMap<(i64, Protocol), Publishers> = BTreeMap::new();
    let mut out = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        for (m, pm) in node.extra_port_mappings.iter().enumerate() {
            let Some(hp) = pm.host_port.as_ref().filter(|h| h.value > 0) else {
                continue;
            };
            let protocol = pm
                .protocol
                .as_ref()
                .and_then(|p| Protocol::parse(&p.value))
                .unwrap_or(Protocol::Tcp);
            let written = pm.listen_address.as_ref().map(|a| a.value.trim());
            // kind's default listen address is the IPv4 wildcard.
            let addr = match written {
                None | Some("") => Some(IpAddr::from([0, 0, 0, 0])),
                Some(a) => a.parse::<IpAddr>().ok(),
            };
            let others = seen.entry((hp.value, protocol)).or_default();
            let clash = others.iter().find(|(other, a)| {
                *other != n
                    && match (a, addr) {
                        (Some(a), Some(b)) => a == &b || a.is_unspecified() || b.is_unspecified(),
                        _ => false,
                    }
            });
            if let Some((other, _)) = clash {
                out.push(Problem {
                    scope: Scope::Node(n),
                    cause: Cause::KindproofOnly,
                    message: format!(
                        "host port {}/{} is published by node {other} too: Docker can bind a host port for one node container only",
                        hp.value,
                        protocol.upper()
                    ),
                    position: Position::of(file, hp),
                    field: format!("nodes[{n}].extraPortMappings[{m}].hostPort"),
                });
            }
            others.push((n, addr));
        }
    }
    out
}

/// Listen addresses this host does not have: a warning each (the config may be meant for
/// another host), at the address.
pub fn not_on_this_host(file: &Path, cluster: &Cluster) -> Vec<Problem> {
    let local = local_addresses();
    let mut out = Vec::new();
    for (n, node) in cluster.nodes.iter().enumerate() {
        for (m, pm) in node.extra_port_mappings.iter().enumerate() {
            let Some(a) = &pm.listen_address else {
                continue;
            };
            let Ok(ip) = a.value.trim().parse::<IpAddr>() else {
                continue;
            };
            if ip.is_unspecified() || ip.is_loopback() || local.contains(&ip) {
                continue;
            }
            out.push(Problem {
                scope: Scope::Node(n),
                cause: Cause::KindproofOnly,
                message: format!(
                    "listen address {ip} is not an address of this host: Docker will fail to publish on it here"
                ),
                position: Position::of(file, a),
                field: format!("nodes[{n}].extraPortMappings[{m}].listenAddress"),
            });
        }
    }
    out
}

/// Every IP address of this host's interfaces.
fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says which struct it is.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: AF_INET: a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: AF_INET6: a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind_config::load::load_str;

    fn cluster(body: &str) -> Cluster {
        let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
        load_str(Path::new("c.yaml"), &text).unwrap()
    }

    #[test]
    fn one_fixed_host_port_on_two_nodes_is_a_problem_at_the_second() {
        let c = cluster(
            "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n  - containerPort: 81\n    hostPort: 8081\n  - containerPort: 53\n    hostPort: 8080\n    protocol: UDP\n",
        );
        let p = across_nodes(Path::new("c.yaml"), &c);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "nodes[1].extraPortMappings[0].hostPort");
        assert_eq!(p[0].position.line, 11);
        assert!(p[0].message.contains("published by node 0 too"));
        // Distinct specific addresses do not collide.
        let c = cluster(
            "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 127.0.0.2\n",
        );
        assert!(across_nodes(Path::new("c.yaml"), &c).is_empty());
    }

    #[test]
    fn an_address_this_host_lacks_is_warned_about() {
        // 192.0.2.0/24 is TEST-NET-1: documentation only, on no host's interface.
        let c = cluster(
            "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    listenAddress: 192.0.2.7\n  - containerPort: 81\n    listenAddress: 127.0.0.1\n  - containerPort: 82\n    listenAddress: 0.0.0.0\n",
        );
        let w = not_on_this_host(Path::new("c.yaml"), &c);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].message
                .contains("192.0.2.7 is not an address of this host")
        );
        assert!(local_addresses().iter().any(IpAddr::is_loopback));
    }
}
