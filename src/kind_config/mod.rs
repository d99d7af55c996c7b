//! The kind `v1alpha4` `Cluster` config: model, strict loading, kind's defaults, kind's
//! validation rules per kind version, and the combined verdict.

pub mod check;
pub mod defaults;
pub mod host_ports;
pub mod load;
pub mod model;
pub mod validate;
pub mod version;
