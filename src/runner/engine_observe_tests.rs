//! The engine's observation over time against a fake backend: probe assertions that run their
//! probe again round by round (only the judged target), settle windows for checks that forbid,
//! dns timelines judged once, and waits after a restart or pause that ignore a status from
//! before it.

use std::time::Duration;

use serde_json::json;

use super::engine_tests::{Fake, run, scenario};
use super::outcome::Status;

fn connect_line(target: &str, backends: &[(&str, u64)], refused: u64, closed: u64) -> String {
    let answered: u64 = backends.iter().map(|(_, n)| n).sum();
    json!({"event": "connect-summary", "target": target,
        "attempts": answered + refused + closed, "answered": answered,
        "backends": backends.iter().map(|(k, v)| (k.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "refused": refused, "closed": closed})
    .to_string()
}

#[tokio::test(start_paused = true)]
async fn a_routing_assertion_runs_its_probe_again_until_it_holds_and_reports_each_round() {
    let (_t, s) = scenario(
        "steps:
  - id: conn
    probe:
      connect: {from: host, targets: ['127.0.0.1:9'], count: 10}
  - assert:
      routing: {probe: conn, target: '127.0.0.1:9', includes: [pod-a]}
    timeout: 30s
",
    );
    let fake = Fake::default();
    fake.probe_rounds.lock().unwrap().extend([
        connect_line("127.0.0.1:9", &[], 10, 0),
        connect_line("127.0.0.1:9", &[], 0, 10),
    ]);
    *fake.probe_stdout.lock().unwrap() = connect_line("127.0.0.1:9", &[("pod-a", 10)], 0, 0);
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed);
    let probes = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("probe@host"))
        .count();
    assert_eq!(probes, 3, "{:?}", fake.calls());
    let rounds = &r.steps[1].rounds;
    let seen: Vec<(&str, bool)> = rounds
        .iter()
        .map(|r| (r.observed.as_str(), r.held))
        .collect();
    assert_eq!(
        seen,
        [
            ("0 of 10 answered: 10 refused", false),
            ("0 of 10 answered: 10 closed without an answer", false),
            ("10 of 10 answered: pod-a 10", true),
        ]
    );
    // The report's probe result is the round that held.
    assert_eq!(r.probes["conn"][0]["backends"]["pod-a"], 10);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_answers_fails_at_the_deadline_with_the_last_observation() {
    let (_t, s) = scenario(
        "steps:
  - id: conn
    probe:
      connect: {from: host, targets: ['127.0.0.1:9'], count: 10}
  - assert:
      routing: {probe: conn, target: '127.0.0.1:9', includes: [pod-a]}
    timeout: 5s
",
    );
    let fake = Fake::default();
    fake.probe_rounds
        .lock()
        .unwrap()
        .push_back(connect_line("127.0.0.1:9", &[], 10, 0));
    *fake.probe_stdout.lock().unwrap() = connect_line("127.0.0.1:9", &[], 4, 6);
    let r = run(&fake, &s).await;
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "127.0.0.1:9: pod-a answers");
            assert_eq!(
                observed,
                "0 of 10 answered: 4 refused, 6 closed without an answer"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(r.steps[1].rounds.len() > 2, "{:?}", r.steps[1].rounds);
    assert!(r.steps[1].rounds.iter().all(|r| !r.held));
}

#[tokio::test(start_paused = true)]
async fn an_only_assertion_must_hold_over_its_settle_window() {
    let head = "steps:
  - id: conn
    probe:
      connect: {from: host, targets: ['127.0.0.1:9'], count: 40}
  - assert:
      routing: {probe: conn, target: '127.0.0.1:9', only: [pod-a]";
    // A second backend that shows up in the second round fails it (one round passed before).
    let (_t, s) = scenario(&format!("{head}}}\n    timeout: 4s\n"));
    let fake = Fake::default();
    fake.probe_rounds.lock().unwrap().push_back(connect_line(
        "127.0.0.1:9",
        &[("pod-a", 40)],
        0,
        0,
    ));
    *fake.probe_stdout.lock().unwrap() =
        connect_line("127.0.0.1:9", &[("pod-a", 22), ("pod-b", 18)], 0, 0);
    let r = run(&fake, &s).await;
    match &r.status {
        Status::Failed { message, observed } => {
            assert_eq!(message, "127.0.0.1:9: only pod-a answer");
            assert_eq!(observed, "40 of 40 answered: pod-a 22, pod-b 18");
        }
        other => panic!("{other:?}"),
    }
    let rounds = &r.steps[1].rounds;
    assert!(rounds[0].held && !rounds[1].held, "{rounds:?}");
    assert!(rounds[1].at - rounds[0].at >= 1.0, "{rounds:?}");

    // Holding all along, it passes after two rounds a second apart; with settle: 3s, after
    // rounds spanning three seconds.
    for (extra, want_rounds, want_span) in [("", 2, 1.0), (", settle: 3s", 4, 3.0)] {
        let (_t, s) = scenario(&format!("{head}{extra}}}\n    timeout: 10s\n"));
        let fake = Fake::default();
        *fake.probe_stdout.lock().unwrap() = connect_line("127.0.0.1:9", &[("pod-a", 40)], 0, 0);
        let r = run(&fake, &s).await;
        assert_eq!(r.status, Status::Passed, "{extra}");
        let rounds = &r.steps[1].rounds;
        assert_eq!(rounds.len(), want_rounds, "{extra}: {rounds:?}");
        let span = rounds.last().unwrap().at - rounds[0].at;
        assert!(
            span >= want_span && span < want_span + 0.5,
            "{extra}: {span}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_dns_timeline_is_judged_once_and_a_sampled_name_is_observed_again() {
    let (_t, s) = scenario(
        "steps:
  - id: long
    probe:
      dns: {from: host, name: peer, until: until-resolved}
  - assert:
      dns: {probe: long, resolved: true}
    timeout: 5s
",
    );
    let fake = Fake::default();
    *fake.probe_stdout.lock().unwrap() = r#"{"event":"dns-summary","name":"peer","resolved":false,"attempts":100,"started":"2026-12-01T19:00:00.000Z","first_success":null}"#.into();
    let r = run(&fake, &s).await;
    assert!(matches!(r.status, Status::Failed { .. }), "{:?}", r.status);
    assert_eq!(
        fake.calls().len(),
        1,
        "one long observation: {:?}",
        fake.calls()
    );

    let (_t, s) = scenario(
        "steps:
  - id: once
    probe:
      dns: {from: host, name: peer, until: once}
  - assert:
      dns: {probe: once, resolved: true}
    timeout: 5s
",
    );
    let fake = Fake::default();
    fake.probe_rounds.lock().unwrap().push_back(r#"{"event":"dns-summary","name":"peer","resolved":false,"attempts":1,"started":"2026-12-01T19:00:00.000Z","first_success":null}"#.into());
    *fake.probe_stdout.lock().unwrap() = r#"{"event":"dns-summary","name":"peer","resolved":true,"attempts":1,"started":"2026-12-01T19:00:01.000Z","first_success":"2026-12-01T19:00:01.010Z"}"#.into();
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed);
    assert_eq!(r.steps[1].rounds.len(), 2);
}

fn stamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[tokio::test]
async fn a_wait_after_a_restart_ignores_a_ready_from_before_it() {
    let (_t, s) = scenario(
        "steps:
  - restart-node: worker
  - wait: {pods: {selector: app=web, ready: true}}
    timeout: 5s
",
    );
    let now = std::time::SystemTime::now();
    let pod = |ready_at: std::time::SystemTime, node: &str| {
        json!({"metadata": {"name": "web"}, "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready_at)}]}})
    };
    let before = now - Duration::from_secs(60);
    let fake = Fake::default();
    // Three looks at the pre-restart status, then the kubelet's fresh one.
    fake.pods.lock().unwrap().extend([
        vec![pod(before, "kp-s-1-worker")],
        vec![pod(before, "kp-s-1-worker")],
        vec![pod(before, "kp-s-1-worker")],
        vec![pod(now + Duration::from_secs(5), "kp-s-1-worker")],
    ]);
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed);
    let looks = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("pods"))
        .count();
    assert_eq!(
        looks,
        4,
        "the stale Ready was not believed: {:?}",
        fake.calls()
    );
    let e = r.steps[1].evidence.as_deref().unwrap();
    assert!(e.starts_with("web: Ready condition changed at"), "{e}");
    assert!(e.contains("after the restart of kp-s-1-worker"), "{e}");

    // It never comes: the failure says why the Ready did not count.
    let fake = Fake::default();
    fake.pods
        .lock()
        .unwrap()
        .push_back(vec![pod(before, "kp-s-1-worker")]);
    let r = run(&fake, &s).await;
    match &r.status {
        Status::Failed { observed, .. } => assert!(
            observed.contains(
                "not counted: web's status predates the end of the restart of kp-s-1-worker"
            ),
            "{observed}"
        ),
        other => panic!("{other:?}"),
    }
    // A pod on another node is not held to the restart.
    let fake = Fake::default();
    fake.pods
        .lock()
        .unwrap()
        .push_back(vec![pod(before, "kp-s-1-worker2")]);
    assert_eq!(run(&fake, &s).await.status, Status::Passed);
}

#[tokio::test]
async fn a_wait_for_nodes_after_a_pause_needs_a_lease_renewed_since() {
    let (_t, s) = scenario(
        "steps:
  - pause-node: {node: worker, for: 0s}
  - wait: {nodes: {ready: true}}
    timeout: 300ms
",
    );
    let old = std::time::SystemTime::now() - Duration::from_secs(30);
    let fake = Fake::default();
    fake.leases
        .lock()
        .unwrap()
        .insert("kp-s-1-worker".into(), stamp(old));
    let r = run(&fake, &s).await;
    match &r.status {
        Status::Failed { observed, .. } => {
            assert!(
                observed.contains("kp-s-1-worker: its kubelet has not renewed"),
                "{observed}"
            )
        }
        other => panic!("{other:?}"),
    }
    let fake = Fake::default();
    fake.leases.lock().unwrap().insert(
        "kp-s-1-worker".into(),
        stamp(std::time::SystemTime::now() + Duration::from_secs(2)),
    );
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed);
    assert!(
        r.steps[1]
            .evidence
            .as_deref()
            .unwrap()
            .contains("kubelet lease renewed"),
        "{:?}",
        r.steps[1].evidence
    );
}

#[tokio::test(start_paused = true)]
async fn only_the_judged_target_is_probed_again_and_the_others_keep_their_result() {
    let (_t, s) = scenario(
        "steps:
  - id: conn
    probe:
      connect: {from: host, targets: ['127.0.0.1:8', '127.0.0.1:9'], count: 10}
  - assert:
      routing: {probe: conn, target: '127.0.0.1:9', includes: [pod-b]}
    timeout: 10s
  - assert:
      routing: {probe: conn, target: '127.0.0.1:8', includes: [pod-a]}
",
    );
    let fake = Fake::default();
    fake.probe_rounds.lock().unwrap().push_back(
        [
            connect_line("127.0.0.1:8", &[("pod-a", 10)], 0, 0),
            connect_line("127.0.0.1:9", &[], 10, 0),
        ]
        .join("\n"),
    );
    *fake.probe_stdout.lock().unwrap() = connect_line("127.0.0.1:9", &[("pod-b", 10)], 0, 0);
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed, "{:?}", r.steps);
    let probes: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("probe@"))
        .collect();
    assert_eq!(
        probes,
        [
            "probe@host connect --target 127.0.0.1:8 --target 127.0.0.1:9 --count 10 --concurrency 4 --timeout 2000ms --proto tcp",
            "probe@host connect --target 127.0.0.1:9 --count 10 --concurrency 4 --timeout 2000ms --proto tcp",
        ]
    );
    assert_eq!(r.probes["conn"][0]["backends"]["pod-a"], 10);
    assert_eq!(r.probes["conn"][1]["backends"]["pod-b"], 10);
}
