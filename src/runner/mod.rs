//! Running scenarios: the engine runs one variant's steps against a [`backend::Backend`]; the
//! probe's JSON protocol is read in `results`; outcomes keep "failed" (a verdict on the
//! cluster) apart from "broken" (the harness or infrastructure).

pub mod backend;
pub mod claims;
pub mod cleanup;
pub mod cluster_backend;
mod cluster_faults;
pub mod diagnostics;
pub mod drive;
pub mod engine;
mod engine_assert;
mod engine_background;
mod engine_fault;
mod engine_lookup;
mod engine_probe;
mod engine_state;
mod engine_wait;
mod eventually;
pub mod fresh;
pub mod images;
pub mod matrix;
pub mod null_backend;
pub mod observe;
pub mod outcome;
pub mod plan;
pub mod provider;
pub mod providers;
pub mod replay;
pub mod report;
pub mod reporter;
pub mod reporters;
pub mod run;
pub mod schedule;
pub mod stop;
pub mod timeline;
mod variant;

#[cfg(test)]
mod engine_background_tests;
#[cfg(test)]
mod engine_observe_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod fake_engine;
#[cfg(test)]
mod run_tests;
