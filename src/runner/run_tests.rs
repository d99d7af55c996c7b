//! The Runner without Docker: a fake provider (clusters it "makes", keeps and deletes, logged),
//! the fake backend of the engine tests and a fake engine. Covers the keep/delete policy, a
//! borrowed cluster, a cluster that cannot be had or given back, the order of events, nodes
//! read again after a restart, and what a stop does: the running variant's `finally` and
//! `cleanup:` steps run, later variants do not start, the stack empties.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cleanup::Cleanup;
use super::engine_tests::{Fake, nodes, scenario_text};
use super::fake_engine::FakeEngine;
use super::outcome::{Status, VariantReport};
use super::plan::{group, select};
use super::provider::{Acquired, ClusterProvider, Session, Shape};
use super::reporter::{Event, Reporter, Reporters};
use super::run::{Runner, Settings};
use super::stop::Stop;
use super::timeline::Recorder;
use crate::cluster::provider::{ClusterHandle, Node};
use crate::cluster::state::ClusterRecord;
use crate::exit::AppError;
use crate::scenario::model::Scenario;

/// A provider whose clusters are a name in a log.
#[derive(Default)]
struct FakeProvider {
    backend: Fake,
    /// `acquire` fails with this.
    unavailable: Option<&'static str>,
    /// Deleting the cluster fails with this.
    undeletable: Option<&'static str>,
    /// A cluster it did not make (never kept, never deleted).
    borrowed: bool,
    log: Mutex<Vec<String>>,
}

impl FakeProvider {
    fn note(&self, s: impl Into<String>) {
        self.log.lock().unwrap().push(s.into());
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl ClusterProvider for FakeProvider {
    type Backend<'a> = &'a Fake;

    fn name(&self) -> &'static str {
        "fake"
    }
    async fn preflight(&self, _: &Shape<'_>) -> Result<(), AppError> {
        self.note("preflight");
        Ok(())
    }
    async fn acquire<'p>(
        &'p self,
        _: &Shape<'_>,
        cleanup: &Cleanup<'p>,
    ) -> Result<Acquired, AppError> {
        if let Some(why) = self.unavailable {
            return Err(AppError::Environment(why.into()));
        }
        self.note("create kp-s-1");
        let owned = (!self.borrowed).then(|| {
            cleanup.push("cluster kp-s-1", async move {
                self.note("delete kp-s-1");
                self.undeletable.map_or(Ok(()), |why| Err(why.to_string()))
            })
        });
        Ok(Acquired {
            handle: ClusterHandle {
                name: "kp-s-1".into(),
                kubeconfig: "/nonexistent/kubeconfig".into(),
                context: None,
                nodes: nodes(),
                provider: "fake",
                network: None,
            },
            owned,
        })
    }
    async fn load_images(&self, _: &ClusterHandle, images: &[String]) -> Result<(), AppError> {
        self.note(format!("load {}", images.join(",")));
        Ok(())
    }
    fn backend<'a>(&'a self, _: &ClusterHandle, _: Session) -> &'a Fake {
        &self.backend
    }
    async fn refresh_node(&self, _: &ClusterHandle, node: &Node) -> Result<Node, AppError> {
        self.note(format!("refresh {}", node.name));
        Ok(node.clone())
    }
    fn keep(&self, c: &ClusterHandle) -> Result<(), AppError> {
        self.note(format!("keep {}", c.name));
        Ok(())
    }
    async fn delete_record(&self, r: &ClusterRecord) -> Result<(), AppError> {
        self.note(format!("delete record {}", r.name));
        Ok(())
    }
}

/// Every event, as a line.
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

