//! The probe image against the real engine: built FROM scratch (never pulled), `bind` failing
//! the Flower way with the real errno recorded, and `connect` tallying which `serve` backend
//! answered on an `--internal` network the test creates.

use kindproof::docker::api::{ContainerSpec, Engine};
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::probe_image::image_name;

use crate::support::{RunScope, probe_image};

fn probe(
    scope: &RunScope,
    name: &str,
    network: &str,
    env: &[&str],
    args: &[&str],
) -> ContainerSpec {
    ContainerSpec {
        name: format!("kp-test-{}-{name}", scope.run_id),
        image: image_name(),
        cmd: args.iter().map(|s| s.to_string()).collect(),
        env: env.iter().map(|s| s.to_string()).collect(),
        labels: scope.labels(),
        network: Some(network.to_string()),
        stop_timeout: Some(1),
        ..Default::default()
    }
}

async fn run_to_end(engine: &BollardEngine, spec: &ContainerSpec) -> (i64, String, String) {
    let id = engine.create_container(spec).await.unwrap();
    engine.start_container(&id).await.unwrap();
    let code = engine.wait_container(&id).await.unwrap();
    let (out, err) = engine.logs(&id).await.unwrap();
    (code, out, err)
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_bind_fails_like_flower_and_records_the_errno() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    // TEST-NET-1 is on no interface of the container: bind fails with EADDRNOTAVAIL, and no
    // packet is sent (a bind sends nothing).
    let spec = probe(
        &scope,
        "bind",
        &network,
        &[],
        &["bind", "--address", "192.0.2.1:30457"],
    );
    let (code, out, err) = run_to_end(&engine, &spec).await;
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err.trim_end(),
        "Port in server address 192.0.2.1:30457 is already in use."
    );
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(line["event"], "bind");
    assert_eq!(line["error"], "EADDRNOTAVAIL");
    assert_eq!(line["errno"], 99);
    assert_eq!(
        line["message"],
        "Cannot assign requested address (os error 99)"
    );
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_connect_names_the_backend_that_answered() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let mut addrs = Vec::new();
    for who in ["backend-a", "backend-b"] {
        let env = format!("POD_NAME={who}");
        let spec = probe(
            &scope,
            who,
            &network,
            &[&env],
            &["serve", "--tcp", "8080", "--quiet"],
        );
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        let info = engine.inspect_container(&id).await.unwrap();
        let ip = info.addresses[&network]
            .0
            .expect("an IPv4 address on the test network");
        addrs.push(ip);
    }
    // Port 9 of backend-a is closed (nothing listens there): it must count as refused.
    let targets: Vec<String> = vec![
        format!("{}:8080", addrs[0]),
        format!("{}:8080", addrs[1]),
        format!("{}:9", addrs[0]),
    ];
    let mut args = vec![
        "connect",
        "--count",
        "200",
        "--concurrency",
        "16",
        "--timeout",
        "2s",
    ];
    for t in &targets {
        args.push("--target");
        args.push(t);
    }
    let spec = probe(&scope, "client", &network, &[], &args);
    let (code, out, err) = run_to_end(&engine, &spec).await;
    assert_eq!(code, 0, "{out}{err}");
    let summaries: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "connect-summary")
        .collect();
    assert_eq!(summaries.len(), 3, "{out}");
    assert_eq!(
        summaries[0]["backends"],
        serde_json::json!({"backend-a": 200})
    );
    assert_eq!(
        summaries[1]["backends"],
        serde_json::json!({"backend-b": 200})
    );
    assert_eq!(summaries[2]["answered"], 0);
    assert_eq!(summaries[2]["refused"], 200, "{}", summaries[2]);
    scope.teardown(&engine).await;
}

