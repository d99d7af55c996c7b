//! What the engine needs from a cluster, as a trait: the real one talks to the API server, the
//! Docker engine and the probe; tests drive the engine with a fake. Every method's error is an
//! infrastructure failure (the harness broke), never a verdict on the cluster's behaviour.

use std::future::Future;
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;

use crate::cluster::provider::Node;
use crate::kube_ops::apply::Written;
use crate::kube_ops::manifest::Manifest;
use crate::kube_ops::pods::EventSummary;
use crate::scenario::model::{ApplyMode, PatchType};

/// Why a backend call failed: always the harness or the infrastructure, never a verdict on
/// the cluster's behaviour. The cause's kind reaches the reports (`cause` of a broken step).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The API server refused, or could not be reached.
    #[error(transparent)]
    Kube(#[from] crate::kube_ops::error::KubeError),
    /// The Docker engine failed.
    #[error(transparent)]
    Docker(#[from] crate::docker::error::DockerError),
    /// A command or probe did not end in time.
    #[error("{what} did not end within {after:?}")]
    Timeout { what: String, after: Duration },
    /// What this cluster or run cannot do (no API connection, a node without a container).
    #[error("{0}")]
    Unsupported(String),
    /// A local program (kind, the probe) could not run or said something unreadable.
    #[error("{0}")]
    Local(String),
}

impl BackendError {
    /// The kind of cause, as reports name it.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kubernetes-api",
            Self::Docker(_) => "docker",
            Self::Timeout { .. } => "timeout",
            Self::Unsupported(_) => "unsupported",
            Self::Local(_) => "local",
        }
    }
}

/// Where a probe runs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeSite {
    Host,
    Node(Node),
    Pod(String),
}

/// What a command (a probe, an exec) printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ran {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// A background probe's output as it is printed.
#[derive(Debug)]
pub struct Streaming {
    /// Its stdout line by line; closed once the probe has ended.
    pub lines: tokio::sync::mpsc::Receiver<String>,
    /// What [`Backend::end_stream`] stops.
    pub handle: StreamHandle,
}

/// Which background probe to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamHandle {
    /// A local process (SIGTERM).
    Process(u32),
    /// A probe container (removed).
    Container(String),
    /// An exec in a pod: the stream is closed (the probe ends on its next write) — the id
    /// of the reading task, for the backend.
    Exec(u64),
    /// A fake backend's stream.
    Fake(u64),
}

/// A fault the backend applies in a node (through an exec in it), and can undo.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeFault {
    Netem {
        delay: Duration,
        jitter: Duration,
        /// Percent.
        loss: f64,
        /// `None`: the interface holding the node's address.
        interface: Option<String>,
    },
    NetemClear {
        interface: Option<String>,
    },
    StopKubelet,
    StartKubelet,
}

fn unsupported(what: &str) -> BackendError {
    BackendError::Unsupported(format!("this backend cannot {what}"))
}

