//! The real backend: the API server through kube-rs, node containers through Docker, and the
//! probe wherever a step runs it — as a local process for `from: host` (outside every node), as
//! a container in the node's network namespace for `from: node:<n>` (what a hostNetwork pod on
//! that node sees), or by exec in a pod for `from: pod:<p>`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;

use super::backend::{Backend, BackendError, ProbeSite, Ran};
use super::cleanup::Live;
use crate::cluster::provider::{Node, reread};
use crate::docker::api::{ContainerSpec, Engine};
use crate::kind_cli::{installed_version, kind_bin};
use crate::kind_config::check::ConfigCheck;
use crate::kind_config::load::load_file;
use crate::kind_config::version::KindVersion;
use crate::kube_ops::apply::{self, Written};
use crate::kube_ops::client::Kube;
use crate::kube_ops::error::KubeError;
use crate::kube_ops::manifest::Manifest;
use crate::kube_ops::pods::{self, EventSummary};
use crate::scenario::model::{ApplyMode, PatchType};

pub struct ClusterBackend<'e, E: Engine> {
    pub engine: &'e E,
    /// `None` when the run touches no API (a scenario of probes and node actions only).
    pub kube: Option<Kube>,
    /// The kind network, where node addresses are read.
    pub network: String,
    /// The local probe binary, for probes from the host.
    pub probe_bin: PathBuf,
    pub probe_image: String,
    /// Labels for containers the backend creates (node probes), so cleanup finds them.
    pub labels: HashMap<String, String>,
    pub run_id: String,
    /// The probe containers running now, so that the run's cleanup stack removes any that a
    /// stop cut off before this backend could.
    pub live: Live,
}

impl<E: Engine> ClusterBackend<'_, E> {
    fn kube(&self) -> Result<&Kube, BackendError> {
        self.kube.as_ref().ok_or_else(|| {
            BackendError::Unsupported("this run has no connection to an API server".into())
        })
    }

    fn container(node: &Node) -> Result<&str, BackendError> {
        node.container.as_deref().ok_or_else(|| {
            BackendError::Unsupported(format!(
                "node {} has no container: node actions need kind",
                node.name
            ))
        })
    }

    /// A probe container with `args` in `node`'s network namespace, labelled as the run's.
    pub(super) fn probe_container(
        &self,
        node: &Node,
        args: &[String],
    ) -> Result<ContainerSpec, BackendError> {
        Ok(ContainerSpec {
            name: format!("kp-probe-{}-{}", self.run_id, crate::labels::new_run_id()),
            image: self.probe_image.clone(),
            cmd: args.to_vec(),
            labels: self.labels.clone(),
            network: Some(format!("container:{}", Self::container(node)?)),
            stop_timeout: Some(1),
            ..Default::default()
        })
    }

    async fn node_again(&self, node: &Node) -> Result<Node, BackendError> {
        Ok(reread(self.engine, node, &self.network).await?)
    }
}

/// The scenario's apply mode as the Kubernetes adapter's.
fn kube_mode(m: ApplyMode) -> apply::ApplyMode {
    match m {
        ApplyMode::ClientSide => apply::ApplyMode::ClientSide,
        ApplyMode::ServerSide { force } => apply::ApplyMode::ServerSide { force },
        ApplyMode::Replace => apply::ApplyMode::Replace,
        ApplyMode::Create => apply::ApplyMode::Create,
    }
}

/// The scenario's patch type as the Kubernetes adapter's.
fn kube_patch(t: PatchType) -> apply::PatchType {
    match t {
        PatchType::Json => apply::PatchType::Json,
        PatchType::Merge => apply::PatchType::Merge,
        PatchType::Strategic => apply::PatchType::Strategic,
    }
}

fn s<E: Into<BackendError>>(e: E) -> BackendError {
    e.into()
}

/// A probe that ran past its deadline.
fn timeout(after: Duration) -> BackendError {
    BackendError::Timeout {
        what: "the probe".into(),
        after,
    }
}

