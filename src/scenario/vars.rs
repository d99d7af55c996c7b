//! Variables: `${name}` references in scenario strings and manifests, checked against what a
//! scenario can know before anything runs, and resolved just before a step runs.
//!
//! Names: user variables (`${manifest}`), `${cluster.name}`, `${namespace}`, `${probe.image}`,
//! `${nodes.<node>.ip|ipv6|name}` (node by kind's short name: `control-plane`, `worker`,
//! `worker2`…), `${nodes.role.<role>[<index>].ip|ipv6|name}` (node by role, portable),
//! `${nodes.label.<key>=<value>[<index>].ip|ipv6|name}` (node by label), `${ports.<node>.<containerPort>/<tcp|udp|sctp>}` (the host port published),
//! `${steps.<id>.<output>}` (an earlier step's output).

use std::collections::{BTreeMap, BTreeSet};

/// The references in `text`, in order; an unclosed `${` is an error. `$${` is a literal `${`
/// (not a reference).
pub fn references(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if rest[..start].ends_with('$') {
            rest = after;
            continue;
        }
        let end = after.find('}').ok_or_else(|| {
            format!("unclosed `${{` in {text:?} (write `$${{` for a literal `${{`)")
        })?;
        let name = after[..end].trim();
        if name.is_empty() {
            return Err(format!("empty `${{}}` in {text:?}"));
        }
        out.push(name);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Replace every reference in `text` with its value from `lookup`; the first unknown name is
/// the error. `$${` becomes a literal `${`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = after;
            continue;
        }
        out.push_str(&rest[..start]);
        let end = after.find('}').ok_or_else(|| {
            format!("unclosed `${{` in {text:?} (write `$${{` for a literal `${{`)")
        })?;
        let name = after[..end].trim();
        let value = lookup(name).ok_or_else(|| format!("unknown variable `${{{name}}}`"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What names exist before the run, for validation.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub user: BTreeSet<String>,
    /// Node short names (`control-plane`, `worker`, `worker2`).
    pub nodes: BTreeSet<String>,
    /// (node short name, `80/tcp`).
    pub ports: BTreeSet<(String, String)>,
    /// Step ids defined so far, with their outputs.
    pub steps: BTreeMap<String, BTreeSet<&'static str>>,
    /// The labels the kind config gives each node, by short name.
    pub node_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// The background probe steps so far, and those of them stopped.
    pub background: BTreeSet<String>,
    pub stopped: BTreeSet<String>,
}

impl Known {
    /// Why `name` cannot be resolved, or `None` when it can.
    pub fn check(&self, name: &str) -> Option<String> {
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        let ok = match parts.as_slice() {
            ["cluster", "name"] | ["namespace"] | ["probe", "image"] => true,
            ["nodes", "role", rest] => {
                let r = match super::node_ref::parse(rest) {
                    Ok(r) => r,
                    Err(e) => return Some(format!("unknown variable `${{{name}}}`: {e}")),
                };
                let of_role = self
                    .nodes
                    .iter()
                    .filter(|n| super::node_ref::kind_role(n) == r.role)
                    .count();
                if r.index >= of_role {
                    let have: Vec<String> = super::node_ref::kind_counts(&self.nodes)
                        .into_iter()
                        .map(|(role, n)| format!("{n} {role}"))
                        .collect();
                    return Some(format!(
                        "unknown variable `${{{name}}}`: the cluster has {of_role} {} node(s), so no index {} (nodes: {})",
                        r.role,
                        r.index,
                        have.join(", ")
                    ));
                }
                true
            }
            ["nodes", "label", rest] => {
                let r = match super::node_ref::parse_label(rest) {
                    Ok(r) => r,
                    Err(e) => return Some(format!("unknown variable `${{{name}}}`: {e}")),
                };
                let matching = self
                    .node_labels
                    .values()
                    .filter(|l| l.get(r.key).is_some_and(|v| v == r.value))
                    .count();
                if r.index >= matching {
                    return Some(format!(
                        "unknown variable `${{{name}}}`: the kind config gives {matching} node(s) the label {}={}, so no index {}",
                        r.key, r.value, r.index
                    ));
                }
                true
            }
            ["nodes", node, field] => {
                if !self.nodes.contains(*node) {
                    return Some(format!(
                        "unknown variable `${{{name}}}`: the cluster has no node `{node}` (nodes: {})",
                        join(&self.nodes)
                    ));
                }
                matches!(*field, "ip" | "ipv6" | "name")
            }
            ["ports", node, port] => {
                if self.ports.contains(&(node.to_string(), port.to_string())) {
                    true
                } else {
                    let have: BTreeSet<String> =
                        self.ports.iter().map(|(n, p)| format!("{n}.{p}")).collect();
                    return Some(format!(
                        "unknown variable `${{{name}}}`: the kind config publishes no {port} on `{node}` (published: {})",
                        join(&have)
                    ));
                }
            }
            ["steps", id, output] => match self.steps.get(*id) {
                None => {
                    return Some(format!(
                        "unknown variable `${{{name}}}`: no earlier step has id `{id}`"
                    ));
                }
                Some(outputs) if outputs.contains(*output) => true,
                Some(outputs) => {
                    return Some(format!(
                        "unknown variable `${{{name}}}`: step `{id}` has no output `{output}` (outputs: {})",
                        outputs.iter().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
            },
            [single] => self.user.contains(*single),
            _ => false,
        };
        (!ok).then(|| format!("unknown variable `${{{name}}}`"))
    }
}

fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_substitutes_references() {
        assert_eq!(
            references("${nodes.worker.ip}:${ports.worker.30001/tcp}").unwrap(),
            ["nodes.worker.ip", "ports.worker.30001/tcp"]
        );
        assert!(references("no variables").unwrap().is_empty());
        assert!(references("${open").unwrap_err().contains("unclosed"));
        assert!(references("${}").unwrap_err().contains("empty"));
        let got = substitute("http://${ip}:${ port }/x", |n| match n {
            "ip" => Some("172.18.0.3".into()),
            "port" => Some("30001".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(got, "http://172.18.0.3:30001/x");
        assert_eq!(
            substitute("${nope}", |_| None).unwrap_err(),
            "unknown variable `${nope}`"
        );
        // `$${` is the escape for a literal `${` (a shell snippet in a manifest).
        assert!(references("echo $${HOME} ${ip}").unwrap() == ["ip"]);
        assert_eq!(
            substitute("echo $${HOME} ${ip}", |_| Some("1.2.3.4".into())).unwrap(),
            "echo ${HOME} 1.2.3.4"
        );
    }

    #[test]
    fn role_references_are_checked_against_the_roles_nodes() {
        let mut k = Known::default();
        k.nodes
            .extend(["control-plane".into(), "worker".into(), "worker2".into()]);
        for ok in [
            "nodes.role.worker[0].ip",
            "nodes.role.worker[1].name",
            "nodes.role.control-plane[0].ipv6",
        ] {
            assert_eq!(k.check(ok), None, "{ok}");
        }
        assert_eq!(
            k.check("nodes.role.worker[2].ip").unwrap(),
            "unknown variable `${nodes.role.worker[2].ip}`: the cluster has 2 worker node(s), so no index 2 (nodes: 1 control-plane, 2 worker)"
        );
        assert!(
            k.check("nodes.role.infra[0].ip")
                .unwrap()
                .contains("has 0 infra node(s)")
        );
        assert!(
            k.check("nodes.role.worker.ip")
                .unwrap()
                .contains("not a role reference")
        );
    }

    #[test]
    fn known_names_are_checked_with_reasons() {
        let mut k = Known::default();
        k.user.insert("manifest".into());
        k.nodes.extend(["control-plane".into(), "worker".into()]);
        k.ports.insert(("worker".into(), "30001/tcp".into()));
        k.steps
            .insert("svc".into(), BTreeSet::from(["time", "exitCode"]));
        for ok in [
            "manifest",
            "cluster.name",
            "namespace",
            "probe.image",
            "nodes.worker.ip",
            "nodes.control-plane.name",
            "ports.worker.30001/tcp",
            "steps.svc.time",
        ] {
            assert_eq!(k.check(ok), None, "{ok}");
        }
        assert_eq!(k.check("nope").unwrap(), "unknown variable `${nope}`");
        assert!(
            k.check("nodes.worker3.ip")
                .unwrap()
                .contains("no node `worker3` (nodes: control-plane, worker)")
        );
        assert_eq!(
            k.check("nodes.worker.mac").unwrap(),
            "unknown variable `${nodes.worker.mac}`"
        );
        assert!(
            k.check("ports.worker.80/tcp")
                .unwrap()
                .contains("published: worker.30001/tcp")
        );
        assert!(
            k.check("steps.later.time")
                .unwrap()
                .contains("no earlier step has id `later`")
        );
        assert!(
            k.check("steps.svc.stdout")
                .unwrap()
                .contains("outputs: exitCode, time")
        );
    }
}
