//! Background probes and faults end to end below Kubernetes: `kindproof run` on a fake-kind
//! cluster, a busybox httpd in a worker node answering as `pod-a`, a background connect probe
//! from the host every 50 ms across a `restart-node`, a `pause-node`, and a `disconnect-node` /
//! `reconnect-node` of that worker. The timeline records each outage: a window over it sees the
//! failures, a window after it none, and a `maxGap` shorter than the outage fails naming where
//! the gap was. The failed variants' bundles carry the whole timeline.

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

const SERVE: &str = r#"['sh', '-c', 'mkdir -p /srv/a && echo {\"pod\":\"pod-a\"} > /srv/a/identity && (exec httpd -f -p 8080 -h /srv/a) </dev/null >/dev/null 2>&1 &']"#;

/// The steps every variant begins with: the server up, the background probe started, a calm
/// half second.
fn start() -> String {
    format!(
        r#"      - exec: {{node: worker, command: {SERVE}}}
      - sleep: 300ms
      - id: traffic
        probe:
          background: true
          connect: {{from: host, targets: ['${{nodes.worker.ip}}:8080'], interval: 50ms, proto: http, perConnectionTimeout: 300ms}}
      - id: calm
        sleep: 500ms
"#
    )
}

fn scenario() -> String {
    let start = start();
    format!(
        r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: background
summary: a background probe across node faults
cluster:
  config: three.yaml
variants:
  - name: restart
    expect: the worker's server is gone from its kill until it is started again after the restart
    steps:
{start}      - id: restart
        restart-node: worker
      - exec: {{node: worker, command: {SERVE}}}
      - sleep: 300ms
      - id: back
        sleep: 1s
      - stop: {{probe: traffic}}
      - assert:
          during: {{probe: traffic, from: calm, until: calm, maxFailures: 0, only: [pod-a]}}
      - assert:
          during: {{probe: traffic, from: restart, until: back, minFailures: 1, maxGap: 60s}}
      - assert:
          during: {{probe: traffic, from: back, maxFailures: 0, maxGap: 300ms}}
      - assert:
          during: {{probe: traffic, maxGap: 100ms}}
  - name: disconnect
    expect: the worker answers nothing while it is off kind's network, and at once once it is back
    steps:
{start}      - id: cut
        disconnect-node: worker
      - sleep: 1s
      - id: mend
        reconnect-node: worker
      - sleep: 300ms
      - id: after
        sleep: 1s
      - stop: {{probe: traffic}}
      - assert:
          during: {{probe: traffic, from: cut, until: mend, minFailures: 10}}
      - assert:
          during: {{probe: traffic, from: after, maxFailures: 0, only: [pod-a]}}
      - assert:
          during: {{probe: traffic, maxGap: 500ms}}
  - name: pause
    expect: the worker answers nothing while it is paused, and at once after
    steps:
{start}      - id: paused
        pause-node: {{node: worker, for: 1s}}
      - sleep: 300ms
      - id: after
        sleep: 1s
      - stop: {{probe: traffic}}
      - assert:
          during: {{probe: traffic, from: calm, until: calm, maxFailures: 0}}
      - assert:
          during: {{probe: traffic, from: paused, until: paused, minFailures: 5}}
      - assert:
          during: {{probe: traffic, from: after, maxFailures: 0, only: [pod-a]}}
"#
    )
}

fn steps(report: &serde_json::Value, variant: &str) -> Vec<serde_json::Value> {
    crate::support::variant_report(report, variant)["steps"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_background_a_probe_across_a_restart_a_pause_and_a_disconnect_records_each_outage() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.scenario("background", &scenario());
    let (code, out, report) = w.run_reporting(&name, 2);
    assert_eq!(code, Some(1), "{out}");
    let status = |s: &serde_json::Value| s["status"].as_str().unwrap_or("?").to_string();

    // Restart: calm before, an outage across the restart, calm after; the gap fails.
    let r = steps(&report, "restart");
    for (i, s) in r.iter().enumerate().take(12) {
        assert_eq!(status(s), "passed", "restart step {i}: {s}\n{out}");
    }
    let outage = r[10]["evidence"].as_str().unwrap();
    assert!(
        outage.contains("answered (pod-a")
            && (outage.contains("timed out")
                || outage.contains("refused")
                || outage.contains("failed otherwise")),
        "{outage}"
    );
    assert_eq!(status(&r[12]), "failed", "{}", r[12]);
    let message = r[12]["message"].as_str().unwrap();
    assert!(
        message.starts_with("no stretch over 100 ms without an answer (the longest: "),
        "{message}"
    );

    // Disconnect: failures while cut off, none after; the gap (≥ 1 s) fails 500 ms.
    let d = steps(&report, "disconnect");
    for (i, s) in d.iter().enumerate().take(12) {
        assert_eq!(status(s), "passed", "disconnect step {i}: {s}\n{out}");
    }
    assert_eq!(status(&d[12]), "failed", "{}", d[12]);
    let message = d[12]["message"].as_str().unwrap();
    let longest: f64 = message
        .split("the longest: ")
        .nth(1)
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(longest >= 1000.0, "the gap spans the 1 s cut: {message}");
    // Pause: calm before, timeouts while frozen, answers after; every step holds.
    let p = steps(&report, "pause");
    for (i, s) in p.iter().enumerate() {
        assert_eq!(status(s), "passed", "pause step {i}: {s}\n{out}");
    }
    let frozen = p[9]["evidence"].as_str().unwrap();
    assert!(frozen.contains("timed out"), "{frozen}");
    // The node is back on the network with its address: the run's cleanup found nothing to do.
    let info = engine_nodes(&engine, &name).await;
    assert!(info.iter().all(|(_, on)| *on), "{info:?}");

    // The JSON report counts the windows; the bundle holds every attempt.
    let variant = crate::support::variant_report(&report, "disconnect");
    let windows = variant["probes"]["traffic"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3, "{variant}");
    // After the reconnect everything answered: the window has latencies (the connections are
    // local, well under the 300 ms timeout).
    let p50 = windows[1]["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 300.0, "{}", windows[1]);
    let bundle = variant["diagnostics"].as_str().unwrap();
    // Relative to the run's directory.
    let timeline =
        std::fs::read_to_string(w.tmp.path().join(bundle).join("timeline-traffic.jsonl")).unwrap();
    let attempts = variant["probes"]["traffic"]["attempts"].as_u64().unwrap();
    assert_eq!(timeline.lines().count() as u64, attempts);
    assert!(attempts > 40, "about 3 s at 50 ms: {attempts}");
    // The whole stream in one line: its span is the first attempt to the last (about 3 s).
    let summary = variant["probes"]["traffic"]["summary"].as_str().unwrap();
    let span: f64 = summary
        .split(" attempts over ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!((2.0..10.0).contains(&span), "{summary}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

/// Each node of `cluster` and whether it is on its kind network.
async fn engine_nodes(engine: &BollardEngine, cluster: &str) -> Vec<(String, bool)> {
    kindproof::cluster::nodes::kind_nodes(engine, cluster)
        .await
        .unwrap()
        .into_iter()
        .map(|n| {
            let on = !n.container.addresses.is_empty();
            (n.container.name, on)
        })
        .collect()
}
