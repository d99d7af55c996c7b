//! The command line end to end: help and exit codes, `ports` output and `--write`.

use crate::support::{fixture, kindproof, root, text};

#[test]
fn help_documents_the_exit_codes() {
    let out = kindproof().arg("--help").output().unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    for line in [
        "0    success",
        "2    invalid input",
        "3    infrastructure error",
        "130  interrupted",
    ] {
        assert!(
            stdout.contains(line),
            "{line:?} missing from --help:\n{stdout}"
        );
    }
    for sub in ["validate", "ports", "doctor"] {
        let out = kindproof().args([sub, "--help"]).output().unwrap();
        assert!(text(&out).0.contains("Exit codes:"), "{sub} --help");
    }
}

#[test]
fn a_missing_file_is_invalid_input() {
    let out = kindproof()
        .args(["validate", "--kind-version", "0.33.0", "no/such/file.yaml"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("no/such/file.yaml: no such file or directory"),
        "{stderr}"
    );
}

#[test]
fn a_bad_kind_version_flag_is_rejected_by_the_parser() {
    let out = kindproof()
        .args(["validate", "--kind-version", "x.y", "kind-configs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not a kind version"));
}

#[test]
fn validate_accepts_directories_and_every_shipped_config_passes() {
    for v in ["0.18.0", "0.21.0", "0.22.0", "0.33.0"] {
        let out = kindproof()
            .args(["validate", "--kind-version", v])
            .arg(root().join("kind-configs"))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{v}: {stdout}{stderr}");
        assert!(stdout.contains("checking 4 kind config(s)"), "{stdout}");
    }
}

#[test]
fn infrastructure_errors_exit_3_with_a_fix() {
    let out = kindproof()
        .env("DOCKER_HOST", "unix:///nonexistent/kindproof-test.sock")
        .arg("doctor")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains("failed to connect to the Docker engine"),
        "{stderr}"
    );
    assert!(stderr.contains("make docker-up"), "{stderr}");
}

#[test]
fn docker_doctor_reports_a_missing_kubectl_with_a_fix() {
    let out = kindproof()
        .env("KINDPROOF_KUBECTL", "/nonexistent/kubectl")
        .arg("doctor")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("client-side applies need kubectl 1.24 or newer: install it"),
        "{stdout}"
    );
    assert!(stdout.contains("docker      engine"), "{stdout}");
    assert!(stderr.contains("problems with: kubectl"), "{stderr}");
}

