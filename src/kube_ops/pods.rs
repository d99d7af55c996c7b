//! Pods, endpoints, events, logs, exec and the per-scenario namespaces: the reads scenarios
//! assert on, as JSON values (so the same field paths and conditions apply to every kind).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::client::Kube;
use super::error::{KubeError, RetryPolicy, with_retries};
use super::wait::{Poll, until};
use crate::labels;

fn values<T: serde::Serialize>(items: Vec<T>) -> Vec<Value> {
    items
        .into_iter()
        .map(|i| serde_json::to_value(i).expect("an object serializes"))
        .collect()
}

/// The pods of `namespace` matching label `selector` (`app=web`; empty: all), by name.
pub async fn pods(kube: &Kube, namespace: &str, selector: &str) -> Result<Vec<Value>, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let params = ListParams::default().labels(selector);
    let list = with_retries(RetryPolicy::default(), false, || async {
        api.list(&params).await.map_err(KubeError::from_kube(
            "list pods",
            format!("{namespace}/{selector}"),
        ))
    })
    .await?;
    let mut out = values(list.items);
    out.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    Ok(out)
}

/// The EndpointSlices of Service `service`.
pub async fn endpoint_slices(
    kube: &Kube,
    namespace: &str,
    service: &str,
) -> Result<Vec<Value>, KubeError> {
    let api: Api<EndpointSlice> = Api::namespaced(kube.client.clone(), namespace);
    let params = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    let list = with_retries(RetryPolicy::default(), false, || async {
        api.list(&params).await.map_err(KubeError::from_kube(
            "list endpoint slices of",
            format!("{namespace}/{service}"),
        ))
    })
    .await?;
    Ok(values(list.items))
}

/// A pod's log: the current container's, or with `previous` the one before the last restart.
pub async fn logs(
    kube: &Kube,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    previous: bool,
) -> Result<String, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let params = LogParams {
        container: container.map(str::to_string),
        previous,
        ..Default::default()
    };
    api.logs(pod, &params).await.map_err(KubeError::from_kube(
        if previous {
            "read the previous log of pod"
        } else {
            "read the log of pod"
        },
        format!("{namespace}/{pod}"),
    ))
}

/// One event, as scenarios assert on it (`BackOff`, "Back-off restarting failed container").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    pub object: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
}

