//! kindproof: reproduce and prove Kubernetes networking behaviour on disposable Kind clusters.

pub mod assert;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod docker;
pub mod exit;
pub mod field_path;
pub mod fnv;
pub mod harness;
pub mod input;
pub mod kind_cli;
pub mod kind_config;
pub mod kube_ops;
pub mod labels;
pub mod logs;
pub mod output;
pub mod pool;
pub mod ports;
pub mod probe;
pub mod probe_image;
pub mod runner;
pub mod scenario;
pub mod signals;
pub mod suite;
pub mod version;
pub mod yaml;
