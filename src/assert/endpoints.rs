//! Endpoints assertions: how many ready endpoints a Service has, and on which nodes. The
//! observation is the ready endpoints (address, node) of its EndpointSlices; `evaluate` is
//! pure.

use super::Verdict;

/// Judge a Service `svc` with ready endpoints `eps` against `ready` (how many) and `nodes`
/// (exactly the nodes they are on, names resolved).
pub fn evaluate(
    svc: &str,
    eps: &[(String, Option<String>)],
    ready: Option<u32>,
    nodes: Option<Vec<String>>,
) -> Verdict {
    let mut on: Vec<String> = eps.iter().filter_map(|(_, n)| n.clone()).collect();
    on.sort();
    on.dedup();
    let mut failures = Vec::new();
    if let Some(n) = ready
        && eps.len() != n as usize
    {
        failures.push(format!("{n} ready endpoints"));
    }
    if let Some(mut names) = nodes {
        names.sort();
        if names != on {
            failures.push(format!("endpoints on {}", names.join(", ")));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err((
            format!("service {svc}: {}", failures.join("; ")),
            format!("{} ready endpoints on {}", eps.len(), on.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_nodes_are_judged_on_what_is_ready() {
        let eps = vec![
            ("10.244.1.2".to_string(), Some("w1".to_string())),
            ("10.244.2.2".to_string(), Some("w2".to_string())),
        ];
        assert_eq!(
            evaluate("s", &eps, Some(2), Some(vec!["w2".into(), "w1".into()])),
            Ok(())
        );
        assert_eq!(
            evaluate("s", &eps, Some(3), Some(vec!["w1".into()])),
            Err((
                "service s: 3 ready endpoints; endpoints on w1".into(),
                "2 ready endpoints on w1, w2".into()
            ))
        );
    }
}
