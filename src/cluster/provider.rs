//! The clusters scenarios run on as the runner sees them, wherever they come from: a handle
//! with its nodes, read from a kind cluster's containers or from an existing cluster's API
//! (a shared CI cluster, k3d, a real one). The providers that make or borrow them are the
//! runner's (`runner/providers/`).

use std::net::IpAddr;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Node as ApiNode;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::kind::ClusterError;
use super::nodes::KindNode;
use crate::docker::api::Engine;
use crate::kube_ops::client::Kube;
use crate::kube_ops::error::KubeError;
use crate::ports::inspect::Published;

/// A node as scenarios see it (`${nodes.worker.ip}`, `${ports.<node>.<port>/<proto>}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    pub name: String,
    pub role: String,
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    /// Host ports the node container publishes (kind only).
    pub published: Vec<Published>,
    /// The node container (kind only): node-level actions go through Docker.
    pub container: Option<String>,
    /// The Node's labels, as the API has them (existing clusters; a kind node's come from its
    /// kind config).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A cluster to run on.
#[derive(Debug, Clone)]
pub struct ClusterHandle {
    pub name: String,
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    pub nodes: Vec<Node>,
    /// `kind` or `existing`.
    pub provider: &'static str,
    /// The Docker network the nodes are on (kind only).
    pub network: Option<String>,
}

/// A node's short name (`worker2`) from its container name (`<cluster>-worker2`).
pub fn short_name<'n>(cluster: &str, node: &'n str) -> &'n str {
    node.strip_prefix(cluster)
        .and_then(|s| s.strip_prefix('-'))
        .unwrap_or(node)
}

/// The node a reference names, among `nodes` (key, node), and the field it reads. `head` and
/// `rest` follow `nodes.`: a node's name (kind's short name or the whole one) and its field;
/// `role` and `<role>[<i>].<field>`; `label` and `<key>=<value>[<i>].<field>`, a node's labels
/// being the Node's own where the API gave them, else those `kind_config` gives it.
pub fn find_node<'n, 'r>(
    nodes: &[(&'n str, &'n Node)],
    cluster: &str,
    kind_config: &crate::kind_config::model::Cluster,
    head: &str,
    rest: &'r str,
) -> Option<(&'n Node, &'r str)> {
    use crate::scenario::node_ref;
    let (key, field) = match head {
        "role" => {
            let r = node_ref::parse(rest).ok()?;
            let pairs = nodes.iter().map(|(k, n)| (*k, n.role.as_str()));
            (node_ref::nth(pairs, r.role, r.index)?, r.field)
        }
        "label" => {
            let r = node_ref::parse_label(rest).ok()?;
            let kind = node_ref::kind_labels(kind_config);
            let has = |k: &str, n: &Node| {
                let labels = match n.labels.is_empty() {
                    true => kind.get(short_name(cluster, k)),
                    false => Some(&n.labels),
                };
                labels
                    .and_then(|l| l.get(r.key))
                    .is_some_and(|v| v == r.value)
            };
            let pairs = nodes.iter().map(|(k, n)| (*k, has(k, n)));
            (node_ref::nth_where(pairs, |h| *h, r.index)?, r.field)
        }
        name => {
            let (k, _) = nodes
                .iter()
                .find(|(k, _)| *k == name || short_name(cluster, k) == name)?;
            (*k, rest)
        }
    };
    let (_, n) = nodes.iter().find(|(k, _)| *k == key)?;
    Some((n, field))
}

/// A kind node as a scenario node: its addresses on the kind network.
pub fn from_kind(node: &KindNode, network: &str) -> Node {
    let (ipv4, ipv6) = node
        .container
        .addresses
        .get(network)
        .copied()
        .unwrap_or((None, None));
    Node {
        name: node.name.clone(),
        role: node.role.clone(),
        ipv4,
        ipv6,
        published: node.container.published.clone(),
        container: Some(node.container.id.clone()),
        labels: Default::default(),
    }
}

