//! Docker: a small trait in front of the engine (so the runner can be tested with a fake), its
//! bollard implementation, the labels kindproof puts on everything it creates, and publishing
//! a container's resolved ports with retry on port conflicts.

pub mod api;
mod bollard_convert;
pub mod bollard_engine;
pub mod endpoint;
pub mod error;
pub mod image;
pub mod labels;
pub mod publish;
