//! Creating a container that publishes a node's resolved ports, as kind does for a node:
//! hand the picked ports to Docker, re-pick and retry when Docker says a port is taken, then
//! read every port back (so `-1` mappings become known), and read them again after a restart.

use super::api::{ContainerInfo, ContainerSpec, Engine, Publish};
use super::error::DockerError;
use crate::ports::inspect::host_port_for;
use crate::ports::plan::How;
use crate::ports::resolve::{PortError, PortPicker, Resolution, ResolvedMapping, Resolver};

/// How many times a container is created before port conflicts are given up on.
pub const DEFAULT_ATTEMPTS: usize = 5;

/// Failed to create a container publishing its ports.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error(
        "failed to publish container {container}: host port {port} is fixed in the config and already taken on this host: {source}"
    )]
    FixedPortTaken {
        container: String,
        port: u16,
        #[source]
        source: DockerError,
    },
    #[error(
        "failed to publish container {container}: Docker reported a port conflict on each of {attempts} attempts; last: {source}"
    )]
    Conflicts {
        container: String,
        attempts: usize,
        #[source]
        source: DockerError,
    },
    #[error(
        "failed to read back {container_port}/{protocol} of container {container}: Docker does not publish it on {address}"
    )]
    Missing {
        container: String,
        container_port: u16,
        protocol: String,
        address: String,
    },
    #[error(
        "container {container} publishes {container_port}/{protocol} on host port {actual}, but kindproof resolved it to {expected}"
    )]
    Moved {
        container: String,
        container_port: u16,
        protocol: String,
        expected: u16,
        actual: u16,
    },
}

/// The ports of node `node` in `resolution`, as Docker publish requests.
pub fn publish_requests(resolution: &Resolution, node: usize) -> Vec<Publish> {
    resolution
        .mappings
        .iter()
        .filter(|m| m.planned.node == node)
        .map(|m| Publish {
            container_port: m.planned.container_port,
            protocol: m.planned.protocol,
            host_ip: m.planned.listen_address,
            host_port: match m.planned.how {
                How::Runtime => None,
                How::Fixed | How::Picked => m.host_port,
            },
        })
        .collect()
}

/// Create and start a container for node `node` of `resolution`, publishing its ports.
///
/// The held sockets are closed just before each create (Docker must bind the ports); the
/// cross-process reservations stay in `resolution` until the caller drops it, after the
/// container owns the ports. On a port conflict the failed container is removed, the
/// conflicting picked port is re-picked (all picked ports when Docker does not say which), and
/// the create is tried again, up to `attempts` times.
pub async fn create_publishing<E: Engine, P: PortPicker>(
    engine: &E,
    resolver: &mut Resolver<P>,
    resolution: &mut Resolution,
    node: usize,
    spec: &ContainerSpec,
    attempts: usize,
) -> Result<ContainerInfo, PublishError> {
    let mut last_conflict = None;
    for _ in 0..attempts.max(1) {
        resolution.release_sockets();
        let mut spec = spec.clone();
        spec.publish = publish_requests(resolution, node);
        let id = engine.create_container(&spec).await?;
        let started = engine.start_container(&id).await;
        let err = match started {
            Ok(()) => {
                let info = match read_back(engine, &id, resolution, node, &spec.name).await {
                    Ok(info) => info,
                    Err(e) => {
                        let _ = engine.remove_container(&id).await;
                        return Err(e);
                    }
                };
                return Ok(info);
            }
            Err(e) => e,
        };
        // The container exists but never ran: remove it before anything else.
        engine.remove_container(&id).await?;
        let Some(conflict) = err.port_conflict() else {
            return Err(err.into());
        };
        let ours: Vec<usize> = resolution
            .mappings
            .iter()
            .enumerate()
            .filter(|(_, m)| m.planned.node == node)
            .filter(|(_, m)| conflict.port.is_none() || m.host_port == conflict.port)
            .map(|(i, _)| i)
            .collect();
        if let Some(port) = conflict.port
            && ours
                .iter()
                .any(|&i| resolution.mappings[i].planned.how == How::Fixed)
        {
            return Err(PublishError::FixedPortTaken {
                container: spec.name.clone(),
                port,
                source: err,
            });
        }
        for i in ours {
            if resolution.mappings[i].planned.how == How::Picked {
                let old = resolution.mappings[i].host_port;
                let new = resolver.repick(resolution, i)?;
                tracing::info!(
                    container = %spec.name,
                    ?old,
                    new,
                    "host port taken by someone else; picked another"
                );
            }
        }
        last_conflict = Some(err);
    }
    Err(PublishError::Conflicts {
        container: spec.name.clone(),
        attempts,
        source: last_conflict.expect("at least one attempt ran"),
    })
}

