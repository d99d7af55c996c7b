//! Observation over time, end to end below Kubernetes: `kindproof run` on a fake-kind cluster,
//! with backends that busybox's httpd serves inside the worker nodes (started by the scenario's
//! own `exec` steps, so their timing is the scenario's). A backend that starts answering 2 s
//! late makes a routing assertion pass in more than one round; one that never answers fails
//! with the last observation; an `only:` whose second backend appears within the settle window
//! fails although its first round held. And after a node restart, a wait ignores the pod's
//! Ready from before it (an API stand-in on 127.0.0.1 serves the pods).

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

/// busybox httpd on `port` in the node, answering `GET /identity` with `who`'s identity; with
/// `after` it starts that much later (in the background: the exec returns at once).
fn serve(port: u16, who: &str, after: &str) -> String {
    format!(
        "['sh', '-c', 'mkdir -p /srv/{who} && echo {{\\\"pod\\\":\\\"{who}\\\"}} > /srv/{who}/identity && (sleep {after}; exec httpd -f -p {port} -h /srv/{who}) </dev/null >/dev/null 2>&1 &']"
    )
}

fn scenario() -> String {
    format!(
        r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: observe
summary: assertions that observe until they hold
cluster:
  config: three.yaml
variants:
  - name: late-backend
    expect: nothing answers worker:8080 for 2 s, then pod-a does; the assertion passes in a later round
    steps:
      - exec: {{node: worker, command: {late}}}
      - id: conn
        probe:
          connect: {{from: host, targets: ['${{nodes.worker.ip}}:8080'], count: 10, proto: http, perConnectionTimeout: 1s}}
      - assert:
          routing: {{probe: conn, target: '${{nodes.worker.ip}}:8080', includes: [pod-a]}}
        timeout: 30s
  - name: never
    expect: nothing ever listens on worker2:9; fails at the deadline with what it saw last
    steps:
      - id: conn
        probe:
          connect: {{from: host, targets: ['${{nodes.worker2.ip}}:9'], count: 10}}
      - assert:
          routing: {{probe: conn, target: '${{nodes.worker2.ip}}:9', includes: [pod-a]}}
        timeout: 3s
  - name: second-backend-mid-window
    expect: pod-a alone answers at first, then pod-b takes over within the settle window; only pod-a must fail
    steps:
      - exec:
          node: worker2
          command: ['sh', '-c', 'mkdir -p /srv/a /srv/b && echo {{\"pod\":\"pod-a\"}} > /srv/a/identity && echo {{\"pod\":\"pod-b\"}} > /srv/b/identity && (httpd -f -p 8081 -h /srv/a & A=$!; sleep 1.2; kill $A; sleep 0.1; exec httpd -f -p 8081 -h /srv/b) </dev/null >/dev/null 2>&1 &']
      # httpd is up before the first round, and pod-b takes over 1.2 s after the exec, within the window.
      - sleep: 300ms
      - id: conn
        probe:
          connect: {{from: host, targets: ['${{nodes.worker2.ip}}:8081'], count: 20, proto: http, perConnectionTimeout: 1s}}
      - assert:
          routing: {{probe: conn, target: '${{nodes.worker2.ip}}:8081', only: [pod-a]}}
        timeout: 4s
"#,
        late = serve(8080, "pod-a", "2"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_observe_routing_assertions_judge_rounds_not_one_sample() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let dir = w.tmp.path().join("scenarios/observe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), scenario()).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    let json = w.tmp.path().join("report.json");
    let o = w
        .cmd()
        .env(
            "KINDPROOF_PROBE_BIN",
            kindproof::probe_image::find_binary(None).expect("`make probe`"),
        )
        .args(["run", "--cluster", &name, "-j", "3", "--report-json"])
        .arg(&json)
        .arg(w.tmp.path().join("scenarios"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let variant = |v: &str| {
        report["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["variant"] == v)
            .unwrap_or_else(|| panic!("no {v} in {report}"))
            .clone()
    };
    let rounds = |r: &serde_json::Value| r["steps"].as_array().unwrap().last().unwrap()["rounds"]
        .as_array()
        .cloned()
        .unwrap_or_default();

    // Late: refused while nothing listened, then pod-a; more than one round, the last held.
    let late = variant("late-backend");
    assert_eq!(late["status"], "passed", "{out}");
    let r = rounds(&late);
    assert!(r.len() > 1, "{r:?}");
    assert_eq!(r[0]["held"], false);
    assert!(
        r[0]["observed"].as_str().unwrap().starts_with("0 of 10 answered: 10 refused"),
        "{r:?}"
    );
    assert_eq!(r.last().unwrap()["held"], true);
    assert!(out.contains("PASS  observe/late-backend"), "{out}");

    // Never: failed, with the last observation and every round in the report.
    let never = variant("never");
    assert_eq!(never["status"], "failed");
    assert_eq!(never["observed"], "0 of 10 answered: 10 refused");
    let r = rounds(&never);
    assert!(r.len() > 1 && r.iter().all(|x| x["held"] == false), "{r:?}");
    assert!(out.contains("FAIL  observe/never"), "{out}");

    // Mid-window: the first round held (pod-a only), a later one saw pod-b: failed.
    let mid = variant("second-backend-mid-window");
    assert_eq!(mid["status"], "failed", "{out}");
    assert_eq!(mid["message"], format!("{}: only pod-a answer", target_of(&mid)));
    let r = rounds(&mid);
    assert_eq!(r[0]["held"], true, "{r:?}");
    assert_eq!(r[0]["observed"], "20 of 20 answered: pod-a 20", "{r:?}");
    assert!(
        r.iter().any(|x| x["observed"].as_str().unwrap().contains("pod-b")),
        "{r:?}"
    );
    assert!(out.contains("FAIL  observe/second-backend-mid-window"), "{out}");
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}

/// The `IP:8081` a failed routing message names.
fn target_of(r: &serde_json::Value) -> String {
    r["message"]
        .as_str()
        .unwrap()
        .split(": ")
        .next()
        .unwrap()
        .to_string()
}
