//! Which cluster a group of `kindproof run` uses: the kind cluster `--cluster` names (nodes
//! from Docker), the one `--kubeconfig` reaches (nodes from the API), or one kind creates for
//! the group's shape (deleted if it never becomes Ready); none when no variant uses one. And
//! the sweep of what an interrupted run created.

use std::path::PathBuf;

use super::run_context::{Ctx, RunArgs};
use crate::cluster::kind::{cluster_name, node_image};
use crate::cluster::kind_network::network_name;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{
    ClusterHandle, ClusterProvider, ExistingCluster, KindCluster, from_kind,
};
use crate::cluster::state::{self, state_base};
use crate::commands::cluster::delete_recorded;
use crate::commands::cluster::{prepare, provider};
use crate::docker::api::Engine as _;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kube_ops::client::Kube;
use crate::runner::plan::{Group, Needs};
use crate::scenario::model::Scenario;

/// A cluster a group runs on, and whether this run owns it (deletes it).
pub(super) struct Acquired {
    pub handle: ClusterHandle,
    pub network: String,
    pub owned: bool,
}

/// How often a cluster is created anew when a host port it was given is taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

pub(super) async fn acquire(cx: Ctx<'_>, g: &Group, need: Needs) -> Result<Acquired, AppError> {
    let Ctx {
        engine,
        args,
        scenarios,
        run_id,
        version,
        recorder: _,
        stop: _,
    } = cx;
    let network = network_name();
    if let Some(name) = &args.cluster {
        // A kind cluster that exists (e.g. made by `up`): nodes from Docker.
        let nodes = kind_nodes(engine, name).await?;
        if nodes.is_empty() {
            return Err(crate::cluster::image_load::LoadError::NoNodes {
                cluster: name.clone(),
            }
            .into());
        }
        let recorded = state::kubeconfig(&state_base(), name);
        let kubeconfig = args.kubeconfig.clone().unwrap_or(recorded);
        if need.api && !kubeconfig.is_file() {
            return Err(AppError::InvalidInput(format!(
                "cluster {name} has no kubeconfig kindproof knows; name one with --kubeconfig"
            )));
        }
        return Ok(Acquired {
            handle: ClusterHandle {
                name: name.clone(),
                kubeconfig,
                context: args.context.clone(),
                nodes: nodes.iter().map(|n| from_kind(n, &network)).collect(),
                provider: "kind",
                network: Some(network.clone()),
            },
            network,
            owned: false,
        });
    }
    if let Some(kubeconfig) = &args.kubeconfig {
        let handle = ExistingCluster {
            kubeconfig: kubeconfig.clone(),
            context: args.context.clone(),
        }
        .acquire()
        .await?;
        return Ok(Acquired {
            handle,
            network,
            owned: false,
        });
    }
    let first = &scenarios[g.picks[0].scenario];
    let image = node_image(engine, args.image.as_deref().or(g.image.as_deref())).await?;
    let stem = g
        .config_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| first.name.clone());
    let name = cluster_name(&stem, &format!("{run_id}{}", group_index(g, scenarios)));
    let spec = first.cluster_of(&first.variants[g.picks[0].variant]);
    // Docker hands out random host ports (hostPort -1, other jobs' containers) from the range
    // kindproof picks in: a port picked and released can be taken before kind binds it. Then
    // the half-made cluster goes and the ports are picked again.
    let mut attempt = 1;
    let (handle, resolution) = loop {
        let (req, resolution) = prepare(
            engine,
            &spec.config,
            version,
            &name,
            image.clone(),
            run_id,
            false,
            args.wait,
        )
        .await?;
        crate::errln!(
            "kindproof: creating kind cluster {name} for {}",
            g.config_file.display()
        );
        let cluster = KindCluster {
            provider: provider(engine),
            request: req,
            wait_ready: need.api,
        };
        match cluster.acquire().await {
            Ok(h) => break (h, resolution),
            Err(e) => {
                // Created but never Ready (or half made): it must not stay behind.
                let kubeconfig = cluster.request.dir.join("kubeconfig");
                let _ = cluster.provider.delete(&name, Some(&kubeconfig)).await;
                let _ = state::remove(&state_base(), &name);
                if attempt < PORT_ATTEMPTS && e.to_string().contains("port is already allocated") {
                    crate::errln!(
                        "kindproof: a host port of {name} was taken meanwhile: picking again (attempt {} of {PORT_ATTEMPTS})",
                        attempt + 1
                    );
                    attempt += 1;
                    continue;
                }
                return Err(e.into());
            }
        }
    };
    drop(resolution);
    Ok(Acquired {
        network: handle.network.clone().unwrap_or_else(network_name),
        handle,
        owned: true,
    })
}

/// What a group of variants that use no cluster runs on: nothing.
pub(super) fn no_cluster() -> Acquired {
    Acquired {
        handle: ClusterHandle {
            name: "(no cluster)".into(),
            kubeconfig: PathBuf::new(),
            context: None,
            nodes: Vec::new(),
            provider: "none",
            network: None,
        },
        network: network_name(),
        owned: false,
    }
}

/// A short suffix telling this run's clusters apart.
fn group_index(g: &Group, scenarios: &[Scenario]) -> String {
    let key = format!(
        "{}{}",
        g.config_file.display(),
        g.picks
            .iter()
            .map(|p| scenarios[p.scenario].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let h = crate::fnv::fnv1a(key.as_bytes());
    format!("{:x}", h & 0xf)
}

/// Remove whatever this run created that is still there (after an interrupt): its clusters
/// and labelled containers.
pub(super) async fn sweep(engine: &BollardEngine, run_id: &str, args: &RunArgs) {
    let base = state_base();
    // On a borrowed cluster the run's namespaces outlive it unless deleted here (background
    // deletion; the run does not wait for it).
    let borrowed = match (&args.kubeconfig, &args.cluster) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(name)) => Some(state::kubeconfig(&base, name)),
        (None, None) => None,
    };
    if let Some(kubeconfig) = borrowed.filter(|k| k.is_file())
        && let Ok(kube) = Kube::connect(&kubeconfig, args.context.as_deref()).await
    {
        use k8s_openapi::api::core::v1::Namespace;
        let api: kube::Api<Namespace> = kube::Api::all(kube.client.clone());
        let label = crate::labels::run_filter(run_id);
        if let Ok(list) = api
            .list(&kube::api::ListParams::default().labels(&label))
            .await
        {
            for ns in list.items.into_iter().filter_map(|n| n.metadata.name) {
                let _ = api
                    .delete(&ns, &kube::api::DeleteParams::background())
                    .await;
            }
        }
    }
    for rec in state::all(&base) {
        if rec.run_id == run_id && !rec.keep {
            let _ = delete_recorded(engine, &base, &rec.name).await;
        }
    }
    if let Ok(list) = engine
        .list_containers(&crate::labels::run_filter(run_id))
        .await
    {
        for c in list {
            let _ = engine.remove_container(&c.id).await;
        }
    }
}
