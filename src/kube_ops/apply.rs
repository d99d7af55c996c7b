//! Writing objects in each way users do, because they really store different things (the TCP
//! and UDP entries of one Service port are the known case):
//! - `client-side`: the real `kubectl apply` (its three-way merge; kube-rs has none), with the
//!   cluster's own kubeconfig; its exit code and output are kept;
//! - `server-side`: server-side apply as field manager `kindproof`, optionally forced;
//! - `replace`: GET, then PUT with the live resourceVersion (as `kubectl replace`);
//! - `create`; patches (`json`, `merge`, `strategic`); `delete` and wait until gone.
//!
//! An API server's refusal is an outcome to assert on (kept whole in [`Written::refused`]), not
//! an error of kindproof; only transport failures and the like are errors.

use std::process::Stdio;
use std::time::Duration;

use tokio::time::Instant;

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

pub use super::client::kubectl_bin;
use super::client::{KUBECTL_ENV, Kube};
use super::error::{ApiStatus, KubeError, RetryPolicy, with_retries};
use super::manifest::{Manifest, describe};

/// The field manager of kindproof's server-side applies.
pub const FIELD_MANAGER: &str = "kindproof";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    ClientSide,
    ServerSide { force: bool },
    Replace,
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Written {
    /// kubectl's exit code for client-side; 0, or 1 when the API server refused, otherwise.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The API server's refusal (the first one; later documents are not sent).
    pub refused: Option<ApiStatus>,
    /// The objects as the API server stored them, in manifest order (read back after kubectl).
    pub stored: Vec<Value>,
}

impl Written {
    fn refusal(mut self, what: &str, status: ApiStatus) -> Self {
        self.exit_code = 1;
        self.stderr.push_str(&format!(
            "Error from server ({}) on {what}: {}\n",
            status.reason, status.message
        ));
        self.refused = Some(status);
        self
    }
}

/// The oldest kubectl kindproof drives for client-side applies.
pub const MIN_KUBECTL: (u32, u32) = (1, 24);

/// kubectl's client version as (major, minor) and its text, from `kubectl version --client -o
/// json`; an error says what to install.
pub fn kubectl_version(bin: &std::path::Path) -> Result<((u32, u32), String), String> {
    let install = format!(
        "client-side applies need kubectl {}.{} or newer: install it (`make kubectl` fetches Debian's into .tools/bin; or `apt-get install kubectl`) or name it with {KUBECTL_ENV}",
        MIN_KUBECTL.0, MIN_KUBECTL.1
    );
    let out = std::process::Command::new(bin)
        .args(["version", "--client", "-o", "json"])
        .output()
        .map_err(|e| {
            format!(
                "failed to run `{} version --client`: {e}; {install}",
                bin.display()
            )
        })?;
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("failed to read the version of {}; {install}", bin.display()))?;
    let text = v
        .pointer("/clientVersion/gitVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let num = |k: &str| {
        v.pointer(&format!("/clientVersion/{k}"))
            .and_then(Value::as_str)
            .and_then(|s| s.trim_end_matches('+').parse::<u32>().ok())
    };
    match (num("major"), num("minor")) {
        (Some(major), Some(minor)) if (major, minor) >= MIN_KUBECTL => Ok(((major, minor), text)),
        (Some(_), Some(_)) => Err(format!("kubectl {text} is too old; {install}")),
        _ => Err(format!(
            "failed to read the version of {}; {install}",
            bin.display()
        )),
    }
}

/// Split an API refusal (an outcome) from a failure of the request itself (an error).
fn refused<T>(r: Result<T, KubeError>) -> Result<Result<T, ApiStatus>, KubeError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(KubeError::Api { status, .. }) => Ok(Err(status)),
        Err(e) => Err(e),
    }
}

fn to_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).expect("an object serializes")
}

/// Write every object of `manifest` in `mode`; objects without a namespace go to `namespace`
/// when their kind is namespaced.
pub async fn apply(
    kube: &Kube,
    manifest: &Manifest,
    mode: ApplyMode,
    namespace: &str,
) -> Result<Written, KubeError> {
    if mode == ApplyMode::ClientSide {
        return client_side(kube, manifest, namespace).await;
    }
    let mut out = Written::default();
    for obj in &manifest.objects {
        let what = describe(obj);
        let name = obj.metadata.name.clone().unwrap_or_default();
        let api = kube.api_for(obj, namespace).await?;
        let result = match mode {
            ApplyMode::ServerSide { force } => {
                let mut params = PatchParams::apply(FIELD_MANAGER);
                if force {
                    params = params.force();
                }
                with_retries(RetryPolicy::default(), false, || {
                    let (api, params, name) = (&api, &params, &name);
                    async move {
                        api.patch(name, params, &Patch::Apply(obj))
                            .await
                            .map_err(KubeError::from_kube("server-side apply", describe(obj)))
                    }
                })
                .await
            }
            ApplyMode::Replace => {
                with_retries(RetryPolicy::default(), true, || {
                    let (api, name) = (&api, &name);
                    async move {
                        let live = api
                            .get(name)
                            .await
                            .map_err(KubeError::from_kube("read for replace", describe(obj)))?;
                        let mut desired = obj.clone();
                        desired.metadata.resource_version = live.metadata.resource_version;
                        api.replace(name, &PostParams::default(), &desired)
                            .await
                            .map_err(KubeError::from_kube("replace", describe(obj)))
                    }
                })
                .await
            }
            ApplyMode::Create => {
                with_retries(RetryPolicy::default(), false, || {
                    let api = &api;
                    async move {
                        api.create(&PostParams::default(), obj)
                            .await
                            .map_err(KubeError::from_kube("create", describe(obj)))
                    }
                })
                .await
            }
            ApplyMode::ClientSide => unreachable!("handled above"),
        };
        match refused(result)? {
            Ok(stored) => {
                out.stdout.push_str(&format!("{what} written\n"));
                out.stored.push(to_value(&stored));
            }
            Err(status) => return Ok(out.refusal(&what, status)),
        }
    }
    Ok(out)
}

