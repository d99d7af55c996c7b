//! `kindproof-fake-kind`: a test-only stand-in for the kind CLI. It does to Docker what kind does
//! — node containers named `<cluster>-control-plane`, `<cluster>-worker`, … with kind's labels,
//! on kind's network, publishing the config's port mappings (hostPort ≤ 0: Docker picks) and
//! the API server port — but runs no Kubernetes: the nodes run the image given with `--image`
//! (a local busybox in the tests) and sleep. It never pulls (bollard create does not pull).
//!
//! Knobs: `FAKE_KIND_LOG` (append each invocation's arguments), `FAKE_KIND_NODE_DELAY_MS`
//! (pause before each node, to interrupt a create midway), `FAKE_KIND_VERSION`,
//! `FAKE_KIND_DEFAULT_IMAGE` (the node image when `--image` is not given),
//! `FAKE_KIND_PORT_TAKEN_ONCE=<file>` (the first create, while `<file>` does not exist yet,
//! fails as Docker does when a host port was taken meanwhile).
//! Like kind, it does not clean up when it is killed midway.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use kindproof::cluster::kind_network::network_name;
use kindproof::cluster::nodes::{CLUSTER_LABEL, ROLE_LABEL, kind_nodes};
use kindproof::docker::api::{ContainerSpec, Engine, NetworkSpec, Publish};
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::kind_config::defaults::{node_short_names, with_defaults};
use kindproof::kind_config::load::load_file;
use kindproof::kind_config::model::Protocol;

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            let prefix = format!("{name}=");
            args.iter()
                .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
        })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(log) = std::env::var_os("FAKE_KIND_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    {
        let _ = writeln!(f, "{}", args.join(" "));
    }
    let words: Vec<&str> = args
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let result = match words.as_slice() {
        ["version"] => {
            let v = std::env::var("FAKE_KIND_VERSION").unwrap_or_else(|_| "0.33.0".into());
            println!("kind v{v} go1.24.4 linux/amd64");
            Ok(())
        }
        ["create", "cluster"] => create(&args).await,
        ["delete", "cluster"] => delete(&args).await,
        ["get", "clusters"] => get_clusters().await,
        ["export", "kubeconfig"] => export_kubeconfig(&args).await,
        _ => Err(format!("fake kind: unsupported command {args:?}")),
    };
    if let Err(e) = result {
        eprintln!("ERROR: {e}");
        std::process::exit(1);
    }
}

async fn engine() -> Result<BollardEngine, String> {
    BollardEngine::connect().await.map_err(|e| e.to_string())
}

