//! The real engine, through bollard. The engine here speaks API 1.41, so the client negotiates
//! its version down on connect.

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, InspectContainerOptions,
    ListContainersOptions, ListImagesOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions, RestartContainerOptions, WaitContainerOptions,
};
use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::io::AsyncWriteExt;

use super::api::{
    ContainerInfo, ContainerSpec, Engine, EngineVersion, ExecOutput, ImageInfo, NetworkInfo,
    NetworkSpec,
};
use super::bollard_convert::{info_from_inspect, is_not_found, label_filter, network_info};
use super::error::DockerError;

#[derive(Debug, Clone)]
pub struct BollardEngine {
    docker: Docker,
}

impl BollardEngine {
    /// Connect to the engine the docker CLI would use (see [`endpoint`]) and agree on an API
    /// version with it.
    ///
    /// [`endpoint`]: crate::docker::endpoint
    pub async fn connect() -> Result<Self, DockerError> {
        use crate::docker::endpoint::{config_dir, resolve};
        let endpoint = resolve(|k| std::env::var(k).ok(), config_dir().as_deref())
            .map_err(DockerError::Endpoint)?;
        let connect_error = |source| DockerError::Connect {
            endpoint: endpoint.address().to_string(),
            source: Box::new(source),
        };
        let docker = Docker::connect_with_host(endpoint.address()).map_err(connect_error)?;
        let docker = docker.negotiate_version().await.map_err(connect_error)?;
        Ok(Self { docker })
    }
}

