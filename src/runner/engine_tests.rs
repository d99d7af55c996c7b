//! The engine end to end against a fake backend: ordering, `finally` and reverse cleanup,
//! skipped steps, layered timeouts, eventually-assertions reporting the last value, variables,
//! expected refusals, and failed vs broken.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::backend::{Backend, BackendError, ProbeSite, Ran};
use super::engine::{Context, run_variant};
use super::outcome::{Status, VariantReport};
use crate::cluster::provider::Node;
use crate::kind_config::model::Protocol;
use crate::kind_config::version::KindVersion;
use crate::kube_ops::apply::Written;
use crate::kube_ops::manifest::Manifest;
use crate::kube_ops::pods::EventSummary;
use crate::ports::inspect::Published;
use crate::scenario::model::Scenario;
use crate::scenario::model::{ApplyMode, PatchType};

#[derive(Default)]
pub(super) struct Fake {
    pub(super) calls: Mutex<Vec<String>>,
    /// Successive answers to `pods` (the last one repeats).
    pub(super) pods: Mutex<VecDeque<Vec<Value>>>,
    pub(super) objects: Mutex<Vec<Value>>,
    pub(super) apply_exit: Mutex<i32>,
    pub(super) probe_stdout: Mutex<String>,
    /// Successive probe outputs, one per run, before `probe_stdout` (which then repeats).
    pub(super) probe_rounds: Mutex<VecDeque<String>>,
    /// The kubelet leases' renewTime, by node (absent: no lease).
    pub(super) leases: Mutex<std::collections::BTreeMap<String, String>>,
    pub(super) break_exec: bool,
    /// `pods` fails this many times first (an API server coming back).
    pub(super) pods_fail: Mutex<u32>,
    /// What a background probe's attempts see: refused while set (`exec … outage`, until
    /// `exec … recover`).
    pub(super) down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set when a background probe is stopped.
    pub(super) stopped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Fake {
    fn log(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
    pub(super) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Backend for Fake {
    async fn apply(
        &self,
        m: &Manifest,
        mode: ApplyMode,
        ns: &str,
    ) -> Result<Written, BackendError> {
        self.log(format!("apply {} {mode:?} {ns}", m.objects.len()));
        let code = *self.apply_exit.lock().unwrap();
        if code == 0 {
            for o in &m.objects {
                self.objects
                    .lock()
                    .unwrap()
                    .push(serde_json::to_value(o).unwrap());
            }
        }
        Ok(Written {
            exit_code: code,
            stdout: if code == 0 {
                "service/dns configured\n".into()
            } else {
                String::new()
            },
            stderr: if code == 0 {
                String::new()
            } else {
                "Duplicate value: 53\n".into()
            },
            ..Default::default()
        })
    }
    async fn patch(
        &self,
        _: &DynamicObject,
        _: PatchType,
        _: &Value,
        _: &str,
    ) -> Result<Written, BackendError> {
        Ok(Written::default())
    }
    async fn delete(&self, m: &Manifest, _: &str, _: Duration) -> Result<Written, BackendError> {
        self.log(format!("delete {}", m.objects.len()));
        Ok(Written::default())
    }
    async fn get(&self, t: &DynamicObject, _: &str) -> Result<Option<Value>, BackendError> {
        let name = t.metadata.name.clone().unwrap();
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|o| o["metadata"]["name"] == name.as_str())
            .cloned())
    }
    async fn pods(&self, ns: &str, selector: &str) -> Result<Vec<Value>, BackendError> {
        self.log(format!("pods {selector}"));
        {
            let mut f = self.pods_fail.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(BackendError::Kube(
                    crate::kube_ops::error::KubeError::Request {
                        operation: "list pods in",
                        target: ns.to_string(),
                        detail: "connection refused (the API server is restarting)".into(),
                    },
                ));
            }
        }
        let mut q = self.pods.lock().unwrap();
        Ok(if q.len() > 1 {
            q.pop_front().unwrap()
        } else {
            q.front().cloned().unwrap_or_default()
        })
    }
    async fn endpoint_slices(&self, _: &str, _: &str) -> Result<Vec<Value>, BackendError> {
        Ok(vec![])
    }
    async fn logs(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: bool,
    ) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn events(&self, _: &str) -> Result<Vec<EventSummary>, BackendError> {
        Ok(vec![])
    }
    async fn node_lease(&self, node: &str) -> Result<Option<Value>, BackendError> {
        self.log(format!("lease {node}"));
        Ok(self
            .leases
            .lock()
            .unwrap()
            .get(node)
            .map(|t| json!({"spec": {"renewTime": t}})))
    }
    async fn nodes_not_ready(&self) -> Result<Vec<String>, BackendError> {
        Ok(vec![])
    }
    async fn exec_node(&self, node: &Node, command: &[String]) -> Result<Ran, BackendError> {
        if self.break_exec {
            return Err(BackendError::Docker(
                crate::docker::error::DockerError::Operation {
                    operation: "exec in",
                    target: node.name.clone(),
                    source: Box::new(bollard::errors::Error::DockerResponseServerError {
                        status_code: 500,
                        message: "the Docker engine went away".into(),
                    }),
                },
            ));
        }
        self.log(format!("exec {} {}", node.name, command.join(" ")));
        use std::sync::atomic::Ordering::SeqCst;
        match command.first().map(String::as_str) {
            Some("outage") => self.down.store(true, SeqCst),
            Some("recover") => self.down.store(false, SeqCst),
            _ => {}
        }
        let code = command
            .last()
            .and_then(|c| c.strip_prefix("exit="))
            .map_or(0, |c| c.parse().unwrap());
        Ok(Ran {
            exit_code: code,
            stdout: "out\n".into(),
            stderr: String::new(),
        })
    }
    async fn exec_pod(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: &[String],
    ) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
    async fn restart_node(&self, node: &Node) -> Result<Node, BackendError> {
        self.log(format!("restart {}", node.name));
        let mut n = node.clone();
        for p in &mut n.published {
            p.host_port += 1;
        }
        Ok(n)
    }
    async fn pause_node(&self, _: &Node, _: Duration) -> Result<(), BackendError> {
        Ok(())
    }
    async fn kind_create(&self, _: &Path, _: KindVersion) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
    async fn probe(
        &self,
        site: &ProbeSite,
        args: &[String],
        _: &str,
        _: Duration,
    ) -> Result<Ran, BackendError> {
        let at = match site {
            ProbeSite::Host => "host".to_string(),
            ProbeSite::Node(n) => n.name.clone(),
            ProbeSite::Pod(p) => format!("pod {p}"),
        };
        self.log(format!("probe@{at} {}", args.join(" ")));
        let scripted = self.probe_rounds.lock().unwrap().pop_front();
        Ok(Ran {
            exit_code: 0,
            stdout: scripted.unwrap_or_else(|| self.probe_stdout.lock().unwrap().clone()),
            stderr: String::new(),
        })
    }
    /// An attempt every 5 ms (real time), answered by pod-a and pod-b by turns, refused
    /// while `down`; until stopped.
    async fn probe_stream(
        &self,
        _: &ProbeSite,
        args: &[String],
        _: &str,
    ) -> Result<super::backend::Streaming, BackendError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.log(format!("probe-stream {}", args.join(" ")));
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let (down, stopped) = (self.down.clone(), self.stopped.clone());
        stopped.store(false, SeqCst);
        tokio::spawn(async move {
            let epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let begun = std::time::Instant::now();
            let _ = tx
                .send(json!({"event": "stream", "epoch_ms": epoch, "interval_ms": 5.0, "targets": ["t:1"]}).to_string())
                .await;
            let mut i = 0u64;
            while !stopped.load(SeqCst) {
                let t = begun.elapsed().as_secs_f64() * 1000.0;
                let line = if down.load(SeqCst) {
                    json!({"event": "attempt", "target": "t:1", "t_ms": t, "outcome": "refused", "latency_ms": 0.1})
                } else {
                    let who = if i.is_multiple_of(2) {
                        "pod-a"
                    } else {
                        "pod-b"
                    };
                    json!({"event": "attempt", "target": "t:1", "t_ms": t, "outcome": "answered", "backend": who, "latency_ms": 1.0})
                };
                if tx.send(line.to_string()).await.is_err() {
                    return;
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Ok(super::backend::Streaming {
            lines: rx,
            handle: super::backend::StreamHandle::Fake(1),
        })
    }
    async fn end_stream(&self, h: &super::backend::StreamHandle) -> Result<(), BackendError> {
        self.log(format!("end-stream {h:?}"));
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    async fn disconnect_node(&self, node: &Node) -> Result<(), BackendError> {
        self.log(format!("disconnect {}", node.name));
        Ok(())
    }
    async fn reconnect_node(&self, node: &Node) -> Result<Node, BackendError> {
        self.log(format!("reconnect {}", node.name));
        Ok(node.clone())
    }
    async fn node_fault(
        &self,
        node: &Node,
        fault: &super::backend::NodeFault,
    ) -> Result<Ran, BackendError> {
        self.log(format!("fault {} {fault:?}", node.name));
        Ok(Ran::default())
    }
    async fn kill_pods(&self, ns: &str, selector: &str) -> Result<Vec<String>, BackendError> {
        self.log(format!("kill {ns} {selector}"));
        Ok(vec!["web-1".into()])
    }
}

const HEAD: &str = "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: s
summary: engine test
cluster:
  config: three-node.yaml
timeouts:
  assert: 400ms
  wait: 400ms
variables:
  who: pod-b
  peer: job-w-1.job.${namespace}.svc
variants:
  - name: v
    expect: whatever the steps assert
";

/// Load a scenario made of `HEAD` and `rest` from a temporary tree with a kind-configs/.
pub(super) fn scenario(rest: &str) -> (tempfile::TempDir, Scenario) {
    scenario_text(&format!("{HEAD}{rest}"))
}

/// Load scenario `text` (its kind config `three-node.yaml`, a manifest `svc.yaml` beside it)
/// from a temporary tree.
pub(super) fn scenario_text(text: &str) -> (tempfile::TempDir, Scenario) {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(tmp.path().join("kind-configs")).unwrap();
    std::fs::copy(
        root.join("kind-configs/three-node.yaml"),
        tmp.path().join("kind-configs/three-node.yaml"),
    )
    .unwrap();
    let dir = tmp.path().join("s");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), text).unwrap();
    std::fs::write(
        dir.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: dns\nspec:\n  ports:\n  - {port: 53, protocol: UDP, nodePort: 30154}\n  - {port: 53, protocol: TCP, nodePort: 30054}\n",
    )
    .unwrap();
    let s = crate::scenario::load::load(&dir.join("scenario.yaml"), KindVersion::NEWEST_KNOWN)
        .unwrap_or_else(|e| panic!("{e:?}"));
    (tmp, s)
}

pub(super) fn nodes() -> Vec<Node> {
    ["control-plane", "worker", "worker2"]
        .iter()
        .enumerate()
        .map(|(i, short)| Node {
            name: format!("kp-s-1-{short}"),
            role: if i == 0 {
                "control-plane".into()
            } else {
                "worker".into()
            },
            ipv4: Some(format!("127.0.0.{}", i + 2).parse().unwrap()),
            ipv6: None,
            published: vec![Published {
                container_port: 30001,
                protocol: Protocol::Tcp,
                host_ip: "127.0.0.1".into(),
                host_port: 40000 + i as u16,
            }],
            container: Some(format!("c{i}")),
            labels: Default::default(),
        })
        .collect()
}

pub(super) async fn run(fake: &Fake, s: &Scenario) -> VariantReport {
    run_stoppable(fake, s, Default::default()).await
}

async fn run_stoppable(
    fake: &Fake,
    s: &Scenario,
    stop: crate::runner::stop::Stop,
) -> VariantReport {
    let cx = Context {
        scenario: s,
        variant: &s.variants[0],
        namespace: "kp-s-1".into(),
        cluster: "kp-s-1".into(),
        nodes: nodes(),
        probe_image: "kindproof/probe:0.1.0".into(),
        poll: Duration::from_millis(10),
        stop,
        on_step: None,
    };
    run_variant(fake, &cx).await
}

#[tokio::test]
async fn a_failed_step_skips_the_rest_but_finally_and_cleanup_run_in_reverse() {
    let (_t, s) = scenario(
        "steps:
  - exec: {node: worker, command: [true]}
  - name: the failing one
    exec: {node: worker2, command: [check, exit=3]}
    finally:
      - exec: {node: worker, command: [finally]}
  - exec: {node: worker, command: [never]}
cleanup:
  - exec: {node: control-plane, command: [cleanup-1]}
  - exec: {node: control-plane, command: [cleanup-2]}
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert_eq!(
        fake.calls(),
        [
            "exec kp-s-1-worker true",
            "exec kp-s-1-worker2 check exit=3",
            "exec kp-s-1-worker finally",
            "exec kp-s-1-control-plane cleanup-2",
            "exec kp-s-1-control-plane cleanup-1",
        ]
    );
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "`check exit=3` exited 3, expected 0");
            assert_eq!(observed, "out");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.steps[2].status, Status::Skipped { .. }));
    assert_eq!(r.steps[1].finally.len(), 1);
    assert_eq!(r.cleanup.len(), 2);
}

