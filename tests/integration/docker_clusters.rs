//! The kind provider against the real engine, with `kindproof-fake-kind` standing in for kind:
//! it does to Docker what kind does (node containers with kind's labels on kind's network,
//! publishing the config's mappings) without Kubernetes. Each test uses its own kind network
//! (`KIND_EXPERIMENTAL_DOCKER_NETWORK`), state directory and reservation directory, and proves
//! by label that nothing is left behind.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use kindproof::cluster::kind_network::ula_subnet;
use kindproof::cluster::nodes::{CLUSTER_LABEL, KindNode, kind_nodes};
use kindproof::cluster::state::ClusterRecord;
use kindproof::docker::api::{ContainerSpec, Engine};
use kindproof::docker::bollard_engine::BollardEngine;
use serde_json::Value;

use crate::support::{RunScope, kindproof, test_image, text};

/// The fake kind, built by `cargo build --workspace` beside the test binaries.
pub fn fake_kind() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("kindproof-fake-kind");
    assert!(
        path.is_file(),
        "{} missing: `cargo build -p kindproof-fake-kind` (make test builds the workspace)",
        path.display()
    );
    path
}

const THREE_NODES: &str = "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 30001
    listenAddress: 127.0.0.1
- role: worker
  extraPortMappings:
  - containerPort: 30001
    listenAddress: 127.0.0.1
  - containerPort: 30053
    hostPort: -1
    listenAddress: 127.0.0.1
    protocol: UDP
- role: worker
  extraPortMappings:
  - containerPort: 30001
    listenAddress: 127.0.0.1
";

/// One test's world: its kind network, state, reservations and fake-kind log.
pub struct World {
    pub scope: RunScope,
    pub tmp: tempfile::TempDir,
    pub network: String,
    pub image: String,
}

impl World {
    pub async fn new(engine: &BollardEngine) -> Self {
        let scope = RunScope::new();
        let image = test_image(engine).await;
        let network = format!("kp-test-{}-kind", scope.run_id);
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("three.yaml"), THREE_NODES).unwrap();
        Self {
            scope,
            tmp,
            network,
            image,
        }
    }

    pub fn config(&self) -> PathBuf {
        self.tmp.path().join("three.yaml")
    }

    pub fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    pub fn log(&self) -> PathBuf {
        self.tmp.path().join("kind.log")
    }

    pub fn cmd(&self) -> Command {
        let mut c = kindproof();
        c.env("KINDPROOF_KIND", fake_kind())
            .env("HOME", self.tmp.path().join("home"))
            .env_remove("KUBECONFIG")
            .env("KIND_EXPERIMENTAL_DOCKER_NETWORK", &self.network)
            .env("KINDPROOF_STATE_DIR", self.state())
            .env("KINDPROOF_RUNTIME_DIR", self.tmp.path().join("run"))
            .env("FAKE_KIND_LOG", self.log())
            // Diagnostics bundles of failed runs stay in the test's own directory.
            .current_dir(self.tmp.path())
            .env_remove("KIND_EXPERIMENTAL_PROVIDER")
            .env_remove("KINDPROOF_NODE_IMAGE")
            .env_remove("KINDPROOF_PULL");
        c
    }

    pub fn up(&self, name: &str) -> Command {
        let mut c = self.cmd();
        c.args(["up", "--image", &self.image, "--name", name])
            .arg(self.config());
        c
    }

    /// The kind node containers on this world's network: the clusters runs made in it.
    pub async fn nodes_on_network(&self, engine: &BollardEngine) -> Vec<String> {
        engine
            .list_containers(CLUSTER_LABEL)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.addresses.contains_key(&self.network))
            .map(|c| c.name)
            .collect()
    }

    /// Write `yaml` as the scenario `name` under this world's `scenarios/`, next to a copy of
    /// the three-node config (as `three.yaml`). Returns the scenario's directory.
    pub fn scenario(&self, name: &str, yaml: &str) -> PathBuf {
        let dir = self.tmp.path().join("scenarios").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("scenario.yaml"), yaml).unwrap();
        std::fs::copy(self.config(), dir.join("three.yaml")).unwrap();
        dir
    }

    /// `kindproof run --cluster NAME -j JOBS` over this world's `scenarios/`, with the static
    /// probe binary: its exit code, its output, and the JSON report it wrote.
    pub fn run_reporting(&self, cluster: &str, jobs: usize) -> (Option<i32>, String, Value) {
        self.run_with(&["--cluster", cluster, "-j", &jobs.to_string()])
    }

    /// `kindproof run ARGS…` over this world's `scenarios/`, with the static probe binary: its
    /// exit code, its output, and the JSON report it wrote.
    pub fn run_with(&self, args: &[&str]) -> (Option<i32>, String, Value) {
        let json = self.tmp.path().join("report.json");
        let o = self
            .cmd()
            .env(
                "KINDPROOF_PROBE_BIN",
                kindproof::probe_image::find_binary(None).expect("`make probe`"),
            )
            .arg("run")
            .args(args)
            .arg("--report-json")
            .arg(&json)
            .arg(self.tmp.path().join("scenarios"))
            .output()
            .unwrap();
        let (out, err) = text(&o);
        let report = std::fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| panic!("no JSON report: {out}{err}"));
        (o.status.code(), format!("{out}{err}"), report)
    }

    pub fn cluster(&self, n: usize) -> String {
        format!("kp-test-{}-c{n}", self.scope.run_id)
    }

    /// Delete this test's clusters and network, then prove nothing is left.
    pub async fn teardown(&self, engine: &BollardEngine, clusters: &[String]) {
        for name in clusters {
            for node in kind_nodes(engine, name).await.unwrap() {
                engine.remove_container(&node.container.id).await.unwrap();
            }
        }
        for n in engine.networks_named(&self.network).await.unwrap() {
            engine.remove_network(&n.id).await.unwrap();
        }
        for name in clusters {
            assert!(kind_nodes(engine, name).await.unwrap().is_empty());
        }
        self.scope.teardown(engine).await;
    }
}

