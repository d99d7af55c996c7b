//! The kind provider: one kind cluster per shape (kind config and node image), created for the
//! run and deleted after it unless kept. Its host ports are resolved and reserved before kind
//! runs; a cluster that lost a host port to Docker's own random pick meanwhile is made again
//! with ports picked anew; one that never becomes Ready is deleted before the error returns.

use std::time::Duration;

use super::super::cleanup::{Cleanup, Token};
use super::super::cluster_backend::ClusterBackend;
use super::super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::super::reporter::{Event, Reporters};
use super::{cluster_backend, load_into_kind, refresh_kind, wait_ready};
use crate::cluster::kind::{Created, cluster_name, node_image};
use crate::cluster::lifecycle::{Prepare, delete_recorded, kind_provider, mark_kept, prepare};
use crate::cluster::provider::{ClusterHandle, Node, from_kind};
use crate::cluster::state::{self, ClusterRecord, state_base};
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::kind_config::version::KindVersion;

/// How often a cluster is created anew when a host port it was given is taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// How long deleting one cluster may take before the run gives up on it (and says so).
pub const DELETE_BOUND: Duration = Duration::from_secs(180);

pub struct KindShapes<'e, E: Engine> {
    pub engine: &'e E,
    /// The rules kind configs are judged by (the installed kind's).
    pub version: KindVersion,
    /// How long kind and kindproof wait for a created cluster to be ready.
    pub wait: Duration,
    /// `--pull`: kind may pull a node image that is not here.
    pub pull: bool,
}

impl<E: Engine> ClusterProvider for KindShapes<'_, E> {
    type Backend<'a>
        = ClusterBackend<'a, E>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        state::KIND_PROVIDER
    }

    async fn preflight(&self, shape: &Shape<'_>) -> Result<(), AppError> {
        // An absent node image is refused before kind runs: kind would pull it.
        node_image(self.engine, shape.group.image.as_deref(), self.pull).await?;
        Ok(())
    }

    async fn acquire<'p>(
        &'p self,
        shape: &Shape<'_>,
        cleanup: &Cleanup<'p>,
    ) -> Result<Acquired, AppError> {
        let (g, scenarios) = (shape.group, shape.scenarios);
        let first = &scenarios[g.picks[0].scenario];
        let image = node_image(self.engine, g.image.as_deref(), self.pull).await?;
        let stem = g
            .config_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.name.clone());
        let name = cluster_name(&stem, &format!("{}{:x}", shape.run_id, shape.index));
        let spec = first.cluster_of(&first.variants[g.picks[0].variant]);
        let made = make(
            self.engine,
            Make {
                config: &spec.config,
                config_file: &g.config_file,
                version: self.version,
                name: &name,
                image,
                run_id: shape.run_id,
                wait: self.wait,
                wait_ready: shape.need.api,
            },
            shape.events,
            Some(cleanup),
        )
        .await?;
        Ok(Acquired {
            handle: handle_of(&made.0),
            owned: made.1,
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

    fn keep(&self, cluster: &ClusterHandle) -> Result<(), AppError> {
        mark_kept(&state_base(), &cluster.name)
    }

    async fn delete_record(&self, record: &ClusterRecord) -> Result<(), AppError> {
        delete_recorded(self.engine, &state_base(), &record.name).await
    }
}

/// What a kind cluster to make is.
#[derive(Clone)]
pub struct Make<'a> {
    pub config: &'a crate::kind_config::model::Cluster,
    pub config_file: &'a std::path::Path,
    pub version: KindVersion,
    pub name: &'a str,
    pub image: crate::cluster::kind::NodeImage,
    pub run_id: &'a str,
    pub wait: Duration,
    /// Wait until every node is Ready through the API (kind's `--wait` covers the control
    /// plane only; scenarios pin pods to workers).
    pub wait_ready: bool,
}

/// What a run sees of a kind cluster kind just made.
pub fn handle_of(created: &Created) -> ClusterHandle {
    ClusterHandle {
        name: created.name.clone(),
        kubeconfig: created.kubeconfig.clone(),
        context: Some(format!("kind-{}", created.name)),
        nodes: created
            .nodes
            .iter()
            .map(|n| from_kind(n, &created.network))
            .collect(),
        provider: state::KIND_PROVIDER,
        network: Some(created.network.clone()),
    }
}

/// Make kind cluster `m.name`: host ports resolved and reserved, the cluster created, and
/// picked again when Docker took a port meanwhile (up to 3 times). With `cleanup`, the
/// cluster is on that stack before kind runs (a stop that cuts the create short leaves it
/// there) and its token comes back; without, a failed attempt is deleted here.
pub async fn make<'p, E: Engine>(
    engine: &'p E,
    m: Make<'_>,
    events: &Reporters,
    cleanup: Option<&Cleanup<'p>>,
) -> Result<(Created, Option<Token>), AppError> {
    let name = m.name;
    if let Some(n) = m.image.notice() {
        events.emit(&Event::Notice(n));
    }
    // Docker hands out random host ports (hostPort -1, other jobs' containers) from the
    // range kindproof picks in: a port picked and released can be taken before kind binds
    // it. Then the half-made cluster goes and the ports are picked again.
    let mut attempt = 1;
    loop {
        let (req, resolution) = prepare(
            engine,
            Prepare {
                config: m.config,
                version: m.version,
                name,
                image: m.image.clone(),
                run_id: m.run_id,
                keep: false,
                wait: m.wait,
            },
        )
        .await?;
        let token = cleanup.map(|c| {
            let name = name.to_string();
            c.push(format!("kind cluster {name}"), async move {
                delete_recorded(engine, &state_base(), &name)
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        events.emit(&Event::ClusterCreating {
            name,
            config: m.config_file,
        });
        let made = async {
            let created = kind_provider(engine).create(&req).await?;
            if m.wait_ready {
                wait_ready(&created.kubeconfig, created.nodes.len(), m.wait).await?;
            }
            Ok::<_, AppError>(created)
        }
        .await;
        // The reservations end here: kind has bound the ports, or failed to.
        drop(resolution);
        match made {
            Ok(created) => return Ok((created, token)),
            Err(e) => {
                // Created but never Ready (or half made): it must not stay behind.
                match (cleanup, token) {
                    (Some(c), Some(t)) => {
                        let _ = c.release(t, DELETE_BOUND).await;
                    }
                    _ => {
                        let _ = delete_recorded(engine, &state_base(), name).await;
                    }
                }
                if attempt < PORT_ATTEMPTS && e.to_string().contains("port is already allocated") {
                    events.emit(&Event::Notice(format!(
                        "a host port of {name} was taken meanwhile: picking again (attempt {} of {PORT_ATTEMPTS})",
                        attempt + 1
                    )));
                    attempt += 1;
                    continue;
                }
                return Err(e);
            }
        }
    }
}
