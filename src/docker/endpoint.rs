//! Which Docker engine to talk to, decided as the docker CLI (and so kind, which runs it)
//! decides: `DOCKER_HOST`, else the context `DOCKER_CONTEXT` or the config's `currentContext`
//! names, else the local socket. kindproof and kind must never talk to two different engines.

use std::path::{Path, PathBuf};

/// The local engine's socket, where nothing else is named.
pub const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// An engine address kindproof can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The local socket (`/var/run/docker.sock`).
    Local,
    /// `unix:///path/to/docker.sock`.
    Unix(String),
    /// `tcp://host:port` or `http://host:port`, plain HTTP.
    Tcp(String),
}

/// An engine address kindproof cannot use: it says so rather than silently using another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "{source_name} names the Docker engine {host:?}, which kindproof cannot reach: {why}\n  hint: point DOCKER_HOST at a unix:// socket or a plain tcp:// address, or unset it"
    )]
    Unsupported {
        source_name: String,
        host: String,
        why: String,
    },
    #[error(
        "the Docker context {name:?} (from {source_name}) is not defined in {dir}\n  hint: `docker context ls` lists them; unset DOCKER_CONTEXT to use the default engine"
    )]
    UnknownContext {
        name: String,
        source_name: String,
        dir: String,
    },
}

impl Endpoint {
    /// The address to connect to.
    pub fn address(&self) -> &str {
        match self {
            Self::Local => LOCAL_SOCKET,
            Self::Unix(h) | Self::Tcp(h) => h,
        }
    }
}

/// The endpoint the environment names. `env` reads an environment variable; `config_dir` is
/// the docker CLI's configuration directory (`$DOCKER_CONFIG`, else `~/.docker`).
pub fn resolve(
    env: impl Fn(&str) -> Option<String>,
    config_dir: Option<&Path>,
) -> Result<Endpoint, EndpointError> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        return parse(&host, "DOCKER_HOST", set("DOCKER_TLS_VERIFY").is_some());
    }
    let (context, source_name) = match set("DOCKER_CONTEXT") {
        Some(c) => (Some(c), "DOCKER_CONTEXT".to_string()),
        None => (
            config_dir.and_then(current_context),
            config_dir
                .map(|d| d.join("config.json").display().to_string())
                .unwrap_or_default(),
        ),
    };
    match context {
        None => Ok(Endpoint::Local),
        Some(c) if c == "default" => Ok(Endpoint::Local),
        Some(name) => {
            let dir = config_dir
                .map(|d| d.join("contexts/meta"))
                .unwrap_or_default();
            let Some((host, tls)) = context_host(&dir, &name) else {
                return Err(EndpointError::UnknownContext {
                    name,
                    source_name,
                    dir: dir.display().to_string(),
                });
            };
            parse(&host, &format!("Docker context {name:?}"), tls)
        }
    }
}

/// The docker CLI's configuration directory.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
}

fn parse(host: &str, source_name: &str, tls: bool) -> Result<Endpoint, EndpointError> {
    let unsupported = |why: &str| EndpointError::Unsupported {
        source_name: source_name.to_string(),
        host: host.to_string(),
        why: why.to_string(),
    };
    if host.starts_with("unix://") {
        Ok(Endpoint::Unix(host.to_string()))
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        if tls {
            Err(unsupported(
                "DOCKER_TLS_VERIFY asks for TLS, which this build does not speak",
            ))
        } else {
            Ok(Endpoint::Tcp(host.to_string()))
        }
    } else if host.starts_with("ssh://") {
        Err(unsupported("ssh:// engines are not supported"))
    } else if host.starts_with("https://") {
        Err(unsupported("TLS (https://) is not supported by this build"))
    } else {
        Err(unsupported("not a unix://, tcp:// or http:// address"))
    }
}

/// `currentContext` of `config.json`, if set.
fn current_context(dir: &Path) -> Option<String> {
    let text = crate::input::read_text(&dir.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("currentContext")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The docker endpoint of context `name` (and whether it asks for TLS): contexts live in
/// `meta/<sha256 of the name>/meta.json`, as the docker CLI stores them.
fn context_host(meta: &Path, name: &str) -> Option<(String, bool)> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let text = crate::input::read_text(&meta.join(&hex).join("meta.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let docker = v.get("Endpoints")?.get("docker")?;
    let host = docker.get("Host")?.as_str()?.to_string();
    let skip = docker
        .get("SkipTLSVerify")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    // TLS material of a context lives in `contexts/tls/<sha256 of the name>/`.
    let tls = !skip
        && host.starts_with("tcp://")
        && meta
            .parent()
            .is_some_and(|c| c.join("tls").join(&hex).exists());
    Some((host, tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn docker_host_wins_and_unusable_schemes_are_refused() {
        assert_eq!(resolve(env(&[]), None), Ok(Endpoint::Local));
        assert_eq!(
            resolve(env(&[("DOCKER_HOST", "unix:///run/x.sock")]), None),
            Ok(Endpoint::Unix("unix:///run/x.sock".into()))
        );
        assert_eq!(
            resolve(env(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")]), None),
            Ok(Endpoint::Tcp("tcp://127.0.0.1:2375".into()))
        );
        for bad in ["ssh://me@host", "https://127.0.0.1:2376", "127.0.0.1:2375"] {
            let e = resolve(env(&[("DOCKER_HOST", bad)]), None).unwrap_err();
            assert!(e.to_string().contains("DOCKER_HOST names"), "{e}");
        }
        let e = resolve(
            env(&[
                ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
            ]),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("TLS"), "{e}");
    }

    #[test]
    fn contexts_are_read_as_the_docker_cli_stores_them() {
        use sha2::Digest as _;
        let d = tempfile::tempdir().unwrap();
        let hex: String = sha2::Sha256::digest(b"remote")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let meta = d.path().join("contexts/meta").join(hex);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"unix:///run/remote.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        assert_eq!(
            resolve(env(&[("DOCKER_CONTEXT", "remote")]), Some(d.path())),
            Ok(Endpoint::Unix("unix:///run/remote.sock".into()))
        );
        std::fs::write(
            d.path().join("config.json"),
            r#"{"currentContext":"remote"}"#,
        )
        .unwrap();
        assert_eq!(
            resolve(env(&[]), Some(d.path())),
            Ok(Endpoint::Unix("unix:///run/remote.sock".into()))
        );
        assert_eq!(
            resolve(env(&[("DOCKER_CONTEXT", "default")]), Some(d.path())),
            Ok(Endpoint::Local)
        );
        let e = resolve(env(&[("DOCKER_CONTEXT", "missing")]), Some(d.path())).unwrap_err();
        assert!(matches!(e, EndpointError::UnknownContext { .. }), "{e}");
    }
}
