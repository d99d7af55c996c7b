//! Host ports: the plan (who picks each port), cross-process reservations, resolution, and
//! reading published ports back from Docker.

pub mod inspect;
pub mod plan;
pub mod reserve;
pub mod resolve;