impl Reporter for Recording {
    fn event(&self, e: &Event<'_>) -> Result<(), AppError> {
        let line = match e {
            Event::ClusterCreating { name, .. } => format!("creating {name}"),
            Event::ClusterReady { name, .. } => format!("ready {name}"),
            Event::ClusterKept { name, .. } => format!("kept {name}"),
            Event::ClusterDeleted { name, .. } => format!("deleted {name}"),
            Event::VariantQueued { id } => format!("queued {id}"),
            Event::VariantStarted { id } => format!("started {id}"),
            Event::StepFinished { id, step } => format!("step {id} {}", step.name),
            Event::VariantFinished { report } => {
                format!("finished {}/{}", report.scenario, report.variant)
            }
            Event::NamespaceKept { namespace, .. } => format!("kept namespace {namespace}"),
            Event::Notice(n) => format!("notice {n}"),
            Event::RunFinished { .. } => "run finished".into(),
        };
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

/// A scenario of node execs: variant `pass` exits 0, `fail` exits 1 (its step fails).
fn scenario(steps: &str) -> (tempfile::TempDir, Scenario) {
    let text = format!(
        "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: s
summary: runner test
cluster:
  config: three-node.yaml
variants:
  - name: pass
    expect: it passes
    variables: {{code: '0'}}
  - name: fail
    expect: it fails
    variables: {{code: '1'}}
{steps}"
    );
    scenario_text(&text)
}

const EXEC: &str = "steps:\n  - exec: {node: worker, command: [sh, 'exit=${code}']}\n";

fn settings(tmp: &tempfile::TempDir, keep: bool, keep_failed: bool) -> Settings {
    Settings {
        jobs: 2,
        keep,
        keep_failed,
        verbose: false,
        artifacts: tmp.path().join("artifacts"),
        poll: Duration::from_millis(10),
        kind_version: None,
        pull: false,
    }
}

struct Ran {
    reports: Vec<VariantReport>,
    events: Vec<String>,
    left_on_stack: Vec<String>,
}

/// Run `variant` (or every variant) of `s` on `provider` to its end.
async fn run(
    provider: &FakeProvider,
    s: &Scenario,
    variant: Option<&str>,
    settings: Settings,
) -> Ran {
    let engine = FakeEngine::default();
    let recording = std::sync::Arc::new(Recording::default());
    let reporters = Reporters::new(vec![Box::new(recording.clone())]);
    let scenarios = std::slice::from_ref(s);
    let groups = group(scenarios, &select(scenarios, None, variant, None));
    let runner = Runner {
        engine: &engine,
        provider,
        scenarios,
        settings,
        events: &reporters,
        run_id: "t1".into(),
        recorder: Recorder::new(Instant::now()),
        stop: Stop::default(),
        cleanup: Cleanup::new(),
    };
    let reports = runner.run(&groups).await;
    let left_on_stack = runner.cleanup.pending();
    Ran {
        reports,
        events: recording.0.lock().unwrap().clone(),
        left_on_stack,
    }
}

fn statuses(r: &[VariantReport]) -> Vec<(String, &'static str)> {
    r.iter()
        .map(|r| {
            let s = match r.status {
                Status::Passed => "passed",
                Status::Failed { .. } => "failed",
                Status::Broken { .. } => "broken",
                Status::Skipped { .. } => "skipped",
            };
            (r.variant.clone(), s)
        })
        .collect()
}

#[tokio::test]
async fn a_cluster_the_run_made_is_deleted_after_it_passes_and_every_step_is_an_event() {
    let (t, s) = scenario(EXEC);
    let p = FakeProvider::default();
    let ran = run(&p, &s, Some("pass"), settings(&t, false, true)).await;
    assert_eq!(statuses(&ran.reports), [("pass".into(), "passed")]);
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "delete kp-s-1"]);
    assert_eq!(
        ran.events,
        [
            "ready kp-s-1",
            "queued s/pass",
            "started s/pass",
            "step s/pass exec sh exit=0",
            "finished s/pass",
            "deleted kp-s-1",
        ]
    );
    assert!(ran.left_on_stack.is_empty(), "{:?}", ran.left_on_stack);
}

