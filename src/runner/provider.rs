//! Where a run's clusters come from, as one trait: preflight, acquire, load images, a backend
//! to run steps through, refresh a node, keep, release, and delete by record. The kind
//! provider creates a cluster per shape; `--cluster` and `--kubeconfig` borrow one. A new
//! provider (k3d, say) is one file under `providers/` and its registration in `commands/run.rs`.

use std::future::Future;
use std::path::PathBuf;

use super::backend::Backend;
use super::claims::Claims;
use super::cleanup::{Cleanup, Live, Token};
use super::plan::{Group, Needs};
use super::reporter::Reporters;
use crate::cluster::provider::{ClusterHandle, Node};
use crate::cluster::state::ClusterRecord;
use crate::exit::AppError;
use crate::kube_ops::client::Kube;
use crate::pool::Hold;
use crate::scenario::model::Scenario;

/// One cluster shape a run needs: the group of variants that share it and what they use.
pub struct Shape<'a> {
    pub group: &'a Group,
    pub scenarios: &'a [Scenario],
    pub need: Needs,
    pub run_id: &'a str,
    /// The group's place in the run: distinct for every group, so cluster names never collide.
    pub index: usize,
    /// Where the provider says what it does (`creating kind cluster …`).
    pub events: &'a Reporters,
}

/// A cluster a group runs on.
pub struct Acquired {
    pub handle: ClusterHandle,
    /// Registered on the run's cleanup stack when this run made the cluster: releasing it
    /// deletes the cluster; keeping it forgets the entry. `None`: borrowed, never deleted.
    pub owned: Option<Token>,
}

/// What the backend of a cluster is given besides the cluster.
pub struct Session {
    /// `None` when no variant of the group touches the API.
    pub kube: Option<Kube>,
    /// The local probe binary, for probes from the host.
    pub probe_bin: PathBuf,
    pub probe_image: String,
    pub run_id: String,
    /// Where the backend keeps the probe containers it has running (see [`Live`]).
    pub live: Live,
}

pub trait ClusterProvider: Send + Sync {
    /// The backend steps run through on this provider's clusters.
    type Backend<'a>: Backend + 'a
    where
        Self: 'a;

    /// The name records carry (`kind`, `existing`); `down` and `clean` go by it.
    fn name(&self) -> &'static str;

    /// Offline checks before anything is created (the node image is local, the named
    /// cluster's nodes exist): a failure here leaves nothing behind.
    fn preflight(&self, shape: &Shape<'_>) -> impl Future<Output = Result<(), AppError>> + Send;

    /// Make the cluster available. A cluster it creates is registered on `cleanup` before it
    /// is created (a cut-short acquire leaves an entry that removes it) and released here
    /// when it fails to become ready.
    fn acquire<'p>(
        &'p self,
        shape: &Shape<'_>,
        cleanup: &Cleanup<'p>,
    ) -> impl Future<Output = Result<Acquired, AppError>> + Send;

    /// Put `images` on every node, so that kubelet never pulls (nothing where the provider
    /// cannot: a borrowed cluster pulls by its own rules).
    fn load_images(
        &self,
        cluster: &ClusterHandle,
        images: &[String],
    ) -> impl Future<Output = Result<(), AppError>> + Send;

    /// The backend for `cluster`.
    fn backend<'a>(&'a self, cluster: &ClusterHandle, session: Session) -> Self::Backend<'a>;

    /// `node` as it is now (after a restart or pause its ports and addresses can change).
    fn refresh_node(
        &self,
        cluster: &ClusterHandle,
        node: &Node,
    ) -> impl Future<Output = Result<Node, AppError>> + Send;

    /// Hold a variant's cluster-wide `claims` against other processes using the same cluster
    /// (a pooled one), waiting until they are free; nothing where this run alone uses it.
    fn hold(
        &self,
        _cluster: &ClusterHandle,
        _claims: &Claims,
    ) -> impl Future<Output = Result<Hold, AppError>> + Send {
        async { Ok(Hold::default()) }
    }

    /// Keep a cluster this run made: `down` removes it later, `clean` leaves it.
    fn keep(&self, cluster: &ClusterHandle) -> Result<(), AppError>;

    /// Delete what a record of this provider names (the sweep of an interrupted run).
    fn delete_record(
        &self,
        record: &ClusterRecord,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
}
