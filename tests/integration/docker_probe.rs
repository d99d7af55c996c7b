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
