//! Loading scenarios: `scenarios/<name>/scenario.yaml` strictly, its kind config (checked the
//! way kind would), its manifests and its variables, every problem located. Nothing here touches
//! Docker or a cluster, so `kindproof validate scenarios/` runs anywhere.

use std::collections::BTreeSet;
use std::path::Path;

use super::convert::{API_VERSION, Converter, KIND, gate, known_for, variables};
use super::model::{ClusterSpec, GateOn, Scenario, Variant};
use super::raw;
use crate::kind_config::check::{ConfigCheck, Verdict};
use crate::kind_config::defaults::{node_short_names, with_defaults};
use crate::kind_config::load::load_file;
use crate::kind_config::model::Protocol;
use crate::kind_config::version::KindVersion;
use crate::yaml::{LocatedError, Position};

pub use super::find::FILE;
use super::paths::{dns_label, kind_config_path};

/// Load and validate one scenario, checking kind configs against `kind`'s rules.
pub fn load(file: &Path, kind: KindVersion) -> Result<Scenario, Vec<LocatedError>> {
    let text = crate::input::read_text(file).map_err(|e| {
        vec![LocatedError::new(
            Position::file_start(file),
            "",
            e.to_string(),
        )]
    })?;
    load_text(file, &text, kind)
}

/// Validate the scenario `text`, read from `file` (whose directory holds its manifests).
pub fn load_text(
    file: &Path,
    text: &str,
    kind: KindVersion,
) -> Result<Scenario, Vec<LocatedError>> {
    let raw: raw::Scenario = crate::yaml::from_str(file, text).map_err(|e| vec![e])?;
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut cx = Converter::new(file, &dir);
    let mut errors: Vec<LocatedError> = Vec::new();
    let at = |s: &crate::kind_config::model::S<String>| Position::of(file, s);
    if raw.api_version.value != API_VERSION {
        errors.push(LocatedError::new(
            at(&raw.api_version),
            "apiVersion",
            format!("expected {API_VERSION}, got {:?}", raw.api_version.value),
        ));
    }
    if raw.kind.value != KIND {
        errors.push(LocatedError::new(
            at(&raw.kind),
            "kind",
            format!("expected {KIND}, got {:?}", raw.kind.value),
        ));
    }
    let name = raw.name.value.clone();
    if let Err(m) = dns_label(&name) {
        errors.push(LocatedError::new(
            at(&raw.name),
            "name",
            format!("a scenario name {m}"),
        ));
    }
    let real_dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
    if file.file_name().is_some_and(|n| n == FILE)
        && real_dir
            .file_name()
            .is_some_and(|d| d.to_string_lossy() != name)
    {
        errors.push(LocatedError::new(
            at(&raw.name),
            "name",
            format!(
                "the scenario in directory {} must be named after it",
                dir.display()
            ),
        ));
    }

    // The cluster: its kind config must be usable; its nodes and ports are variables.
    let scenario_cluster = cluster(file, &dir, &raw.cluster, "cluster", kind, &mut errors);

    cx.set_timeouts(&raw.timeouts);
    let mut variants = Vec::new();
    let mut names = BTreeSet::new();
    if raw.variants.is_empty() {
        errors.push(LocatedError::new(
            Position::file_start(file),
            "variants",
            "a scenario needs at least one variant (e.g. bug and mitigated)",
        ));
    }
    for (i, v) in raw.variants.iter().enumerate() {
        let field = format!("variants[{i}]");
        let rv = &v.value;
        if let Err(m) = dns_label(&rv.name.value) {
            errors.push(LocatedError::new(
                at(&rv.name),
                format!("{field}.name"),
                format!("a variant name {m}"),
            ));
        }
        if !names.insert(rv.name.value.clone()) {
            errors.push(LocatedError::new(
                at(&rv.name),
                format!("{field}.name"),
                format!("variant {:?} is defined twice", rv.name.value),
            ));
        }
        let user = variables(&raw.variables, &rv.variables);
        let variant_cluster = rv.cluster.as_ref().map(|c| {
            cluster(
                file,
                &dir,
                c,
                &format!("{field}.cluster"),
                kind,
                &mut errors,
            )
        });
        let (spec, nodes, ports) = match (&variant_cluster, &scenario_cluster) {
            (Some(c), _) | (None, c) => c,
        };
        let mut known = known_for(&user, nodes, ports);
        if let Some(spec) = spec {
            known.node_labels = crate::scenario::node_ref::kind_labels(&spec.config);
        }
        // Variable values may refer to other names; those must exist too.
        for (k, v) in raw.variables.iter().chain(rv.variables.iter()) {
            match crate::scenario::vars::references(&v.value) {
                Ok(names) => {
                    for n in names {
                        if let Some(why) = known.check(n) {
                            errors.push(LocatedError::new(at(v), format!("variables.{k}"), why));
                        }
                    }
                }
                Err(m) => errors.push(LocatedError::new(at(v), format!("variables.{k}"), m)),
            }
        }
        match crate::scenario::expand::expand_all(&user) {
            Ok(values) => cx.set_values(&values),
            Err((name, why)) => {
                let at_var = rv
                    .variables
                    .get(&name)
                    .or_else(|| raw.variables.get(&name))
                    .map(at)
                    .unwrap_or_else(|| Position::of(file, v));
                errors.push(LocatedError::new(at_var, format!("variables.{name}"), why));
                // Reported here: the manifests are checked with placeholders only.
                cx.set_values(&Default::default());
            }
        }
        let mut when = Vec::new();
        if let Some(w) = &rv.when {
            for (what, value, f) in [
                (GateOn::Kind, &w.kind, "kind"),
                (GateOn::Kubernetes, &w.kubernetes, "kubernetes"),
            ] {
                if let Some(value) = value {
                    match gate(what, &value.value) {
                        Ok(g) => when.push(g),
                        Err(m) => errors.push(LocatedError::new(
                            at(value),
                            format!("{field}.when.{f}"),
                            m,
                        )),
                    }
                }
            }
        }
        let (steps_field, steps) = match &rv.steps {
            Some(s) => (format!("{field}.steps"), s),
            None => ("steps".to_string(), &raw.steps),
        };
        if steps.is_empty() {
            errors.push(LocatedError::new(
                Position::of(file, v),
                &field,
                "this variant has no steps (neither its own nor the scenario's)",
            ));
        }
        let steps = cx.steps(steps, &steps_field, &mut known, &user, false);
        let cleanup = cx.steps(&raw.cleanup, "cleanup", &mut known, &user, true);
        let _ = spec;
        variants.push(Variant {
            cluster: variant_cluster.and_then(|(spec, _, _)| spec),
            name: rv.name.value.clone(),
            expect: rv.expect.clone(),
            variables: user,
            when,
            steps,
            cleanup,
        });
    }
    errors.extend(cx.errors);
    errors.dedup();
    if !errors.is_empty() {
        errors.sort_by(|a, b| {
            (&a.position.file, a.position.line, a.position.column).cmp(&(
                &b.position.file,
                b.position.line,
                b.position.column,
            ))
        });
        errors.dedup();
        return Err(errors);
    }
    Ok(Scenario {
        name,
        summary: raw.summary,
        upstream: raw.upstream,
        dir,
        file: file.to_path_buf(),
        cluster: scenario_cluster.0.expect("no errors: the cluster loaded"),
        variants,
    })
}

