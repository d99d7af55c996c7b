//! A tiny Kubernetes API on 127.0.0.1 for `kindproof run --kubeconfig`: nodes, version,
//! discovery of v1, namespaces, and Services whose nodePorts it allocates as the API server
//! does — a second Service asking for a nodePort another one holds is refused ("provided port
//! is already allocated"). With it, a run of variants that hold one nodePort proves they never
//! overlapped (else an apply would have been refused), while disjoint ones did overlap. It
//! lists namespaces by label too, for the pool's sweep of a dead holder's namespaces.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::docker_clusters::World;
use crate::support::{read_request_query, respond, stand_in_kubeconfig, text};

#[derive(Default)]
struct Api {
    namespaces: Vec<String>,
    /// A namespace's labels, as created.
    labels: BTreeMap<String, Value>,
    /// (namespace, name) → nodePorts.
    services: BTreeMap<(String, String), Vec<u64>>,
    refused: Vec<String>,
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message}),
    )
}

fn answer(api: &Mutex<Api>, method: &str, path: &str, query: &str, body: &str) -> (u16, Value) {
    let mut a = api.lock().unwrap();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["version"]) => (
            200,
            json!({"major": "1", "minor": "36", "gitVersion": "v1.36.2",
            "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z",
            "goVersion": "go1.27", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        ("GET", ["api", "v1", "nodes"]) => {
            let node = |name: &str, ip: &str| {
                json!({"metadata": {"name": name, "labels": {}},
                "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                "conditions": [{"type": "Ready", "status": "True"}]}})
            };
            (
                200,
                json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {},
                "items": [node("mini-worker", "127.0.0.1")]}),
            )
        }
        ("GET", ["api", "v1"]) => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["create", "delete", "get", "list"]},
            {"name": "services", "singularName": "service", "namespaced": true, "kind": "Service", "verbs": ["create", "delete", "get", "list", "patch"]}]}),
        ),
        ("POST", ["api", "v1", "namespaces"]) => {
            let ns: Value = serde_json::from_str(body).unwrap_or_default();
            let name = ns["metadata"]["name"].as_str().unwrap_or("").to_string();
            a.labels
                .insert(name.clone(), ns["metadata"]["labels"].clone());
            a.namespaces.push(name);
            (201, ns)
        }
        ("GET", ["api", "v1", "namespaces"]) => {
            // `labelSelector=key%3Dvalue`: one equality, as kindproof's sweeps ask.
            let wanted = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("labelSelector="))
                .map(|s| s.replace("%3D", "=").replace("%2F", "/"));
            let items: Vec<Value> = a
                .namespaces
                .iter()
                .filter(|n| {
                    wanted.as_ref().is_none_or(|w| {
                        let (k, v) = w.split_once('=').unwrap_or((w, ""));
                        a.labels.get(*n).and_then(|l| l[k].as_str()) == Some(v)
                    })
                })
                .map(|n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": a.labels.get(n)}}))
                .collect();
            (
                200,
                json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}),
            )
        }
        ("GET", ["api", "v1", "namespaces", ns]) => {
            if a.namespaces.iter().any(|n| n == ns) {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
            } else {
                status(404, "NotFound", "namespace not found")
            }
        }
        ("DELETE", ["api", "v1", "namespaces", ns]) => {
            a.namespaces.retain(|n| n != ns);
            a.services.retain(|(n, _), _| n != ns);
            (
                200,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Terminating"}}),
            )
        }
        ("PATCH", ["api", "v1", "namespaces", ns, "services", name]) => {
            let mut obj: Value = serde_json::from_str(body).unwrap_or_default();
            let ports: Vec<u64> = obj["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["nodePort"].as_u64())
                .collect();
            let key = (ns.to_string(), name.to_string());
            if let Some(p) = ports.iter().find(|p| {
                a.services
                    .iter()
                    .any(|(k, held)| *k != key && held.contains(p))
            }) {
                let m = format!(
                    "Service \"{name}\" is invalid: spec.ports[0].nodePort: Invalid value: {p}: provided port is already allocated"
                );
                a.refused.push(m.clone());
                return status(422, "Invalid", &m);
            }
            a.services.insert(key, ports);
            obj["metadata"]["namespace"] = json!(ns);
            (200, obj)
        }
        ("GET", ["api", "v1", "namespaces", ns, "services", name]) => {
            match a.services.contains_key(&(ns.to_string(), name.to_string())) {
                true => (
                    200,
                    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}}),
                ),
                false => status(404, "NotFound", "service not found"),
            }
        }
        ("DELETE", ["api", "v1", "namespaces", ns, "services", name]) => {
            a.services.remove(&(ns.to_string(), name.to_string()));
            (
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            )
        }
        _ => status(404, "NotFound", "not served by the stand-in"),
    }
}

