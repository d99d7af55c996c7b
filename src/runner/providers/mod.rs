//! The cluster providers a run can use (see [`super::provider::ClusterProvider`]): `kind`
//! creates a cluster per shape, `named` borrows a kind cluster by name (`--cluster`),
//! `existing` borrows whatever a kubeconfig reaches (`--kubeconfig`). What two of them share
//! (the real backend, loading images into kind nodes) is here.

pub mod existing;
pub mod kind;
pub mod named;
pub mod pool;

use super::cluster_backend::ClusterBackend;
use super::provider::Session;
use crate::cluster::kind_network::network_name;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{ClusterHandle, Node, reread};
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::labels::for_run;

/// The real backend on `cluster`: the API through the session's client, nodes through Docker.
pub(crate) fn cluster_backend<'e, E: Engine>(
    engine: &'e E,
    cluster: &ClusterHandle,
    session: Session,
) -> ClusterBackend<'e, E> {
    ClusterBackend {
        engine,
        kube: session.kube,
        network: cluster.network.clone().unwrap_or_else(network_name),
        probe_bin: session.probe_bin,
        probe_image: session.probe_image,
        labels: for_run(&session.run_id),
        run_id: session.run_id,
        live: session.live,
    }
}

/// A kind node as Docker has it now (its ports can move when it restarts).
pub(crate) async fn refresh_kind<E: Engine>(
    engine: &E,
    cluster: &ClusterHandle,
    node: &Node,
) -> Result<Node, AppError> {
    let network = cluster.network.clone().unwrap_or_else(network_name);
    Ok(reread(engine, node, &network).await?)
}

/// Every image onto every node of kind cluster `name`, all at once.
pub(crate) async fn load_into_kind<E: Engine>(
    engine: &E,
    name: &str,
    images: &[String],
) -> Result<(), AppError> {
    let nodes = kind_nodes(engine, name).await?;
    let loads = images
        .iter()
        .map(|image| crate::cluster::image_load::load_image(engine, image, &nodes));
    for loaded in futures_util::future::join_all(loads).await {
        loaded?;
    }
    Ok(())
}
