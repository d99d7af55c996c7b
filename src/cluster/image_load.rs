//! Load a local image into a kind cluster's nodes the way `kind load docker-image` does, without
//! the kind CLI: ask each node's CRI whether it has the image with this id, save the image once,
//! and stream the archive into `ctr --namespace=k8s.io images import -` on the nodes that lack
//! it. The result is checked afterwards, so "loaded" means the node's CRI reports the image id.

use bytes::Bytes;
use futures_util::future::join_all;

use super::nodes::KindNode;
use crate::docker::api::{Engine, ExecOutput};
use crate::docker::error::DockerError;

/// Failed to load an image into a cluster.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "failed to find image {image} locally: build it first (`kindproof image build` for the probe), `docker load` it, or allow pulling it with --pull"
    )]
    NoSuchImage { image: String },
    #[error(
        "failed to find the nodes of kind cluster {cluster}: no container carries the label io.x-k8s.kind.cluster={cluster} (`kind get clusters` lists the clusters)"
    )]
    NoNodes { cluster: String },
    #[error("failed to load {image} into node {node}: the node container is not running")]
    NotRunning { image: String, node: String },
    #[error("failed to load {image} into node {node}: `{command}` exited {exit_code}: {output}")]
    Import {
        image: String,
        node: String,
        command: String,
        exit_code: i64,
        output: String,
    },
    #[error(
        "failed to load {image} into node {node}: after the import the node reports {found}, not {expected}"
    )]
    NotVisible {
        image: String,
        node: String,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// What happened on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOutcome {
    /// The node had the image with this id already; nothing was sent.
    AlreadyPresent,
    Loaded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLoad {
    pub node: String,
    pub outcome: NodeOutcome,
}

/// Load local image `image` into every node in `nodes` that lacks it.
pub async fn load_image<E: Engine>(
    engine: &E,
    image: &str,
    nodes: &[KindNode],
) -> Result<Vec<NodeLoad>, LoadError> {
    let id = engine
        .inspect_image(image)
        .await?
        .ok_or_else(|| LoadError::NoSuchImage {
            image: image.to_string(),
        })?
        .id;
    let mut missing = Vec::new();
    let mut outcomes = Vec::new();
    for node in nodes {
        if !node.container.running {
            return Err(LoadError::NotRunning {
                image: image.to_string(),
                node: node.name.clone(),
            });
        }
        if node_image_id(engine, &node.name, image).await?.as_deref() == Some(id.as_str()) {
            outcomes.push(NodeLoad {
                node: node.name.clone(),
                outcome: NodeOutcome::AlreadyPresent,
            });
        } else {
            missing.push(node);
        }
    }
    if missing.is_empty() {
        return Ok(outcomes);
    }
    // Saved once, sent to every node that needs it (the probe image is ~4 MB).
    let archive = engine.save_image(image).await?;
    let imports = missing
        .iter()
        .map(|node| import_on(engine, &node.name, image, &id, archive.clone()));
    for result in join_all(imports).await {
        outcomes.push(result?);
    }
    outcomes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(outcomes)
}

async fn import_on<E: Engine>(
    engine: &E,
    node: &str,
    image: &str,
    id: &str,
    archive: Bytes,
) -> Result<NodeLoad, LoadError> {
    let mut command = vec![
        "ctr".to_string(),
        "--namespace=k8s.io".into(),
        "images".into(),
        "import".into(),
        "--all-platforms".into(),
        "--digests".into(),
    ];
    // kind imports with the snapshotter the node's containerd uses; without one, ctr's default.
    if let Some(snapshotter) = snapshotter(engine, node).await? {
        command.push(format!("--snapshotter={snapshotter}"));
    }
    command.push("-".into());
    let out = engine.exec(node, &command, Some(archive)).await?;
    if out.exit_code != 0 {
        return Err(LoadError::Import {
            image: image.to_string(),
            node: node.to_string(),
            command: command.join(" "),
            exit_code: out.exit_code,
            output: out.output().trim().to_string(),
        });
    }
    match node_image_id(engine, node, image).await? {
        Some(found) if found == id => Ok(NodeLoad {
            node: node.to_string(),
            outcome: NodeOutcome::Loaded,
        }),
        found => Err(LoadError::NotVisible {
            image: image.to_string(),
            node: node.to_string(),
            expected: id.to_string(),
            found: found.unwrap_or_else(|| "no such image".into()),
        }),
    }
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The id the node's CRI reports for `image` (`crictl inspecti`), `None` when it has none.
async fn node_image_id<E: Engine>(
    engine: &E,
    node: &str,
    image: &str,
) -> Result<Option<String>, DockerError> {
    let out = engine
        .exec(node, &args(&["crictl", "inspecti", image]), None)
        .await?;
    Ok(parse_image_id(&out))
}

fn parse_image_id(out: &ExecOutput) -> Option<String> {
    if out.exit_code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
    v.pointer("/status/id")
        .and_then(|id| id.as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// The snapshotter the node's containerd uses, from `crictl info`.
async fn snapshotter<E: Engine>(engine: &E, node: &str) -> Result<Option<String>, DockerError> {
    let out = engine.exec(node, &args(&["crictl", "info"]), None).await?;
    Ok(parse_snapshotter(&out))
}

fn parse_snapshotter(out: &ExecOutput) -> Option<String> {
    if out.exit_code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
    // containerd 1.x reports it under config.containerd; 2.x per runtime.
    [
        "/config/containerd/snapshotter",
        "/config/containerd/runtimes/runc/snapshotter",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(|s| s.as_str()))
    .filter(|s| !s.is_empty())
    .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i64, stdout: &str) -> ExecOutput {
        ExecOutput {
            exit_code: code,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn reads_the_image_id_crictl_reports() {
        assert_eq!(
            parse_image_id(&out(0, r#"{"status":{"id":"sha256:ab12","repoTags":[]}}"#)),
            Some("sha256:ab12".into())
        );
        // crictl exits 1 with "no such image" when the node lacks it.
        assert_eq!(parse_image_id(&out(1, "")), None);
        assert_eq!(parse_image_id(&out(0, "not json")), None);
    }

    #[test]
    fn reads_the_snapshotter_of_containerd_1_and_2() {
        assert_eq!(
            parse_snapshotter(&out(
                0,
                r#"{"config":{"containerd":{"snapshotter":"overlayfs"}}}"#
            )),
            Some("overlayfs".into())
        );
        assert_eq!(
            parse_snapshotter(&out(
                0,
                r#"{"config":{"containerd":{"runtimes":{"runc":{"snapshotter":"native"}}}}}"#
            )),
            Some("native".into())
        );
        assert_eq!(parse_snapshotter(&out(0, r#"{"config":{}}"#)), None);
    }
}
