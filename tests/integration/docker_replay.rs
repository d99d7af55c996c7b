//! Replay from a diagnostics bundle on fake-kind: a variant that fails leaves `replay.json`
//! (scenario, variant, node image, variables as resolved, the kind config as handed to kind)
//! and a copy of its scenario in its bundle; with the original scenario gone, `kindproof
//! replay BUNDLE` makes that shape again from that image, runs that one variant, gets the
//! same failure, and keeps the cluster, saying how to reach it.

use kindproof::docker::api::Engine;
use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::{text, variant_report};

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: replayed
summary: a variant that fails, to be replayed
cluster:
  config: three.yaml
variables:
  code: "3"
variants:
  - name: passes
    expect: nothing to replay
    steps:
      - exec: {node: worker, command: [sh, -c, 'exit 0']}
  - name: fails
    expect: the worker's command succeeds (it ends with the code the variant names)
    variables:
      code: "7"
    steps:
      - exec: {node: worker, command: [sh, -c, 'exit ${code}']}
"#;

/// The failing step's message in `out` (the terminal's lines for `replayed/fails`), without
/// the timings around it: "`sh -c exit 7` exited 7, expected 0".
fn failure(out: &str) -> String {
    out.lines()
        .skip_while(|l| !l.contains("FAIL  replayed/fails"))
        .find(|l| l.contains(" exited "))
        .unwrap_or_else(|| panic!("no failure line: {out}"))
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_replay_runs_a_failed_variant_again_from_its_bundle_alone() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    w.scenario("replayed", SCENARIO);
    let (code, out, report) = w.run_with(&["--image", &w.image]);
    assert_eq!(code, Some(1), "{out}");
    let first = failure(&out);
    assert_eq!(first, "`sh -c exit 7` exited 7, expected 0", "{out}");
    let fails = variant_report(&report, "fails");
    let bundle = w
        .tmp
        .path()
        .join(fails["diagnostics"].as_str().expect("a bundle"));
    assert!(variant_report(&report, "passes")["diagnostics"].is_null());

    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("replay.json")).unwrap()).unwrap();
    assert_eq!(record["scenario"], "replayed");
    assert_eq!(record["variant"], "fails");
    assert_eq!(record["node_image"], w.image.as_str());
    let id = engine.inspect_image(&w.image).await.unwrap().unwrap().id;
    assert_eq!(record["node_image_id"], id.as_str());
    assert_eq!(record["variables"]["code"], "7");
    assert!(
        record["kind_config"]
            .as_str()
            .is_some_and(|c| c.contains("kind: Cluster")),
        "{record}"
    );
    assert!(bundle.join("replay/replayed/scenario.yaml").is_file());
    assert!(bundle.join("replay/replayed/three.yaml").is_file());

    // The bundle alone: the scenario it came from is gone.
    std::fs::remove_dir_all(w.tmp.path().join("scenarios")).unwrap();
    let o = w.cmd().arg("replay").arg(&bundle).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains(&format!(
            "kindproof: replaying replayed/fails (recorded by kindproof {}, node image {})",
            env!("CARGO_PKG_VERSION"),
            w.image
        )),
        "{err}"
    );
    assert_eq!(failure(&out), first, "{out}");
    assert!(!out.contains("replayed/passes"), "only that variant: {out}");
    // Kept, with how to reach it; then removed by `down`.
    let kept = err
        .split("kindproof: kept cluster ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("not kept: {err}"))
        .to_string();
    assert!(
        err.contains(&format!("`kindproof down {kept}` removes it")),
        "{err}"
    );
    assert_eq!(
        kindproof::cluster::nodes::kind_nodes(&engine, &kept)
            .await
            .unwrap()
            .len(),
        3
    );
    let o = w.cmd().args(["down", &kept]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(w.nodes_on_network(&engine).await.is_empty());
    w.teardown(&engine, &[]).await;
}
