//! `kindproof up`, `down` and `clean`: one cluster by hand for local reproduction, and the sweep
//! of what dead runs left behind.

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::kind::{
    ClusterError, Created, check_kind, check_provider, cluster_name, node_image,
};
use crate::cluster::lifecycle::{delete_recorded, kind_provider, mark_kept};
use crate::cluster::nodes::kind_nodes;
use crate::cluster::state::{self, pid_alive, state_base};
use crate::commands::ports::usable_config;
use crate::docker::api::Engine;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::labels::{MANAGED, PID, RUN_ID, new_run_id};
use crate::runner::cleanup::Cleanup;
use crate::runner::providers::kind::{DELETE_BOUND, Make, make};
use crate::runner::reporter::{Event, Reporter, Reporters};
use crate::signals::Signals;

pub struct UpArgs {
    pub config: PathBuf,
    pub name: Option<String>,
    pub image: Option<String>,
    /// `--pull`: kind may pull the node image.
    pub pull: bool,
    pub wait: Duration,
    pub export_kubeconfig: bool,
}

pub async fn up(args: UpArgs) -> Result<(), AppError> {
    let mut signals = Signals::listen()?;
    check_provider()?;
    let version = check_kind()?;
    let loaded = usable_config(&args.config, version)?;
    let run_id = new_run_id();
    let name = match &args.name {
        Some(n) => {
            state::check_name(n).map_err(|m| AppError::InvalidInput(format!("--name: {m}")))?;
            n.clone()
        }
        None => {
            let stem = args
                .config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            cluster_name(&stem, &run_id)
        }
    };
    let engine = BollardEngine::connect().await?;
    let image = node_image(
        &engine,
        args.image.as_deref(),
        crate::cluster::kind::pull_allowed(args.pull),
    )
    .await?;
    let base = state_base();
    // The run's way of making a cluster (ports picked again when Docker took one meanwhile),
    // with up's own lines on stderr.
    let events = Reporters::new(vec![Box::new(UpLines {
        image: image.name.clone(),
    })]);
    let cleanup = Cleanup::new();
    let make_it = make(
        &engine,
        Make {
            config: &loaded.cluster,
            config_file: &args.config,
            version,
            name: &name,
            image,
            run_id: &run_id,
            wait: args.wait,
            wait_ready: false,
        },
        &events,
        Some(&cleanup),
    );
    let (created, token) = tokio::select! {
        made = make_it => made?,
        _ = signals.recv() => {
            // Dropping the create future killed kind; it does not clean up after itself.
            crate::errln!("kindproof: interrupted: deleting cluster {name}");
            let left = signals.cleanup_or_abort(cleanup.run(DELETE_BOUND)).await;
            if let Some(l) = left.into_iter().next() {
                return Err(AppError::Environment(l.to_string()));
            }
            return Err(AppError::Interrupted);
        }
    };
    // Made: it stays until `down` (and `clean` leaves it).
    if let Some(t) = token {
        cleanup.forget(t);
    }
    mark_kept(&base, &name)?;
    let kind = kind_provider(&engine);
    if args.export_kubeconfig {
        kind.export_kubeconfig(&name).await?;
    }
    crate::out!("{}", summary(&created));
    if args.export_kubeconfig {
        crate::outln!(
            "exported    context kind-{name} to your kubeconfig ($KUBECONFIG or ~/.kube/config)"
        );
    }
    Ok(())
}

/// `up`'s lines while it makes the cluster.
struct UpLines {
    image: String,
}

impl Reporter for UpLines {
    fn event(&self, e: &Event<'_>) -> Result<(), AppError> {
        match e {
            Event::ClusterCreating { name, .. } => crate::errln!(
                "kindproof: creating kind cluster {name} (node image {})",
                self.image
            ),
            Event::Notice(n) => crate::errln!("kindproof: {n}"),
            _ => {}
        }
        Ok(())
    }
}

