//! The kind-config fixture corpus: every `invalid-*.yaml` exits 2 naming file, line, column,
//! field and reason (as its `# expect-*` header says); every `valid-*.yaml` exits 0, under the
//! newest rules and under kind 0.21 (where some are rejected by kind but run by kindproof).

use std::collections::BTreeSet;

use crate::support::{fixture, kindproof, text};

struct Expect {
    at: Option<String>,
    field: Option<String>,
    message: Option<String>,
    v021: Option<String>,
}

fn header(name: &str) -> Expect {
    let body = std::fs::read_to_string(fixture(name)).unwrap();
    let get = |key: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .map(str::to_string)
    };
    Expect {
        at: get("expect-at"),
        field: get("expect-field"),
        message: get("expect-message"),
        v021: get("expect-v0.21"),
    }
}

fn validate(version: &str, path: &std::path::Path) -> std::process::Output {
    kindproof()
        .args(["validate", "--kind-version", version])
        .arg(path)
        .output()
        .unwrap()
}

fn check_invalid(name: &str) {
    let e = header(name);
    let path = fixture(name);
    let out = validate("0.33.0", &path);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let at = e.at.expect("invalid fixtures name their position");
    let located = format!("{}:{at}: ", path.display());
    let line = stdout
        .lines()
        .find(|l| l.contains(&located))
        .unwrap_or_else(|| panic!("no line located at {located} in:\n{stdout}"));
    if let Some(field) = e.field {
        assert!(
            line.contains(&format!("{located}{field}: ")),
            "field {field} not named in {line:?}"
        );
    }
    let message = e.message.expect("invalid fixtures name their message");
    assert!(line.contains(&message), "{message:?} not in {line:?}");
}

fn check_valid(name: &str) {
    let e = header(name);
    let path = fixture(name);
    let out = validate("0.33.0", &path);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok     {}\n", path.display())),
        "{stdout}"
    );
    let old = validate("0.21.0", &path);
    let (stdout, stderr) = text(&old);
    assert_eq!(old.status.code(), Some(0), "{stdout}{stderr}");
    match e.v021.as_deref() {
        Some("resolved") => {
            assert!(
                stdout.contains("rejects it as written; kindproof runs it"),
                "{stdout}"
            );
            assert!(
                stdout.contains("kind v0.21.0 would say: ERROR: failed to create cluster: invalid configuration for node 0: invalid portMapping: port mapping with same listen address, port and protocol already configured:"),
                "{stdout}"
            );
            assert!(
                stdout.contains("kindproof resolves these ports itself"),
                "{stdout}"
            );
        }
        _ => assert!(
            stdout.contains(&format!("ok     {}\n", path.display())),
            "{stdout}"
        ),
    }
}

macro_rules! corpus {
    ($($check:ident $test:ident => $file:literal;)*) => {
        $(
            #[test]
            fn $test() {
                $check($file);
            }
        )*

        /// Every fixture on disk has a test above, so none is silently skipped.
        #[test]
        fn every_fixture_has_a_test() {
            let listed: BTreeSet<&str> = [$($file),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(fixture(""))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
            assert_eq!(listed, on_disk);
        }
    };
}

corpus! {
    check_invalid invalid_api_version => "invalid-api-version.yaml";
    check_invalid invalid_cluster_name => "invalid-cluster-name.yaml";
    check_invalid invalid_duplicate_key => "invalid-duplicate-key.yaml";
    check_invalid invalid_fixed_duplicate => "invalid-fixed-duplicate.yaml";
    check_invalid invalid_fixed_port_two_nodes => "invalid-fixed-port-two-nodes.yaml";
    check_invalid invalid_listen_address => "invalid-listen-address.yaml";
    check_invalid invalid_listen_address_random_port => "invalid-listen-address-random-port.yaml";
    check_invalid invalid_malformed_yaml => "invalid-malformed-yaml.yaml";
    check_invalid invalid_networking => "invalid-networking.yaml";
    check_invalid invalid_no_control_plane => "invalid-no-control-plane.yaml";
    check_invalid invalid_port_70000 => "invalid-port-70000.yaml";
    check_invalid invalid_port_minus_two => "invalid-port-minus-two.yaml";
    check_invalid invalid_protocol => "invalid-protocol.yaml";
    check_invalid invalid_role => "invalid-role.yaml";
    check_invalid invalid_second_document => "invalid-second-document.yaml";
    check_invalid invalid_several => "invalid-several.yaml";
    check_invalid invalid_unknown_field => "invalid-unknown-field.yaml";
    check_invalid invalid_wrong_type => "invalid-wrong-type.yaml";
    check_valid valid_many_fields => "valid-many-fields.yaml";
    check_valid valid_minimal => "valid-minimal.yaml";
    check_valid valid_minus_one => "valid-minus-one.yaml";
    check_valid valid_tcp_udp_same_port => "valid-tcp-udp-same-port.yaml";
    check_valid valid_three_node => "valid-three-node.yaml";
    check_valid valid_trailing_separator => "valid-trailing-separator.yaml";
    check_valid valid_two_random_tcp => "valid-two-random-tcp.yaml";
}
