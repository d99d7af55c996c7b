//! kind's validation pass, ported rule for rule so that kindproof prints the reason string the
//! user's kind version would print, plus the checks kindproof itself needs (it binds listen
//! addresses and publishes container ports, so those must be real).
//!
//! Input is a config after [`super::defaults::with_defaults`]; output is a list of located
//! problems and kind's aggregated message.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::defaults::{ROLE_CONTROL_PLANE, ROLE_WORKER};
use super::model::{Cluster, PortMapping, Protocol, S};
use super::version::{DuplicateRule, Rules};
use crate::yaml::Position;

const DUPLICATE_MSG: &str =
    "port mapping with same listen address, port and protocol already configured";

/// Which level of kind's aggregated error a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Node(usize),
}

/// Why a problem exists, which decides what kindproof can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// kind rejects two random ports on one listen address (kind 0.19–0.21); kindproof resolves
    /// random ports itself, so its resolved config does not have this problem.
    RandomPortDuplicate,
    /// Any other kind rule.
    Kind,
    /// kind would accept this, but kindproof cannot run it (e.g. a listen address that is not an
    /// IP, which kindproof must bind).
    KindproofOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub scope: Scope,
    pub cause: Cause,
    /// kind's own text for this problem (e.g. `invalid hostPort: invalid port number: 70000`),
    /// or kindproof's for [`Cause::KindproofOnly`].
    pub message: String,
    pub position: Position,
    pub field: String,
}

/// Every problem kind (with `rules`) and kindproof find in `cluster` (already defaulted).
pub fn problems(file: &Path, cluster: &Cluster, rules: Rules) -> Vec<Problem> {
    let mut out = Vec::new();
    let pos = |s: Option<&S<String>>| {
        s.map(|s| Position::of(file, s))
            .unwrap_or_else(|| Position::file_start(file))
    };
    let cluster_problem = |message: String, position: Position, field: &str| Problem {
        scope: Scope::Cluster,
        cause: Cause::Kind,
        message,
        position,
        field: field.to_string(),
    };

    let name = cluster
        .name
        .as_ref()
        .map(|n| n.value.as_str())
        .unwrap_or("");
    if !valid_cluster_name(name) {
        out.push(cluster_problem(
            format!(
                "'{name}' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`"
            ),
            pos(cluster.name.as_ref()),
            "name",
        ));
    }

    let net = cluster.networking();
    if let Some(port) = &net.api_server_port
        && port.value != 0
        && let Err(e) = check_port(port.value)
    {
        out.push(cluster_problem(
            format!("invalid apiServerPort: {e}"),
            Position::of(file, port),
            "networking.apiServerPort",
        ));
    }
    let family = net
        .ip_family
        .as_ref()
        .map(|f| f.value.as_str())
        .unwrap_or("");
    if !matches!(family, "ipv4" | "ipv6" | "dual") {
        out.push(cluster_problem(
            format!("invalid ipFamily: {family}"),
            pos(net.ip_family.as_ref()),
            "networking.ipFamily",
        ));
    }
    for (label, field, value) in [
        ("pod", "networking.podSubnet", &net.pod_subnet),
        ("service", "networking.serviceSubnet", &net.service_subnet),
    ] {
        let text = value.as_ref().map(|v| v.value.as_str()).unwrap_or("");
        if let Err(e) = check_subnets(text, family) {
            out.push(cluster_problem(
                format!("invalid {label} subnet {e}"),
                pos(value.as_ref()),
                field,
            ));
        }
    }
    let mode = net
        .kube_proxy_mode
        .as_ref()
        .map(|m| m.value.as_str())
        .unwrap_or("");
    if !matches!(mode, "iptables" | "ipvs" | "nftables" | "none") {
        out.push(cluster_problem(
            format!("invalid kubeProxyMode: {mode}"),
            pos(net.kube_proxy_mode.as_ref()),
            "networking.kubeProxyMode",
        ));
    }

    let mut control_planes = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let role = node.role.as_ref().map(|r| r.value.as_str()).unwrap_or("");
        if role == ROLE_CONTROL_PLANE {
            control_planes += 1;
        }
        node_problems(
            file,
            i,
            role,
            node.role.as_ref(),
            &node.extra_port_mappings,
            rules,
            &mut out,
        );
    }
    if control_planes == 0 {
        out.push(cluster_problem(
            format!("must have at least one {ROLE_CONTROL_PLANE} node"),
            Position::file_start(file),
            "nodes",
        ));
    }
    out
}