/// Inspect the container and record the host port of each of its mappings: runtime ports are
/// learnt, fixed and picked ports are checked.
pub async fn read_back<E: Engine>(
    engine: &E,
    id: &str,
    resolution: &mut Resolution,
    node: usize,
    name: &str,
) -> Result<ContainerInfo, PublishError> {
    let info = engine.inspect_container(id).await?;
    for m in resolution
        .mappings
        .iter_mut()
        .filter(|m| m.planned.node == node)
    {
        record(m, &info, name)?;
    }
    Ok(info)
}

fn record(m: &mut ResolvedMapping, info: &ContainerInfo, name: &str) -> Result<(), PublishError> {
    let p = &m.planned;
    let actual = host_port_for(
        &info.published,
        p.container_port,
        p.protocol,
        p.listen_address,
    )
    .ok_or_else(|| PublishError::Missing {
        container: name.to_string(),
        container_port: p.container_port,
        protocol: p.protocol.lower().to_string(),
        address: p.listen_address.to_string(),
    })?;
    match (p.how, m.host_port) {
        (How::Runtime, _) => m.host_port = Some(actual),
        (_, Some(expected)) if expected != actual => {
            return Err(PublishError::Moved {
                container: name.to_string(),
                container_port: p.container_port,
                protocol: p.protocol.lower().to_string(),
                expected,
                actual,
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::api::{EngineVersion, ExecOutput, ImageInfo, NetworkInfo, NetworkSpec};
    use crate::kind_config::load::load_str;
    use crate::kind_config::model::Protocol;
    use crate::kind_config::version::KindVersion;
    use crate::ports::inspect::Published;
    use crate::ports::plan::plan;
    use crate::ports::reserve::ReservationDir;
    use bytes::Bytes;
    use std::collections::{BTreeMap, HashMap};
    use std::path::Path;
    use std::sync::Mutex;

    /// An engine whose `start` fails with a port conflict on the first `conflicts` calls and
    /// whose inspect reports exactly what was asked for (Docker picks 50000+ for runtime ports).
    #[derive(Default)]
    struct FakeEngine {
        conflicts: Mutex<Vec<String>>,
        specs: Mutex<Vec<ContainerSpec>>,
        removed: Mutex<Vec<String>>,
    }

    fn conflict(message: &str) -> DockerError {
        DockerError::Operation {
            operation: "start container",
            target: "x".into(),
            source: Box::new(bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: message.into(),
            }),
        }
    }

    impl Engine for FakeEngine {
        async fn version(&self) -> Result<EngineVersion, DockerError> {
            unimplemented!("not used")
        }
        async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
            let mut specs = self.specs.lock().unwrap();
            specs.push(spec.clone());
            Ok(format!("id{}", specs.len()))
        }
        async fn start_container(&self, _id: &str) -> Result<(), DockerError> {
            let mut c = self.conflicts.lock().unwrap();
            if c.is_empty() {
                Ok(())
            } else {
                Err(conflict(&c.remove(0)))
            }
        }
        async fn restart_container(&self, _: &str, _: i32) -> Result<(), DockerError> {
            Ok(())
        }
        async fn pause_container(&self, _: &str) -> Result<(), DockerError> {
            unimplemented!("not used")
        }
        async fn unpause_container(&self, _: &str) -> Result<(), DockerError> {
            unimplemented!("not used")
        }
        async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, DockerError> {
            let spec = self.specs.lock().unwrap().last().cloned().unwrap();
            let published = spec
                .publish
                .iter()
                .enumerate()
                .map(|(i, p)| Published {
                    container_port: p.container_port,
                    protocol: p.protocol,
                    host_ip: p.host_ip.to_string(),
                    host_port: p.host_port.unwrap_or(50000 + i as u16),
                })
                .collect();
            Ok(ContainerInfo {
                id: id.into(),
                name: spec.name,
                running: true,
                paused: false,
                labels: HashMap::new(),
                published,
                addresses: BTreeMap::new(),
                created: None,
            })
        }
        async fn wait_container(&self, _: &str) -> Result<i64, DockerError> {
            Ok(0)
        }
        async fn logs(&self, _: &str) -> Result<(String, String), DockerError> {
            Ok((String::new(), String::new()))
        }
        async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
            self.removed.lock().unwrap().push(id.into());
            Ok(())
        }
        async fn list_containers(&self, _: &str) -> Result<Vec<ContainerInfo>, DockerError> {
            Ok(vec![])
        }
        async fn create_network(&self, _: &NetworkSpec) -> Result<String, DockerError> {
            unimplemented!("not used")
        }
        async fn networks_named(&self, _: &str) -> Result<Vec<NetworkInfo>, DockerError> {
            unimplemented!("not used")
        }
        async fn remove_network(&self, _: &str) -> Result<(), DockerError> {
            Ok(())
        }
        async fn list_networks(&self, _: &str) -> Result<Vec<NetworkInfo>, DockerError> {
            Ok(vec![])
        }
        async fn inspect_image(&self, _: &str) -> Result<Option<ImageInfo>, DockerError> {
            Ok(None)
        }
        async fn image_tags(&self, _: &str) -> Result<Vec<String>, DockerError> {
            unimplemented!("not used")
        }
        async fn save_image(&self, _: &str) -> Result<Bytes, DockerError> {
            unimplemented!("not used")
        }
        async fn exec(
            &self,
            _: &str,
            _: &[String],
            _: Option<Bytes>,
        ) -> Result<ExecOutput, DockerError> {
            unimplemented!("not used")
        }
        async fn build_image(&self, _: Bytes, _: &str) -> Result<(), DockerError> {
            Ok(())
        }
        async fn import_image(
            &self,
            _: Bytes,
            _: &str,
            _: &str,
            _: &[String],
        ) -> Result<(), DockerError> {
            Ok(())
        }
    }

    const BODY: &str = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n  - containerPort: 443\n    hostPort: -1\n    listenAddress: 127.0.0.1\n  - containerPort: 53\n    protocol: UDP\n    listenAddress: 127.0.0.1\n";

    fn setup(tmp: &tempfile::TempDir, body: &str) -> (Resolver, Resolution) {
        let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
        let c = load_str(Path::new("c.yaml"), &text).unwrap();
        let p = plan(&c, KindVersion::NEWEST_KNOWN.rules());
        let mut r = Resolver::new(ReservationDir::at(tmp.path().join("p")).unwrap());
        let res = r.resolve(&p).unwrap();
        (r, res)
    }

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "kp-test-control-plane".into(),
            image: "img:1".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn conflict_on_a_picked_port_repicks_only_that_port() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut r, mut res) = setup(&tmp, BODY);
        let first_80 = res.mappings[0].host_port.unwrap();
        let first_53 = res.mappings[2].host_port.unwrap();
        let engine = FakeEngine::default();
        engine.conflicts.lock().unwrap().push(format!(
            "driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:{first_80} failed: port is already allocated"
        ));
        let info = create_publishing(&engine, &mut r, &mut res, 0, &spec(), 5)
            .await
            .unwrap();
        assert_eq!(info.id, "id2");
        assert_eq!(*engine.removed.lock().unwrap(), ["id1"]);
        assert_ne!(res.mappings[0].host_port, Some(first_80));
        assert_eq!(res.mappings[2].host_port, Some(first_53));
        // The runtime port was learnt from the inspect.
        assert_eq!(res.mappings[1].host_port, Some(50001));
        let specs = engine.specs.lock().unwrap();
        assert_eq!(
            specs[1].publish[1].host_port, None,
            "-1 stays Docker's choice"
        );
        assert_eq!(specs[1].publish[2].protocol, Protocol::Udp);
    }

    #[tokio::test]
    async fn a_taken_fixed_port_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut r, mut res) = setup(
            &tmp,
            "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 18080\n",
        );
        let engine = FakeEngine::default();
        engine.conflicts.lock().unwrap().push(
            "Error starting userland proxy: listen tcp4 0.0.0.0:18080: bind: address already in use"
                .into(),
        );
        let err = create_publishing(&engine, &mut r, &mut res, 0, &spec(), 5)
            .await
            .unwrap_err();
        assert!(
            matches!(err, PublishError::FixedPortTaken { port: 18080, .. }),
            "{err}"
        );
        assert_eq!(engine.removed.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_and_says_how_many() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut r, mut res) = setup(&tmp, BODY);
        let engine = FakeEngine::default();
        for _ in 0..3 {
            engine
                .conflicts
                .lock()
                .unwrap()
                .push("address already in use".into());
        }
        let err = create_publishing(&engine, &mut r, &mut res, 0, &spec(), 3)
            .await
            .unwrap_err();
        assert!(
            matches!(err, PublishError::Conflicts { attempts: 3, .. }),
            "{err}"
        );
        assert_eq!(engine.removed.lock().unwrap().len(), 3);
    }
}
