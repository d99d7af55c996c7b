//! Clusters: the nodes of a kind cluster as Docker sees them.

pub mod image_load;
pub mod nodes;
