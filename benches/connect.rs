//! `make bench` (connect): fresh connections per second and latency that one probe `connect`
//! container gets from one probe `serve` container, against the baseline people write by hand
//! today — a shell loop starting one client process per request (busybox `wget`, and `nc` for
//! raw TCP) — measured in the same run on the same containers, printed as a ratio.
//!
//! Needs the Docker engine (`make docker-up`) and the static probe (`make probe`). Everything
//! runs on an `--internal` network the benchmark creates and removes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use futures_util::FutureExt;

use kindproof::docker::api::{ContainerSpec, Engine, NetworkSpec};
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::docker::image::ensure_busybox_image;
use kindproof::labels::{for_run, new_run_id, run_filter};
use kindproof::probe_image::{build, find_binary};

/// Connections per kindproof measurement.
const COUNT: usize = 5_000;
/// Interleaved rounds per protocol.
const ROUNDS: usize = 5;
const CONCURRENCY: usize = 16;
/// Requests per baseline loop: a process per request is slow, this keeps it to seconds.
const BASELINE: usize = 200;
/// kindproof's goals from the probe issue.
const GOAL_PER_SECOND: f64 = 2000.0;
const GOAL_RATIO: f64 = 20.0;

struct Bench {
    engine: BollardEngine,
    run_id: String,
    labels: HashMap<String, String>,
    network: String,
}

impl Bench {
    fn spec(&self, name: &str, image: &str, cmd: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: format!("kp-bench-{}-{name}", self.run_id),
            image: image.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            labels: self.labels.clone(),
            network: Some(self.network.clone()),
            stop_timeout: Some(1),
            ..Default::default()
        }
    }

    /// Run a container to its end; its exit code and stdout.
    async fn run(&self, spec: &ContainerSpec) -> (i64, String) {
        let id = self.engine.create_container(spec).await.expect("create");
        self.engine.start_container(&id).await.expect("start");
        let code = self.engine.wait_container(&id).await.expect("wait");
        let (out, err) = self.engine.logs(&id).await.expect("logs");
        self.engine.remove_container(&id).await.expect("remove");
        assert_eq!(code, 0, "{} failed: {out}{err}", spec.name);
        (code, out)
    }

    async fn cleanup(&self) {
        let filter = run_filter(&self.run_id);
        for c in self
            .engine
            .list_containers(&filter)
            .await
            .unwrap_or_default()
        {
            let _ = self.engine.remove_container(&c.id).await;
        }
        for n in self.engine.list_networks(&filter).await.unwrap_or_default() {
            let _ = self.engine.remove_network(&n.id).await;
        }
    }
}

/// The probe's connect summary for one target.
struct Measured {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    answered: u64,
}

fn summary(out: &str) -> Measured {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains("\"connect-summary\""))
        .expect("a connect-summary line");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let f = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_f64())
            .unwrap_or_else(|| panic!("{p} in {line}"))
    };
    Measured {
        per_second: f("/per_second"),
        p50_ms: f("/latency_ms/p50"),
        p99_ms: f("/latency_ms/p99"),
        answered: v["answered"].as_u64().expect("answered"),
    }
}

/// A shell loop of `BASELINE` client processes; requests per second, from /proc/uptime
/// (10 ms resolution over seconds of work).
async fn baseline(bench: &Bench, busybox: &str, name: &str, client: &str) -> f64 {
    let script = format!(
        "read a _ < /proc/uptime; i=0; f=0; while [ $i -lt {BASELINE} ]; do {client} || f=$((f+1)); i=$((i+1)); done; read b _ < /proc/uptime; echo \"$a $b $f\""
    );
    let (_, out) = bench
        .run(&bench.spec(name, busybox, &["sh", "-c", &script]))
        .await;
    let parts: Vec<f64> = out
        .split_whitespace()
        .map(|p| p.parse().expect("a number"))
        .collect();
    assert_eq!(
        parts[2], 0.0,
        "{name}: {} of {BASELINE} requests failed",
        parts[2]
    );
    BASELINE as f64 / (parts[1] - parts[0])
}

