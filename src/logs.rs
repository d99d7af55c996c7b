//! Where log lines go. Results own the terminal: library logs (kube-rs, hyper, bollard, which
//! shout `ERROR … client error (Connect)` twice a second while an API server restarts) never
//! reach it unless asked for (`-v`, or `KINDPROOF_LOG`). Everything at `info` and above is kept
//! in memory instead — the last [`KEPT`] lines — and every diagnostics bundle gets them.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// How many log lines are kept for the diagnostics bundles.
pub const KEPT: usize = 20_000;

fn kept() -> &'static Mutex<VecDeque<String>> {
    static KEPT_LINES: OnceLock<Mutex<VecDeque<String>>> = OnceLock::new();
    KEPT_LINES.get_or_init(|| Mutex::new(VecDeque::new()))
}

/// Keep one formatted line (the oldest goes past [`KEPT`]).
fn keep(line: String) {
    let mut k = kept().lock().unwrap_or_else(|e| e.into_inner());
    if k.len() >= KEPT {
        k.pop_front();
    }
    k.push_back(line);
}

/// The kept lines so far, oldest first.
pub fn kept_text() -> String {
    let k = kept().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    for l in k.iter() {
        out.push_str(l);
        if !l.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// A writer that keeps each event's text in memory.
#[derive(Default)]
pub struct Keeper(Vec<u8>);

impl Write for Keeper {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            keep(String::from_utf8_lossy(&self.0).into_owned());
        }
    }
}

struct KeepWriter;

impl<'a> MakeWriter<'a> for KeepWriter {
    type Writer = Keeper;
    fn make_writer(&'a self) -> Self::Writer {
        Keeper::default()
    }
}

/// What reaches stderr: `KINDPROOF_LOG` when set; else kindproof's own warnings, and with
/// `verbose` every crate's warnings and kindproof's information too.
pub fn terminal_filter(verbose: bool, env: Option<&str>) -> EnvFilter {
    match env {
        Some(e) => EnvFilter::new(e),
        None if verbose => EnvFilter::new("warn,kindproof=info"),
        None => EnvFilter::new("off,kindproof=warn"),
    }
}

/// Install the two sinks: the terminal (filtered as [`terminal_filter`] says) and the kept
/// lines (everything at `info` and above, libraries included).
pub fn init(verbose: bool) {
    let env = std::env::var("KINDPROOF_LOG").ok();
    let terminal = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(terminal_filter(verbose, env.as_deref()));
    let memory = fmt::layer()
        .with_ansi(false)
        .with_writer(KeepWriter)
        .with_filter(EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(terminal)
        .with(memory)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_logs_stay_off_the_terminal_unless_asked_for() {
        let quiet = terminal_filter(false, None).to_string();
        assert!(
            quiet.contains("off") && quiet.contains("kindproof=warn"),
            "{quiet}"
        );
        let loud = terminal_filter(true, None).to_string();
        assert!(
            loud.contains("kindproof=info") && loud.contains("warn"),
            "{loud}"
        );
        assert_eq!(terminal_filter(false, Some("debug")).to_string(), "debug");
    }

    #[test]
    fn kept_lines_are_bounded_and_in_order() {
        for i in 0..KEPT + 5 {
            keep(format!("line {i}"));
        }
        let text = kept_text();
        assert_eq!(text.lines().count(), KEPT);
        assert!(text.starts_with("line 5\n"), "{}", &text[..20]);
        assert!(text.ends_with(&format!("line {}\n", KEPT + 4)));
    }
}
