//! The pool provider (`run --pool`, and the nextest harness): one kind cluster per shape,
//! leased from the cross-process pool (`crate::pool`) instead of made for this run. The first
//! process that needs a shape makes it; the others reuse it; it stays warm for the pool's TTL
//! after the last lease. Variants take their cluster-wide claims across processes too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::super::claims::Claims;
use super::super::cleanup::Cleanup;
use super::super::cluster_backend::ClusterBackend;
use super::super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::super::reporter::Reporters;
use super::kind::{Make, make};
use super::{cluster_backend, kind_handle, load_into_kind, refresh_kind, wait_ready};
use crate::cluster::kind::node_image;
use crate::cluster::lifecycle::{delete_recorded, mark_kept};
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{ClusterHandle, Node};
use crate::cluster::state::{self, ClusterRecord, state_base};
use crate::docker::api::Engine;
use crate::exit::AppError;
use crate::kind_config::version::KindVersion;
use crate::pool::{Hold, Holder, Lease, Maker, Pool, ShapeState, shape_of};

pub struct Pooled<'e, E: Engine> {
    pub engine: &'e E,
    pub version: KindVersion,
    pub wait: Duration,
    /// `--pull`: kind may pull a node image that is not here.
    pub pull: bool,
    pub pool: Pool,
    /// The leases this run holds, by cluster.
    pub leases: Mutex<BTreeMap<String, Arc<Lease>>>,
}

impl<'e, E: Engine> Pooled<'e, E> {
    pub fn new(engine: &'e E, version: KindVersion, wait: Duration, pool: Pool) -> Self {
        Self {
            engine,
            version,
            wait,
            pull: false,
            pool,
            leases: Mutex::new(BTreeMap::new()),
        }
    }

    /// Delete the pool's shapes idle past their TTL first (whoever comes next cleans up); a
    /// failure to is a notice, not the run's.
    pub async fn prune_expired(&self, events: &Reporters) {
        let expired = KindMaker {
            engine: self.engine,
            make: None,
        };
        if let Err(e) = self.pool.prune(&expired, false).await {
            events.emit(&super::super::reporter::Event::Notice(format!(
                "pool: pruning idle clusters: {e}"
            )));
        }
    }

    fn lease(&self, cluster: &str) -> Option<Arc<Lease>> {
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
            .cloned()
    }
}

/// Makes, checks and deletes pooled kind clusters.
pub struct KindMaker<'a, E: Engine> {
    pub engine: &'a E,
    /// What `create` makes (`None`: this maker only checks and deletes).
    pub make: Option<(Make<'a>, &'a Reporters)>,
}

impl<E: Engine> Maker for KindMaker<'_, E> {
    async fn create(&self, key: &str, name: &str) -> Result<ShapeState, AppError> {
        let Some((m, events)) = &self.make else {
            return Err(AppError::InvalidInput(format!(
                "pool shape {key} has no cluster, and nothing here says how to make one"
            )));
        };
        let name = name.to_string();
        let m = Make {
            name: &name,
            ..m.clone()
        };
        let (config, image) = (m.config_file.display().to_string(), m.image.name.clone());
        let (created, _) = make(self.engine, m, events, None).await?;
        // The pool owns it now: `clean` and a run's sweep leave it; `pool prune` deletes it.
        mark_kept(&state_base(), &name)?;
        let now = crate::pool::state::unix_now();
        Ok(ShapeState {
            key: key.to_string(),
            cluster: name,
            kubeconfig: created.kubeconfig,
            config,
            image,
            created: now,
            last_used: now,
            holders: Vec::new(),
        })
    }

    async fn exists(&self, s: &ShapeState) -> bool {
        kind_nodes(self.engine, &s.cluster)
            .await
            .is_ok_and(|n| !n.is_empty())
    }

    async fn delete(&self, s: &ShapeState) -> Result<(), AppError> {
        delete_recorded(self.engine, &state_base(), &s.cluster).await
    }

    async fn sweep(&self, s: &ShapeState, dead: &[Holder]) -> Result<(), AppError> {
        for h in dead {
            let label = crate::labels::run_filter(&h.run_id);
            for c in self.engine.list_containers(&label).await? {
                self.engine.remove_container(&c.id).await?;
            }
            if s.kubeconfig.is_file() {
                sweep_namespaces(&s.kubeconfig, &label).await?;
            }
        }
        Ok(())
    }
}

