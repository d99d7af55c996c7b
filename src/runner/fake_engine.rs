//! A Docker engine for the Runner's unit tests: containers it is told about (listed by label,
//! removed on request, each removal logged); every other operation fails, naming itself, so a
//! test that reaches Docker where it should not is told so.

use std::sync::Mutex;

use bytes::Bytes;

use crate::docker::api::*;
use crate::docker::error::DockerError;

#[derive(Default)]
pub(super) struct FakeEngine {
    pub(super) containers: Mutex<Vec<ContainerInfo>>,
    pub(super) removed: Mutex<Vec<String>>,
}

fn not_here(operation: &'static str) -> DockerError {
    DockerError::Operation {
        operation,
        target: "(the fake engine)".into(),
        source: Box::new(bollard::errors::Error::DockerResponseServerError {
            status_code: 501,
            message: "not in this test".into(),
        }),
    }
}

impl FakeEngine {
    /// A container carrying `labels`, as a run's probe container would.
    pub(super) fn with_container(id: &str, labels: &[(&str, &str)]) -> Self {
        let e = Self::default();
        e.containers.lock().unwrap().push(ContainerInfo {
            id: id.into(),
            name: id.into(),
            running: true,
            paused: false,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            published: Vec::new(),
            addresses: Default::default(),
            created: None,
        });
        e
    }
}

impl Engine for FakeEngine {
    async fn version(&self) -> Result<EngineVersion, DockerError> {
        Err(not_here("read the version of"))
    }
    async fn create_container(&self, _: &ContainerSpec) -> Result<String, DockerError> {
        Err(not_here("create container"))
    }
    async fn start_container(&self, _: &str) -> Result<(), DockerError> {
        Err(not_here("start container"))
    }
    async fn restart_container(&self, _: &str, _: i32) -> Result<(), DockerError> {
        Err(not_here("restart container"))
    }
    async fn pause_container(&self, _: &str) -> Result<(), DockerError> {
        Err(not_here("pause container"))
    }
    async fn unpause_container(&self, _: &str) -> Result<(), DockerError> {
        Err(not_here("unpause container"))
    }
    async fn inspect_container(&self, _: &str) -> Result<ContainerInfo, DockerError> {
        Err(not_here("inspect container"))
    }
    async fn wait_container(&self, _: &str) -> Result<i64, DockerError> {
        Err(not_here("wait for container"))
    }
    async fn logs(&self, _: &str) -> Result<(String, String), DockerError> {
        Err(not_here("read the logs of"))
    }
    async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        self.containers.lock().unwrap().retain(|c| c.id != id);
        self.removed.lock().unwrap().push(id.into());
        Ok(())
    }
    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerInfo>, DockerError> {
        let (k, v) = label.split_once('=').unwrap_or((label, ""));
        Ok(self
            .containers
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.labels.get(k).is_some_and(|have| have == v))
            .cloned()
            .collect())
    }
    async fn create_network(&self, _: &NetworkSpec) -> Result<String, DockerError> {
        Err(not_here("create network"))
    }
    async fn networks_named(&self, _: &str) -> Result<Vec<NetworkInfo>, DockerError> {
        Err(not_here("list networks"))
    }
    async fn remove_network(&self, _: &str) -> Result<(), DockerError> {
        Err(not_here("remove network"))
    }
    async fn list_networks(&self, _: &str) -> Result<Vec<NetworkInfo>, DockerError> {
        Err(not_here("list networks"))
    }
    async fn inspect_image(&self, _: &str) -> Result<Option<ImageInfo>, DockerError> {
        Err(not_here("inspect image"))
    }
    async fn image_tags(&self, _: &str) -> Result<Vec<String>, DockerError> {
        Err(not_here("list images"))
    }
    async fn save_image(&self, _: &str) -> Result<Bytes, DockerError> {
        Err(not_here("save image"))
    }
    async fn exec(
        &self,
        _: &str,
        _: &[String],
        _: Option<Bytes>,
    ) -> Result<ExecOutput, DockerError> {
        Err(not_here("exec in"))
    }
    async fn build_image(&self, _: Bytes, _: &str) -> Result<(), DockerError> {
        Err(not_here("build image"))
    }
    async fn import_image(
        &self,
        _: Bytes,
        _: &str,
        _: &str,
        _: &[String],
    ) -> Result<(), DockerError> {
        Err(not_here("import image"))
    }
}
