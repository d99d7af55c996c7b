//! The Kubernetes API through kube-rs: a client per cluster kubeconfig, manifests, every apply
//! mode users use (the modes really store different things), reads by field path, waits with a
//! deadline that report the last state seen, logs, events and exec.

pub mod apply;
pub mod client;
pub mod conflict;
pub mod error;
pub mod manifest;
pub mod pods;
pub mod teardown;
pub mod wait;

#[cfg(test)]
mod mock_tests;
