//! `kindproof run`: load and check every scenario, pick the variants, get each cluster shape
//! once (`run_cluster`), run the variants in their own namespaces (`run_one`; up to `-j` at a
//! time where their claims allow), clean up, report with the timeline, and exit with the
//! documented code: 1 when an assertion failed, 3 when the harness broke.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::run_cluster::{acquire, no_cluster, sweep};
use super::run_one::{Shared, run_one};
use crate::cluster::kind::{check_kind, check_provider};
use crate::cluster::nodes::kind_nodes;
use crate::cluster::state::{self, state_base};
use crate::commands::cluster::delete_recorded;
use crate::commands::validate::load_scenarios;
use crate::docker::api::Engine;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kind_cli::{installed_version, rules_version};
use crate::kube_ops::client::Kube;
use crate::labels::{for_run, new_run_id};
use crate::probe_image::{find_binary, image_name};
use crate::runner::cluster_backend::ClusterBackend;
use crate::runner::outcome::{Status, VariantReport};
use crate::runner::plan::{Group, Needs, group, manifest_images, needs, select};
use crate::runner::report::{Phases, json, junit, summary_text, variant_text};
use crate::runner::schedule::Scheduler;
use crate::runner::stop::Stop;
use crate::runner::timeline::Recorder;
use crate::signals::Signals;

