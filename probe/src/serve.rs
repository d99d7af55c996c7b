//! `serve`: answer with this probe's identity — one JSON line on a raw TCP connection (then
//! close), `GET /identity` over HTTP, and one JSON datagram back to every UDP datagram.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::identity::Identity;
use crate::out::emit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Http,
    Udp,
}

/// Serve every `(kind, address)` until the process is stopped.
pub async fn serve(
    endpoints: Vec<(Kind, SocketAddr)>,
    id: Identity,
    quiet: bool,
) -> Result<(), String> {
    let id = Arc::new(id);
    let mut tasks = tokio::task::JoinSet::new();
    for (kind, addr) in endpoints {
        let id = id.clone();
        match kind {
            Kind::Tcp | Kind::Http => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("failed to listen on tcp {addr}: {e}"))?;
                tasks.spawn(tcp_loop(listener, kind, id, quiet));
            }
            Kind::Udp => {
                let socket = UdpSocket::bind(addr)
                    .await
                    .map_err(|e| format!("failed to bind udp {addr}: {e}"))?;
                tasks.spawn(udp_loop(socket, id, quiet));
            }
        }
        emit(
            "listening",
            json!({"proto": format!("{kind:?}").to_lowercase(), "address": addr.to_string()}),
        );
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            return Err(e);
        }
    }
    Ok(())
}

/// Serve raw-TCP identity on an already bound std listener (used by `bind`).
pub async fn serve_listener(
    listener: std::net::TcpListener,
    id: Identity,
    quiet: bool,
) -> Result<(), String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("failed to use the bound socket: {e}"))?;
    let listener = TcpListener::from_std(listener)
        .map_err(|e| format!("failed to use the bound socket: {e}"))?;
    tcp_loop(listener, Kind::Tcp, Arc::new(id), quiet).await
}

async fn tcp_loop(
    listener: TcpListener,
    kind: Kind,
    id: Arc<Identity>,
    quiet: bool,
) -> Result<(), String> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            // Out of descriptors or a reset before accept: keep serving.
            Err(_) => continue,
        };
        let id = id.clone();
        tokio::spawn(async move {
            let ok = match kind {
                Kind::Http => http(stream, &id).await,
                _ => raw(stream, &id).await,
            };
            if !quiet {
                emit(
                    "served",
                    json!({"proto": if kind == Kind::Http {"http"} else {"tcp"}, "peer": peer.to_string(), "ok": ok.is_ok()}),
                );
            }
        });
    }
}

async fn raw(mut stream: TcpStream, id: &Identity) -> std::io::Result<()> {
    stream.write_all(id.json_line().as_bytes()).await?;
    stream.shutdown().await
}

async fn http(mut stream: TcpStream, id: &Identity) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    // Read the request head (bounded): only the request line matters.
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method == "GET" && (path == "/identity" || path == "/") {
        ("200 OK", id.json_line())
    } else {
        ("404 Not Found", "{\"error\":\"not found\"}\n".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

async fn udp_loop(socket: UdpSocket, id: Arc<Identity>, quiet: bool) -> Result<(), String> {
    let mut buf = [0u8; 2048];
    let line = id.json_line();
    loop {
        let (_, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(_) => continue,
        };
        let ok = socket.send_to(line.as_bytes(), peer).await.is_ok();
        if !quiet {
            emit(
                "served",
                json!({"proto": "udp", "peer": peer.to_string(), "ok": ok}),
            );
        }
    }
}
