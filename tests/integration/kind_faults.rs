//! Background probes and faults on real kind clusters (ignored here: no `kindest/node` image).
//! The rolling-update scenario's variants show what its README says; a netem delay on a worker
//! shows up in the latencies of a background probe through it (twice the delay per attempt,
//! ±20 %); a kubelet stopped on a worker leaves its pods answering; a background dns probe
//! streamed by exec from a pod answers before CoreDNS is killed and again once it is back.

use crate::support::{kind_bin, kindproof, root, text, variant_report as variant};

/// `kindproof run DIR --image $KINDPROOF_NODE_IMAGE -j 1`: its exit code, output and report.
fn run(dir: &std::path::Path) -> (Option<i32>, String, serde_json::Value) {
    let image = std::env::var("KINDPROOF_NODE_IMAGE")
        .expect("KINDPROOF_NODE_IMAGE names a local kindest/node image");
    let state = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let json = reports.path().join("run.json");
    let o = kindproof()
        .env("KINDPROOF_KIND", kind_bin())
        .env("KINDPROOF_STATE_DIR", state.path())
        .env("CI", "1")
        .current_dir(reports.path())
        .args(["run", "--image", &image, "-j", "1", "--report-json"])
        .arg(&json)
        .arg(dir)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap_or_default())
        .unwrap_or_else(|_| panic!("no report: {out}{err}"));
    (o.status.code(), format!("{out}{err}"), report)
}

/// The windows judged over background probe `id` of `v`, in order.
fn windows<'r>(v: &'r serde_json::Value, id: &str) -> &'r Vec<serde_json::Value> {
    v["probes"][id]["windows"]
        .as_array()
        .unwrap_or_else(|| panic!("no windows of {id}: {v}"))
}

#[test]
#[ignore = "needs kind"]
fn kind_rolling_update_variants_show_what_their_readme_says() {
    let (code, out, report) = run(&root().join("scenarios/rolling-update-drops-connections"));
    assert_eq!(code, Some(0), "{out}");
    for name in [
        "bug",
        "mitigated-prestop-sleep",
        "mitigated-prestop-sleep-only",
        "mitigated-drain-only",
        "control-maxunavailable",
    ] {
        let v = variant(&report, name);
        assert_eq!(v["status"], "passed", "{name}: {v}");
        let w = windows(v, "traffic");
        assert_eq!(w.len(), 2, "{name}: the calm window and the rollout's");
        assert!(w.iter().all(|w| w["held"] == true), "{name}: {w:?}");
        // What FACTS.md should record: how many attempts failed, and when.
        eprintln!("{name}: {}", w[1]["summary"]);
        let rollout = w[1]["summary"].as_str().unwrap();
        let failed = ["refused", "timed out", "closed", "failed otherwise"]
            .iter()
            .any(|c| rollout.contains(c));
        assert_eq!(
            failed,
            name == "bug" || name == "control-maxunavailable",
            "{name}: {rollout}"
        );
    }
}

const FAULTS: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: faults
summary: faults with background probes across them
cluster:
  config: three-node.yaml
timeouts:
  wait: 180s
