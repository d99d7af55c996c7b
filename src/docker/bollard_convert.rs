//! What bollard's answers mean in kindproof's terms: a container's inspect document as
//! [`ContainerInfo`] (its published ports read back), a network as [`NetworkInfo`], a 404 as
//! "not found", a label as a list filter.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use bollard::models::ContainerInspectResponse;

use super::api::{ContainerInfo, NetworkInfo, unix_seconds};
use super::error::DockerError;
use crate::ports::inspect::published;

pub(super) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

pub(super) fn label_filter(label: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![label.to_string()])])
}

pub(super) fn info_from_inspect(
    id: &str,
    inspect: ContainerInspectResponse,
) -> Result<ContainerInfo, DockerError> {
    let settings = inspect.network_settings.unwrap_or_default();
    let published = match &settings.ports {
        Some(ports) => published(ports).map_err(|e| DockerError::Ports {
            target: id.to_string(),
            detail: e.to_string(),
        })?,
        None => Vec::new(),
    };
    let parse = |s: Option<String>| {
        s.filter(|s| !s.is_empty())
            .and_then(|s| s.parse::<IpAddr>().ok())
    };
    let addresses = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| (name, (parse(ep.ip_address), parse(ep.global_ipv6_address))))
        .collect::<BTreeMap<_, _>>();
    Ok(ContainerInfo {
        id: inspect.id.unwrap_or_else(|| id.to_string()),
        name: inspect
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        running: inspect
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false),
        paused: inspect.state.and_then(|s| s.paused).unwrap_or(false),
        labels: inspect.config.and_then(|c| c.labels).unwrap_or_default(),
        published,
        addresses,
        created: inspect.created.as_deref().and_then(unix_seconds),
    })
}

pub(super) fn network_info(n: bollard::models::Network) -> NetworkInfo {
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        labels: n.labels.unwrap_or_default(),
        options: n.options.unwrap_or_default(),
        subnets: n
            .ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.subnet)
            .collect(),
        created: n.created.as_deref().and_then(unix_seconds),
    }
}
