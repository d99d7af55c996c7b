//! Scenarios as input: every broken scenario under `tests/fixtures/scenarios/invalid-*/` exits 2
//! naming file, line, column, field and reason (as its `# expect-*` header says), without
//! touching Docker; the shipped `scenarios/` validate and list.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::{kindproof, root, text};

fn dir(name: &str) -> PathBuf {
    root().join("tests/fixtures/scenarios").join(name)
}

fn check_invalid(name: &str) {
    let file = dir(name).join("scenario.yaml");
    let body = std::fs::read_to_string(&file).unwrap();
    let get = |key: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .unwrap_or_else(|| panic!("{name} has no `# {key}:` header"))
            .to_string()
    };
    let out = kindproof()
        // No Docker may be needed to validate: point it nowhere.
        .env("DOCKER_HOST", "unix:///nonexistent/kindproof-test.sock")
        .args(["validate", "--kind-version", "0.33.0"])
        .arg(dir(name))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let located = format!(
        "{}:{}: {}: ",
        file.display(),
        get("expect-at"),
        get("expect-field")
    );
    let line = stderr
        .lines()
        .find(|l| l.contains(&located))
        .unwrap_or_else(|| panic!("no line located at {located} in:\n{stderr}"));
    let message = get("expect-message");
    assert!(line.contains(&message), "{message:?} not in {line:?}");
}

macro_rules! corpus {
    ($($test:ident => $dir:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_invalid($dir);
            }
        )*

        /// Every fixture on disk has a test above, so none is silently skipped.
        #[test]
        fn every_scenario_fixture_has_a_test() {
            let listed: BTreeSet<&str> = [$($dir),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(dir(""))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
            assert_eq!(listed, on_disk);
        }
    };
}

corpus! {
    scenario_invalid_apply_mode => "invalid-apply-mode";
    scenario_invalid_bad_duration => "invalid-bad-duration";
    scenario_invalid_later_step_id => "invalid-later-step-id";
    scenario_invalid_manifest_variable => "invalid-manifest-variable";
    scenario_invalid_missing_manifest => "invalid-missing-manifest";
    scenario_invalid_two_actions => "invalid-two-actions";
    scenario_invalid_unknown_action => "invalid-unknown-action";
    scenario_invalid_unknown_assert_field => "invalid-unknown-assert-field";
    scenario_invalid_unknown_node => "invalid-unknown-node";
    scenario_invalid_unknown_variable => "invalid-unknown-variable";
    scenario_invalid_duration_too_long => "invalid-duration-too-long";
    scenario_invalid_count_too_large => "invalid-count-too-large";
    scenario_invalid_concurrency_zero => "invalid-concurrency-zero";
    scenario_invalid_interval_zero => "invalid-interval-zero";
    scenario_invalid_manifest_absolute => "invalid-manifest-absolute";
    scenario_invalid_manifest_climbs_out => "invalid-manifest-climbs-out";
    scenario_invalid_manifest_symlink_out => "invalid-manifest-symlink-out";
    scenario_invalid_manifest_directory => "invalid-manifest-directory";
    scenario_invalid_config_absolute => "invalid-config-absolute";
    scenario_invalid_variant_name_path => "invalid-variant-name-path";
    scenario_invalid_kind_create_outside => "invalid-kind-create-outside";
    scenario_invalid_null_name => "invalid-null-name";
    scenario_invalid_variable_cycle => "invalid-variable-cycle";
    scenario_invalid_variable_injection => "invalid-variable-injection";
    scenario_invalid_patch_type => "invalid-patch-type";
    scenario_invalid_proto => "invalid-proto";
    scenario_invalid_wait_none => "invalid-wait-none";
    scenario_invalid_during_still_running => "invalid-during-still-running";
    scenario_invalid_during_not_background => "invalid-during-not-background";
    scenario_invalid_background_no_interval => "invalid-background-no-interval";
    scenario_invalid_background_count => "invalid-background-count";
    scenario_invalid_background_no_id => "invalid-background-no-id";
    scenario_invalid_netem_nothing => "invalid-netem-nothing";
    scenario_invalid_netem_loss => "invalid-netem-loss";
    scenario_invalid_kill_pods_empty => "invalid-kill-pods-empty";
    scenario_invalid_stop_unknown => "invalid-stop-unknown";
    scenario_invalid_during_no_check => "invalid-during-no-check";
    scenario_invalid_routing_on_background => "invalid-routing-on-background";
    scenario_invalid_disconnect_unknown_node => "invalid-disconnect-unknown-node";
}

