//! The reporters of `kindproof run`: the terminal (a line per variant, or a spinner each on a
//! live terminal, and the summary), and the JUnit and JSON files written when the run ends.

pub mod files;
pub mod terminal;
