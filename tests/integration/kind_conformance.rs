//! kind's real CLI (`make kind` installs v0.33.0), run behind a Docker guard that refuses
//! anything but read-only calls: kind validates each config for real and can never pull.
//! kindproof must predict kind's message to the letter.

use crate::support::{DockerGuard, fixture, kind_bin, kindproof, text};

const ABSENT_IMAGE: &str = "kindproof-absent/node:v0";

fn installed_kind_version() -> String {
    let out = std::process::Command::new(kind_bin())
        .arg("version")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn validate_uses_the_installed_kind_version_by_default() {
    let version = installed_kind_version();
    let out = kindproof()
        .env("KINDPROOF_KIND", kind_bin())
        .arg("validate")
        .arg(fixture("valid-minimal.yaml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("against kind {version} (the installed kind)")),
        "{stdout}"
    );
}

/// Every fixture that records what kind says (`# kind-says:`) is given to the real kind, and
/// kind's `ERROR:` line must equal both the record and kindproof's prediction.
#[test]
fn kind_says_exactly_what_kindproof_predicts() {
    assert_eq!(
        installed_kind_version(),
        "v0.33.0",
        "the recorded messages are kind v0.33.0's"
    );
    let guard = DockerGuard::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        let Some(recorded) = body.lines().find_map(|l| l.strip_prefix("# kind-says: ")) else {
            continue;
        };
        let path_s = path.to_str().unwrap();
        let kubeconfig = guard.dir.path().join("kubeconfig");
        let out = guard.kind(&[
            "create",
            "cluster",
            "--config",
            path_s,
            "--image",
            ABSENT_IMAGE,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]);
        let (kstdout, kstderr) = text(&out);
        assert!(!out.status.success(), "kind accepted {path_s}");
        let kind_line = kstderr
            .lines()
            .chain(kstdout.lines())
            .find_map(|l| l.strip_prefix("ERROR: failed to create cluster: "))
            .unwrap_or_else(|| panic!("no ERROR line from kind for {path_s}:\n{kstderr}"));
        assert_eq!(kind_line, recorded, "kind's message changed for {path_s}");

        let ours = kindproof()
            .args(["validate", "--kind-version", "0.33.0", path_s])
            .output()
            .unwrap();
        let (stdout, _) = text(&ours);
        // Validation errors are predicted in kind's words; a load error (wrong apiVersion) is
        // kindproof's located line, which must end with kind's words.
        match stdout.lines().find_map(|l| {
            l.trim()
                .strip_prefix("kind v0.33.0 would say: ERROR: failed to create cluster: ")
        }) {
            Some(predicted) => assert_eq!(predicted, kind_line, "{path_s}"),
            None => assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with("error  ") && l.ends_with(kind_line)),
                "kindproof predicted nothing for {path_s}:\n{stdout}"
            ),
        }
        checked += 1;
    }
    assert!(
        checked >= 8,
        "only {checked} fixtures record kind's message"
    );
    assert!(
        !guard.calls().contains("pull"),
        "kind got as far as pulling: {}",
        guard.calls()
    );
}

/// The config `kindproof ports --write` produces passes the real kind's validation: kind goes
/// on to look for the node image (which the guard refuses), so it accepted the config.
#[test]
fn kind_accepts_the_config_kindproof_writes() {
    let guard = DockerGuard::new();
    let tmp = tempfile::tempdir().unwrap();
    let written = tmp.path().join("resolved.yaml");
    let out = kindproof()
        .env("KINDPROOF_RUNTIME_DIR", tmp.path())
        .args(["ports", "--kind-version", "0.21.0", "--write"])
        .arg(&written)
        .arg(fixture("valid-two-random-tcp.yaml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let name = format!("kp-conformance-{}", std::process::id());
    let kubeconfig = tmp.path().join("kubeconfig");
    let out = guard.kind(&[
        "create",
        "cluster",
        "--name",
        &name,
        "--config",
        written.to_str().unwrap(),
        "--image",
        ABSENT_IMAGE,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let (kstdout, kstderr) = text(&out);
    let all = format!("{kstdout}{kstderr}");
    assert!(!all.contains("invalid"), "{all}");
    assert!(all.contains("Ensuring node image"), "{all}");
    assert!(
        guard.calls().contains(&format!("pull {ABSENT_IMAGE}")),
        "kind never got past validation: {all}"
    );
    // Nothing was created: kind's own listing agrees.
    let clusters = guard.kind(&["get", "clusters"]);
    assert!(!text(&clusters).0.contains(&name));
    assert!(!kubeconfig.exists(), "kind wrote a kubeconfig");
}