async fn serve(api: Arc<Mutex<Api>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let api = api.clone();
            tokio::spawn(async move {
                let Some((method, path, query, body)) = read_request_query(&mut s).await else {
                    return;
                };
                let (code, reply) = answer(&api, &method, &path, &query, &body);
                respond(&mut s, &format!("{code} X"), &reply).await;
            });
        }
    });
    url
}

fn scenario(name: &str, node_port: u16) -> String {
    format!(
        "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: {name}
summary: holds nodePort {node_port} for a while
cluster:
  config: three.yaml
variants:
  - name: v
    expect: the Service is written, then it holds the port for 1.5 s
steps:
  - apply:
      mode: server-side
      manifest: |
        apiVersion: v1
        kind: Service
        metadata: {{name: svc}}
        spec:
          type: NodePort
          ports: [{{port: 80, nodePort: {node_port}}}]
  - sleep: 1500ms
"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_run_never_overlaps_variants_holding_one_nodeport() {
    let engine = kindproof::docker::bollard_engine::BollardEngine::connect()
        .await
        .unwrap();
    let w = World::new(&engine).await;
    let api = Arc::new(Mutex::new(Api::default()));
    let url = serve(api.clone()).await;
    let kubeconfig = w.tmp.path().join("mini.kubeconfig");
    stand_in_kubeconfig(&kubeconfig, &url);
    for (name, port) in [("first", 30001), ("second", 30001), ("third", 30002)] {
        let dir = w.tmp.path().join(format!("ports/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(w.config(), dir.join("three.yaml")).unwrap();
        std::fs::write(dir.join("scenario.yaml"), scenario(name, port)).unwrap();
    }
    let json_path = w.tmp.path().join("ports.json");
    let o = w
        .cmd()
        .arg("run")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["-j", "3", "-v", "--report-json"])
        .arg(&json_path)
        .arg(w.tmp.path().join("ports"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let a = std::mem::take(&mut *api.lock().unwrap());
    assert!(
        a.refused.is_empty(),
        "a nodePort was asked for twice: {:?}",
        a.refused
    );
    // Every namespace went (in the background) and was waited for at the end.
    assert!(a.namespaces.is_empty(), "{:?}", a.namespaces);
    assert!(a.services.is_empty(), "{:?}", a.services);
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let span = |id: &str| {
        let v = report["timeline"]["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {report}"))
            .clone();
        (v["start"].as_f64().unwrap(), v["end"].as_f64().unwrap(), v)
    };
    let overlap = |a: &str, b: &str| {
        let (x, y) = (span(a), span(b));
        x.0 < y.1 && y.0 < x.1
    };
    assert!(!overlap("first/v", "second/v"), "{report}");
    assert!(
        overlap("first/v", "third/v") || overlap("second/v", "third/v"),
        "{report}"
    );
    assert_eq!(span("first/v").2["claims"], json!(["nodePort 30001"]));
    // -v named the claim that made one wait.
    assert!(err.contains("nodePort 30001"), "{err}");
    w.teardown(&engine, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_pool_sweep_deletes_a_dead_holders_namespaces_and_no_one_elses() {
    use kindproof::pool::{Holder, Maker, ShapeState};
    let engine = kindproof::docker::bollard_engine::BollardEngine::connect()
        .await
        .unwrap();
    let api = Arc::new(Mutex::new(Api::default()));
    {
        let mut a = api.lock().unwrap();
        for (ns, run) in [
            ("kp-dead-a", "deadrun"),
            ("kp-dead-b", "deadrun"),
            ("kp-live-a", "liverun"),
        ] {
            a.namespaces.push(ns.into());
            a.labels
                .insert(ns.into(), json!({"io.kindproof.run-id": run}));
        }
    }
    let url = serve(api.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    stand_in_kubeconfig(&kubeconfig, &url);
    let state = ShapeState {
        key: "k".into(),
        cluster: "kp-pool-k".into(),
        kubeconfig,
        config: "three.yaml".into(),
        image: "img".into(),
        created: 0,
        last_used: 0,
        holders: Vec::new(),
    };
    let maker = kindproof::runner::providers::pool::KindMaker {
        engine: &engine,
        make: None,
    };
    // A holder killed with SIGKILL (its pid gone): its namespaces go, the live run's stay.
    let dead = [Holder {
        pid: u32::MAX,
        run_id: "deadrun".into(),
    }];
    maker.sweep(&state, &dead).await.unwrap();
    assert_eq!(api.lock().unwrap().namespaces, ["kp-live-a"]);
}