#[test]
fn the_shipped_scenarios_validate_and_list_without_docker() {
    let out = kindproof()
        .env("DOCKER_HOST", "unix:///nonexistent/kindproof-test.sock")
        .current_dir(root())
        .args(["validate", "scenarios"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("scenario(s) valid"), "{stdout}");
    let out = kindproof()
        .current_dir(root())
        .arg("list")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("service-tcp-udp-nodeport-apply  kubectl apply updates only the first"),
        "{stdout}"
    );
    assert!(stdout.contains("  - mitigated-server-side: "), "{stdout}");
}

#[test]
fn every_error_of_a_scenario_is_reported_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("many");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(
        d.join("scenario.yaml"),
        "apiVersion: kindproof.dev/v1alpha9
kind: Scenario
name: many
summary: three problems
cluster:
  config: three-node.yaml
variants:
  - name: only
    expect: never runs
steps:
  - sleep: soon
  - restart-node: worker7
",
    )
    .unwrap();
    // The kind config is found in the nearest kind-configs/ above the scenario.
    std::fs::create_dir(tmp.path().join("kind-configs")).unwrap();
    std::fs::copy(
        root().join("kind-configs/three-node.yaml"),
        tmp.path().join("kind-configs/three-node.yaml"),
    )
    .unwrap();
    let out = kindproof().arg("validate").arg(&d).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = d.join("scenario.yaml");
    for expected in [
        format!(
            "{}:1:13: apiVersion: expected kindproof.dev/v1alpha1",
            file.display()
        ),
        format!("{}:11:12: steps[0].sleep: not a duration", file.display()),
        format!(
            "{}:12:19: steps[1].restart-node: the cluster has no node `worker7`",
            file.display()
        ),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nin\n{stderr}");
    }
}

#[test]
fn schema_describes_the_scenario_format_strictly() {
    let out = kindproof().arg("schema").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["title"], "Scenario");
    let step = &schema["definitions"]["Step"];
    assert_eq!(step["additionalProperties"], false, "{step}");
    for action in [
        "apply",
        "patch",
        "delete",
        "wait",
        "sleep",
        "exec",
        "restart-node",
        "pause-node",
        "probe",
        "assert",
        "kind-create",
        "stop",
        "disconnect-node",
        "reconnect-node",
        "netem",
        "netem-clear",
        "stop-kubelet",
        "start-kubelet",
        "kill-pods",
    ] {
        assert!(
            step["properties"].get(action).is_some(),
            "no {action} in {step}"
        );
    }
    // What background probes and "during" windows add.
    let defs = &schema["definitions"];
    assert!(defs["Probe"]["properties"].get("background").is_some());
    assert!(defs["ConnectProbe"]["properties"].get("interval").is_some());
    assert!(defs["Assert"]["properties"].get("during").is_some());
    let during = &defs["DuringAssert"];
    assert_eq!(during["additionalProperties"], false, "{during}");
    for check in [
        "probe",
        "from",
        "until",
        "target",
        "maxFailures",
        "minFailures",
        "maxFailureRatio",
        "maxGap",
        "only",
        "never",
        "after",
        "firstSuccessWithin",
        "p99Below",
    ] {
        assert!(
            during["properties"].get(check).is_some(),
            "no {check} in {during}"
        );
    }
    for (def, fields) in [
        (
            "Netem",
            &["node", "delay", "jitter", "loss", "interface"][..],
        ),
        ("KillPods", &["selector", "namespace"][..]),
        ("StopProbe", &["probe"][..]),
    ] {
        for f in fields {
            assert!(defs[def]["properties"].get(f).is_some(), "no {f} in {def}");
        }
    }
    let required = schema["required"].as_array().unwrap();
    for field in [
        "apiVersion",
        "kind",
        "name",
        "summary",
        "cluster",
        "variants",
    ] {
        assert!(
            required.contains(&serde_json::json!(field)),
            "{field} not required"
        );
    }
}