/// `kubectl apply -f -` with the cluster's kubeconfig, then read back what the server stored.
async fn client_side(
    kube: &Kube,
    manifest: &Manifest,
    namespace: &str,
) -> Result<Written, KubeError> {
    let bin = &kube.kubectl;
    let mut args: Vec<String> = vec![
        "apply".into(),
        "-f".into(),
        "-".into(),
        "--kubeconfig".into(),
        kube.kubeconfig.display().to_string(),
        "--namespace".into(),
        namespace.to_string(),
    ];
    if let Some(c) = &kube.context {
        args.extend(["--context".into(), c.clone()]);
    }
    let command = format!("{} {}", bin.display(), args.join(" "));
    let spawn_failed = |source| KubeError::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = tokio::process::Command::new(bin)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_failed)?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(manifest.text.as_bytes())
        .await
        .map_err(spawn_failed)?;
    drop(stdin);
    let done = child.wait_with_output().await.map_err(spawn_failed)?;
    let mut out = Written {
        exit_code: done.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
        ..Default::default()
    };
    if out.exit_code == 0 {
        for obj in &manifest.objects {
            let api = kube.api_for(obj, namespace).await?;
            let name = obj.metadata.name.clone().unwrap_or_default();
            let stored = api
                .get(&name)
                .await
                .map_err(KubeError::from_kube("read back", describe(obj)))?;
            out.stored.push(to_value(&stored));
        }
    }
    Ok(out)
}

/// Patch `target` (an object naming apiVersion, kind, name and maybe namespace) with `body`.
pub async fn patch(
    kube: &Kube,
    target: &DynamicObject,
    kind: PatchType,
    body: &Value,
    namespace: &str,
) -> Result<Written, KubeError> {
    let what = describe(target);
    let name = target.metadata.name.clone().unwrap_or_default();
    let api = kube.api_for(target, namespace).await?;
    let patch =
        match kind {
            PatchType::Merge => Patch::Merge(body.clone()),
            PatchType::Strategic => Patch::Strategic(body.clone()),
            PatchType::Json => Patch::Json(serde_json::from_value(body.clone()).map_err(|e| {
                KubeError::Request {
                    operation: "read the JSON patch for",
                    target: what.clone(),
                    detail: e.to_string(),
                }
            })?),
        };
    let result = with_retries(RetryPolicy::default(), false, || {
        let (api, name, patch) = (&api, &name, &patch);
        async move {
            api.patch(name, &PatchParams::default(), patch)
                .await
                .map_err(KubeError::from_kube("patch", describe(target)))
        }
    })
    .await;
    let out = Written::default();
    Ok(match refused(result)? {
        Ok(stored) => Written {
            stdout: format!("{what} patched\n"),
            stored: vec![to_value(&stored)],
            ..out
        },
        Err(status) => out.refusal(&what, status),
    })
}

/// Read an object; `None` when it does not exist.
pub async fn get(
    kube: &Kube,
    target: &DynamicObject,
    namespace: &str,
) -> Result<Option<Value>, KubeError> {
    let api = kube.api_for(target, namespace).await?;
    let name = target.metadata.name.clone().unwrap_or_default();
    let got = with_retries(RetryPolicy::default(), false, || {
        let (api, name) = (&api, &name);
        async move {
            api.get_opt(name)
                .await
                .map_err(KubeError::from_kube("read", describe(target)))
        }
    })
    .await?;
    Ok(got.as_ref().map(to_value))
}

/// Delete every object of `manifest` (in reverse order) and wait until each is gone.
pub async fn delete(
    kube: &Kube,
    manifest: &Manifest,
    namespace: &str,
    wait: Duration,
    poll: Duration,
) -> Result<Written, KubeError> {
    let mut out = Written::default();
    for obj in manifest.objects.iter().rev() {
        let what = describe(obj);
        let api = kube.api_for(obj, namespace).await?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        let result = with_retries(RetryPolicy::default(), false, || {
            let (api, name) = (&api, &name);
            async move {
                api.delete(name, &DeleteParams::background())
                    .await
                    .map_err(KubeError::from_kube("delete", describe(obj)))
            }
        })
        .await;
        if let Err(status) = refused(result)? {
            return Ok(out.refusal(&what, status));
        }
        let deadline = Instant::now() + wait;
        loop {
            let live = get(kube, obj, namespace).await?;
            let Some(live) = live else { break };
            if Instant::now() >= deadline {
                return Err(KubeError::Timeout {
                    what: format!("{what} to be deleted"),
                    waited: wait,
                    last: format!(
                        "still present, deletionTimestamp {}, finalizers {}",
                        live.pointer("/metadata/deletionTimestamp")
                            .unwrap_or(&Value::Null),
                        live.pointer("/metadata/finalizers").unwrap_or(&Value::Null)
                    ),
                });
            }
            tokio::time::sleep(poll).await;
        }
        out.stdout.push_str(&format!("{what} deleted\n"));
    }
    Ok(out)
}