/// What `up` prints: how to reach the cluster and what its nodes publish.
fn summary(c: &Created) -> String {
    let mut out = format!(
        "cluster     {}\nkubeconfig  {}\nuse         export KUBECONFIG={}   # context kind-{}\nnetwork     {}{}\n",
        c.name,
        c.kubeconfig.display(),
        c.kubeconfig.display(),
        c.name,
        c.network,
        if c.network_created { " (created)" } else { "" }
    );
    for n in &c.nodes {
        let (v4, v6) = n
            .container
            .addresses
            .get(&c.network)
            .copied()
            .unwrap_or((None, None));
        let mut ports: Vec<String> = n
            .container
            .published
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip,
                    p.host_port,
                    p.container_port,
                    p.protocol.lower()
                )
            })
            .collect();
        ports.sort();
        out.push_str(&format!(
            "node        {} ({}) {}{} {}\n",
            n.name,
            n.role,
            v4.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            v6.map(|a| format!(" {a}")).unwrap_or_default(),
            if ports.is_empty() {
                "no published ports".to_string()
            } else {
                ports.join(" ")
            }
        ));
    }
    out
}

pub async fn down(name: &str) -> Result<(), AppError> {
    state::check_name(name).map_err(|m| AppError::InvalidInput(format!("down: {m}")))?;
    let base = state_base();
    let engine = BollardEngine::connect().await?;
    let record = state::read(&base, name);
    if let Some(r) = record
        .as_ref()
        .filter(|r| r.provider != state::KIND_PROVIDER)
    {
        return Err(AppError::InvalidInput(format!(
            "cluster {name} was made by provider {:?}, which this kindproof cannot delete",
            r.provider
        )));
    }
    if record.is_none() && kind_nodes(&engine, name).await?.is_empty() {
        return Err(AppError::InvalidInput(format!(
            "no kind cluster named {name}: kindproof has no record of it and Docker has no node of it"
        )));
    }
    delete_recorded(&engine, &base, name).await?;
    crate::outln!("deleted cluster {name}");
    Ok(())
}

/// `clean`: remove what runs whose process is gone left behind — clusters they recorded (not
/// the ones `up` keeps) and containers and networks carrying kindproof's labels.
pub async fn clean(older_than: Option<Duration>) -> Result<(), AppError> {
    let min_age = older_than.unwrap_or_default().as_secs();
    let base = state_base();
    let engine = BollardEngine::connect().await?;
    let mut failures = Vec::new();
    for rec in state::all(&base) {
        if rec.keep || pid_alive(rec.pid) || rec.age_secs() < min_age {
            continue;
        }
        if rec.provider != state::KIND_PROVIDER {
            failures.push(format!(
                "cluster {} was made by provider {:?}, which this kindproof cannot delete",
                rec.name, rec.provider
            ));
            continue;
        }
        match delete_recorded(&engine, &base, &rec.name).await {
            Ok(()) => crate::outln!("removed cluster {} (run {})", rec.name, rec.run_id),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let dead = |labels: &std::collections::HashMap<String, String>| {
        labels
            .get(PID)
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| !pid_alive(p))
    };
    let managed = format!("{MANAGED}=true");
    for c in engine.list_containers(&managed).await? {
        if dead(&c.labels) && old_enough(c.created, min_age) {
            match engine.remove_container(&c.id).await {
                Ok(()) => crate::outln!(
                    "removed container {} (run {})",
                    c.name,
                    c.labels.get(RUN_ID).map_or("?", String::as_str)
                ),
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    for n in engine.list_networks(&managed).await? {
        if dead(&n.labels) && old_enough(n.created, min_age) {
            match engine.remove_network(&n.id).await {
                Ok(()) => crate::outln!("removed network {}", n.name),
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::Sweep { failures }.into())
    }
}

/// Whether Docker created it at least `min_age` seconds ago (unknown: yes, if no age is asked).
fn old_enough(created: Option<u64>, min_age: u64) -> bool {
    match created {
        Some(t) => state::unix_now().saturating_sub(t) >= min_age,
        None => min_age == 0,
    }
}
