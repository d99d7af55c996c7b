//! The request shapes of each write mode and the retry policy, against a mock API server (a
//! `tower_test` service standing in for the cluster, as kube-rs's own tests do).

use std::path::Path;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use super::apply::{ApplyMode, PatchType, Written, apply, delete, patch};
use super::client::Kube;
use super::manifest::Manifest;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn mock() -> (Kube, Handle) {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(svc, "default");
    (
        Kube::from_client(client, Path::new("/nonexistent/kubeconfig"), None),
        handle,
    )
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: dns
spec:
  type: NodePort
  ports:
  - {port: 53, protocol: TCP, nodePort: 30054}
  - {port: 53, protocol: UDP, nodePort: 30053}
";

fn manifest(text: &str) -> Manifest {
    Manifest::from_text(Path::new("svc.yaml"), text).unwrap()
}

/// One request the client sent: method, path with query, content type, body.
struct Seen {
    method: String,
    uri: String,
    content_type: String,
    body: Value,
}

async fn answer(handle: &mut Handle, status: u16, body: Value) -> Seen {
    let (req, send) = handle
        .next_request()
        .await
        .expect("the client sent a request");
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = req.into_body().collect_bytes().await.unwrap();
    let body_in = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    send.send_response(
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    );
    Seen {
        method,
        uri,
        content_type,
        body: body_in,
    }
}

/// Discovery of the core group, the first request for a kind this client has not seen.
async fn discovery(handle: &mut Handle) {
    let verbs = json!([
        "create", "delete", "get", "list", "patch", "update", "watch"
    ]);
    let seen = answer(
        handle,
        200,
        json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "services", "singularName": "service", "namespaced": true, "kind": "Service", "verbs": verbs},
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": verbs},
        ]}),
    )
    .await;
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("GET", "/api/v1")
    );
}

fn stored(rv: &str, node_ports: [u16; 2]) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "dns", "namespace": "kp-ns", "resourceVersion": rv},
        "spec": {"ports": [
            {"port": 53, "protocol": "TCP", "nodePort": node_ports[0]},
            {"port": 53, "protocol": "UDP", "nodePort": node_ports[1]}]}})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

const PATH: &str = "/api/v1/namespaces/kp-ns/services/dns";

#[tokio::test]
async fn server_side_apply_patches_as_kindproof_and_keeps_a_conflict_whole() {
    let (kube, mut handle) = mock();
    let m = manifest(SERVICE);
    let task = tokio::spawn({
        let kube = kube.clone();
        let m = m.clone();
        async move { apply(&kube, &m, ApplyMode::ServerSide { force: true }, "kp-ns").await }
    });
    discovery(&mut handle).await;
    let seen = answer(&mut handle, 200, stored("7", [30054, 30053])).await;
    assert_eq!(seen.method, "PATCH");
    assert_eq!(
        seen.uri,
        format!("{PATH}?&force=true&fieldManager=kindproof")
    );
    assert_eq!(seen.content_type, "application/apply-patch+yaml");
    assert_eq!(seen.body["spec"]["ports"][1]["protocol"], "UDP");
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.exit_code, 0);
    assert_eq!(written.stored, [stored("7", [30054, 30053])]);

    // Without force, the API server's conflict is the outcome: one request, kept whole.
    let conflict = "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .spec.ports[port=53,protocol=\"UDP\"].nodePort";
    let task = tokio::spawn({
        let kube = kube.clone();
        async move { apply(&kube, &m, ApplyMode::ServerSide { force: false }, "kp-ns").await }
    });
    let seen = answer(&mut handle, 409, status(409, "Conflict", conflict)).await;
    assert_eq!(seen.uri, format!("{PATH}?&fieldManager=kindproof"));
    let written: Written = task.await.unwrap().unwrap();
    let refused = written.refused.unwrap();
    assert_eq!((refused.code, refused.reason.as_str()), (409, "Conflict"));
    assert_eq!(refused.message, conflict);
    assert_eq!(written.exit_code, 1);
    assert!(written.stored.is_empty());
}

