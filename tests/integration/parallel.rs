//! Parallel jobs on one host: concurrent `kindproof ports --hold` processes, each resolving a
//! config with 8 random ports and holding the reservations, never share a port.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use crate::support::{kindproof, text};

const PROCESSES: usize = 16;
const PORTS_EACH: usize = 8;

#[test]
fn concurrent_processes_get_distinct_ports() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("eight.yaml");
    let mut body = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n",
    );
    for i in 0..PORTS_EACH {
        body.push_str(&format!(
            "  - containerPort: {}\n    listenAddress: 127.0.0.1\n",
            8000 + i
        ));
    }
    std::fs::write(&config, body).unwrap();

    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            kindproof()
                .env("KINDPROOF_RUNTIME_DIR", tmp.path())
                .args(["ports", "--json", "--hold", "--kind-version", "0.33.0"])
                .arg(&config)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Every process prints its ports once they are reserved, and holds them until its stdin
    // closes: read all outputs while all of them hold.
    let mut all = Vec::new();
    for child in &mut children {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad output {line:?}: {e}"));
        for m in v["mappings"].as_array().unwrap() {
            all.push(m["hostPort"].as_u64().unwrap());
        }
    }
    let held = std::fs::read_dir(tmp.path().join("ports")).unwrap().count();
    assert_eq!(
        held,
        PROCESSES * PORTS_EACH,
        "one reservation per port while held"
    );
    for mut child in children {
        child.stdin.take().unwrap().flush().unwrap();
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    }
    assert_eq!(all.len(), PROCESSES * PORTS_EACH);
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "a port was handed out twice: {all:?}"
    );
    let left = std::fs::read_dir(tmp.path().join("ports")).unwrap().count();
    assert_eq!(left, 0, "reservations left behind");
}

#[test]
fn a_held_reservation_ends_on_sigterm_with_exit_130() {
    held_reservation_ends_on(libc::SIGTERM);
}

/// A closed terminal or a Ctrl-\ is an orderly stop too: no lock file is left forever.
#[test]
fn a_held_reservation_ends_on_sighup_and_sigquit_with_exit_130() {
    held_reservation_ends_on(libc::SIGHUP);
    held_reservation_ends_on(libc::SIGQUIT);
}

fn held_reservation_ends_on(signal: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = kindproof()
        .env("KINDPROOF_RUNTIME_DIR", tmp.path())
        .args(["ports", "--json", "--hold", "--kind-version", "0.33.0"])
        .arg(crate::support::root().join("kind-configs/two-random-tcp.yaml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        std::fs::read_dir(tmp.path().join("ports")).unwrap().count(),
        2
    );
    // Keep stdin open past `wait` (which would close it): the signal alone must end the hold.
    let stdin = child.stdin.take();
    // SAFETY: kill with a valid pid of our own child and a valid signal.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.code(), Some(130), "after signal {signal}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("ports")).unwrap().count(),
        0,
        "reservations left after signal {signal}"
    );
}