#[tokio::test]
async fn a_stop_cuts_the_running_step_short_and_still_runs_finally_and_cleanup() {
    let (_t, s) = scenario(
        "steps:
  - name: the long one
    sleep: 30s
    finally:
      - exec: {node: worker, command: [finally]}
  - exec: {node: worker, command: [never]}
cleanup:
  - exec: {node: control-plane, command: [cleanup]}
",
    );
    let fake = Fake::default();
    let (handle, stop) = crate::runner::stop::Stop::new();
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle.request();
    };
    let (r, ()) = tokio::join!(run_stoppable(&fake, &s, stop), stopper);
    assert_eq!(
        fake.calls(),
        [
            "exec kp-s-1-worker finally",
            "exec kp-s-1-control-plane cleanup"
        ]
    );
    assert!(
        matches!(&r.steps[0].status, Status::Broken { message, .. } if message.contains("interrupted")),
        "{:?}",
        r.steps[0].status
    );
    assert!(r.steps[0].duration < Duration::from_secs(10));
    assert!(r.steps[0].finally[0].status.is_passed());
    assert!(
        matches!(&r.steps[1].status, Status::Skipped { reason } if reason == "the run was interrupted"),
        "{:?}",
        r.steps[1].status
    );
    assert!(r.cleanup[0].status.is_passed());
}

