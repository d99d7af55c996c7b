//! Converting a step's action: apply, patch, delete, wait, sleep, exec, node actions,
//! kind-create, and where a step runs (`from`, node names).

use super::*;

impl Converter<'_> {
    pub(super) fn action(
        &mut self,
        r: &raw::Step,
        at: &Position,
        field: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) -> Option<(Action, Duration, String)> {
        let t = self.timeouts;
        if let Some(a) = &r.apply {
            let f = format!("{field}.apply");
            let source = self.source(&a.file, &a.manifest, at.clone(), &f, known, user)?;
            let mode = match a.mode.unwrap_or(ApplyModeName::ClientSide) {
                ApplyModeName::ClientSide => ApplyMode::ClientSide,
                ApplyModeName::ServerSide => ApplyMode::ServerSide { force: a.force },
                ApplyModeName::Replace => ApplyMode::Replace,
                ApplyModeName::Create => ApplyMode::Create,
            };
            let what = match &source {
                ManifestSource::File(t) => t.0.clone(),
                ManifestSource::Inline(_) => "inline manifest".into(),
            };
            let label = format!("apply {what} ({})", mode_name(mode));
            return Some((
                Action::Apply {
                    source,
                    mode,
                    expect_error: a.expect_error,
                },
                t.apply,
                label,
            ));
        }
        if let Some(p) = &r.patch {
            let f = format!("{field}.patch");
            let patch_type = match p.patch_type {
                PatchTypeName::Json => PatchType::Json,
                PatchTypeName::Merge => PatchType::Merge,
                PatchTypeName::Strategic => PatchType::Strategic,
            };
            let target = self.object_ref(&p.target, &format!("{f}.target"), known);
            let label = format!("patch {} ({})", target.name.0, patch_name(patch_type));
            return Some((
                Action::Patch {
                    target,
                    patch_type,
                    patch: p.patch.clone(),
                    expect_error: p.expect_error,
                },
                t.apply,
                label,
            ));
        }
        if let Some(d) = &r.delete {
            let f = format!("{field}.delete");
            let what = match (&d.file, &d.target) {
                (Some(file), None) => DeleteWhat::Manifest(ManifestSource::File(
                    self.manifest_file(file, &format!("{f}.file"), known, user),
                )),
                (None, Some(target)) => {
                    DeleteWhat::Object(self.object_ref(target, &format!("{f}.target"), known))
                }
                _ => {
                    let options = [("file", d.file.is_some()), ("target", d.target.is_some())];
                    self.exactly_one(at.clone(), &f, "a delete", &options);
                    return None;
                }
            };
            return Some((Action::Delete(what), t.delete, "delete".into()));
        }
        if let Some(w) = &r.wait {
            let f = format!("{field}.wait");
            let mut forms = Vec::new();
            if let Some(p) = &w.pods {
                let phase = p.phase.as_ref().map(|x| x.value.clone());
                forms.push(WaitFor::Pods {
                    selector: self.tpl(&p.selector, &format!("{f}.pods.selector"), known),
                    ready: p.ready,
                    phase,
                    count: p.count,
                });
            }
            if let Some(d) = &w.deployment {
                forms.push(WaitFor::Deployment(self.tpl(
                    d,
                    &format!("{f}.deployment"),
                    known,
                )));
            }
            if let Some(e) = &w.endpoints {
                forms.push(WaitFor::Endpoints {
                    service: self.tpl(&e.service, &format!("{f}.endpoints.service"), known),
                    ready: e.ready,
                });
            }
            if w.nodes.as_ref().is_some_and(|n| n.ready) {
                forms.push(WaitFor::NodesReady);
            }
            let options = [
                ("pods", w.pods.is_some()),
                ("deployment", w.deployment.is_some()),
                ("endpoints", w.endpoints.is_some()),
                (
                    "nodes {ready: true}",
                    w.nodes.as_ref().is_some_and(|n| n.ready),
                ),
            ];
            if !self.exactly_one(at.clone(), &f, "a wait", &options) {
                return None;
            }
            return Some((Action::Wait(forms.remove(0)), t.wait, "wait".into()));
        }
        if let Some(s) = &r.sleep {
            let d = self.dur(s, &format!("{field}.sleep"))?;
            return Some((
                Action::Sleep(d),
                d + Duration::from_secs(5),
                format!("sleep {}", s.value),
            ));
        }
        if let Some(e) = &r.exec {
            let f = format!("{field}.exec");
            let target = match (&e.node, &e.pod) {
                (Some(n), None) => ExecTarget::Node(self.node_name(n, &format!("{f}.node"), known)),
                (None, Some(p)) => ExecTarget::Pod {
                    pod: self.tpl(p, &format!("{f}.pod"), known),
                    container: e
                        .container
                        .as_ref()
                        .map(|c| self.tpl(c, &format!("{f}.container"), known)),
                },
                _ => {
                    let options = [("node", e.node.is_some()), ("pod", e.pod.is_some())];
                    self.exactly_one(at.clone(), &f, "an exec", &options);
                    return None;
                }
            };
            if e.command.is_empty() {
                self.err(at.clone(), &format!("{f}.command"), "a command is required");
                return None;
            }
            let command: Vec<Template> = e
                .command
                .iter()
                .enumerate()
                .map(|(i, c)| self.tpl(c, &format!("{f}.command[{i}]"), known))
                .collect();
            let label = format!(
                "exec {}",
                command
                    .iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            return Some((
                Action::Exec {
                    target,
                    command,
                    exit_code: e.exit_code.unwrap_or(0),
                },
                t.exec,
                label,
            ));
        }
        if let Some(n) = &r.restart_node {
            let node = self.node_name(n, &format!("{field}.restart-node"), known);
            let label = format!("restart node {}", node.0);
            return Some((Action::RestartNode(node), t.node, label));
        }
        if let Some(p) = &r.pause_node {
            let f = format!("{field}.pause-node");
            let node = self.node_name(&p.node, &format!("{f}.node"), known);
            let duration = self.dur(&p.duration, &format!("{f}.for"))?;
            let label = format!("pause node {} for {}", node.0, p.duration.value);
            return Some((
                Action::PauseNode { node, duration },
                t.node.max(duration),
                label,
            ));
        }
        if let Some(p) = &r.probe {
            return self
                .probe(p, at, &format!("{field}.probe"), known)
                .map(|(a, l)| (a, t.probe, l));
        }
        if let Some(k) = &r.kind_create {
            let f = format!("{field}.kind-create");
            let version = match k
                .rules
                .value
                .parse::<crate::kind_config::version::KindVersion>()
            {
                Ok(v) => v,
                Err(m) => {
                    self.err(pos(self.file, &k.rules), &format!("{f}.rules"), m);
                    return None;
                }
            };
            let config_file =
                match crate::scenario::paths::kind_config_path(self.dir, &k.config.value) {
                    Ok(p) => p,
                    Err(m) => {
                        self.err(pos(self.file, &k.config), &format!("{f}.config"), m);
                        return None;
                    }
                };
            if let Err(e) = crate::kind_config::load::load_file(&config_file) {
                self.err(
                    pos(self.file, &k.config),
                    &format!("{f}.config"),
                    e.to_string(),
                );
                return None;
            }
            let label = format!(
                "kind create cluster --config {} (kind {version} rules)",
                k.config.value
            );
            return Some((
                Action::KindCreate {
                    config_file,
                    version,
                },
                t.node,
                label,
            ));
        }
        if let Some(s) = &r.stop {
            let a = self.stop(s, field, known);
            let label = format!("stop probe {}", s.probe.value);
            return Some((a, t.probe, label));
        }
        if let Some(f) = self.fault(r, at, field, known) {
            let (a, label) = f?;
            return Some((a, t.node, label));
        }
        if let Some(a) = &r.assert {
            return self
                .assertion(a, at, &format!("{field}.assert"), known)
                .map(|(a, l)| (a, t.assert, l));
        }
        None
    }

    /// A node named by kind's short name (`worker`), or a variable.
    pub(super) fn node_name(&mut self, s: &S<String>, field: &str, known: &Known) -> Template {
        let t = self.tpl(s, field, known);
        if !s.value.contains("${") && !known.nodes.contains(&s.value) {
            self.err(
                pos(self.file, s),
                field,
                format!(
                    "the cluster has no node `{}` (nodes: {})",
                    s.value,
                    known.nodes.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        t
    }

    pub(super) fn from(&mut self, s: &S<String>, field: &str, known: &Known) -> Option<From> {
        match from(&s.value) {
            Ok(From::Node(n)) => Some(From::Node(self.node_name(
                &S {
                    value: n.0,
                    ..s.clone()
                },
                field,
                known,
            ))),
            Ok(f) => Some(f),
            Err(m) => {
                self.err(pos(self.file, s), field, m);
                None
            }
        }
    }
}
