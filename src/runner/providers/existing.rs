//! `--kubeconfig FILE`: whatever cluster a kubeconfig reaches (a shared CI cluster, k3d, a
//! real one), borrowed. Nodes come from the API; there are no node containers, so node actions
//! and image loads are not this provider's; the run never deletes anything but its namespaces.

use super::super::cleanup::Cleanup;
use super::super::cluster_backend::ClusterBackend;
use super::super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::cluster_backend;
use crate::cluster::provider::{ClusterHandle, ExistingCluster, Node};
use crate::cluster::state::ClusterRecord;
use crate::docker::api::Engine;
use crate::exit::AppError;

/// What `--kubeconfig` records name (none is ever made: the name is for `down`'s refusal).
pub const EXISTING_PROVIDER: &str = "existing";

pub struct Existing<'e, E: Engine> {
    /// For probes from the host.
    pub engine: &'e E,
    pub cluster: ExistingCluster,
}

impl<E: Engine> ClusterProvider for Existing<'_, E> {
    type Backend<'a>
        = ClusterBackend<'a, E>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        EXISTING_PROVIDER
    }

    async fn preflight(&self, _: &Shape<'_>) -> Result<(), AppError> {
        Ok(())
    }

    async fn acquire<'p>(&'p self, _: &Shape<'_>, _: &Cleanup<'p>) -> Result<Acquired, AppError> {
        Ok(Acquired {
            handle: self.cluster.read().await?,
            owned: None,
        })
    }

    async fn load_images(&self, _: &ClusterHandle, _: &[String]) -> Result<(), AppError> {
        // Its nodes are not Docker's: the cluster pulls by its own rules.
        Ok(())
    }

    fn backend<'a>(&'a self, cluster: &ClusterHandle, session: Session) -> Self::Backend<'a> {
        cluster_backend(self.engine, cluster, session)
    }

    async fn refresh_node(&self, _: &ClusterHandle, node: &Node) -> Result<Node, AppError> {
        let now = self.cluster.read().await?;
        now.nodes
            .into_iter()
            .find(|n| n.name == node.name)
            .ok_or_else(|| {
                AppError::Environment(format!("node {} is gone from the cluster", node.name))
            })
    }

    fn keep(&self, _: &ClusterHandle) -> Result<(), AppError> {
        Ok(())
    }

    async fn delete_record(&self, record: &ClusterRecord) -> Result<(), AppError> {
        Err(AppError::InvalidInput(format!(
            "cluster {} is borrowed through a kubeconfig: kindproof deletes none",
            record.name
        )))
    }
}
