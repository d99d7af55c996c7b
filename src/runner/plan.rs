//! Which variants a run executes and on which cluster: filters, `--partition hash:K/N` (a
//! deterministic shard, as nextest does), grouping by cluster shape, and what each variant
//! needs (an API server, a local probe binary, the probe image).

use std::path::PathBuf;

use crate::scenario::model::*;

/// `--partition hash:K/N`: this job runs the variants whose id hashes to shard K of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub shard: u64,
    pub total: u64,
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("bad partition {s:?}: expected hash:K/N with 1 <= K <= N (e.g. hash:1/3)");
        let spec = s.strip_prefix("hash:").ok_or_else(bad)?;
        let (k, n) = spec.split_once('/').ok_or_else(bad)?;
        let (shard, total): (u64, u64) =
            (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if shard == 0 || total == 0 || shard > total {
            return Err(bad());
        }
        Ok(Self { shard, total })
    }
}

impl Partition {
    /// FNV-1a of `scenario/variant`: stable across runs, machines and Rust versions.
    pub fn holds(&self, id: &str) -> bool {
        let h = crate::fnv::fnv1a(id.as_bytes());
        h % self.total == self.shard - 1
    }
}

/// One variant chosen to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub scenario: usize,
    pub variant: usize,
}

/// The variants to run, as [`select`] picks them; a filter or variant that matches nothing at
/// all (in any partition) is an error naming it.
pub fn choose(
    scenarios: &[Scenario],
    filter: Option<&str>,
    variant: Option<&str>,
    partition: Option<Partition>,
) -> Result<Vec<Pick>, String> {
    if (filter.is_some() || variant.is_some())
        && select(scenarios, filter, variant, None).is_empty()
    {
        let what = match (filter, variant) {
            (Some(f), Some(v)) => format!("--filter {f:?} with --variant {v:?}"),
            (Some(f), None) => format!("--filter {f:?}"),
            (None, v) => format!("--variant {:?}", v.unwrap_or_default()),
        };
        return Err(format!(
            "{what} matches no variant of the scenarios given (`kindproof list` shows them)"
        ));
    }
    Ok(select(scenarios, filter, variant, partition))
}

/// The variants to run: `filter` is a substring of `scenario/variant`, `variant` an exact
/// variant name.
pub fn select(
    scenarios: &[Scenario],
    filter: Option<&str>,
    variant: Option<&str>,
    partition: Option<Partition>,
) -> Vec<Pick> {
    let mut out = Vec::new();
    for (si, s) in scenarios.iter().enumerate() {
        for (vi, v) in s.variants.iter().enumerate() {
            let id = format!("{}/{}", s.name, v.name);
            if filter.is_some_and(|f| !id.contains(f))
                || variant.is_some_and(|n| n != v.name)
                || partition.is_some_and(|p| !p.holds(&id))
            {
                continue;
            }
            out.push(Pick {
                scenario: si,
                variant: vi,
            });
        }
    }
    out
}

/// What a variant needs from the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// An API server (and so a namespace of its own).
    pub api: bool,
    /// The local probe binary (probes from the host).
    pub host_probe: bool,
    /// The probe image in Docker (probes from a node).
    pub node_probe: bool,
    /// The cluster at all: every step but `kind-create` (which makes its own throwaway
    /// nodes), `sleep` and assertions on step results uses it.
    pub cluster: bool,
    /// The cluster's Kubernetes version (`when: kubernetes` gates): the API server's, or a
    /// node image's tag where the run named the image.
    pub version: bool,
}

impl Needs {
    pub fn merge(self, o: Needs) -> Needs {
        Needs {
            api: self.api || o.api,
            host_probe: self.host_probe || o.host_probe,
            node_probe: self.node_probe || o.node_probe,
            cluster: self.cluster || o.cluster,
            version: self.version || o.version,
        }
    }
}

