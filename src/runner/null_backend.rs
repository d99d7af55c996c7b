//! A backend where every operation succeeds at once and does nothing: for measuring the
//! harness's own overhead (`make bench`) and for dry runs of the engine.

use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;

use super::backend::{Backend, BackendError, ProbeSite, Ran};
use crate::cluster::provider::Node;
use crate::kube_ops::apply::Written;
use crate::kube_ops::manifest::Manifest;
use crate::kube_ops::pods::EventSummary;
use crate::scenario::model::{ApplyMode, PatchType};

#[derive(Debug, Default, Clone, Copy)]
pub struct NullBackend;

impl Backend for NullBackend {
    async fn apply(&self, _: &Manifest, _: ApplyMode, _: &str) -> Result<Written, BackendError> {
        Ok(Written::default())
    }
    async fn patch(
        &self,
        _: &DynamicObject,
        _: PatchType,
        _: &Value,
        _: &str,
    ) -> Result<Written, BackendError> {
        Ok(Written::default())
    }
    async fn delete(&self, _: &Manifest, _: &str, _: Duration) -> Result<Written, BackendError> {
        Ok(Written::default())
    }
    async fn get(&self, _: &DynamicObject, _: &str) -> Result<Option<Value>, BackendError> {
        Ok(None)
    }
    async fn pods(&self, _: &str, _: &str) -> Result<Vec<Value>, BackendError> {
        Ok(Vec::new())
    }
    async fn endpoint_slices(&self, _: &str, _: &str) -> Result<Vec<Value>, BackendError> {
        Ok(Vec::new())
    }
    async fn logs(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: bool,
    ) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn events(&self, _: &str) -> Result<Vec<EventSummary>, BackendError> {
        Ok(Vec::new())
    }
    async fn node_lease(&self, _: &str) -> Result<Option<Value>, BackendError> {
        Ok(None)
    }
    async fn nodes_not_ready(&self) -> Result<Vec<String>, BackendError> {
        Ok(Vec::new())
    }
    async fn exec_node(&self, _: &Node, _: &[String]) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
    async fn exec_pod(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: &[String],
    ) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
    async fn restart_node(&self, node: &Node) -> Result<Node, BackendError> {
        Ok(node.clone())
    }
    async fn pause_node(&self, _: &Node, _: Duration) -> Result<(), BackendError> {
        Ok(())
    }
    async fn probe(
        &self,
        _: &ProbeSite,
        _: &[String],
        _: &str,
        _: Duration,
    ) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
    async fn kind_create(
        &self,
        _: &std::path::Path,
        _: crate::kind_config::version::KindVersion,
    ) -> Result<Ran, BackendError> {
        Ok(Ran::default())
    }
}
