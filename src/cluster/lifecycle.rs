//! The steps around a kind cluster's lifecycle that `up`, `down`, `clean` and the run's kind
//! providers share: the kind provider for an engine, everything before `kind create cluster`
//! (a free name, host ports resolved and reserved, a record), marking a record kept, and
//! deleting a recorded cluster.

use std::path::Path;
use std::time::Duration;

use super::kind::{CreateRequest, KindProvider};
use super::nodes::kind_nodes;
use super::state::{self, ClusterRecord, state_base};
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::kind_cli::kind_bin;
use crate::ports::plan::plan;
use crate::ports::reserve::{ReservationDir, runtime_base};
use crate::ports::resolve::{Resolution, Resolver};

/// The kind CLI driven for `engine`, with kindproof's host-wide locks.
pub fn kind_provider<E: Engine>(engine: &E) -> KindProvider<'_, E> {
    KindProvider {
        engine,
        kind_bin: kind_bin(),
        lock_dir: runtime_base().join("locks"),
    }
}

/// What a cluster to create is: its name, config, node image, run and how long to wait.
pub struct Prepare<'a> {
    pub config: &'a crate::kind_config::model::Cluster,
    pub version: crate::kind_config::version::KindVersion,
    pub name: &'a str,
    pub image: crate::cluster::kind::NodeImage,
    pub run_id: &'a str,
    /// Recorded as kept (`up`): `clean` leaves it.
    pub keep: bool,
    pub wait: Duration,
}

/// Everything before `kind create cluster`: the name is free, the host ports are resolved and
/// reserved, the cluster is recorded (its private directory made). The resolution's sockets
/// are released (Docker binds the ports next); its reservations live as long as it does.
pub async fn prepare<E: Engine>(
    engine: &E,
    p: Prepare<'_>,
) -> Result<(CreateRequest, Resolution), AppError> {
    let name = p.name;
    if !kind_nodes(engine, name).await?.is_empty() {
        return Err(AppError::InvalidInput(format!(
            "a kind cluster named {name} exists already"
        )));
    }
    let dir = ReservationDir::default_location()
        .map_err(AppError::io("create the port reservation directory"))?;
    let mut resolution = Resolver::new(dir).resolve(&plan(p.config, p.version.rules()))?;
    let resolved = resolution.apply_to(p.config);
    let base = state_base();
    let cluster_dir = state::create(&base, &ClusterRecord::new(name, p.run_id, p.keep)).map_err(
        AppError::io(format!("record cluster {name} under {}", base.display())),
    )?;
    resolution.release_sockets();
    Ok((
        CreateRequest {
            name: name.to_string(),
            config: resolved,
            image: p.image,
            dir: cluster_dir,
            wait: p.wait,
        },
        resolution,
    ))
}

/// Mark the record of `name` kept, so that `clean` and the sweep leave the cluster.
pub fn mark_kept(base: &Path, name: &str) -> Result<(), AppError> {
    let Some(mut rec) = state::read(base, name) else {
        return Ok(());
    };
    rec.keep = true;
    let dir = state::cluster_dir(base, &rec.name);
    let bytes = serde_json::to_vec_pretty(&rec).unwrap_or_default();
    std::fs::write(dir.join("cluster.json"), bytes)
        .map_err(AppError::io(format!("mark cluster {name} kept")))
}

/// Delete kind cluster `name` (with its own kubeconfig when kindproof has one) and forget
/// kindproof's record of it.
pub async fn delete_recorded<E: Engine>(
    engine: &E,
    base: &Path,
    name: &str,
) -> Result<(), AppError> {
    let kubeconfig = state::kubeconfig(base, name);
    kind_provider(engine)
        .delete(name, kubeconfig.exists().then_some(kubeconfig.as_path()))
        .await?;
    state::remove(base, name).map_err(AppError::io(format!("forget cluster {name}")))
}
