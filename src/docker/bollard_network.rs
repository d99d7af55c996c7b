//! The real engine's calls for faults, background probes and pulls by choice, through
//! bollard: a container taken off and put back on a network (with its addresses), a
//! container's stdout followed as it is written, and an image pulled (`--pull` only).

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::EndpointSettings;
use bollard::query_parameters::LogsOptions;
use bytes::Bytes;
use futures_util::TryStreamExt;

use super::error::DockerError;

pub async fn disconnect(
    docker: &Docker,
    network: &str,
    container: &str,
) -> Result<(), DockerError> {
    let request = bollard::models::NetworkDisconnectRequest {
        container: container.to_string(),
        force: Some(true),
    };
    docker
        .disconnect_network(network, request)
        .await
        .map_err(DockerError::op(
            "disconnect from its network container",
            container,
        ))
}

pub async fn connect(
    docker: &Docker,
    network: &str,
    container: &str,
    ipv4: Option<&str>,
    ipv6: Option<&str>,
) -> Result<(), DockerError> {
    let ipam = (ipv4.is_some() || ipv6.is_some()).then(|| bollard::models::EndpointIpamConfig {
        ipv4_address: ipv4.map(str::to_string),
        ipv6_address: ipv6.map(str::to_string),
        ..Default::default()
    });
    let request = bollard::models::NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: ipam,
            ..Default::default()
        }),
    };
    docker
        .connect_network(network, request)
        .await
        .map_err(DockerError::op(
            "connect to its network container",
            container,
        ))
}

pub fn follow_stdout(
    docker: &Docker,
    id: &str,
) -> futures_util::stream::BoxStream<'static, Result<Bytes, DockerError>> {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: false,
        ..Default::default()
    };
    let target = id.to_string();
    Box::pin(
        docker
            .logs(id, Some(options))
            .map_ok(LogOutput::into_bytes)
            .map_err(move |e| DockerError::op("follow the output of container", target.clone())(e)),
    )
}

/// `docker pull IMAGE` (a bare name means its `latest` tag), to its end.
pub async fn pull(docker: &Docker, image: &str) -> Result<(), DockerError> {
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(image.to_string()),
        ..Default::default()
    };
    docker
        .create_image(Some(options), None, None)
        .try_for_each(|_| async { Ok(()) })
        .await
        .map_err(DockerError::op("pull image", image))
}
