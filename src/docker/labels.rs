//! The labels kindproof puts on every container and network it creates, so that `clean` can
//! sweep what a dead run left behind and tests can prove nothing leaked.

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
