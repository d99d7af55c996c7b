//! Tests that need a running kind cluster. This machine has no `kindest/node` image, so they are
//! ignored here and run where one is present locally (`KINDPROOF_NODE_IMAGE` names it; nothing
//! is pulled): `cargo nextest run --run-ignored only`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kindproof::cluster::nodes::kind_nodes;
use kindproof::docker::api::Engine;
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::field_path::FieldPath;
use kindproof::kube_ops::apply::{ApplyMode, apply};
use kindproof::kube_ops::client::Kube;
use kindproof::kube_ops::manifest::Manifest;
use kindproof::kube_ops::pods;
use kindproof::labels::new_run_id;

use crate::support::{kind_bin, kindproof, probe_image, root, text};

/// A kind cluster made by `kindproof up` (the real kind provider), removed by `down` on drop.
struct Cluster {
    name: String,
    state: tempfile::TempDir,
}

impl Cluster {
    async fn create(engine: &BollardEngine, config: &str) -> Self {
        let image = std::env::var("KINDPROOF_NODE_IMAGE")
            .expect("KINDPROOF_NODE_IMAGE names a local kindest/node image");
        assert!(
            engine.inspect_image(&image).await.unwrap().is_some(),
            "{image} is not a local image; kindproof tests never pull"
        );
        let state = tempfile::tempdir().unwrap();
        let name = format!("kp-test-{}", new_run_id());
        let o = kindproof()
            .env("KINDPROOF_KIND", kind_bin())
            .env("KINDPROOF_STATE_DIR", state.path())
            .args(["up", "--name", &name, "--image", &image])
            .arg(root().join("kind-configs").join(config))
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        Self { name, state }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.state
            .path()
            .join("clusters")
            .join(&self.name)
            .join("kubeconfig")
    }

    async fn kube(&self) -> Kube {
        Kube::connect(&self.kubeconfig(), None).await.unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = kindproof()
            .env("KINDPROOF_KIND", kind_bin())
            .env("KINDPROOF_STATE_DIR", self.state.path())
            .args(["down", &self.name])
            .output();
        let _ = Command::new(kind_bin())
            .args(["delete", "cluster", "--name", &self.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs kind"]
async fn kind_image_load_makes_the_probe_image_visible_to_the_nodes_cri() {
    let engine = BollardEngine::connect().await.unwrap();
    let probe = probe_image(&engine).await;
    let cluster = Cluster::create(&engine, "two-random-tcp.yaml").await;
    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster.name])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(": loaded"), "{out}");
    let id = engine.inspect_image(&probe).await.unwrap().unwrap().id;
    for node in kind_nodes(&engine, &cluster.name).await.unwrap() {
        let got = engine
            .exec(
                &node.name,
                &["crictl".into(), "inspecti".into(), probe.clone()],
                None,
            )
            .await
            .unwrap();
        assert!(got.stdout.contains(&id), "{}: {}", node.name, got.output());
    }
    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster.name])
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert!(
        out.contains(": already present") && !out.contains(": loaded"),
        "{out}"
    );
}

const DNS_SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: dns
spec:
  type: NodePort
  selector: {app: dns}
  ports:
  - {name: dns-tcp, port: 53, protocol: TCP, nodePort: NODEPORT}
  - {name: dns-udp, port: 53, protocol: UDP, nodePort: NODEPORT}
";

fn dns_service(node_port: u16) -> Manifest {
    Manifest::from_text(
        std::path::Path::new("dns.yaml"),
        &DNS_SERVICE.replace("NODEPORT", &node_port.to_string()),
    )
    .unwrap()
}