fn node_problems(
    file: &Path,
    index: usize,
    role: &str,
    role_span: Option<&S<String>>,
    mappings: &[PortMapping],
    rules: Rules,
    out: &mut Vec<Problem>,
) {
    let at = |field: String, position: Position, message: String, cause: Cause| Problem {
        scope: Scope::Node(index),
        cause,
        message,
        position,
        field,
    };
    if role != ROLE_CONTROL_PLANE && role != ROLE_WORKER {
        out.push(at(
            format!("nodes[{index}].role"),
            role_span
                .map(|r| Position::of(file, r))
                .unwrap_or_else(|| Position::file_start(file)),
            format!("{role:?} is not a valid node role"),
            Cause::Kind,
        ));
    }
    for (m, pm) in mappings.iter().enumerate() {
        let field = |name: &str| format!("nodes[{index}].extraPortMappings[{m}].{name}");
        if let Some(hp) = &pm.host_port
            && let Err(e) = check_port(hp.value)
        {
            out.push(at(
                field("hostPort"),
                Position::of(file, hp),
                format!("invalid hostPort: {e}"),
                Cause::Kind,
            ));
        }
        let container_port = pm.container_port.as_ref().map(|c| c.value).unwrap_or(0);
        // A missing containerPort is located at the mapping's first field that is there.
        let container_pos = pm
            .container_port
            .as_ref()
            .map(|c| Position::of(file, c))
            .or_else(|| pm.host_port.as_ref().map(|h| Position::of(file, h)))
            .or_else(|| pm.listen_address.as_ref().map(|a| Position::of(file, a)))
            .or_else(|| pm.protocol.as_ref().map(|p| Position::of(file, p)))
            .unwrap_or_else(|| Position::file_start(file));
        if let Err(e) = check_port(container_port) {
            out.push(at(
                field("containerPort"),
                container_pos,
                format!("invalid containerPort: {e}"),
                Cause::Kind,
            ));
        } else if container_port < 1 {
            out.push(at(
                field("containerPort"),
                container_pos,
                format!(
                    "a containerPort from 1 to 65535 is needed to publish, got {container_port}"
                ),
                Cause::KindproofOnly,
            ));
        }
    }
    if let Some((m, message, cause)) = duplicate_problem(mappings, rules) {
        let pm = &mappings[m];
        let (name, position) = match (&pm.listen_address, &pm.host_port) {
            (Some(a), _) if message.starts_with("invalid listen address") => {
                ("listenAddress", Position::of(file, a))
            }
            (_, Some(hp)) => ("hostPort", Position::of(file, hp)),
            (_, None) => match &pm.container_port {
                Some(c) => ("hostPort", Position::of(file, c)),
                None => ("hostPort", Position::file_start(file)),
            },
        };
        out.push(at(
            format!("nodes[{index}].extraPortMappings[{m}].{name}"),
            position,
            format!("invalid portMapping: {message}"),
            cause,
        ));
    }
    // kindproof binds every listen address it picks a port on, so it needs an IP whatever kind
    // version is installed (older kinds let `foo` through to Docker, which then fails).
    for (m, pm) in mappings.iter().enumerate() {
        if let Some(a) = &pm.listen_address
            && !a.value.is_empty()
            && parse_ip(&a.value).is_none()
            && !(rules.rejects_bad_listen_address
                && out
                    .iter()
                    .any(|p| p.message.contains("invalid listen address")))
        {
            out.push(at(
                format!("nodes[{index}].extraPortMappings[{m}].listenAddress"),
                Position::of(file, a),
                format!("listenAddress {:?} is not an IP address", a.value),
                Cause::KindproofOnly,
            ));
        }
    }
}

