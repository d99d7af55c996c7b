//! Whether a scenario runs on any cluster (`validate --portable`), and why not: kind-only
//! actions (node containers restarted, paused, cut off, exec'd into; kind itself run), probes
//! from a node's network namespace, and references only kind has — a node by kind's container
//! name (with the portable spelling suggested) or a host port kind publishes. Pure: reads the
//! validated model and the scenario's own files.

use std::path::Path;

use super::model::{Action, ExecTarget, From, ProbeSpec, Scenario};
use super::model_faults::Fault;
use super::node_ref::kind_role;
use super::vars::references;
use crate::kind_config::defaults::{node_short_names, with_defaults};

/// Why the scenario needs kind, one line each (`variant bug, step 3: restart-node …`;
/// `pods.yaml:12: ${nodes.worker.name} …`). Empty: it is portable.
pub fn reasons(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for v in &s.variants {
        if v.cluster.as_ref().is_some_and(|c| !c.shared) {
            out.push(format!(
                "variant {}: needs a cluster of its own (cluster.shared: false), which only kindproof's kind clusters give",
                v.name
            ));
        }
        for step in v.all_steps() {
            if let Some(why) = kind_only(&step.action) {
                out.push(format!(
                    "variant {}, line {}: {why}",
                    v.name, step.position.line
                ));
            }
        }
    }
    let shorts = node_short_names(&with_defaults(&s.cluster.config));
    for file in own_files(&s.dir) {
        // Bounded like every input (a file too large to be a manifest is not read).
        let Ok(text) = crate::input::read_text(&file) else {
            continue;
        };
        let name = file.strip_prefix(&s.dir).unwrap_or(&file).display();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let mut seen = std::collections::BTreeSet::new();
            for r in references(line).unwrap_or_default() {
                if seen.insert(r)
                    && let Some(why) = kind_reference(r, &shorts)
                {
                    out.push(format!("{name}:{}: {why}", n + 1));
                }
            }
        }
    }
    out
}

/// The YAML files of a scenario's directory, in name order: regular files only (a symlink
/// may lead outside the scenario, and nothing outside is read).
fn own_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn kind_only(action: &Action) -> Option<String> {
    let from_node = |f: &From| match f {
        From::Node(n) => Some(format!(
            "a probe from node:{} runs in a kind node's network namespace through Docker",
            n.0
        )),
        _ => None,
    };
    Some(match action {
        Action::RestartNode(n) => format!("restart-node {} restarts a kind node's container", n.0),
        Action::PauseNode { node, .. } => {
            format!("pause-node {} pauses a kind node's container", node.0)
        }
        Action::KindCreate { .. } => "kind-create runs kind".into(),
        Action::Exec {
            target: ExecTarget::Node(n),
            ..
        } => format!("exec in node {} runs in a kind node's container", n.0),
        Action::Fault(f) => match f {
            Fault::KillPods { .. } => return None,
            Fault::Disconnect(_) | Fault::Reconnect(_) => {
                format!("{} (kind's Docker network)", f.describe())
            }
            _ => format!("{} (an exec in a kind node's container)", f.describe()),
        },
        Action::Probe(
            ProbeSpec::Connect { from, .. }
            | ProbeSpec::Dns { from, .. }
            | ProbeSpec::Bind { from, .. }
            | ProbeSpec::DnsStream { from, .. }
            | ProbeSpec::Stream { from, .. },
        ) => return from_node(from),
        _ => return None,
    })
}

/// Why reference `r` needs kind, with the portable spelling where there is one.
fn kind_reference(r: &str, shorts: &[String]) -> Option<String> {
    let parts: Vec<&str> = r.splitn(3, '.').collect();
    match parts.as_slice() {
        ["nodes", "role" | "label", _] => None,
        ["nodes", node, field] => {
            let role = kind_role(node);
            let index = shorts
                .iter()
                .filter(|s| kind_role(s) == role)
                .position(|s| s == node);
            Some(match index {
                Some(i) => {
                    format!("${{{r}}} names a kind node: write ${{nodes.role.{role}[{i}].{field}}}")
                }
                None => format!("${{{r}}} names a kind node"),
            })
        }
        ["ports", ..] => Some(format!("${{{r}}} reads a host port kind publishes")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_get_their_portable_spelling() {
        let shorts: Vec<String> = ["control-plane", "worker", "worker2"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            kind_reference("nodes.worker2.ip", &shorts).unwrap(),
            "${nodes.worker2.ip} names a kind node: write ${nodes.role.worker[1].ip}"
        );
        assert_eq!(
            kind_reference("nodes.control-plane.name", &shorts).unwrap(),
            "${nodes.control-plane.name} names a kind node: write ${nodes.role.control-plane[0].name}"
        );
        assert_eq!(kind_reference("nodes.role.worker[0].ip", &shorts), None);
        assert_eq!(
            kind_reference("nodes.label.disktype=ssd[0].ip", &shorts),
            None
        );
        assert!(
            kind_reference("ports.control-plane.80/tcp", &shorts)
                .unwrap()
                .contains("host port")
        );
        assert_eq!(kind_reference("namespace", &shorts), None);
    }
}