/// FACTS (Kubernetes v1.36.2, kubectl v1.32): the same change stores different things per
/// apply mode when a Service has port 53 over both TCP and UDP.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs kind"]
async fn kind_apply_modes_store_different_node_ports() {
    let engine = BollardEngine::connect().await.unwrap();
    let cluster = Cluster::create(&engine, "three-node.yaml").await;
    let kube = cluster.kube().await;
    let node_ports: FieldPath = ".spec.ports[*].nodePort".parse().unwrap();
    let run = new_run_id();
    for (i, mode) in [ApplyMode::ClientSide, ApplyMode::Replace]
        .into_iter()
        .enumerate()
    {
        let ns = pods::namespace_name(&format!("apply-{i}"), &run);
        pods::create_namespace(&kube, &ns, &run).await.unwrap();
        let first = apply(&kube, &dns_service(30053), ApplyMode::ClientSide, &ns)
            .await
            .unwrap();
        assert_eq!(first.exit_code, 0, "{}", first.stderr);
        let moved = apply(&kube, &dns_service(30054), mode, &ns).await.unwrap();
        assert_eq!(moved.exit_code, 0, "{}", moved.stderr);
        let stored = node_ports.read_value(&moved.stored[0]).unwrap();
        match mode {
            // The three-way merge keys ports by number: only the first entry moves.
            ApplyMode::ClientSide => {
                assert!(
                    moved.stdout.contains("service/dns configured"),
                    "{}",
                    moved.stdout
                );
                assert_eq!(stored, serde_json::json!([30054, 30053]));
            }
            _ => assert_eq!(stored, serde_json::json!([30054, 30054])),
        }
        pods::delete_namespace(&kube, &ns, Duration::from_secs(120))
            .await
            .unwrap();
    }
    // Server-side apply over a client-side apply conflicts on both entries' nodePorts (both
    // change here), worded by the server as "Apply failed with 2 conflicts: conflicts with …"
    // and one line per field.
    let ns = pods::namespace_name("apply-ssa", &run);
    pods::create_namespace(&kube, &ns, &run).await.unwrap();
    apply(&kube, &dns_service(30055), ApplyMode::ClientSide, &ns)
        .await
        .unwrap();
    let conflict = apply(
        &kube,
        &dns_service(30056),
        ApplyMode::ServerSide { force: false },
        &ns,
    )
    .await
    .unwrap();
    let refused = conflict.refused.expect("a conflict");
    assert_eq!(refused.code, 409);
    let fields: Vec<(String, String)> = kindproof::kube_ops::conflict::conflicts(&refused.message)
        .unwrap_or_else(|| panic!("not an apply conflict: {}", refused.message))
        .into_iter()
        .map(|c| (c.manager, c.field))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "kubectl-client-side-apply".to_string(),
                ".spec.ports[port=53,protocol=\"TCP\"].nodePort".to_string()
            ),
            (
                "kubectl-client-side-apply".to_string(),
                ".spec.ports[port=53,protocol=\"UDP\"].nodePort".to_string()
            ),
        ],
        "{}",
        refused.message
    );
    let forced = apply(
        &kube,
        &dns_service(30056),
        ApplyMode::ServerSide { force: true },
        &ns,
    )
    .await
    .unwrap();
    assert_eq!(
        node_ports.read_value(&forced.stored[0]).unwrap(),
        serde_json::json!([30056, 30056])
    );
    pods::delete_namespace(&kube, &ns, Duration::from_secs(120))
        .await
        .unwrap();
}

/// The whole shipped suite on real kind clusters: every variant holds (or is skipped by its
/// version gate), each cluster shape created once.
#[test]
#[ignore = "needs kind"]
fn kind_run_every_shipped_scenario_passes() {
    let image = std::env::var("KINDPROOF_NODE_IMAGE")
        .expect("KINDPROOF_NODE_IMAGE names a local kindest/node image");
    let state = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let o = kindproof()
        .env("KINDPROOF_KIND", kind_bin())
        .env("KINDPROOF_STATE_DIR", state.path())
        .env("CI", "1")
        .current_dir(root())
        .args([
            "run",
            "scenarios",
            "--image",
            &image,
            "-j",
            "2",
            "--report-json",
        ])
        .arg(reports.path().join("run.json"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.path().join("run.json")).unwrap()).unwrap();
    let variants = report["variants"].as_array().unwrap();
    assert!(
        variants.len() >= 26,
        "every shipped variant ran: {}",
        variants.len()
    );
    for v in variants {
        // Passed, or skipped by its own version gate: nothing else.
        let gated = v["status"] == "skipped"
            && v["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("needs "));
        assert!(
            v["status"] == "passed" || gated,
            "{}/{}: {}",
            v["scenario"],
            v["variant"],
            v
        );
    }
    // The lingering NXDOMAIN reproduces on a current cluster too, with the old Corefile.
    assert!(
        variants
            .iter()
            .any(|v| v["variant"] == "bug-old-corefile-installed" && v["status"] == "passed"),
        "{out}"
    );
}
