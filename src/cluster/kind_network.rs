//! The shared Docker network kind puts every node on. Parallel `kind create cluster` runs race
//! to create it and can leave two networks with the same name ("network kind is ambiguous",
//! kind#1596), so kindproof makes sure it exists once, behind a host-wide lock, before any
//! create — with the options kind itself would use, so kind finds it and uses it as it is.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use crate::docker::api::{Engine, NetworkSpec};
use crate::docker::error::DockerError;

/// kind's variable naming the network (default `kind`).
pub const NETWORK_ENV: &str = "KIND_EXPERIMENTAL_DOCKER_NETWORK";
const DEFAULT_NETWORK: &str = "kind";
const MTU_OPTION: &str = "com.docker.network.driver.mtu";
const MASQUERADE_OPTION: &str = "com.docker.network.bridge.enable_ip_masquerade";
/// kind's bound on subnet probing.
const ATTEMPTS: i32 = 5;

/// Failed to make sure the kind network exists.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "failed to lock {path} (serialising the creation of Docker network {network}): {source}"
    )]
    Lock {
        network: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to lock {path} within {waited:?}: another process holds it while creating Docker network {network}"
    )]
    LockTimeout {
        network: String,
        path: String,
        waited: Duration,
    },
    #[error(
        "failed to create Docker network {network}: every IPv6 subnet kind would try overlaps another network"
    )]
    NoSubnet { network: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// The network kind will use: `$KIND_EXPERIMENTAL_DOCKER_NETWORK`, else `kind`.
pub fn network_name() -> String {
    std::env::var(NETWORK_ENV)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_NETWORK.to_string())
}

/// kind's IPv6 subnet for network `name` on probing attempt `attempt`: `fc00::/8` with bytes
/// 2..8 from SHA-1 of the name followed by the attempt as a little-endian int32, prefix /64.
pub fn ula_subnet(name: &str, attempt: i32) -> String {
    let mut h = Sha1::new();
    h.update(name.as_bytes());
    h.update(attempt.to_le_bytes());
    let d = h.finalize();
    let group = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
    // Shortest form, as Go's net.IPNet prints it (the low 64 bits are zero).
    let ip = std::net::Ipv6Addr::new(0xfc00, group(2), group(4), group(6), 0, 0, 0, 0);
    format!("{ip}/64")
}

/// What [`ensure_network`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    Existed,
    Created { ipv6_subnet: Option<String> },
}

/// Make sure exactly one network `name` exists, creating it as kind would when it is missing.
/// Holds `<lock_dir>/network-<name>.lock` while it looks and creates.
pub async fn ensure_network<E: Engine>(
    engine: &E,
    name: &str,
    lock_dir: &Path,
    lock_wait: Duration,
) -> Result<Ensured, NetworkError> {
    let _lock = lock(name, lock_dir, lock_wait).await?;
    if !engine.networks_named(name).await?.is_empty() {
        return Ok(Ensured::Existed);
    }
    let mut options = HashMap::from([(MASQUERADE_OPTION.to_string(), "true".to_string())]);
    // kind copies the MTU of Docker's default bridge when it has one.
    if let Some(mtu) = engine
        .networks_named("bridge")
        .await?
        .first()
        .and_then(|b| b.options.get(MTU_OPTION).cloned())
        .filter(|m| m.parse::<u32>().is_ok_and(|m| m > 0))
    {
        options.insert(MTU_OPTION.to_string(), mtu);
    }
    let spec = |ipv6_subnet: Option<String>| NetworkSpec {
        name: name.to_string(),
        options: options.clone(),
        ipv6_subnet,
        ..Default::default()
    };
    for attempt in 0..ATTEMPTS {
        let subnet = ula_subnet(name, attempt);
        match engine.create_network(&spec(Some(subnet.clone()))).await {
            Ok(_) => {
                return Ok(Ensured::Created {
                    ipv6_subnet: Some(subnet),
                });
            }
            Err(e) if attempt == 0 && ipv6_unavailable(&e) => {
                // As kind does: one IPv4-only attempt when the host has no IPv6.
                engine.create_network(&spec(None)).await?;
                return Ok(Ensured::Created { ipv6_subnet: None });
            }
            Err(e) if pool_overlaps(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(NetworkError::NoSubnet {
        network: name.to_string(),
    })
}

fn ipv6_unavailable(e: &DockerError) -> bool {
    let m = e.to_string();
    m.contains("Cannot read IPv6 setup for bridge") || m.contains("unknown flag: --ipv6")
}

fn pool_overlaps(e: &DockerError) -> bool {
    let m = e.to_string();
    m.contains("Pool overlaps with other one on this address space")
        || m.contains("networks have overlapping")
}

/// A held lock file; released when dropped (the kernel drops it if the process dies).
struct Held(#[expect(dead_code, reason = "held for its lock")] std::fs::File);

async fn lock(name: &str, dir: &Path, wait: Duration) -> Result<Held, NetworkError> {
    let path = dir.join(format!("network-{name}.lock"));
    let failed = |source| NetworkError::Lock {
        network: name.to_string(),
        path: path.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(failed)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(failed)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Held(file)),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(NetworkError::LockTimeout {
                    network: name.to_string(),
                    path: path.display().to_string(),
                    waited: wait,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_kinds() {
        // kind's well-known subnet for its default network, and the next probe.
        assert_eq!(ula_subnet("kind", 0), "fc00:f853:ccd:e793::/64");
        assert_eq!(ula_subnet("kind", 1), "fc00:8866:27d0:bd7e::/64");
    }
}
