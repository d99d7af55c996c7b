//! `kindproof run`: load and check every scenario, pick the variants, get each cluster shape
//! once (create it with kind, or use the one named by `--cluster` / `--kubeconfig`), run the
//! variants in their own namespaces (up to `-j` at a time), clean up, report, and exit with
//! the documented code: 1 when an assertion failed, 3 when the harness broke.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::cluster::kind::{check_kind, check_provider, cluster_name, node_image};
use crate::cluster::kind_network::network_name;
use crate::cluster::nodes::kind_nodes;
use crate::cluster::provider::{
    ClusterHandle, ClusterProvider, ExistingCluster, KindCluster, from_kind,
};
use crate::cluster::state::{self, state_base};
use crate::commands::cluster::{delete_recorded, prepare, provider};
use crate::commands::validate::load_scenarios;
use crate::docker::api::Engine;
use crate::docker::bollard_engine::BollardEngine;
use crate::docker::labels::{for_run, new_run_id};
use crate::exit::AppError;
use crate::kind_cli::{installed_version, rules_version};
use crate::kube_ops::client::Kube;
use crate::kube_ops::pods;
use crate::probe_image::{find_binary, image_name};
use crate::runner::cluster_backend::ClusterBackend;
use crate::runner::engine::{Context, run_variant};
use crate::runner::outcome::{Status, VariantReport};
use crate::runner::plan::{Group, Needs, Partition, group, manifest_images, needs, select};
use crate::runner::report::{Phases, json, junit, summary_text, variant_text};
use crate::scenario::model::{GateOn, Scenario};
use crate::signals::Signals;

pub struct RunArgs {
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    pub filter: Option<String>,
    pub variant: Option<String>,
    pub keep: bool,
    pub partition: Option<Partition>,
    pub cluster: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub image: Option<String>,
    pub report_junit: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// Diagnostics bundles of variants that do not pass go under here.
    pub artifacts: Option<PathBuf>,
    /// How long kind and kindproof wait for a created cluster to be ready.
    pub wait: Duration,
    pub verbose: bool,
}

