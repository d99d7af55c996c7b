//! What a step's templates resolve to while a variant runs: the cluster, namespace, probe
//! image, nodes and their published ports as last read, earlier steps' outputs, and user
//! variables (which may refer to one another); and the nodes, manifests and objects steps
//! name, resolved.

use super::backend::Backend;
use super::engine::Run;
use super::outcome::Status;
use kube::api::DynamicObject;

use crate::cluster::provider::{Node, find_node, short_name};
use crate::kube_ops::manifest::{Manifest, object_ref};
use crate::scenario::model::{ManifestSource, ObjectRef, Template};
use crate::scenario::vars::substitute;

impl<B: Backend> Run<'_, B> {
    pub(super) fn lookup(&self, name: &str) -> Option<String> {
        self.lookup_at(name, 0)
    }

    pub(super) fn lookup_at(&self, name: &str, depth: usize) -> Option<String> {
        let parts: Vec<&str> = name.splitn(3, '.').collect();
        match parts.as_slice() {
            ["cluster", "name"] => Some(self.cx.cluster.clone()),
            ["namespace"] => Some(self.cx.namespace.clone()),
            ["probe", "image"] => Some(self.cx.probe_image.clone()),
            ["nodes", head, rest] => {
                let nodes: Vec<(&str, &Node)> = self
                    .state
                    .nodes
                    .iter()
                    .map(|(k, n)| (k.as_str(), n))
                    .collect();
                let config = &self.cx.scenario.cluster_of(self.cx.variant).config;
                let (n, field) = find_node(&nodes, &self.cx.cluster, config, head, rest)?;
                node_field(n, field)
            }
            ["ports", node, port] => {
                let n = self.state.nodes.get(*node)?;
                let (number, proto) = port.split_once('/')?;
                n.published
                    .iter()
                    .find(|p| p.container_port.to_string() == number && p.protocol.lower() == proto)
                    .map(|p| p.host_port.to_string())
            }
            ["steps", id, output] => self.state.outputs.get(*id)?.get(*output).cloned(),
            // A user variable may refer to others (`job-w-1.job.${namespace}`).
            [single] => {
                let value = self.cx.variant.variables.get(*single)?;
                if depth >= 8 {
                    return None;
                }
                substitute(value, |n| self.lookup_at(n, depth + 1)).ok()
            }
            _ => None,
        }
    }

    /// A step's name for reports, with the variables it names filled in where they are known
    /// (`probe connect from node:worker2` rather than a template).
    pub(super) fn display(&self, name: &str) -> String {
        substitute(name, |n| {
            self.lookup(n).or_else(|| Some(format!("${{{n}}}")))
        })
        .unwrap_or_else(|_| name.to_string())
    }

    pub(super) fn resolve(&self, t: &Template) -> Result<String, Status> {
        substitute(&t.0, |n| self.lookup(n))
            .map_err(|m| Status::broken(format!("failed to resolve {:?}: {m}", t.0)))
    }

    pub(super) fn node(&self, t: &Template) -> Result<Node, Status> {
        let name = self.resolve(t)?;
        self.state
            .nodes
            .get(short_name(&self.cx.cluster, &name))
            .cloned()
            .ok_or_else(|| Status::broken(format!("the cluster has no node {name:?}")))
    }

    pub(super) fn manifest(&self, source: &ManifestSource) -> Result<Manifest, Status> {
        let (file, text) = match source {
            ManifestSource::File(t) => {
                let name = self.resolve(t)?;
                let path = crate::scenario::paths::scenario_file(&self.cx.scenario.dir, &name)
                    .map_err(Status::broken)?;
                let text =
                    crate::input::read_text(&path).map_err(|e| Status::broken(e.to_string()))?;
                (path, text)
            }
            ManifestSource::Inline(t) => ("(inline)".into(), t.0.clone()),
        };
        substitute(&text, |n| self.lookup(n))
            .map_err(|m| Status::broken(format!("{}: {m}", file.display())))?;
        // A run-time value (a step's output) must not change the manifest's structure either.
        let text = crate::scenario::expand::fill_keeping_structure(&text, |n| self.lookup(n))
            .map_err(|m| Status::broken(format!("{}: {m}", file.display())))?;
        Manifest::from_text(&file, &text).map_err(|e| Status::broken(e.to_string()))
    }

    pub(super) fn object(&self, r: &ObjectRef) -> Result<DynamicObject, Status> {
        let namespace = match &r.namespace {
            Some(n) => Some(self.resolve(n)?),
            None => None,
        };
        Ok(object_ref(
            &self.resolve(&r.api_version)?,
            &self.resolve(&r.kind)?,
            &self.resolve(&r.name)?,
            namespace,
        ))
    }
}

/// A node's `ip`, `ipv6` or `name`.
fn node_field(n: &Node, field: &str) -> Option<String> {
    match field {
        "ip" => n.ipv4.map(|i| i.to_string()),
        "ipv6" => n.ipv6.map(|i| i.to_string()),
        "name" => Some(n.name.clone()),
        _ => None,
    }
}
