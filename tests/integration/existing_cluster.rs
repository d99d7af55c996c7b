//! The existing-cluster provider through its real kubeconfig path: a kubeconfig with two
//! contexts, each pointing at a tiny HTTP API server on 127.0.0.1 that this test runs, which
//! answers the node list. Nodes come from the API; the chosen context decides which cluster.

use std::io::Write;

use kindproof::cluster::provider::ExistingCluster;
use serde_json::json;

/// Serve `GET /api/v1/nodes` with `nodes` on 127.0.0.1 until the test ends; the server's URL.
async fn api_server(nodes: serde_json::Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = json!({
        "kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": nodes
    });
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let Some((method, path, _)) = crate::support::read_request(&mut s).await else {
                    return;
                };
                if method == "GET" && path == "/api/v1/nodes" {
                    crate::support::respond(&mut s, "200 OK", &body).await;
                } else {
                    let missing = json!({"kind": "Status", "code": 404});
                    crate::support::respond(&mut s, "404 Not Found", &missing).await;
                }
            });
        }
    });
    url
}

fn node(name: &str, ip: &str, control_plane: bool) -> serde_json::Value {
    let labels = if control_plane {
        json!({"node-role.kubernetes.io/control-plane": ""})
    } else {
        json!({})
    };
    json!({"metadata": {"name": name, "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})
}

#[tokio::test]
async fn existing_cluster_nodes_come_from_the_api_of_the_chosen_context() {
    let a = api_server(json!([node("a-cp", "127.0.0.1", true)])).await;
    let b = api_server(json!([
        node("b-worker", "127.0.0.3", false),
        node("b-cp", "127.0.0.2", true)
    ]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut f = std::fs::File::create(&kubeconfig).unwrap();
    write!(
        f,
        "apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {{server: '{a}'}}
- name: b
  cluster: {{server: '{b}'}}
contexts:
- name: ctx-a
  context: {{cluster: a, user: u}}
- name: ctx-b
  context: {{cluster: b, user: u}}
current-context: ctx-a
users:
- name: u
  user: {{token: test}}
"
    )
    .unwrap();
    drop(f);

    let current = ExistingCluster {
        kubeconfig: kubeconfig.clone(),
        context: None,
    };
    let h = current.read().await.unwrap();
    let names: Vec<&str> = h.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a-cp"]);
    assert_eq!(h.provider, "existing");

    let chosen = ExistingCluster {
        kubeconfig,
        context: Some("ctx-b".into()),
    };
    let h = chosen.read().await.unwrap();
    let nodes: Vec<(String, String, String)> = h
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.role.clone(), n.ipv4.unwrap().to_string()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("b-cp".into(), "control-plane".into(), "127.0.0.2".into()),
            ("b-worker".into(), "worker".into(), "127.0.0.3".into())
        ]
    );
    assert!(h.nodes.iter().all(|n| n.container.is_none()));
    // Borrowed: the runner never deletes it (runner::run_tests::a_borrowed_cluster_*).
}

#[tokio::test]
async fn an_unreadable_kubeconfig_is_named() {
    let e = ExistingCluster {
        kubeconfig: "/nonexistent/kubeconfig".into(),
        context: None,
    }
    .read()
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("failed to read kubeconfig /nonexistent/kubeconfig"),
        "{e}"
    );
}
