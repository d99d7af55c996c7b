//! Scenarios: the YAML format (raw types), the validated model the runner executes, the
//! conversion between them with located errors, variables, and loading from disk.

pub mod convert;
pub mod expand;
pub mod find;
pub mod load;
pub mod model;
pub mod model_faults;
pub mod node_ref;
pub mod paths;
pub mod portable;
pub mod raw;
pub mod raw_checks;
pub mod raw_faults;
pub mod template;
pub mod vars;
