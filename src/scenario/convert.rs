//! Raw scenario → validated model. Every problem is collected with its file, line, column and
//! field, so one `validate` run shows them all. Each variant is checked on its own: its
//! variables, its steps, and the step ids it can refer to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::model::*;
use super::raw;
use super::vars::{Known, references, substitute};
use crate::kind_config::model::S;
use crate::kube_ops::apply::{ApplyMode, PatchType};
use crate::kube_ops::path::FieldPath;
use crate::yaml::{LocatedError, Position};

pub const API_VERSION: &str = "kindproof.dev/v1alpha1";
pub const KIND: &str = "Scenario";

/// Built-in timeouts by action type; a scenario's `timeouts` and a step's `timeout` override.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub apply: Duration,
    pub wait: Duration,
    pub assert: Duration,
    pub exec: Duration,
    pub probe: Duration,
    pub delete: Duration,
    pub node: Duration,
    pub cleanup: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            apply: s(60),
            wait: s(180),
            assert: s(60),
            exec: s(60),
            probe: s(180),
            delete: s(120),
            node: s(180),
            cleanup: s(120),
        }
    }
}

pub struct Converter<'a> {
    file: &'a Path,
    dir: &'a Path,
    pub errors: Vec<LocatedError>,
    timeouts: Timeouts,
}

fn pos(file: &Path, s: &S<impl Sized>) -> Position {
    Position::of(file, s)
}

/// The most attempts a connect probe makes per target.
pub const MAX_COUNT: u32 = 10_000;
/// The most attempts a connect probe keeps in flight.
pub const MAX_CONCURRENCY: u32 = 256;

/// The longest duration a scenario or a flag may name: no wait, sleep or window is longer.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Parse a duration such as `90s`, `1.5s`, `2m`, of at most [`MAX_DURATION`].
pub fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|_| format!("not a duration: {text:?} (expected e.g. 500ms, 90s, 2m)"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "{text:?} is longer than the longest duration kindproof accepts (24h)"
        ));
    }
    Ok(d)
}

/// `>=1.24`, `<0.22`, `1.36` (equal).
pub fn gate(what: GateOn, text: &str) -> Result<Gate, String> {
    let t = text.trim();
    let (op, rest) = [
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ]
    .iter()
    .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r)))
    .unwrap_or((Cmp::Eq, t));
    let version = crate::version::Version::parse(rest).ok_or_else(|| {
        format!("not a version constraint: {text:?} (expected e.g. \">=1.24\" or \"<0.22\")")
    })?;
    Ok(Gate {
        what,
        op,
        version,
        text: t.to_string(),
    })
}

/// `host`, `node:<node>`, `pod:<pod>`.
fn from(text: &str) -> Result<From, String> {
    let t = text.trim();
    if t == "host" {
        return Ok(From::Host);
    }
    match t.split_once(':') {
        Some(("node", n)) if !n.is_empty() => Ok(From::Node(Template(n.to_string()))),
        Some(("pod", p)) if !p.is_empty() => Ok(From::Pod(Template(p.to_string()))),
        _ => Err(format!(
            "not a probe source: {text:?} (expected host, node:<node> or pod:<pod>)"
        )),
    }
}

impl<'a> Converter<'a> {
    pub fn new(file: &'a Path, dir: &'a Path) -> Self {
        Self {
            file,
            dir,
            errors: Vec::new(),
            timeouts: Timeouts::default(),
        }
    }

