//! The kind provider: the real `kind` CLI for the cluster lifecycle (create, delete), bollard for
//! everything Docker-level (the node image check, the shared network, the nodes and the ports
//! they really publish).
//!
//! Each cluster has its own directory holding its resolved config and its own kubeconfig: kind
//! locks `<kubeconfig>.lock`, and parallel deletes on a shared `~/.kube/config` fail (kind#1425).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::kind_network::{Ensured, NetworkError, ensure_network, network_name};
use super::nodes::{KindNode, kind_nodes};
use crate::docker::api::Engine;
use crate::docker::error::DockerError;
use crate::kind_config::model::Cluster;
use crate::kind_config::version::KindVersion;

/// kind's variable choosing its container runtime.
pub const PROVIDER_ENV: &str = "KIND_EXPERIMENTAL_PROVIDER";
/// Names the node image when a scenario pins none.
pub const NODE_IMAGE_ENV: &str = "KINDPROOF_NODE_IMAGE";
/// `1` (or `true`, `yes`) allows pulling, as `--pull` does.
pub const PULL_ENV: &str = "KINDPROOF_PULL";

/// Whether this process may pull: `--pull`, or `KINDPROOF_PULL=1`. Off by default.
pub fn pull_allowed(flag: bool) -> bool {
    flag || std::env::var(PULL_ENV)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The node image a cluster is made from: whether it is here, and whether kind may pull what
/// is not (`--pull`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImage {
    pub name: String,
    pub local: bool,
    pub pull: bool,
}

impl NodeImage {
    /// What the run says about an image kind pulls, or `None` for a local one.
    pub fn notice(&self) -> Option<String> {
        (!self.local).then(|| {
            format!(
                "node image {} is not present locally: kind pulls it (--pull)",
                self.name
            )
        })
    }
}

const NODE_REPO: &str = "kindest/node";
/// The oldest kind whose behaviour kindproof knows (its port rules start at 0.19).
pub const MIN_KIND: KindVersion = KindVersion::new(0, 19, 0);
pub use crate::labels::{MAX_NAME, cluster_name};

/// Failed to create, find or delete a kind cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "{PROVIDER_ENV}={provider} is set: kindproof drives kind on Docker only for now; unset it"
    )]
    UnsupportedProvider { provider: String },
    #[error(
        "failed to find the kind CLI ({bin}): install kind {MIN_KIND} or newer (`make kind` fetches it), or name it with KINDPROOF_KIND"
    )]
    KindMissing { bin: String },
    #[error("{detail}: reinstall kind {MIN_KIND} or newer (`make kind`)")]
    KindBroken { detail: String },
    #[error("kind {found} at {bin} is too old: kindproof needs kind {MIN_KIND} or newer")]
    KindTooOld { bin: String, found: KindVersion },
    #[error(
        "failed to find node image {image} locally: kindproof pulls only when allowed; `docker load` it first, pick another with --image, or allow pulling with --pull ({PULL_ENV}=1)"
    )]
    NodeImageMissing { image: String },
    #[error(
        "failed to find a node image: no {NODE_REPO} image is present locally and none was named: `docker load` one, or name one with --image or {NODE_IMAGE_ENV} (with --pull, the one named is pulled)"
    )]
    NoNodeImage,
    #[error("failed to run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to create kind cluster {name}: `{command}` exited {status}:\n{output}")]
    Create {
        name: String,
        command: String,
        status: String,
        output: String,
    },
    #[error(
        "failed to delete kind cluster {name} after {attempts} attempts; still present: {leftovers:?}; last output: {output}"
    )]
    Delete {
        name: String,
        attempts: usize,
        leftovers: Vec<String>,
        output: String,
    },
    #[error("kind delete cluster --name {name} failed (its nodes are gone): {output}")]
    KindDelete { name: String, output: String },
    #[error("failed to export the kubeconfig of cluster {name}: {output}")]
    Export { name: String, output: String },
    #[error("failed to remove {} leftovers: {}", failures.len(), failures.join("; "))]
    Sweep { failures: Vec<String> },
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Kube(#[from] crate::kube_ops::error::KubeError),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Refuse a non-Docker kind provider.
pub fn check_provider() -> Result<(), ClusterError> {
    match std::env::var(PROVIDER_ENV) {
        Ok(p) if !p.is_empty() && p != "docker" => {
            Err(ClusterError::UnsupportedProvider { provider: p })
        }
        _ => Ok(()),
    }
}

/// The installed kind, checked: present and at least [`MIN_KIND`].
pub fn check_kind() -> Result<KindVersion, ClusterError> {
    let bin = crate::kind_cli::kind_bin().display().to_string();
    match crate::kind_cli::installed_version() {
        Ok(Some(v)) if v >= MIN_KIND => Ok(v),
        Ok(Some(found)) => Err(ClusterError::KindTooOld { bin, found }),
        Ok(None) => Err(ClusterError::KindMissing { bin }),
        Err(e) => Err(ClusterError::KindBroken {
            detail: e.to_string(),
        }),
    }
}

/// The node image to use: `explicit`, else `$KINDPROOF_NODE_IMAGE`, else the newest local
/// `kindest/node` tag. It must be present locally (kind would pull it) unless `pull` allows
/// kind to pull it; an image nobody named is never pulled.
pub async fn node_image<E: Engine>(
    engine: &E,
    explicit: Option<&str>,
    pull: bool,
) -> Result<NodeImage, ClusterError> {
    let named = explicit
        .map(str::to_string)
        .or_else(|| std::env::var(NODE_IMAGE_ENV).ok().filter(|i| !i.is_empty()));
    let name = match named {
        Some(i) => i,
        None => newest_tag(engine.image_tags(NODE_REPO).await?).ok_or(ClusterError::NoNodeImage)?,
    };
    match engine.inspect_image(&name).await? {
        Some(_) => Ok(NodeImage {
            name,
            local: true,
            pull,
        }),
        None if pull => Ok(NodeImage {
            name,
            local: false,
            pull,
        }),
        None => Err(ClusterError::NodeImageMissing { image: name }),
    }
}

/// The tag with the highest `vMAJOR.MINOR.PATCH` (tags that are not versions sort first).
fn newest_tag(tags: Vec<String>) -> Option<String> {
    tags.into_iter().max_by_key(|t| {
        let version = t.rsplit(':').next().unwrap_or("").trim_start_matches('v');
        let mut parts = version
            .split(['.', '-', '@'])
            .map(|p| p.parse::<u64>().ok());
        (
            parts.next().flatten(),
            parts.next().flatten(),
            parts.next().flatten(),
        )
    })
}

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    /// The config with its host ports resolved.
    pub config: Cluster,
    /// The node image (see [`node_image`]).
    pub image: NodeImage,
    /// The cluster's private directory (mode 0700): config and kubeconfig go there.
    pub dir: PathBuf,
    /// `kind create cluster --wait`.
    pub wait: Duration,
}

