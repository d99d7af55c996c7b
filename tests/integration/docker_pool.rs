//! Clusters leased across processes, with the fake kind: eight `run --pool` processes for one
//! shape make one cluster and all pass; two shapes make two; `pool prune` deletes a cluster
//! idle past its TTL; a holder killed with SIGKILL blocks no one and is forgotten; variants
//! that must run alone, in different processes, never overlap.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

/// A scenario `name` on kind config `config`, with `steps`.
fn scenario(w: &World, name: &str, config: &str, steps: &str) -> std::path::PathBuf {
    let dir = w.tmp.path().join(format!("scenarios-{name}/{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        format!(
            "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: {name}
summary: a pooled cluster
cluster:
  config: {config}
variants:
  - name: only
    expect: it runs on the pooled cluster
steps:
{steps}"
        ),
    )
    .unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    // Another shape: the same nodes, another config text.
    let other = std::fs::read_to_string(w.config()).unwrap();
    std::fs::write(dir.join("other.yaml"), format!("# another shape\n{other}")).unwrap();
    dir.parent().unwrap().to_path_buf()
}

fn creates(w: &World) -> usize {
    std::fs::read_to_string(w.log())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("create cluster"))
        .count()
}

fn pooled(w: &World, dir: &std::path::Path) -> std::process::Command {
    let mut c = w.cmd();
    c.env("KINDPROOF_POOL_TTL", "2s")
        .args(["run", "--pool", "--image", &w.image])
        .arg(dir);
    c
}

/// `n` pooled runs of `dir` started at once: each one's stdout, stderr and exit code.
fn at_once(w: &World, dir: &std::path::Path, n: usize) -> Vec<(String, String, Option<i32>)> {
    let runs: Vec<_> = (0..n)
        .map(|_| {
            let mut c = pooled(w, dir);
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    runs.into_iter()
        .map(|r| {
            let o = r.wait_with_output().unwrap();
            let (out, err) = text(&o);
            (out, err, o.status.code())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_pool_eight_processes_share_one_cluster_and_prune_removes_it_after_its_ttl() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let one = scenario(
        &w,
        "shared",
        "three.yaml",
        "  - exec: {node: worker, command: [echo, ok]}\n",
    );
    for (out, err, code) in at_once(&w, &one, 8) {
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("PASS  shared/only"), "{out}");
    }
    assert_eq!(creates(&w), 1, "eight processes, one shape: one cluster");
    assert_eq!(w.nodes_on_network(&engine).await.len(), 3, "it stays warm");
    // Another shape is another cluster.
    let two = scenario(
        &w,
        "other",
        "other.yaml",
        "  - exec: {node: worker, command: [echo, ok]}\n",
    );
    let o = pooled(&w, &two).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(creates(&w), 2);
    let ls = w.cmd().args(["pool", "ls"]).output().unwrap();
    let (out, _) = text(&ls);
    assert_eq!(
        out.lines().filter(|l| l.contains("kp-pool-")).count(),
        2,
        "{out}"
    );
    // Idle past the TTL: pruned.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let o = w
        .cmd()
        .env("KINDPROOF_POOL_TTL", "2s")
        .args(["pool", "prune"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(out.matches("deleted pooled cluster").count(), 2, "{out}");
    let left = w.nodes_on_network(&engine).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    w.teardown(&engine, &[]).await;
}

/// Steps that fail if another variant is inside them at the same time (on the shared node).
const EXCLUSIVE: &str = "  - restart-node: worker2
  - exec: {node: worker, command: [sh, -c, 'if [ -e /tmp/busy ] && read v < /tmp/busy && [ \"$v\" = 1 ]; then exit 1; fi; echo 1 > /tmp/busy']}
  - sleep: 2s
  - exec: {node: worker, command: [sh, -c, 'echo 0 > /tmp/busy']}
";

#[tokio::test(flavor = "multi_thread")]
async fn docker_pool_alone_variants_never_overlap_and_a_killed_holder_blocks_no_one() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let dir = scenario(&w, "alone", "three.yaml", EXCLUSIVE);
    // A holder killed mid-variant (it holds the shape alone, sleeping).
    let long = scenario(
        &w,
        "holder",
        "three.yaml",
        "  - restart-node: worker2\n  - sleep: 60s\n",
    );
    let mut killed = pooled(&w, &long)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let alone_lock = w.tmp.path().join("run/pool");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until it holds the shape alone (its `.alone` lock is taken).
    loop {
        let held = std::fs::read_dir(&alone_lock)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "alone"))
            .any(|e| {
                std::fs::File::open(e.path())
                    .map(|f| f.try_lock().is_err())
                    .unwrap_or(false)
            });
        if held {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the holder never took the shape alone"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    // Two processes whose variants must run alone: both pass, one after the other.
    let started = Instant::now();
    for (out, err, code) in at_once(&w, &dir, 2) {
        assert_eq!(code, Some(0), "overlapped or blocked: {out}{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the killed holder blocked them"
    );
    assert_eq!(creates(&w), 1);
    // The killed holder is forgotten.
    let ls = w.cmd().args(["pool", "ls"]).output().unwrap();
    let (out, _) = text(&ls);
    let row = out.lines().find(|l| l.contains("kp-pool-")).unwrap();
    assert!(row.split_whitespace().nth(4) == Some("0"), "{out}");
    let o = w.cmd().args(["pool", "prune", "--all"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[]).await;
}
