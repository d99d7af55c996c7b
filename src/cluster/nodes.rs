//! The nodes of a kind cluster, found through Docker by the labels kind puts on its node
//! containers; no kind CLI needed.

use crate::docker::api::{ContainerInfo, Engine};
use crate::docker::error::DockerError;

/// kind's label naming a node container's cluster.
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// kind's label naming a node container's role (`control-plane`, `worker`, …).
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// One node container of a kind cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindNode {
    /// The container name, which is also the Kubernetes node name.
    pub name: String,
    pub role: String,
    pub container: ContainerInfo,
}

/// The node containers of cluster `cluster`, sorted by name (control-plane first, as kind
/// names them `<cluster>-control-plane`, `<cluster>-worker`, `<cluster>-worker2`).
pub async fn kind_nodes<E: Engine>(
    engine: &E,
    cluster: &str,
) -> Result<Vec<KindNode>, DockerError> {
    let mut nodes: Vec<KindNode> = engine
        .list_containers(&format!("{CLUSTER_LABEL}={cluster}"))
        .await?
        .into_iter()
        .map(|c| KindNode {
            name: c.name.clone(),
            role: c.labels.get(ROLE_LABEL).cloned().unwrap_or_default(),
            container: c,
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nodes)
}