impl<E: Engine> Backend for ClusterBackend<'_, E> {
    async fn apply(
        &self,
        m: &Manifest,
        mode: ApplyMode,
        ns: &str,
    ) -> Result<Written, BackendError> {
        apply::apply(self.kube()?, m, kube_mode(mode), ns)
            .await
            .map_err(s)
    }

    async fn patch(
        &self,
        target: &DynamicObject,
        patch_type: PatchType,
        body: &Value,
        ns: &str,
    ) -> Result<Written, BackendError> {
        apply::patch(self.kube()?, target, kube_patch(patch_type), body, ns)
            .await
            .map_err(s)
    }

    async fn delete(
        &self,
        m: &Manifest,
        ns: &str,
        wait: Duration,
    ) -> Result<Written, BackendError> {
        apply::delete(self.kube()?, m, ns, wait, Duration::from_millis(500))
            .await
            .map_err(s)
    }

    async fn get(&self, target: &DynamicObject, ns: &str) -> Result<Option<Value>, BackendError> {
        apply::get(self.kube()?, target, ns).await.map_err(s)
    }

    async fn pods(&self, ns: &str, selector: &str) -> Result<Vec<Value>, BackendError> {
        pods::pods(self.kube()?, ns, selector).await.map_err(s)
    }

    async fn endpoint_slices(&self, ns: &str, service: &str) -> Result<Vec<Value>, BackendError> {
        pods::endpoint_slices(self.kube()?, ns, service)
            .await
            .map_err(s)
    }

    async fn logs(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, BackendError> {
        pods::logs(self.kube()?, ns, pod, container, previous)
            .await
            .map_err(s)
    }

    async fn events(&self, ns: &str) -> Result<Vec<EventSummary>, BackendError> {
        pods::events(self.kube()?, ns).await.map_err(s)
    }

    async fn node_lease(&self, node: &str) -> Result<Option<Value>, BackendError> {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: kube::Api<Lease> =
            kube::Api::namespaced(self.kube()?.client.clone(), "kube-node-lease");
        let lease = api.get_opt(node).await.map_err(KubeError::from_kube(
            "read the kubelet lease of",
            node.to_string(),
        ))?;
        lease
            .map(|l| serde_json::to_value(l).map_err(|e| BackendError::Local(e.to_string())))
            .transpose()
    }

    async fn nodes_not_ready(&self) -> Result<Vec<String>, BackendError> {
        use k8s_openapi::api::core::v1::Node as ApiNode;
        let api: kube::Api<ApiNode> = kube::Api::all(self.kube()?.client.clone());
        let list = api
            .list(&Default::default())
            .await
            .map_err(KubeError::from_kube("list", "the nodes".to_string()))?;
        Ok(list
            .items
            .into_iter()
            .filter(|n| {
                !n.status
                    .as_ref()
                    .and_then(|st| st.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .filter_map(|n| n.metadata.name)
            .collect())
    }

    async fn exec_node(&self, node: &Node, command: &[String]) -> Result<Ran, BackendError> {
        let out = self
            .engine
            .exec(Self::container(node)?, command, None)
            .await
            .map_err(s)?;
        Ok(Ran {
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn exec_pod(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
    ) -> Result<Ran, BackendError> {
        let out = pods::exec(self.kube()?, ns, pod, container, command)
            .await
            .map_err(s)?;
        Ok(Ran {
            exit_code: i64::from(out.exit_code),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn restart_node(&self, node: &Node) -> Result<Node, BackendError> {
        // kind nodes ignore the stop signal (systemd): Docker kills after its 10 s, as FACTS.
        self.engine
            .restart_container(Self::container(node)?, 10)
            .await
            .map_err(s)?;
        self.node_again(node).await
    }

    async fn pause_node(&self, node: &Node, duration: Duration) -> Result<(), BackendError> {
        let id = Self::container(node)?;
        self.engine.pause_container(id).await.map_err(s)?;
        tokio::time::sleep(duration).await;
        self.engine.unpause_container(id).await.map_err(s)
    }

    async fn probe(
        &self,
        site: &ProbeSite,
        args: &[String],
        ns: &str,
        deadline: Duration,
    ) -> Result<Ran, BackendError> {
        match site {
            ProbeSite::Host => {
                let run = tokio::process::Command::new(&self.probe_bin)
                    .args(args)
                    .stdin(Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(deadline, run)
                    .await
                    .map_err(|_| timeout(deadline))?
                    .map_err(|e| {
                        BackendError::Local(format!(
                            "failed to run {}: {e}",
                            self.probe_bin.display()
                        ))
                    })?;
                Ok(Ran {
                    exit_code: i64::from(out.status.code().unwrap_or(-1)),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
            ProbeSite::Node(node) => {
                let spec = self.probe_container(node, args)?;
                let id = self.engine.create_container(&spec).await.map_err(s)?;
                self.live.add(&id);
                let result = async {
                    self.engine.start_container(&id).await.map_err(s)?;
                    let code = tokio::time::timeout(deadline, self.engine.wait_container(&id))
                        .await
                        .map_err(|_| timeout(deadline))?
                        .map_err(s)?;
                    let (stdout, stderr) = self.engine.logs(&id).await.map_err(s)?;
                    Ok::<Ran, BackendError>(Ran {
                        exit_code: code,
                        stdout,
                        stderr,
                    })
                }
                .await;
                // The probe container is the run's own: it goes whatever happened.
                if self.engine.remove_container(&id).await.is_ok() {
                    self.live.remove(&id);
                }
                result
            }
            ProbeSite::Pod(pod) => {
                let mut command = vec!["/kindproof-probe".to_string()];
                command.extend(args.iter().cloned());
                let out = tokio::time::timeout(
                    deadline,
                    pods::exec(self.kube()?, ns, pod, None, &command),
                )
                .await
                .map_err(|_| timeout(deadline))?
                .map_err(s)?;
                Ok(Ran {
                    exit_code: i64::from(out.exit_code),
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            }
        }
    }

    async fn probe_stream(
        &self,
        site: &ProbeSite,
        args: &[String],
        ns: &str,
    ) -> Result<super::backend::Streaming, BackendError> {
        self.stream_probe(site, args, ns).await
    }

    async fn end_stream(&self, handle: &super::backend::StreamHandle) -> Result<(), BackendError> {
        self.stop_stream(handle).await
    }

    async fn disconnect_node(&self, node: &Node) -> Result<(), BackendError> {
        self.cut_off(node).await
    }

    async fn reconnect_node(&self, node: &Node) -> Result<Node, BackendError> {
        self.put_back(node).await
    }

    async fn node_fault(
        &self,
        node: &Node,
        fault: &super::backend::NodeFault,
    ) -> Result<Ran, BackendError> {
        self.in_node(node, fault).await
    }

    async fn kill_pods(&self, ns: &str, selector: &str) -> Result<Vec<String>, BackendError> {
        Ok(pods::kill(self.kube()?, ns, selector).await?)
    }

    async fn kind_create(
        &self,
        config_file: &std::path::Path,
        version: KindVersion,
    ) -> Result<Ran, BackendError> {
        let loaded = load_file(config_file).map_err(|e| BackendError::Local(e.to_string()))?;
        let check = ConfigCheck::run(config_file, &loaded.cluster, version);
        let installed = installed_version().ok().flatten();
        let real = installed.is_some_and(|i| i.rules() == version.rules());
        let name = format!("kp-kc-{}", crate::labels::new_run_id());
        let mut ran = match (&check.kind_message, real) {
            // The installed kind has these rules and will refuse during validation, before it
            // needs an image: ask it for real.
            (Some(_), true) => {
                let out = tokio::process::Command::new(kind_bin())
                    .args(["create", "cluster", "--name", &name, "--config"])
                    .arg(config_file)
                    .stdin(Stdio::null())
                    .kill_on_drop(true)
                    .output()
                    .await
                    .map_err(|e| BackendError::Local(format!("failed to run kind: {e}")))?;
                Ran {
                    exit_code: i64::from(out.status.code().unwrap_or(-1)),
                    stdout: format!(
                        "kindproof: judged by the installed kind {}\n{}",
                        installed.map(|v| v.to_string()).unwrap_or_default(),
                        String::from_utf8_lossy(&out.stdout)
                    ),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
            (Some(message), false) => Ran {
                exit_code: 1,
                stdout: format!(
                    "kindproof: judged by kindproof's port of kind {version}'s rules (the installed kind is {})\n",
                    installed.map_or("absent".to_string(), |v| v.to_string())
                ),
                stderr: format!("ERROR: failed to create cluster: {message}\n"),
            },
            (None, _) => Ran {
                exit_code: 0,
                stdout: format!(
                    "kindproof: kind {version} accepts this config as written; nothing was created\n"
                ),
                stderr: String::new(),
            },
        };
        // Whatever happened, nothing of it may stay.
        let left = crate::cluster::nodes::kind_nodes(self.engine, &name)
            .await
            .map_err(s)?;
        ran.stdout.push_str(&format!(
            "kindproof: containers created for this cluster: {}\n",
            left.len()
        ));
        for n in left {
            let _ = self.engine.remove_container(&n.container.id).await;
        }
        Ok(ran)
    }
}
