//! Tests that need a running kind cluster. This machine has no `kindest/node` image, so they are
//! ignored here and run where one is present locally (`KINDPROOF_NODE_IMAGE` names it; nothing
//! is pulled): `cargo nextest run --run-ignored only`.

use std::process::Command;

use kindproof::cluster::nodes::kind_nodes;
use kindproof::docker::api::Engine;
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::docker::labels::new_run_id;

use crate::support::{kind_bin, kindproof, probe_image, text};

/// A kind cluster for one test, deleted on drop.
struct Cluster {
    name: String,
}

impl Cluster {
    async fn create(engine: &BollardEngine) -> Self {
        let image = std::env::var("KINDPROOF_NODE_IMAGE")
            .expect("KINDPROOF_NODE_IMAGE names a local kindest/node image");
        assert!(
            engine.inspect_image(&image).await.unwrap().is_some(),
            "{image} is not a local image; kindproof tests never pull"
        );
        let name = format!("kp-test-{}", new_run_id());
        let o = Command::new(kind_bin())
            .args([
                "create", "cluster", "--name", &name, "--image", &image, "--wait", "120s",
            ])
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        Self { name }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(kind_bin())
            .args(["delete", "cluster", "--name", &self.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs kind"]
async fn kind_image_load_makes_the_probe_image_visible_to_the_nodes_cri() {
    let engine = BollardEngine::connect().await.unwrap();
    let probe = probe_image(&engine).await;
    let cluster = Cluster::create(&engine).await;
    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster.name])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(": loaded"), "{out}");
    let id = engine.inspect_image(&probe).await.unwrap().unwrap().id;
    for node in kind_nodes(&engine, &cluster.name).await.unwrap() {
        let got = engine
            .exec(
                &node.name,
                &["crictl".into(), "inspecti".into(), probe.clone()],
                None,
            )
            .await
            .unwrap();
        assert!(got.stdout.contains(&id), "{}: {}", node.name, got.output());
    }
    let o = kindproof()
        .args(["image", "load", "--cluster", &cluster.name])
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert!(
        out.contains(": already present") && !out.contains(": loaded"),
        "{out}"
    );
}
