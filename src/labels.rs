//! The labels kindproof puts on every container, network and namespace it creates, and the
//! names it gives them (unique by run id), so that `clean` can sweep what a dead run left
//! behind and tests can prove nothing leaked.

use std::collections::HashMap;

/// Marks an object as kindproof's.
pub const MANAGED: &str = "io.kindproof.managed";
/// The run that created it.
pub const RUN_ID: &str = "io.kindproof.run-id";
/// The process that created it (to tell live runs from dead ones).
pub const PID: &str = "io.kindproof.pid";

/// A run id: unique per process, short, lowercase (it ends up in cluster and container names).
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 4];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = u32::from_le_bytes(bytes) ^ nanos ^ std::process::id().rotate_left(16);
    format!("{mixed:08x}")
}

/// Longest cluster name: `<name>-control-plane` must stay a 63-character hostname.
pub const MAX_NAME: usize = 49;

/// A unique, kind-valid cluster name for one run: `kp-<short name>-<run id>`, lowercase, at
/// most [`MAX_NAME`] characters; the short name is cut, never the run id.
pub fn cluster_name(name: &str, run_id: &str) -> String {
    let mut short = String::new();
    for c in name.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (short.is_empty() || short.ends_with('-'))) {
            short.push(c);
        }
    }
    let room = MAX_NAME.saturating_sub("kp-".len() + 1 + run_id.len());
    short.truncate(room);
    let short = short.trim_end_matches('-');
    if short.is_empty() {
        format!("kp-{run_id}")
    } else {
        format!("kp-{short}-{run_id}")
    }
}

/// The labels for an object created by run `run_id`.
pub fn for_run(run_id: &str) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED.to_string(), "true".to_string()),
        (RUN_ID.to_string(), run_id.to_string()),
        (PID.to_string(), std::process::id().to_string()),
    ])
}

/// A `key=value` label filter for run `run_id`.
pub fn run_filter(run_id: &str) -> String {
    format!("{RUN_ID}={run_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_are_unique_short_and_valid() {
        assert_eq!(
            cluster_name("flower-bind-nodeip", "1a2b3c4d"),
            "kp-flower-bind-nodeip-1a2b3c4d"
        );
        assert_eq!(
            cluster_name("My_Scenario.v2", "1a2b3c4d"),
            "kp-my-scenario-v2-1a2b3c4d"
        );
        let long = cluster_name(&"x".repeat(80), "1a2b3c4d");
        assert_eq!(long.len(), MAX_NAME);
        assert!(long.ends_with("-1a2b3c4d"));
        assert_eq!(cluster_name("--", "1a2b3c4d"), "kp-1a2b3c4d");
        // A cut that ends on a dash does not leave two in a row.
        let cut = cluster_name(&format!("{}-y", "a".repeat(36)), "1a2b3c4d");
        assert!(!cut.contains("--"), "{cut}");
        for n in [&long, &cut] {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
            assert!(format!("{n}-control-plane").len() <= 63);
        }
    }

    #[test]
    fn run_ids_are_short_lowercase_and_differ() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(a.len(), 8);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
