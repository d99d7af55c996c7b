//! Hostile input, class by class: what must never happen (overwriting or deleting what is not
//! kindproof's, panics on a closed pipe, an ignored DOCKER_HOST) and what must be refused with
//! a clear message (unbounded reads, directory-dependent loading, a broken kind, flags checked
//! late, a runtime directory others control). The scenario-level classes are fixtures in
//! `scenario_corpus`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{kindproof, root, text};

/// No test here may reach a Docker engine by accident.
const NO_DOCKER: &str = "unix:///nonexistent/kindproof-hostile.sock";

fn ports_write(out: &Path, runtime: &Path) -> std::process::Output {
    kindproof()
        .env("KINDPROOF_RUNTIME_DIR", runtime)
        .args(["ports", "--kind-version", "0.33.0", "--write"])
        .arg(out)
        .arg(root().join("kind-configs/two-random-tcp.yaml"))
        .output()
        .unwrap()
}

#[test]
fn ports_write_replaces_only_regular_files() {
    let d = tempfile::tempdir().unwrap();
    let runtime = d.path().join("run");
    let target = d.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = d.path().join("link.yaml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = d.path().join("fifo.yaml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (out, what) in [
        (link.as_path(), "a symlink"),
        (fifo.as_path(), "not a regular file"),
        (Path::new("/dev/full"), "not a regular file"),
        (d.path(), "a directory"),
        (&d.path().join("missing/x.yaml"), "does not exist"),
    ] {
        let o = ports_write(out, &runtime);
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {stderr}", out.display());
        assert!(stderr.contains(what), "{}: {stderr}", out.display());
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A regular file (or none) is written, and no reservation outlives the command.
    let out = d.path().join("resolved.yaml");
    std::fs::write(&out, "old").unwrap();
    let o = ports_write(&out, &runtime);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("Written by kindproof ports")
    );
    assert_eq!(std::fs::read_dir(runtime.join("ports")).unwrap().count(), 0);
}

#[test]
fn down_takes_a_cluster_name_never_a_path() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("cluster.json"), "{}").unwrap();
    for arg in [victim.to_str().unwrap(), "..", ".", "../x", "Kp-Upper"] {
        let o = kindproof()
            .env("DOCKER_HOST", NO_DOCKER)
            .env("KINDPROOF_STATE_DIR", d.path())
            .args(["down", arg])
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{arg}: {stderr}");
        assert!(stderr.contains("is not a kind cluster name"), "{stderr}");
    }
    assert!(victim.join("cluster.json").is_file());
}

#[tokio::test]
async fn docker_down_reports_kinds_failure_and_keeps_the_record() {
    let d = tempfile::tempdir().unwrap();
    let name = "kp-hostile-down-1a2b3c4d";
    let dir = d.path().join("clusters").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cluster.json"),
        format!(r#"{{"name":"{name}","pid":1,"run_id":"1a2b3c4d","created":0,"keep":true}}"#),
    )
    .unwrap();
    let kind = d.path().join("kind");
    std::fs::write(
        &kind,
        "#!/bin/sh\necho 'ERROR: boom from kind' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = kindproof()
        .env("KINDPROOF_KIND", &kind)
        .env("KINDPROOF_STATE_DIR", d.path())
        .args(["down", name])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stderr.contains("kind delete cluster --name"), "{stderr}");
    assert!(stderr.contains("boom from kind"), "{stderr}");
    assert!(!stdout.contains("deleted cluster"), "{stdout}");
    assert!(dir.join("cluster.json").is_file(), "the record was removed");
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_disk_exits_3() {
    for args in [&["schema"][..], &["list", "scenarios"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = kindproof()
            .env("DOCKER_HOST", NO_DOCKER)
            .current_dir(root())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = kindproof().args(["schema"]).stdout(full).output().unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("failed to write to standard output: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A plain TCP front for the local engine's socket, counting connections: DOCKER_HOST=tcp://
/// must reach it (the local socket would answer too, so the count is the proof).
fn tcp_front_for_docker() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(unix) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut t2, mut u2) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            let (mut t1, mut u1) = (tcp, unix);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut t1, &mut u1);
                let _ = u1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut t2);
                let _ = t2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, count)
}