#[tokio::test]
async fn a_failure_keeps_the_cluster_only_where_someone_can_look_and_keep_keeps_it_always() {
    let (t, s) = scenario(EXEC);
    // On a terminal: kept, and forgotten by the stack.
    let p = FakeProvider::default();
    let ran = run(&p, &s, None, settings(&t, false, true)).await;
    assert_eq!(
        statuses(&ran.reports),
        [("pass".into(), "passed"), ("fail".into(), "failed")]
    );
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "keep kp-s-1"]);
    assert_eq!(ran.events.last().unwrap(), "kept kp-s-1");
    assert!(ran.left_on_stack.is_empty());
    // In CI: deleted all the same.
    let p = FakeProvider::default();
    run(&p, &s, None, settings(&t, false, false)).await;
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "delete kp-s-1"]);
    // --keep: kept though everything passed.
    let p = FakeProvider::default();
    let ran = run(&p, &s, Some("pass"), settings(&t, true, false)).await;
    assert_eq!(statuses(&ran.reports), [("pass".into(), "passed")]);
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "keep kp-s-1"]);
}

#[tokio::test]
async fn a_borrowed_cluster_is_neither_kept_nor_deleted() {
    let (t, s) = scenario(EXEC);
    let p = FakeProvider {
        borrowed: true,
        ..Default::default()
    };
    let ran = run(&p, &s, None, settings(&t, true, true)).await;
    assert_eq!(
        statuses(&ran.reports),
        [("pass".into(), "passed"), ("fail".into(), "failed")]
    );
    assert_eq!(p.log(), ["preflight", "create kp-s-1"]);
    assert!(
        !ran.events
            .iter()
            .any(|e| e.starts_with("kept") || e.starts_with("deleted"))
    );
}

#[tokio::test]
async fn a_cluster_that_cannot_be_had_breaks_every_variant_of_its_group() {
    let (t, s) = scenario(EXEC);
    let p = FakeProvider {
        unavailable: Some("kind create failed: no space left on device"),
        ..Default::default()
    };
    let ran = run(&p, &s, None, settings(&t, false, false)).await;
    assert_eq!(
        statuses(&ran.reports),
        [("pass".into(), "broken"), ("fail".into(), "broken")]
    );
    for r in &ran.reports {
        let Status::Broken { message, .. } = &r.status else {
            unreachable!()
        };
        assert!(message.contains("no space left on device"), "{message}");
    }
    assert_eq!(ran.events, ["finished s/pass", "finished s/fail"]);
    // Nothing ran on the backend, nothing is left to remove.
    assert!(p.backend.calls().is_empty());
    assert!(ran.left_on_stack.is_empty());
}

#[tokio::test]
async fn a_cluster_that_cannot_be_deleted_is_a_broken_outcome_naming_it() {
    let (t, s) = scenario(EXEC);
    let p = FakeProvider {
        undeletable: Some("kind delete: context deadline exceeded"),
        ..Default::default()
    };
    let ran = run(&p, &s, Some("pass"), settings(&t, false, false)).await;
    let Status::Broken { message, .. } = &ran.reports[0].status else {
        panic!("{:?}", ran.reports[0].status)
    };
    assert_eq!(
        message,
        "cluster kp-s-1 was not removed: kind delete: context deadline exceeded"
    );
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "delete kp-s-1"]);
}

#[tokio::test]
async fn the_nodes_are_read_again_after_a_variant_restarts_one() {
    let (t, s) = scenario("steps:\n  - restart-node: worker\n");
    let p = FakeProvider::default();
    let ran = run(&p, &s, Some("pass"), settings(&t, false, false)).await;
    assert_eq!(statuses(&ran.reports), [("pass".into(), "passed")]);
    assert_eq!(
        p.log(),
        [
            "preflight",
            "create kp-s-1",
            "refresh kp-s-1-control-plane",
            "refresh kp-s-1-worker",
            "refresh kp-s-1-worker2",
            "delete kp-s-1"
        ]
    );
}