/// Delete (in the background) the namespaces carrying `label` on the cluster `kubeconfig`
/// reaches.
async fn sweep_namespaces(kubeconfig: &std::path::Path, label: &str) -> Result<(), AppError> {
    use k8s_openapi::api::core::v1::Namespace;
    let kube = crate::kube_ops::client::Kube::connect(kubeconfig, None)
        .await
        .map_err(crate::cluster::kind::ClusterError::from)?;
    let api: kube::Api<Namespace> = kube::Api::all(kube.client.clone());
    let list = api
        .list(&kube::api::ListParams::default().labels(label))
        .await
        .map_err(|e| AppError::Environment(format!("list the namespaces of {label}: {e}")))?;
    for ns in list.items.into_iter().filter_map(|n| n.metadata.name) {
        let _ = api
            .delete(&ns, &kube::api::DeleteParams::background())
            .await;
    }
    Ok(())
}

impl<E: Engine> ClusterProvider for Pooled<'_, E> {
    type Backend<'a>
        = ClusterBackend<'a, E>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        state::KIND_PROVIDER
    }

    async fn preflight(&self, shape: &Shape<'_>) -> Result<(), AppError> {
        node_image(self.engine, shape.group.image.as_deref(), self.pull).await?;
        Ok(())
    }

    async fn acquire<'p>(
        &'p self,
        shape: &Shape<'_>,
        cleanup: &Cleanup<'p>,
    ) -> Result<Acquired, AppError> {
        let g = shape.group;
        let first = &shape.scenarios[g.picks[0].scenario];
        let spec = first.cluster_of(&first.variants[g.picks[0].variant]);
        let image = node_image(self.engine, g.image.as_deref(), self.pull).await?;
        let key = shape_of(&spec.config_file, &image.name, &self.version.to_string())?;
        let maker = KindMaker {
            engine: self.engine,
            make: Some((
                Make {
                    config: &spec.config,
                    config_file: &g.config_file,
                    version: self.version,
                    name: "",
                    image,
                    run_id: shape.run_id,
                    wait: self.wait,
                    wait_ready: shape.need.api,
                },
                shape.events,
            )),
        };
        let lease = Arc::new(self.pool.lease(&maker, &key, shape.run_id).await?);
        if let Some(why) = &lease.unswept {
            shape
                .events
                .emit(&super::super::reporter::Event::Notice(format!(
                    "pool: {why}"
                )));
        }
        let s = &lease.state;
        let context = Some(format!("kind-{}", s.cluster));
        let handle = kind_handle(self.engine, &s.cluster, s.kubeconfig.clone(), context).await?;
        if shape.need.api && !lease.created {
            // Made by a run that needed no API server: its nodes may not be Ready yet.
            wait_ready(&s.kubeconfig, handle.nodes.len(), self.wait).await?;
        }
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle.name.clone(), lease.clone());
        // Releasing gives the lease back; the cluster stays warm.
        let token = cleanup.push(
            format!("lease on pooled cluster {}", handle.name),
            async move { lease.release().await.map_err(|e| e.to_string()) },
        );
        Ok(Acquired {
            handle,
            owned: Some(token),
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

    async fn hold(&self, cluster: &ClusterHandle, claims: &Claims) -> Result<Hold, AppError> {
        match self.lease(&cluster.name) {
            Some(l) => l.hold(&claims.keys(), claims.alone.is_some()).await,
            None => Ok(Hold::default()),
        }
    }

    fn keep(&self, _: &ClusterHandle) -> Result<(), AppError> {
        // A pooled cluster stays anyway; kept, this run's lease lasts as long as it does.
        Ok(())
    }

    async fn delete_record(&self, record: &ClusterRecord) -> Result<(), AppError> {
        delete_recorded(self.engine, &state_base(), &record.name).await
    }
}
