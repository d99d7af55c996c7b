//! A kube-rs client for one cluster, built from that cluster's own kubeconfig file (never
//! `~/.kube/config` implicitly), with API discovery of any kind a manifest names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};

use super::error::KubeError;

/// The cluster a client talks to, and how kubectl reaches the same one.
#[derive(Clone)]
pub struct Kube {
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    /// The kubectl that client-side applies run (`$KINDPROOF_KUBECTL`, else `kubectl`).
    pub kubectl: PathBuf,
    resources: std::sync::Arc<Mutex<HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>>>,
}

impl Kube {
    /// A client from `kubeconfig` (and `context`, else its current context).
    pub async fn connect(kubeconfig: &Path, context: Option<&str>) -> Result<Self, KubeError> {
        let bad = |detail: String| KubeError::Kubeconfig {
            path: kubeconfig.to_path_buf(),
            detail,
        };
        let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| bad(e.to_string()))?;
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| bad(e.to_string()))?;
        let client = kube::Client::try_from(config).map_err(|e| bad(e.to_string()))?;
        Ok(Self::from_client(client, kubeconfig, context))
    }

    /// Wrap an existing client (tests use a mock service).
    pub fn from_client(client: kube::Client, kubeconfig: &Path, context: Option<&str>) -> Self {
        Self {
            client,
            kubeconfig: kubeconfig.to_path_buf(),
            context: context.map(str::to_string),
            kubectl: kubectl_bin(),
            resources: Default::default(),
        }
    }

    /// The API resource of `api_version`/`kind`, discovered once per client.
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), KubeError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(found) = self.resources.lock().expect("not poisoned").get(&gvk) {
            return Ok(found.clone());
        }
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(KubeError::from_kube(
                "discover",
                format!("{api_version} {kind}"),
            ))?;
        self.resources
            .lock()
            .expect("not poisoned")
            .insert(gvk, found.clone());
        Ok(found)
    }

    /// The API for objects like `obj`, in `obj`'s namespace, else `namespace` when namespaced.
    pub async fn api_for(
        &self,
        obj: &DynamicObject,
        namespace: &str,
    ) -> Result<Api<DynamicObject>, KubeError> {
        let types = obj.types.as_ref().ok_or_else(|| KubeError::Request {
            operation: "resolve the kind of",
            target: obj.metadata.name.clone().unwrap_or_default(),
            detail: "no apiVersion/kind".into(),
        })?;
        let (ar, caps) = self.resource(&types.api_version, &types.kind).await?;
        Ok(match caps.scope {
            Scope::Cluster => Api::all_with(self.client.clone(), &ar),
            Scope::Namespaced => Api::namespaced_with(
                self.client.clone(),
                obj.metadata.namespace.as_deref().unwrap_or(namespace),
                &ar,
            ),
        })
    }
}

/// Names the kubectl binary (default: `kubectl` on PATH).
pub const KUBECTL_ENV: &str = "KINDPROOF_KUBECTL";

/// The kubectl that client-side applies run: `$KINDPROOF_KUBECTL`, else `kubectl` on PATH.
pub fn kubectl_bin() -> PathBuf {
    std::env::var_os(KUBECTL_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}