#[tokio::test]
async fn replace_puts_the_live_resource_version_and_rereads_after_a_conflict() {
    let (kube, mut handle) = mock();
    let m = manifest(SERVICE);
    let task = tokio::spawn({
        let kube = kube.clone();
        async move { apply(&kube, &m, ApplyMode::Replace, "kp-ns").await }
    });
    discovery(&mut handle).await;
    let get = answer(&mut handle, 200, stored("41", [30053, 30053])).await;
    assert_eq!((get.method.as_str(), get.uri.as_str()), ("GET", PATH));
    let put = answer(
        &mut handle,
        409,
        status(409, "Conflict", "the object has been modified"),
    )
    .await;
    assert_eq!(put.method, "PUT");
    assert_eq!(put.body["metadata"]["resourceVersion"], "41");
    // Someone else wrote meanwhile: read again, put with the new version.
    let get = answer(&mut handle, 200, stored("42", [30053, 30053])).await;
    assert_eq!(get.method, "GET");
    let put = answer(&mut handle, 200, stored("43", [30054, 30053])).await;
    assert_eq!(put.body["metadata"]["resourceVersion"], "42");
    assert_eq!(put.body["spec"]["ports"][0]["nodePort"], 30054);
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.stored, [stored("43", [30054, 30053])]);
}

#[tokio::test]
async fn create_fails_at_once_on_invalid_and_retries_a_transient_failure() {
    let (kube, mut handle) = mock();
    let m = manifest(SERVICE);
    let task = tokio::spawn({
        let kube = kube.clone();
        let m = m.clone();
        async move { apply(&kube, &m, ApplyMode::Create, "kp-ns").await }
    });
    discovery(&mut handle).await;
    let post = answer(
        &mut handle,
        422,
        status(
            422,
            "Invalid",
            "The Service \"dns\" is invalid: spec.ports: Required value",
        ),
    )
    .await;
    assert_eq!(
        (post.method.as_str(), post.uri.as_str()),
        ("POST", "/api/v1/namespaces/kp-ns/services?")
    );
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.refused.unwrap().reason, "Invalid");

    let task = tokio::spawn({
        let kube = kube.clone();
        async move { apply(&kube, &m, ApplyMode::Create, "kp-ns").await }
    });
    answer(
        &mut handle,
        503,
        status(503, "ServiceUnavailable", "etcd is busy"),
    )
    .await;
    let again = answer(&mut handle, 201, stored("1", [30054, 30053])).await;
    assert_eq!(again.method, "POST");
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.refused, None);
    assert_eq!(written.stored.len(), 1);
}

#[tokio::test]
async fn cluster_scoped_kinds_ignore_the_namespace() {
    let (kube, mut handle) = mock();
    let m = manifest("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kp-x\n");
    let task = tokio::spawn({
        let kube = kube.clone();
        async move { apply(&kube, &m, ApplyMode::Create, "kp-ns").await }
    });
    discovery(&mut handle).await;
    let post = answer(
        &mut handle,
        201,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kp-x"}}),
    )
    .await;
    assert_eq!(post.uri, "/api/v1/namespaces?");
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn patch_types_send_their_content_types() {
    let (kube, mut handle) = mock();
    let target = manifest(SERVICE).objects.remove(0);
    for (kind, body, content_type) in [
        (
            PatchType::Merge,
            json!({"spec": {"type": "ClusterIP"}}),
            "application/merge-patch+json",
        ),
        (
            PatchType::Strategic,
            json!({"spec": {"ports": [{"port": 53, "nodePort": 30054}]}}),
            "application/strategic-merge-patch+json",
        ),
        (
            PatchType::Json,
            json!([{"op": "replace", "path": "/spec/ports/1/nodePort", "value": 30055}]),
            "application/json-patch+json",
        ),
    ] {
        let task = tokio::spawn({
            let (kube, target, body) = (kube.clone(), target.clone(), body.clone());
            async move { patch(&kube, &target, kind, &body, "kp-ns").await }
        });
        if kind == PatchType::Merge {
            discovery(&mut handle).await;
        }
        let seen = answer(&mut handle, 200, stored("9", [30054, 30055])).await;
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            ("PATCH", &*format!("{PATH}?"))
        );
        assert_eq!(seen.content_type, content_type);
        assert_eq!(seen.body, body);
        assert_eq!(task.await.unwrap().unwrap().stored.len(), 1);
    }
}

#[tokio::test]
async fn delete_waits_until_the_object_is_gone() {
    let (kube, mut handle) = mock();
    let m = manifest(SERVICE);
    let task = tokio::spawn({
        let kube = kube.clone();
        async move {
            delete(
                &kube,
                &m,
                "kp-ns",
                Duration::from_secs(30),
                Duration::from_millis(1),
            )
            .await
        }
    });
    discovery(&mut handle).await;
    let del = answer(&mut handle, 200, status(200, "", "")).await;
    assert_eq!(del.method, "DELETE");
    assert_eq!(del.body["propagationPolicy"], "Background");
    let mut terminating = stored("5", [30054, 30053]);
    terminating["metadata"]["deletionTimestamp"] = json!("2026-11-22T15:00:00Z");
    let get = answer(&mut handle, 200, terminating).await;
    assert_eq!(get.method, "GET");
    answer(
        &mut handle,
        404,
        status(404, "NotFound", "services \"dns\" not found"),
    )
    .await;
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.stdout, "service/dns deleted\n");
}