impl Drop for World {
    /// On a failed test too: the fake nodes carry kind's labels, not the run's, so they go by
    /// name (every cluster name of this world contains `kp-test-<run id>`), then the network.
    fn drop(&mut self) {
        let prefix = format!("name=kp-test-{}", self.scope.run_id);
        if let Ok(o) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &prefix])
            .output()
        {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_up_creates_the_nodes_reads_their_ports_and_down_removes_them() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");

    // kind got the resolved config, a private kubeconfig and the node image.
    let dir = w.state().join("clusters").join(&name);
    let log = std::fs::read_to_string(w.log()).unwrap();
    assert!(log.starts_with("version\n"), "{log}");
    let create = log
        .lines()
        .find(|l| l.starts_with("create cluster"))
        .unwrap();
    assert_eq!(
        create,
        format!(
            "create cluster --name {name} --config {} --kubeconfig {} --image {} --wait 120s",
            dir.join("kind-config.yaml").display(),
            dir.join("kubeconfig").display(),
            w.image
        )
    );
    for (file, mode) in [("kubeconfig", 0o600), ("kind-config.yaml", 0o600)] {
        let m = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let written = std::fs::read_to_string(dir.join("kind-config.yaml")).unwrap();

    // The nodes as Docker has them: kind's names and roles, on the kind network (created by
    // kindproof with kind's IPv6 subnet), every port published where the config says.
    let nodes = kind_nodes(&engine, &name).await.unwrap();
    let roles: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.role.clone()))
        .collect();
    assert_eq!(
        roles,
        [
            (format!("{name}-control-plane"), "control-plane".into()),
            (format!("{name}-worker"), "worker".into()),
            (format!("{name}-worker2"), "worker".into()),
        ]
    );
    let net = engine.networks_named(&w.network).await.unwrap();
    assert_eq!(net.len(), 1);
    assert!(
        net[0].subnets.contains(&ula_subnet(&w.network, 0)),
        "{:?}",
        net[0].subnets
    );
    let mut host_ports = HashSet::new();
    for n in &nodes {
        let (v4, _) = n.container.addresses[&w.network];
        assert!(
            v4.is_some(),
            "{} has an address on the kind network",
            n.name
        );
        let p30001 = n
            .container
            .published
            .iter()
            .find(|p| p.container_port == 30001)
            .unwrap();
        assert_eq!(p30001.host_ip, "127.0.0.1");
        // The picked port is the one kindproof wrote into the config kind got.
        assert!(
            written.contains(&format!("hostPort: {}", p30001.host_port)),
            "{written}"
        );
        assert!(host_ports.insert(p30001.host_port));
        // The report names every published port.
        assert!(
            out.contains(&format!("127.0.0.1:{}->30001/tcp", p30001.host_port)),
            "{out}"
        );
    }
    // -1 stays -1 in the config (Docker picks), and is read back.
    assert!(written.contains("hostPort: -1"), "{written}");
    let udp = nodes[1]
        .container
        .published
        .iter()
        .find(|p| p.container_port == 30053)
        .unwrap();
    assert!(udp.host_port > 0);
    assert!(out.contains("->30053/udp"), "{out}");
    assert!(out.contains(&format!("kubeconfig  {}", dir.join("kubeconfig").display())));

    let o = w.cmd().args(["down", &name]).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(kind_nodes(&engine, &name).await.unwrap().is_empty());
    assert!(!dir.exists(), "down forgets the cluster's directory");
    // A second down names the mistake.
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_parallel_ups_share_one_kind_network_and_never_a_port() {
    const JOBS: usize = 8;
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    // Every job uses the same config and lets kindproof name its cluster: the names come
    // from the config's name and each process's run id.
    let config = w
        .tmp
        .path()
        .join(format!("kp-test-{}.yaml", w.scope.run_id));
    std::fs::copy(w.config(), &config).unwrap();
    // The fake kind, like kind, creates the network itself when it is missing and fails when
    // the name is ambiguous; kindproof must have made it exist once before any create.
    let children: Vec<_> = (0..JOBS)
        .map(|_| {
            w.cmd()
                .args(["up", "--image", &w.image])
                .arg(&config)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut names = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        let name = out
            .lines()
            .find_map(|l| l.strip_prefix("cluster     "))
            .unwrap()
            .to_string();
        assert!(
            name.starts_with(&format!("kp-kp-test-{}-", w.scope.run_id)),
            "{name}"
        );
        assert!(name.len() <= 49, "{name}");
        names.push(name);
    }
    let distinct: HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), JOBS, "{names:?}");
    assert_eq!(engine.networks_named(&w.network).await.unwrap().len(), 1);
    let mut ports = HashSet::new();
    for n in &names {
        let nodes = kind_nodes(&engine, n).await.unwrap();
        assert_eq!(nodes.len(), 3, "{n}");
        for node in nodes {
            for p in node.container.published {
                assert!(
                    ports.insert((p.host_port, p.protocol)),
                    "port {} handed out twice",
                    p.host_port
                );
            }
        }
    }
    assert_eq!(
        ports.len(),
        JOBS * 5,
        "3 picked + 1 UDP + the API server per cluster"
    );
    for n in &names {
        let o = w.cmd().args(["down", n]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    }
    w.teardown(&engine, &names).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_up_interrupted_during_create_leaves_nothing() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let mut child = w
        .up(&name)
        .env("FAKE_KIND_NODE_DELAY_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until kind has made the first node, so the interrupt lands midway.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while kind_nodes(&engine, &name).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no node appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: deleting cluster"), "{err}");
    assert!(kind_nodes(&engine, &name).await.unwrap().is_empty());
    assert!(!w.state().join("clusters").join(&name).exists());
    let log = std::fs::read_to_string(w.log()).unwrap();
    assert!(
        log.contains(&format!("delete cluster --name {name}")),
        "{log}"
    );
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_up_refuses_what_cannot_work_before_kind_creates_anything() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    // A node image that is not local: kind would pull it.
    let absent = |kind_log: &std::path::Path, extra: &[&str]| {
        w.cmd()
            .env("FAKE_KIND_LOG", kind_log)
            .args([
                "up",
                "--image",
                "kindest/node:v0.0.0-absent",
                "--name",
                &name,
            ])
            .args(extra)
            .arg(w.config())
            .output()
            .unwrap()
    };
    let o = absent(&w.log(), &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("failed to find node image kindest/node:v0.0.0-absent locally"),
        "{err}"
    );
    let log = std::fs::read_to_string(w.log()).unwrap_or_default();
    assert!(!log.contains("create cluster"), "kind never ran: {log}");
    // With --pull the refusal is lifted and kind gets the image to pull. The fake kind cannot
    // pull (bollard's create does not), so the create fails here: nothing is ever pulled.
    let pull_log = w.tmp.path().join("kind-pull.log");
    let o = absent(&pull_log, &["--pull"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "node image kindest/node:v0.0.0-absent is not present locally: kind pulls it (--pull)"
        ),
        "{err}"
    );
    let log = std::fs::read_to_string(&pull_log).unwrap();
    assert!(
        log.contains(&format!("create cluster --name {name} "))
            && log.contains("--image kindest/node:v0.0.0-absent"),
        "{log}"
    );
    assert!(
        engine
            .inspect_image("kindest/node:v0.0.0-absent")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        kind_nodes(&engine, &name).await.unwrap().is_empty(),
        "the failed create is gone"
    );
    // A kind too old to know.
    let o = w
        .up(&name)
        .env("FAKE_KIND_VERSION", "0.18.0")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("kind v0.18.0 at") && err.contains("too old"),
        "{err}"
    );
    // Another container runtime.
    let o = w
        .up(&name)
        .env("KIND_EXPERIMENTAL_PROVIDER", "podman")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("KIND_EXPERIMENTAL_PROVIDER=podman"), "{err}");
    // A config kind rejects even with its ports resolved.
    let bad = w.tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: boss\n",
    )
    .unwrap();
    let o = w
        .cmd()
        .args(["up", "--image", &w.image, "--name", &name])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    let log = std::fs::read_to_string(w.log()).unwrap_or_default();
    assert!(
        !log.contains("create cluster"),
        "kind was asked to create: {log}"
    );
    assert!(kind_nodes(&engine, &name).await.unwrap().is_empty());
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_clean_sweeps_what_dead_runs_left_and_keeps_the_rest() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let (dead_run, kept) = (w.cluster(1), w.cluster(2));
    for n in [&dead_run, &kept] {
        let o = w.up(n).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    }
    // Make the first look like a run whose process died: not kept, its pid gone.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let record = w
        .state()
        .join("clusters")
        .join(&dead_run)
        .join("cluster.json");
    let mut rec: ClusterRecord = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    rec.keep = false;
    rec.pid = dead_pid;
    std::fs::write(&record, serde_json::to_vec(&rec).unwrap()).unwrap();
    // And a container of a dead run, beside one of a live run (this test).
    let mut dead_labels = w.scope.labels();
    dead_labels.insert("io.kindproof.pid".into(), dead_pid.to_string());
    let scratch = w.scope.network(&engine, true).await;
    for (suffix, labels) in [("dead", dead_labels), ("live", w.scope.labels())] {
        let spec = ContainerSpec {
            name: format!("kp-test-{}-{suffix}", w.scope.run_id),
            image: w.image.clone(),
            cmd: vec!["sleep".into(), "600".into()],
            labels,
            network: Some(scratch.clone()),
            ..Default::default()
        };
        engine.create_container(&spec).await.unwrap();
    }
    // Too young for --older-than: nothing goes.
    let o = w
        .cmd()
        .args(["clean", "--older-than", "1h"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(kind_nodes(&engine, &dead_run).await.unwrap().len(), 3);

    let o = w.cmd().arg("clean").output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("removed cluster {dead_run}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "removed container kp-test-{}-dead",
            w.scope.run_id
        )),
        "{out}"
    );
    assert!(kind_nodes(&engine, &dead_run).await.unwrap().is_empty());
    assert!(!record.exists());
    assert_eq!(
        kind_nodes(&engine, &kept).await.unwrap().len(),
        3,
        "kept by up"
    );
    let live = engine.list_containers(&w.scope.filter()).await.unwrap();
    let live: Vec<&str> = live
        .iter()
        .filter(|c| !c.labels.contains_key(CLUSTER_LABEL))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(live, [format!("kp-test-{}-live", w.scope.run_id)]);
    w.teardown(&engine, &[dead_run, kept]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_node_actions_restart_pause_and_exec_and_reread_the_ports() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let worker = kind_nodes(&engine, &name).await.unwrap().remove(1);
    let port = |n: &KindNode, cp: u16| {
        n.container
            .published
            .iter()
            .find(|p| p.container_port == cp)
            .unwrap()
            .host_port
    };
    let picked = port(&worker, 30001);

    let out = worker
        .exec(&engine, &["sh".into(), "-c".into(), "echo $((6*7))".into()])
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "42\n"));

    let paused = worker.pause(&engine).await.unwrap();
    assert!(paused.container.paused);
    let resumed = paused.unpause(&engine).await.unwrap();
    assert!(resumed.container.running && !resumed.container.paused);

    let restarted = resumed.restart(&engine, 1).await.unwrap();
    assert!(restarted.container.running);
    // The picked port was fixed in the config kind got: it stays. The -1 port is whatever
    // Docker chose now, read again, and agrees with Docker.
    assert_eq!(port(&restarted, 30001), picked);
    let udp_before = port(&worker, 30053);
    let udp_after = port(&restarted, 30053);
    // As on a real kind node (FACTS: 32770 -> 32772 -> 32774): Docker hands out the next port.
    assert_ne!(
        udp_after, udp_before,
        "a -1 port is picked again on restart"
    );
    let now = engine
        .inspect_container(&worker.container.id)
        .await
        .unwrap();
    assert_eq!(
        port(
            &KindNode {
                container: now,
                ..restarted.clone()
            },
            30053
        ),
        udp_after
    );
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_up_writes_the_users_kubeconfig_only_when_asked() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let user_config = w.tmp.path().join("home/.kube/config");
    let (quiet, exported) = (w.cluster(1), w.cluster(2));
    let o = w.up(&quiet).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(
        !user_config.exists(),
        "~/.kube/config written without --export-kubeconfig"
    );
    let o = w.up(&exported).arg("--export-kubeconfig").output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let written = std::fs::read_to_string(&user_config).unwrap();
    assert!(
        written.contains(&format!("current-context: kind-{exported}")),
        "{written}"
    );
    assert!(
        out.contains(&format!("exported    context kind-{exported}")),
        "{out}"
    );
    for n in [&quiet, &exported] {
        let o = w.cmd().args(["down", n]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    }
    w.teardown(&engine, &[quiet, exported]).await;
}
