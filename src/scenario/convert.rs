//! Raw scenario → validated model. Every problem is collected with its file, line, column and
//! field, so one `validate` run shows them all. Each variant is checked on its own: its
//! variables, its steps, and the step ids it can refer to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::model::*;
use super::raw::{self, ApplyModeName, PatchTypeName, Proto};
use super::vars::{Known, references, substitute};
use crate::field_path::FieldPath;
use crate::kind_config::model::S;
use crate::yaml::{LocatedError, Position};

mod action;
mod assert;
mod during;
mod fault;
mod manifest;
mod probe;

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
    /// The variant's user variables as manifests are validated with them: fully expanded,
    /// with a placeholder for what is known only at run time.
    values: BTreeMap<String, String>,
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
            values: BTreeMap::new(),
        }
    }

    /// The variant's user variables, fully expanded (see
    /// [`expand_all`](crate::scenario::expand::expand_all)), for the manifests converted next.
    pub fn set_values(&mut self, expanded: &BTreeMap<String, String>) {
        self.values = expanded
            .iter()
            .map(|(k, v)| {
                let filled = substitute(v, |_| Some("x".into())).unwrap_or_else(|_| v.clone());
                (k.clone(), filled)
            })
            .collect();
    }

    fn err(&mut self, at: Position, field: &str, message: impl Into<String>) {
        let e = LocatedError::new(at, field, message);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// Whether exactly one of `options` (name, present) is given, as `what` needs; if not, a
    /// located error naming them all and those given.
    fn exactly_one(
        &mut self,
        at: Position,
        field: &str,
        what: &str,
        options: &[(&str, bool)],
    ) -> bool {
        let given: Vec<&str> = options.iter().filter(|o| o.1).map(|o| o.0).collect();
        if given.len() == 1 {
            return true;
        }
        let all = options.iter().map(|o| o.0).collect::<Vec<_>>().join(", ");
        let message = match given.as_slice() {
            [] => format!("{what} needs exactly one of {all}; it has none"),
            _ => format!(
                "{what} takes exactly one of {all}; this one has {}",
                given.join(" and ")
            ),
        };
        self.err(at, field, message);
        false
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
        let actions = [
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
            ("stop", r.stop.is_some()),
            ("disconnect-node", r.disconnect_node.is_some()),
            ("reconnect-node", r.reconnect_node.is_some()),
            ("netem", r.netem.is_some()),
            ("netem-clear", r.netem_clear.is_some()),
            ("stop-kubelet", r.stop_kubelet.is_some()),
            ("start-kubelet", r.start_kubelet.is_some()),
            ("kill-pods", r.kill_pods.is_some()),
        ];
        if !self.exactly_one(at.clone(), field, "a step", &actions) {
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
        let probe_id = r.probe.as_ref().and_then(|p| p.id.as_ref());
        if let (Some(_), Some(p)) = (&r.id, probe_id) {
            self.err(
                pos(self.file, p),
                &format!("{field}.probe.id"),
                "the step has an id already: give the probe's id once",
            );
        }
        let background = matches!(
            action,
            Action::Probe(ProbeSpec::Stream { .. } | ProbeSpec::DnsStream { .. })
        );
        if background && r.id.is_none() && probe_id.is_none() {
            self.err(
                at.clone(),
                &format!("{field}.id"),
                "a background probe needs an id: stop and assert.during name it",
            );
        }
        if let Action::Stop(p) = &action {
            known.stopped.insert(p.clone());
        }
        let id = r.id.as_ref().or(probe_id).map(|id| {
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
            if background {
                known.background.insert(id.value.clone());
            }
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

/// A patch type as written.
pub fn patch_name(t: PatchType) -> &'static str {
    match t {
        PatchType::Json => "json",
        PatchType::Merge => "merge",
        PatchType::Strategic => "strategic",
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
        node_labels: BTreeMap::new(),
        background: BTreeSet::new(),
        stopped: BTreeSet::new(),
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