variants:
  - name: netem
    expect: a 200ms delay on worker's interface adds about 400ms to each attempt (SYN-ACK and answer)
    steps:
      - apply: {file: server.yaml}
      - wait: {pods: {selector: app=server, ready: true}}
      - id: traffic
        probe:
          background: true
          connect: {from: host, targets: ['${nodes.worker.ip}:18080'], interval: 50ms, perConnectionTimeout: 2s}
      - id: calm
        sleep: 3s
      - netem: {node: worker, delay: 200ms}
      - id: slow
        sleep: 3s
      - netem-clear: worker
      - id: after
        sleep: 3s
      - stop: {probe: traffic}
      - assert: {during: {probe: traffic, from: calm, until: calm, maxFailures: 0}}
      - assert: {during: {probe: traffic, from: slow, until: slow, maxFailures: 0}}
      - assert: {during: {probe: traffic, from: after, until: after, maxFailures: 0}}
  - name: kubelet
    expect: pods go on answering while their node's kubelet is stopped
    steps:
      - apply: {file: server.yaml}
      - wait: {pods: {selector: app=server, ready: true}}
      - id: traffic
        probe:
          background: true
          connect: {from: host, targets: ['${nodes.worker.ip}:18080'], interval: 50ms, perConnectionTimeout: 1s}
      - id: stopped
        stop-kubelet: worker
      - id: down
        sleep: 5s
      - start-kubelet: worker
      - wait: {nodes: {ready: true}}
      - stop: {probe: traffic}
      - assert: {during: {probe: traffic, from: stopped, until: down, maxFailures: 0, only: [server]}}
  - name: coredns
    expect: a background dns probe streamed by exec from a pod answers before CoreDNS is killed and again once it is back
    steps:
      - apply: {file: client.yaml}
      - wait: {pods: {selector: app=client, ready: true}}
      - id: names
        probe:
          background: true
          dns: {from: 'pod:client', name: kubernetes.default.svc.cluster.local., interval: 100ms}
      - id: calm
        sleep: 2s
      - kill-pods: {selector: k8s-app=kube-dns, namespace: kube-system}
      - wait: {deployment: kube-system/coredns}
      - id: back
        sleep: 3s
      - stop: {probe: names}
      - assert: {during: {probe: names, from: calm, until: calm, maxFailures: 0}}
      - assert: {during: {probe: names, from: back, until: back, maxFailures: 0}}
"#;

/// A probe `serve` pod named `name` on `port` (`extra`: more of its spec, indented as such).
fn probe_pod(name: &str, port: u16, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
{extra}  containers:
  - name: probe
    image: ${{probe.image}}
    imagePullPolicy: Never
    args: [serve, --tcp, "{port}", --quiet]
    env:
    - {{name: POD_NAME, value: {name}}}
    readinessProbe:
      tcpSocket: {{port: {port}}}
      periodSeconds: 1
"#
    )
}

/// The faults scenario under `tmp` (with the shipped three-node config): its directory.
fn faults_scenario(tmp: &std::path::Path) -> std::path::PathBuf {
    let dir = tmp.join("faults");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), FAULTS).unwrap();
    // The server in worker's own network namespace; the client a plain pod.
    let on_worker =
        "  hostNetwork: true\n  nodeSelector:\n    kubernetes.io/hostname: ${nodes.worker.name}\n";
    std::fs::write(
        dir.join("server.yaml"),
        probe_pod("server", 18080, on_worker),
    )
    .unwrap();
    std::fs::write(dir.join("client.yaml"), probe_pod("client", 8080, "")).unwrap();
    std::fs::create_dir_all(tmp.join("kind-configs")).unwrap();
    std::fs::copy(
        root().join("kind-configs/three-node.yaml"),
        tmp.join("kind-configs/three-node.yaml"),
    )
    .unwrap();
    dir
}

/// The scenario the ignored test runs stays valid where no cluster can start.
#[test]
fn the_faults_scenario_for_kind_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = faults_scenario(tmp.path());
    let o = kindproof().arg("validate").arg(&dir).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("3 variant(s): netem, kubelet, coredns"),
        "{out}"
    );
}

#[test]
#[ignore = "needs kind"]
fn kind_faults_netem_kubelet_and_coredns_with_background_probes_across_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, report) = run(&faults_scenario(tmp.path()));
    assert_eq!(code, Some(0), "{out}");

    // netem: the delayed window's median is the calm one's plus twice the delay, ±20 %.
    let w = windows(variant(&report, "netem"), "traffic");
    let p50 = |i: usize| w[i]["latency_ms"]["p50"].as_f64().unwrap();
    let added = p50(1) - p50(0);
    assert!(
        (320.0..=480.0).contains(&added),
        "400 ms ± 20 % added: {added:.1} ms ({w:?})"
    );
    assert!(p50(2) - p50(0) < 80.0, "cleared: {w:?}");

    for name in ["kubelet", "coredns"] {
        let v = variant(&report, name);
        assert_eq!(v["status"], "passed", "{name}: {v}");
    }
    let dns = windows(variant(&report, "coredns"), "names");
    assert!(dns.iter().all(|w| w["held"] == true), "{dns:?}");
}
