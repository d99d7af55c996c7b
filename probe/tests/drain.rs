//! `serve --drain` as a process on 127.0.0.1: after SIGTERM a draining server still answers
//! new connections until its drain is over, then exits 0; `--drain 0` exits at once and the
//! port refuses from then on. Judged by what a client sees, with deadlines, never by timing.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound and released: the server takes it next).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `serve --tcp PORT --address 127.0.0.1 --drain DRAIN`, once it prints `listening`.
fn serve(port: u16, drain: &str) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kindproof-probe"))
        .args([
            "serve",
            "--tcp",
            &port.to_string(),
            "--address",
            "127.0.0.1",
        ])
        .args(["--drain", drain])
        .env("POD_NAME", "drainer")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve ended early");
    }
    (child, out)
}

/// What a fresh connection gets: the identity line, or the error.
fn answer(port: u16) -> std::io::Result<String> {
    let mut s =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

fn sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

/// Wait for `child` to exit, up to `deadline`.
fn exit_within(child: &mut Child, deadline: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("still running {deadline:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_draining_server_answers_after_sigterm_until_its_drain_ends() {
    let port = free_port();
    let (mut child, mut out) = serve(port, "3s");
    assert!(answer(port).unwrap().contains("drainer"));
    sigterm(&child);
    // The first connection's `served` line may come first.
    let mut line = String::new();
    while !line.contains("draining") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no draining line");
    }
    // Inside the drain: new connections are still answered, and the process still runs.
    for _ in 0..5 {
        let got = answer(port).expect("answered during the drain");
        assert!(got.contains("drainer"), "{got}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited inside its drain"
    );
    let status = exit_within(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(answer(port).is_err(), "nothing listens after the drain");
}

#[test]
fn drain_zero_exits_at_once_on_sigterm_and_refuses_from_then_on() {
    let port = free_port();
    let (mut child, _out) = serve(port, "0");
    assert!(answer(port).unwrap().contains("drainer"));
    sigterm(&child);
    let status = exit_within(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    let refused = answer(port).expect_err("refused after exit");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}
