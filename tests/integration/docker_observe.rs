//! Observation over time, end to end below Kubernetes: `kindproof run` on a fake-kind cluster,
//! with backends that busybox's httpd serves inside the worker nodes (started by the scenario's
//! own `exec` steps, so their timing is the scenario's). A backend that starts answering 2 s
//! late makes a routing assertion pass in more than one round; one that never answers fails
//! with the last observation; an `only:` whose second backend appears within the settle window
//! fails although its first round held. And after a node restart, a wait ignores the pod's
//! Ready from before it (an API stand-in on 127.0.0.1 serves the pods).

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::{read_request, respond, stand_in_kubeconfig, text};

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
    w.scenario("observe", &scenario());
    let (code, out, report) = w.run_reporting(&name, 3);
    assert_eq!(code, Some(1), "{out}");
    let variant = |v: &str| crate::support::variant_report(&report, v).clone();
    let rounds = |r: &serde_json::Value| {
        r["steps"].as_array().unwrap().last().unwrap()["rounds"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };

    // Late: refused while nothing listened, then pod-a; more than one round, the last held.
    let late = variant("late-backend");
    assert_eq!(late["status"], "passed", "{out}");
    let r = rounds(&late);
    assert!(r.len() > 1, "{r:?}");
    assert_eq!(r[0]["held"], false);
    assert!(
        r[0]["observed"]
            .as_str()
            .unwrap()
            .starts_with("0 of 10 answered: 10 refused"),
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
    assert_eq!(
        mid["message"],
        format!("{}: only pod-a answer", target_of(&mid))
    );
    let r = rounds(&mid);
    assert_eq!(r[0]["held"], true, "{r:?}");
    assert_eq!(r[0]["observed"], "20 of 20 answered: pod-a 20", "{r:?}");
    assert!(
        r.iter()
            .any(|x| x["observed"].as_str().unwrap().contains("pod-b")),
        "{r:?}"
    );
    assert!(
        out.contains("FAIL  observe/second-backend-mid-window"),
        "{out}"
    );
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

/// An API stand-in on 127.0.0.1 answering the pod list of any namespace with one pod `web` on
/// `node`, Ready. Its first `stale` answers carry the Ready condition from before the test
/// began (as a restarted node's pods still do); after that the kubelet's fresh one (the time
/// it answers). Returns the URL and the number of pod lists served.
async fn pods_api(
    node: String,
    stale: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = served.clone();
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (node, count) = (node.clone(), count.clone());
            tokio::spawn(async move {
                let Some((method, path, _)) = read_request(&mut s).await else {
                    return;
                };
                let (status, body) = if method == "GET"
                    && path.starts_with("/api/v1/namespaces/")
                    && path.ends_with("/pods")
                {
                    let k = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let ready_at = if k < stale {
                        before
                    } else {
                        std::time::SystemTime::now()
                    };
                    let pod = serde_json::json!({
                        "metadata": {"name": "web", "namespace": "x", "labels": {"app": "web"}},
                        "spec": {"nodeName": node, "containers": [{"name": "probe", "image": "kindproof/probe"}]},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                            "lastTransitionTime": humantime::format_rfc3339_seconds(ready_at).to_string()}]}
                    });
                    (
                        "200 OK",
                        serde_json::json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod]}),
                    )
                } else {
                    (
                        "404 Not Found",
                        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}),
                    )
                };
                respond(&mut s, status, &body).await;
            });
        }
    });
    (url, served)
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_observe_a_wait_after_a_node_restart_ignores_the_ready_from_before_it() {
    use kindproof::runner::cluster_backend::ClusterBackend;
    use kindproof::runner::engine::{Context, run_variant};
    use kindproof::runner::outcome::Status;

    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let kind = kindproof::cluster::nodes::kind_nodes(&engine, &name)
        .await
        .unwrap();
    let nodes: Vec<_> = kind
        .iter()
        .map(|n| kindproof::cluster::provider::from_kind(n, &w.network))
        .collect();
    let control_plane = nodes[0].name.clone();
    let (url, served) = pods_api(control_plane.clone(), 3).await;
    let kubeconfig = w.tmp.path().join("stand-in.kubeconfig");
    stand_in_kubeconfig(&kubeconfig, &url);
    let dir = w.tmp.path().join("scenarios/restart");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: restart
summary: a wait after a node restart
cluster:
  config: three.yaml
variants:
  - name: only
    expect: the wait passes on the kubelet's status from after the restart, not before
steps:
  - restart-node: control-plane
  - wait: {pods: {selector: app=web, ready: true}}
    timeout: 60s
",
    )
    .unwrap();
    let s = kindproof::scenario::load::load(
        &dir.join("scenario.yaml"),
        kindproof::kind_config::version::KindVersion::NEWEST_KNOWN,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let backend = ClusterBackend {
        engine: &engine,
        kube: Some(
            kindproof::kube_ops::client::Kube::connect(&kubeconfig, None)
                .await
                .unwrap(),
        ),
        network: w.network.clone(),
        probe_bin: Default::default(),
        probe_image: kindproof::probe_image::image_name(),
        labels: w.scope.labels(),
        run_id: w.scope.run_id.clone(),
        live: Default::default(),
    };
    let cx = Context {
        scenario: &s,
        variant: &s.variants[0],
        namespace: "kp-restart".into(),
        cluster: name.clone(),
        nodes,
        probe_image: kindproof::probe_image::image_name(),
        poll: std::time::Duration::from_millis(100),
        stop: Default::default(),
        on_step: None,
    };
    let r = run_variant(&backend, &cx).await;
    assert_eq!(r.status, Status::Passed, "{r:?}");
    // The node really restarted (Docker), and the three stale answers were not believed.
    let looks = served.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(looks, 4, "pod lists served: {looks}");
    let evidence = r.steps[1]
        .evidence
        .as_deref()
        .expect("the wait names its evidence");
    assert!(
        evidence.starts_with("web: Ready condition changed at")
            && evidence.contains(&format!("after the restart of {control_plane}")),
        "{evidence}"
    );
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}
