//! The library half of `kindproof-probe`: the protocol of its JSON lines, shared with
//! kindproof (which depends on this crate for it).

pub mod protocol;
