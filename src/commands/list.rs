//! `kindproof list`: the scenarios, their upstream threads, and what each variant shows.

use std::path::PathBuf;

use crate::commands::validate::load_scenarios;
use crate::exit::AppError;
use crate::kind_cli::rules_version;

pub fn run(paths: &[PathBuf]) -> Result<(), AppError> {
    let (version, _) = rules_version(None)?;
    let scenarios = load_scenarios(version, paths)?;
    for s in &scenarios {
        crate::outln!("{}  {}", s.name, s.summary);
        crate::outln!(
            "  cluster {}{}",
            s.cluster
                .config_file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if s.cluster.shared {
                ""
            } else {
                " (own cluster)"
            }
        );
        for u in &s.upstream {
            crate::outln!("  upstream {u}");
        }
        for v in &s.variants {
            let gates: Vec<&str> = v.when.iter().map(|g| g.text.as_str()).collect();
            let when = if gates.is_empty() {
                String::new()
            } else {
                format!(" [when {}]", gates.join(", "))
            };
            crate::outln!("  - {}{when}: {}", v.name, v.expect);
        }
    }
    crate::outln!(
        "{} scenario(s), {} variant(s)",
        scenarios.len(),
        scenarios.iter().map(|s| s.variants.len()).sum::<usize>()
    );
    Ok(())
}
