//! Host-port resolution: turn a port plan into concrete ports, holding each picked port twice
//! over — a bound socket (so this process never picks it again and no other bind(0) gets it)
//! and a cross-process reservation (so other kindproof processes skip it) — until the node
//! containers are created.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use serde::Serialize;

use super::plan::{How, PlannedMapping};
use super::reserve::{Reservation, ReservationDir};
use crate::kind_config::model::{Cluster, Protocol, unspanned};

/// Failed to resolve host ports.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("failed to bind {protocol} port 0 on {address} to pick a free port: {source}")]
    Bind {
        address: IpAddr,
        protocol: Protocol,
        #[source]
        source: io::Error,
    },
    #[error("failed to use the port reservation directory {path}: {source}")]
    Reservations {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "failed to find a free {protocol} port on {address} that no other kindproof process holds after {tries} tries"
    )]
    Exhausted {
        address: IpAddr,
        protocol: Protocol,
        tries: usize,
    },
}

/// A socket bound to a port this process picked, held until the port is handed over.
#[derive(Debug)]
pub enum HeldSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// A port offered by a [`PortPicker`], with the socket that keeps it bound when there is one.
#[derive(Debug)]
pub struct Offer {
    pub port: u16,
    pub socket: Option<HeldSocket>,
}

/// Where free ports come from: the OS in production, a script in tests that need a port to be
/// taken by someone else.
pub trait PortPicker {
    fn offer(&mut self, address: IpAddr, protocol: Protocol) -> io::Result<Offer>;
}

/// Binds port 0 and lets the kernel choose.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsPicker;

