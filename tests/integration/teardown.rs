//! Teardown against an API stand-in on 127.0.0.1 whose pod ignores SIGTERM: deleted with its
//! default grace it would stay terminating for 30 s (as a kubelet keeps such a pod), deleted
//! with `gracePeriodSeconds: 0` it goes at once. `release_now` frees a variant's nodePort
//! Service and its pods in well under 2 s, and asks for exactly that (grace 0, background
//! propagation); the namespace is only asked to go, not waited for.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kindproof::kube_ops::client::Kube;
use kindproof::kube_ops::teardown::{delete_namespace_background, release_now};
use serde_json::json;

use crate::support::{read_request, respond, stand_in_kubeconfig};

#[derive(Default)]
struct World {
    service: bool,
    /// When the pod is gone (None: still running).
    pod_gone_at: Option<Instant>,
    pod: bool,
    requests: Vec<String>,
}

async fn stand_in(world: Arc<Mutex<World>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let world = world.clone();
            tokio::spawn(async move {
                let Some((method, path, body)) = read_request(&mut s).await else {
                    return;
                };
                let method = method.as_str();
                let grace0 = body.contains("\"gracePeriodSeconds\":0");
                let (status, reply) = {
                    let mut w = world.lock().unwrap();
                    w.requests.push(format!("{method} {path} {body}"));
                    if w.pod_gone_at.is_some_and(|t| Instant::now() >= t) {
                        w.pod = false;
                    }
                    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns", "namespace": "ns"}});
                    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}]}});
                    let ok = json!({"kind": "Status", "apiVersion": "v1", "status": "Success"});
                    match (method, path.as_str()) {
                        ("GET", "/api/v1") => (
                            "200 OK",
                            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
                            {"name": "services", "singularName": "service", "namespaced": true, "kind": "Service", "verbs": ["get", "list", "delete"]},
                            {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list", "delete", "deletecollection"]}]}),
                        ),
                        ("DELETE", "/api/v1/namespaces/ns/services/dns") => {
                            w.service = false;
                            ("200 OK", ok)
                        }
                        ("GET", "/api/v1/namespaces/ns/services/dns") if w.service => {
                            ("200 OK", svc)
                        }
                        ("DELETE", "/api/v1/namespaces/ns/pods") => {
                            // The pod ignores SIGTERM: only grace 0 removes it now.
                            let after = if grace0 {
                                Duration::ZERO
                            } else {
                                Duration::from_secs(30)
                            };
                            w.pod_gone_at = Some(Instant::now() + after);
                            if grace0 {
                                w.pod = false;
                            }
                            (
                                "200 OK",
                                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}),
                            )
                        }
                        ("GET", "/api/v1/namespaces/ns/pods") => {
                            let items = if w.pod { vec![pod] } else { vec![] };
                            (
                                "200 OK",
                                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}),
                            )
                        }
                        ("DELETE", "/api/v1/namespaces/ns") => (
                            "200 OK",
                            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "status": {"phase": "Terminating"}}),
                        ),
                        _ => (
                            "404 Not Found",
                            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"}),
                        ),
                    }
                };
                respond(&mut s, status, &reply).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn teardown_frees_a_nodeport_and_its_pods_at_once_whatever_the_pods_do_with_sigterm() {
    let world = Arc::new(Mutex::new(World {
        service: true,
        pod: true,
        ..Default::default()
    }));
    let url = stand_in(world.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    stand_in_kubeconfig(&kubeconfig, &url);
    let kube = Kube::connect(&kubeconfig, None).await.unwrap();
    let service: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
        "spec": {"type": "NodePort", "ports": [{"port": 53, "nodePort": 30053}]}
    }))
    .unwrap();
    let t = Instant::now();
    release_now(&kube, &[service], "ns", true, Duration::from_secs(60))
        .await
        .unwrap();
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "teardown took {took:?}: it waited for the pod's grace period"
    );
    delete_namespace_background(&kube, "ns").await.unwrap();
    let w = world.lock().unwrap();
    let deletes: Vec<&String> = w
        .requests
        .iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes.len(), 3, "{:?}", w.requests);
    for d in &deletes[..2] {
        assert!(
            d.contains("\"gracePeriodSeconds\":0")
                && d.contains("\"propagationPolicy\":\"Background\""),
            "{d}"
        );
    }
    assert!(
        deletes[2].starts_with("DELETE /api/v1/namespaces/ns "),
        "{}",
        deletes[2]
    );
    assert!(!w.service && !w.pod);
}
