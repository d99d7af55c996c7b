//! The whole verdict on a kind config for one kind version: what kind would say about it as
//! written, and whether kindproof can still run it after resolving random host ports itself.

use std::path::Path;

use super::defaults::with_defaults;
use super::model::{Cluster, unspanned};
use super::validate::{self, Cause, Problem};
use super::version::{KindVersion, Rules};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// kind accepts the config as written.
    Valid,
    /// kind would reject the config as written, but not the config kindproof hands it after
    /// picking the random host ports itself.
    ResolvedByKindproof,
    /// Neither kind nor kindproof can use it.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct ConfigCheck {
    pub version: KindVersion,
    /// What `kind create cluster` of that version would print about the config as written.
    pub kind_message: Option<String>,
    /// Every problem in the config as written.
    pub problems: Vec<Problem>,
    /// The problems that remain after kindproof's own port resolution.
    pub blocking: Vec<Problem>,
    /// What may fail on this host but not on another (a listen address it lacks).
    pub warnings: Vec<Problem>,
}

impl ConfigCheck {
    pub fn run(file: &Path, raw: &Cluster, version: KindVersion) -> Self {
        let rules = version.rules();
        let defaulted = with_defaults(raw);
        let mut problems = validate::problems(file, &defaulted, rules);
        let mut blocking = if problems.is_empty() {
            Vec::new()
        } else {
            // What is left: the problems as written that resolution does not remove, and any
            // the resolved config has on other fields (kind stops at the first duplicate, so a
            // random-port duplicate can hide a fixed one behind it).
            let mut left: Vec<Problem> = problems
                .iter()
                .filter(|p| p.cause != Cause::RandomPortDuplicate)
                .cloned()
                .collect();
            for p in validate::problems(file, &as_resolved(&defaulted, rules), rules) {
                if !left.iter().any(|l| l.field == p.field) {
                    left.push(p);
                }
            }
            left
        };
        // Docker's own refusal, which no kind rule covers and port resolution does not fix.
        let across = super::host_ports::across_nodes(file, &defaulted);
        problems.extend(across.iter().cloned());
        blocking.extend(across);
        Self {
            version,
            kind_message: validate::kind_message(&problems),
            problems,
            blocking,
            warnings: super::host_ports::not_on_this_host(file, &defaulted),
        }
    }

    pub fn verdict(&self) -> Verdict {
        if self.problems.is_empty() {
            Verdict::Valid
        } else if self.blocking.is_empty() {
            Verdict::ResolvedByKindproof
        } else {
            Verdict::Invalid
        }
    }
}

/// The config with every port kindproof picks replaced by a distinct stand-in port, which is
/// what kind sees after resolution (the real ports are chosen only when a cluster is made).
fn as_resolved(cluster: &Cluster, rules: Rules) -> Cluster {
    let mut out = cluster.clone();
    let fixed: Vec<i64> = out
        .nodes
        .iter()
        .flat_map(|n| &n.extra_port_mappings)
        .filter_map(|pm| pm.host_port.as_ref().map(|h| h.value))
        .collect();
    let mut next = 65535_i64;
    for pm in out
        .nodes
        .iter_mut()
        .flat_map(|n| &mut n.extra_port_mappings)
    {
        if rules.kindproof_picks(pm.host_port.as_ref().map(|h| h.value)) {
            while fixed.contains(&next) {
                next -= 1;
            }
            let span = pm.host_port.as_ref().map(|h| (h.referenced, h.defined));
            let mut port = unspanned(next);
            if let Some((referenced, defined)) = span {
                port.referenced = referenced;
                port.defined = defined;
            }
            pm.host_port = Some(port);
            next -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind_config::load::load_str;

    fn verdict(version: &str, body: &str) -> ConfigCheck {
        let text = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n{body}");
        let raw = load_str(Path::new("c.yaml"), &text).unwrap();
        ConfigCheck::run(Path::new("c.yaml"), &raw, version.parse().unwrap())
    }

    const RANDOM: &str = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n  - containerPort: 443\n    listenAddress: 127.0.0.1\n  - containerPort: 8443\n    hostPort: -1\n    listenAddress: 127.0.0.1\n  - containerPort: 9443\n    hostPort: -1\n    listenAddress: 127.0.0.1\n";

    #[test]
    fn random_ports_are_fixed_by_resolution_on_old_kind() {
        let c = verdict("0.21.0", RANDOM);
        assert_eq!(c.verdict(), Verdict::ResolvedByKindproof);
        assert!(c.kind_message.unwrap().ends_with("127.0.0.1:0/"));
        assert_eq!(verdict("0.33.0", RANDOM).verdict(), Verdict::Valid);
    }

    #[test]
    fn fixed_duplicates_stay_invalid() {
        let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n  - containerPort: 81\n    hostPort: 8080\n  - containerPort: 82\n  - containerPort: 83\n";
        let c = verdict("0.20.0", body);
        assert_eq!(c.verdict(), Verdict::Invalid);
        assert_eq!(c.blocking.len(), 1);
        assert!(c.blocking[0].message.ends_with("<nil>:8080/"));
    }

    #[test]
    fn a_fixed_duplicate_hidden_behind_a_random_one_is_still_found() {
        // kind 0.20 reports only the first duplicate (the random pair); after resolution the
        // fixed pair behind it is what kind would reject.
        let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: 127.0.0.1\n  - containerPort: 81\n    listenAddress: 127.0.0.1\n  - containerPort: 82\n    hostPort: 9000\n    listenAddress: 127.0.0.1\n  - containerPort: 83\n    hostPort: 9000\n    listenAddress: 127.0.0.1\n";
        let c = verdict("0.20.0", body);
        assert_eq!(c.verdict(), Verdict::Invalid);
        assert_eq!(c.problems.len(), 1);
        assert!(c.problems[0].message.ends_with("127.0.0.1:0/"));
        assert_eq!(c.blocking.len(), 1);
        assert!(c.blocking[0].message.ends_with("127.0.0.1:9000/"));
    }

    #[test]
    fn kindproof_only_problems_keep_their_own_message() {
        let body =
            "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    listenAddress: my-host\n";
        let c = verdict("0.33.0", body);
        assert_eq!(c.kind_message, None, "kind 0.33 accepts it");
        assert_eq!(c.verdict(), Verdict::Invalid);
        assert_eq!(c.blocking.len(), 1);
        assert_eq!(c.blocking[0].cause, Cause::KindproofOnly);
    }

    #[test]
    fn stand_in_ports_avoid_fixed_ones() {
        // Two random ports collide under 0.20; their stand-ins must not land on 65535, which a
        // fixed mapping on the same address and protocol already takes.
        let body = "nodes:\n- extraPortMappings:\n  - containerPort: 80\n    hostPort: 65535\n    listenAddress: 127.0.0.1\n  - containerPort: 81\n    listenAddress: 127.0.0.1\n  - containerPort: 82\n    listenAddress: 127.0.0.1\n";
        assert_eq!(
            verdict("0.20.0", body).verdict(),
            Verdict::ResolvedByKindproof
        );
    }
}