/// kind's `validatePortMappings` for the given rules: the first offending mapping's index, the
/// message, and whether kindproof's own port resolution removes the problem.
fn duplicate_problem(mappings: &[PortMapping], rules: Rules) -> Option<(usize, String, Cause)> {
    if rules.duplicates == DuplicateRule::None {
        return None;
    }
    let wildcard = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    // "PORT/PROTOCOL" -> listen addresses already bound, exactly as kind keys them.
    let mut bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, pm) in mappings.iter().enumerate() {
        let host_port = pm.host_port.as_ref().map(|h| h.value).unwrap_or(0);
        let random = host_port == 0 || host_port == -1;
        if random && rules.duplicates == DuplicateRule::SkipRandom {
            continue;
        }
        let written = pm
            .listen_address
            .as_ref()
            .map(|a| a.value.as_str())
            .unwrap_or("");
        let effective = if written.is_empty() && rules.empty_listen_address_is_wildcard {
            "0.0.0.0"
        } else {
            written
        };
        let mut addr = parse_ip(effective);
        if addr.is_none() && rules.rejects_bad_listen_address {
            return Some((m, format!("invalid listen address: {written}"), Cause::Kind));
        }
        // kind validates the protocol as written (its provider defaults it to TCP only later).
        let protocol = pm
            .protocol
            .as_ref()
            .and_then(|p| Protocol::parse(&p.value))
            .map(Protocol::upper)
            .unwrap_or("");
        let key = format!("{host_port}/{protocol}");
        let mut addr_text = go_ip_string(addr);
        let message = format!("{DUPLICATE_MSG}: {addr_text}:{key}");
        if addr == Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)) {
            addr = Some(wildcard);
            addr_text = go_ip_string(addr);
        }
        let cause = if random {
            Cause::RandomPortDuplicate
        } else {
            Cause::Kind
        };
        let set = bound.entry(key).or_default();
        if (addr == Some(wildcard) && !set.is_empty())
            || set.contains(&addr_text)
            || set.contains("0.0.0.0")
        {
            return Some((m, message, cause));
        }
        set.insert(addr_text);
    }
    None
}

/// Go's `net.ParseIP`: IPv4, IPv6, IPv4-mapped IPv6 (printed as IPv4); no zones, no brackets.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Go's `net.IP.String()`, including `<nil>` for an address that did not parse.
fn go_ip_string(addr: Option<IpAddr>) -> String {
    addr.map(|a| a.to_string())
        .unwrap_or_else(|| "<nil>".to_string())
}

fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// kind's `validatePort`: -1 is "let the container runtime pick".
fn check_port(port: i64) -> Result<(), String> {
    if !(-1..=65535).contains(&port) {
        return Err(format!("invalid port number: {port}"));
    }
    Ok(())
}

/// kind's `validateSubnets`, with Go's `net.ParseCIDR` error text.
fn check_subnets(text: &str, family: &str) -> Result<(), String> {
    let mut is_v6 = Vec::new();
    for cidr in text.split(',') {
        match parse_cidr(cidr) {
            Some(v6) => is_v6.push(v6),
            None => {
                return Err(format!(
                    "failed to parse cidr value:{cidr:?} with error: invalid CIDR address: {cidr}"
                ));
            }
        }
    }
    let dual = family == "dual";
    let dual_msg =
        "expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking";
    if dual && is_v6.len() > 2 {
        return Err(dual_msg.to_string());
    }
    if dual && is_v6.len() == 2 && is_v6[0] == is_v6[1] {
        return Err(dual_msg.to_string());
    }
    if !dual && is_v6.len() > 1 {
        return Err("only one CIDR allowed for single-stack networking".to_string());
    }
    if family == "ipv4" && is_v6[0] {
        return Err("expected IPv4 CIDR for IPv4 family".to_string());
    }
    if family == "ipv6" && !is_v6[0] {
        return Err("expected IPv6 CIDR for IPv6 family".to_string());
    }
    Ok(())
}

/// `Some(is_ipv6)` for a valid `ip/prefix`.
fn parse_cidr(text: &str) -> Option<bool> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return None;
    }
    let prefix: u32 = prefix.parse().ok()?;
    let v6 = match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    };
    (prefix <= if v6 { 128 } else { 32 }).then_some(v6)
}

/// kind's aggregated message for these problems (kindproof-only problems excluded), exactly as
/// `kind create cluster` prints it after `ERROR: failed to create cluster: `.
pub fn kind_message(problems: &[Problem]) -> Option<String> {
    let mut top: Vec<String> = Vec::new();
    let mut i = 0;
    let kind_only: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.cause != Cause::KindproofOnly)
        .collect();
    while i < kind_only.len() {
        match kind_only[i].scope {
            Scope::Cluster => {
                top.push(kind_only[i].message.clone());
                i += 1;
            }
            Scope::Node(n) => {
                let mut node_msgs = Vec::new();
                while i < kind_only.len() && kind_only[i].scope == Scope::Node(n) {
                    node_msgs.push(kind_only[i].message.clone());
                    i += 1;
                }
                top.push(format!(
                    "invalid configuration for node {n}: {}",
                    aggregate(&node_msgs)
                ));
            }
        }
    }
    (!top.is_empty()).then(|| aggregate(&top))
}

/// apimachinery's aggregate error text: one message alone, several as `[a, b]`, duplicates once.
fn aggregate(messages: &[String]) -> String {
    let mut seen = BTreeSet::new();
    let unique: Vec<&str> = messages
        .iter()
        .filter(|m| seen.insert(m.as_str()))
        .map(String::as_str)
        .collect();
    match unique.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
