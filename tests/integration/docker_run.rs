//! `kindproof run` end to end below Kubernetes: a fake-kind cluster made by `up`, with probe
//! `serve` containers sharing the network namespaces of two worker nodes (so `node IP:8080`
//! answers with that node's backend), and a scenario of probe steps from the host and from a
//! node, checked by routing, dns and result assertions. One variant holds, one must fail: the
//! run exits 1 and the reports show the backends really observed.

use kindproof::cluster::nodes::kind_nodes;
use kindproof::docker::api::{ContainerSpec, Engine};
use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::{probe_image, text};

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: routing
summary: which backend answers each node's port
cluster:
  config: three.yaml
timeouts:
  probe: 60s
  # The variant written to fail observes until this deadline.
  assert: 5s
variables:
  expected: pod-a
variants:
  - name: holds
    expect: worker answers with pod-a, worker2 with pod-b, from the host and from a node
  - name: wrong-backend
    expect: this one is written to fail (pod-b is not on worker)
    variables:
      expected: pod-b
steps:
  - id: host
    probe:
      connect:
        from: host
        targets: ['${nodes.worker.ip}:8080', '${nodes.worker2.ip}:8080', '${nodes.control-plane.ip}:8080']
        count: 30
        perConnectionTimeout: 1s
  - assert:
      routing: {probe: host, target: '${nodes.worker.ip}:8080', only: ['${expected}']}
  - assert:
      routing: {probe: host, target: '${nodes.worker2.ip}:8080', only: [pod-b], minDistinct: 1}
  - assert:
      routing: {probe: host, target: '${nodes.control-plane.ip}:8080', unreachable: true}
  - id: from-node
    probe:
      connect: {from: 'node:worker2', targets: ['${nodes.worker.ip}:8080'], count: 10}
  - assert:
      routing: {probe: from-node, target: '${nodes.worker.ip}:8080', includes: [pod-a], excludes: [pod-b]}
  - id: name
    probe:
      dns: {from: 'node:worker', name: '${nodes.worker2.name}', until: once}
  - assert:
      dns: {probe: name, resolved: true}
  - id: bind
    probe:
      bind: {from: 'node:worker', address: '${nodes.worker2.ip}:30457'}
  - assert:
      result: {step: bind, exitCode: 1, stdoutContains: EADDRNOTAVAIL, stderrContains: 'Port in server address ${nodes.worker2.ip}:30457 is already in use.'}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_probes_from_host_and_node_and_reports_what_answered() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let probe = probe_image(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    // A backend in each worker's network namespace: its node's IP:8080 answers with it.
    let nodes = kind_nodes(&engine, &name).await.unwrap();
    for (node, who) in [(&nodes[1], "pod-a"), (&nodes[2], "pod-b")] {
        let spec = ContainerSpec {
            name: format!("kp-test-{}-{who}", w.scope.run_id),
            image: probe.clone(),
            cmd: vec![
                "serve".into(),
                "--tcp".into(),
                "8080".into(),
                "--quiet".into(),
            ],
            env: vec![format!("POD_NAME={who}")],
            labels: w.scope.labels(),
            network: Some(format!("container:{}", node.container.id)),
            stop_timeout: Some(1),
            ..Default::default()
        };
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
    }
    let dir = w.tmp.path().join("scenarios/routing");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), SCENARIO).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    let junit = w.tmp.path().join("junit.xml");
    let json = w.tmp.path().join("report.json");

    let o = w
        .cmd()
        .env("KINDPROOF_PROBE_BIN", probe_bin())
        .args(["run", "--cluster", &name, "-j", "2", "--report-junit"])
        .arg(&junit)
        .arg("--report-json")
        .arg(&json)
        .arg("--artifacts")
        .arg(w.tmp.path().join("artifacts"))
        .arg(w.tmp.path().join("scenarios"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("PASS  routing/holds"), "{out}");
    assert!(out.contains("FAIL  routing/wrong-backend"), "{out}");
    // The failure names what was really seen.
    assert!(out.contains("only pod-b answer"), "{out}");
    assert!(
        out.contains("observed: 30 of 30 answered: pod-a 30"),
        "{out}"
    );
    assert!(
        out.contains("2 variant(s): 1 passed, 1 failed, 0 broken, 0 skipped"),
        "{out}"
    );
    // The failed variant left a diagnostics bundle, and the run printed where.
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("diagnostics: "))
        .unwrap_or_else(|| panic!("no diagnostics line in {out}"));
    let bundle = std::path::PathBuf::from(line);
    assert!(bundle.starts_with(w.tmp.path().join("artifacts")), "{line}");
    assert!(bundle.ends_with("routing/wrong-backend"), "{line}");
    let probes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("probes.json")).unwrap()).unwrap();
    assert_eq!(probes["host"][0]["backends"]["pod-a"], 30, "{probes}");
    let report = std::fs::read_to_string(bundle.join("report.txt")).unwrap();
    assert!(report.contains("only pod-b answer"), "{report}");
    let ports = std::fs::read_to_string(bundle.join("ports.json")).unwrap();
    assert!(ports.contains(&format!("{name}-worker2")), "{ports}");
    // Node-level state is collected from each node (the fake nodes have no iptables-save:
    // the file says what happened instead).
    let iptables = bundle.join(format!("nodes/{name}-worker/iptables-save.txt"));
    assert!(
        std::fs::read_to_string(&iptables)
            .unwrap()
            .starts_with("# iptables-save"),
        "{}",
        iptables.display()
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testcase name="holds" classname="routing""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure message="#), "{xml}");
    assert!(
        xml.contains("observed: 30 of 30 answered: pod-a 30"),
        "{xml}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["variants"][0]["status"], "passed");
    assert_eq!(report["variants"][1]["status"], "failed");
    // No probe container outlives its step; the run touched no API (none was needed).
    let left: Vec<String> = engine
        .list_containers(&w.scope.filter())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with("kp-probe-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let all_probes = engine
        .list_containers("io.kindproof.managed=true")
        .await
        .unwrap();
    assert!(
        all_probes.iter().all(|c| !c.name.starts_with("kp-probe-")),
        "probe containers left: {:?}",
        all_probes.iter().map(|c| &c.name).collect::<Vec<_>>()
    );

    // Only the variant that holds: exit 0.
    let o = w
        .cmd()
        .env("KINDPROOF_PROBE_BIN", probe_bin())
        .args(["run", "--cluster", &name, "--variant", "holds"])
        .arg(w.tmp.path().join("scenarios"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

fn probe_bin() -> std::path::PathBuf {
    kindproof::probe_image::find_binary(None).expect("`make probe` builds the static probe")
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_refuses_images_that_are_not_local_before_using_a_cluster() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let dir = w.tmp.path().join("scenarios/pulls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: a\n    image: ${probe.image}\n  - name: b\n    image: kindproof-test/absent:1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: pulls
summary: a manifest naming an image nobody built
cluster:
  config: three.yaml
variants:
  - name: only
    expect: never runs
steps:
  - apply: {file: pod.yaml}
",
    )
    .unwrap();
    let o = w
        .cmd()
        .args(["run", "--cluster", "kp-no-such-cluster"])
        .arg(w.tmp.path().join("scenarios"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(
        out.contains("images the manifests use are not present locally (kindproof pulls only with --pull or KINDPROOF_PULL=1; or `docker load` them): kindproof-test/absent:1"),
        "{out}"
    );
    assert!(
        out.contains("ERROR routing") || out.contains("ERROR pulls/only"),
        "{out}"
    );
    w.teardown(&engine, &[]).await;
}

const NODE_ONLY: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: nodes-only
summary: node actions only, so a fake-kind cluster (no API server) can run it
cluster:
  config: three.yaml
variants:
  - name: quick
    expect: every node answers an exec
    steps:
      - exec: {node: worker, command: [echo, ok]}
      - exec: {node: worker2, command: [echo, ok]}
  - name: slow
    expect: uses a node, then sleeps long enough to be interrupted
    steps:
      - exec: {node: worker, command: [echo, ok]}
      - sleep: 60s
"#;

fn node_only_suite(w: &World) -> std::path::PathBuf {
    let dir = w.tmp.path().join("suite/nodes-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), NODE_ONLY).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    // A second cluster shape: one node.
    let other = w.tmp.path().join("suite/other-shape");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("one.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n",
    )
    .unwrap();
    std::fs::write(
        other.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha1\nkind: Scenario\nname: other-shape\nsummary: a one-node cluster\ncluster:\n  config: one.yaml\nvariants:\n  - name: quick\n    expect: the node answers\nsteps:\n  - exec: {node: control-plane, command: [echo, ok]}\n",
    )
    .unwrap();
    w.tmp.path().join("suite")
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_creates_its_cluster_and_deletes_it_even_when_interrupted() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let suite = node_only_suite(&w);
    // A run that creates its cluster, runs, and deletes it.
    let o = w
        .cmd()
        .args(["run", "--image", &w.image, "--variant", "quick"])
        .arg(&suite)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("PASS  nodes-only/quick"), "{out}");
    assert!(out.contains("PASS  other-shape/quick"), "{out}");
    // Two shapes, two clusters, made in parallel (-j 2 by default).
    assert!(err.contains("creating kind cluster kp-three-"), "{err}");
    assert!(err.contains("creating kind cluster kp-one-"), "{err}");
    assert!(
        w.nodes_on_network(&engine).await.is_empty(),
        "the run's cluster is gone"
    );

    // Interrupted in the middle of a step: the cluster goes too, and the exit is 130.
    let mut child = w
        .cmd()
        .args(["run", "--image", &w.image, "--variant", "slow"])
        .arg(&suite)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while w.nodes_on_network(&engine).await.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "no cluster appeared");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // SAFETY: kill only signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: cleaning up"), "{err}");
    assert!(
        w.nodes_on_network(&engine).await.is_empty(),
        "interrupted run left nodes"
    );
    assert!(
        std::fs::read_dir(w.state().join("clusters"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "the run's cluster record is gone"
    );
    w.teardown(&engine, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_kind_create_judges_a_config_as_old_kind_and_leaves_nothing() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let suite = crate::support::root().join("scenarios/kind-random-hostports");
    // The installed kind (the fake, 0.33) does not have 0.21's rules: kindproof's port of them
    // judges, with kind's exact message, and nothing is created.
    let o = w
        .cmd()
        .args(["run", "--cluster", &name, "--variant", "bug", "-v"])
        .arg(&suite)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("PASS  kind-random-hostports/bug"), "{out}");
    // Without --cluster, a run of that variant alone creates no cluster at all: kind-create
    // makes its own throwaway nodes, and nothing else uses the cluster.
    let before = std::fs::read_to_string(w.log()).unwrap_or_default();
    let o = w
        .cmd()
        .args(["run", "--image", &w.image, "--variant", "bug"])
        .arg(&suite)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(!err.contains("creating kind cluster"), "{err}");
    let after = std::fs::read_to_string(w.log()).unwrap_or_default();
    assert!(
        !after[before.len()..].contains("create cluster --name kp-"),
        "{after}"
    );
    // A "kind 0.21" that creates a cluster anyway (the fake does not validate): the step counts
    // the node containers it made, the assertion fails on it, and they are removed.
    let o = w
        .cmd()
        .env("FAKE_KIND_VERSION", "0.21.0")
        .env("FAKE_KIND_DEFAULT_IMAGE", &w.image)
        .args(["run", "--cluster", &name, "--variant", "bug"])
        .arg(&suite)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("containers created for this cluster: 1"),
        "{out}"
    );
    let strays: Vec<String> = engine
        .list_containers(kindproof::cluster::nodes::CLUSTER_LABEL)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with("kp-kc-"))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_overlaps_disjoint_variants_and_never_colliding_ones() {
    // Variants of different scenarios, and of one scenario (each has its own namespace), run at
    // once when their claims are disjoint; a variant that pauses a node affects everyone on
    // the cluster and runs alone. The report's timeline shows which overlapped.
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    for (scenario, body) in [
        (
            "sleepy",
            "variants:\n  - name: one\n    expect: sleeps\n  - name: two\n    expect: sleeps\nsteps:\n  - sleep: 1500ms\n",
        ),
        (
            "other",
            "variants:\n  - name: three\n    expect: sleeps\nsteps:\n  - sleep: 1500ms\n",
        ),
        (
            "pauses",
            "variants:\n  - name: a\n    expect: pauses worker\n  - name: b\n    expect: pauses worker2\n    steps:\n      - pause-node: {node: worker2, for: 800ms}\nsteps:\n  - pause-node: {node: worker, for: 800ms}\n",
        ),
    ] {
        let dir = w.tmp.path().join(format!("turns/{scenario}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
        std::fs::write(
            dir.join("scenario.yaml"),
            format!("apiVersion: kindproof.dev/v1alpha1\nkind: Scenario\nname: {scenario}\nsummary: timing\ncluster:\n  config: three.yaml\n{body}"),
        )
        .unwrap();
    }
    let json = w.tmp.path().join("turns.json");
    let o = w
        .cmd()
        .args(["run", "--cluster", &name, "-j", "4", "-v", "--report-json"])
        .arg(&json)
        .arg(w.tmp.path().join("turns"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let spans: Vec<(String, f64, f64, bool)> = report["timeline"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["start"].as_f64().unwrap(),
                v["end"].as_f64().unwrap(),
                v["alone"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(spans.len(), 5, "{spans:?}");
    let span = |id: &str| spans.iter().find(|s| s.0 == id).unwrap().clone();
    let overlap = |a: &str, b: &str| {
        let (x, y) = (span(a), span(b));
        x.1 < y.2 && y.1 < x.2
    };
    // Disjoint: all three sleepers at once (-j 4).
    assert!(overlap("sleepy/one", "sleepy/two"), "{spans:?}");
    assert!(overlap("sleepy/one", "other/three"), "{spans:?}");
    // Alone: a pausing variant overlaps nothing.
    assert!(span("pauses/a").3 && span("pauses/b").3);
    for p in ["pauses/a", "pauses/b"] {
        for other in [
            "sleepy/one",
            "sleepy/two",
            "other/three",
            "pauses/a",
            "pauses/b",
        ] {
            assert!(
                p == other || !overlap(p, other),
                "{p} overlapped {other}: {spans:?}"
            );
        }
    }
    // The wall-clock phase is a union: less than the sum of the variants' own times.
    let wall = report["phases"]["variants"].as_f64().unwrap();
    let sum: f64 = spans.iter().map(|s| (s.2 - s.1) * 1000.0).sum();
    assert!(wall < sum, "{wall} ms wall, {sum} ms summed");
    // -v says why a variant waited.
    assert!(
        err.contains("waits for pauses/") || err.contains("pauses node"),
        "{err}"
    );
    // The report reads back as a timeline.
    let o = w
        .cmd()
        .args(["report", "timeline"])
        .arg(&json)
        .output()
        .unwrap();
    let (tl, tl_err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{tl}{tl_err}");
    assert!(tl.starts_with("floor ") && tl.contains("\nratio "), "{tl}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_deletes_a_cluster_that_never_becomes_ready() {
    // The fake kind has no API server: a variant that needs one waits for Ready nodes in vain;
    // the run is broken (exit 3) and the cluster it made is gone.
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let dir = w.tmp.path().join("needs-api/needs-api");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha1\nkind: Scenario\nname: needs-api\nsummary: reads the API\ncluster:\n  config: three.yaml\nvariants:\n  - name: only\n    expect: never runs here\nsteps:\n  - wait: {deployment: web}\n",
    )
    .unwrap();
    let o = w
        .cmd()
        .args(["run", "--image", &w.image, "--wait", "3s"])
        .arg(w.tmp.path().join("needs-api"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(out.contains("ERROR needs-api/only"), "{out}");
    assert!(out.contains("nodes to be Ready"), "{out}");
    let left = w.nodes_on_network(&engine).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    w.teardown(&engine, &[]).await;
}
