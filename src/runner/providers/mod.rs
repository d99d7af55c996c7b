//! The cluster providers a run can use (see [`super::provider::ClusterProvider`]): `kind`
//! creates a cluster per shape, `named` borrows a kind cluster by name (`--cluster`),
//! `existing` borrows whatever a kubeconfig reaches (`--kubeconfig`), `pool` leases one from
//! the host-wide pool. What several of them share (the real backend, a kind cluster's handle,
//! waiting for its nodes, loading images into them, reading a node again) is here.

pub mod existing;
pub mod kind;
pub mod named;
pub mod pool;

use super::cluster_backend::ClusterBackend;
use super::provider::Session;
use crate::cluster::kind_network::network_name;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{ClusterHandle, Node, from_kind, reread};
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

/// Kind cluster `name` as Docker has it now: its nodes, with their addresses on kind's network.
pub(crate) async fn kind_handle<E: Engine>(
    engine: &E,
    name: &str,
    kubeconfig: std::path::PathBuf,
    context: Option<String>,
) -> Result<ClusterHandle, AppError> {
    let network = network_name();
    let nodes = kind_nodes(engine, name).await?;
    Ok(ClusterHandle {
        name: name.to_string(),
        kubeconfig,
        context,
        nodes: nodes.iter().map(|n| from_kind(n, &network)).collect(),
        provider: crate::cluster::state::KIND_PROVIDER,
        network: Some(network),
    })
}

/// Wait until the `nodes` nodes of the cluster `kubeconfig` reaches are Ready (kind's `--wait`
/// covers the control plane only; scenarios pin pods to workers).
pub(crate) async fn wait_ready(
    kubeconfig: &std::path::Path,
    nodes: usize,
    wait: std::time::Duration,
) -> Result<(), AppError> {
    use crate::cluster::kind::ClusterError;
    let kube = crate::kube_ops::client::Kube::connect(kubeconfig, None)
        .await
        .map_err(ClusterError::from)?;
    crate::kube_ops::pods::wait_nodes_ready(
        &kube,
        nodes,
        wait,
        std::time::Duration::from_millis(500),
    )
    .await
    .map_err(ClusterError::from)?;
    Ok(())
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