#[test]
fn docker_docker_host_is_honoured_or_refused_never_ignored() {
    let (port, count) = tcp_front_for_docker();
    let o = kindproof()
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .arg("doctor")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(stdout.contains("docker      engine"), "{stdout}{stderr}");
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    // A closed port: the error names the address tried, not the local socket.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let o = kindproof()
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{closed_port}"))
        .args(["down", "kp-nothing"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("at tcp://127.0.0.1:{closed_port}")),
        "{stderr}"
    );
    for host in ["ssh://me@127.0.0.1", "https://127.0.0.1:2376"] {
        let o = kindproof()
            .env("DOCKER_HOST", host)
            .args(["down", "kp-nothing"])
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains("which kindproof cannot reach"), "{stderr}");
    }
}

fn validate(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let o = kindproof()
        .env("DOCKER_HOST", NO_DOCKER)
        .current_dir(dir)
        .args(["validate", "--kind-version", "0.33.0"])
        .args(args)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    (o.status.code(), out, err)
}

#[test]
fn reads_are_bounded_to_regular_files_of_at_most_8_mib() {
    let (code, out, err) = validate(&["/dev/zero"], &root());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("/dev/zero is a device, not a regular file"),
        "{out}"
    );
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("big");
    std::fs::create_dir(&s).unwrap();
    let f = std::fs::File::create(s.join("scenario.yaml")).unwrap();
    f.set_len(9 * 1024 * 1024).unwrap();
    let (code, _, err) = validate(&[s.to_str().unwrap()], &root());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("more than the 8388608 bytes kindproof reads"),
        "{err}"
    );
}

#[test]
fn loading_does_not_depend_on_the_working_directory() {
    let s = root().join("scenarios/nodeport-shared-selector");
    let (code, out, err) = validate(&["."], &s);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("1 scenario(s) valid"), "{out}");
    // A stray malformed YAML beside scenarios is reported, not skipped.
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("nodeport-shared-selector");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&s).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    std::fs::create_dir(d.path().join("kind-configs")).unwrap();
    std::fs::copy(
        root().join("kind-configs/three-node.yaml"),
        d.path().join("kind-configs/three-node.yaml"),
    )
    .unwrap();
    std::fs::write(d.path().join("stray.yaml"), "nodes: [\n  - broken").unwrap();
    let (code, out, err) = validate(&["."], d.path());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("1 scenario(s) valid"), "{out}");
    assert!(out.contains("error  ./stray.yaml"), "{out}");
    // A kind config given beside a scenarios directory is checked as a kind config.
    let (code, out, err) = validate(&["scenarios", "kind-configs/three-node.yaml"], &root());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("6 scenario(s) valid"), "{out}");
    assert!(out.contains("ok     kind-configs/three-node.yaml"), "{out}");
}

/// Whether a process whose command line contains `marker` is alive.
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .contains(marker)
        })
    })
}

