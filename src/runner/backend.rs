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
}
