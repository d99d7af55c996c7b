//! `kindproof image build` and `image load`: the probe image, built locally and loaded into a
//! kind cluster's nodes.

use std::path::Path;

use crate::cluster::image_load::{LoadError, NodeOutcome, load_image};
use crate::cluster::nodes::kind_nodes;
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::probe_image::{build as build_image, find_binary, image_name};

pub async fn build(binary: Option<&Path>) -> Result<(), AppError> {
    let binary = find_binary(binary)?;
    let engine = BollardEngine::connect().await?;
    let built = build_image(&engine, &binary).await?;
    if built.built_now {
        crate::outln!(
            "built {} from {} ({})",
            built.image,
            binary.display(),
            built.digest
        );
    } else {
        crate::outln!("{} is up to date ({})", built.image, built.digest);
    }
    Ok(())
}

pub async fn load(cluster: &str, image: Option<&str>, pull: bool) -> Result<(), AppError> {
    let image = image.map_or_else(image_name, str::to_string);
    let engine = BollardEngine::connect().await?;
    let nodes = kind_nodes(&engine, cluster).await?;
    if nodes.is_empty() {
        return Err(LoadError::NoNodes {
            cluster: cluster.to_string(),
        }
        .into());
    }
    // Pulled here first only when allowed; else an absent image is refused below.
    if crate::cluster::kind::pull_allowed(pull) {
        let one = std::slice::from_ref(&image);
        for i in crate::runner::images::make_local(&engine, one, true).await? {
            crate::errln!("kindproof: pulled image {i} (--pull)");
        }
    }
    for done in load_image(&engine, &image, &nodes).await? {
        let what = match done.outcome {
            NodeOutcome::AlreadyPresent => "already present",
            NodeOutcome::Loaded => "loaded",
        };
        crate::outln!("{image} on {}: {what}", done.node);
    }
    Ok(())
}
