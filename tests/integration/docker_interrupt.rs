//! SIGINT in the middle of a variant, below Kubernetes: on a fake-kind cluster made by `up`, a
//! step that runs for a minute in a node is cut short, its `finally` and the scenario's
//! `cleanup:` steps still run (each leaves a marker in the node), the steps after it do not,
//! the run exits 130, and nothing of the run is left behind.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kindproof::cluster::nodes::kind_nodes;
use kindproof::docker::api::Engine;
use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: interrupted
summary: a long step interrupted by SIGINT
cluster:
  config: three.yaml
variants:
  - name: only
    expect: its finally and cleanup steps run though it is interrupted
steps:
  - name: the long one
    exec: {node: worker, command: [sh, -c, ': > /tmp/kp-started; sleep 60']}
    timeout: 120s
    finally:
      - exec: {node: worker, command: [sh, -c, ': > /tmp/kp-finally']}
  - exec: {node: worker, command: [sh, -c, ': > /tmp/kp-never']}
cleanup:
  - exec: {node: worker, command: [sh, -c, ': > /tmp/kp-cleanup']}
"#;

/// Whether `file` exists in container `id`.
async fn exists(engine: &BollardEngine, id: &str, file: &str) -> bool {
    // The fake nodes' busybox links a shell, whose `test` is a builtin.
    let cmd: Vec<String> = vec!["sh".into(), "-c".into(), format!("test -e {file}")];
    engine
        .exec(id, &cmd, None)
        .await
        .is_ok_and(|o| o.exit_code == 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_sigint_mid_variant_runs_its_finally_and_cleanup_steps() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let worker = kind_nodes(&engine, &name)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.name.ends_with("-worker"))
        .expect("a worker node");
    let id = worker.container.id.clone();
    let dir = w.tmp.path().join("scenarios/interrupted");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), SCENARIO).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    let before: Vec<String> = engine
        .list_containers("io.kindproof.managed=true")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();

    let mut child = w
        .cmd()
        .args(["run", "--cluster", &name])
        .arg(w.tmp.path().join("scenarios"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !exists(&engine, &id, "/tmp/kp-started").await {
        if start.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("the long step never started: {:?}", text(&o));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: our own child's pid and a valid signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("kindproof did not end after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let o = child.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{out}{err}");
    assert!(
        err.contains("running the current variants' finally and cleanup steps"),
        "{err}"
    );
    // The sleep was cut short (not waited out), and the right steps ran.
    assert!(
        start.elapsed() < Duration::from_secs(45),
        "{:?}",
        start.elapsed()
    );
    assert!(
        exists(&engine, &id, "/tmp/kp-finally").await,
        "finally did not run: {err}"
    );
    assert!(
        exists(&engine, &id, "/tmp/kp-cleanup").await,
        "cleanup did not run: {err}"
    );
    assert!(
        !exists(&engine, &id, "/tmp/kp-never").await,
        "a later step ran: {err}"
    );
    // Nothing of the run is left: the managed containers are those from before it.
    let after: Vec<String> = engine
        .list_containers("io.kindproof.managed=true")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .filter(|c| !before.contains(c))
        .collect();
    assert!(after.is_empty(), "left behind: {after:?}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}