/// The gateway address of a network (the host's side of its bridge).
fn gateway(network: &str) -> std::net::IpAddr {
    let o = std::process::Command::new("docker")
        .args([
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            network,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// An upstream DNS server that answers every query NXDOMAIN, as a cluster DNS does for a name
/// that does not exist yet. It listens on the test network's gateway, so the embedded DNS's
/// forwarded queries stay on that network. Returns how many queries it answered.
fn nxdomain_upstream(at: std::net::IpAddr) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    let socket = std::net::UdpSocket::bind((at, 53)).expect("bind the test upstream DNS");
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            // Same id and question; QR set, opcode and RD kept, RA set, rcode 3; no records.
            let mut reply = buf[..n].to_vec();
            reply[2] = 0x80 | (buf[2] & 0x79);
            reply[3] = 0x80 | 3;
            reply[6..12].fill(0);
            // Drop anything after the question (an EDNS OPT record in the additional section).
            let mut end = 12;
            while end < n && reply[end] != 0 {
                end += 1 + usize::from(reply[end]);
            }
            reply.truncate((end + 5).min(n));
            let _ = socket.send_to(&reply, from);
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    answered
}

fn epoch_ms(rfc3339: &serde_json::Value) -> u128 {
    humantime::parse_rfc3339(rfc3339.as_str().expect("a timestamp"))
        .expect("an RFC 3339 timestamp")
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_dns_sees_nxdomain_until_the_container_exists() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let upstream = gateway(&network);
    let answered = nxdomain_upstream(upstream);
    let late = format!("kp-test-{}-late", scope.run_id);
    let mut spec = probe(
        &scope,
        "dns",
        &network,
        &[],
        &[
            "dns",
            "--name",
            &late,
            "--until-resolved",
            "--deadline",
            "60s",
            "--timeout",
            "1s",
        ],
    );
    spec.dns = vec![upstream.to_string()];
    let dns = engine.create_container(&spec).await.unwrap();
    engine.start_container(&dns).await.unwrap();
    // Let it see the name missing for a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (out, _) = engine.logs(&dns).await.unwrap();
        if out.matches("\"NXDOMAIN\"").count() >= 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no NXDOMAIN answers: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let before_start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let target = ContainerSpec {
        name: late.clone(),
        ..probe(&scope, "late", &network, &[], &["serve", "--tcp", "8080"])
    };
    let id = engine.create_container(&target).await.unwrap();
    engine.start_container(&id).await.unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let ip = engine.inspect_container(&id).await.unwrap().addresses[&network]
        .0
        .unwrap();
    let code = engine.wait_container(&dns).await.unwrap();
    let (out, err) = engine.logs(&dns).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // First the stream's start (for a background probe's timeline), then one line per query.
    let (stream, lines) = lines.split_first().unwrap();
    assert_eq!(stream["event"], "stream", "{out}");
    let (summary, attempts) = lines.split_last().unwrap();
    let (success, misses) = attempts.split_last().unwrap();
    assert!(
        misses.iter().all(|l| l["code"] == "NXDOMAIN"),
        "every attempt before the container existed said NXDOMAIN: {out}"
    );
    assert_eq!(success["code"], "NOERROR");
    assert_eq!(success["addresses"], serde_json::json!([ip.to_string()]));
    assert_eq!(summary["event"], "dns-summary");
    assert_eq!(summary["resolved"], true);
    assert_eq!(
        summary["codes_before_success"],
        serde_json::json!({"NXDOMAIN": misses.len()})
    );
    assert!(answered.load(std::sync::atomic::Ordering::Relaxed) >= misses.len() as u64);
    // The first success comes after the create call, and by the time start returns: Docker
    // registers the name when the container joins the network, early in start. Measured here:
    // 15–40 ms after the create call, while create+start took ~280–320 ms; the bound allows
    // one more 20 ms sampling interval and a slow lookup.
    let first = epoch_ms(&summary["first_success"]);
    eprintln!(
        "first success {} ms after the create call; create+start took {} ms; {} NXDOMAIN before",
        first as i128 - before_start as i128,
        started - before_start,
        misses.len()
    );
    assert!(
        first >= before_start,
        "resolved before the container existed"
    );
    assert!(
        first <= started + 250,
        "first success {} ms after start returned",
        first - started
    );
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_bind_on_any_address_serves_its_identity_and_http_answers_too() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    let image = probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let flower = probe(
        &scope,
        "flower",
        &network,
        &["POD_NAME=flower-server", "POD_NAMESPACE=fl"],
        &["bind", "--address", "0.0.0.0:8080", "--quiet"],
    );
    let web = probe(
        &scope,
        "web",
        &network,
        &["POD_NAME=web"],
        &["serve", "--http", "8081", "--quiet"],
    );
    let mut ips = Vec::new();
    for spec in [&flower, &web] {
        let id = engine.create_container(spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        ips.push(
            engine.inspect_container(&id).await.unwrap().addresses[&network]
                .0
                .unwrap(),
        );
    }
    let flower_target = format!("{}:8080", ips[0]);
    let web_target = format!("{}:8081", ips[1]);
    for (target, proto, who) in [
        (&flower_target, "tcp", "flower-server"),
        (&web_target, "http", "web"),
    ] {
        let spec = probe(
            &scope,
            &format!("client-{proto}"),
            &network,
            &[],
            &[
                "connect", "--target", target, "--count", "20", "--proto", proto,
            ],
        );
        let (code, out, err) = run_to_end(&engine, &spec).await;
        assert_eq!(code, 0, "{out}{err}");
        let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(summary["backends"], serde_json::json!({ who: 20 }), "{out}");
    }
    let (out, _) = engine.logs(&flower.name).await.unwrap();
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&first["event"], &first["ok"]),
        (&"bind".into(), &true.into())
    );
    // The image runs the probe as nobody, with no shell.
    let o = std::process::Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Config.User}}", &image])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "65534:65534");
    let no_shell = engine
        .exec(
            &flower.name,
            &["/bin/sh".into(), "-c".into(), "true".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(no_shell.exit_code, 126, "{}", no_shell.output());
    assert!(
        no_shell.output().contains("no such file"),
        "{}",
        no_shell.output()
    );
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_serve_stops_at_once_on_sigterm() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let mut spec = probe(
        &scope,
        "stop",
        &network,
        &[],
        &["serve", "--tcp", "8080", "--quiet"],
    );
    // Docker's own 10 s grace, as a pod's would be: only the probe decides how long it takes.
    spec.stop_timeout = None;
    let id = engine.create_container(&spec).await.unwrap();
    engine.start_container(&id).await.unwrap();
    // Serving: the listening line is out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !engine.logs(&id).await.unwrap().0.contains("\"listening\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "the probe never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let t = std::time::Instant::now();
    let o = std::process::Command::new("docker")
        .args(["stop", "-t", "10", &id])
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        took < std::time::Duration::from_secs(1),
        "docker stop took {took:?}: the probe (PID 1) ignored SIGTERM"
    );
    let code = engine.wait_container(&id).await.unwrap();
    assert_eq!(code, 0, "a server told to stop exits 0");
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_probe_connect_resolves_a_container_name_where_it_runs() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    probe_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let backend = probe(
        &scope,
        "named",
        &network,
        &["POD_NAME=named-backend"],
        &["serve", "--tcp", "8080", "--quiet"],
    );
    let id = engine.create_container(&backend).await.unwrap();
    engine.start_container(&id).await.unwrap();
    // By name, through Docker's embedded DNS on this user-defined network; and a name that
    // does not exist, which fails every attempt with the reason (nothing is sent anywhere).
    let named = format!("{}:8080", backend.name);
    let missing = format!("kp-test-{}-absent:8080", scope.run_id);
    let mut client = probe(
        &scope,
        "by-name",
        &network,
        &[],
        &[
            "connect", "--target", &named, "--target", &missing, "--count", "20",
        ],
    );
    // What the embedded DNS does not know it forwards upstream: to a server on this network's
    // own gateway that answers NXDOMAIN, so no query leaves the machine.
    let upstream = gateway(&network);
    let _answered = nxdomain_upstream(upstream);
    client.dns = vec![upstream.to_string()];
    let (code, out, err) = run_to_end(&engine, &client).await;
    assert_eq!(code, 0, "{out}{err}");
    let summaries: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "connect-summary")
        .collect();
    assert_eq!(summaries[0]["target"], named.as_str());
    assert_eq!(
        summaries[0]["backends"],
        serde_json::json!({"named-backend": 20}),
        "{out}"
    );
    let ip = engine.inspect_container(&id).await.unwrap().addresses[&network]
        .0
        .unwrap();
    assert_eq!(summaries[0]["address"], format!("{ip}:8080"));
    assert_eq!(summaries[1]["answered"], 0);
    assert_eq!(summaries[1]["errors"], 20, "{}", summaries[1]);
    assert!(
        summaries[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("failed to resolve"),
        "{}",
        summaries[1]
    );
    scope.teardown(&engine).await;
}