#[test]
fn ports_json_lists_every_mapping_and_write_produces_a_loadable_config() {
    let tmp = tempfile::tempdir().unwrap();
    let written = tmp.path().join("out.yaml");
    let out = kindproof()
        .env("KINDPROOF_RUNTIME_DIR", tmp.path())
        .args(["ports", "--json", "--kind-version", "0.20.0", "--write"])
        .arg(&written)
        .arg(fixture("valid-minus-one.yaml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let mappings = v["mappings"].as_array().unwrap();
    assert_eq!(mappings.len(), 2);
    for m in mappings {
        // kind 0.20 rejects repeated -1, so kindproof picked them and says so.
        assert_eq!(m["how"], "picked");
        assert_eq!(m["requested"], -1);
        assert!(m["note"].as_str().unwrap().contains("-1"));
        assert!(m["hostPort"].as_u64().unwrap() > 0);
    }
    let resolved = std::fs::read_to_string(&written).unwrap();
    for m in mappings {
        assert!(
            resolved.contains(&format!("hostPort: {}", m["hostPort"])),
            "{resolved}"
        );
    }
    // The written config is itself valid under the rules that rejected the original.
    let again = kindproof()
        .args(["validate", "--kind-version", "0.20.0"])
        .arg(&written)
        .output()
        .unwrap();
    let (stdout, _) = text(&again);
    assert!(
        stdout.contains(&format!("ok     {}\n", written.display())),
        "{stdout}"
    );
    // Reservations are released at exit: nothing is left in the directory.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("ports"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ports_table_says_who_picks_each_port() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kindproof()
        .env("KINDPROOF_RUNTIME_DIR", tmp.path())
        .args(["ports", "--kind-version", "0.33.0"])
        .arg(root().join("kind-configs/random-minus-one.yaml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("NODE"), "{stdout}");
    assert_eq!(
        stdout.matches("runtime (Docker picks").count(),
        2,
        "{stdout}"
    );
}

#[test]
fn ports_refuses_an_invalid_config_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kindproof()
        .env("KINDPROOF_RUNTIME_DIR", tmp.path())
        .args(["ports", "--kind-version", "0.33.0"])
        .arg(fixture("invalid-fixed-duplicate.yaml"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("nodes[0].extraPortMappings[1].hostPort"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn report_timeline_reads_a_recorded_run_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(
        &file,
        serde_json::json!({"kindproof": "0.1.0", "passed": true, "phases": {}, "variants": [],
            "timeline": {"clusters": [{"name": "c", "create": [0.0, 20.0], "ready": 22.0}],
                "variants": [
                    {"id": "a/x", "cluster": "c", "queued": 22.0, "start": 22.0, "end": 32.0, "steps": 10.0, "teardown": 0.2, "claims": ["nodePort 30001"]},
                    {"id": "a/y", "cluster": "c", "queued": 22.0, "start": 32.0, "end": 40.0, "steps": 8.0, "teardown": 0.2, "claims": ["nodePort 30001"]}],
                "wall": 44.0}})
        .to_string(),
    )
    .unwrap();
    let o = kindproof()
        .args(["report", "timeline"])
        .arg(&file)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    // 22 s to ready + 18 s of variants sharing nodePort 30001.
    assert!(out.starts_with("floor   40.0s"), "{out}");
    assert!(out.contains("ratio   1.10"), "{out}");
    let o = kindproof()
        .args(["report", "timeline", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["floor"], 40.0);
    assert_eq!(a["critical"], "c");
    std::fs::write(&file, "{}").unwrap();
    let o = kindproof()
        .args(["report", "timeline"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no `timeline` field"), "{}", text(&o).1);
}

/// `validate --portable` says which scenarios run on any cluster and, for the others, every
/// reason with its place: kind-only actions by variant and line, kind node names with the
/// portable spelling, host ports.
#[test]
fn validate_portable_names_what_needs_kind_and_how_to_say_it_portably() {
    let o = kindproof()
        .current_dir(root())
        .args([
            "validate",
            "--kind-version",
            "0.33.0",
            "--portable",
            "scenarios",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let section = |name: &str| -> String {
        let start = out
            .find(&format!("ok     scenarios/{name}/"))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        let rest = &out[start..];
        let end = rest[1..].find("\nok     ").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    };
    // The shipped scenarios name nodes by role: these run anywhere.
    for name in ["flower-bind-nodeip", "rolling-update-drops-connections"] {
        assert!(
            section(name).contains("  portable: runs on any cluster"),
            "{}",
            section(name)
        );
    }
    let nodeport = section("nodeport-shared-selector");
    assert!(
        nodeport.contains("not portable")
            && nodeport.contains(
                "variant control-local-policy-from-the-node, line 75: a probe from node:worker"
            ),
        "{nodeport}"
    );
    let hostports = section("kind-random-hostports");
    assert!(
        hostports.contains("variant bug, line 18: kind-create runs kind"),
        "{hostports}"
    );
    assert!(
        hostports.contains("scenario.yaml:38: ${ports.control-plane.80/tcp} reads a host port"),
        "{hostports}"
    );
    assert!(out.contains("3 of 6 scenario(s) portable"), "{out}");

    // A kind node name gets its portable spelling, at its file and line.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("s");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha1
kind: Scenario
name: s
summary: kind names
cluster:
  config: kind.yaml
variants:
  - name: v
    expect: a probe to the second worker
    steps:
      - id: p
        probe:
          connect: {from: host, targets: ['${nodes.worker2.ip}:80'], count: 1}
",
    )
    .unwrap();
    std::fs::write(
        dir.join("kind.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n",
    )
    .unwrap();
    // A symlink out of the scenario is not read.
    std::fs::write(d.path().join("outside.yaml"), "x: ${ports.worker.80/tcp}\n").unwrap();
    std::os::unix::fs::symlink(d.path().join("outside.yaml"), dir.join("link.yaml")).unwrap();
    let o = kindproof()
        .args(["validate", "--kind-version", "0.33.0", "--portable"])
        .arg(dir.join("scenario.yaml"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains(
            "    scenario.yaml:13: ${nodes.worker2.ip} names a kind node: write ${nodes.role.worker[1].ip}\n"
        ),
        "{out}"
    );
    assert!(out.contains("0 of 1 scenario(s) portable"), "{out}");
    assert!(
        !out.contains("link.yaml") && !out.contains("ports.worker"),
        "{out}"
    );
}

/// `replay` reads its bundle before anything else: no record, or one naming a path, exits 2
/// naming the file, and touches no Docker.
#[test]
fn replay_refuses_a_bundle_without_a_record_or_with_a_path_in_it() {
    let d = tempfile::tempdir().unwrap();
    let replay = || {
        kindproof()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .arg("replay")
            .arg(d.path())
            .output()
            .unwrap()
    };
    let o = replay();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("replay.json"), "{err}");
    std::fs::write(
        d.path().join("replay.json"),
        r#"{"kindproof": "0.1.0", "scenario": "../../etc", "variant": "bug", "node_image": null,
            "node_image_id": null, "kubernetes": null, "cluster": "kp-x", "variables": {},
            "kind_config": null}"#,
    )
    .unwrap();
    let o = replay();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("scenario: \"../../etc\" is not a plain name"),
        "{err}"
    );
}
