//! Portable node references: `${nodes.role.<role>[<index>].<field>}` names a node by its role
//! and its place among that role's nodes, so one scenario runs on a kind cluster (where it is
//! the same node as kind's `worker`, `worker2`…) and on any other cluster (role from the Node's
//! `node-role.kubernetes.io/*` labels); `${nodes.label.<key>=<value>[<index>].<field>}` by a
//! label (on kind, the labels its config gives a node; elsewhere the Node's). Pure: parsing,
//! kind's roles and labels by name, and the order.

/// A parsed `role.<role>[<index>].<field>` (the part after `nodes.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRef<'a> {
    pub role: &'a str,
    pub index: usize,
    pub field: &'a str,
}

/// A parsed `label.<key>=<value>[<index>].<field>` (the part after `nodes.label.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRef<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub index: usize,
    pub field: &'a str,
}

/// Parse `disktype=ssd[0].name` (what follows `nodes.label.`; the key may hold dots and
/// slashes, `topology.kubernetes.io/zone=a[0].ip`).
pub fn parse_label(rest: &str) -> Result<LabelRef<'_>, String> {
    let bad = || {
        format!(
            "`nodes.label.{rest}` is not a label reference: write `nodes.label.<key>=<value>[<index>].<ip|ipv6|name>`, e.g. `nodes.label.disktype=ssd[0].name`"
        )
    };
    let (selector, after) = rest.rsplit_once('[').ok_or_else(bad)?;
    let (key, value) = selector.split_once('=').ok_or_else(bad)?;
    let (index, field) = after.split_once("].").ok_or_else(bad)?;
    if key.is_empty() || !index.chars().all(|c| c.is_ascii_digit()) || index.is_empty() {
        return Err(bad());
    }
    let index = index.parse().map_err(|_| bad())?;
    if !FIELDS.contains(&field) {
        return Err(format!(
            "`nodes.label.{rest}`: a node has no field `{field}` (fields: ip, ipv6, name)"
        ));
    }
    Ok(LabelRef {
        key,
        value,
        index,
        field,
    })
}

/// The labels a kind config gives each node, by short name (`worker2`).
pub fn kind_labels(
    config: &crate::kind_config::model::Cluster,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    use crate::kind_config::defaults::{node_short_names, with_defaults};
    let defaulted = with_defaults(config);
    defaulted
        .nodes
        .iter()
        .zip(node_short_names(&defaulted))
        .map(|(n, short)| (short, n.labels.clone()))
        .collect()
}

/// The fields a node reference can read.
pub const FIELDS: [&str; 3] = ["ip", "ipv6", "name"];

/// Parse `worker[0].ip` (what follows `nodes.role.`).
pub fn parse(rest: &str) -> Result<RoleRef<'_>, String> {
    let bad = || {
        format!(
            "`nodes.role.{rest}` is not a role reference: write `nodes.role.<role>[<index>].<ip|ipv6|name>`, e.g. `nodes.role.worker[0].ip`"
        )
    };
    let (role, after) = rest.split_once('[').ok_or_else(bad)?;
    let (index, after) = after.split_once(']').ok_or_else(bad)?;
    let field = after.strip_prefix('.').ok_or_else(bad)?;
    let valid_role = !role.is_empty()
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_role || index.is_empty() || !index.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let index: usize = index.parse().map_err(|_| bad())?;
    if !FIELDS.contains(&field) {
        return Err(format!(
            "`nodes.role.{rest}`: a node has no field `{field}` (fields: ip, ipv6, name)"
        ));
    }
    Ok(RoleRef { role, index, field })
}

/// The role of a kind node by its short name: `control-plane`, `control-plane2`… are
/// control-plane nodes, every other one a worker.
pub fn kind_role(short: &str) -> &'static str {
    if short.starts_with("control-plane") {
        "control-plane"
    } else {
        "worker"
    }
}

/// The order of nodes within a role: by name, a trailing number compared as a number (kind's
/// `worker` < `worker2` < `worker10`).
pub fn order_key(name: &str) -> (&str, u64) {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = name[stem.len()..].parse().unwrap_or(0);
    (stem, number)
}

/// The `index`th of the names whose role is `role`, in [`order_key`] order.
pub fn nth<'n>(
    nodes: impl IntoIterator<Item = (&'n str, &'n str)>,
    role: &str,
    index: usize,
) -> Option<&'n str> {
    nth_where(nodes, |r| *r == role, index)
}

/// The `index`th, in [`order_key`] order of their names, of the `(name, what)` pairs whose
/// `what` is kept.
pub fn nth_where<'n, T>(
    items: impl IntoIterator<Item = (&'n str, T)>,
    keep: impl Fn(&T) -> bool,
    index: usize,
) -> Option<&'n str> {
    let mut kept: Vec<&str> = items
        .into_iter()
        .filter(|(_, t)| keep(t))
        .map(|(n, _)| n)
        .collect();
    kept.sort_by_key(|n| order_key(n));
    kept.get(index).copied()
}

/// How many of `names` (kind short names) have each role, for error messages.
pub fn kind_counts<'n>(names: impl IntoIterator<Item = &'n String>) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for n in names {
        *counts.entry(kind_role(n)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(r, n)| (r.to_string(), n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_role_index_and_field() {
        assert_eq!(
            parse("worker[1].ip"),
            Ok(RoleRef {
                role: "worker",
                index: 1,
                field: "ip"
            })
        );
        assert_eq!(
            parse("control-plane[0].name").unwrap().role,
            "control-plane"
        );
        for bad in [
            "worker.ip",
            "worker[].ip",
            "worker[x].ip",
            "worker[0]ip",
            "[0].ip",
        ] {
            assert!(
                parse(bad).unwrap_err().contains("not a role reference"),
                "{bad}"
            );
        }
        assert!(
            parse("worker[0].mac")
                .unwrap_err()
                .contains("no field `mac`")
        );
    }

    #[test]
    fn parses_label_selectors_with_dotted_keys() {
        assert_eq!(
            parse_label("topology.kubernetes.io/zone=a[1].ip"),
            Ok(LabelRef {
                key: "topology.kubernetes.io/zone",
                value: "a",
                index: 1,
                field: "ip"
            })
        );
        assert_eq!(parse_label("disktype=ssd[0].name").unwrap().value, "ssd");
        for bad in [
            "disktype[0].ip",
            "=ssd[0].ip",
            "disktype=ssd[x].ip",
            "disktype=ssd.ip",
        ] {
            assert!(
                parse_label(bad)
                    .unwrap_err()
                    .contains("not a label reference"),
                "{bad}"
            );
        }
    }

    #[test]
    fn kind_names_give_roles_and_order() {
        assert_eq!(kind_role("control-plane2"), "control-plane");
        assert_eq!(kind_role("worker3"), "worker");
        let nodes = [
            ("worker10", "worker"),
            ("worker2", "worker"),
            ("control-plane", "control-plane"),
            ("worker", "worker"),
        ];
        assert_eq!(nth(nodes, "worker", 0), Some("worker"));
        assert_eq!(nth(nodes, "worker", 1), Some("worker2"));
        assert_eq!(nth(nodes, "worker", 2), Some("worker10"));
        assert_eq!(nth(nodes, "worker", 3), None);
        assert_eq!(nth(nodes, "control-plane", 0), Some("control-plane"));
        assert_eq!(nth(nodes, "infra", 0), None);
    }
}
