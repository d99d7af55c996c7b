//! The documented exit codes, and the top-level error that maps onto them. Invalid input and a
//! broken environment are different failures with different codes; neither is a failed
//! assertion.

use crate::cluster::image_load::LoadError;
use crate::docker::error::DockerError;
use crate::docker::publish::PublishError;
use crate::kind_cli::KindCliError;
use crate::ports::resolve::PortError;

/// Every run passed (or, for `validate`/`ports`, every input was usable).
pub const OK: i32 = 0;
/// An assertion about cluster behaviour failed (scenario runs).
pub const ASSERTION_FAILED: i32 = 1;
/// Invalid input: a config or scenario is malformed or rejected; nothing was created.
pub const INVALID_INPUT: i32 = 2;
/// Infrastructure error: Docker, kind or the host failed; not a verdict on the input.
pub const INFRASTRUCTURE: i32 = 3;
/// Interrupted by SIGINT or SIGTERM; everything created was cleaned up.
pub const INTERRUPTED: i32 = 130;

/// The exit-code table as shown in `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0    success
  1    an assertion about cluster behaviour failed
  2    invalid input (file, line, column and field are named)
  3    infrastructure error (Docker engine, kind, host ports): says how to fix it
  130  interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT); what was created is cleaned up";

/// What ends a command unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Already reported on stdout/stderr in detail; only the exit code is left to give.
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    KindCli(#[from] KindCliError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::kind::ClusterError),
    #[error(transparent)]
    ProbeImage(#[from] crate::probe_image::ProbeImageError),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The host lacks something kindproof needs; the details were printed.
    #[error("{0}")]
    Environment(String),
    /// A run finished; some variants did not pass (already reported).
    #[error("{failed} variant(s) failed, {broken} broken")]
    Verdict { failed: usize, broken: usize },
    #[error("interrupted")]
    Interrupted,
}

impl AppError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::InvalidInput(_) => INVALID_INPUT,
            // A broken harness makes the verdicts untrustworthy: it wins over failures.
            Self::Verdict { broken, .. } if *broken > 0 => INFRASTRUCTURE,
            Self::Verdict { .. } => ASSERTION_FAILED,
            // Naming a cluster that does not exist is a mistake in the input, not a broken host.
            Self::Load(LoadError::NoNodes { .. }) => INVALID_INPUT,
            Self::Interrupted => INTERRUPTED,
            Self::Docker(_)
            | Self::Ports(_)
            | Self::Publish(_)
            | Self::KindCli(_)
            | Self::ProbeImage(_)
            | Self::Load(_)
            | Self::Cluster(_)
            | Self::Io { .. }
            | Self::Environment(_) => INFRASTRUCTURE,
        }
    }

    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