#[test]
fn a_broken_kind_falls_back_to_the_newest_rules_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let marker = format!("31.{}", std::process::id());
    let cases = [
        (
            "hangs",
            format!("#!/bin/sh\nexec sleep {marker}\n"),
            0o755,
            "did not finish within 5s",
        ),
        (
            "garbage",
            "#!/bin/sh\necho garbage\n".to_string(),
            0o755,
            "failed to read a version",
        ),
        (
            "not-executable",
            "kind\n".to_string(),
            0o644,
            "Permission denied",
        ),
        (
            "fails",
            "#!/bin/sh\necho no >&2; exit 7\n".to_string(),
            0o755,
            "exited with",
        ),
    ];
    for (name, body, mode, why) in cases {
        let kind = d.path().join(name);
        std::fs::write(&kind, body).unwrap();
        std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut child = kindproof()
            .env("DOCKER_HOST", NO_DOCKER)
            .env("KINDPROOF_KIND", &kind)
            .arg("validate")
            .arg(root().join("kind-configs/three-node.yaml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A hang is the failure under test: bound the wait, and kill on it.
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("{name}: kindproof validate hung on a broken kind");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {out}{err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(
            err.contains("pass --kind-version to choose"),
            "{name}: {err}"
        );
        assert!(
            out.contains("the installed kind is broken"),
            "{name}: {out}"
        );
    }
    assert!(
        !running(&format!("sleep {marker}")),
        "the hanging kind survived"
    );
}

#[test]
fn run_flags_are_checked_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let kubeconfig = d.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let k = kubeconfig.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &["--report-junit", "/nonexistent/dir/x.xml"],
            "directory /nonexistent/dir does not exist",
        ),
        (&["--report-json", "/dev/null"], "not a regular file"),
        (
            &["--artifacts", "Cargo.toml"],
            "exists and is not a directory",
        ),
        (&["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig"),
        (&["--context", "x"], "--kubeconfig"),
        (&["-j", "0"], "must be at least 1"),
        (&["--cluster", "../etc"], "is not a kind cluster name"),
        (
            &["--kubeconfig", k, "--filter", "no-such-variant"],
            "matches no variant",
        ),
        (
            &["--kubeconfig", k, "kind-configs/three-node.yaml"],
            "not a kindproof scenario",
        ),
    ];
    for (args, why) in cases {
        let o = kindproof()
            .env("DOCKER_HOST", NO_DOCKER)
            .current_dir(root())
            .arg("run")
            .args(args)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(
            !err.contains("Docker engine"),
            "{args:?} reached for Docker: {err}"
        );
    }
    // The probe binary of `image build` is read whole: a device is refused before that.
    let o = kindproof()
        .env("DOCKER_HOST", NO_DOCKER)
        .args(["image", "build", "--binary", "/dev/zero"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero is not a regular file"), "{err}");
}

#[test]
fn the_runtime_directory_must_be_private() {
    let d = tempfile::tempdir().unwrap();
    let open = d.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(d.path(), &link).unwrap();
    for (dir, why) in [
        (&open, "has mode 777: others can write to it"),
        (&link, "is a symlink"),
    ] {
        let o = kindproof()
            .env("KINDPROOF_RUNTIME_DIR", dir)
            .args(["ports", "--kind-version", "0.33.0"])
            .arg(root().join("kind-configs/two-random-tcp.yaml"))
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains(why), "{err}");
    }
    assert!(!open.join("ports").exists());
}

#[test]
fn each_error_is_printed_once_in_the_users_terms() {
    let bad = crate::support::fixture("invalid-duplicate-key.yaml");
    let o = kindproof()
        .env("DOCKER_HOST", NO_DOCKER)
        .args(["ports", "--kind-version", "0.33.0"])
        .arg(&bad)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("`role` appears twice").count(), 1, "{err}");
    for internal in ["DuplicateKeyPolicy", "from_str_multiple", ".?", "Option<"] {
        assert!(!err.contains(internal), "{internal}: {err}");
    }
}

#[test]
fn impossible_kind_versions_are_refused_and_future_ones_warned_about() {
    let config = root().join("kind-configs/three-node.yaml");
    let o = kindproof()
        .args(["validate", "--kind-version", "0.0.9"])
        .arg(&config)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no kind release v0.0.9 exists"), "{err}");
    let o = kindproof()
        .args(["validate", "--kind-version", "9.99.0"])
        .arg(&config)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        err.contains("kind v9.99.0 is newer than any kind kindproof knows"),
        "{err}"
    );
}

/// kindproof killed while `kind version` hangs: the hanging kind dies with it.
#[test]
fn a_hanging_kind_dies_with_kindproof() {
    let d = tempfile::tempdir().unwrap();
    let marker = format!("32.{}", std::process::id());
    let kind = d.path().join("kind");
    std::fs::write(&kind, format!("#!/bin/sh\nexec sleep {marker}\n")).unwrap();
    std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = kindproof()
        .env("KINDPROOF_KIND", &kind)
        .arg("validate")
        .arg(root().join("kind-configs/three-node.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !running(&format!("sleep {marker}")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "kind never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: our own child's pid and a valid signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let start = Instant::now();
    while running(&format!("sleep {marker}")) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the hanging kind survived kindproof"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