/// A cluster kind created.
#[derive(Debug, Clone)]
pub struct Created {
    pub name: String,
    pub kubeconfig: PathBuf,
    pub network: String,
    pub network_created: bool,
    pub nodes: Vec<KindNode>,
}

async fn require_local<E: Engine>(engine: &E, image: &str) -> Result<(), ClusterError> {
    match engine.inspect_image(image).await? {
        Some(_) => Ok(()),
        None => Err(ClusterError::NodeImageMissing {
            image: image.to_string(),
        }),
    }
}

/// The kind CLI plus a Docker engine.
pub struct KindProvider<'e, E: Engine> {
    pub engine: &'e E,
    pub kind_bin: PathBuf,
    /// Where host-wide locks live (the kind network's).
    pub lock_dir: PathBuf,
}

impl<E: Engine> KindProvider<'_, E> {
    /// Create the cluster. Checks first, so nothing is created when the request cannot work;
    /// if kind fails midway, what it left is deleted before the error is returned. Dropping the
    /// returned future kills the kind process (the caller then calls [`Self::delete`]).
    pub async fn create(&self, req: &CreateRequest) -> Result<Created, ClusterError> {
        check_provider()?;
        // Unless pulling is allowed, kind must find every node image here: it would pull it.
        if !req.image.pull {
            require_local(self.engine, &req.image.name).await?;
            for node in &req.config.nodes {
                if let Some(image) = &node.image {
                    require_local(self.engine, &image.value).await?;
                }
            }
        }
        let network = network_name();
        let ensured = ensure_network(
            self.engine,
            &network,
            &self.lock_dir,
            Duration::from_secs(60),
        )
        .await?;
        let config_path = req.dir.join("kind-config.yaml");
        let kubeconfig = req.dir.join("kubeconfig");
        let yaml = serde_saphyr::to_string(&req.config).expect("a kind config serializes");
        write_private(&config_path, yaml.as_bytes())?;
        // Private before kind writes credentials into it (an empty file is an empty config).
        write_private(&kubeconfig, b"")?;
        let wait = format!("{}s", req.wait.as_secs());
        let args: Vec<String> = vec![
            "create".into(),
            "cluster".into(),
            "--name".into(),
            req.name.clone(),
            "--config".into(),
            config_path.display().to_string(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--image".into(),
            req.image.name.clone(),
            "--wait".into(),
            wait,
        ];
        let (status, output) = self.kind(&args).await?;
        if !status.success() {
            // kind removes a failed cluster itself unless --retain; make sure.
            let _ = self.delete(&req.name, Some(&kubeconfig)).await;
            return Err(ClusterError::Create {
                name: req.name.clone(),
                command: self.shown(&args),
                status: status.to_string(),
                output: tail(&output, 40),
            });
        }
        // Whatever mode kind chose, the credentials stay the owner's.
        std::fs::set_permissions(
            &kubeconfig,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .map_err(|source| ClusterError::Write {
            path: kubeconfig.clone(),
            source,
        })?;
        let nodes = kind_nodes(self.engine, &req.name).await?;
        Ok(Created {
            name: req.name.clone(),
            kubeconfig,
            network,
            network_created: matches!(ensured, Ensured::Created { .. }),
            nodes,
        })
    }

    /// Delete the cluster: `kind delete cluster`, retried; then whatever node containers are
    /// left are removed through Docker. An error lists what could not be deleted.
    pub async fn delete(&self, name: &str, kubeconfig: Option<&Path>) -> Result<(), ClusterError> {
        const ATTEMPTS: usize = 3;
        let mut args: Vec<String> = vec![
            "delete".into(),
            "cluster".into(),
            "--name".into(),
            name.to_string(),
        ];
        if let Some(k) = kubeconfig {
            args.extend(["--kubeconfig".into(), k.display().to_string()]);
        }
        let mut output = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            let kind_ok = match self.kind(&args).await {
                Ok((status, out)) => {
                    output = out;
                    status.success()
                }
                Err(e) => {
                    output = e.to_string();
                    false
                }
            };
            if kind_nodes(self.engine, name).await?.is_empty() {
                if kind_ok {
                    return Ok(());
                }
                // The nodes are gone but kind failed (its kubeconfig entry, a broken kind):
                // try again, and say so if it keeps failing — never report a clean delete.
                if attempt + 1 == ATTEMPTS {
                    return Err(ClusterError::KindDelete {
                        name: name.to_string(),
                        output: tail(&output, 20),
                    });
                }
                continue;
            }
        }
        // kind gave up: remove the node containers directly.
        let mut leftovers = Vec::new();
        for node in kind_nodes(self.engine, name).await? {
            if self
                .engine
                .remove_container(&node.container.id)
                .await
                .is_err()
            {
                leftovers.push(node.name);
            }
        }
        if leftovers.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Delete {
                name: name.to_string(),
                attempts: ATTEMPTS,
                leftovers,
                output: tail(&output, 20),
            })
        }
    }

    /// `kind export kubeconfig`: add the cluster to `$KUBECONFIG` or `~/.kube/config`, the
    /// user's own kubeconfig, which kindproof touches only when asked.
    pub async fn export_kubeconfig(&self, name: &str) -> Result<(), ClusterError> {
        let args: Vec<String> = vec![
            "export".into(),
            "kubeconfig".into(),
            "--name".into(),
            name.to_string(),
        ];
        let (status, output) = self.kind(&args).await?;
        if status.success() {
            Ok(())
        } else {
            Err(ClusterError::Export {
                name: name.to_string(),
                output: tail(&output, 20),
            })
        }
    }

    fn shown(&self, args: &[String]) -> String {
        format!("{} {}", self.kind_bin.display(), args.join(" "))
    }

    /// Run kind; its exit status and its stdout and stderr together. Killed when dropped.
    async fn kind(
        &self,
        args: &[String],
    ) -> Result<(std::process::ExitStatus, String), ClusterError> {
        let out = tokio::process::Command::new(&self.kind_bin)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| ClusterError::Spawn {
                command: self.shown(args),
                source,
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status, text))
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Write `bytes` to `path`, readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |source| ClusterError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    f.write_all(bytes).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_node_image_tag_wins() {
        let tags = vec![
            "kindest/node:v1.32.2".to_string(),
            "kindest/node:v1.36.2".to_string(),
            "kindest/node:v1.9.0".to_string(),
            "kindest/node:dev".to_string(),
        ];
        assert_eq!(newest_tag(tags).as_deref(), Some("kindest/node:v1.36.2"));
        assert_eq!(newest_tag(vec![]), None);
    }
}
