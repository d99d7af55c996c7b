//! A node-image matrix on fake-kind: two local "node images" (the busybox test image tagged
//! `v1.31.0` and `v1.36.2`) make `run --image A --image B` run every variant once per image,
//! each image's shape its own cluster, `when: kubernetes` gates judged per image (from its
//! tag: these variants need no API server), names carrying the image (`any@v1.31.0`) in the
//! terminal, JUnit and JSON, and a table variant × image at the end.

use std::process::Command;

use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::{text, variant_report};

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: matrix
summary: one suite over two node images
cluster:
  config: three.yaml
variants:
  - name: any
    expect: runs on every image
    steps:
      - exec: {node: worker, command: [sh, -c, 'exit 0']}
  - name: new-only
    expect: runs where Kubernetes is 1.32 or newer
    when: {kubernetes: ">=1.32"}
    steps:
      - exec: {node: worker, command: [sh, -c, 'exit 0']}
  - name: old-only
    expect: runs where Kubernetes is older than 1.32, and fails there
    when: {kubernetes: "<1.32"}
    steps:
      - exec: {node: worker, command: [sh, -c, 'exit 3']}
"#;

/// Tags of the test image, removed again on drop (the image itself stays for other tests).
struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = Command::new("docker").args(["rmi", t]).output();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_matrix_runs_each_variant_per_image_with_its_gates_and_a_table() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let repo = format!("kindproof-test/node-{}", w.scope.run_id);
    let tags = Tags(vec![format!("{repo}:v1.31.0"), format!("{repo}:v1.36.2")]);
    for t in &tags.0 {
        let o = Command::new("docker")
            .args(["tag", &w.image, t])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o).1);
    }
    w.scenario("matrix", SCENARIO);
    let junit = w.tmp.path().join("junit.xml");
    let junit_arg = junit.display().to_string();
    let (code, out, report) = w.run_with(&[
        "-j",
        "2",
        "--image",
        &tags.0[0],
        "--image",
        &tags.0[1],
        "--report-junit",
        &junit_arg,
    ]);
    // old-only fails on v1.31.0: the run fails.
    assert_eq!(code, Some(1), "{out}");
    let status = |v: &str| {
        let r = variant_report(&report, v);
        assert!(r["status"].is_string(), "{r}");
        r["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status("any@v1.31.0"), "passed");
    assert_eq!(status("any@v1.36.2"), "passed");
    assert_eq!(status("new-only@v1.31.0"), "skipped");
    assert_eq!(status("new-only@v1.36.2"), "passed");
    assert_eq!(status("old-only@v1.31.0"), "failed");
    assert_eq!(status("old-only@v1.36.2"), "skipped");
    assert_eq!(
        variant_report(&report, "any@v1.36.2")["node_image"],
        tags.0[1].as_str()
    );
    assert_eq!(report["variants"].as_array().unwrap().len(), 6, "{report}");
    // JUnit names carry the image.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("any@v1.31.0") && xml.contains("any@v1.36.2"),
        "{xml}"
    );
    // The table, in the order the images were given.
    let table = out
        .split("matrix (2 images):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no table: {out}"));
    let rows: Vec<Vec<&str>> = table
        .lines()
        .take(4)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["variant", "v1.31.0", "v1.36.2"],
            vec!["matrix/any", "passed", "passed"],
            vec!["matrix/new-only", "skipped", "passed"],
            vec!["matrix/old-only", "FAILED", "skipped"],
        ],
        "{out}"
    );
    // One cluster per image, each made from its image, and both gone.
    let log = std::fs::read_to_string(w.log()).unwrap();
    for t in &tags.0 {
        let made = log
            .lines()
            .filter(|l| l.starts_with("create cluster") && l.contains(&format!("--image {t} ")))
            .count();
        assert_eq!(made, 1, "{t}: {log}");
    }
    assert!(w.nodes_on_network(&engine).await.is_empty());
    w.teardown(&engine, &[]).await;
}
