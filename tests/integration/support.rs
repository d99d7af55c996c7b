//! Helpers shared by the integration tests: running the binary, fixtures, the kind binary
//! behind a Docker guard, the locally built test image, and label-based cleanup checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kindproof::docker::api::{Engine, NetworkSpec};
use kindproof::docker::bollard_engine::BollardEngine;
use kindproof::labels;

pub fn kindproof() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kindproof"));
    // Tests choose their kind binary and reservation directory explicitly.
    c.env_remove("KINDPROOF_KIND").env("KINDPROOF_LOG", "warn");
    c
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/kind-configs").join(name)
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// The kind binary `make kind` installs (or `KINDPROOF_TEST_KIND`). Tests that need it fail
/// with instructions rather than skip.
pub fn kind_bin() -> PathBuf {
    let path = std::env::var_os("KINDPROOF_TEST_KIND")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/bin/kind"));
    assert!(
        path.is_file(),
        "kind binary not found at {}: run `make kind` (or set KINDPROOF_TEST_KIND)",
        path.display()
    );
    path
}

/// A directory to put first on kind's PATH: a `docker` that forwards only read-only calls
/// (`info`, `version`, `ps`) to the real client and refuses everything else — so kind can
/// validate a config for real, but can never pull an image or create a container.
pub struct DockerGuard {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl DockerGuard {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let real = which("docker").expect("a docker client on PATH");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{log}'\ncase \"$1\" in\n  info|version|-v|ps) exec '{real}' \"$@\" ;;\nesac\necho \"docker guard: refusing 'docker $*'\" >&2\nexit 1\n",
            log = log.display(),
            real = real.display()
        );
        let path = dir.path().join("docker");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir, log }
    }

    /// `kind ARGS` with only the guard and kind on PATH.
    pub fn kind(&self, args: &[&str]) -> Output {
        let kind = kind_bin();
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            kind.parent().unwrap().display()
        );
        Command::new(&kind)
            .args(args)
            .env("PATH", path)
            .env_remove("KIND_EXPERIMENTAL_PROVIDER")
            .output()
            .unwrap()
    }

    pub fn calls(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

/// The test image: Debian's static busybox in an otherwise empty root filesystem, imported
/// locally (never pulled).
pub const TEST_IMAGE_REPO: &str = "kindproof-test/busybox";

pub async fn test_image(engine: &BollardEngine) -> String {
    kindproof::docker::image::ensure_busybox_image(
        engine,
        TEST_IMAGE_REPO,
        Path::new("/bin/busybox"),
    )
    .await
    .expect("import the test image from /bin/busybox (Debian's busybox-static; `make docker-up` installs it)")
}

/// The probe image, built from the static binary `make probe` leaves (skipped when up to date).
pub async fn probe_image(engine: &BollardEngine) -> String {
    let binary =
        kindproof::probe_image::find_binary(None).expect("`make probe` builds the static probe");
    kindproof::probe_image::build(engine, &binary)
        .await
        .expect("build the probe image")
        .image
}

/// Everything a test creates carries its run id. On drop (also on panic) whatever is left is
/// removed through the Docker CLI, so a failing test does not leak either.
pub struct RunScope {
    pub run_id: String,
}

impl RunScope {
    pub fn new() -> Self {
        Self {
            run_id: labels::new_run_id(),
        }
    }

    pub fn labels(&self) -> HashMap<String, String> {
        labels::for_run(&self.run_id)
    }

    pub fn filter(&self) -> String {
        labels::run_filter(&self.run_id)
    }

    /// A bridge network of this run (`internal`: no way out of the host, no published ports).
    pub async fn network(&self, engine: &BollardEngine, internal: bool) -> String {
        let name = format!("kp-test-{}", self.run_id);
        engine
            .create_network(&NetworkSpec::bridge(&name, internal, self.labels()))
            .await
            .unwrap();
        name
    }

    /// Remove everything of this run through the engine, then prove nothing is left.
    pub async fn teardown(&self, engine: &BollardEngine) {
        for c in engine.list_containers(&self.filter()).await.unwrap() {
            engine.remove_container(&c.id).await.unwrap();
        }
        for n in engine.list_networks(&self.filter()).await.unwrap() {
            engine.remove_network(&n.id).await.unwrap();
        }
        assert!(
            engine
                .list_containers(&self.filter())
                .await
                .unwrap()
                .is_empty(),
            "containers left behind"
        );
        assert!(
            engine
                .list_networks(&self.filter())
                .await
                .unwrap()
                .is_empty(),
            "networks left behind"
        );
    }
}

impl Drop for RunScope {
    fn drop(&mut self) {
        let filter = format!("label={}", self.filter());
        if let Ok(o) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
        {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        if let Ok(o) = Command::new("docker")
            .args(["network", "ls", "-q", "--filter", &filter])
            .output()
        {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["network", "rm", id]).output();
            }
        }
    }
}

/// One request to a test's API stand-in: method, path (without the query) and body.
pub async fn read_request(s: &mut tokio::net::TcpStream) -> Option<(String, String, String)> {
    let (method, path, _, body) = read_request_query(s).await?;
    Some((method, path, body))
}

/// One request to a test's API stand-in: method, path, query (without the `?`) and body.
pub async fn read_request_query(
    s: &mut tokio::net::TcpStream,
) -> Option<(String, String, String, String)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break e;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < end + 4 + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut first = head.lines().next()?.split_whitespace();
    let method = first.next()?.to_string();
    let (path, query) = match first.next()?.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (
            head.lines().next()?.split_whitespace().nth(1)?.to_string(),
            String::new(),
        ),
    };
    Some((
        method,
        path,
        query,
        String::from_utf8_lossy(&buf[end + 4..]).to_string(),
    ))
}

/// Answer a stand-in's request with `body` as JSON, and close.
pub async fn respond(s: &mut tokio::net::TcpStream, status: &str, body: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let body = serde_json::to_vec(body).unwrap();
    let _ = s
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let _ = s.write_all(&body).await;
}

/// A kubeconfig at `path` whose one context reaches `server` (a stand-in on 127.0.0.1).
pub fn stand_in_kubeconfig(path: &Path, server: &str) {
    std::fs::write(
        path,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\nusers:\n- name: u\n  user: {{token: test}}\n"),
    )
    .unwrap();
}

/// The report of variant `name` in a run's JSON report.
pub fn variant_report<'r>(report: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    report["variants"]
        .as_array()
        .and_then(|v| v.iter().find(|r| r["variant"] == name))
        .unwrap_or_else(|| panic!("no variant {name} in {report}"))
}
