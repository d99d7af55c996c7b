//! The real backend's background probes and faults: a probe streamed from a local process, a
//! container in a node's network namespace or an exec in a pod, its lines passed on as they
//! come; a node cut off kind's Docker network and put back with its addresses; netem and the
//! kubelet changed by an exec in the node. Each is held in `Live` while in force, so that the
//! run's cleanup stack ends it if the variant cannot ([`restore`]).

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::backend::{BackendError, NodeFault, Ran, StreamHandle, Streaming};
use super::cleanup::Restore;
use super::cluster_backend::ClusterBackend;
use crate::cluster::provider::Node;
use crate::docker::api::Engine;
use crate::docker::error::DockerError;

/// Lines in flight between a probe and its reader.
const BUFFERED: usize = 4096;

/// Put `container` back on `network` with the addresses it had. Docker takes given addresses
/// only on a subnet the network's creator configured (kind configures its IPv6 one, not the
/// IPv4 one): then it is asked without them, and gives the lowest free address, which is the
/// old one unless another container took it meanwhile.
pub async fn reconnect<E: Engine>(
    engine: &E,
    network: &str,
    container: &str,
    ipv4: Option<&str>,
    ipv6: Option<&str>,
) -> Result<(), DockerError> {
    match engine.connect_network(network, container, ipv4, ipv6).await {
        Err(e) if e.to_string().contains("user configured subnets") => {
            engine.connect_network(network, container, None, None).await
        }
        other => other,
    }
}

/// Undo a fault from outside its variant.
pub async fn restore<E: Engine>(engine: &E, r: &Restore) -> Result<(), DockerError> {
    match r {
        Restore::Reconnect {
            network,
            container,
            ipv4,
            ipv6,
        } => reconnect(engine, network, container, ipv4.as_deref(), ipv6.as_deref()).await,
        Restore::Exec { container, command } => {
            engine.exec(container, command, None).await.map(|_| ())
        }
    }
}

/// `tc qdisc replace dev DEV root netem …`: delay (with jitter) and loss.
pub fn netem_command(dev: &str, delay: Duration, jitter: Duration, loss: f64) -> Vec<String> {
    let mut c: Vec<String> = ["tc", "qdisc", "replace", "dev", dev, "root", "netem"]
        .map(String::from)
        .to_vec();
    if !delay.is_zero() {
        c.extend(["delay".into(), format!("{}ms", delay.as_millis())]);
        if !jitter.is_zero() {
            c.push(format!("{}ms", jitter.as_millis()));
        }
    }
    if loss > 0.0 {
        c.extend(["loss".into(), format!("{loss}%")]);
    }
    c
}

/// The interface in `ip -o -4 addr show to IP`'s output: `2: eth0    inet …` → `eth0`.
pub fn interface_of(ip_output: &str) -> Option<String> {
    let line = ip_output.lines().find(|l| l.contains(" inet"))?;
    let name = line.split_whitespace().nth(1)?;
    Some(name.split('@').next().unwrap_or(name).to_string())
}

/// Pass `from`'s lines to `tx` until it ends or nobody reads.
async fn pass_lines(from: impl AsyncRead + Unpin, tx: mpsc::Sender<String>) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        if tx.send(l).await.is_err() {
            break;
        }
    }
}

/// Output in chunks, passed on line by line.
#[derive(Default)]
struct Lines(Vec<u8>);

impl Lines {
    /// Pass the whole lines `chunk` completes; false once nobody reads.
    async fn pass(&mut self, chunk: &[u8], tx: &mpsc::Sender<String>) -> bool {
        self.0.extend_from_slice(chunk);
        while let Some(end) = self.0.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.0.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if tx.send(text).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Pass what is left of a last line without its newline.
    async fn finish(self, tx: &mpsc::Sender<String>) {
        if !self.0.is_empty() {
            let _ = tx.send(String::from_utf8_lossy(&self.0).into_owned()).await;
        }
    }
}

static EXECS: AtomicU64 = AtomicU64::new(1);

impl<E: Engine> ClusterBackend<'_, E> {
    fn node_container(node: &Node) -> Result<&str, BackendError> {
        node.container.as_deref().ok_or_else(|| {
            BackendError::Unsupported(format!(
                "node {} has no container: faults need kind",
                node.name
            ))
        })
    }

