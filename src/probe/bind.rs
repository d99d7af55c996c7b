//! The probe's `bind` mode: try to bind and listen on an address (resolved), and its `bind`
//! record decoded (ok, or the errno the kernel gave).

use super::{BindRecord, events, tail};
use kindproof_probe::protocol::BIND;

/// The command line of a bind probe of `address`.
pub fn args(address: &str) -> Vec<String> {
    vec![
        "bind".to_string(),
        "--address".into(),
        address.to_string(),
        "--check".into(),
    ]
}

/// The `bind` line.
pub fn decode(stdout: &str) -> Result<BindRecord, String> {
    let first = events(stdout, BIND).next().ok_or_else(|| {
        format!(
            "the probe printed no bind record; its output was: {}",
            tail(stdout)
        )
    })?;
    serde_json::from_value(first)
        .map_err(|e| format!("failed to read the probe's bind record: {e}"))
}
