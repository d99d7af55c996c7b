//! The reporters of `kindproof run`: the terminal (a line per variant, or a spinner each on a
//! live terminal, and the summary), and the JUnit and JSON files written when the run ends.

pub mod files;
pub mod terminal;

use std::path::PathBuf;

use super::reporter::{Reporter, Reporters};

/// The terminal (spinners when `live`), then a JUnit and a JSON file where asked for.
pub fn standard(
    verbose: bool,
    live: bool,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
) -> Reporters {
    let mut all: Vec<Box<dyn Reporter>> = vec![Box::new(terminal::Terminal::new(verbose, live))];
    all.extend(junit.map(|p| Box::new(files::Junit(p)) as Box<dyn Reporter>));
    all.extend(json.map(|p| Box::new(files::Json(p)) as Box<dyn Reporter>));
    Reporters::new(all)
}
