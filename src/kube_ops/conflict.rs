//! A server-side apply conflict as the API server words it, read back into (manager, field)
//! pairs. One conflict reads `Apply failed with 1 conflict: conflict with "M" using v1: FIELD`;
//! several read `Apply failed with N conflicts: conflicts with "M" using v1:` followed by one
//! `- FIELD` line each, grouped by manager (apimachinery's managedfields `NewConflictError`).

/// One field another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager's name, without quotes (`kubectl-client-side-apply`).
    pub manager: String,
    /// The field path (`.spec.ports[port=53,protocol="UDP"].nodePort`).
    pub field: String,
}

/// `"M" using v1 at T` → `M`.
fn manager(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// The conflicts a message names, in its order; `None` when it is no apply conflict or does
/// not add up (the count it states differs from the fields it lists).
pub fn conflicts(message: &str) -> Option<Vec<Conflict>> {
    let rest = message.trim().strip_prefix("Apply failed with ")?;
    let (count, rest) = rest.split_once(' ')?;
    let count: usize = count.parse().ok()?;
    let mut out = Vec::new();
    if let Some(one) = rest.strip_prefix("conflict: conflict with ") {
        // `"M" using v1: FIELD`; a time (`at 2026-12-01T19:12:07Z`) has no ": " in it.
        let close = one.strip_prefix('"')?.find('"')? + 2;
        let (_, field) = one[close..].split_once(": ")?;
        out.push(Conflict {
            manager: manager(&one[..close])?,
            field: field.trim().to_string(),
        });
    } else {
        let rest = rest.strip_prefix("conflicts: ")?;
        let mut current: Option<String> = None;
        for line in rest.lines() {
            let line = line.trim();
            if let Some(m) = line.strip_prefix("conflicts with ") {
                current = Some(manager(m)?);
            } else if let Some(field) = line.strip_prefix("- ") {
                out.push(Conflict {
                    manager: current.clone()?,
                    field: field.to_string(),
                });
            } else if !line.is_empty() {
                return None;
            }
        }
    }
    (out.len() == count).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSA: &str = "kubectl-client-side-apply";

    #[test]
    fn one_conflict_as_the_server_words_it() {
        // Measured on v1.36.2 (FACTS.md): only the UDP entry's nodePort changed.
        let m = r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.ports[port=53,protocol="UDP"].nodePort"#;
        assert_eq!(
            conflicts(m).unwrap(),
            [Conflict {
                manager: CSA.into(),
                field: r#".spec.ports[port=53,protocol="UDP"].nodePort"#.into()
            }]
        );
        let timed = r#"Apply failed with 1 conflict: conflict with "kubectl" using apps/v1 at 2026-12-01T19:12:07Z: .spec.replicas"#;
        assert_eq!(conflicts(timed).unwrap()[0].field, ".spec.replicas");
    }

    #[test]
    fn several_conflicts_one_line_each() {
        // Measured on v1.36.2: both nodePorts changed.
        let m = "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using v1:\n- .spec.ports[port=53,protocol=\"TCP\"].nodePort\n- .spec.ports[port=53,protocol=\"UDP\"].nodePort";
        let c = conflicts(m).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.manager == CSA));
        assert_eq!(c[0].field, ".spec.ports[port=53,protocol=\"TCP\"].nodePort");
        assert_eq!(c[1].field, ".spec.ports[port=53,protocol=\"UDP\"].nodePort");
        let two_managers = "Apply failed with 3 conflicts: conflicts with \"a\" using v1:\n- .x\nconflicts with \"b\" with subresource \"status\" using v1:\n- .y\n- .z";
        let c = conflicts(two_managers).unwrap();
        assert_eq!(
            c.iter()
                .map(|c| (c.manager.as_str(), c.field.as_str()))
                .collect::<Vec<_>>(),
            [("a", ".x"), ("b", ".y"), ("b", ".z")]
        );
    }

    #[test]
    fn other_messages_are_not_conflicts() {
        assert_eq!(
            conflicts("The Service \"dns\" is invalid: spec.ports: Required value"),
            None
        );
        // A count that does not match the fields listed.
        assert_eq!(
            conflicts("Apply failed with 2 conflicts: conflicts with \"a\" using v1:\n- .x"),
            None
        );
    }
}
