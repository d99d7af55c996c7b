//! The integration suite, one binary: the CLI end to end, the bad-input corpus, kind's real CLI
//! (behind a Docker guard that refuses pulls), and the Docker tests (`docker_*`) against a real
//! engine.

mod ci_recipe;
mod cli;
mod corpus;
mod docker_background;
mod docker_clusters;
mod docker_faults;
mod docker_image_load;
mod docker_interrupt;
mod docker_matrix;
mod docker_observe;
mod docker_pool;
mod docker_ports;
mod docker_probe;
mod docker_replay;
mod docker_retry;
mod docker_run;
mod existing_cluster;
mod hostile;
mod kind_cluster;
mod kind_conformance;
mod kind_faults;
mod layers;
mod mini_api;
mod parallel;
mod scenario_corpus;
mod support;
mod teardown;
