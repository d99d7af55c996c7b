//! Node faults through Docker on a fake-kind cluster: `stop-kubelet` runs `systemctl` in the
//! node (a stand-in that records its calls) and its pair runs at the variant's end, since
//! nothing started the kubelet again; a `netem` the node cannot do (this kernel has no
//! sch_netem) is an infrastructure error naming the command and what tc said, not a test
//! failure, and leaves nothing to undo.

use kindproof::docker::api::Engine;
use kindproof::docker::bollard_engine::BollardEngine;

use crate::docker_clusters::World;
use crate::support::text;

const SCENARIO: &str = r#"apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: faults
summary: node faults through Docker
cluster:
  config: three.yaml
variants:
  - name: kubelet
    expect: stop-kubelet runs systemctl in the node, and start at the variant's end
    steps:
      - exec:
          node: worker
          command:
            - sh
            - -c
            - |
              printf '#!/bin/sh\necho "$*" >> /tmp/systemctl.log\n' > /bin/systemctl
              chmod +x /bin/systemctl
      - stop-kubelet: worker
      - id: log
        exec: {node: worker, command: [cat, /tmp/systemctl.log]}
      - assert: {result: {step: log, stdoutContains: stop kubelet}}
  - name: netem
    expect: a delay on the worker's interface
    steps:
      - netem: {node: worker, delay: 200ms}
      - sleep: 1s
"#;

#[tokio::test(flavor = "multi_thread")]
async fn docker_faults_kubelet_is_undone_at_the_end_and_a_netem_the_node_cannot_do_is_broken() {
    let engine = BollardEngine::connect().await.unwrap();
    let w = World::new(&engine).await;
    let name = w.cluster(1);
    let o = w.up(&name).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.scenario("faults", SCENARIO);
    let (code, out, report) = w.run_reporting(&name, 2);
    // One variant passed, one could not run its fault: an infrastructure error.
    assert_eq!(code, Some(3), "{out}");
    let variant = |v: &str| crate::support::variant_report(&report, v).clone();
    let kubelet = variant("kubelet");
    assert_eq!(kubelet["status"], "passed", "{kubelet}\n{out}");
    // The stand-in in the node saw the stop, then the start the variant's end ran for it.
    let worker = kindproof::cluster::nodes::kind_nodes(&engine, &name)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.container.name.ends_with("-worker"))
        .expect("a worker node");
    let log = engine
        .exec(
            &worker.container.id,
            &["cat".into(), "/tmp/systemctl.log".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(log.stdout, "stop kubelet\nstart kubelet\n", "{out}");

    let netem = variant("netem");
    assert_eq!(netem["status"], "broken", "{netem}\n{out}");
    let step = &netem["steps"][0];
    let message = step["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`tc qdisc replace dev eth0 root netem delay 200ms` in node"),
        "{step}"
    );
    // Nothing was put on the interface: nothing is left to undo, and no qdisc is there.
    let qdisc = engine
        .exec(
            &worker.container.id,
            &[
                "tc".into(),
                "qdisc".into(),
                "show".into(),
                "dev".into(),
                "eth0".into(),
            ],
            None,
        )
        .await
        .unwrap();
    assert!(!qdisc.stdout.contains("netem"), "{}", qdisc.stdout);
    let o = w.cmd().args(["down", &name]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    w.teardown(&engine, &[name]).await;
}