/// A kubectl stand-in that records its arguments and standard input, prints like kubectl and
/// exits with `code`.
fn fake_kubectl(dir: &Path, code: i32, stdout: &str, stderr: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("kubectl");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$@\" > {dir}/args\ncat > {dir}/stdin\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit {code}\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn client_side_runs_kubectl_with_the_clusters_kubeconfig_and_reads_back_what_was_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut kube, mut handle) = mock();
    kube.kubectl = fake_kubectl(tmp.path(), 0, "service/dns configured\\n", "");
    let m = manifest(SERVICE);
    let task = tokio::spawn({
        let kube = kube.clone();
        async move { apply(&kube, &m, ApplyMode::ClientSide, "kp-ns").await }
    });
    discovery(&mut handle).await;
    let get = answer(&mut handle, 200, stored("3", [30054, 30053])).await;
    assert_eq!((get.method.as_str(), get.uri.as_str()), ("GET", PATH));
    let written = task.await.unwrap().unwrap();
    assert_eq!(written.exit_code, 0);
    assert_eq!(written.stdout, "service/dns configured\n");
    assert_eq!(written.stored, [stored("3", [30054, 30053])]);
    let args = std::fs::read_to_string(tmp.path().join("args")).unwrap();
    assert_eq!(
        args.trim(),
        "apply -f - --kubeconfig /nonexistent/kubeconfig --namespace kp-ns"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("stdin")).unwrap(),
        SERVICE
    );

    // kubectl's failure is an outcome with its exit code and message; nothing is read back.
    let (mut kube, _handle) = mock();
    let message = "The Service \"dns\" is invalid: spec.ports: Required value";
    kube.kubectl = fake_kubectl(tmp.path(), 1, "", message);
    let written = apply(&kube, &manifest(SERVICE), ApplyMode::ClientSide, "kp-ns")
        .await
        .unwrap();
    assert_eq!(written.exit_code, 1);
    assert_eq!(written.stderr, message);
    assert!(written.stored.is_empty());
}

#[tokio::test]
async fn previous_logs_and_labelled_namespaces() {
    let (kube, mut handle) = mock();
    let task = tokio::spawn({
        let kube = kube.clone();
        async move { super::pods::logs(&kube, "kp-ns", "flower-0", None, true).await }
    });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(
        req.uri().to_string(),
        "/api/v1/namespaces/kp-ns/pods/flower-0/log?&previous=true"
    );
    send.send_response(
        Response::builder()
            .body(Body::from(
                b"Port in server address 172.18.0.3:30457 is already in use.\n".to_vec(),
            ))
            .unwrap(),
    );
    assert_eq!(
        task.await.unwrap().unwrap(),
        "Port in server address 172.18.0.3:30457 is already in use.\n"
    );

    let task = tokio::spawn({
        let kube = kube.clone();
        async move { super::pods::create_namespace(&kube, "kp-flower-1a2b3c4d", "1a2b3c4d").await }
    });
    let seen = answer(
        &mut handle,
        201,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kp-flower-1a2b3c4d"}}),
    )
    .await;
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("POST", "/api/v1/namespaces?")
    );
    assert_eq!(
        seen.body["metadata"]["labels"]["io.kindproof.run-id"],
        "1a2b3c4d"
    );
    assert_eq!(
        seen.body["metadata"]["labels"]["io.kindproof.managed"],
        "true"
    );
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn waiting_for_nodes_lasts_until_every_one_is_ready() {
    let (kube, mut handle) = mock();
    let task = tokio::spawn({
        let kube = kube.clone();
        async move {
            super::pods::wait_nodes_ready(
                &kube,
                2,
                Duration::from_secs(60),
                Duration::from_millis(1),
            )
            .await
        }
    });
    let node = |name: &str, ready: &str| json!({"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}});
    let list = |items: Value| json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": items});
    answer(
        &mut handle,
        503,
        status(503, "ServiceUnavailable", "starting"),
    )
    .await;
    answer(&mut handle, 200, list(json!([node("cp", "True")]))).await;
    answer(
        &mut handle,
        200,
        list(json!([node("cp", "True"), node("w", "False")])),
    )
    .await;
    let seen = answer(
        &mut handle,
        200,
        list(json!([node("cp", "True"), node("w", "True")])),
    )
    .await;
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("GET", "/api/v1/nodes?")
    );
    task.await.unwrap().unwrap();
}
