//! Port resolution against the real Docker engine: containers publishing picked (0/unset) and
//! runtime (-1) ports on 127.0.0.1 over TCP and UDP, read back, reachable, re-read after a
//! restart, conflicts retried, and nothing left behind.
//!
//! The containers run on a bridge network the test creates (as kind's nodes run on `kind`);
//! it is not `--internal` because Docker does not publish ports from internal networks. The
//! containers only serve: nothing in them connects anywhere.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use kindproof::docker::api::{ContainerSpec, Engine};
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::docker::publish::{PublishError, create_publishing, read_back};
use kindproof::kind_config::load::load_str;
use kindproof::kind_config::model::Protocol;
use kindproof::kind_config::version::KindVersion;
use kindproof::ports::plan::{How, plan};
use kindproof::ports::reserve::ReservationDir;
use kindproof::ports::resolve::{Offer, OsPicker, PortPicker, Resolution, Resolver};

use crate::support::{RunScope, test_image};

const CONFIG: &str = "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 80
    listenAddress: 127.0.0.1
  - containerPort: 81
    hostPort: 0
    listenAddress: 127.0.0.1
  - containerPort: 8080
    hostPort: -1
    listenAddress: 127.0.0.1
  - containerPort: 8081
    hostPort: -1
    listenAddress: 127.0.0.1
  - containerPort: 53
    hostPort: 0
    listenAddress: 127.0.0.1
    protocol: UDP
  - containerPort: 53
    hostPort: -1
    listenAddress: 127.0.0.1
    protocol: TCP
";

/// busybox httpd on every TCP container port; PID 1 sleeps. httpd answers any request (404 for
/// a missing page), which proves a connection reached the container, not just Docker's proxy.
fn serving(name: &str, image: &str, scope: &RunScope, network: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: image.to_string(),
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "for p in 80 81 8080 8081 53; do httpd -p $p -h /www; done; exec sleep 600".into(),
        ],
        labels: scope.labels(),
        network: Some(network.to_string()),
        stop_timeout: Some(1),
        ..Default::default()
    }
}

fn resolve(
    tmp: &Path,
    config: &str,
    picker: impl PortPicker,
) -> (Resolver<impl PortPicker>, Resolution) {
    let cluster = load_str(Path::new("test.yaml"), config).unwrap();
    let planned = plan(&cluster, KindVersion::NEWEST_KNOWN.rules());
    let mut resolver =
        Resolver::with_picker(ReservationDir::at(tmp.join("ports")).unwrap(), picker);
    let res = resolver.resolve(&planned).unwrap();
    (resolver, res)
}