const LONG: &str = "steps:
  - name: long
    sleep: 1h
    timeout: 2h
    finally:
      - exec: {node: worker, command: [sh, finally]}
  - exec: {node: worker, command: [sh, never]}
cleanup:
  - exec: {node: worker, command: [sh, cleanup]}
";

/// A runner on `p` for every variant of `s`, one at a time, with a fake engine.
fn runner<'a>(
    t: &tempfile::TempDir,
    engine: &'a FakeEngine,
    p: &'a FakeProvider,
    s: &'a Scenario,
    reporters: &'a Reporters,
    stop: Stop,
) -> Runner<'a, FakeEngine, FakeProvider> {
    Runner {
        engine,
        provider: p,
        scenarios: std::slice::from_ref(s),
        settings: Settings {
            jobs: 1,
            ..settings(t, false, false)
        },
        events: reporters,
        run_id: "t1".into(),
        recorder: Recorder::new(Instant::now()),
        stop,
        cleanup: Cleanup::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_mid_variant_runs_its_finally_and_cleanup_starts_nothing_more_and_releases() {
    let (t, s) = scenario(LONG);
    let (p, engine, reporters) = (
        FakeProvider::default(),
        FakeEngine::default(),
        Reporters::default(),
    );
    let (handle, stop) = Stop::new();
    let r = runner(&t, &engine, &p, &s, &reporters, stop);
    let groups = group(r.scenarios, &select(r.scenarios, None, None, None));
    let (reports, ()) = tokio::join!(r.run(&groups), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        handle.request();
    });
    let first = &reports[0];
    let step_statuses: Vec<_> = first.steps.iter().map(|s| &s.status).collect();
    assert!(
        matches!(step_statuses[0], Status::Broken { message, .. } if message.contains("interrupted"))
    );
    assert!(matches!(step_statuses[1], Status::Skipped { .. }));
    assert_eq!(first.steps[0].finally[0].status, Status::Passed);
    assert_eq!(first.cleanup[0].status, Status::Passed);
    // Then the diagnostics bundle of a broken variant reads the nodes' rules.
    assert_eq!(
        p.backend.calls()[..3],
        [
            "exec kp-s-1-worker sh finally",
            "exec kp-s-1-worker sh cleanup",
            "exec kp-s-1-control-plane iptables-save"
        ]
    );
    let bundle = first.diagnostics.as_deref().unwrap();
    assert!(
        bundle.starts_with(t.path().join("artifacts/t1").to_str().unwrap()),
        "{bundle}"
    );
    // The variant waiting for its turn never started.
    assert!(
        matches!(&reports[1].status, Status::Skipped { reason } if reason.contains("interrupted before it started")),
        "{:?}",
        reports[1].status
    );
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "delete kp-s-1"]);
    assert!(r.cleanup.is_empty());
    assert!(r.after_stop().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_cut_off_is_cleaned_up_from_its_stack_and_by_the_sweep() {
    let (t, s) = scenario(LONG);
    let p = FakeProvider::default();
    let engine = FakeEngine::with_container("probe-1", &[(crate::labels::RUN_ID, "t1")]);
    let reporters = Reporters::default();
    let r = runner(&t, &engine, &p, &s, &reporters, Stop::default());
    let groups = group(r.scenarios, &select(r.scenarios, None, None, None));
    tokio::select! {
        _ = r.run(&groups) => panic!("a step of an hour ended"),
        () = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
    // The work is gone mid-variant (the stop's bound passed, say): what it made is not.
    assert_eq!(
        r.cleanup.pending(),
        ["cluster kp-s-1", "probe containers on kp-s-1"]
    );
    assert!(r.after_stop().await.is_empty());
    assert_eq!(p.log(), ["preflight", "create kp-s-1", "delete kp-s-1"]);
    assert_eq!(*engine.removed.lock().unwrap(), ["probe-1"]);
    assert!(r.cleanup.is_empty());
}
