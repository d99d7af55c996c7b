//! The probe's `connect` mode: `--target` per target, attempts, concurrency, per-connection
//! timeout and protocol; its `connect-summary` lines (one per target) decoded; and the same
//! arguments narrowed to one target, for an assertion that judges that one.

use std::time::Duration;

use super::{ConnectSummary, events, ms, tail};
use kindproof_probe::protocol::CONNECT_SUMMARY;

/// `connect --target T …`.
fn connect_to(targets: &[String]) -> Vec<String> {
    let mut args = vec!["connect".to_string()];
    for t in targets {
        args.push("--target".into());
        args.push(t.clone());
    }
    args
}

/// The command line of a connect probe to `targets` (resolved).
pub fn args(
    targets: &[String],
    count: u32,
    concurrency: u32,
    per_connection: Duration,
    http: bool,
) -> Vec<String> {
    let mut args = connect_to(targets);
    args.extend([
        "--count".into(),
        count.to_string(),
        "--concurrency".into(),
        concurrency.to_string(),
        "--timeout".into(),
        ms(per_connection),
        "--proto".into(),
        if http { "http" } else { "tcp" }.into(),
    ]);
    args
}

/// The command line of a background connect probe: an attempt per target every `interval`,
/// for at most `bound` (it is stopped sooner).
pub fn stream_args(
    targets: &[String],
    interval: Duration,
    per_connection: Duration,
    http: bool,
    bound: Duration,
) -> Vec<String> {
    let mut args = connect_to(targets);
    args.extend([
        "--interval".into(),
        format!("{}ms", interval.as_secs_f64() * 1000.0),
        "--for".into(),
        format!("{}s", bound.as_secs().clamp(1, 86_400)),
        "--timeout".into(),
        ms(per_connection),
        "--proto".into(),
        if http { "http" } else { "tcp" }.into(),
    ]);
    args
}

/// Every `connect-summary` line, in target order.
pub fn decode(stdout: &str) -> Result<Vec<ConnectSummary>, String> {
    let out: Vec<ConnectSummary> = events(stdout, CONNECT_SUMMARY)
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("failed to read the probe's connect summary: {e}"))?;
    if out.is_empty() {
        return Err(format!(
            "the probe printed no connect summary; its output was: {}",
            tail(stdout)
        ));
    }
    Ok(out)
}

/// A connect probe's arguments with `--target` pairs other than `target` left out.
pub fn only_target(args: &[String], target: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--target" {
            if args.get(i + 1).is_some_and(|t| t == target) {
                out.extend_from_slice(&args[i..i + 2]);
            }
            i += 2;
        } else {
            out.push(args[i].clone());
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_probe_runs_again_to_the_judged_target_only() {
        let args: Vec<String> = [
            "connect",
            "--target",
            "a:1",
            "--target",
            "b:2",
            "--count",
            "40",
            "--timeout",
            "1000ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            only_target(&args, "b:2"),
            [
                "connect",
                "--target",
                "b:2",
                "--count",
                "40",
                "--timeout",
                "1000ms"
            ]
        );
    }
}