pub fn needs(v: &Variant) -> Needs {
    let mut n = Needs {
        version: v.when.iter().any(|g| g.what == GateOn::Kubernetes),
        ..Default::default()
    };
    for s in v.all_steps() {
        if !matches!(
            s.action,
            Action::KindCreate { .. } | Action::Sleep(_) | Action::Assert(Assertion::Result { .. })
        ) {
            n.cluster = true;
        }
        match &s.action {
            Action::Apply { .. }
            | Action::Patch { .. }
            | Action::Delete(_)
            | Action::Wait(_)
            | Action::Exec {
                target: ExecTarget::Pod { .. },
                ..
            } => n.api = true,
            Action::Probe(p) => {
                let from = match p {
                    ProbeSpec::Connect { from, .. }
                    | ProbeSpec::Dns { from, .. }
                    | ProbeSpec::Bind { from, .. }
                    | ProbeSpec::Stream { from, .. }
                    | ProbeSpec::DnsStream { from, .. } => from,
                };
                match from {
                    From::Host => n.host_probe = true,
                    From::Node(_) => n.node_probe = true,
                    From::Pod(_) => n.api = true,
                }
            }
            Action::Assert(
                Assertion::Field { .. } | Assertion::Pod { .. } | Assertion::Endpoints { .. },
            )
            | Action::Fault(Fault::KillPods { .. }) => n.api = true,
            // Listed one by one: a new action or assertion must say what it needs.
            Action::Assert(
                Assertion::Routing { .. }
                | Assertion::Dns { .. }
                | Assertion::Result { .. }
                | Assertion::During(_),
            )
            | Action::Stop(_)
            | Action::Fault(
                Fault::Disconnect(_)
                | Fault::Reconnect(_)
                | Fault::Netem { .. }
                | Fault::NetemClear(_)
                | Fault::StopKubelet(_)
                | Fault::StartKubelet(_),
            )
            | Action::Sleep(_)
            | Action::Exec {
                target: ExecTarget::Node(_),
                ..
            }
            | Action::RestartNode(_)
            | Action::PauseNode { .. }
            | Action::KindCreate { .. } => {}
        }
    }
    n.cluster |= n.api || n.version;
    n
}

/// Variants that can share one cluster: same kind config and node image, and every scenario
/// in it willing to share. A scenario that will not share gets a group of its own.
#[derive(Debug, Clone)]
pub struct Group {
    pub config_file: PathBuf,
    pub image: Option<String>,
    pub picks: Vec<Pick>,
}

pub fn group(scenarios: &[Scenario], picks: &[Pick]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for p in picks {
        let s = &scenarios[p.scenario];
        let c = s.cluster_of(&s.variants[p.variant]);
        let existing = groups.iter_mut().find(|g| {
            c.shared
                && g.config_file == c.config_file
                && g.image == c.image
                && g.picks.iter().all(|q| {
                    let qs = &scenarios[q.scenario];
                    qs.cluster_of(&qs.variants[q.variant]).shared
                })
        });
        match existing {
            Some(g) => g.picks.push(*p),
            None => groups.push(Group {
                config_file: c.config_file.clone(),
                image: c.image.clone(),
                picks: vec![*p],
            }),
        }
    }
    groups
}

/// The documents of every manifest `v` applies or deletes (file or inline), with the
/// variables `lookup` knows filled in; a name it does not know stays as `${name}`.
pub(crate) fn manifest_docs(
    s: &Scenario,
    v: &Variant,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<serde_json::Value>, String> {
    let fill = |text: &str| {
        crate::scenario::vars::substitute(text, |n| lookup(n).or_else(|| Some(format!("${{{n}}}"))))
    };
    let mut out = Vec::new();
    for step in v.all_steps() {
        let source = match &step.action {
            Action::Apply { source, .. } | Action::Delete(DeleteWhat::Manifest(source)) => source,
            _ => continue,
        };
        let text = match source {
            ManifestSource::File(t) => {
                let name = fill(&t.0)?;
                let path = crate::scenario::paths::scenario_file(&s.dir, &name)?;
                crate::input::read_text(&path).map_err(|e| e.to_string())?
            }
            ManifestSource::Inline(t) => t.0.clone(),
        };
        let text = fill(&text)?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| e.to_string())?;
        out.extend(docs.into_iter().filter(|d| !d.is_null()));
    }
    Ok(out)
}

/// The container images the manifests of `v` name (`image:` fields), with the user variables
/// and `${probe.image}` filled in; an image still holding a `${…}` is left out (it is only
/// known at run time).
pub fn manifest_images(
    s: &Scenario,
    v: &Variant,
    probe_image: &str,
) -> Result<Vec<String>, String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("image", serde_json::Value::String(i)) if !i.contains("${") => {
                            out.push(i.clone())
                        }
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let lookup = |n: &str| {
        if n == "probe.image" {
            Some(probe_image.to_string())
        } else {
            v.variables.get(n).cloned()
        }
    };
    let mut out = Vec::new();
    for d in manifest_docs(s, v, lookup)? {
        walk(&d, &mut out);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_every_id_exactly_once() {
        let ids: Vec<String> = (0..200).map(|i| format!("s{i}/v{}", i % 3)).collect();
        let parts: Vec<Partition> = (1..=3)
            .map(|k| format!("hash:{k}/3").parse().unwrap())
            .collect();
        let mut seen = 0;
        for id in &ids {
            let n = parts.iter().filter(|p| p.holds(id)).count();
            assert_eq!(n, 1, "{id}");
            seen += n;
        }
        assert_eq!(seen, 200);
        // Stable: the same id lands in the same shard every time.
        assert!(
            parts
                .iter()
                .any(|p| p.holds("nodeport-shared-selector/bug"))
        );
        for bad in ["hash:0/3", "hash:4/3", "3/3", "hash:1-3", "hash:a/b"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