impl PortPicker for OsPicker {
    fn offer(&mut self, address: IpAddr, protocol: Protocol) -> io::Result<Offer> {
        let any = SocketAddr::new(address, 0);
        // SCTP cannot be bound through std; its port numbers are taken from TCP's space, which
        // Docker's proxy checks the same way.
        let socket = match protocol {
            Protocol::Tcp | Protocol::Sctp => HeldSocket::Tcp(TcpListener::bind(any)?),
            Protocol::Udp => HeldSocket::Udp(UdpSocket::bind(any)?),
        };
        let port = match &socket {
            HeldSocket::Tcp(s) => s.local_addr()?.port(),
            HeldSocket::Udp(s) => s.local_addr()?.port(),
        };
        Ok(Offer {
            port,
            socket: Some(socket),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedMapping {
    #[serde(flatten)]
    pub planned: PlannedMapping,
    /// The host port; `None` for a runtime port not read back yet.
    pub host_port: Option<u16>,
}

/// The resolved ports of one cluster, and what holds them.
#[derive(Debug)]
pub struct Resolution {
    pub mappings: Vec<ResolvedMapping>,
    sockets: Vec<HeldSocket>,
    reservations: Vec<(usize, Reservation)>,
}

impl Resolution {
    /// Close the bound sockets so Docker can bind the ports; the cross-process reservations
    /// stay until the resolution is dropped.
    pub fn release_sockets(&mut self) {
        self.sockets.clear();
    }

    /// Release the cross-process reservations: call once the containers own the ports.
    pub fn release_reservations(&mut self) {
        self.reservations.clear();
    }

    pub fn reservation_count(&self) -> usize {
        self.reservations.len()
    }

    /// The config to hand kind: every picked port written in as a fixed hostPort; runtime
    /// (`-1`) and fixed ports as they were.
    pub fn apply_to(&self, cluster: &Cluster) -> Cluster {
        let mut out = cluster.clone();
        for m in &self.mappings {
            if m.planned.how == How::Picked
                && let Some(port) = m.host_port
            {
                let pm = &mut out.nodes[m.planned.node].extra_port_mappings[m.planned.index];
                pm.host_port = Some(unspanned(i64::from(port)));
            }
        }
        out
    }
}

/// Picks and reserves ports.
#[derive(Debug)]
pub struct Resolver<P: PortPicker = OsPicker> {
    dir: ReservationDir,
    picker: P,
    max_tries: usize,
}

impl Resolver<OsPicker> {
    pub fn new(dir: ReservationDir) -> Self {
        Self::with_picker(dir, OsPicker)
    }
}

impl<P: PortPicker> Resolver<P> {
    pub fn with_picker(dir: ReservationDir, picker: P) -> Self {
        Self {
            dir,
            picker,
            max_tries: 64,
        }
    }

    pub fn resolve(&mut self, plan: &[PlannedMapping]) -> Result<Resolution, PortError> {
        let mut res = Resolution {
            mappings: plan
                .iter()
                .map(|p| ResolvedMapping {
                    planned: p.clone(),
                    host_port: match p.how {
                        How::Fixed => p.requested.and_then(|r| u16::try_from(r).ok()),
                        How::Picked | How::Runtime => None,
                    },
                })
                .collect(),
            sockets: Vec::new(),
            reservations: Vec::new(),
        };
        for i in 0..res.mappings.len() {
            if res.mappings[i].planned.how == How::Picked {
                self.pick_into(&mut res, i, &HashSet::new())?;
            }
        }
        Ok(res)
    }

    /// Pick a new port for mapping `i` after its port turned out to be taken (Docker said
    /// "port is already allocated"). The old port is avoided; its reservation is released.
    pub fn repick(&mut self, res: &mut Resolution, i: usize) -> Result<u16, PortError> {
        let mut avoid = HashSet::new();
        if let Some(old) = res.mappings[i].host_port {
            avoid.insert(old);
        }
        res.reservations.retain(|(idx, _)| *idx != i);
        self.pick_into(res, i, &avoid)
    }

    fn pick_into(
        &mut self,
        res: &mut Resolution,
        i: usize,
        avoid: &HashSet<u16>,
    ) -> Result<u16, PortError> {
        let address = res.mappings[i].planned.listen_address;
        let protocol = res.mappings[i].planned.protocol;
        let taken_here: HashSet<(u16, Protocol)> = res
            .mappings
            .iter()
            .filter_map(|m| m.host_port.map(|p| (p, m.planned.protocol)))
            .collect();
        // Offers we turn down stay bound until we are done, so the kernel does not offer them
        // again.
        let mut declined = Vec::new();
        for _ in 0..self.max_tries {
            let offer = self
                .picker
                .offer(address, protocol)
                .map_err(|source| PortError::Bind {
                    address,
                    protocol,
                    source,
                })?;
            if avoid.contains(&offer.port) || taken_here.contains(&(offer.port, protocol)) {
                declined.push(offer);
                continue;
            }
            let reserved = self
                .dir
                .try_reserve(offer.port, protocol)
                .map_err(|source| PortError::Reservations {
                    path: self.dir.path().display().to_string(),
                    source,
                })?;
            match reserved {
                Some(r) => {
                    res.mappings[i].host_port = Some(offer.port);
                    res.reservations.push((i, r));
                    if let Some(s) = offer.socket {
                        res.sockets.push(s);
                    }
                    return Ok(offer.port);
                }
                None => declined.push(offer),
            }
        }
        Err(PortError::Exhausted {
            address,
            protocol,
            tries: self.max_tries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind_config::load::load_str;
    use crate::kind_config::version::KindVersion;
    use crate::ports::plan::plan;
    use std::path::Path;

    fn cluster(body: &str) -> Cluster {
        let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
        load_str(Path::new("c.yaml"), &text).unwrap()
    }

    const BODY: &str = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n  - containerPort: 443\n    listenAddress: 127.0.0.1\n  - containerPort: 53\n    listenAddress: 127.0.0.1\n    protocol: UDP\n  - containerPort: 53\n    listenAddress: 127.0.0.1\n  - containerPort: 8443\n    hostPort: -1\n    listenAddress: 127.0.0.1\n";

    fn resolver(tmp: &tempfile::TempDir) -> Resolver {
        Resolver::new(ReservationDir::at(tmp.path().join("ports")).unwrap())
    }

    #[test]
    fn picks_distinct_held_ports_and_writes_them_into_the_config() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cluster(BODY);
        let p = plan(&c, KindVersion::NEWEST_KNOWN.rules());
        let mut res = resolver(&tmp).resolve(&p).unwrap();
        let picked: Vec<u16> = res.mappings[..4]
            .iter()
            .map(|m| m.host_port.unwrap())
            .collect();
        assert_eq!(res.mappings[4].host_port, None, "runtime port is Docker's");
        assert_eq!(res.reservation_count(), 4);
        let distinct: HashSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), 4, "{picked:?}");
        // While held, the TCP ports cannot be bound by anyone else.
        assert!(TcpListener::bind(("127.0.0.1", picked[0])).is_err());
        let written = res.apply_to(&c);
        let hp: Vec<Option<i64>> = written.nodes[0]
            .extra_port_mappings
            .iter()
            .map(|m| m.host_port.as_ref().map(|h| h.value))
            .collect();
        assert_eq!(hp[0], Some(i64::from(picked[0])));
        assert_eq!(hp[4], Some(-1));
        res.release_sockets();
        assert!(TcpListener::bind(("127.0.0.1", picked[0])).is_ok());
    }

    #[test]
    fn a_second_resolver_skips_ports_the_first_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cluster(BODY);
        let p = plan(&c, KindVersion::NEWEST_KNOWN.rules());
        let mut a = resolver(&tmp).resolve(&p).unwrap();
        a.release_sockets(); // only the reservations protect the ports now
        let held: HashSet<(u16, Protocol)> = a
            .mappings
            .iter()
            .filter_map(|m| m.host_port.map(|h| (h, m.planned.protocol)))
            .collect();
        // A picker that first offers exactly the ports `a` holds must be turned down each time.
        struct Replay(Vec<u16>);
        impl PortPicker for Replay {
            fn offer(&mut self, address: IpAddr, protocol: Protocol) -> io::Result<Offer> {
                match self.0.pop() {
                    Some(port) => Ok(Offer { port, socket: None }),
                    None => OsPicker.offer(address, protocol),
                }
            }
        }
        let replay: Vec<u16> = held.iter().map(|(p, _)| *p).collect();
        let dir = ReservationDir::at(tmp.path().join("ports")).unwrap();
        let b = Resolver::with_picker(dir, Replay(replay))
            .resolve(&p)
            .unwrap();
        for m in &b.mappings {
            if let Some(port) = m.host_port {
                assert!(!held.contains(&(port, m.planned.protocol)), "{port} reused");
            }
        }
    }

    #[test]
    fn repick_moves_to_another_port() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cluster(BODY);
        let p = plan(&c, KindVersion::NEWEST_KNOWN.rules());
        let mut r = resolver(&tmp);
        let mut res = r.resolve(&p).unwrap();
        let old = res.mappings[0].host_port.unwrap();
        let new = r.repick(&mut res, 0).unwrap();
        assert_ne!(old, new);
        assert_eq!(res.mappings[0].host_port, Some(new));
        assert_eq!(res.reservation_count(), 4);
    }

    #[test]
    fn an_address_that_is_not_local_fails_with_the_address() {
        let tmp = tempfile::tempdir().unwrap();
        // TEST-NET-1 is never assigned to a local interface, so bind fails at once with
        // EADDRNOTAVAIL; nothing is sent anywhere.
        let c = cluster(
            "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 192.0.2.1\n",
        );
        let p = plan(&c, KindVersion::NEWEST_KNOWN.rules());
        let err = resolver(&tmp).resolve(&p).unwrap_err();
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }
}
