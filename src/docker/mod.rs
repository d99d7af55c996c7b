//! Docker: a small trait in front of the engine (so the runner can be tested with a fake), its
//! bollard implementation, which engine to reach, local images, and publishing a container's
//! resolved ports with retry on port conflicts. (The labels on everything kindproof creates
//! are in `crate::labels`, shared with the Kubernetes layer.)

pub mod api;
mod bollard_convert;
pub mod bollard_engine;
mod bollard_network;
pub mod endpoint;
pub mod error;
pub mod image;
pub mod publish;