    fn err(&mut self, at: Position, field: &str, message: impl Into<String>) {
        let e = LocatedError::new(at, field, message);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// A count within `range`, `default` when absent.
    fn bounded(
        &mut self,
        s: &Option<S<u32>>,
        field: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let Some(s) = s else { return Some(default) };
        if range.contains(&s.value) {
            Some(s.value)
        } else {
            self.err(
                pos(self.file, s),
                field,
                format!(
                    "{} is out of range: {} to {}",
                    s.value,
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }

    fn dur(&mut self, s: &S<String>, field: &str) -> Option<Duration> {
        match duration(&s.value) {
            Ok(d) => Some(d),
            Err(m) => {
                self.err(pos(self.file, s), field, m);
                None
            }
        }
    }

    /// The settle rule of an observed assertion: `negative` checks default to
    /// [`Settle::NEGATIVE`], others to [`Settle::ONCE`]; `settle` and `settleRounds` raise it.
    fn settle(
        &mut self,
        window: &Option<S<String>>,
        rounds: Option<u32>,
        negative: bool,
        at: &Position,
        field: &str,
    ) -> Settle {
        let mut out = if negative {
            Settle::NEGATIVE
        } else {
            Settle::ONCE
        };
        if let Some(w) = window
            && let Some(d) = self.dur(w, &format!("{field}.settle"))
        {
            // A window is covered by rounds a second apart: at least two of them.
            out.span = d;
            out.rounds = out.rounds.max(2);
        }
        match rounds {
            Some(0) => self.err(
                at.clone(),
                &format!("{field}.settleRounds"),
                "settleRounds is at least 1",
            ),
            Some(n) => {
                out.rounds = n;
                out.span = out.span.max(Settle::GAP * n.saturating_sub(1));
            }
            None => {}
        }
        out
    }

    /// The scenario-level timeouts, on top of the built-in ones.
    pub fn set_timeouts(&mut self, raw: &raw::Timeouts) {
        let mut t = self.timeouts;
        for (field, value, slot) in [
            ("timeouts.apply", &raw.apply, &mut t.apply),
            ("timeouts.wait", &raw.wait, &mut t.wait),
            ("timeouts.assert", &raw.assert, &mut t.assert),
            ("timeouts.exec", &raw.exec, &mut t.exec),
            ("timeouts.probe", &raw.probe, &mut t.probe),
            ("timeouts.delete", &raw.delete, &mut t.delete),
            ("timeouts.node", &raw.node, &mut t.node),
            ("timeouts.cleanup", &raw.cleanup, &mut t.cleanup),
        ] {
            if let Some(v) = value
                && let Some(d) = self.dur(v, field)
            {
                *slot = d;
            }
        }
        self.timeouts = t;
    }

    /// A template, with every reference checked against `known`.
    fn tpl(&mut self, s: &S<String>, field: &str, known: &Known) -> Template {
        match references(&s.value) {
            Ok(names) => {
                for n in names {
                    if let Some(why) = known.check(n) {
                        self.err(pos(self.file, s), field, why);
                    }
                }
            }
            Err(m) => self.err(pos(self.file, s), field, m),
        }
        Template(s.value.clone())
    }

    fn object_ref(&mut self, r: &raw::ObjectRef, field: &str, known: &Known) -> ObjectRef {
        ObjectRef {
            api_version: self.tpl(&r.api_version, &format!("{field}.apiVersion"), known),
            kind: self.tpl(&r.kind, &format!("{field}.kind"), known),
            name: self.tpl(&r.name, &format!("{field}.name"), known),
            namespace: r
                .namespace
                .as_ref()
                .map(|n| self.tpl(n, &format!("{field}.namespace"), known)),
        }
    }

    /// A manifest file: it must exist beside the scenario once user variables are filled in,
    /// use only known variables, and parse.
    fn manifest_file(
        &mut self,
        s: &S<String>,
        field: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) -> Template {
        let t = self.tpl(s, field, known);
        let Ok(name) = substitute(&s.value, |n| user.get(n).cloned()) else {
            // Names only known at run time: checked then.
            return t;
        };
        let text = super::load::scenario_file(self.dir, &name)
            .map_err(|m| format!("manifest file: {m}"))
            .and_then(|p| {
                crate::input::read_text(&p)
                    .map(|t| (p, t))
                    .map_err(|e| format!("manifest file {e}"))
            });
        let (path, text) = match text {
            Ok(pt) => pt,
            Err(m) => {
                self.err(pos(self.file, s), field, m);
                return t;
            }
        };
        self.manifest_text(s, field, &path, &text, known, user);
        t
    }

    fn manifest_text(
        &mut self,
        at: &S<String>,
        field: &str,
        path: &Path,
        text: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) {
        let mut unknown = Vec::new();
        match references(text) {
            Ok(names) => unknown.extend(names.into_iter().filter_map(|n| known.check(n))),
            Err(m) => unknown.push(m),
        }
        for why in unknown {
            self.err(
                pos(self.file, at),
                field,
                format!("{}: {why}", path.display()),
            );
        }
        // With the values the run will use (user variables; placeholders stand in for what is
        // known only at run time), and the structure they must keep. A cycle among the
        // variables is reported at the variables.
        let values = super::expand::expand_all(user).unwrap_or_default();
        let value = |n: &str| {
            values
                .get(n)
                .map(|v| substitute(v, |_| Some("x".into())).unwrap_or_else(|_| v.clone()))
        };
        let filled = match super::expand::fill_keeping_structure(text, value) {
            Ok(f) => f,
            Err(m) => {
                self.err(
                    pos(self.file, at),
                    field,
                    format!("{}: {m}", path.display()),
                );
                return;
            }
        };
        if let Err(e) = crate::kube_ops::manifest::parse(path, &filled) {
            self.err(pos(self.file, at), field, e.to_string());
        }
    }

    fn source(
        &mut self,
        file: &Option<S<String>>,
        inline: &Option<S<String>>,
        at: Position,
        field: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) -> Option<ManifestSource> {
        match (file, inline) {
            (Some(f), None) => Some(ManifestSource::File(self.manifest_file(
                f,
                &format!("{field}.file"),
                known,
                user,
            ))),
            (None, Some(m)) => {
                let t = self.tpl(m, &format!("{field}.manifest"), known);
                self.manifest_text(
                    m,
                    &format!("{field}.manifest"),
                    Path::new("(inline)"),
                    &m.value,
                    known,
                    user,
                );
                Some(ManifestSource::Inline(t))
            }
            _ => {
                self.err(at, field, "exactly one of `file` or `manifest` is required");
                None
            }
        }
    }

    /// Convert the steps of one variant, in order, growing `known` with each step's id.
    pub fn steps(
        &mut self,
        steps: &[S<raw::Step>],
        field: &str,
        known: &mut Known,
        user: &BTreeMap<String, String>,
        cleanup: bool,
    ) -> Vec<Step> {
        steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.step(s, &format!("{field}[{i}]"), known, user, cleanup))
            .collect()
    }

    fn step(
        &mut self,
        s: &S<raw::Step>,
        field: &str,
        known: &mut Known,
        user: &BTreeMap<String, String>,
        cleanup: bool,
    ) -> Option<Step> {
        let at = pos(self.file, s);
        let r = &s.value;
        let present: Vec<&str> = [
            ("apply", r.apply.is_some()),
            ("patch", r.patch.is_some()),
            ("delete", r.delete.is_some()),
            ("wait", r.wait.is_some()),
            ("sleep", r.sleep.is_some()),
            ("exec", r.exec.is_some()),
            ("restart-node", r.restart_node.is_some()),
            ("pause-node", r.pause_node.is_some()),
            ("probe", r.probe.is_some()),
            ("assert", r.assert.is_some()),
            ("kind-create", r.kind_create.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.then_some(k))
        .collect();
        if present.len() != 1 {
            self.err(
                at,
                field,
                if present.is_empty() {
                    "a step needs exactly one action (apply, patch, delete, wait, sleep, exec, restart-node, pause-node, probe, assert, kind-create); it has none".to_string()
                } else {
                    format!(
                        "a step holds exactly one action; this one has {}",
                        present.join(" and ")
                    )
                },
            );
            return None;
        }
        let t = self.timeouts;
        let (action, default_timeout, label) = self.action(r, &at, field, known, user)?;
        let default_timeout = if cleanup {
            t.cleanup.max(default_timeout)
        } else {
            default_timeout
        };
        let timeout = match &r.timeout {
            Some(d) => self
                .dur(d, &format!("{field}.timeout"))
                .unwrap_or(default_timeout),
            None => default_timeout,
        };
        let finally = self.steps(&r.finally, &format!("{field}.finally"), known, user, true);
        let id = r.id.as_ref().map(|id| {
            if known.steps.contains_key(&id.value) {
                self.err(
                    pos(self.file, id),
                    &format!("{field}.id"),
                    format!("step id `{}` is used twice", id.value),
                );
            }
            known
                .steps
                .insert(id.value.clone(), outputs(&action).iter().copied().collect());
            id.value.clone()
        });
        Some(Step {
            name: r.name.clone().unwrap_or(label),
            id,
            timeout,
            action,
            finally,
            position: at,
        })
    }

    fn action(
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
            let mode = match a.mode.as_ref().map(|m| m.value.as_str()) {
                None | Some("client-side") => ApplyMode::ClientSide,
                Some("server-side") => ApplyMode::ServerSide { force: a.force },
                Some("replace") => ApplyMode::Replace,
                Some("create") => ApplyMode::Create,
                Some(other) => {
                    let m = a.mode.as_ref().expect("some");
                    self.err(
                        pos(self.file, m),
                        &format!("{f}.mode"),
                        format!("unknown apply mode {other:?} (client-side, server-side, replace, create)"),
                    );
                    return None;
                }
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
            let patch_type = match p.patch_type.value.as_str() {
                "json" => PatchType::Json,
                "merge" => PatchType::Merge,
                "strategic" => PatchType::Strategic,
                other => {
                    self.err(
                        pos(self.file, &p.patch_type),
                        &format!("{f}.type"),
                        format!("unknown patch type {other:?} (json, merge, strategic)"),
                    );
                    return None;
                }
            };
            let target = self.object_ref(&p.target, &format!("{f}.target"), known);
            let label = format!("patch {} ({})", target.name.0, p.patch_type.value);
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
            let (source, target) = match (&d.file, &d.target) {
                (Some(file), None) => (
                    Some(ManifestSource::File(self.manifest_file(
                        file,
                        &format!("{f}.file"),
                        known,
                        user,
                    ))),
                    None,
                ),
                (None, Some(target)) => (
                    None,
                    Some(self.object_ref(target, &format!("{f}.target"), known)),
                ),
                _ => {
                    self.err(
                        at.clone(),
                        &f,
                        "exactly one of `file` or `target` is required",
                    );
                    return None;
                }
            };
            return Some((Action::Delete { source, target }, t.delete, "delete".into()));
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
            if forms.len() != 1 {
                self.err(
                    at.clone(),
                    &f,
                    "a wait needs exactly one of pods, deployment, endpoints, nodes",
                );
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
                    self.err(at.clone(), &f, "exactly one of `node` or `pod` is required");
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
            let config_file = match super::load::kind_config_path(self.dir, &k.config.value) {
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
        if let Some(a) = &r.assert {
            return self
                .assertion(a, at, &format!("{field}.assert"), known)
                .map(|(a, l)| (a, t.assert, l));
        }
        None
    }

    /// A node named by kind's short name (`worker`), or a variable.
    fn node_name(&mut self, s: &S<String>, field: &str, known: &Known) -> Template {
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

    fn from(&mut self, s: &S<String>, field: &str, known: &Known) -> Option<From> {
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

    fn probe(
        &mut self,
        p: &raw::Probe,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<(Action, String)> {
        match (&p.connect, &p.dns, &p.bind) {
            (Some(c), None, None) => {
                let f = format!("{field}.connect");
                let from = self.from(&c.from, &format!("{f}.from"), known)?;
                if c.targets.is_empty() {
                    self.err(
                        at.clone(),
                        &format!("{f}.targets"),
                        "at least one target is required",
                    );
                }
                let targets = c
                    .targets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.tpl(t, &format!("{f}.targets[{i}]"), known))
                    .collect();
                let http = match c.proto.as_ref().map(|p| p.value.as_str()) {
                    None | Some("tcp") => false,
                    Some("http") => true,
                    Some(other) => {
                        let p = c.proto.as_ref().expect("some");
                        self.err(
                            pos(self.file, p),
                            &format!("{f}.proto"),
                            format!("unknown proto {other:?} (tcp, http)"),
                        );
                        false
                    }
                };
                let per_connection = match &c.per_connection_timeout {
                    Some(d) => self.dur(d, &format!("{f}.perConnectionTimeout"))?,
                    None => Duration::from_secs(2),
                };
                let label = format!("probe connect from {}", c.from.value);
                Some((
                    Action::Probe(ProbeSpec::Connect {
                        from,
                        targets,
                        count: self.bounded(&c.count, &format!("{f}.count"), 40, 1..=MAX_COUNT)?,
                        concurrency: self.bounded(
                            &c.concurrency,
                            &format!("{f}.concurrency"),
                            4,
                            1..=MAX_CONCURRENCY,
                        )?,
                        per_connection,
                        http,
                    }),
                    label,
                ))
            }
            (None, Some(d), None) => {
                let f = format!("{field}.dns");
                let from = self.from(&d.from, &format!("{f}.from"), known)?;
                let name = self.tpl(&d.name, &format!("{f}.name"), known);
                let interval = match &d.interval {
                    Some(i) => {
                        let d = self.dur(i, &format!("{f}.interval"))?;
                        if d.is_zero() {
                            self.err(
                                pos(self.file, i),
                                &format!("{f}.interval"),
                                "an interval of 0 would query without pause: name one of at least 1ms",
                            );
                            return None;
                        }
                        d
                    }
                    None => Duration::from_millis(20),
                };
                let until = match d.until.as_ref().map(|u| u.value.as_str()) {
                    None | Some("until-resolved") => DnsUntil::Resolved,
                    Some("once") => DnsUntil::Once,
                    Some(_) => DnsUntil::For(
                        self.dur(d.until.as_ref().expect("some"), &format!("{f}.until"))?,
                    ),
                };
                let label = format!("probe dns {} from {}", d.name.value, d.from.value);
                Some((
                    Action::Probe(ProbeSpec::Dns {
                        from,
                        name,
                        interval,
                        until,
                    }),
                    label,
                ))
            }
            (None, None, Some(b)) => {
                let f = format!("{field}.bind");
                let from = self.from(&b.from, &format!("{f}.from"), known)?;
                let address = self.tpl(&b.address, &format!("{f}.address"), known);
                let label = format!("probe bind {} from {}", b.address.value, b.from.value);
                Some((Action::Probe(ProbeSpec::Bind { from, address }), label))
            }
            _ => {
                self.err(
                    at.clone(),
                    field,
                    "a probe needs exactly one of connect, dns, bind",
                );
                None
            }
        }
    }

    fn step_ref(&mut self, s: &S<String>, field: &str, known: &Known) -> String {
        if !known.steps.contains_key(&s.value) {
            self.err(
                pos(self.file, s),
                field,
                format!("no earlier step has id `{}`", s.value),
            );
        }
        s.value.clone()
    }

    fn assertion(
        &mut self,
        a: &raw::Assert,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<(Action, String)> {
        let count = [
            a.field.is_some(),
            a.pod.is_some(),
            a.routing.is_some(),
            a.dns.is_some(),
            a.result.is_some(),
            a.endpoints.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        if count != 1 {
            self.err(
                at.clone(),
                field,
                "an assert needs exactly one of field, pod, routing, dns, result, endpoints",
            );
            return None;
        }
        if let Some(f) = &a.field {
            let fld = format!("{field}.field");
            let target = self.object_ref(&f.target, &format!("{fld}.target"), known);
            let path: FieldPath = match f.path.value.parse() {
                Ok(p) => p,
                Err(m) => {
                    self.err(pos(self.file, &f.path), &format!("{fld}.path"), m);
                    return None;
                }
            };
            let mut checks = Vec::new();
            if let Some(v) = &f.equals {
                checks.push(FieldCheck::Equals(v.clone()));
            }
            if let Some(c) = &f.contains {
                checks.push(FieldCheck::Contains(self.tpl(
                    c,
                    &format!("{fld}.contains"),
                    known,
                )));
            }
            if let Some(m) = &f.matches {
                match regex_lite::Regex::new(&m.value) {
                    Ok(r) => checks.push(FieldCheck::Matches(r)),
                    Err(e) => self.err(
                        pos(self.file, m),
                        &format!("{fld}.matches"),
                        format!("not a regular expression: {e}"),
                    ),
                }
            }
            if let Some(n) = f.count {
                checks.push(FieldCheck::Count(n));
            }
            if checks.len() != 1 {
                self.err(
                    at.clone(),
                    &fld,
                    "a field assert needs exactly one of equals, contains, matches, count",
                );
                return None;
            }
            let label = format!("assert {} {}", target.name.0, f.path.value);
            return Some((
                Action::Assert(Assertion::Field {
                    target,
                    path,
                    check: checks.remove(0),
                }),
                label,
            ));
        }
        if let Some(p) = &a.pod {
            let fld = format!("{field}.pod");
            let selector = self.tpl(&p.selector, &format!("{fld}.selector"), known);
            let container = p
                .container
                .as_ref()
                .map(|c| self.tpl(c, &format!("{fld}.container"), known));
            let mut checks = Vec::new();
            let v = |s: &Option<S<String>>| s.as_ref().map(|x| x.value.clone());
            if let Some(x) = v(&p.phase) {
                checks.push(PodCheck::Phase(x));
            }
            if let Some(x) = p.ready {
                checks.push(PodCheck::Ready(x));
            }
            if let Some(x) = v(&p.waiting_reason) {
                checks.push(PodCheck::WaitingReason(x));
            }
            if let Some(x) = v(&p.terminated_reason) {
                checks.push(PodCheck::TerminatedReason(x));
            }
            if let Some(x) = p.min_restarts {
                checks.push(PodCheck::MinRestarts(x));
            }
            if let Some(x) = p.max_restarts {
                checks.push(PodCheck::MaxRestarts(x));
            }
            if let Some(x) = p.last_exit_code {
                checks.push(PodCheck::LastExitCode(x));
            }
            if let Some(x) = &p.logs_contain {
                checks.push(PodCheck::LogsContain(self.tpl(
                    x,
                    &format!("{fld}.logsContain"),
                    known,
                )));
            }
            if let Some(x) = &p.previous_logs_contain {
                checks.push(PodCheck::PreviousLogsContain(self.tpl(
                    x,
                    &format!("{fld}.previousLogsContain"),
                    known,
                )));
            }
            if let Some(x) = v(&p.event_reason) {
                checks.push(PodCheck::EventReason(x));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a pod assert needs at least one check");
                return None;
            }
            let label = format!("assert pods {}", selector.0);
            return Some((
                Action::Assert(Assertion::Pod {
                    selector,
                    container,
                    checks,
                }),
                label,
            ));
        }
        if let Some(r) = &a.routing {
            let fld = format!("{field}.routing");
            let probe = self.step_ref(&r.probe, &format!("{fld}.probe"), known);
            let target = self.tpl(&r.target, &format!("{fld}.target"), known);
            let mut checks = Vec::new();
            let list = |cx: &mut Self, l: &Option<Vec<S<String>>>, name: &str| {
                l.as_ref().map(|v| {
                    v.iter()
                        .enumerate()
                        .map(|(i, s)| cx.tpl(s, &format!("{fld}.{name}[{i}]"), known))
                        .collect::<Vec<_>>()
                })
            };
            if let Some(x) = list(self, &r.only, "only") {
                checks.push(RoutingCheck::Only(x));
            }
            if let Some(x) = list(self, &r.includes, "includes") {
                checks.push(RoutingCheck::Includes(x));
            }
            if let Some(x) = list(self, &r.excludes, "excludes") {
                checks.push(RoutingCheck::Excludes(x));
            }
            if let Some(x) = r.min_distinct {
                checks.push(RoutingCheck::MinDistinct(x));
            }
            if let Some(x) = r.min_share {
                if !(0.0..=1.0).contains(&x) {
                    self.err(
                        at.clone(),
                        &format!("{fld}.minShare"),
                        "a share is between 0 and 1",
                    );
                }
                checks.push(RoutingCheck::MinShare(x));
            }
            if let Some(x) = r.unreachable {
                checks.push(RoutingCheck::Unreachable(x));
            }
            if checks.is_empty() {
                self.err(
                    at.clone(),
                    &fld,
                    "a routing assert needs at least one check",
                );
                return None;
            }
            let negative = checks.iter().any(RoutingCheck::forbids);
            let settle = self.settle(&r.settle, r.settle_rounds, negative, at, &fld);
            let label = format!("assert routing {} {}", probe, target.0);
            return Some((
                Action::Assert(Assertion::Routing {
                    probe,
                    target,
                    checks,
                    settle,
                }),
                label,
            ));
        }
        if let Some(d) = &a.dns {
            let fld = format!("{field}.dns");
            let probe = self.step_ref(&d.probe, &format!("{fld}.probe"), known);
            let since = d
                .since
                .as_ref()
                .map(|s| self.tpl(s, &format!("{fld}.since"), known));
            let mut checks = Vec::new();
            if let Some(x) = d.resolved {
                checks.push(DnsCheck::Resolved(x));
            }
            if let Some(w) = &d.within {
                let bound = self.dur(w, &format!("{fld}.within"))?;
                checks.push(DnsCheck::Within {
                    bound,
                    since: since.clone(),
                });
            }
            if let Some(w) = &d.not_before {
                let bound = self.dur(w, &format!("{fld}.notBefore"))?;
                checks.push(DnsCheck::NotBefore {
                    bound,
                    since: since.clone(),
                });
            }
            if let Some(c) = &d.seen_before_success {
                checks.push(DnsCheck::SeenBeforeSuccess(c.value.clone()));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a dns assert needs at least one check");
                return None;
            }
            let negative = checks.iter().any(DnsCheck::forbids);
            let settle = self.settle(&d.settle, d.settle_rounds, negative, at, &fld);
            let label = format!("assert dns {probe}");
            return Some((
                Action::Assert(Assertion::Dns {
                    probe,
                    checks,
                    settle,
                }),
                label,
            ));
        }
        if let Some(r) = &a.result {
            let fld = format!("{field}.result");
            let step = self.step_ref(&r.step, &format!("{fld}.step"), known);
            let mut checks = Vec::new();
            if let Some(x) = r.exit_code {
                checks.push(ResultCheck::ExitCode(x));
            }
            if let Some(x) = &r.stdout_contains {
                checks.push(ResultCheck::StdoutContains(self.tpl(
                    x,
                    &format!("{fld}.stdoutContains"),
                    known,
                )));
            }
            if let Some(x) = &r.stderr_contains {
                checks.push(ResultCheck::StderrContains(self.tpl(
                    x,
                    &format!("{fld}.stderrContains"),
                    known,
                )));
            }
            if let Some(x) = &r.reason {
                checks.push(ResultCheck::Reason(x.value.clone()));
            }
            if let Some(x) = &r.message_contains {
                checks.push(ResultCheck::MessageContains(self.tpl(
                    x,
                    &format!("{fld}.messageContains"),
                    known,
                )));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a result assert needs at least one check");
                return None;
            }
            let label = format!("assert result of {step}");
            return Some((Action::Assert(Assertion::Result { step, checks }), label));
        }
        let e = a.endpoints.as_ref().expect("one assert kind");
        let fld = format!("{field}.endpoints");
        let service = self.tpl(&e.service, &format!("{fld}.service"), known);
        let nodes = e.nodes.as_ref().map(|v| {
            v.iter()
                .enumerate()
                .map(|(i, n)| self.node_name(n, &format!("{fld}.nodes[{i}]"), known))
                .collect()
        });
        let label = format!("assert endpoints of {}", service.0);
        Some((
            Action::Assert(Assertion::Endpoints {
                service,
                ready: e.ready,
                nodes,
            }),
            label,
        ))
    }
}

pub fn mode_name(mode: ApplyMode) -> &'static str {
    match mode {
        ApplyMode::ClientSide => "client-side",
        ApplyMode::ServerSide { force: false } => "server-side",
        ApplyMode::ServerSide { force: true } => "server-side, forced",
        ApplyMode::Replace => "replace",
        ApplyMode::Create => "create",
    }
}

/// The user variables of a variant: the scenario's defaults with the variant's on top.
pub fn variables(
    scenario: &BTreeMap<String, S<String>>,
    variant: &BTreeMap<String, S<String>>,
) -> BTreeMap<String, String> {
    scenario
        .iter()
        .chain(variant.iter())
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}

/// The names a variant can use before anything runs.
pub fn known_for(
    user: &BTreeMap<String, String>,
    nodes: &BTreeSet<String>,
    ports: &BTreeSet<(String, String)>,
) -> Known {
    Known {
        user: user.keys().cloned().collect(),
        nodes: nodes.clone(),
        ports: ports.clone(),
        steps: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_compare_versions() {
        use crate::version::Version;
        let v = |t: &str| Version::parse(t).unwrap();
        let g = gate(GateOn::Kubernetes, ">=1.24").unwrap();
        assert!(g.holds(&v("v1.36.2")) && g.holds(&v("1.24.0")) && !g.holds(&v("1.23.9")));
        // The full version counts: patch and pre-release.
        let g = gate(GateOn::Kubernetes, ">=1.36.2").unwrap();
        assert!(g.holds(&v("v1.36.2")) && !g.holds(&v("v1.36.1")));
        assert!(!g.holds(&v("v1.36.2-rc.0")));
        let g = gate(GateOn::Kubernetes, "<1.32").unwrap();
        assert!(g.holds(&v("v1.32.0-alpha.1")) && !g.holds(&v("v1.32.0")));
        let g = gate(GateOn::Kind, "<0.22").unwrap();
        assert!(g.holds(&v("0.21.0")) && !g.holds(&v("0.22.0")));
        assert_eq!(
            gate(GateOn::Kind, "0.33").unwrap().version.triple(),
            (0, 33, 0)
        );
        assert!(
            gate(GateOn::Kind, ">=one")
                .unwrap_err()
                .contains("not a version constraint")
        );
    }

    #[test]
    fn probe_sources() {
        assert_eq!(from("host").unwrap(), From::Host);
        assert_eq!(
            from("node:worker2").unwrap(),
            From::Node(Template("worker2".into()))
        );
        assert_eq!(
            from("pod:job-w-0").unwrap(),
            From::Pod(Template("job-w-0".into()))
        );
        assert!(from("node:").is_err());
        assert!(
            from("laptop")
                .unwrap_err()
                .contains("host, node:<node> or pod:<pod>")
        );
    }
}
