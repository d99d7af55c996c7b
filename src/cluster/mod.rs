//! Clusters: the kind provider (kind CLI for the lifecycle, Docker for the rest), the shared
//! kind network, the nodes as Docker sees them, loading images into them, and the records of
//! clusters kindproof created.

pub mod image_load;
pub mod kind;
pub mod kind_network;
pub mod lifecycle;
pub mod nodes;
pub mod provider;
pub mod state;
