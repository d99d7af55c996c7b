//! Multi-document YAML manifests, read into JSON values with a located error when one is
//! malformed; every document must name its apiVersion, kind and name.

use std::path::Path;

use kube::api::DynamicObject;
use serde_json::Value;

use crate::yaml::{LocatedError, Position};

/// A problem with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Yaml(#[from] LocatedError),
    #[error("{file}: document {document}: {message}")]
    Document {
        file: String,
        /// 1-based, counting non-empty documents.
        document: usize,
        message: String,
    },
}

/// A manifest file: its text (what kubectl is given) and its objects (what kube-rs sends).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub file: std::path::PathBuf,
    pub text: String,
    pub objects: Vec<DynamicObject>,
}

impl Manifest {
    pub fn from_text(file: &Path, text: &str) -> Result<Self, ManifestError> {
        Ok(Self {
            file: file.to_path_buf(),
            text: text.to_string(),
            objects: parse(file, text)?,
        })
    }

    pub fn read(file: &Path) -> Result<Self, ManifestError> {
        let text = crate::input::read_text(file).map_err(|e| ManifestError::Document {
            file: file.display().to_string(),
            document: 0,
            message: e.to_string(),
        })?;
        Self::from_text(file, &text)
    }
}

/// Parse every non-empty document of `text` (read from `file`).
pub fn parse(file: &Path, text: &str) -> Result<Vec<DynamicObject>, ManifestError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let position = e
            .location()
            .map(|l| Position::new(file, l))
            .unwrap_or_else(|| Position::file_start(file));
        LocatedError::new(position, "", e.without_snippet().to_string())
    })?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .enumerate()
        .map(|(i, doc)| {
            let bad = |message: String| ManifestError::Document {
                file: file.display().to_string(),
                document: i + 1,
                message,
            };
            for field in ["apiVersion", "kind"] {
                if !doc.get(field).is_some_and(Value::is_string) {
                    return Err(bad(format!("{field}: required")));
                }
            }
            if doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_none()
            {
                return Err(bad("metadata.name: required".into()));
            }
            serde_json::from_value(doc).map_err(|e| bad(e.to_string()))
        })
        .collect()
}

/// An object named by apiVersion, kind, name (and namespace, else the caller's): what reads,
/// patches and deletes of a single object are given.
pub fn object_ref(
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: Option<String>,
) -> DynamicObject {
    DynamicObject {
        types: Some(kube::api::TypeMeta {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        }),
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            namespace,
            ..Default::default()
        },
        data: Value::Null,
    }
}

/// `kind/name` (`service/dns`), as kubectl names objects.
pub fn describe(obj: &DynamicObject) -> String {
    let kind = obj
        .types
        .as_ref()
        .map(|t| t.kind.to_ascii_lowercase())
        .unwrap_or_else(|| "object".into());
    format!("{kind}/{}", obj.metadata.name.as_deref().unwrap_or("?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_document_and_skips_empty_ones() {
        let text = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: dns\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: x\n";
        let objs = parse(Path::new("m.yaml"), text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(describe(&objs[0]), "service/dns");
        assert_eq!(objs[1].metadata.namespace.as_deref(), Some("x"));
        assert_eq!(objs[1].types.as_ref().unwrap().api_version, "apps/v1");
    }

    #[test]
    fn a_malformed_or_incomplete_document_is_named() {
        let e = parse(Path::new("m.yaml"), "kind: [\n").unwrap_err();
        assert!(e.to_string().starts_with("m.yaml:"), "{e}");
        let e = parse(
            Path::new("m.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\nkind: Service\nmetadata:\n  name: b\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "m.yaml: document 2: apiVersion: required");
        let e = parse(
            Path::new("m.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {}\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "m.yaml: document 1: metadata.name: required");
    }
}
