//! The nodes of a kind cluster, found through Docker by the labels kind puts on its node
//! containers; no kind CLI needed.

use crate::docker::api::{ContainerInfo, Engine, ExecOutput};
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

/// Node-level actions through Docker (kind only): each returns the node as Docker has it
/// afterwards, so ports Docker picked (`-1` mappings) are read again — a restart changes them.
impl KindNode {
    async fn reread<E: Engine>(&self, engine: &E) -> Result<KindNode, DockerError> {
        let container = engine.inspect_container(&self.container.id).await?;
        Ok(KindNode {
            container,
            ..self.clone()
        })
    }

    /// `docker restart` with `timeout_secs` before the kill (kind nodes take Docker's 10 s:
    /// systemd ignores the stop signal).
    pub async fn restart<E: Engine>(
        &self,
        engine: &E,
        timeout_secs: i32,
    ) -> Result<KindNode, DockerError> {
        engine
            .restart_container(&self.container.id, timeout_secs)
            .await?;
        self.reread(engine).await
    }

    pub async fn pause<E: Engine>(&self, engine: &E) -> Result<KindNode, DockerError> {
        engine.pause_container(&self.container.id).await?;
        self.reread(engine).await
    }

    pub async fn unpause<E: Engine>(&self, engine: &E) -> Result<KindNode, DockerError> {
        engine.unpause_container(&self.container.id).await?;
        self.reread(engine).await
    }

    /// Run a command in the node container.
    pub async fn exec<E: Engine>(
        &self,
        engine: &E,
        command: &[String],
    ) -> Result<ExecOutput, DockerError> {
        engine.exec(&self.container.id, command, None).await
    }
}
