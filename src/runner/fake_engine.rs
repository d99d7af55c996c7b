//! A Docker engine for the Runner's unit tests: containers it is told about (listed by label,
//! removed on request, each removal logged) and local images (a pull, logged, makes one
//! local); every other operation fails, naming itself, so a test that reaches Docker where it
//! should not is told so.

use std::sync::Mutex;

use bytes::Bytes;

use crate::docker::api::*;
use crate::docker::error::DockerError;

#[derive(Default)]
pub(super) struct FakeEngine {
    pub(super) containers: Mutex<Vec<ContainerInfo>>,
    pub(super) removed: Mutex<Vec<String>>,
    /// The images present; `None`: inspecting an image is not in this test.
    pub(super) images: Mutex<Option<Vec<String>>>,
    /// The images pulled, in order.
    pub(super) pulled: Mutex<Vec<String>>,
    /// A pull fails (as with no registry in reach).
    pub(super) pull_fails: bool,
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
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, DockerError> {
        let images = self.images.lock().unwrap();
        let present = images.as_ref().ok_or_else(|| not_here("inspect image"))?;
        Ok(present.iter().any(|i| i == image).then(|| ImageInfo {
            id: format!("sha256:{image}"),
            labels: Default::default(),
        }))
    }
    async fn pull_image(&self, image: &str) -> Result<(), DockerError> {
        self.pulled.lock().unwrap().push(image.to_string());
        if self.pull_fails {
            return Err(not_here("pull image"));
        }
        if let Some(present) = self.images.lock().unwrap().as_mut() {
            present.push(image.to_string());
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::kind::node_image;
    use crate::exit::AppError;
    use crate::runner::images::make_local;

    fn engine(present: &[&str]) -> FakeEngine {
        let e = FakeEngine::default();
        *e.images.lock().unwrap() = Some(present.iter().map(|i| i.to_string()).collect());
        e
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|i| i.to_string()).collect()
    }

    #[tokio::test]
    async fn absent_images_are_refused_by_name_without_pull_and_nothing_is_pulled() {
        let e = engine(&["busybox:1.36"]);
        let err = make_local(
            &e,
            &names(&["busybox:1.36", "nginx:1.27", "redis:7"]),
            false,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "images the manifests use are not present locally (kindproof pulls only with --pull or KINDPROOF_PULL=1; or `docker load` them): nginx:1.27, redis:7"
        );
        assert!(e.pulled.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn with_pull_only_the_absent_ones_are_pulled_and_said() {
        let e = engine(&["busybox:1.36"]);
        let pulled = make_local(&e, &names(&["busybox:1.36", "nginx:1.27", "redis:7"]), true)
            .await
            .unwrap();
        assert_eq!(pulled, ["nginx:1.27", "redis:7"]);
        assert_eq!(*e.pulled.lock().unwrap(), ["nginx:1.27", "redis:7"]);
        // Everything present: nothing to pull.
        let e = engine(&["busybox:1.36"]);
        assert!(
            make_local(&e, &names(&["busybox:1.36"]), true)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(e.pulled.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_pull_is_an_environment_error_naming_the_image() {
        let e = FakeEngine {
            pull_fails: true,
            ..engine(&[])
        };
        let err = make_local(&e, &names(&["nginx:1.27"]), true)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Environment(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("--pull: failed to pull nginx:1.27: "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_absent_node_image_is_refused_unless_kind_may_pull_it() {
        let e = engine(&["kindest/node:v1.36.2"]);
        let here = node_image(&e, Some("kindest/node:v1.36.2"), true)
            .await
            .unwrap();
        assert!(here.local && here.notice().is_none());
        let err = node_image(&e, Some("kindest/node:v1.31.0"), false)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("allow pulling with --pull (KINDPROOF_PULL=1)"),
            "{err}"
        );
        let away = node_image(&e, Some("kindest/node:v1.31.0"), true)
            .await
            .unwrap();
        assert!(!away.local && away.pull);
        assert_eq!(
            away.notice().unwrap(),
            "node image kindest/node:v1.31.0 is not present locally: kind pulls it (--pull)"
        );
        // kindproof itself pulls nothing for kind: kind does, when it creates the cluster.
        assert!(e.pulled.lock().unwrap().is_empty());
    }
}