use super::run_context::Ctx;
pub use super::run_context::RunArgs;

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
    if (args.filter.is_some() || args.variant.is_some())
        && select(
            &scenarios,
            args.filter.as_deref(),
            args.variant.as_deref(),
            None,
        )
        .is_empty()
    {
        return Err(AppError::InvalidInput(format!(
            "{} matches no variant of the scenarios given (`kindproof list` shows them)",
            match (&args.filter, &args.variant) {
                (Some(f), Some(v)) => format!("--filter {f:?} with --variant {v:?}"),
                (Some(f), None) => format!("--filter {f:?}"),
                (None, v) => format!("--variant {:?}", v.as_deref().unwrap_or_default()),
            }
        )));
    }
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
        crate::outln!("no variant in this partition; nothing to run");
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
    let recorder = Recorder::new(started);
    let (stop_handle, stop) = Stop::new();
    recorder.phase("load", started, Instant::now());
    let cx = Ctx {
        engine: &engine,
        args: &args,
        scenarios: &scenarios,
        run_id: &run_id,
        version,
        recorder: &recorder,
        stop: &stop,
    };
    let mut reports: Vec<VariantReport> = Vec::new();
    let work = async {
        // Cluster shapes are made and used in parallel where -j allows; reports keep the
        // order of the groups.
        let runs = groups.iter().enumerate().map(|(gi, g)| {
            let (args, scenarios) = (&args, &scenarios);
            async move {
                let need = g
                    .picks
                    .iter()
                    .map(|p| needs(&scenarios[p.scenario].variants[p.variant]))
                    .fold(Needs::default(), Needs::merge);
                let got = run_group(cx, g, need).await;
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
                            crate::out!("{}", variant_text(&r, args.verbose));
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
    let interrupted = {
        tokio::pin!(work);
        tokio::select! {
            () = &mut work => false,
            () = signals.recv() => {
                // The first signal stops the run in order: the running variants' steps are
                // cut short, their `finally` and `cleanup:` steps run (bounded), then the sweep.
                crate::errln!(
                    "kindproof: interrupted: cleaning up: running the current variants' finally and cleanup steps (at most {}s; a second signal aborts)",
                    STOP_BOUND.as_secs()
                );
                stop_handle.request();
                let finished = signals
                    .cleanup_or_abort(tokio::time::timeout(STOP_BOUND, &mut work))
                    .await;
                if finished.is_err() {
                    crate::errln!("kindproof: finally and cleanup steps did not finish in time");
                }
                true
            }
        }
    };
    if interrupted {
        crate::errln!("kindproof: interrupted: removing what this run created");
        signals
            .cleanup_or_abort(sweep(&engine, &run_id, &args))
            .await;
        return Err(AppError::Interrupted);
    }
    // Wall-clock phases: the union of each phase's intervals across clusters and variants.
    phases.cluster_create = recorder.phase_total("cluster_create");
    phases.image_load = recorder.phase_total("image_load");
    phases.cluster_delete = recorder.phase_total("cluster_delete");
    phases.variants = recorder.phase_total("variants");
    let timeline = recorder.finish();
    phases.stragglers = timeline.stragglers.clone();
    phases.total = started.elapsed();
    let all: Vec<[f64; 2]> = timeline.phases.values().flatten().copied().collect();
    phases.harness =
        phases
            .total
            .saturating_sub(Duration::from_secs_f64(crate::runner::timeline::union(
                &all,
            )));
    crate::out!("{}", summary_text(&reports, &phases));
    if let Some(path) = &args.report_junit {
        crate::output::write_file(path, &junit(&reports, &phases), "--report-junit")?;
    }
    if let Some(path) = &args.report_json {
        crate::output::write_file(
            path,
            &json(&reports, &phases, Some(&timeline)),
            "--report-json",
        )?;
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

/// A variant's spinner, cleared when the variant ends however it ends.
struct BarGuard(Option<indicatif::ProgressBar>);

impl Drop for BarGuard {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// How long an interrupted run waits for its variants' `finally` and `cleanup:` steps.
const STOP_BOUND: Duration = Duration::from_secs(90);

/// How long the run waits, at its end, for the namespaces it deleted in the background.
const STRAGGLERS: Duration = Duration::from_secs(60);

async fn run_group(cx: Ctx<'_>, g: &Group, need: Needs) -> Result<Vec<VariantReport>, AppError> {
    let Ctx {
        engine,
        args,
        scenarios,
        run_id,
        version: _,
        recorder,
        stop,
    } = cx;
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
    // The cluster is made while the probe image is built (both take a while; neither needs
    // the other). A group whose variants use no cluster (a kind-create refusal) makes none.
    let build = async {
        if need.node_probe || images.contains(&probe_image) {
            let binary = find_binary(None)?;
            crate::probe_image::build(engine, &binary).await?;
        }
        Ok::<(), AppError>(())
    };
    let t = Instant::now();
    let get = async {
        if need.cluster {
            // A stop cuts a creation short (kind is killed); the sweep removes what it made.
            tokio::select! {
                got = acquire(cx, g, need) => got,
                () = stop.wait() => Err(AppError::Interrupted),
            }
        } else {
            Ok(no_cluster())
        }
    };
    let (built, acquired) = tokio::join!(build, get);
    let acquired = acquired?;
    if let Err(e) = built {
        if acquired.owned {
            let _ = delete_recorded(engine, &state_base(), &acquired.handle.name).await;
        }
        return Err(e);
    }
    let ready = Instant::now();
    recorder.cluster(&acquired.handle.name, |c| {
        if acquired.owned {
            // kind's create, then (when the run needs the API) every node Ready.
            c.create = Some([recorder.at(t), recorder.at(ready)]);
            c.ready = Some(recorder.at(ready));
        }
    });
    if acquired.owned {
        recorder.phase("cluster_create", t, ready);
    }
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
            // Every image at once (each goes to its nodes at once, too).
            let loads = images
                .iter()
                .map(|image| crate::cluster::image_load::load_image(engine, image, &nodes));
            for loaded in futures_util::future::join_all(loads).await {
                loaded?;
            }
            recorder.phase("image_load", t, Instant::now());
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
        let kind_version = installed_version().ok().flatten().map(|k| {
            crate::version::Version::new(u64::from(k.major), u64::from(k.minor), u64::from(k.patch))
        });
        let backend = ClusterBackend {
            engine,
            kube: kube.clone(),
            network: acquired.network.clone(),
            probe_bin: probe_bin.unwrap_or_default(),
            probe_image: probe_image.clone(),
            labels: for_run(run_id),
            run_id: run_id.to_string(),
        };
        // A live view on a terminal (a spinner per running variant); plain lines in CI or a pipe.
        let live = std::env::var_os("CI").is_none() && std::io::stdout().is_terminal();
        let bars = indicatif::MultiProgress::new();
        // At most -j variants at once, and never two whose cluster-wide claims collide.
        let scheduler = Scheduler::new(args.jobs.max(1));
        let pending = std::sync::Mutex::new(Vec::new());
        let shared = Shared {
            backend: &backend,
            kube: kube.clone(),
            handle: &acquired.handle,
            server_version: server_version.clone(),
            kind_version,
            run_id,
            artifacts: args
                .artifacts
                .clone()
                .unwrap_or_else(|| PathBuf::from("kindproof-artifacts")),
            verbose: args.verbose,
            keep: args.keep,
            scheduler: &scheduler,
            recorder: cx.recorder,
            pending: &pending,
            stop: stop.clone(),
        };
        let runs = g.picks.iter().enumerate().map(|(i, p)| {
            let s = &scenarios[p.scenario];
            let v = &s.variants[p.variant];
            let (shared, bars) = (&shared, &bars);
            async move {
                let _bar = BarGuard(live.then(|| {
                    let b = bars.add(indicatif::ProgressBar::new_spinner());
                    b.set_message(format!("{}/{}", s.name, v.name));
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                }));
                run_one(shared, s, v, i).await
            }
        });
        let mut reports = Vec::new();
        // Every variant waits for its turn in the scheduler; reports keep the picks' order.
        let mut stream = futures_util::stream::iter(runs).buffered(g.picks.len().max(1));
        while let Some(mut r) = stream.next().await {
            r.kubernetes = server_version.as_ref().map(|v| v.to_string());
            // Printed whole and in order: parallel variants never interleave.
            let text = variant_text(&r, args.verbose);
            if live {
                let _ = bars.println(text.trim_end());
            } else {
                crate::out!("{text}");
            }
            reports.push(r);
        }
        drop(stream);
        // The namespaces went in the background; the run waits for them once, bounded.
        if let Some(k) = &kube {
            let names = pending.lock().expect("not poisoned").clone();
            let left = crate::kube_ops::teardown::namespaces_left(k, &names, STRAGGLERS).await;
            if !left.is_empty() {
                crate::errln!(
                    "kindproof: namespaces still terminating after {STRAGGLERS:?}: {}",
                    left.join(", ")
                );
                recorder.straggled(left);
            }
        }
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
            crate::errln!(
                "kindproof: kept cluster {} (kubeconfig {}); `kindproof down {}` removes it",
                acquired.handle.name,
                acquired.handle.kubeconfig.display(),
                acquired.handle.name
            );
        } else {
            let t = Instant::now();
            delete_recorded(engine, &base, &acquired.handle.name).await?;
            let done = Instant::now();
            recorder.phase("cluster_delete", t, done);
            recorder.cluster(&acquired.handle.name, |c| {
                c.delete = Some([recorder.at(t), recorder.at(done)])
            });
        }
    }
    result
}