type Shape = (
    Option<ClusterSpec>,
    BTreeSet<String>,
    BTreeSet<(String, String)>,
);

/// Load the cluster a scenario (or a variant) names: its spec, and the node short names and
/// published ports its variables may use. Problems go to `errors`.
fn cluster(
    file: &Path,
    dir: &Path,
    raw: &raw::Cluster,
    field: &str,
    kind: KindVersion,
    errors: &mut Vec<LocatedError>,
) -> Shape {
    let at = Position::of(file, &raw.config);
    let mut nodes = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let path = match kind_config_path(dir, &raw.config.value) {
        Ok(p) => p,
        Err(m) => {
            errors.push(LocatedError::new(at, format!("{field}.config"), m));
            return (None, nodes, ports);
        }
    };
    let loaded = match load_file(&path) {
        Ok(l) => l,
        Err(e) => {
            errors.push(LocatedError::new(
                at,
                format!("{field}.config"),
                e.to_string(),
            ));
            return (None, nodes, ports);
        }
    };
    let check = ConfigCheck::run(&path, &loaded.cluster, kind);
    if check.verdict() == Verdict::Invalid {
        for p in &check.blocking {
            errors.push(LocatedError::new(
                p.position.clone(),
                &p.field,
                p.message.clone(),
            ));
        }
    }
    let defaulted = with_defaults(&loaded.cluster);
    for (node, short) in defaulted.nodes.iter().zip(node_short_names(&defaulted)) {
        for m in &node.extra_port_mappings {
            let proto = m
                .protocol
                .as_ref()
                .and_then(|p| Protocol::parse(&p.value))
                .unwrap_or(Protocol::Tcp);
            if let Some(cp) = &m.container_port {
                ports.insert((short.clone(), format!("{}/{}", cp.value, proto.lower())));
            }
        }
        if short == "control-plane" {
            ports.insert((short.clone(), "6443/tcp".into()));
        }
        nodes.insert(short);
    }
    (
        Some(ClusterSpec {
            config_file: path,
            config: loaded.cluster,
            image: raw.image.as_ref().map(|i| i.value.clone()),
            shared: raw.shared,
        }),
        nodes,
        ports,
    )
}