/// `node` (a kind node) as Docker has it now: a restart can change its published host ports.
pub async fn reread<E: Engine>(
    engine: &E,
    node: &Node,
    network: &str,
) -> Result<Node, crate::docker::error::DockerError> {
    let id = node.container.as_deref().unwrap_or(&node.name);
    let info = engine.inspect_container(id).await?;
    Ok(from_kind(
        &KindNode {
            name: node.name.clone(),
            role: node.role.clone(),
            container: info,
        },
        network,
    ))
}

/// A node from the API: the InternalIP addresses, and the role from the
/// `node-role.kubernetes.io/<role>` labels (`control-plane` when it has that one, else the
/// first other in name order, else `worker`).
pub fn from_api(node: &Value) -> Node {
    let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
    let roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flat_map(|l| l.keys())
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    let role = if roles.contains(&"control-plane") {
        "control-plane"
    } else {
        roles.iter().min().copied().unwrap_or("worker")
    };
    let mut ipv4 = None;
    let mut ipv6 = None;
    for a in node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if a["type"] != "InternalIP" {
            continue;
        }
        match a["address"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
            Some(ip @ IpAddr::V4(_)) if ipv4.is_none() => ipv4 = Some(ip),
            Some(ip @ IpAddr::V6(_)) if ipv6.is_none() => ipv6 = Some(ip),
            _ => {}
        }
    }
    Node {
        name,
        role: role.to_string(),
        ipv4,
        ipv6,
        published: Vec::new(),
        container: None,
        labels: node["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
    }
}

/// A cluster kindproof did not create: no lifecycle; nodes come from the API. Everything
/// kindproof makes there lives in its own namespaces, which the runner deletes.
pub struct ExistingCluster {
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
}

impl ExistingCluster {
    /// The cluster as its API server describes it: its nodes (sorted by name).
    pub async fn read(&self) -> Result<ClusterHandle, ClusterError> {
        let kube = Kube::connect(&self.kubeconfig, self.context.as_deref()).await?;
        let api: Api<ApiNode> = Api::all(kube.client.clone());
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(KubeError::from_kube(
                "list the nodes of",
                self.kubeconfig.display().to_string(),
            ))?;
        let mut nodes: Vec<Node> = list
            .items
            .iter()
            .map(|n| from_api(&serde_json::to_value(n).expect("a node serializes")))
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ClusterHandle {
            name: self
                .context
                .clone()
                .unwrap_or_else(|| "current-context".into()),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            nodes,
            provider: "existing",
            network: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_nodes_give_internal_addresses_and_roles() {
        let cp = from_api(&json!({
            "metadata": {"name": "kp-x-control-plane", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"addresses": [
                {"type": "Hostname", "address": "kp-x-control-plane"},
                {"type": "InternalIP", "address": "172.18.0.3"},
                {"type": "InternalIP", "address": "fc00:f853:ccd:e793::3"}]}}));
        assert_eq!(cp.role, "control-plane");
        assert_eq!(cp.ipv4, Some("172.18.0.3".parse().unwrap()));
        assert_eq!(cp.ipv6, Some("fc00:f853:ccd:e793::3".parse().unwrap()));
        assert_eq!(cp.container, None);
        let w = from_api(&json!({"metadata": {"name": "w", "labels": {}}, "status": {}}));
        assert_eq!((w.role.as_str(), w.ipv4), ("worker", None));
        let infra = from_api(&json!({"metadata": {"name": "i", "labels": {
            "node-role.kubernetes.io/monitoring": "", "node-role.kubernetes.io/infra": "true"}}}));
        assert_eq!(infra.role, "infra");
        assert_eq!(infra.labels["node-role.kubernetes.io/infra"], "true");
        let both = from_api(&json!({"metadata": {"name": "b", "labels": {
            "node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": ""}}}));
        assert_eq!(both.role, "control-plane");
    }
}
