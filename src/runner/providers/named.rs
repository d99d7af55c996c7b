//! `--cluster NAME`: a kind cluster that exists already (made by `up`, say), borrowed. Its
//! nodes come from Docker, its kubeconfig from kindproof's record or `--kubeconfig`; the run
//! never deletes it.

use std::path::PathBuf;

use super::super::cleanup::Cleanup;
use super::super::cluster_backend::ClusterBackend;
use super::super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::{cluster_backend, kind_handle, load_into_kind, refresh_kind};
use crate::cluster::image_load::LoadError;
use crate::cluster::lifecycle::delete_recorded;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{ClusterHandle, Node};
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
        let (kubeconfig, context) = (self.kubeconfig(), self.context.clone());
        Ok(Acquired {
            handle: kind_handle(self.engine, &self.name, kubeconfig, context).await?,
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
