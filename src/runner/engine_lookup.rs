//! What a step's templates resolve to while a variant runs: the cluster, namespace, probe
//! image, nodes and their published ports as last read, earlier steps' outputs, and user
//! variables (which may refer to one another).

use super::backend::Backend;
use super::engine::Run;
use super::outcome::Status;
use crate::scenario::model::Template;
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
            ["nodes", node, field] => {
                let n = self.state.nodes.get(*node)?;
                match *field {
                    "ip" => n.ipv4.map(|i| i.to_string()),
                    "ipv6" => n.ipv6.map(|i| i.to_string()),
                    "name" => Some(n.name.clone()),
                    _ => None,
                }
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
}
