//! The terminal: every variant's block printed whole when it ends (parallel variants never
//! interleave), a spinner per running variant on a live terminal (plain lines in CI or a
//! pipe), notices on stderr, and the summary when the run ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::super::reporter::{Event, Reporter};
use crate::exit::AppError;
use crate::runner::report::{summary_text, variant_text};

pub struct Terminal {
    verbose: bool,
    /// Spinners, when stdout is a live terminal.
    live: Option<(
        indicatif::MultiProgress,
        Mutex<HashMap<String, indicatif::ProgressBar>>,
    )>,
}

impl Terminal {
    pub fn new(verbose: bool, live: bool) -> Self {
        Self {
            verbose,
            live: live.then(|| (indicatif::MultiProgress::new(), Mutex::new(HashMap::new()))),
        }
    }
}

impl Reporter for Terminal {
    fn event(&self, event: &Event<'_>) -> Result<(), AppError> {
        match event {
            Event::ClusterCreating { name, config } => {
                crate::errln!(
                    "kindproof: creating kind cluster {name} for {}",
                    config.display()
                );
            }
            Event::ClusterKept { name, kubeconfig } => crate::errln!(
                "kindproof: kept cluster {name} (kubeconfig {}); `kindproof down {name}` removes it",
                kubeconfig.display()
            ),
            Event::NamespaceKept { id, namespace } => crate::errln!(
                "kindproof: kept namespace {namespace} of {id} (--keep); what it holds stays held"
            ),
            Event::Notice(text) => crate::errln!("kindproof: {text}"),
            Event::VariantQueued { id } => {
                if let Some((bars, running)) = &self.live {
                    let b = bars.add(indicatif::ProgressBar::new_spinner());
                    b.set_message(id.to_string());
                    b.enable_steady_tick(Duration::from_millis(120));
                    running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id.to_string(), b);
                }
            }
            Event::VariantFinished { report } => {
                let text = variant_text(report, self.verbose);
                match &self.live {
                    Some((bars, running)) => {
                        let id = format!("{}/{}", report.scenario, report.variant);
                        if let Some(b) = running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id)
                        {
                            b.finish_and_clear();
                        }
                        let _ = bars.println(text.trim_end());
                    }
                    None => crate::out!("{text}"),
                }
            }
            Event::RunFinished {
                reports, phases, ..
            } => crate::out!("{}", summary_text(reports, phases)),
            Event::ClusterReady { .. }
            | Event::ClusterDeleted { .. }
            | Event::VariantStarted { .. }
            | Event::StepFinished { .. } => {}
        }
        Ok(())
    }
}
