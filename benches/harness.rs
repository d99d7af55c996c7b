//! `make bench` (harness): kindproof's own overhead per scenario step. 200 scenarios of 10
//! no-op steps (exec on a node, sleep 0s) are written to disk, loaded and checked (YAML,
//! variables, kind config), then run by the engine against a backend that does nothing. The
//! baseline, measured in the same run, is the same 2,000 backend calls made directly in a loop.
//! Goals: under 2 ms of overhead per step; under 50 MB peak memory for the whole run.

#[path = "common/mod.rs"]
mod common;
use common::peak_mb;

use std::path::Path;
use std::time::{Duration, Instant};

use kindproof::cluster::provider::Node;
use kindproof::kind_config::version::KindVersion;
use kindproof::runner::backend::Backend;
use kindproof::runner::engine::{Context, run_variant};
use kindproof::runner::null_backend::NullBackend;
use kindproof::scenario::load::load;

const SCENARIOS: usize = 200;
const STEPS: usize = 10;
const GOAL_PER_STEP: Duration = Duration::from_millis(2);
const GOAL_PEAK_MB: f64 = 50.0;

fn write_scenarios(root: &Path) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.join("kind-configs")).unwrap();
    std::fs::copy(
        manifest.join("kind-configs/three-node.yaml"),
        root.join("kind-configs/three-node.yaml"),
    )
    .unwrap();
    for i in 0..SCENARIOS {
        let name = format!("noop-{i:03}");
        let dir = root.join("scenarios").join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut body = format!(
            "apiVersion: kindproof.dev/v1alpha1\nkind: Scenario\nname: {name}\nsummary: no-op steps\ncluster:\n  config: three-node.yaml\nvariables:\n  word: w{i}\nvariants:\n  - name: only\n    expect: every step passes\nsteps:\n"
        );
        for s in 0..STEPS {
            if s % 2 == 0 {
                body.push_str(&format!(
                    "  - id: s{s}\n    exec: {{node: worker, command: [echo, '${{word}}', '${{nodes.worker.ip}}']}}\n"
                ));
            } else {
                body.push_str("  - sleep: 0s\n");
            }
        }
        std::fs::write(dir.join("scenario.yaml"), body).unwrap();
    }
}

fn nodes() -> Vec<Node> {
    ["control-plane", "worker", "worker2"]
        .iter()
        .enumerate()
        .map(|(i, s)| Node {
            name: format!("kp-bench-{s}"),
            role: if i == 0 { "control-plane" } else { "worker" }.into(),
            ipv4: Some(format!("127.0.0.{}", i + 2).parse().unwrap()),
            ipv6: None,
            published: vec![],
            container: Some(format!("c{i}")),
            labels: Default::default(),
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    write_scenarios(tmp.path());
    let peak_before = peak_mb();

    let t = Instant::now();
    let mut scenarios = Vec::new();
    for i in 0..SCENARIOS {
        let f = tmp
            .path()
            .join(format!("scenarios/noop-{i:03}/scenario.yaml"));
        scenarios.push(load(&f, KindVersion::NEWEST_KNOWN).expect("a valid scenario"));
    }
    let load_time = t.elapsed();

    let backend = NullBackend;
    let nodes = nodes();
    let t = Instant::now();
    let mut passed = 0;
    for s in &scenarios {
        let cx = Context {
            scenario: s,
            variant: &s.variants[0],
            namespace: format!("kp-{}", s.name),
            cluster: "kp-bench".into(),
            nodes: nodes.clone(),
            probe_image: "kindproof/probe:0.1.0".into(),
            poll: Duration::from_millis(500),
            stop: Default::default(),
            on_step: None,
        };
        let r = run_variant(&backend, &cx).await;
        if r.status.is_passed() {
            passed += 1;
        }
    }
    let run_time = t.elapsed();
    assert_eq!(passed, SCENARIOS, "every no-op scenario passes");

    // Baseline: the same backend calls with no harness around them.
    let t = Instant::now();
    for _ in 0..SCENARIOS {
        for s in 0..STEPS {
            if s % 2 == 0 {
                let _ = backend
                    .exec_node(&nodes[1], &["echo".into(), "w".into(), "127.0.0.3".into()])
                    .await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }
    let baseline = t.elapsed();
    let steps = (SCENARIOS * STEPS) as u32;
    let per_step = (load_time + run_time) / steps;
    let overhead = (load_time + run_time).saturating_sub(baseline) / steps;
    let peak = peak_mb();
    println!(
        "harness: {SCENARIOS} scenarios x {STEPS} no-op steps against a backend that does nothing"
    );
    println!(
        "  load+check {:>8.1} ms  ({:.3} ms per scenario)",
        load_time.as_secs_f64() * 1e3,
        load_time.as_secs_f64() * 1e3 / SCENARIOS as f64
    );
    println!(
        "  run        {:>8.1} ms  ({:.3} ms per scenario)",
        run_time.as_secs_f64() * 1e3,
        run_time.as_secs_f64() * 1e3 / SCENARIOS as f64
    );
    println!(
        "  baseline   {:>8.1} ms  (the same backend calls in a plain loop)",
        baseline.as_secs_f64() * 1e3
    );
    println!(
        "  per step   {:>8.3} ms  overhead {:.3} ms  ({:.0}x the baseline)",
        per_step.as_secs_f64() * 1e3,
        overhead.as_secs_f64() * 1e3,
        (load_time + run_time).as_secs_f64() / baseline.as_secs_f64().max(1e-9)
    );
    println!(
        "  peak memory {peak:.1} MB (before loading: {peak_before:.1} MB; {:.3} MB per scenario)",
        (peak - peak_before).max(0.0) / SCENARIOS as f64
    );
    let met = overhead < GOAL_PER_STEP && peak < GOAL_PEAK_MB;
    println!(
        "goal: < {:?} overhead per step and < {GOAL_PEAK_MB:.0} MB peak: {}",
        GOAL_PER_STEP,
        if met { "met" } else { "NOT met" }
    );
}