/// The events of `namespace`, oldest first.
pub async fn events(kube: &Kube, namespace: &str) -> Result<Vec<EventSummary>, KubeError> {
    let api: Api<Event> = Api::namespaced(kube.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(KubeError::from_kube("list events of namespace", namespace))?;
    let mut items = list.items;
    items.sort_by(|a, b| {
        let t = |e: &Event| e.last_timestamp.clone().map(|t| t.0);
        t(a).cmp(&t(b))
    });
    Ok(items
        .into_iter()
        .map(|e| EventSummary {
            object: format!(
                "{}/{}",
                e.involved_object
                    .kind
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                e.involved_object.name.unwrap_or_default()
            ),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect())
}

/// What a command run in a pod did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PodExec {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `command` in a pod's container and wait for it.
pub async fn exec(
    kube: &Kube,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
) -> Result<PodExec, KubeError> {
    let target = format!("{namespace}/{pod}");
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let mut params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    if let Some(c) = container {
        params = params.container(c);
    }
    let mut attached = api
        .exec(pod, command.to_vec(), &params)
        .await
        .map_err(KubeError::from_kube("exec in pod", target.clone()))?;
    let failed = |detail: String| KubeError::Request {
        operation: "exec in pod",
        target: target.clone(),
        detail,
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut out = attached
        .stdout()
        .ok_or_else(|| failed("no stdout".into()))?;
    let mut err = attached
        .stderr()
        .ok_or_else(|| failed("no stderr".into()))?;
    let status = attached.take_status();
    let (o, e) = tokio::join!(
        out.read_to_string(&mut stdout),
        err.read_to_string(&mut stderr)
    );
    o.and(e).map_err(|e| failed(e.to_string()))?;
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    attached.join().await.map_err(|e| failed(e.to_string()))?;
    // Success carries no code; a failure names it in the details' causes (`ExitCode`).
    let exit_code = match status {
        Some(s) if s.status.as_deref() == Some("Success") => 0,
        Some(s) => s
            .details
            .and_then(|d| d.causes)
            .into_iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message)
            .and_then(|m| m.parse().ok())
            .unwrap_or(1),
        None => -1,
    };
    Ok(PodExec {
        exit_code,
        stdout,
        stderr,
    })
}

/// Run `command` in a pod's first container and pass its output (stdout, then stderr, as it
/// comes) to `out` until it ends or nobody reads.
pub async fn exec_streaming(
    kube: &Kube,
    namespace: &str,
    pod: &str,
    command: &[String],
    out: tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), KubeError> {
    let target = format!("{namespace}/{pod}");
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut attached = api
        .exec(pod, command.to_vec(), &params)
        .await
        .map_err(KubeError::from_kube("exec in pod", target.clone()))?;
    let pass = |r: Option<_>, out: tokio::sync::mpsc::Sender<Vec<u8>>| async move {
        let Some(mut r) = r else { return };
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = AsyncReadExt::read(&mut r, &mut buf).await {
            if n == 0 || out.send(buf[..n].to_vec()).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(
        pass(attached.stdout(), out.clone()),
        pass(attached.stderr(), out)
    );
    attached.join().await.map_err(|e| KubeError::Request {
        operation: "exec in pod",
        target,
        detail: e.to_string(),
    })
}

/// Delete the pods of `namespace` that `selector` matches, with grace period 0 (as a crash
/// would end them); their names.
pub async fn kill(kube: &Kube, namespace: &str, selector: &str) -> Result<Vec<String>, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let target = format!("{namespace} pods {selector}");
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(KubeError::from_kube("list pods", target.clone()))?;
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    let mut killed = Vec::new();
    for p in list.items {
        let Some(name) = p.metadata.name else {
            continue;
        };
        match api.delete(&name, &now).await {
            Ok(_) => killed.push(name),
            // Gone already: killed all the same.
            Err(kube::Error::Api(s)) if s.code == 404 => killed.push(name),
            Err(e) => {
                return Err(KubeError::from_kube(
                    "delete pod",
                    format!("{namespace}/{name}"),
                )(e));
            }
        }
    }
    Ok(killed)
}

/// Create namespace `name` carrying run `run_id`'s labels.
pub async fn create_namespace(kube: &Kube, name: &str, run_id: &str) -> Result<(), KubeError> {
    let api: Api<Namespace> = Api::all(kube.client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    ns.metadata.labels = Some(
        labels::for_run(run_id)
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    );
    with_retries(RetryPolicy::default(), false, || async {
        api.create(&PostParams::default(), &ns)
            .await
            .map_err(KubeError::from_kube("create namespace", name))
    })
    .await?;
    Ok(())
}

/// Delete namespace `name` and wait until it is gone (everything in it goes with it).
pub async fn delete_namespace(kube: &Kube, name: &str, timeout: Duration) -> Result<(), KubeError> {
    let api: Api<Namespace> = Api::all(kube.client.clone());
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(KubeError::from_kube("delete namespace", name)(e)),
    }
    until(
        &format!("namespace {name} to be deleted"),
        timeout,
        Duration::from_millis(500),
        || async {
            let ns = api
                .get_opt(name)
                .await
                .map_err(KubeError::from_kube("read namespace", name))?;
            Ok(match ns {
                None => Poll::Ready(()),
                Some(ns) => Poll::Pending(format!(
                    "phase {}",
                    ns.status.and_then(|s| s.phase).unwrap_or_default()
                )),
            })
        },
    )
    .await
}

/// The namespace of one scenario in one run: `kp-<name>-<run id>`, a valid DNS label.
pub fn namespace_name(scenario: &str, run_id: &str) -> String {
    labels::cluster_name(scenario, run_id)
}

/// Wait until the API server answers and lists `expected` nodes, all `Ready` (kind's `--wait`
/// covers only the control plane; workers turn Ready seconds later).
pub async fn wait_nodes_ready(
    kube: &Kube,
    expected: usize,
    timeout: Duration,
    interval: Duration,
) -> Result<(), KubeError> {
    let api: Api<Node> = Api::all(kube.client.clone());
    until(
        &format!("{expected} nodes to be Ready"),
        timeout,
        interval,
        || async {
            let list = match api.list(&ListParams::default()).await {
                Ok(l) => l,
                // Not answering yet (starting, or restarting): keep waiting, say why.
                Err(e) => return Ok(Poll::Pending(format!("API server: {e}"))),
            };
            let nodes = values(list.items);
            let not_ready: Vec<&str> = nodes
                .iter()
                .filter(|n| {
                    !n.pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        })
                })
                .map(|n| n["metadata"]["name"].as_str().unwrap_or("?"))
                .collect();
            Ok(if nodes.len() >= expected && not_ready.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending(format!(
                    "{} of {expected} nodes Ready; not ready: {}",
                    nodes.len() - not_ready.len(),
                    not_ready.join(", ")
                ))
            })
        },
    )
    .await
}