    pub(super) async fn stream_probe(
        &self,
        site: &super::backend::ProbeSite,
        args: &[String],
        ns: &str,
    ) -> Result<Streaming, BackendError> {
        use super::backend::ProbeSite;
        let (tx, rx) = mpsc::channel(BUFFERED);
        let handle = match site {
            ProbeSite::Host => {
                let mut child = tokio::process::Command::new(&self.probe_bin)
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| {
                        BackendError::Local(format!(
                            "failed to run {}: {e}",
                            self.probe_bin.display()
                        ))
                    })?;
                let pid = child.id().unwrap_or(0);
                self.live.add_pid(pid);
                let (out, err) = (child.stdout.take(), child.stderr.take());
                let live = self.live.clone();
                tokio::spawn(async move {
                    let both = async {
                        tokio::join!(
                            async {
                                if let Some(o) = out {
                                    pass_lines(o, tx.clone()).await;
                                }
                            },
                            async {
                                if let Some(e) = err {
                                    pass_lines(e, tx.clone()).await;
                                }
                            }
                        )
                    };
                    both.await;
                    let _ = child.wait().await;
                    live.remove_pid(pid);
                });
                StreamHandle::Process(pid)
            }
            ProbeSite::Node(node) => {
                let spec = self.probe_container(node, args)?;
                let id = self
                    .engine
                    .create_container(&spec)
                    .await
                    .map_err(BackendError::from)?;
                self.live.add(&id);
                if let Err(e) = self.engine.start_container(&id).await {
                    if self.engine.remove_container(&id).await.is_ok() {
                        self.live.remove(&id);
                    }
                    return Err(e.into());
                }
                let mut chunks = self.engine.follow_stdout(&id);
                tokio::spawn(async move {
                    let mut lines = Lines::default();
                    while let Some(Ok(chunk)) = chunks.next().await {
                        if !lines.pass(&chunk, &tx).await {
                            return;
                        }
                    }
                    lines.finish(&tx).await;
                });
                StreamHandle::Container(id)
            }
            ProbeSite::Pod(pod) => {
                let kube = self.kube.clone().ok_or_else(|| {
                    BackendError::Unsupported("this run has no connection to an API server".into())
                })?;
                let mut command = vec!["/kindproof-probe".to_string()];
                command.extend(args.iter().cloned());
                let (ns, pod) = (ns.to_string(), pod.clone());
                let n = EXECS.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(async move {
                    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
                    let exec =
                        crate::kube_ops::pods::exec_streaming(&kube, &ns, &pod, &command, out_tx);
                    let pass = async {
                        let mut lines = Lines::default();
                        while let Some(chunk) = out_rx.recv().await {
                            if !lines.pass(&chunk, &tx).await {
                                return;
                            }
                        }
                        lines.finish(&tx).await;
                    };
                    let (done, ()) = tokio::join!(exec, pass);
                    if let Err(e) = done {
                        let _ = tx.send(format!("exec failed: {e}")).await;
                    }
                });
                self.live.add_exec(n, task.abort_handle());
                StreamHandle::Exec(n)
            }
        };
        Ok(Streaming { lines: rx, handle })
    }

    pub(super) async fn stop_stream(&self, h: &StreamHandle) -> Result<(), BackendError> {
        match h {
            StreamHandle::Process(pid) => {
                if self.live.has_pid(*pid) {
                    // SAFETY: `kill` on a pid of our own child that has not been reaped yet
                    // (the reader removes it from `live` after `wait`).
                    unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
                }
                Ok(())
            }
            StreamHandle::Container(id) => {
                self.engine.remove_container(id).await?;
                self.live.remove(id);
                Ok(())
            }
            StreamHandle::Exec(n) => {
                self.live.end_exec(*n);
                Ok(())
            }
            StreamHandle::Fake(_) => Ok(()),
        }
    }

    pub(super) async fn cut_off(&self, node: &Node) -> Result<(), BackendError> {
        let c = Self::node_container(node)?;
        self.live.hold(
            &format!("network {c}"),
            Restore::Reconnect {
                network: self.network.clone(),
                container: c.to_string(),
                ipv4: node.ipv4.map(|i| i.to_string()),
                ipv6: node.ipv6.map(|i| i.to_string()),
            },
        );
        if let Err(e) = self.engine.disconnect_network(&self.network, c).await {
            self.live.undone(&format!("network {c}"));
            return Err(e.into());
        }
        Ok(())
    }

    pub(super) async fn put_back(&self, node: &Node) -> Result<Node, BackendError> {
        let c = Self::node_container(node)?;
        let (v4, v6) = (
            node.ipv4.map(|i| i.to_string()),
            node.ipv6.map(|i| i.to_string()),
        );
        reconnect(self.engine, &self.network, c, v4.as_deref(), v6.as_deref()).await?;
        self.live.undone(&format!("network {c}"));
        Ok(crate::cluster::provider::reread(self.engine, node, &self.network).await?)
    }

    async fn run_in(&self, c: &str, cmd: &[String]) -> Result<Ran, BackendError> {
        let out = self.engine.exec(c, cmd, None).await?;
        Ok(Ran {
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// The interface to shape: the one given, else the one holding the node's address.
    async fn interface(&self, node: &Node, given: &Option<String>) -> Result<String, BackendError> {
        if let Some(i) = given {
            return Ok(i.clone());
        }
        let c = Self::node_container(node)?;
        let ip = node.ipv4.ok_or_else(|| {
            BackendError::Unsupported(format!(
                "node {} has no IPv4 address to find its interface by",
                node.name
            ))
        })?;
        let cmd = ["ip", "-o", "-4", "addr", "show", "to", &ip.to_string()].map(String::from);
        let ran = self.run_in(c, &cmd).await?;
        interface_of(&ran.stdout).ok_or_else(|| {
            BackendError::Unsupported(format!(
                "no interface of node {} holds {ip} (`ip` said: {}{})",
                node.name,
                ran.stdout.trim(),
                ran.stderr.trim()
            ))
        })
    }

    pub(super) async fn in_node(
        &self,
        node: &Node,
        fault: &NodeFault,
    ) -> Result<Ran, BackendError> {
        let c = Self::node_container(node)?;
        let (cmd, key, restore) = match fault {
            NodeFault::Netem {
                delay,
                jitter,
                loss,
                interface,
            } => {
                let dev = self.interface(node, interface).await?;
                let undo = ["tc", "qdisc", "del", "dev", &dev, "root"]
                    .map(String::from)
                    .to_vec();
                (
                    netem_command(&dev, *delay, *jitter, *loss),
                    format!("netem {c}"),
                    Some(undo),
                )
            }
            NodeFault::NetemClear { interface } => {
                let dev = self.interface(node, interface).await?;
                let cmd = ["tc", "qdisc", "del", "dev", &dev, "root"]
                    .map(String::from)
                    .to_vec();
                let ran = self.run_in(c, &cmd).await?;
                // Nothing to clear is cleared.
                if ran.exit_code != 0 && !ran.stderr.contains("handle of zero") {
                    return Err(failed(node, &cmd, &ran));
                }
                self.live.undone(&format!("netem {c}"));
                return Ok(ran);
            }
            NodeFault::StopKubelet => (
                ["systemctl", "stop", "kubelet"].map(String::from).to_vec(),
                format!("kubelet {c}"),
                Some(["systemctl", "start", "kubelet"].map(String::from).to_vec()),
            ),
            NodeFault::StartKubelet => (
                ["systemctl", "start", "kubelet"].map(String::from).to_vec(),
                format!("kubelet {c}"),
                None,
            ),
        };
        if let Some(undo) = &restore {
            self.live.hold(
                &key,
                Restore::Exec {
                    container: c.to_string(),
                    command: undo.clone(),
                },
            );
        }
        let ran = self.run_in(c, &cmd).await?;
        if ran.exit_code != 0 {
            if restore.is_some() {
                self.live.undone(&key);
            }
            return Err(failed(node, &cmd, &ran));
        }
        if restore.is_none() {
            self.live.undone(&key);
        }
        Ok(ran)
    }
}

/// A fault's command that failed: the node cannot do it (no tc, no sch_netem, no systemd).
fn failed(node: &Node, cmd: &[String], ran: &Ran) -> BackendError {
    BackendError::Unsupported(format!(
        "`{}` in node {} exited {}: {}",
        cmd.join(" "),
        node.name,
        ran.exit_code,
        format!("{}{}", ran.stderr, ran.stdout).trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_commands_and_interfaces() {
        let ms = Duration::from_millis;
        assert_eq!(
            netem_command("eth0", ms(200), ms(20), 5.0).join(" "),
            "tc qdisc replace dev eth0 root netem delay 200ms 20ms loss 5%"
        );
        assert_eq!(
            netem_command("eth1", Duration::ZERO, Duration::ZERO, 0.5).join(" "),
            "tc qdisc replace dev eth1 root netem loss 0.5%"
        );
        assert_eq!(
            interface_of(
                "17: eth0@if18    inet 172.18.0.3/16 brd 172.18.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
            ),
            Some("eth0".into())
        );
        assert_eq!(interface_of(""), None);
    }
}
