//! The engine seam: what kindproof needs from Docker, as a trait with plain types, so the
//! runner can be driven by a fake in unit tests while the bollard implementation is tested
//! against a real engine.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;

use bytes::Bytes;

use super::error::DockerError;
use crate::kind_config::model::Protocol;
use crate::ports::inspect::Published;

/// One port to publish: `host_port: None` lets Docker pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: IpAddr,
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub publish: Vec<Publish>,
    /// A network to attach to instead of the default bridge.
    pub network: Option<String>,
    /// Network aliases on `network` (resolvable through Docker's embedded DNS).
    pub aliases: Vec<String>,
    /// Upstream DNS servers for Docker's embedded resolver (`docker run --dns`); empty: the
    /// host's.
    pub dns: Vec<String>,
    /// Seconds Docker waits after the stop signal before killing, on stop and restart.
    pub stop_timeout: Option<i64>,
}

/// What kindproof reads back about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub running: bool,
    /// Frozen by `docker pause` (still `running` as Docker counts it).
    pub paused: bool,
    pub labels: HashMap<String, String>,
    pub published: Vec<Published>,
    /// Network name → (IPv4, IPv6) on that network.
    pub addresses: BTreeMap<String, (Option<IpAddr>, Option<IpAddr>)>,
    /// When Docker created it, in seconds since the Unix epoch.
    pub created: Option<u64>,
}

/// A bridge network to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    /// No route out of the host and no published ports.
    pub internal: bool,
    pub labels: HashMap<String, String>,
    /// Driver options (`docker network create -o`).
    pub options: HashMap<String, String>,
    /// Enable IPv6 with this subnet (IPv4 stays automatic).
    pub ipv6_subnet: Option<String>,
}

impl NetworkSpec {
    /// A plain bridge network carrying `labels`.
    pub fn bridge(name: &str, internal: bool, labels: HashMap<String, String>) -> Self {
        Self {
            name: name.to_string(),
            internal,
            labels,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    /// Driver options, e.g. `com.docker.network.driver.mtu`.
    pub options: HashMap<String, String>,
    /// IPAM subnets (IPv4 and IPv6).
    pub subnets: Vec<String>,
    /// When Docker created it, in seconds since the Unix epoch.
    pub created: Option<u64>,
}

/// Docker's RFC 3339 creation time (nanosecond precision) as seconds since the Unix epoch.
pub fn unix_seconds(rfc3339: &str) -> Option<u64> {
    humantime::parse_rfc3339_weak(rfc3339.get(..19)?)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// What kindproof reads back about a local image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:…`, as `docker image inspect -f '{{.Id}}'` prints it.
    pub id: String,
    pub labels: HashMap<String, String>,
}

/// The outcome of a command run in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    /// `stdout` and `stderr` as one text, for error messages.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
}

/// The Docker operations kindproof uses. Every method names its target in its error.
pub trait Engine: Send + Sync {
    fn version(&self) -> impl Future<Output = Result<EngineVersion, DockerError>> + Send;
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;
    fn start_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn restart_container(
        &self,
        id: &str,
        timeout_secs: i32,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn pause_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn unpause_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn inspect_container(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<ContainerInfo, DockerError>> + Send;
    /// Wait until the container stops; its exit code.
    fn wait_container(&self, id: &str) -> impl Future<Output = Result<i64, DockerError>> + Send;
    /// The container's stdout and stderr so far.
    fn logs(&self, id: &str) -> impl Future<Output = Result<(String, String), DockerError>> + Send;
    /// Force-remove a container and its anonymous volumes; a missing container is not an error.
    fn remove_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// All containers (running or not) carrying the `key=value` label.
    fn list_containers(
        &self,
        label: &str,
    ) -> impl Future<Output = Result<Vec<ContainerInfo>, DockerError>> + Send;
    fn create_network(
        &self,
        spec: &NetworkSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;
    /// The networks whose name is exactly `name` (Docker allows several).
    fn networks_named(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<NetworkInfo>, DockerError>> + Send;
    /// A missing network is not an error.
    fn remove_network(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn list_networks(
        &self,
        label: &str,
    ) -> impl Future<Output = Result<Vec<NetworkInfo>, DockerError>> + Send;
    /// A local image's id and labels; `None` when there is no such image (nothing is pulled).
    fn inspect_image(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<ImageInfo>, DockerError>> + Send;
    /// The `repo:tag` names of the local images of repository `repo` (nothing is pulled).
    fn image_tags(
        &self,
        repo: &str,
    ) -> impl Future<Output = Result<Vec<String>, DockerError>> + Send;
    /// `docker save`: the image as a `docker save` archive.
    fn save_image(&self, image: &str) -> impl Future<Output = Result<Bytes, DockerError>> + Send;
    /// Run `cmd` in a running container (as `docker exec -i`), feeding `stdin` when given, and
    /// wait for it to end. A non-zero exit is an outcome, not an error.
    fn exec(
        &self,
        container: &str,
        cmd: &[String],
        stdin: Option<Bytes>,
    ) -> impl Future<Output = Result<ExecOutput, DockerError>> + Send;
    /// Build `tag` from an in-memory tar context holding a Dockerfile, with the network off and
    /// no pull (the context must be `FROM scratch` or use local images only).
    fn build_image(
        &self,
        context_tar: Bytes,
        tag: &str,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// `docker import`: make image `repo:tag` from a root filesystem tarball.
    fn import_image(
        &self,
        rootfs_tar: Bytes,
        repo: &str,
        tag: &str,
        changes: &[String],
    ) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// Take `container` off `network` (forced, as `docker network disconnect -f`).
    fn disconnect_network(
        &self,
        _network: &str,
        _container: &str,
    ) -> impl Future<Output = Result<(), DockerError>> + Send {
        async {
            Err(DockerError::Unsupported(
                "no network disconnect here".into(),
            ))
        }
    }
    /// Put `container` on `network`, with the addresses given (those it had).
    fn connect_network(
        &self,
        _network: &str,
        _container: &str,
        _ipv4: Option<&str>,
        _ipv6: Option<&str>,
    ) -> impl Future<Output = Result<(), DockerError>> + Send {
        async { Err(DockerError::Unsupported("no network connect here".into())) }
    }
    /// `docker pull IMAGE`: only ever called when the user allowed pulling (`--pull`).
    fn pull_image(&self, _image: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        async { Err(DockerError::Unsupported("no image pull here".into())) }
    }
    /// A running container's stdout as it is written, until the container ends.
    fn follow_stdout(
        &self,
        _id: &str,
    ) -> futures_util::stream::BoxStream<'static, Result<Bytes, DockerError>> {
        Box::pin(futures_util::stream::once(async {
            Err(DockerError::Unsupported("no log stream here".into()))
        }))
    }
}
