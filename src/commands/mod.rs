//! One file per subcommand: turn parsed arguments into work and printed output.

pub mod cluster;
pub mod doctor;
pub mod image;
pub mod list;
pub mod pool;
pub mod ports;
pub mod replay;
pub mod report;
pub mod run;
pub mod validate;
