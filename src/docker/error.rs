//! Errors of the Docker layer: one variant per failed operation, naming what it was about.

/// A Docker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "failed to connect to the Docker engine at {endpoint}: {source}\n  hint: start one with `make docker-up` (or `sudo dockerd &`), or point DOCKER_HOST at a running engine"
    )]
    Connect {
        /// Where: the socket or address tried.
        endpoint: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error(transparent)]
    Endpoint(crate::docker::endpoint::EndpointError),
    #[error("failed to {operation} {target}: {source}")]
    Operation {
        /// What was being done, e.g. "start container".
        operation: &'static str,
        /// What it was done to: a container name or id, a network, an image.
        target: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("failed to write the standard input of {target}: {source}")]
    Stdin {
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read the ports of container {target}: {detail}")]
    Ports { target: String, detail: String },
    #[error("failed to pack the root filesystem of image {image}: {source}")]
    Pack {
        image: String,
        #[source]
        source: std::io::Error,
    },
    /// What this engine (a test's stand-in) does not do.
    #[error("{0}")]
    Unsupported(String),
}

impl DockerError {
    pub fn op(
        operation: &'static str,
        target: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> Self {
        let target = target.into();
        move |source| Self::Operation {
            operation,
            target,
            source: Box::new(source),
        }
    }

    /// Docker's answer when a published host port is taken: the port, when the message names it.
    pub fn port_conflict(&self) -> Option<PortConflict> {
        let message = match self {
            Self::Operation { source, .. } => source.to_string(),
            _ => return None,
        };
        parse_port_conflict(&message)
    }
}

/// A host port someone else already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConflict {
    pub port: Option<u16>,
}

/// Recognise Docker's port-conflict messages:
/// `Bind for 127.0.0.1:32768 failed: port is already allocated` and
/// `Error starting userland proxy: listen tcp4 127.0.0.1:32768: bind: address already in use`.
pub fn parse_port_conflict(message: &str) -> Option<PortConflict> {
    if !(message.contains("port is already allocated")
        || message.contains("address already in use"))
    {
        return None;
    }
    let port = if let Some(rest) = message.split("Bind for ").nth(1) {
        rest.split(" failed").next().and_then(last_port)
    } else {
        [
            "listen tcp4 ",
            "listen tcp6 ",
            "listen udp4 ",
            "listen udp6 ",
            "listen tcp ",
            "listen udp ",
        ]
        .iter()
        .find_map(|p| message.split(p).nth(1))
        .and_then(|rest| rest.split(": bind").next())
        .and_then(last_port)
    };
    Some(PortConflict { port })
}

fn last_port(addr: &str) -> Option<u16> {
    addr.rsplit(':').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_conflict_messages() {
        assert_eq!(
            parse_port_conflict(
                "driver failed programming external connectivity on endpoint x (abc): Bind for 127.0.0.1:32768 failed: port is already allocated"
            ),
            Some(PortConflict { port: Some(32768) })
        );
        assert_eq!(
            parse_port_conflict(
                "driver failed programming external connectivity on endpoint x (abc): Error starting userland proxy: listen tcp4 127.0.0.1:40123: bind: address already in use"
            ),
            Some(PortConflict { port: Some(40123) })
        );
        assert_eq!(
            parse_port_conflict("Bind for [::]:8080 failed: port is already allocated"),
            Some(PortConflict { port: Some(8080) })
        );
        assert_eq!(
            parse_port_conflict("address already in use"),
            Some(PortConflict { port: None })
        );
        assert_eq!(parse_port_conflict("No such image: x"), None);
    }
}