#[tokio::test]
async fn a_variant_the_stop_cut_short_before_its_steps_ran_is_skipped_not_passed() {
    let (_t, s) = scenario(
        "steps:
  - exec: {node: worker, command: [first]}
cleanup:
  - exec: {node: control-plane, command: [cleanup]}
",
    );
    let fake = Fake::default();
    let (handle, stop) = crate::runner::stop::Stop::new();
    handle.request();
    let r = run_stoppable(&fake, &s, stop).await;
    assert_eq!(fake.calls(), ["exec kp-s-1-control-plane cleanup"]);
    assert!(
        matches!(&r.status, Status::Skipped { reason } if reason.contains("interrupted")),
        "{:?}",
        r.status
    );
}

#[tokio::test]
async fn a_delete_step_deletes_a_manifests_objects_or_one_object() {
    let (_t, s) = scenario(
        "steps:
  - delete: {file: svc.yaml}
  - delete: {target: {apiVersion: v1, kind: Service, name: dns}}
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert!(r.status.is_passed(), "{:?}", r.status);
    assert_eq!(fake.calls(), ["delete 1", "delete 1"]);
}

#[tokio::test]
async fn an_assertion_polls_until_its_deadline_and_reports_the_last_value() {
    let (_t, s) = scenario(
        "steps:
  - assert:
      pod: {selector: app=flower, minRestarts: 2}
",
    );
    let pod = |restarts: u64| {
        json!({"metadata": {"name": "flower-0"}, "status": {"phase": "Running",
            "containerStatuses": [{"name": "c", "restartCount": restarts}]}})
    };
    let fake = Fake::default();
    fake.pods
        .lock()
        .unwrap()
        .extend([vec![pod(0)], vec![pod(1)]]);
    let r = run(&fake, &s).await;
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "pods app=flower: flower-0: at least 2 restarts");
            assert_eq!(observed, "flower-0: Running, not ready, restarts 1");
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.calls().len() > 2, "it looked more than once");
    // The same assertion passes once the cluster gets there.
    let fake = Fake::default();
    fake.pods
        .lock()
        .unwrap()
        .extend([vec![pod(0)], vec![pod(1)], vec![pod(2)]]);
    assert_eq!(run(&fake, &s).await.status, Status::Passed);
}

