//! `kindproof doctor`: what this host offers kindproof, and how to fix what is missing.

use crate::docker::api::Engine;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::kind_cli::{installed_version, kind_bin};
use crate::kube_ops::apply::{kubectl_bin, kubectl_version};
use crate::ports::reserve::ReservationDir;

pub async fn run() -> Result<(), AppError> {
    let mut problems = Vec::new();
    match installed_version() {
        Ok(Some(v)) => crate::outln!(
            "kind        {v} at {} (validation rules of kind {v})",
            kind_bin().display()
        ),
        Ok(None) => crate::outln!(
            "kind        not installed: `make kind` fetches kind from Debian; validation uses kind {} rules",
            crate::kind_config::version::KindVersion::NEWEST_KNOWN
        ),
        Err(e) => {
            crate::outln!("kind        {e}");
            problems.push("kind");
        }
    }
    let kubectl = kubectl_bin();
    match kubectl_version(&kubectl) {
        Ok((_, text)) => crate::outln!("kubectl     {text} at {}", kubectl.display()),
        Err(e) => {
            crate::outln!("kubectl     {e}");
            problems.push("kubectl");
        }
    }
    match ReservationDir::default_location() {
        Ok(d) => crate::outln!("ports       reservations in {}", d.path().display()),
        Err(e) => {
            crate::outln!("ports       failed to create the reservation directory: {e}");
            problems.push("ports");
        }
    }
    let engine = BollardEngine::connect().await;
    let engine = match engine {
        Ok(e) => e,
        Err(e) => {
            crate::outln!("docker      unreachable");
            return Err(e.into());
        }
    };
    let v = engine.version().await?;
    crate::outln!("docker      engine {} (API {})", v.version, v.api_version);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Environment(format!(
            "problems with: {}",
            problems.join(", ")
        )))
    }
}