pub async fn run(args: RunArgs) -> Result<(), AppError> {
    let started = Instant::now();
    let mut signals = Signals::listen()?;
    let creating = args.cluster.is_none() && args.kubeconfig.is_none();
    let version = if creating {
        check_provider()?;
        check_kind()?
    } else {
        rules_version(None)?.0
    };
    let scenarios = load_scenarios(version, &args.paths)?;
    let picks = select(
        &scenarios,
        args.filter.as_deref(),
        args.variant.as_deref(),
        args.partition,
    );
    let mut phases = Phases {
        load: started.elapsed(),
        ..Default::default()
    };
    if picks.is_empty() {
        println!("no variant matches; nothing to run");
        return Ok(());
    }
    let engine = BollardEngine::connect().await?;
    let run_id = new_run_id();
    let groups = match (&args.cluster, &args.kubeconfig) {
        (None, None) => group(&scenarios, &picks),
        // One given cluster takes everything.
        _ => vec![Group {
            config_file: PathBuf::new(),
            image: None,
            picks: picks.clone(),
        }],
    };
    let phases_of_groups = std::sync::Mutex::new(Phases::default());
    let cx = Ctx {
        engine: &engine,
        args: &args,
        scenarios: &scenarios,
        run_id: &run_id,
        version,
    };
    let mut reports: Vec<VariantReport> = Vec::new();
    let work = async {
        // Cluster shapes are made and used in parallel where -j allows; reports keep the
        // order of the groups.
        let runs = groups.iter().enumerate().map(|(gi, g)| {
            let (args, scenarios) = (&args, &scenarios);
            let phases = &phases_of_groups;
            async move {
                let need = g
                    .picks
                    .iter()
                    .map(|p| needs(&scenarios[p.scenario].variants[p.variant]))
                    .fold(Needs::default(), Needs::merge);
                let got = run_group(cx, g, need, phases).await;
                let reports = match got {
                    Ok(r) => r,
                    Err(e) => g
                        .picks
                        .iter()
                        .map(|p| {
                            // The cluster could not be had: every variant of it is broken.
                            let s = &scenarios[p.scenario];
                            let v = &s.variants[p.variant];
                            let r = VariantReport::without_steps(
                                &s.name,
                                &v.name,
                                &v.expect,
                                Status::broken(e.to_string()),
                                "",
                            );
                            print!("{}", variant_text(&r, args.verbose));
                            r
                        })
                        .collect(),
                };
                (gi, reports)
            }
        });
        let mut done: Vec<(usize, Vec<VariantReport>)> = futures_util::stream::iter(runs)
            .buffer_unordered(args.jobs.max(1))
            .collect()
            .await;
        done.sort_by_key(|(gi, _)| *gi);
        reports.extend(done.into_iter().flat_map(|(_, r)| r));
    };
    tokio::select! {
        () = work => {}
        () = signals.recv() => {
            eprintln!("kindproof: interrupted: cleaning up");
            signals.cleanup_or_abort(sweep(&engine, &run_id, &args)).await;
            return Err(AppError::Interrupted);
        }
    }
    {
        let g = phases_of_groups.lock().expect("not poisoned");
        phases.cluster_create = g.cluster_create;
        phases.image_load = g.image_load;
        phases.cluster_delete = g.cluster_delete;
        phases.variants = g.variants;
    }
    phases.total = started.elapsed();
    phases.harness = phases.total.saturating_sub(
        phases.cluster_create + phases.image_load + phases.cluster_delete + phases.variants,
    );
    print!("{}", summary_text(&reports, &phases));
    if let Some(path) = &args.report_junit {
        write(path, &junit(&reports, &phases))?;
    }
    if let Some(path) = &args.report_json {
        write(path, &json(&reports, &phases))?;
    }
    let failed = reports
        .iter()
        .filter(|r| matches!(r.status, Status::Failed { .. }))
        .count();
    let broken = reports
        .iter()
        .filter(|r| matches!(r.status, Status::Broken { .. }))
        .count();
    if failed + broken > 0 {
        return Err(AppError::Verdict { failed, broken });
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), AppError> {
    std::fs::write(path, text).map_err(AppError::io(format!("write {}", path.display())))
}

/// Remove whatever this run created that is still there (after an interrupt): its clusters
/// and labelled containers.
async fn sweep(engine: &BollardEngine, run_id: &str, args: &RunArgs) {
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
        let label = crate::docker::labels::run_filter(run_id);
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
        .list_containers(&crate::docker::labels::run_filter(run_id))
        .await
    {
        for c in list {
            let _ = engine.remove_container(&c.id).await;
        }
    }
}

/// A variant's spinner, cleared when the variant ends however it ends.
struct BarGuard(Option<indicatif::ProgressBar>);

impl Drop for BarGuard {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A cluster a group runs on, and whether this run owns it (deletes it).
struct Acquired {
    handle: ClusterHandle,
    network: String,
    owned: bool,
}

/// What every group of a run shares.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    engine: &'a BollardEngine,
    args: &'a RunArgs,
    scenarios: &'a [Scenario],
    run_id: &'a str,
    version: crate::kind_config::version::KindVersion,
}

async fn run_group(
    cx: Ctx<'_>,
    g: &Group,
    need: Needs,
    phases: &std::sync::Mutex<Phases>,
) -> Result<Vec<VariantReport>, AppError> {
    let Ctx {
        engine,
        args,
        scenarios,
        run_id,
        version: _,
    } = cx;
    let add = |f: fn(&mut Phases) -> &mut Duration, d: Duration| {
        *f(&mut phases.lock().expect("not poisoned")) += d;
    };
    // Offline preflight: whatever the run needs locally exists before anything is created.
    let probe_bin = if need.host_probe {
        Some(find_binary(None)?)
    } else {
        None
    };
    let probe_image = image_name();
    let mut images = Vec::new();
    for p in &g.picks {
        let s = &scenarios[p.scenario];
        let found = manifest_images(s, &s.variants[p.variant], &probe_image)
            .map_err(AppError::InvalidInput)?;
        images.extend(found);
    }
    images.sort();
    images.dedup();
    if need.node_probe || images.contains(&probe_image) {
        let binary = find_binary(None)?;
        crate::probe_image::build(engine, &binary).await?;
    }
    // Every other image must be here already: kindproof never pulls, and neither may kubelet.
    let mut missing = Vec::new();
    for i in images.iter().filter(|i| **i != probe_image) {
        if engine.inspect_image(i).await?.is_none() {
            missing.push(i.clone());
        }
    }
    if !missing.is_empty() {
        return Err(AppError::Environment(format!(
            "images the manifests use are not present locally (kindproof never pulls; `docker load` them): {}",
            missing.join(", ")
        )));
    }
    let t = Instant::now();
    let acquired = acquire(cx, g, need).await?;
    add(|p| &mut p.cluster_create, t.elapsed());
    let result: Result<Vec<VariantReport>, AppError> = async {
        let kube = if need.api {
            Some(
                Kube::connect(
                    &acquired.handle.kubeconfig,
                    acquired.handle.context.as_deref(),
                )
                .await
                .map_err(crate::cluster::kind::ClusterError::from)?,
            )
        } else {
            None
        };
        if need.api && acquired.handle.provider == "kind" && !images.is_empty() {
            // The nodes get every image the manifests use, so kubelet never pulls.
            let t = Instant::now();
            let nodes = kind_nodes(engine, &acquired.handle.name).await?;
            for image in &images {
                crate::cluster::image_load::load_image(engine, image, &nodes).await?;
            }
            add(|p| &mut p.image_load, t.elapsed());
        }
        // The server's full version as it states it (`v1.36.2`), pre-release included.
        let server_version = match &kube {
            Some(k) => k.client.apiserver_version().await.ok().and_then(|v| {
                crate::version::Version::parse(&v.git_version).or_else(|| {
                    let minor: u64 = v.minor.trim_end_matches('+').parse().ok()?;
                    Some(crate::version::Version::new(
                        v.major.parse().ok()?,
                        minor,
                        0,
                    ))
                })
            }),
            None => None,
        };
        let kind_version = installed_version().ok().flatten();
        let backend = ClusterBackend {
            engine,
            kube: kube.clone(),
            network: acquired.network.clone(),
            probe_bin: probe_bin.unwrap_or_default(),
            probe_image: probe_image.clone(),
            labels: for_run(run_id),
            run_id: run_id.to_string(),
        };
        let jobs = args.jobs.max(1);
        // A live view on a terminal (a spinner per running variant); plain lines in CI or a pipe.
        let live = std::env::var_os("CI").is_none() && std::io::stdout().is_terminal();
        let bars = indicatif::MultiProgress::new();
        // Variants of one scenario take turns: they share object names and fixed NodePorts
        // (cluster-wide), so only different scenarios run at once.
        let turns: Vec<tokio::sync::Mutex<()>> = scenarios
            .iter()
            .map(|_| tokio::sync::Mutex::new(()))
            .collect();
        let runs = g.picks.iter().enumerate().map(|(i, p)| {
            let s = &scenarios[p.scenario];
            let v = &s.variants[p.variant];
            let backend = &backend;
            let kube = kube.clone();
            let handle = &acquired.handle;
            let server_version = &server_version;
            let (bars, turn) = (&bars, &turns[p.scenario]);
            async move {
                let _turn = turn.lock().await;
                let _bar = BarGuard(live.then(|| {
                    let b = bars.add(indicatif::ProgressBar::new_spinner());
                    b.set_message(format!("{}/{}", s.name, v.name));
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                }));
                // Version gates first: a variant that does not apply is skipped, with the reason.
                for gate in &v.when {
                    let (have, what) = match gate.what {
                        GateOn::Kind => (
                            kind_version.map(|k| {
                                crate::version::Version::new(
                                    u64::from(k.major),
                                    u64::from(k.minor),
                                    u64::from(k.patch),
                                )
                            }),
                            "kind",
                        ),
                        GateOn::Kubernetes => (server_version.clone(), "kubernetes"),
                    };
                    let holds = have.as_ref().is_some_and(|h| gate.holds(h));
                    if !holds {
                        let have = have
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "unknown".into());
                        let r = VariantReport::without_steps(
                            &s.name,
                            &v.name,
                            &v.expect,
                            Status::Skipped {
                                reason: format!("needs {what} {}; this run has {have}", gate.text),
                            },
                            "",
                        );
                        return r;
                    }
                }
                let namespace = pods::namespace_name(
                    &format!("{}-{}", s.name, v.name),
                    &format!("{run_id}{i}"),
                );
                if let Some(k) = &kube
                    && let Err(e) = pods::create_namespace(k, &namespace, run_id).await
                {
                    return VariantReport::without_steps(
                        &s.name,
                        &v.name,
                        &v.expect,
                        Status::broken(e.to_string()),
                        &namespace,
                    );
                }
                let cx = Context {
                    scenario: s,
                    variant: v,
                    namespace: namespace.clone(),
                    cluster: handle.name.clone(),
                    nodes: handle.nodes.clone(),
                    probe_image: image_name(),
                    poll: Duration::from_millis(500),
                };
                let mut report = run_variant(backend, &cx).await;
                if !matches!(report.status, Status::Passed | Status::Skipped { .. }) {
                    // Before the namespace goes: what was there is what explains the failure.
                    let root = args
                        .artifacts
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("kindproof-artifacts"))
                        .join(run_id);
                    let dir = crate::runner::diagnostics::collect(
                        &root,
                        &report,
                        backend,
                        kube.as_ref(),
                        &handle.nodes,
                    )
                    .await;
                    report.diagnostics = Some(dir.display().to_string());
                }
                if let Some(k) = &kube
                    && let Err(e) =
                        pods::delete_namespace(k, &namespace, Duration::from_secs(180)).await
                    && report.status.is_passed()
                {
                    report.status = Status::broken(format!("cleanup: {e}"));
                }
                report
            }
        });
        let mut reports = Vec::new();
        let variants_started = Instant::now();
        let mut stream = futures_util::stream::iter(runs).buffered(jobs);
        while let Some(mut r) = stream.next().await {
            r.kubernetes = server_version.as_ref().map(|v| v.to_string());
            // Printed whole and in order: parallel variants never interleave.
            let text = variant_text(&r, args.verbose);
            if live {
                let _ = bars.println(text.trim_end());
            } else {
                print!("{text}");
            }
            reports.push(r);
        }
        drop(stream);
        add(|p| &mut p.variants, variants_started.elapsed());
        Ok(reports)
    }
    .await;
    // The cluster goes whatever happened above (an image that failed to load included),
    // unless it is kept.
    if acquired.owned {
        let any_bad = match &result {
            Ok(reports) => reports
                .iter()
                .any(|r| !matches!(r.status, Status::Passed | Status::Skipped { .. })),
            Err(_) => true,
        };
        let interactive = std::env::var_os("CI").is_none() && std::io::stderr().is_terminal();
        let base = state_base();
        if args.keep || (any_bad && interactive) {
            // Kept: `down` removes it later; say how to reach it.
            if let Some(mut rec) = state::read(&base, &acquired.handle.name) {
                rec.keep = true;
                let dir = state::cluster_dir(&base, &rec.name);
                let _ = std::fs::write(
                    dir.join("cluster.json"),
                    serde_json::to_vec_pretty(&rec).unwrap_or_default(),
                );
            }
            eprintln!(
                "kindproof: kept cluster {} (kubeconfig {}); `kindproof down {}` removes it",
                acquired.handle.name,
                acquired.handle.kubeconfig.display(),
                acquired.handle.name
            );
        } else {
            let t = Instant::now();
            delete_recorded(engine, &base, &acquired.handle.name).await?;
            add(|p| &mut p.cluster_delete, t.elapsed());
        }
    }
    result
}

async fn acquire(cx: Ctx<'_>, g: &Group, need: Needs) -> Result<Acquired, AppError> {
    let Ctx {
        engine,
        args,
        scenarios,
        run_id,
        version,
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
    let (req, resolution) = prepare(
        engine,
        &spec.config,
        version,
        &name,
        image,
        run_id,
        false,
        args.wait,
    )
    .await?;
    eprintln!(
        "kindproof: creating kind cluster {name} for {}",
        g.config_file.display()
    );
    let cluster = KindCluster {
        provider: provider(engine),
        request: req,
        wait_ready: need.api,
    };
    let handle = match cluster.acquire().await {
        Ok(h) => h,
        Err(e) => {
            // Created but never Ready (or half made): it must not stay behind.
            let kubeconfig = cluster.request.dir.join("kubeconfig");
            let _ = cluster.provider.delete(&name, Some(&kubeconfig)).await;
            let _ = state::remove(&state_base(), &name);
            return Err(e.into());
        }
    };
    drop(resolution);
    Ok(Acquired {
        network: handle.network.clone().unwrap_or_else(network_name),
        handle,
        owned: true,
    })
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