pub trait Backend: Send + Sync {
    fn apply(
        &self,
        manifest: &Manifest,
        mode: ApplyMode,
        namespace: &str,
    ) -> impl Future<Output = Result<Written, BackendError>> + Send;
    fn patch(
        &self,
        target: &DynamicObject,
        patch_type: PatchType,
        body: &Value,
        namespace: &str,
    ) -> impl Future<Output = Result<Written, BackendError>> + Send;
    fn delete(
        &self,
        manifest: &Manifest,
        namespace: &str,
        wait: Duration,
    ) -> impl Future<Output = Result<Written, BackendError>> + Send;
    fn get(
        &self,
        target: &DynamicObject,
        namespace: &str,
    ) -> impl Future<Output = Result<Option<Value>, BackendError>> + Send;
    fn pods(
        &self,
        namespace: &str,
        selector: &str,
    ) -> impl Future<Output = Result<Vec<Value>, BackendError>> + Send;
    fn endpoint_slices(
        &self,
        namespace: &str,
        service: &str,
    ) -> impl Future<Output = Result<Vec<Value>, BackendError>> + Send;
    fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;
    fn events(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Vec<EventSummary>, BackendError>> + Send;
    /// The kubelet's Lease of `node` (namespace kube-node-lease), if there is one.
    fn node_lease(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<Option<Value>, BackendError>> + Send;
    /// Names of the nodes that are not Ready (empty: all are).
    fn nodes_not_ready(&self) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;
    fn exec_node(
        &self,
        node: &Node,
        command: &[String],
    ) -> impl Future<Output = Result<Ran, BackendError>> + Send;
    fn exec_pod(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> impl Future<Output = Result<Ran, BackendError>> + Send;
    /// Restart a node container; the node as it is afterwards (ports read again).
    fn restart_node(&self, node: &Node) -> impl Future<Output = Result<Node, BackendError>> + Send;
    fn pause_node(
        &self,
        node: &Node,
        duration: Duration,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// `kind create cluster` from `config_file` as written, judged by kind `version`'s rules;
    /// nothing may be left running. Its output says which judged it and how many node
    /// containers were created.
    fn kind_create(
        &self,
        config_file: &std::path::Path,
        version: crate::kind_config::version::KindVersion,
    ) -> impl Future<Output = Result<Ran, BackendError>> + Send;
    /// Run `kindproof-probe <args>` at `site` and wait (at most `deadline`) for it to end.
    fn probe(
        &self,
        site: &ProbeSite,
        args: &[String],
        namespace: &str,
        deadline: Duration,
    ) -> impl Future<Output = Result<Ran, BackendError>> + Send;
    /// Start `kindproof-probe <args>` at `site` in the background: its lines as printed.
    fn probe_stream(
        &self,
        _site: &ProbeSite,
        _args: &[String],
        _namespace: &str,
    ) -> impl Future<Output = Result<Streaming, BackendError>> + Send {
        async { Err(unsupported("run background probes")) }
    }
    /// Stop a background probe; its lines end once it has.
    fn end_stream(
        &self,
        _handle: &StreamHandle,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        async { Ok(()) }
    }
    /// Cut `node` off the cluster's Docker network (kept to be undone if the run is cut).
    fn disconnect_node(
        &self,
        _node: &Node,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        async { Err(unsupported("disconnect nodes")) }
    }
    /// Put `node` back on the network with the address it had; the node as it is now.
    fn reconnect_node(
        &self,
        _node: &Node,
    ) -> impl Future<Output = Result<Node, BackendError>> + Send {
        async { Err(unsupported("reconnect nodes")) }
    }
    /// Apply (or undo) a fault in `node`; what its command printed.
    fn node_fault(
        &self,
        _node: &Node,
        _fault: &NodeFault,
    ) -> impl Future<Output = Result<Ran, BackendError>> + Send {
        async { Err(unsupported("change a node's network or kubelet")) }
    }
    /// Delete the pods `selector` matches in `namespace` with grace period 0; their names.
    fn kill_pods(
        &self,
        _namespace: &str,
        _selector: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        async { Err(unsupported("kill pods")) }
    }
}

/// A backend borrowed is a backend (a provider may hand out one it owns).
impl<B: Backend> Backend for &B {
    async fn apply(
        &self,
        manifest: &Manifest,
        mode: ApplyMode,
        namespace: &str,
    ) -> Result<Written, BackendError> {
        (**self).apply(manifest, mode, namespace).await
    }
    async fn patch(
        &self,
        target: &DynamicObject,
        patch_type: PatchType,
        body: &Value,
        namespace: &str,
    ) -> Result<Written, BackendError> {
        (**self).patch(target, patch_type, body, namespace).await
    }
    async fn delete(
        &self,
        manifest: &Manifest,
        namespace: &str,
        wait: Duration,
    ) -> Result<Written, BackendError> {
        (**self).delete(manifest, namespace, wait).await
    }
    async fn get(
        &self,
        target: &DynamicObject,
        namespace: &str,
    ) -> Result<Option<Value>, BackendError> {
        (**self).get(target, namespace).await
    }
    async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<Value>, BackendError> {
        (**self).pods(namespace, selector).await
    }
    async fn endpoint_slices(
        &self,
        namespace: &str,
        service: &str,
    ) -> Result<Vec<Value>, BackendError> {
        (**self).endpoint_slices(namespace, service).await
    }
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, BackendError> {
        (**self).logs(namespace, pod, container, previous).await
    }
    async fn events(&self, namespace: &str) -> Result<Vec<EventSummary>, BackendError> {
        (**self).events(namespace).await
    }
    async fn node_lease(&self, node: &str) -> Result<Option<Value>, BackendError> {
        (**self).node_lease(node).await
    }
    async fn nodes_not_ready(&self) -> Result<Vec<String>, BackendError> {
        (**self).nodes_not_ready().await
    }
    async fn exec_node(&self, node: &Node, command: &[String]) -> Result<Ran, BackendError> {
        (**self).exec_node(node, command).await
    }
    async fn exec_pod(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<Ran, BackendError> {
        (**self).exec_pod(namespace, pod, container, command).await
    }
    async fn restart_node(&self, node: &Node) -> Result<Node, BackendError> {
        (**self).restart_node(node).await
    }
    async fn pause_node(&self, node: &Node, duration: Duration) -> Result<(), BackendError> {
        (**self).pause_node(node, duration).await
    }
    async fn kind_create(
        &self,
        config_file: &std::path::Path,
        version: crate::kind_config::version::KindVersion,
    ) -> Result<Ran, BackendError> {
        (**self).kind_create(config_file, version).await
    }
    async fn probe(
        &self,
        site: &ProbeSite,
        args: &[String],
        namespace: &str,
        deadline: Duration,
    ) -> Result<Ran, BackendError> {
        (**self).probe(site, args, namespace, deadline).await
    }
    async fn probe_stream(
        &self,
        site: &ProbeSite,
        args: &[String],
        namespace: &str,
    ) -> Result<Streaming, BackendError> {
        (**self).probe_stream(site, args, namespace).await
    }
    async fn end_stream(&self, handle: &StreamHandle) -> Result<(), BackendError> {
        (**self).end_stream(handle).await
    }
    async fn disconnect_node(&self, node: &Node) -> Result<(), BackendError> {
        (**self).disconnect_node(node).await
    }
    async fn reconnect_node(&self, node: &Node) -> Result<Node, BackendError> {
        (**self).reconnect_node(node).await
    }
    async fn node_fault(&self, node: &Node, fault: &NodeFault) -> Result<Ran, BackendError> {
        (**self).node_fault(node, fault).await
    }
    async fn kill_pods(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<String>, BackendError> {
        (**self).kill_pods(namespace, selector).await
    }
}