#[tokio::test]
async fn variables_and_probe_results_drive_routing_assertions() {
    let (_t, s) = scenario(
        "steps:
  - id: conn
    probe:
      connect:
        from: node:worker2
        targets: ['${nodes.worker.ip}:${ports.worker.30001/tcp}']
        count: 40
  - assert:
      routing: {probe: conn, target: '${nodes.worker.ip}:${ports.worker.30001/tcp}', includes: ['${who}'], minDistinct: 2}
  - restart-node: worker
  - id: again
    probe:
      connect: {from: host, targets: ['127.0.0.1:${ports.worker.30001/tcp}']}
  - assert:
      routing: {probe: again, target: '127.0.0.1:40002', only: [pod-a]}
",
    );
    let fake = Fake::default();
    *fake.probe_stdout.lock().unwrap() = [
        r#"{"event":"connect-summary","target":"127.0.0.3:40001","attempts":40,"answered":40,"backends":{"pod-a":22,"pod-b":18}}"#,
        r#"{"event":"connect-summary","target":"127.0.0.1:40002","attempts":40,"answered":40,"backends":{"pod-a":22,"pod-b":18}}"#,
    ]
    .join("\n");
    let r = run(&fake, &s).await;
    let calls = fake.calls();
    assert_eq!(
        calls[0],
        "probe@kp-s-1-worker2 connect --target 127.0.0.3:40001 --count 40 --concurrency 4 --timeout 2000ms --proto tcp"
    );
    // After the restart the port was read again (the fake moved it by one).
    assert_eq!(
        calls[2],
        "probe@host connect --target 127.0.0.1:40002 --count 40 --concurrency 4 --timeout 2000ms --proto tcp"
    );
    assert!(r.steps[1].status.is_passed(), "{:?}", r.steps[1].status);
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "127.0.0.1:40002: only pod-a answer");
            assert_eq!(observed, "40 of 40 answered: pod-a 22, pod-b 18");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_expected_refusal_passes_and_its_output_is_asserted() {
    let (_t, s) = scenario(
        "steps:
  - id: v3
    apply: {file: svc.yaml, expectError: true}
  - assert:
      result: {step: v3, stderrContains: Duplicate value}
  - assert:
      result: {step: v3, exitCode: 0}
",
    );
    let fake = Fake::default();
    *fake.apply_exit.lock().unwrap() = 1;
    let r = run(&fake, &s).await;
    assert!(r.steps[0].status.is_passed());
    assert!(r.steps[1].status.is_passed());
    match &r.steps[2].status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "result of v3: exit code 0");
            assert!(
                observed.starts_with("exit 1, stdout \"\", stderr \"Duplicate value: 53\""),
                "{observed}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn field_assertions_read_what_was_stored() {
    let (_t, s) = scenario(
        "steps:
  - apply: {file: svc.yaml}
  - assert:
      field:
        target: {apiVersion: v1, kind: Service, name: dns}
        path: .spec.ports[protocol=UDP].nodePort
        equals: 30154
  - assert:
      field:
        target: {apiVersion: v1, kind: Service, name: dns}
        path: .spec.ports[*].nodePort
        equals: [30154, 30154]
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert!(r.steps[1].status.is_passed(), "{:?}", r.steps[1].status);
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(
                message,
                "Service/dns .spec.ports[*].nodePort equals [30154,30154]"
            );
            assert_eq!(observed, "[30154,30054]");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_broken_harness_is_not_a_failed_assertion() {
    let (_t, s) = scenario(
        "steps:
  - exec: {node: worker, command: [true]}
  - exec: {node: worker, command: [never]}
",
    );
    let fake = Fake {
        break_exec: true,
        ..Default::default()
    };
    let r = run(&fake, &s).await;
    // Broken, not failed, and the report says Docker broke.
    assert_eq!(
        r.status,
        Status::Broken {
            message: "failed to exec in kp-s-1-worker: Docker responded with status code 500: the Docker engine went away".into(),
            cause: Some("docker"),
        }
    );
    assert!(matches!(r.steps[1].status, Status::Skipped { .. }));
}

#[tokio::test]
async fn timeouts_resolve_in_layers() {
    let (_t, s) = scenario(
        "steps:
  - id: a
    sleep: 1ms
  - assert: {result: {step: a, exitCode: 0}}
    timeout: 7s
  - assert: {result: {step: a, exitCode: 0}}
  - wait: {deployment: web}
  - exec: {node: worker, command: [x]}
",
    );
    let t: Vec<Duration> = s.variants[0].steps.iter().map(|st| st.timeout).collect();
    assert_eq!(
        t[1..],
        [
            Duration::from_secs(7),     // the step's own
            Duration::from_millis(400), // the scenario's `timeouts.assert`
            Duration::from_millis(400), // the scenario's `timeouts.wait`
            Duration::from_secs(60),    // the built-in exec default
        ]
    );
}

#[tokio::test]
async fn user_variables_may_refer_to_other_variables() {
    let (_t, s) = scenario(
        "steps:
  - exec: {node: worker, command: [nslookup, '${peer}']}
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert!(r.status.is_passed(), "{:?}", r.status);
    assert_eq!(
        fake.calls(),
        ["exec kp-s-1-worker nslookup job-w-1.job.kp-s-1.svc"]
    );
}

#[tokio::test]
async fn a_wait_rides_out_an_api_server_that_is_briefly_gone_but_not_one_that_stays_gone() {
    let (_t, s) = scenario(
        "steps:
  - wait: {pods: {selector: app=web, ready: true}}
",
    );
    let ready = json!({"metadata": {"name": "web"}, "status": {"phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}]}});
    let fake = Fake::default();
    *fake.pods_fail.lock().unwrap() = 3;
    fake.pods.lock().unwrap().push_back(vec![ready.clone()]);
    assert_eq!(run(&fake, &s).await.status, Status::Passed);
    // Gone for longer than the wait: broken (the harness could not look), not failed.
    let fake = Fake::default();
    *fake.pods_fail.lock().unwrap() = u32::MAX;
    assert_eq!(
        run(&fake, &s).await.status,
        Status::Broken {
            message:
                "failed to list pods in kp-s-1: connection refused (the API server is restarting)"
                    .into(),
            cause: Some("kubernetes-api"),
        }
    );
}

#[tokio::test]
async fn role_references_name_the_nodes_kind_names_do() {
    let (_t, s) = scenario(
        "steps:
  - exec:
      node: '${nodes.role.worker[1].name}'
      command: [echo, '${nodes.role.worker[0].ip}', '${nodes.worker.ip}', '${nodes.role.control-plane[0].name}']
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert!(r.status.is_passed(), "{:?}", r.status);
    assert_eq!(
        fake.calls()[0],
        "exec kp-s-1-worker2 echo 127.0.0.3 127.0.0.3 kp-s-1-control-plane"
    );
}

#[tokio::test]
async fn label_references_name_nodes_by_their_kind_config_labels_or_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("labelled.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n  labels: {disktype: ssd}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        HEAD.replace("three-node.yaml", "labelled.yaml")
            + "steps:
  - exec:
      node: '${nodes.label.disktype=ssd[0].name}'
      command: [echo, '${nodes.label.disktype=ssd[0].ip}']
",
    )
    .unwrap();
    let s = crate::scenario::load::load(&dir.join("scenario.yaml"), KindVersion::NEWEST_KNOWN)
        .unwrap_or_else(|e| panic!("{e:?}"));
    // On kind the config's labels say which node: worker2.
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert!(r.status.is_passed(), "{:?}", r.status);
    assert_eq!(fake.calls()[0], "exec kp-s-1-worker2 echo 127.0.0.4");
    // A validation against the config: no second node has the label.
    std::fs::write(
        dir.join("scenario.yaml"),
        HEAD.replace("three-node.yaml", "labelled.yaml")
            + "steps:\n  - exec: {node: worker, command: [echo, '${nodes.label.disktype=ssd[1].ip}']}\n",
    )
    .unwrap();
    let errors = crate::scenario::load::load(&dir.join("scenario.yaml"), KindVersion::NEWEST_KNOWN)
        .unwrap_err();
    assert!(
        errors.iter().any(|e| e
            .to_string()
            .contains("the kind config gives 1 node(s) the label disktype=ssd, so no index 1")),
        "{errors:?}"
    );
}

#[test]
fn label_references_on_an_existing_cluster_read_the_nodes_own_labels() {
    use crate::cluster::provider::find_node;
    let (_t, s) = scenario("steps:\n  - sleep: 1ms\n");
    let mut nodes = nodes();
    nodes[1].labels.insert("zone".into(), "b".into());
    nodes[2].labels.insert("zone".into(), "a".into());
    nodes[0].labels.insert("zone".into(), "a".into());
    let pairs: Vec<(&str, &Node)> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let named = |rest: &str| {
        find_node(&pairs, "kp-s-1", &s.cluster.config, "label", rest)
            .map(|(n, field)| (n.name.clone(), field.to_string()))
    };
    assert_eq!(
        named("zone=a[0].name"),
        Some(("kp-s-1-control-plane".into(), "name".into()))
    );
    assert_eq!(
        named("zone=a[1].ip"),
        Some(("kp-s-1-worker2".into(), "ip".into()))
    );
    assert_eq!(named("zone=a[2].ip"), None);
}
