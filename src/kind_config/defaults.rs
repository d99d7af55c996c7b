//! kind's defaulting pass (`SetDefaultsCluster`), applied to a copy before validation.
//!
//! Port mappings are deliberately left as written: kind validates them before its provider fills
//! in `0.0.0.0` and `TCP`, and its error messages show that (`127.0.0.1:8080/`).

use super::model::{Cluster, Networking, Node, unspanned};

pub const DEFAULT_NAME: &str = "kind";
pub const ROLE_CONTROL_PLANE: &str = "control-plane";
pub const ROLE_WORKER: &str = "worker";

// kind's documented defaults for the cluster-internal ranges. They are configuration values kind
// writes into kubeadm's config, never addresses kindproof sends traffic to.
const POD_SUBNET_V4: &str = "10.244.0.0/16";
const POD_SUBNET_V6: &str = "fd00:10:244::/56";
const SERVICE_SUBNET_V4: &str = "10.96.0.0/16";
const SERVICE_SUBNET_V6: &str = "fd00:10:96::/112";

pub fn with_defaults(raw: &Cluster) -> Cluster {
    let mut c = raw.clone();
    if c.name.as_ref().is_none_or(|n| n.value.is_empty()) {
        c.name = Some(unspanned(DEFAULT_NAME.to_string()));
    }
    if c.nodes.is_empty() {
        c.nodes.push(Node {
            role: None,
            image: None,
            labels: Default::default(),
            extra_mounts: vec![],
            extra_port_mappings: vec![],
            kubeadm_config_patches: vec![],
            kubeadm_config_patches_json6902: vec![],
        });
    }
    for node in &mut c.nodes {
        if node.role.as_ref().is_none_or(|r| r.value.is_empty()) {
            node.role = Some(unspanned(ROLE_CONTROL_PLANE.to_string()));
        }
    }
    let mut net: Networking = c.networking.take().unwrap_or_default();
    let family = net
        .ip_family
        .get_or_insert_with(|| unspanned("ipv4".to_string()))
        .value
        .clone();
    if net.api_server_address.is_none() {
        let addr = if family == "ipv6" { "::1" } else { "127.0.0.1" };
        net.api_server_address = Some(unspanned(addr.to_string()));
    }
    // kind v0.33 defaults the pod subnet even with disableDefaultCNI (measured: such a config
    // passes validation), so the CNI flag does not matter here.
    if net.pod_subnet.is_none() {
        net.pod_subnet = Some(unspanned(match family.as_str() {
            "ipv6" => POD_SUBNET_V6.to_string(),
            "dual" => format!("{POD_SUBNET_V4},{POD_SUBNET_V6}"),
            _ => POD_SUBNET_V4.to_string(),
        }));
    }
    if net.service_subnet.is_none() {
        net.service_subnet = Some(unspanned(match family.as_str() {
            "ipv6" => SERVICE_SUBNET_V6.to_string(),
            "dual" => format!("{SERVICE_SUBNET_V4},{SERVICE_SUBNET_V6}"),
            _ => SERVICE_SUBNET_V4.to_string(),
        }));
    }
    if net.kube_proxy_mode.is_none() {
        net.kube_proxy_mode = Some(unspanned("iptables".to_string()));
    }
    c.networking = Some(net);
    c
}

/// The short names kind gives the nodes of a defaulted config, in order: per role, the first
/// is the role (`control-plane`, `worker`), the next ones are numbered (`worker2`, `worker3`).
/// The node container is `<cluster>-<short name>`.
pub fn node_short_names(defaulted: &Cluster) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    defaulted
        .nodes
        .iter()
        .map(|n| {
            let role = n
                .role
                .as_ref()
                .map(|r| r.value.clone())
                .unwrap_or_else(|| ROLE_CONTROL_PLANE.to_string());
            let count = seen.entry(role.clone()).or_default();
            *count += 1;
            if *count == 1 {
                role
            } else {
                format!("{role}{count}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind_config::load::load_str;
    use std::path::Path;

    #[test]
    fn empty_config_becomes_one_control_plane_named_kind() {
        let raw = load_str(
            Path::new("c.yaml"),
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
        )
        .unwrap();
        let c = with_defaults(&raw);
        assert_eq!(c.name.unwrap().value, "kind");
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.nodes[0].role.as_ref().unwrap().value, "control-plane");
        let net = c.networking.unwrap();
        assert_eq!(net.kube_proxy_mode.unwrap().value, "iptables");
        assert_eq!(net.pod_subnet.unwrap().value, POD_SUBNET_V4);
    }

    #[test]
    fn ipv6_family_gets_ipv6_defaults() {
        let raw = load_str(
            Path::new("c.yaml"),
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: ipv6\n",
        )
        .unwrap();
        let net = with_defaults(&raw).networking.unwrap();
        assert_eq!(net.api_server_address.unwrap().value, "::1");
        assert_eq!(net.service_subnet.unwrap().value, SERVICE_SUBNET_V6);
    }
}
