//! `kindproof report timeline FILE.json`: the floor, wall time, ratio and biggest gaps of a
//! recorded run (see `runner::timeline`).

use std::path::Path;

use crate::exit::AppError;
use crate::runner::timeline::{Timeline, analyse, analysis_text};

/// The timeline of a JSON report, or why there is none (exit 2: the file is the input).
pub fn read(file: &Path) -> Result<Timeline, AppError> {
    let bad = |why: String| AppError::InvalidInput(format!("{}: {why}", file.display()));
    let text = crate::input::read_text(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let t = report.get("timeline").ok_or_else(|| {
        bad("no `timeline` field: not a report of `kindproof run --report-json`".into())
    })?;
    serde_json::from_value(t.clone()).map_err(|e| bad(format!("timeline: {e}")))
}

pub fn timeline(file: &Path, json: bool) -> Result<(), AppError> {
    let a = analyse(&read(file)?);
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&a).expect("an analysis serializes")
        );
    } else {
        crate::out!("{}", analysis_text(&a));
    }
    Ok(())
}
