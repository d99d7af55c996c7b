//! `kindproof image load` against ordinary containers standing in for kind nodes: they carry
//! kind's node labels and have `crictl`/`ctr` shell scripts that answer like the real tools, and
//! the fake `ctr` derives the image id from the archive it was sent on stdin, so the test proves
//! the real `docker save` archive arrived whole. Loading into a real cluster is in
//! `kind_cluster.rs` (needs kind).

use bytes::Bytes;
use kindproof::cluster::nodes::{CLUSTER_LABEL, ROLE_LABEL, kind_nodes};
use kindproof::docker::api::{ContainerSpec, Engine};
use kindproof::docker::bollard_engine::BollardEngine;

use crate::support::{RunScope, kindproof, probe_image, test_image, text};

const FAKE_CRICTL: &str = r#"#!/bin/sh
case "$1" in
inspecti)
  if [ -f /tmp/ctr/id ]; then printf '{"status":{"id":"%s"}}\n' "$(cat /tmp/ctr/id)"
  else echo "no such image \"$2\" present" >&2; exit 1; fi ;;
info) echo '{"config":{"containerd":{"snapshotter":"overlayfs"}}}' ;;
*) exit 2 ;;
esac
"#;

const FAKE_CTR: &str = r#"#!/bin/sh
busybox mkdir -p /tmp/ctr
echo "$@" > /tmp/ctr/args
cat > /tmp/ctr/image.tar
config=$(busybox tar -xOf /tmp/ctr/image.tar manifest.json | busybox sed -n 's/.*"Config":"\([0-9a-f]*\)\.json".*/\1/p')
[ -n "$config" ] || { echo "ctr: no manifest.json in the archive" >&2; exit 1; }
echo "sha256:$config" > /tmp/ctr/id
echo "unpacking (sha256:$config)...done"
"#;

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

async fn install(engine: &BollardEngine, node: &str, path: &str, script: &str) {
    let out = engine
        .exec(
            node,
            &sh(&format!("cat > {path} && busybox chmod 755 {path}")),
            Some(Bytes::from(script.to_string())),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.output());
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_exec_feeds_stdin_and_keeps_streams_and_exit_code_apart() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    let image = test_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let spec = ContainerSpec {
        name: format!("kp-test-{}-exec", scope.run_id),
        image,
        cmd: vec!["sleep".into(), "600".into()],
        labels: scope.labels(),
        network: Some(network),
        stop_timeout: Some(1),
        ..Default::default()
    };
    let id = engine.create_container(&spec).await.unwrap();
    engine.start_container(&id).await.unwrap();
    // 1 MiB through stdin: more than any pipe buffer, so feeding and reading must overlap.
    let input = "x".repeat(1 << 20);
    let out = engine
        .exec(
            &id,
            &sh("cat; echo oops >&2; exit 3"),
            Some(Bytes::from(input.clone())),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout.len(), input.len());
    assert_eq!(out.stderr, "oops\n");
    let out = engine.exec(&id, &sh("echo fine"), None).await.unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "fine\n"));
    scope.teardown(&engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_image_load_streams_the_saved_image_into_each_node_once() {
    let engine = BollardEngine::connect().await.unwrap();
    let scope = RunScope::new();
    let probe = probe_image(&engine).await;
    let busybox = test_image(&engine).await;
    let network = scope.network(&engine, true).await;
    let cluster = format!("kp-fake-{}", scope.run_id);
    for role in ["control-plane", "worker"] {
        let mut labels = scope.labels();
        labels.insert(CLUSTER_LABEL.into(), cluster.clone());
        labels.insert(ROLE_LABEL.into(), role.into());
        let spec = ContainerSpec {
            name: format!("{cluster}-{role}"),
            image: busybox.clone(),
            cmd: vec!["sleep".into(), "600".into()],
            labels,
            network: Some(network.clone()),
            stop_timeout: Some(1),
            ..Default::default()
        };
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        install(&engine, &id, "/bin/crictl", FAKE_CRICTL).await;
        install(&engine, &id, "/bin/ctr", FAKE_CTR).await;
    }
    let nodes = kind_nodes(&engine, &cluster).await.unwrap();
    let names: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.role.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (format!("{cluster}-control-plane").as_str(), "control-plane"),
            (format!("{cluster}-worker").as_str(), "worker")
        ]
    );

    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!(
            "{probe} on {cluster}-control-plane: loaded\n{probe} on {cluster}-worker: loaded\n"
        )
    );
    let id = engine.inspect_image(&probe).await.unwrap().unwrap().id;
    for node in &nodes {
        let got = engine
            .exec(&node.name, &sh("cat /tmp/ctr/args /tmp/ctr/id"), None)
            .await
            .unwrap();
        assert_eq!(
            got.stdout,
            format!(
                "--namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\n{id}\n"
            )
        );
        engine
            .exec(&node.name, &sh("busybox rm /tmp/ctr/args"), None)
            .await
            .unwrap();
    }

    // Second time: every node reports the image id, so nothing is sent.
    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("worker: already present"), "{out}");
    assert!(out.contains("control-plane: already present"), "{out}");
    for node in &nodes {
        let got = engine
            .exec(&node.name, &sh("test -e /tmp/ctr/args"), None)
            .await
            .unwrap();
        assert_eq!(got.exit_code, 1, "ctr ran again on {}", node.name);
    }

    // An image that is not local is refused before anything is sent (and never pulled).
    let o = kindproof()
        .args([
            "image",
            "load",
            "--cluster",
            &cluster,
            "--image",
            "kindproof-test/absent:0",
        ])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("failed to find image kindproof-test/absent:0 locally"),
        "{err}"
    );
    scope.teardown(&engine).await;
}

#[test]
fn docker_image_load_names_a_missing_cluster() {
    let o = kindproof()
        .args(["image", "load", "--cluster", "kp-no-such-cluster"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("failed to find the nodes of kind cluster kp-no-such-cluster"),
        "{err}"
    );
}
