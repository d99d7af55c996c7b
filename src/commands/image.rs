//! `kindproof image build`: the probe image, built locally.

use std::path::Path;

use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::probe_image::{build as build_image, find_binary};

pub async fn build(binary: Option<&Path>) -> Result<(), AppError> {
    let binary = find_binary(binary)?;
    let engine = BollardEngine::connect().await?;
    let built = build_image(&engine, &binary).await?;
    if built.built_now {
        println!(
            "built {} from {} ({})",
            built.image,
            binary.display(),
            built.digest
        );
    } else {
        println!("{} is up to date ({})", built.image, built.digest);
    }
    Ok(())
}
