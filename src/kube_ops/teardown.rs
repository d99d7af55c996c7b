//! Teardown that costs nothing: the objects that hold cluster-wide numbers (nodePorts,
//! hostPorts) are deleted with a grace period of 0 and waited for — only they, and only until
//! they are gone — while the namespace goes in the background and is checked once at the end.
//! A pod that ignores SIGTERM then costs nothing, instead of its whole grace period.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};

use super::client::Kube;
use super::error::KubeError;
use super::manifest::describe;

fn now() -> DeleteParams {
    DeleteParams {
        grace_period_seconds: Some(0),
        propagation_policy: Some(kube::api::PropagationPolicy::Background),
        ..Default::default()
    }
}

/// Delete `objects` (and, with `pods`, every pod of `namespace`) at once, and wait at most
/// `timeout` until they are gone.
pub async fn release_now(
    kube: &Kube,
    objects: &[DynamicObject],
    namespace: &str,
    pods: bool,
    timeout: Duration,
) -> Result<(), KubeError> {
    let mut apis = Vec::new();
    for obj in objects {
        let api = kube.api_for(obj, namespace).await?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &now()).await {
            Ok(_) => apis.push((api, name, describe(obj))),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(KubeError::from_kube("delete", describe(obj))(e)),
        }
    }
    let pod_api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    if pods {
        pod_api
            .delete_collection(&now(), &ListParams::default())
            .await
            .map_err(KubeError::from_kube("delete the pods of", namespace))?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut left = Vec::new();
        for (api, name, what) in &apis {
            let live: Option<DynamicObject> = api
                .get_opt(name)
                .await
                .map_err(KubeError::from_kube("read", what.clone()))?;
            if live.is_some() {
                left.push(what.clone());
            }
        }
        if pods {
            let n = pod_api
                .list(&ListParams::default())
                .await
                .map_err(KubeError::from_kube("list the pods of", namespace))?
                .items
                .len();
            if n > 0 {
                left.push(format!("{n} pod(s)"));
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(KubeError::Timeout {
                what: "the objects holding cluster-wide ports to be deleted".into(),
                waited: timeout,
                last: format!("still there: {}", left.join(", ")),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ask for `name` to go, without waiting for it.
pub async fn delete_namespace_background(kube: &Kube, name: &str) -> Result<(), KubeError> {
    let api: Api<Namespace> = Api::all(kube.client.clone());
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(KubeError::from_kube("delete namespace", name)(e)),
    }
}

/// Wait at most `timeout` for `names` to be gone; the ones still there.
pub async fn namespaces_left(kube: &Kube, names: &[String], timeout: Duration) -> Vec<String> {
    let api: Api<Namespace> = Api::all(kube.client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut left = Vec::new();
        for n in names {
            // A namespace that cannot be read counts as still there.
            if !matches!(api.get_opt(n).await, Ok(None)) {
                left.push(n.clone());
            }
        }
        if left.is_empty() || tokio::time::Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