impl Engine for BollardEngine {
    async fn version(&self) -> Result<EngineVersion, DockerError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(DockerError::op("read the version of", "the Docker engine"))?;
        Ok(EngineVersion {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
        })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut exposed = Vec::new();
        for p in &spec.publish {
            let key = format!("{}/{}", p.container_port, p.protocol.lower());
            exposed.push(key.clone());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(p.host_ip.to_string()),
                    host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
                });
        }
        exposed.sort();
        exposed.dedup();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            labels: Some(spec.labels.clone()),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            stop_timeout: spec.stop_timeout,
            host_config: Some(HostConfig {
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                network_mode: spec.network.clone(),
                dns: (!spec.dns.is_empty()).then(|| spec.dns.clone()),
                ..Default::default()
            }),
            networking_config: match (&spec.network, spec.aliases.is_empty()) {
                (Some(net), false) => Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        net.clone(),
                        EndpointSettings {
                            aliases: Some(spec.aliases.clone()),
                            ..Default::default()
                        },
                    )])),
                }),
                _ => None,
            },
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(DockerError::op("create container", &spec.name))?;
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(DockerError::op("start container", id))
    }

    async fn restart_container(&self, id: &str, timeout_secs: i32) -> Result<(), DockerError> {
        let options = RestartContainerOptions {
            t: Some(timeout_secs),
            ..Default::default()
        };
        self.docker
            .restart_container(id, Some(options))
            .await
            .map_err(DockerError::op("restart container", id))
    }

    async fn pause_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .pause_container(id)
            .await
            .map_err(DockerError::op("pause container", id))
    }

    async fn unpause_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .unpause_container(id)
            .await
            .map_err(DockerError::op("unpause container", id))
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, DockerError> {
        let inspect = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(DockerError::op("inspect container", id))?;
        info_from_inspect(id, inspect)
    }

    async fn wait_container(&self, id: &str) -> Result<i64, DockerError> {
        let waited = self
            .docker
            .wait_container(id, None::<WaitContainerOptions>)
            .try_collect::<Vec<_>>()
            .await;
        match waited {
            Ok(r) => Ok(r.last().map(|w| w.status_code).unwrap_or(0)),
            // bollard reports a non-zero exit as an error carrying the code.
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => Ok(code),
            Err(e) => Err(DockerError::op("wait for container", id)(e)),
        }
    }

    async fn logs(&self, id: &str) -> Result<(String, String), DockerError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "all".to_string(),
            ..Default::default()
        };
        let parts = self
            .docker
            .logs(id, Some(options))
            .try_collect::<Vec<_>>()
            .await
            .map_err(DockerError::op("read the logs of container", id))?;
        let (mut out, mut err) = (String::new(), String::new());
        for p in parts {
            match p {
                LogOutput::StdErr { message } => err.push_str(&String::from_utf8_lossy(&message)),
                other => out.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        Ok((out, err))
    }

    async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other.map_err(DockerError::op("remove container", id)),
        }
    }

    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(label_filter(label)),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(DockerError::op("list containers labelled", label))?;
        let mut out = Vec::new();
        for c in list {
            let Some(id) = c.id else { continue };
            match self.inspect_container(&id).await {
                Ok(info) => out.push(info),
                // Removed between the list and the inspect: it is gone, which is fine.
                Err(DockerError::Operation { source, .. }) if is_not_found(&source) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String, DockerError> {
        let ipam = spec.ipv6_subnet.as_ref().map(|subnet| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".to_string()),
            internal: Some(spec.internal),
            labels: Some(spec.labels.clone()),
            options: (!spec.options.is_empty()).then(|| spec.options.clone()),
            enable_ipv6: spec.ipv6_subnet.as_ref().map(|_| true),
            ipam,
            ..Default::default()
        };
        let created = self
            .docker
            .create_network(request)
            .await
            .map_err(DockerError::op("create network", &spec.name))?;
        Ok(created.id)
    }

    async fn networks_named(&self, name: &str) -> Result<Vec<NetworkInfo>, DockerError> {
        // Docker's name filter matches substrings; keep exact matches only.
        let options = ListNetworksOptions {
            filters: Some(HashMap::from([(
                "name".to_string(),
                vec![name.to_string()],
            )])),
        };
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(DockerError::op("list networks named", name))?;
        Ok(list
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .map(network_info)
            .collect())
    }

    async fn remove_network(&self, id: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(id).await {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other.map_err(DockerError::op("remove network", id)),
        }
    }

    async fn list_networks(&self, label: &str) -> Result<Vec<NetworkInfo>, DockerError> {
        let options = ListNetworksOptions {
            filters: Some(label_filter(label)),
        };
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(DockerError::op("list networks labelled", label))?;
        Ok(list.into_iter().map(network_info).collect())
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(ImageInfo {
                id: i.id.unwrap_or_default(),
                labels: i.config.and_then(|c| c.labels).unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(DockerError::op("inspect image", image)(e)),
        }
    }

    async fn image_tags(&self, repo: &str) -> Result<Vec<String>, DockerError> {
        let options = ListImagesOptions {
            filters: Some(HashMap::from([(
                "reference".to_string(),
                vec![repo.to_string()],
            )])),
            ..Default::default()
        };
        let list = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(DockerError::op("list the local images of", repo))?;
        let prefix = format!("{repo}:");
        let mut tags: Vec<String> = list
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .filter(|t| t.starts_with(&prefix))
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    async fn save_image(&self, image: &str) -> Result<Bytes, DockerError> {
        let chunks = self
            .docker
            .export_image(image)
            .try_collect::<Vec<_>>()
            .await
            .map_err(DockerError::op("save image", image))?;
        Ok(chunks.concat().into())
    }

    async fn exec(
        &self,
        container: &str,
        cmd: &[String],
        stdin: Option<Bytes>,
    ) -> Result<ExecOutput, DockerError> {
        let target = format!("{container} ({})", cmd.join(" "));
        let config = CreateExecOptions {
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(cmd.to_vec()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, config)
            .await
            .map_err(DockerError::op("create exec in container", target.clone()))?;
        let started = self
            .docker
            .start_exec(&created.id, None::<StartExecOptions>)
            .await
            .map_err(DockerError::op("start exec in container", target.clone()))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        {
            // Feed stdin while reading the output: a command that writes much before it has
            // read all its input would otherwise stall both sides.
            let feed = async move {
                if let Some(data) = stdin {
                    input.write_all(&data).await?;
                }
                // Half-close: the command sees the end of its input.
                input.shutdown().await
            };
            let drain = async {
                while let Some(part) = output.try_next().await? {
                    match part {
                        LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                        other => stdout.extend_from_slice(&other.into_bytes()),
                    }
                }
                Ok::<(), bollard::errors::Error>(())
            };
            let (fed, drained) = tokio::join!(feed, drain);
            drained.map_err(DockerError::op(
                "read exec output in container",
                target.clone(),
            ))?;
            fed.map_err(|source| DockerError::Stdin {
                target: target.clone(),
                source,
            })?;
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(DockerError::op("inspect exec in container", target.clone()))?;
        Ok(ExecOutput {
            exit_code: inspected.exit_code.unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    async fn disconnect_network(&self, network: &str, container: &str) -> Result<(), DockerError> {
        super::bollard_network::disconnect(&self.docker, network, container).await
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        ipv4: Option<&str>,
        ipv6: Option<&str>,
    ) -> Result<(), DockerError> {
        super::bollard_network::connect(&self.docker, network, container, ipv4, ipv6).await
    }

    fn follow_stdout(
        &self,
        id: &str,
    ) -> futures_util::stream::BoxStream<'static, Result<Bytes, DockerError>> {
        super::bollard_network::follow_stdout(&self.docker, id)
    }

    async fn pull_image(&self, image: &str) -> Result<(), DockerError> {
        super::bollard_network::pull(&self.docker, image).await
    }

    async fn build_image(&self, context_tar: Bytes, tag: &str) -> Result<(), DockerError> {
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".to_string(),
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            networkmode: Some("none".to_string()),
            ..Default::default()
        };
        self.docker
            .build_image(options, None, Some(bollard::body_full(context_tar)))
            .try_collect::<Vec<_>>()
            .await
            .map_err(DockerError::op("build image", tag))?;
        Ok(())
    }

    async fn import_image(
        &self,
        rootfs_tar: Bytes,
        repo: &str,
        tag: &str,
        changes: &[String],
    ) -> Result<(), DockerError> {
        let options = CreateImageOptions {
            from_src: Some("-".to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            changes: changes.to_vec(),
            ..Default::default()
        };
        let target = format!("{repo}:{tag}");
        self.docker
            .create_image(Some(options), Some(bollard::body_full(rootfs_tar)), None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(DockerError::op("import image", target))?;
        Ok(())
    }
}