async fn measure(bench: &Bench, probe: &str, busybox: &str) -> Vec<Row> {
    let server = bench.spec(
        "serve",
        probe,
        &["serve", "--http", "8080", "--tcp", "8081", "--quiet"],
    );
    let id = bench
        .engine
        .create_container(&server)
        .await
        .expect("create");
    bench.engine.start_container(&id).await.expect("start");
    let ip = bench
        .engine
        .inspect_container(&id)
        .await
        .expect("inspect")
        .addresses[&bench.network]
        .0
        .expect("an address");

    let count = COUNT.to_string();
    let concurrency = CONCURRENCY.to_string();
    let mut rows = Vec::new();
    for (proto, port, client) in [
        (
            "http",
            8080,
            format!("wget -q -O /dev/null http://{ip}:8080/identity"),
        ),
        ("tcp", 8081, format!("nc {ip} 8081 </dev/null >/dev/null")),
    ] {
        let target = format!("{ip}:{port}");
        let mut row = Row {
            proto,
            rounds: Vec::new(),
        };
        // Interleaved rounds: this machine's speed drifts by 2x within minutes, so each ratio
        // compares two measurements taken seconds apart.
        for round in 0..ROUNDS {
            let (_, out) = bench
                .run(&bench.spec(
                    &format!("connect-{proto}-{round}"),
                    probe,
                    &[
                        "connect",
                        "--target",
                        &target,
                        "--count",
                        &count,
                        "--concurrency",
                        &concurrency,
                        "--proto",
                        proto,
                        "--timeout",
                        "2s",
                    ],
                ))
                .await;
            let m = summary(&out);
            assert_eq!(
                m.answered as usize, COUNT,
                "{proto}: every connection answered"
            );
            let base = baseline(
                bench,
                busybox,
                &format!("baseline-{proto}-{round}"),
                &client,
            )
            .await;
            row.rounds.push((m, base));
        }
        rows.push(row);
    }
    rows
}

/// One protocol's rounds: the probe's measurement and the shell loop's requests per second.
struct Row {
    proto: &'static str,
    rounds: Vec<(Measured, f64)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl Row {
    fn median(&self, f: impl Fn(&(Measured, f64)) -> f64) -> f64 {
        median(self.rounds.iter().map(f).collect())
    }
}

#[tokio::main]
async fn main() {
    let engine = BollardEngine::connect()
        .await
        .expect("a Docker engine (`make docker-up`)");
    let binary = find_binary(None).expect("the static probe (`make probe`)");
    let probe = build(&engine, &binary).await.expect("probe image").image;
    let busybox = ensure_busybox_image(
        &engine,
        "kindproof-bench/busybox",
        Path::new("/bin/busybox"),
    )
    .await
    .expect("busybox image from /bin/busybox");
    let run_id = new_run_id();
    let labels = for_run(&run_id);
    let network = format!("kp-bench-{run_id}");
    engine
        .create_network(&NetworkSpec::bridge(&network, true, labels.clone()))
        .await
        .expect("network");
    let bench = Bench {
        engine,
        run_id,
        labels,
        network,
    };

    // Clean up also when a measurement panics, then report the panic.
    let measured = AssertUnwindSafe(measure(&bench, &probe, &busybox))
        .catch_unwind()
        .await;
    bench.cleanup().await;
    let rows = measured.unwrap_or_else(|panic| std::panic::resume_unwind(panic));

    println!(
        "fresh connections, one connect container -> one serve container: {ROUNDS} interleaved rounds of {COUNT} (concurrency {CONCURRENCY}) against a shell loop of {BASELINE}; medians"
    );
    println!(
        "{:<6} {:>12} {:>9} {:>9} {:>14} {:>8} {:>15}",
        "proto", "kindproof/s", "p50 ms", "p99 ms", "shell loop/s", "ratio", "ratio min-max"
    );
    let mut met = true;
    for row in &rows {
        let ratios: Vec<f64> = row.rounds.iter().map(|(m, b)| m.per_second / b).collect();
        let ratio = median(ratios.clone());
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        let per_second = row.median(|(m, _)| m.per_second);
        println!(
            "{:<6} {:>12.0} {:>9.3} {:>9.3} {:>14.1} {:>7.1}x {:>7.1}-{:.1}x",
            row.proto,
            per_second,
            row.median(|(m, _)| m.p50_ms),
            row.median(|(m, _)| m.p99_ms),
            row.median(|(_, b)| *b),
            ratio,
            lo,
            hi
        );
        met &= per_second >= GOAL_PER_SECOND && ratio >= GOAL_RATIO;
    }
    println!(
        "goal: >= {GOAL_PER_SECOND:.0} connections/s and >= {GOAL_RATIO:.0}x the shell loop (medians): {}",
        if met { "met" } else { "NOT met" }
    );
    println!("baseline: a busybox shell loop, one wget (http) or nc (tcp) process per request");
}
