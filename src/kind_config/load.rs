//! Loading a kind config as kind does: sniff `apiVersion`/`kind` first, then decode strictly
//! (unknown fields are errors), then the decode-time checks kind makes (protocol and mount
//! propagation names). Defaults and validation are separate passes (`defaults`, `validate`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::{API_VERSION, Cluster, KIND, Protocol, S};
use crate::yaml::{self, LocatedError, Position};

/// Failed to load a kind config file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Read(#[from] crate::input::ReadError),
    #[error("{0}")]
    Invalid(#[from] LocatedError),
}

/// A kind config as loaded from a file, with the text it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub cluster: Cluster,
}

#[derive(Deserialize)]
struct TypeMeta {
    #[serde(default)]
    kind: Option<S<String>>,
    #[serde(default, rename = "apiVersion")]
    api_version: Option<S<String>>,
}

pub fn load_file(path: &Path) -> Result<LoadedConfig, LoadError> {
    let text = crate::input::read_text(path)?;
    let cluster = load_str(path, &text)?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        cluster,
    })
}

/// Decode `text` (named `path` in errors) into a [`Cluster`].
pub fn load_str(path: &Path, text: &str) -> Result<Cluster, LocatedError> {
    if text.trim().is_empty() {
        return Err(LocatedError::new(
            Position::file_start(path),
            "",
            format!("empty kind config: expected apiVersion: {API_VERSION} and kind: {KIND}"),
        ));
    }
    let meta: TypeMeta = yaml::from_str(path, text)?;
    match &meta.api_version {
        None => {
            return Err(LocatedError::new(
                Position::file_start(path),
                "apiVersion",
                format!("missing apiVersion: expected {API_VERSION}"),
            ));
        }
        Some(v) if v.value != API_VERSION => {
            return Err(LocatedError::new(
                Position::of(path, v),
                "apiVersion",
                format!("unknown apiVersion: {}", v.value),
            ));
        }
        Some(_) => {}
    }
    match &meta.kind {
        None => {
            return Err(LocatedError::new(
                Position::file_start(path),
                "kind",
                format!("missing kind: expected {KIND}"),
            ));
        }
        Some(k) if k.value != KIND => {
            return Err(LocatedError::new(
                Position::of(path, k),
                "kind",
                format!(
                    "unknown kind {:?} for apiVersion {API_VERSION}: expected {KIND}",
                    k.value
                ),
            ));
        }
        Some(_) => {}
    }
    let cluster: Cluster = yaml::from_str(path, text)?;
    decode_checks(path, &cluster)?;
    Ok(cluster)
}

/// kind rejects these while decoding, before validation: the message is kind's.
fn decode_checks(path: &Path, cluster: &Cluster) -> Result<(), LocatedError> {
    for (n, node) in cluster.nodes.iter().enumerate() {
        for (m, pm) in node.extra_port_mappings.iter().enumerate() {
            if let Some(p) = &pm.protocol
                && Protocol::parse(&p.value).is_none()
            {
                return Err(LocatedError::new(
                    Position::of(path, p),
                    format!("nodes[{n}].extraPortMappings[{m}].protocol"),
                    format!(
                        "Unknown PortMappingProtocol: {:?} (expected TCP, UDP or SCTP)",
                        p.value
                    ),
                ));
            }
        }
        for (m, mount) in node.extra_mounts.iter().enumerate() {
            if let Some(p) = &mount.propagation
                && !matches!(
                    p.value.as_str(),
                    "None" | "HostToContainer" | "Bidirectional"
                )
            {
                return Err(LocatedError::new(
                    Position::of(path, p),
                    format!("nodes[{n}].extraMounts[{m}].propagation"),
                    format!(
                        "Unknown MountPropagation: {:?} (expected None, HostToContainer or Bidirectional)",
                        p.value
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Cluster, LocatedError> {
        load_str(Path::new("c.yaml"), text)
    }

    const HEAD: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";

    #[test]
    fn minimal_config_loads() {
        let c = load(HEAD).unwrap();
        assert!(c.nodes.is_empty());
    }

    #[test]
    fn unknown_api_version_names_the_field() {
        let err = load("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha9\n").unwrap_err();
        assert_eq!(err.field, "apiVersion");
        assert_eq!(err.position.line, 2);
        assert_eq!(err.message, "unknown apiVersion: kind.x-k8s.io/v1alpha9");
    }

    #[test]
    fn wrong_kind_is_rejected_before_fields() {
        let err = load("kind: Pod\napiVersion: kind.x-k8s.io/v1alpha4\nbogus: 1\n").unwrap_err();
        assert_eq!(err.field, "kind");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = load(&format!(
            "{HEAD}nodes:\n- role: control-plane\n  bogus: 1\n"
        ))
        .unwrap_err();
        assert_eq!(err.field, "nodes[0].bogus");
        assert_eq!(err.position.line, 5);
    }

    #[test]
    fn protocol_is_case_insensitive_but_must_be_known() {
        let ok = format!(
            "{HEAD}nodes:\n- extraPortMappings:\n  - containerPort: 53\n    protocol: udp\n"
        );
        load(&ok).unwrap();
        let bad = ok.replace("udp", "XYZ");
        let err = load(&bad).unwrap_err();
        assert_eq!(err.field, "nodes[0].extraPortMappings[0].protocol");
        assert!(
            err.message
                .starts_with("Unknown PortMappingProtocol: \"XYZ\"")
        );
    }

    #[test]
    fn round_trips_through_serialization() {
        let text = format!(
            "{HEAD}name: x\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 0\n    listenAddress: 127.0.0.1\n  kubeadmConfigPatches:\n  - |\n    kind: InitConfiguration\nfeatureGates:\n  Foo: true\n"
        );
        let c = load(&text).unwrap();
        let written = serde_saphyr::to_string(&c).unwrap();
        let again = load(&written).unwrap();
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
    }
}
