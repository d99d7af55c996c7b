//! The report files of a run, written once it is over: JUnit XML (`--report-junit`) and JSON
//! with phases and timeline (`--report-json`), each atomically (a temporary file renamed).

use std::path::PathBuf;

use super::super::reporter::{Event, Reporter};
use crate::exit::AppError;
use crate::runner::report::{json, junit};

pub struct Junit(pub PathBuf);

impl Reporter for Junit {
    fn event(&self, event: &Event<'_>) -> Result<(), AppError> {
        if let Event::RunFinished {
            reports, phases, ..
        } = event
        {
            crate::output::write_file(&self.0, &junit(reports, phases), "--report-junit")?;
        }
        Ok(())
    }
}

pub struct Json(pub PathBuf);

impl Reporter for Json {
    fn event(&self, event: &Event<'_>) -> Result<(), AppError> {
        if let Event::RunFinished {
            reports,
            phases,
            timeline,
        } = event
        {
            crate::output::write_file(
                &self.0,
                &json(reports, phases, Some(timeline)),
                "--report-json",
            )?;
        }
        Ok(())
    }
}
