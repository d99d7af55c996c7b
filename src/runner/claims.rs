//! What a variant holds that other variants on the same cluster could collide with: cluster-wide
//! numbers its manifests name (nodePorts, hostPorts per node, fixed ClusterIPs), cluster-scoped
//! objects, and things that affect everyone (a node restart or pause, an object in another
//! namespace such as CoreDNS's ConfigMap). Namespaced objects never collide: each variant has a
//! namespace of its own. Pure: the manifests are read with the variables the run knows.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use super::plan::manifest_docs;
use crate::scenario::model::*;

/// One cluster-wide thing a variant holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// A Service nodePort (the allocator is per number, whatever the protocol).
    NodePort(u64),
    /// A hostPort on a node (`None`: whichever node the pod lands on).
    HostPort {
        node: Option<String>,
        port: u64,
        protocol: String,
    },
    /// A pod in a node's own network namespace (`None`: any node): it may bind any port there.
    HostNetwork(Option<String>),
    ClusterIp(String),
    /// A cluster-scoped object, by kind and name.
    Object(String, String),
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |n: &Option<String>| n.clone().unwrap_or_else(|| "any node".into());
        match self {
            Self::NodePort(p) => write!(f, "nodePort {p}"),
            Self::HostPort {
                node,
                port,
                protocol,
            } => write!(f, "hostPort {port}/{protocol} on {}", on(node)),
            Self::HostNetwork(n) => write!(f, "host network of {}", on(n)),
            Self::ClusterIp(ip) => write!(f, "clusterIP {ip}"),
            Self::Object(k, n) => write!(f, "{k} {n}"),
        }
    }
}

impl Claim {
    /// Whether two claims cannot be held at once.
    fn collides(&self, o: &Claim) -> bool {
        let same_node =
            |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
        match (self, o) {
            (
                Self::HostPort {
                    node: a,
                    port: p,
                    protocol: x,
                },
                Self::HostPort {
                    node: b,
                    port: q,
                    protocol: y,
                },
            ) => p == q && x == y && same_node(a, b),
            // Both end up as rules for the same port on the nodes: traffic would go to either.
            (Self::NodePort(n), Self::HostPort { port, .. })
            | (Self::HostPort { port, .. }, Self::NodePort(n)) => n == port,
            (Self::HostNetwork(a), Self::HostNetwork(b))
            | (Self::HostNetwork(a), Self::HostPort { node: b, .. })
            | (Self::HostPort { node: a, .. }, Self::HostNetwork(b)) => same_node(a, b),
            _ => self == o,
        }
    }
}

/// Everything a variant holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub held: BTreeSet<Claim>,
    /// Why the variant must run alone on its cluster, if it must.
    pub alone: Option<String>,
}

impl Claims {
    /// Why `self` cannot run beside `other`, if it cannot.
    pub fn conflict(&self, other: &Claims) -> Option<String> {
        if let Some(why) = self.alone.as_ref().or(other.alone.as_ref()) {
            return Some(why.clone());
        }
        self.held.iter().find_map(|a| {
            other
                .held
                .iter()
                .find(|b| a.collides(b))
                .map(|_| a.to_string())
        })
    }

    /// Short keys for the report's timeline (the floor computation groups by them).
    pub fn keys(&self) -> Vec<String> {
        self.held.iter().map(ToString::to_string).collect()
    }
}

/// Kinds that are not namespaced (the built-in ones a scenario may name).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "CSIDriver",
];

