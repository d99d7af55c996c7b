//! The diagnostics bundle of a variant that did not pass, written before its namespace goes:
//! the report, the probe results and the resolved ports; when there is an API server, the
//! namespace's events, pods as stored with their logs (current and previous), EndpointSlices,
//! Services and the CoreDNS Corefile; from each node (kind), `iptables-save` and
//! `conntrack -L`; every background probe's timeline (`timeline-<id>.jsonl`); and the run's
//! log lines (`kindproof.log`). Every piece that cannot be had is noted in its file, never fatal.

use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::backend::Backend;
use super::outcome::VariantReport;
use super::report::variant_text;
use crate::cluster::provider::Node;
use crate::kube_ops::client::Kube;
use crate::kube_ops::manifest::object_ref;

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, text);
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Write the bundle of `report` under `root/<scenario>/<variant>/`; its path.
pub async fn collect<B: Backend>(
    root: &Path,
    report: &VariantReport,
    backend: &B,
    kube: Option<&Kube>,
    nodes: &[Node],
) -> PathBuf {
    let dir = root.join(&report.scenario).join(&report.variant);
    write(&dir.join("report.txt"), &variant_text(report, true));
    write(&dir.join("probes.json"), &json(&report.probes));
    // Every attempt of every background probe, one JSON line each.
    for (id, t) in &report.timelines {
        let mut lines = Vec::new();
        let _ = t.write_jsonl(&mut lines);
        write(
            &dir.join(format!("timeline-{id}.jsonl")),
            &String::from_utf8_lossy(&lines),
        );
    }
    write(&dir.join("ports.json"), &json(&nodes));
    // The run's log lines so far, libraries' included (they never reach the terminal).
    write(&dir.join("kindproof.log"), &crate::logs::kept_text());
    let ns = report.namespace.as_str();
    if let Some(kube) = kube {
        match backend.events(ns).await {
            Ok(e) => write(&dir.join("events.json"), &json(&e)),
            Err(e) => write(&dir.join("events.json.error"), &e.to_string()),
        }
        match backend.pods(ns, "").await {
            Ok(pods) => {
                write(&dir.join("pods.json"), &json(&pods));
                for pod in &pods {
                    let name = pod["metadata"]["name"].as_str().unwrap_or("?");
                    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
                        let cname = c["name"].as_str().unwrap_or("?");
                        for (previous, suffix) in [(false, "log"), (true, "previous.log")] {
                            let text = backend
                                .logs(ns, name, Some(cname), previous)
                                .await
                                .unwrap_or_else(|e| format!("(not available: {e})\n"));
                            write(&dir.join(format!("logs/{name}.{cname}.{suffix}")), &text);
                        }
                    }
                }
            }
            Err(e) => write(&dir.join("pods.json.error"), &e.to_string()),
        }
        let dynamic = |api_version: &str, kind: &str| {
            kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
                api_version.split_once('/').map_or("", |(g, _)| g),
                api_version.rsplit('/').next().unwrap_or(api_version),
                kind,
            ))
        };
        for (file, api_version, kind) in [
            ("services.json", "v1", "Service"),
            (
                "endpointslices.json",
                "discovery.k8s.io/v1",
                "EndpointSlice",
            ),
        ] {
            let ar = dynamic(api_version, kind);
            let api: Api<DynamicObject> = Api::namespaced_with(kube.client.clone(), ns, &ar);
            match api.list(&ListParams::default()).await {
                Ok(list) => write(&dir.join(file), &json(&list.items)),
                Err(e) => write(&dir.join(format!("{file}.error")), &e.to_string()),
            }
        }
        let corefile = object_ref("v1", "ConfigMap", "coredns", Some("kube-system".into()));
        let text = match backend.get(&corefile, "kube-system").await {
            Ok(Some(cm)) => cm
                .pointer("/data/Corefile")
                .and_then(Value::as_str)
                .unwrap_or("(no Corefile key)")
                .to_string(),
            Ok(None) => "(no coredns ConfigMap)".into(),
            Err(e) => format!("(not available: {e})"),
        };
        write(&dir.join("coredns-Corefile"), &text);
    }
    for node in nodes.iter().filter(|n| n.container.is_some()) {
        for (file, command) in [
            ("iptables-save.txt", vec!["iptables-save".to_string()]),
            ("conntrack.txt", vec!["conntrack".into(), "-L".into()]),
        ] {
            let text = match backend.exec_node(node, &command).await {
                Ok(r) => format!(
                    "# {} (exit {})\n{}{}",
                    command.join(" "),
                    r.exit_code,
                    r.stdout,
                    r.stderr
                ),
                Err(e) => format!("# {}: not available: {e}\n", command.join(" ")),
            };
            write(&dir.join("nodes").join(&node.name).join(file), &text);
        }
    }
    dir
}
