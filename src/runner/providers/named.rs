//! `--cluster NAME`: a kind cluster that exists already (made by `up`, say), borrowed. Its
//! nodes come from Docker, its kubeconfig from kindproof's record or `--kubeconfig`; the run
//! never deletes it.

use std::path::PathBuf;

use super::super::cleanup::Cleanup;
use super::super::cluster_backend::ClusterBackend;
use super::super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::{cluster_backend, load_into_kind, refresh_kind};
use crate::cluster::image_load::LoadError;
use crate::cluster::kind_network::network_name;
use crate::cluster::lifecycle::delete_recorded;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{ClusterHandle, Node, from_kind};
use crate::cluster::state::{self, ClusterRecord, state_base};
use crate::docker::api::Engine;
use crate::exit::AppError;

pub struct NamedKind<'e, E: Engine> {
    pub engine: &'e E,
    pub name: String,
    /// `--kubeconfig`, else the one kindproof recorded for the cluster.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl<E: Engine> NamedKind<'_, E> {
    fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig
            .clone()
            .unwrap_or_else(|| state::kubeconfig(&state_base(), &self.name))
    }
}

impl<E: Engine> ClusterProvider for NamedKind<'_, E> {
    type Backend<'a>
        = ClusterBackend<'a, E>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        state::KIND_PROVIDER
    }

    async fn preflight(&self, shape: &Shape<'_>) -> Result<(), AppError> {
        if kind_nodes(self.engine, &self.name).await?.is_empty() {
            return Err(LoadError::NoNodes {
                cluster: self.name.clone(),
            }
            .into());
        }
        if shape.need.api && !self.kubeconfig().is_file() {
            return Err(AppError::InvalidInput(format!(
                "cluster {} has no kubeconfig kindproof knows; name one with --kubeconfig",
                self.name
            )));
        }
        Ok(())
    }

    async fn acquire<'p>(&'p self, _: &Shape<'_>, _: &Cleanup<'p>) -> Result<Acquired, AppError> {
        let network = network_name();
        let nodes = kind_nodes(self.engine, &self.name).await?;
        Ok(Acquired {
            handle: ClusterHandle {
                name: self.name.clone(),
                kubeconfig: self.kubeconfig(),
                context: self.context.clone(),
                nodes: nodes.iter().map(|n| from_kind(n, &network)).collect(),
                provider: state::KIND_PROVIDER,
                network: Some(network),
            },
            owned: None,
        })
    }

    async fn load_images(
        &self,
        cluster: &ClusterHandle,
        images: &[String],
    ) -> Result<(), AppError> {
        load_into_kind(self.engine, &cluster.name, images).await
    }

    fn backend<'a>(&'a self, cluster: &ClusterHandle, session: Session) -> Self::Backend<'a> {
        cluster_backend(self.engine, cluster, session)
    }

    async fn refresh_node(&self, cluster: &ClusterHandle, node: &Node) -> Result<Node, AppError> {
        refresh_kind(self.engine, cluster, node).await
    }

    fn keep(&self, _: &ClusterHandle) -> Result<(), AppError> {
        // Borrowed: it stays whatever happens.
        Ok(())
    }

    async fn delete_record(&self, record: &ClusterRecord) -> Result<(), AppError> {
        delete_recorded(self.engine, &state_base(), &record.name).await
    }
}