async fn create(args: &[String]) -> Result<(), String> {
    let name = flag(args, "--name").unwrap_or_else(|| "kind".into());
    let image = flag(args, "--image")
        .or_else(|| std::env::var("FAKE_KIND_DEFAULT_IMAGE").ok())
        .ok_or("fake kind needs --image (or FAKE_KIND_DEFAULT_IMAGE)")?;
    let config = match flag(args, "--config") {
        Some(path) => {
            load_file(Path::new(&path))
                .map_err(|e| e.to_string())?
                .cluster
        }
        None => kindproof::kind_config::load::load_str(
            Path::new("default"),
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
        )
        .map_err(|e| e.to_string())?,
    };
    let config = with_defaults(&config);
    if let Some(marker) = std::env::var_os("FAKE_KIND_PORT_TAKEN_ONCE")
        && std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .is_ok()
    {
        return Err(format!(
            "failed to start container {name}-worker: Docker responded with status code 500: driver failed programming external connectivity on endpoint {name}-worker: Bind for 127.0.0.1:32797 failed: port is already allocated"
        ));
    }
    let engine = engine().await?;
    if !kind_nodes(&engine, &name)
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Err(format!(
            "node(s) already exist for a cluster with the name \"{name}\""
        ));
    }
    let network = network_name();
    let found = engine
        .networks_named(&network)
        .await
        .map_err(|e| e.to_string())?;
    match found.len() {
        0 => {
            engine
                .create_network(&NetworkSpec {
                    name: network.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
        }
        1 => {}
        _ => {
            return Err(format!(
                "network {network} is ambiguous ({} networks)",
                found.len()
            ));
        }
    }
    let delay = std::env::var("FAKE_KIND_NODE_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .map(Duration::from_millis);
    let mut api_port = None;
    for (node, short) in config.nodes.iter().zip(node_short_names(&config)) {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let role = node
            .role
            .as_ref()
            .map(|r| r.value.clone())
            .unwrap_or_else(|| "control-plane".into());
        let node_name = format!("{name}-{short}");
        let mut publish: Vec<Publish> = node
            .extra_port_mappings
            .iter()
            .map(|m| Publish {
                container_port: m.container_port.as_ref().map_or(0, |p| p.value) as u16,
                protocol: m
                    .protocol
                    .as_ref()
                    .and_then(|p| Protocol::parse(&p.value))
                    .unwrap_or(Protocol::Tcp),
                host_ip: m
                    .listen_address
                    .as_ref()
                    .map_or("0.0.0.0", |a| a.value.as_str())
                    .parse()
                    .expect("a listen address"),
                host_port: m
                    .host_port
                    .as_ref()
                    .map(|p| p.value)
                    .filter(|p| *p > 0)
                    .map(|p| p as u16),
            })
            .collect();
        let first_control_plane = short == "control-plane";
        if first_control_plane {
            publish.push(Publish {
                container_port: 6443,
                protocol: Protocol::Tcp,
                host_ip: "127.0.0.1".parse().unwrap(),
                host_port: None,
            });
        }
        let spec = ContainerSpec {
            name: node_name.clone(),
            image: image.clone(),
            cmd: vec!["sleep".into(), "86400".into()],
            labels: HashMap::from([
                (CLUSTER_LABEL.to_string(), name.clone()),
                (ROLE_LABEL.to_string(), role.clone()),
            ]),
            publish,
            network: Some(network.clone()),
            stop_timeout: Some(1),
            ..Default::default()
        };
        let id = engine
            .create_container(&spec)
            .await
            .map_err(|e| e.to_string())?;
        engine
            .start_container(&id)
            .await
            .map_err(|e| e.to_string())?;
        if first_control_plane {
            let info = engine
                .inspect_container(&id)
                .await
                .map_err(|e| e.to_string())?;
            api_port = info
                .published
                .iter()
                .find(|p| p.container_port == 6443)
                .map(|p| p.host_port);
        }
    }
    if let Some(path) = flag(args, "--kubeconfig") {
        let port = api_port.ok_or("no control-plane node")?;
        std::fs::write(&path, kubeconfig(&name, port)).map_err(|e| format!("write {path}: {e}"))?;
    }
    eprintln!("Creating cluster \"{name}\" ...\n ✓ Ready (fake)");
    Ok(())
}

async fn delete(args: &[String]) -> Result<(), String> {
    let name = flag(args, "--name").unwrap_or_else(|| "kind".into());
    let engine = engine().await?;
    eprintln!("Deleting cluster \"{name}\" ...");
    for node in kind_nodes(&engine, &name)
        .await
        .map_err(|e| e.to_string())?
    {
        engine
            .remove_container(&node.container.id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn get_clusters() -> Result<(), String> {
    let engine = engine().await?;
    let mut names: Vec<String> = engine
        .list_containers(CLUSTER_LABEL)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|c| c.labels.get(CLUSTER_LABEL).cloned())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        eprintln!("No kind clusters found.");
    }
    for n in names {
        println!("{n}");
    }
    Ok(())
}

fn kubeconfig(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:{port}\n  name: kind-{name}\ncontexts:\n- context:\n    cluster: kind-{name}\n    user: kind-{name}\n  name: kind-{name}\ncurrent-context: kind-{name}\nusers:\n- name: kind-{name}\n  user: {{}}\n"
    )
}

/// As kind: to --kubeconfig, else $KUBECONFIG, else ~/.kube/config (the fake overwrites where
/// kind merges).
async fn export_kubeconfig(args: &[String]) -> Result<(), String> {
    let name = flag(args, "--name").unwrap_or_else(|| "kind".into());
    let engine = engine().await?;
    let port = kind_nodes(&engine, &name)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .flat_map(|n| n.container.published.iter())
        .find(|p| p.container_port == 6443)
        .map(|p| p.host_port)
        .ok_or_else(|| {
            format!("could not locate any control plane nodes for cluster named '{name}'")
        })?;
    let path = flag(args, "--kubeconfig")
        .or_else(|| std::env::var("KUBECONFIG").ok())
        .unwrap_or_else(|| format!("{}/.kube/config", std::env::var("HOME").unwrap_or_default()));
    if let Some(dir) = Path::new(&path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&path, kubeconfig(&name, port)).map_err(|e| format!("write {path}: {e}"))?;
    eprintln!("Set kubectl context to \"kind-{name}\"");
    Ok(())
}
