//! A host port taken between kindproof's pick and kind's bind (Docker hands out random ports
//! from the same range to other containers): the half-made cluster is removed, the ports are
//! picked again, and the run goes on — with the fake kind failing its first create the way
//! Docker does.

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: retried
summary: a cluster whose first create loses a host port
cluster:
  config: three.yaml
variants:
  - name: only
    expect: the node answers once the cluster is made again
steps:
  - exec: {node: worker, command: [echo, ok]}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_picks_ports_again_when_one_was_taken_meanwhile() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let dir = w.tmp.path().join("scenarios/retried");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), SCENARIO).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    let marker = w.tmp.path().join("port-taken-once");
    let o = w
        .cmd()
        .env("FAKE_KIND_PORT_TAKEN_ONCE", &marker)
        .args(["run", "--image", &w.image])
        .arg(w.tmp.path().join("scenarios"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(marker.exists(), "the fake kind never failed: {err}");
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        err.contains("was taken meanwhile: picking again (attempt 2 of 3)"),
        "{err}"
    );
    assert!(out.contains("PASS  retried/only"), "{out}");
    // Both creates' clusters are gone (the run owned them): no kind node on the world's network.
    let left = w.nodes_on_network(&engine).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    w.teardown(&engine, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_up_picks_ports_again_when_one_was_taken_meanwhile() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(7);
    let marker = w.tmp.path().join("port-taken-once");
    let o = w
        .up(&name)
        .env("FAKE_KIND_PORT_TAKEN_ONCE", &marker)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(marker.exists(), "the fake kind never failed: {err}");
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        err.contains("was taken meanwhile: picking again (attempt 2 of 3)"),
        "{err}"
    );
    assert!(out.contains(&format!("cluster     {name}")), "{out}");
    // One cluster stands: the second create's (the first one's half was removed).
    let nodes = w.nodes_on_network(&engine).await;
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.iter().all(|n| n.starts_with(&name)), "{nodes:?}");
    w.teardown(&engine, &[name]).await;
}