fn u(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The pod spec of a Pod or of a workload's template.
fn pod_spec(obj: &Value) -> Option<&Value> {
    match obj["kind"].as_str()? {
        "Pod" => obj.get("spec"),
        "CronJob" => obj.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => obj.pointer("/spec/template/spec"),
    }
}

fn object_claims(obj: &Value, out: &mut Claims) {
    let kind = obj["kind"].as_str().unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if CLUSTER_SCOPED.contains(&kind) {
        out.held.insert(Claim::Object(kind.into(), name.into()));
        return;
    }
    if let Some(ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str)
        && !ns.contains("${namespace}")
    {
        out.alone
            .get_or_insert_with(|| format!("changes {kind} {ns}/{name}, outside its namespace"));
    }
    if kind == "Service" {
        for p in obj
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = u(&p["nodePort"]) {
                out.held.insert(Claim::NodePort(n));
            }
        }
        if let Some(n) = u(&obj["spec"]["healthCheckNodePort"]) {
            out.held.insert(Claim::NodePort(n));
        }
        if let Some(ip) = obj.pointer("/spec/clusterIP").and_then(Value::as_str)
            && !ip.is_empty()
            && ip != "None"
        {
            out.held.insert(Claim::ClusterIp(ip.into()));
        }
        return;
    }
    let Some(spec) = pod_spec(obj) else { return };
    let node = spec["nodeName"]
        .as_str()
        .or(spec
            .pointer("/nodeSelector/kubernetes.io~1hostname")
            .and_then(Value::as_str))
        .map(str::to_string);
    if spec["hostNetwork"] == true {
        out.held.insert(Claim::HostNetwork(node.clone()));
    }
    for c in ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
    {
        for p in c["ports"].as_array().into_iter().flatten() {
            if let Some(port) = u(&p["hostPort"]) {
                out.held.insert(Claim::HostPort {
                    node: node.clone(),
                    port,
                    protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                });
            }
        }
    }
}

/// What a variant holds, and the manifest objects that hold it (the ones teardown deletes at
/// once, so the numbers are free for the next variant).
#[derive(Debug, Clone, Default)]
pub struct Holding {
    pub claims: Claims,
    /// Objects holding a cluster-wide claim, as written (variables filled in).
    pub holders: Vec<Value>,
    /// Whether pods hold any of it (hostPorts, host network): their pods go at once too.
    pub pods: bool,
}

