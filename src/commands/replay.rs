//! `kindproof replay BUNDLE`: run a failed variant again from its diagnostics bundle — the
//! bundle's copy of the scenario, its variant, its node image — on a cluster of its own that
//! stays when the variant fails again.

use std::path::Path;
use std::time::Duration;

use super::run::{RunArgs, run as run_scenarios};
use crate::docker::api::Engine;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::runner::replay;

pub async fn run(bundle: &Path, keep: bool) -> Result<(), AppError> {
    let (record, dir) = replay::read(bundle).map_err(AppError::InvalidInput)?;
    let mut said = format!(
        "kindproof: replaying {}/{} (recorded by kindproof {}",
        record.scenario, record.variant, record.kindproof
    );
    if let Some(i) = &record.node_image {
        said.push_str(&format!(", node image {i}"));
    }
    if let Some(k) = &record.kubernetes {
        said.push_str(&format!(", Kubernetes {k}"));
    }
    crate::errln!("{said})");
    // The same name may be another image now: say so (the run goes on with what is here).
    if let (Some(name), Some(then)) = (&record.node_image, &record.node_image_id) {
        let engine = BollardEngine::connect().await?;
        match engine.inspect_image(name).await? {
            Some(now) if now.id != *then => crate::errln!(
                "kindproof: warning: node image {name} is {} here; the bundle's run used {then}",
                now.id
            ),
            _ => {}
        }
    }
    if record.kindproof != env!("CARGO_PKG_VERSION") {
        crate::errln!(
            "kindproof: warning: this is kindproof {}; the bundle was made by {}",
            env!("CARGO_PKG_VERSION"),
            record.kindproof
        );
    }
    run_scenarios(RunArgs {
        paths: vec![dir],
        jobs: 1,
        filter: None,
        variant: Some(record.variant),
        keep,
        keep_failed: Some(true),
        partition: None,
        cluster: None,
        kubeconfig: None,
        context: None,
        image: record.node_image.into_iter().collect(),
        pull: false,
        report_junit: None,
        report_json: None,
        artifacts: None,
        wait: Duration::from_secs(180),
        pool: false,
        verbose: false,
    })
    .await
}
