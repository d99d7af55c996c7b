//! The kind `kind.x-k8s.io/v1alpha4` `Cluster` config as it is written: raw serde types that
//! mirror the YAML field for field (unknown fields are rejected), with source spans on the
//! fields that validation errors point at.
//!
//! Serializing a `Cluster` writes the same document back (spans are not written), which is how
//! kindproof hands kind a config whose random host ports it has resolved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";
pub const KIND: &str = "Cluster";

/// A value with its place in the source; built values (defaults, resolved ports) have none.
pub type S<T> = Spanned<T>;

/// Wrap a value that did not come from a file (a default, a resolved port).
pub fn unspanned<T>(value: T) -> S<T> {
    Spanned {
        value,
        referenced: Location::UNKNOWN,
        defined: Location::UNKNOWN,
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub kind: S<String>,
    pub api_version: S<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<Node>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_gates: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_config: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(
        default,
        rename = "kubeadmConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containerd_config_patches: Vec<String>,
    #[serde(
        default,
        rename = "containerdConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub containerd_config_patches_json6902: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<S<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_port_mappings: Vec<PortMapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(
        default,
        rename = "kubeadmConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

/// Ports are read as i64 so that out-of-range values reach validation and get kind's message
/// ("invalid port number: 70000") instead of a bare integer-overflow error.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_address: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<S<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub selinux_relabel: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<S<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_port: Option<S<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_address: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<S<String>>,
    #[serde(
        default,
        rename = "disableDefaultCNI",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_default_cni: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_proxy_mode: Option<S<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchJson6902 {
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub patch: String,
}

/// The transport protocol of a port mapping, after kind's case-insensitive decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// kind decodes the protocol case-insensitively (`udp` is UDP).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            "SCTP" => Some(Self::Sctp),
            _ => None,
        }
    }

    /// As kind and its config write it: `TCP`.
    pub fn upper(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        }
    }

    /// As Docker writes it in port keys: `80/tcp`.
    pub fn lower(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.upper())
    }
}

impl Cluster {
    pub fn networking(&self) -> Networking {
        self.networking.clone().unwrap_or_default()
    }
}
