//! kind's validation rules, version by version, message for message.

use super::*;
use crate::kind_config::defaults::with_defaults;
use crate::kind_config::load::load_str;
use crate::kind_config::version::KindVersion;

fn check(version: &str, body: &str) -> Vec<Problem> {
    let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
    let raw = load_str(Path::new("c.yaml"), &text).unwrap();
    let rules = version.parse::<KindVersion>().unwrap().rules();
    problems(Path::new("c.yaml"), &with_defaults(&raw), rules)
}

fn message(version: &str, body: &str) -> Option<String> {
    kind_message(&check(version, body))
}

const TWO_RANDOM: &str = "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n    protocol: TCP\n  - containerPort: 443\n    listenAddress: 127.0.0.1\n    protocol: TCP\n";

#[test]
fn random_duplicates_by_version() {
    assert_eq!(message("0.18.0", TWO_RANDOM), None);
    assert_eq!(
        message("0.21.0", TWO_RANDOM).unwrap(),
        "invalid configuration for node 0: invalid portMapping: port mapping with same listen address, port and protocol already configured: 127.0.0.1:0/TCP"
    );
    assert_eq!(message("0.22.0", TWO_RANDOM), None);
    assert_eq!(message("0.33.0", TWO_RANDOM), None);
    let p = check("0.21.0", TWO_RANDOM);
    assert_eq!(p[0].cause, Cause::RandomPortDuplicate);
    assert_eq!(p[0].field, "nodes[0].extraPortMappings[1].hostPort");
    assert_eq!(
        p[0].position.line, 9,
        "the mapping (its containerPort) when hostPort is unset"
    );
}

#[test]
fn unset_address_and_protocol_read_nil_before_v032() {
    let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n  - containerPort: 81\n";
    assert!(
        message("0.19.0", body)
            .unwrap()
            .ends_with("already configured: <nil>:0/")
    );
}

#[test]
fn minus_one_duplicates_also_collide_under_old_rules() {
    let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: -1\n    listenAddress: 127.0.0.1\n  - containerPort: 81\n    hostPort: -1\n    listenAddress: 127.0.0.1\n";
    assert!(message("0.20.0", body).unwrap().ends_with("127.0.0.1:-1/"));
    assert_eq!(message("0.22.0", body), None);
}

#[test]
fn fixed_duplicates_collide_in_every_checking_version() {
    let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n    protocol: TCP\n  - containerPort: 81\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n    protocol: TCP\n";
    for v in ["0.19.0", "0.22.0", "0.33.0"] {
        assert!(
            message(v, body)
                .unwrap()
                .ends_with("already configured: 127.0.0.1:8080/TCP"),
            "{v}"
        );
    }
    assert_eq!(message("0.18.0", body), None);
}

#[test]
fn wildcard_against_specific_address() {
    let later = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: 0.0.0.0\n";
    assert!(
        message("0.33.0", later)
            .unwrap()
            .ends_with(": 0.0.0.0:8080/")
    );
    let v6 = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: '::'\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: '0:0::0'\n";
    assert!(message("0.33.0", v6).unwrap().ends_with(": :::8080/"));
}

#[test]
fn empty_listen_address_is_wildcard_from_v032() {
    let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n  - containerPort: 81\n    hostPort: 8080\n";
    assert!(
        message("0.33.0", body)
            .unwrap()
            .ends_with(": 0.0.0.0:8080/")
    );
    assert!(message("0.31.0", body).unwrap().ends_with(": <nil>:8080/"));
}

#[test]
fn bad_listen_address() {
    let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n    listenAddress: foo\n";
    assert_eq!(
        message("0.33.0", body).unwrap(),
        "invalid configuration for node 0: invalid portMapping: invalid listen address: foo"
    );
    // kind 0.31 lets it through; kindproof still refuses (it binds the address).
    assert_eq!(message("0.31.0", body), None);
    let p = check("0.31.0", body);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].cause, Cause::KindproofOnly);
    assert_eq!(p[0].field, "nodes[0].extraPortMappings[0].listenAddress");
    // and no double report when kind already says it
    assert_eq!(check("0.33.0", body).len(), 1);
}

#[test]
fn aggregates_like_kind() {
    let body = "name: Bad_Name\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 70000\n  - containerPort: 70000\n";
    assert_eq!(
        message("0.33.0", body).unwrap(),
        "['Bad_Name' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`, invalid configuration for node 0: [invalid hostPort: invalid port number: 70000, invalid containerPort: invalid port number: 70000]]"
    );
    let roles = "nodes:\n- role: worker\n- role: master\n";
    assert_eq!(
        message("0.33.0", roles).unwrap(),
        "[invalid configuration for node 1: \"master\" is not a valid node role, must have at least one control-plane node]"
    );
}

#[test]
fn networking_messages_match_kind() {
    let body = "networking:\n  ipFamily: ipv5\n  kubeProxyMode: foo\n  podSubnet: nope\n  apiServerPort: 99999\n";
    assert_eq!(
        message("0.33.0", body).unwrap(),
        "[invalid apiServerPort: invalid port number: 99999, invalid ipFamily: ipv5, invalid pod subnet failed to parse cidr value:\"nope\" with error: invalid CIDR address: nope, invalid kubeProxyMode: foo]"
    );
    let v6 = "networking:\n  ipFamily: ipv6\n  podSubnet: 10.244.0.0/16,fd00::/64\n  serviceSubnet: 10.96.0.0/16\n";
    assert_eq!(
        message("0.33.0", v6).unwrap(),
        "[invalid pod subnet only one CIDR allowed for single-stack networking, invalid service subnet expected IPv6 CIDR for IPv6 family]"
    );
}

#[test]
fn valid_three_node_config_has_no_problems() {
    let body = "nodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    assert!(check("0.33.0", body).is_empty());
}
