//! Background probes, "during" windows and faults in the engine, against the fake backend's
//! stream (an attempt every 5 ms of real time, refused while an outage lasts): a window over
//! the outage sees its failures and its gap, one after it sees none; faults left in force are
//! undone at the variant's end, before the cleanup steps.

use super::engine_tests::{Fake, run, scenario};
use super::outcome::Status;

const OUTAGE: &str = "steps:
  - id: traffic
    probe:
      background: true
      connect: {from: host, targets: ['t:1'], interval: 5ms, perConnectionTimeout: 100ms}
  - id: calm
    sleep: 150ms
  - id: outage
    exec: {node: worker, command: [outage]}
  - sleep: 300ms
  - id: recover
    exec: {node: worker, command: [recover]}
  - id: after
    sleep: 150ms
  - stop: {probe: traffic}
";

fn failure(s: &Status) -> String {
    match s {
        Status::Failed { message, observed } => format!("{message} / {observed}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_window_over_an_outage_sees_its_failures_and_its_gap_and_one_after_it_none() {
    let (_t, s) = scenario(&format!(
        "{OUTAGE}  - assert:
      during: {{probe: traffic, from: outage, until: recover, minFailures: 20}}
  - assert:
      during: {{probe: traffic, from: after, until: end, maxFailures: 0, maxGap: 100ms, only: [pod-a, pod-b]}}
  - assert:
      during: {{probe: traffic, maxGap: 1s, firstSuccessWithin: 100ms, p99Below: 50ms}}
  - assert:
      during: {{probe: traffic, from: outage, until: recover, maxFailures: 0}}
"
    ));
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    let statuses: Vec<&Status> = r.steps.iter().map(|s| &s.status).collect();
    for (i, st) in statuses.iter().enumerate().take(10) {
        assert_eq!(**st, Status::Passed, "step {i}: {}", failure(st));
    }
    // The outage window: about 60 attempts refused, none answered.
    let e = r.steps[7].evidence.as_deref().unwrap();
    assert!(e.contains(" refused between +0.0 s and +0."), "{e}");
    // An attempt at the very start of the outage step may still be answered; the rest are not.
    let refused: u64 = e
        .split([':', ','])
        .find(|p| p.contains("refused"))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(refused >= 40, "{e}");
    let last = failure(statuses[10]);
    assert!(
        last.starts_with("at most 0 failed attempts: +0.0 s refused"),
        "{last}"
    );
    // Stopped once, and the report carries every window.
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| c.starts_with("end-stream"))
            .count(),
        1
    );
    let windows = r.probes["traffic"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 4);
    assert_eq!(windows[3]["held"], false);
    assert!(r.timelines["traffic"].attempts.len() > 60);
}

#[tokio::test]
async fn a_gap_longer_than_allowed_fails_with_where_it_was() {
    let (_t, s) = scenario(&format!(
        "{OUTAGE}  - assert:
      during: {{probe: traffic, maxGap: 100ms}}
"
    ));
    let r = run(&Fake::default(), &s).await;
    let f = failure(&r.steps[7].status);
    assert!(
        f.contains("no stretch over 100 ms without an answer (the longest: 3"),
        "{f}"
    );
}

#[tokio::test]
async fn a_probe_still_running_at_the_end_is_stopped_and_faults_left_are_undone() {
    let (_t, s) = scenario(
        "steps:
  - id: traffic
    probe:
      background: true
      connect: {from: host, targets: ['t:1'], interval: 5ms}
  - disconnect-node: worker2
  - netem: {node: worker, delay: 100ms, loss: 1%}
  - stop-kubelet: worker
  - start-kubelet: worker
  - kill-pods: {selector: app=web}
  - id: window
    sleep: 50ms
  - assert:
      during: {probe: traffic, from: window, until: window, maxFailures: 0}
cleanup:
  - exec: {node: control-plane, command: [cleanup]}
",
    );
    let fake = Fake::default();
    let r = run(&fake, &s).await;
    assert_eq!(r.status, Status::Passed, "{:?}", r.steps);
    let calls = fake.calls();
    let pos = |p: &str| {
        calls
            .iter()
            .position(|c| c.starts_with(p))
            .unwrap_or_else(|| panic!("no {p} in {calls:?}"))
    };
    assert!(pos("kill kp-s-1 app=web") > pos("fault kp-s-1-worker StartKubelet"));
    // At the end: the probe stops, then the faults still in force are undone, newest first,
    // then the cleanup steps run.
    assert!(pos("end-stream") < pos("fault kp-s-1-worker NetemClear"));
    assert!(pos("fault kp-s-1-worker NetemClear") < pos("reconnect kp-s-1-worker2"));
    assert!(pos("reconnect kp-s-1-worker2") < pos("exec kp-s-1-control-plane cleanup"));
    let undone: Vec<&str> = r.cleanup.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        undone,
        [
            "undo: netem worker",
            "undo: network worker2",
            "exec cleanup"
        ]
    );
    assert_eq!(
        calls.iter().filter(|c| c.contains("StartKubelet")).count(),
        1,
        "the kubelet was started by its pair, not again: {calls:?}"
    );
}