/// An HTTP answer from 127.0.0.1:`port` within `deadline`; the last error otherwise.
fn http_answer(port: u16, deadline: Duration) -> Result<String, String> {
    let until = Instant::now() + deadline;
    let mut last = String::new();
    while Instant::now() < until {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(
                &(IpAddr::from([127, 0, 0, 1]), port).into(),
                Duration::from_secs(1),
            )?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf)?;
            Ok(String::from_utf8_lossy(&buf).to_string())
        })();
        match attempt {
            Ok(r) if r.starts_with("HTTP/1.") => return Ok(r),
            Ok(r) => last = format!("answered {r:?}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last)
}

/// What every test here starts from: the engine, a run scope, the test image, a reservation
/// directory and a (publishing, so not internal) network of the run.
struct Setup {
    engine: BollardEngine,
    scope: RunScope,
    image: String,
    tmp: tempfile::TempDir,
    network: String,
}

async fn setup() -> Setup {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    let image = test_image(&engine).await;
    let network = scope.network(&engine, false).await;
    Setup {
        engine,
        scope,
        image,
        tmp: tempfile::tempdir().unwrap(),
        network,
    }
}

fn tcp_ports(res: &Resolution) -> Vec<(u16, u16)> {
    res.mappings
        .iter()
        .filter(|m| m.planned.protocol == Protocol::Tcp)
        .map(|m| (m.planned.container_port, m.host_port.unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_publishes_random_ports_and_rereads_them_after_a_restart() {
    let Setup {
        engine,
        scope,
        image,
        tmp,
        network,
    } = setup().await;
    let (mut resolver, mut res) = resolve(tmp.path(), CONFIG, OsPicker);
    let name = format!("kp-test-{}-control-plane", scope.run_id);
    let spec = serving(&name, &image, &scope, &network);
    let info = create_publishing(&engine, &mut resolver, &mut res, 0, &spec, 5)
        .await
        .unwrap();
    assert!(info.running);
    assert_eq!(info.labels.get("io.kindproof.run-id"), Some(&scope.run_id));

    // Every mapping has a host port now, the runtime ones included, and all are distinct.
    let ports: Vec<(u16, Protocol, u16, How)> = res
        .mappings
        .iter()
        .map(|m| {
            (
                m.planned.container_port,
                m.planned.protocol,
                m.host_port.expect("read back"),
                m.planned.how,
            )
        })
        .collect();
    let distinct: HashSet<(u16, Protocol)> = ports.iter().map(|p| (p.2, p.1)).collect();
    assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    // Docker agrees with what kindproof resolved, binding by binding.
    for (cport, proto, hport, _) in &ports {
        assert!(
            info.published.iter().any(|p| p.container_port == *cport
                && p.protocol == *proto
                && p.host_port == *hport
                && p.host_ip == "127.0.0.1"),
            "{cport}/{proto} -> {hport} not in {:?}",
            info.published
        );
    }
    for (cport, hport) in tcp_ports(&res) {
        http_answer(hport, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{cport}/tcp on 127.0.0.1:{hport}: {e}"));
    }
    // The container owns its ports now: the reservations can go.
    assert_eq!(res.reservation_count(), 3, "80, 81 and 53/udp were picked");
    res.release_reservations();
    assert_eq!(
        std::fs::read_dir(tmp.path().join("ports")).unwrap().count(),
        0
    );

    let before: Vec<(u16, How, u16)> = res
        .mappings
        .iter()
        .map(|m| {
            (
                m.planned.container_port,
                m.planned.how,
                m.host_port.unwrap(),
            )
        })
        .collect();
    engine.restart_container(&info.id, 1).await.unwrap();
    read_back(&engine, &info.id, &mut res, 0, &name)
        .await
        .expect("picked ports stay put across a restart");
    for ((cport, how, old), m) in before.iter().zip(&res.mappings) {
        let new = m.host_port.unwrap();
        if *how == How::Picked {
            assert_eq!(
                *old, new,
                "{cport}: a picked port must not change on restart"
            );
        } else if *old != new {
            eprintln!("{cport}: runtime port moved {old} -> {new} on restart");
        }
    }
    for (cport, hport) in tcp_ports(&res) {
        http_answer(hport, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("after restart, {cport}/tcp on 127.0.0.1:{hport}: {e}"));
    }
    drop(res);
    scope.teardown(&engine).await;
}

/// Offers one port someone else holds, then whatever the OS gives.
struct TakenFirst {
    taken: Option<u16>,
    offers: usize,
}

impl PortPicker for TakenFirst {
    fn offer(&mut self, address: IpAddr, protocol: Protocol) -> std::io::Result<Offer> {
        self.offers += 1;
        match self.taken.take() {
            Some(port) => Ok(Offer { port, socket: None }),
            None => OsPicker.offer(address, protocol),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_port_taken_by_another_process_is_repicked() {
    let Setup {
        engine,
        scope,
        image,
        tmp,
        network,
    } = setup().await;
    // Another process's listener on a port kindproof is about to be offered.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n";
    let picker = TakenFirst {
        taken: Some(taken),
        offers: 0,
    };
    let (mut resolver, mut res) = resolve(tmp.path(), config, picker);
    assert_eq!(res.mappings[0].host_port, Some(taken));
    let name = format!("kp-test-{}-conflict", scope.run_id);
    let spec = serving(&name, &image, &scope, &network);
    let info = create_publishing(&engine, &mut resolver, &mut res, 0, &spec, 5)
        .await
        .unwrap();
    let port = res.mappings[0].host_port.unwrap();
    assert_ne!(port, taken, "Docker's conflict should have moved the port");
    assert!(info.published.iter().any(|p| p.host_port == port));
    http_answer(port, Duration::from_secs(10)).unwrap();
    // Only the final container exists; the failed attempt was removed.
    let containers = engine.list_containers(&scope.filter()).await.unwrap();
    assert_eq!(containers.len(), 1, "{containers:?}");
    drop(squatter);
    drop(res);
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_fixed_port_taken_is_an_error_that_leaves_nothing() {
    let Setup {
        engine,
        scope,
        image,
        tmp,
        network,
    } = setup().await;
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let config = format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: {taken}\n    listenAddress: 127.0.0.1\n"
    );
    let (mut resolver, mut res) = resolve(tmp.path(), &config, OsPicker);
    let name = format!("kp-test-{}-fixed", scope.run_id);
    let spec = serving(&name, &image, &scope, &network);
    let err = create_publishing(&engine, &mut resolver, &mut res, 0, &spec, 5)
        .await
        .unwrap_err();
    match &err {
        PublishError::FixedPortTaken { port, .. } => assert_eq!(*port, taken),
        other => panic!("expected FixedPortTaken, got {other}"),
    }
    assert!(err.to_string().contains(&taken.to_string()));
    assert!(
        engine
            .list_containers(&scope.filter())
            .await
            .unwrap()
            .is_empty(),
        "the failed container was removed"
    );
    drop(squatter);
    scope.teardown(&engine).await;
}
