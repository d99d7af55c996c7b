//! Reading published ports back from a container inspect (`NetworkSettings.Ports`). Pure, so it
//! is tested on inspect JSON fixtures.

use std::net::IpAddr;

use bollard::models::PortMap;
use serde::Serialize;

use crate::kind_config::model::Protocol;

/// One host binding of one container port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub container_port: u16,
    pub protocol: Protocol,
    /// As Docker reports it: `0.0.0.0`, `::`, `127.0.0.1`…
    pub host_ip: String,
    pub host_port: u16,
}

/// Failed to understand a port map.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InspectError {
    #[error("failed to parse port key {0:?} from Docker (expected e.g. 80/tcp)")]
    Key(String),
    #[error("failed to parse host port {port:?} of {key} from Docker")]
    HostPort { key: String, port: String },
}

/// Every host binding in `ports`, sorted. Exposed-but-unpublished ports (`null`) and bindings
/// whose host port Docker has not filled in yet are left out.
pub fn published(ports: &PortMap) -> Result<Vec<Published>, InspectError> {
    let mut out = Vec::new();
    for (key, bindings) in ports {
        let (port, proto) = key
            .split_once('/')
            .ok_or_else(|| InspectError::Key(key.clone()))?;
        let container_port: u16 = port.parse().map_err(|_| InspectError::Key(key.clone()))?;
        let protocol = Protocol::parse(proto).ok_or_else(|| InspectError::Key(key.clone()))?;
        for b in bindings.iter().flatten() {
            let Some(hp) = b.host_port.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            let host_port = hp.parse().map_err(|_| InspectError::HostPort {
                key: key.clone(),
                port: hp.to_string(),
            })?;
            out.push(Published {
                container_port,
                protocol,
                host_ip: b.host_ip.clone().unwrap_or_default(),
                host_port,
            });
        }
    }
    out.sort();
    Ok(out)
}

/// The host port publishing `container_port/protocol` on `listen`. An exact address match wins;
/// a wildcard listen address falls back to Docker's other-family wildcard. (Docker 20.10 reports
/// a publish without an address as two bindings, `0.0.0.0` and `::`, with different ports.)
pub fn host_port_for(
    published: &[Published],
    container_port: u16,
    protocol: Protocol,
    listen: IpAddr,
) -> Option<u16> {
    let candidates: Vec<&Published> = published
        .iter()
        .filter(|p| p.container_port == container_port && p.protocol == protocol)
        .collect();
    let exact = candidates.iter().find(|p| {
        p.host_ip
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical() == listen)
            || (p.host_ip.is_empty() && listen.is_unspecified())
    });
    exact
        .or_else(|| {
            candidates.iter().find(|p| {
                listen.is_unspecified()
                    && p.host_ip
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip.is_unspecified())
            })
        })
        .map(|p| p.host_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerInspectResponse;

    fn ports_of(fixture: &str) -> PortMap {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/inspect/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let inspect: ContainerInspectResponse = serde_json::from_str(&text).unwrap();
        inspect.network_settings.unwrap().ports.unwrap()
    }

    #[test]
    fn ipv4_tcp_and_udp_on_one_container_port() {
        let p = published(&ports_of("tcp-udp-ipv4.json")).unwrap();
        assert_eq!(
            p,
            vec![
                Published {
                    container_port: 53,
                    protocol: Protocol::Tcp,
                    host_ip: "127.0.0.1".into(),
                    host_port: 32771
                },
                Published {
                    container_port: 53,
                    protocol: Protocol::Udp,
                    host_ip: "127.0.0.1".into(),
                    host_port: 32772
                },
                Published {
                    container_port: 80,
                    protocol: Protocol::Tcp,
                    host_ip: "127.0.0.1".into(),
                    host_port: 32770
                },
            ]
        );
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(host_port_for(&p, 53, Protocol::Udp, lo), Some(32772));
        assert_eq!(host_port_for(&p, 53, Protocol::Tcp, lo), Some(32771));
        assert_eq!(host_port_for(&p, 443, Protocol::Tcp, lo), None);
    }

    #[test]
    fn wildcard_publish_reported_for_both_families() {
        let p = published(&ports_of("wildcard-dual.json")).unwrap();
        assert_eq!(p.len(), 3, "{p:?}");
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        assert_eq!(host_port_for(&p, 80, Protocol::Tcp, any4), Some(49153));
        assert_eq!(host_port_for(&p, 80, Protocol::Tcp, any6), Some(49154));
        let v6lo: IpAddr = "::1".parse().unwrap();
        assert_eq!(host_port_for(&p, 8080, Protocol::Tcp, v6lo), Some(49160));
    }

    #[test]
    fn several_bindings_for_one_port_and_unpublished_ports() {
        let p = published(&ports_of("several-bindings.json")).unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo2: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(host_port_for(&p, 80, Protocol::Tcp, lo), Some(40080));
        assert_eq!(host_port_for(&p, 80, Protocol::Tcp, lo2), Some(40081));
        // 9000/tcp is exposed but not published (null), 9001/tcp not bound yet ("").
        assert!(p.iter().all(|b| b.container_port < 9000));
    }

    #[test]
    fn bad_keys_are_errors_not_panics() {
        let mut map = PortMap::new();
        map.insert("eighty/tcp".into(), None);
        assert_eq!(published(&map), Err(InspectError::Key("eighty/tcp".into())));
    }
}
