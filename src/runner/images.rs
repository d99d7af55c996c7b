//! The images a run's manifests use, made local before any cluster is used (kubelet must
//! never pull): present ones as they are; absent ones refused, naming them, unless `--pull`
//! allows pulling them here first. Returns what it pulled, for the run to say.

use crate::docker::api::Engine;
use crate::exit::AppError;

pub async fn make_local<E: Engine>(
    engine: &E,
    images: &[String],
    pull: bool,
) -> Result<Vec<String>, AppError> {
    let mut missing = Vec::new();
    for i in images {
        if engine.inspect_image(i).await?.is_none() {
            missing.push(i.clone());
        }
    }
    if missing.is_empty() {
        return Ok(missing);
    }
    if !pull {
        return Err(AppError::Environment(format!(
            "images the manifests use are not present locally (kindproof pulls only with --pull or {}=1; or `docker load` them): {}",
            crate::cluster::kind::PULL_ENV,
            missing.join(", ")
        )));
    }
    for i in &missing {
        engine
            .pull_image(i)
            .await
            .map_err(|e| AppError::Environment(format!("--pull: failed to pull {i}: {e}")))?;
        // What was pulled must be here now, or kubelet would pull it again.
        if engine.inspect_image(i).await?.is_none() {
            return Err(AppError::Environment(format!(
                "--pull: {i} was pulled but is not present locally"
            )));
        }
    }
    Ok(missing)
}