/// The claims of variant `v` of `s`, its manifests read with `lookup` (the run's variables).
pub fn claims(
    s: &Scenario,
    v: &Variant,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Claims, String> {
    Ok(holding(s, v, lookup)?.claims)
}

/// [`claims`], with the objects that hold them.
pub fn holding(
    s: &Scenario,
    v: &Variant,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Holding, String> {
    let mut out = Claims::default();
    let mut holders = Vec::new();
    let mut pods = false;
    for d in manifest_docs(s, v, lookup)? {
        let mut mine = Claims::default();
        object_claims(&d, &mut mine);
        if !mine.held.is_empty() {
            pods |= pod_spec(&d).is_some() && d["kind"] != "Service";
            holders.push(d);
        }
        out.held.extend(mine.held);
        if out.alone.is_none() {
            out.alone = mine.alone;
        }
    }
    for step in v.all_steps() {
        let why = match &step.action {
            Action::RestartNode(n) => Some(format!("restarts node {}", n.0)),
            Action::PauseNode { node, .. } => Some(format!("pauses node {}", node.0)),
            // A fault affects everyone on the cluster.
            Action::Fault(f) => Some(f.describe()),
            Action::Patch { target, .. } => {
                let kind = &target.kind.0;
                if CLUSTER_SCOPED.contains(&kind.as_str()) {
                    out.held
                        .insert(Claim::Object(kind.clone(), target.name.0.clone()));
                }
                target
                    .namespace
                    .as_ref()
                    .filter(|n| !n.0.contains("${namespace}"))
                    .map(|n| {
                        format!(
                            "patches {kind} {}/{}, outside its namespace",
                            n.0, target.name.0
                        )
                    })
            }
            _ => None,
        };
        if let Some(why) = why {
            out.alone.get_or_insert(why);
        }
    }
    Ok(Holding {
        claims: out,
        holders,
        pods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(docs: &[Value]) -> Claims {
        let mut c = Claims::default();
        docs.iter().for_each(|d| object_claims(d, &mut c));
        c
    }

    #[test]
    fn services_pods_and_workloads_claim_their_cluster_wide_numbers() {
        let c = of(&[
            json!({"kind": "Service", "metadata": {"name": "dns"}, "spec": {"clusterIP": "10.96.0.53",
                "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053}, {"port": 53, "nodePort": 30053}]}}),
            json!({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
                "nodeSelector": {"kubernetes.io/hostname": "kp-x-worker"},
                "containers": [{"name": "a", "ports": [{"containerPort": 8080, "hostPort": 80}]}]}}}}),
            json!({"kind": "Pod", "metadata": {"name": "h"}, "spec": {"hostNetwork": true, "containers": [{"name": "a"}]}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "plain"}}),
        ]);
        let keys = c.keys();
        assert_eq!(
            keys,
            [
                "nodePort 30053",
                "hostPort 80/TCP on kp-x-worker",
                "host network of any node",
                "clusterIP 10.96.0.53",
            ]
        );
        assert_eq!(c.alone, None);
    }

    #[test]
    fn what_collides_and_what_does_not() {
        let svc = |p: u64| {
            of(&[
                json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"nodePort": p}]}}),
            ])
        };
        assert_eq!(
            svc(30001).conflict(&svc(30001)).as_deref(),
            Some("nodePort 30001")
        );
        assert_eq!(svc(30001).conflict(&svc(30002)), None);
        let hp = |node: Option<&str>, port: u64| Claims {
            held: [Claim::HostPort {
                node: node.map(str::to_string),
                port,
                protocol: "TCP".into(),
            }]
            .into(),
            alone: None,
        };
        assert!(hp(Some("a"), 80).conflict(&hp(Some("b"), 80)).is_none());
        assert!(hp(Some("a"), 80).conflict(&hp(None, 80)).is_some());
        assert!(hp(Some("a"), 80).conflict(&hp(Some("a"), 443)).is_none());
        assert!(svc(30002).conflict(&hp(Some("a"), 30002)).is_some());
        let net = Claims {
            held: [Claim::HostNetwork(Some("a".into()))].into(),
            alone: None,
        };
        assert!(net.conflict(&hp(Some("a"), 443)).is_some());
        assert!(net.conflict(&hp(Some("b"), 443)).is_none());
        // Alone collides with anything, even a variant that holds nothing.
        let alone = Claims {
            alone: Some("restarts node worker".into()),
            ..Default::default()
        };
        assert_eq!(
            alone.conflict(&Claims::default()).as_deref(),
            Some("restarts node worker")
        );
        assert_eq!(Claims::default().conflict(&Claims::default()), None);
    }

    #[test]
    fn objects_outside_the_namespace_and_cluster_scoped_ones() {
        let c = of(&[
            json!({"kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}}),
        ]);
        assert_eq!(
            c.alone.as_deref(),
            Some("changes ConfigMap kube-system/coredns, outside its namespace")
        );
        let c = of(&[json!({"kind": "ClusterRole", "metadata": {"name": "r"}})]);
        assert_eq!(c.keys(), ["ClusterRole r"]);
        assert_eq!(c.alone, None);
    }
}

#[cfg(test)]
mod shipped {
    use super::*;
    use crate::kind_config::version::KindVersion;
    use std::path::Path;

    fn scenario(name: &str) -> Scenario {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}/scenario.yaml"));
        crate::scenario::load::load(&file, KindVersion::NEWEST_KNOWN)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn of(s: &Scenario, variant: &str) -> Claims {
        let v = s.variants.iter().find(|v| v.name == variant).unwrap();
        claims(s, v, |n| v.variables.get(n).cloned()).unwrap()
    }

    #[test]
    fn the_shipped_scenarios_claim_what_they_hold() {
        let n = scenario("nodeport-shared-selector");
        let bug = of(&n, "bug");
        assert_eq!(bug.keys(), ["nodePort 30001"]);
        // Every variant holding 30001 takes turns with the bug; the hostPort one does not.
        assert!(bug.conflict(&of(&n, "mitigated-local-policy")).is_some());
        assert!(
            bug.conflict(&of(&n, "mitigated-hostport")).is_none(),
            "{:?}",
            of(&n, "mitigated-hostport")
        );
        let d = scenario("headless-service-dns-race");
        assert!(of(&d, "bug").held.is_empty() && of(&d, "bug").alone.is_none());
        assert_eq!(
            of(&d, "bug-old-corefile-installed").alone.as_deref(),
            Some("changes ConfigMap kube-system/coredns, outside its namespace")
        );
        let k = scenario("kind-random-hostports");
        assert_eq!(
            of(&k, "mitigated-minus-one").alone.as_deref(),
            Some("restarts node control-plane")
        );
        assert!(of(&k, "bug").held.is_empty());
        let a = scenario("service-tcp-udp-nodeport-apply");
        let first = &a.variants[0].name;
        assert!(!of(&a, first).held.is_empty(), "{:?}", of(&a, first));
    }
}
