//! `make bench` (ports): how fast kindproof resolves random host ports with its cross-process
//! reservation, and how many collisions parallel jobs get, against two pick-then-release
//! baselines measured in the same run: portpicker (random port, checked free, released) and
//! kind's own `GetFreePort` (bind port 0, read it, close).
//!
//! Collisions: 32 worker processes (this binary re-executed) each resolve 8 ports and keep
//! them — kindproof holds its reservations, the baselines hold nothing, as in real use — until
//! every worker has answered. A collision is a port handed to more than one worker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use kindproof::kind_config::load::load_str;
use kindproof::kind_config::version::KindVersion;
use kindproof::ports::plan::{PlannedMapping, plan};
use kindproof::ports::reserve::ReservationDir;
use kindproof::ports::resolve::Resolver;

const PORTS: usize = 8;
const PROCESSES: usize = 32;
const ROUNDS: usize = 5;
const SEQUENTIAL: usize = 300;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Strategy {
    Kindproof,
    Portpicker,
    KindGetFreePort,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Self::Kindproof => "kindproof",
            Self::Portpicker => "portpicker",
            Self::KindGetFreePort => "kind-getfreeport",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "kindproof" => Self::Kindproof,
            "portpicker" => Self::Portpicker,
            _ => Self::KindGetFreePort,
        }
    }
}

fn config() -> String {
    let mut body = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n",
    );
    for i in 0..PORTS {
        body.push_str(&format!(
            "  - containerPort: {}\n    listenAddress: 127.0.0.1\n",
            8000 + i
        ));
    }
    body
}

/// Resolve 8 ports once; the returned guard holds what the strategy holds.
fn resolve_once(strategy: Strategy, dir: &Path) -> (Vec<u16>, Option<Box<dyn std::any::Any>>) {
    match strategy {
        Strategy::Kindproof => {
            // The config is parsed once: only resolution is measured.
            static PLAN: OnceLock<Vec<PlannedMapping>> = OnceLock::new();
            let planned = PLAN.get_or_init(|| {
                let cluster = load_str(Path::new("bench.yaml"), &config()).unwrap();
                plan(&cluster, KindVersion::NEWEST_KNOWN.rules())
            });
            let mut r = Resolver::new(ReservationDir::at(dir.to_path_buf()).unwrap());
            let mut res = r.resolve(planned).unwrap();
            res.release_sockets();
            let ports = res.mappings.iter().map(|m| m.host_port.unwrap()).collect();
            (ports, Some(Box::new(res)))
        }
        Strategy::Portpicker => (
            (0..PORTS)
                .map(|_| portpicker::pick_unused_port().expect("a free port"))
                .collect(),
            None,
        ),
        Strategy::KindGetFreePort => (
            (0..PORTS)
                .map(|_| {
                    let l = TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap();
                    l.local_addr().unwrap().port()
                })
                .collect(),
            None,
        ),
    }
}

fn worker(strategy: Strategy, dir: &Path) {
    let (ports, guard) = resolve_once(strategy, dir);
    let line: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line.join(" ")).unwrap();
    out.flush().unwrap();
    drop(out);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(guard);
}

/// One round: PROCESSES workers at once; returns (ports handed out twice or more, seconds until
/// every worker answered).
fn round(strategy: Strategy, dir: &Path) -> (usize, f64) {
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", strategy.name()])
                .arg(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut count: HashMap<u16, usize> = HashMap::new();
    for c in &mut children {
        let mut line = String::new();
        BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        for p in line.split_whitespace() {
            *count.entry(p.parse().unwrap()).or_default() += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    for mut c in children {
        drop(c.stdin.take());
        c.wait().unwrap();
    }
    let collisions = count.values().filter(|&&n| n > 1).map(|n| n - 1).sum();
    (collisions, elapsed)
}

fn sequential_rate(strategy: Strategy, dir: &Path) -> f64 {
    let start = Instant::now();
    for _ in 0..SEQUENTIAL {
        let (ports, guard) = resolve_once(strategy, dir);
        assert_eq!(ports.len(), PORTS);
        drop(guard);
    }
    (SEQUENTIAL * PORTS) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        worker(Strategy::parse(&args[i + 1]), Path::new(&args[i + 2]));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ports");
    let strategies = [
        Strategy::Kindproof,
        Strategy::Portpicker,
        Strategy::KindGetFreePort,
    ];
    println!(
        "ports bench: {PORTS} random ports per resolution; {SEQUENTIAL} sequential resolutions; {ROUNDS} rounds of {PROCESSES} concurrent processes"
    );
    let mut rates = HashMap::new();
    let mut collisions = HashMap::new();
    for s in strategies {
        let rate = sequential_rate(s, &dir);
        let mut total = 0;
        let mut seconds = 0.0;
        for _ in 0..ROUNDS {
            let (c, t) = round(s, &dir);
            total += c;
            seconds += t;
        }
        let concurrent_rate = (ROUNDS * PROCESSES * PORTS) as f64 / seconds;
        println!(
            "{:<17} {:>9.0} ports/s in-process   {:>7.0} ports/s across {PROCESSES} processes   {:>3} collisions in {} ports",
            s.name(),
            rate,
            concurrent_rate,
            total,
            ROUNDS * PROCESSES * PORTS
        );
        rates.insert(s, rate);
        collisions.insert(s, total);
    }
    for base in [Strategy::Portpicker, Strategy::KindGetFreePort] {
        println!(
            "ratio kindproof/{}: speed {:.2}x, collisions {} vs {}",
            base.name(),
            rates[&Strategy::Kindproof] / rates[&base],
            collisions[&Strategy::Kindproof],
            collisions[&base]
        );
    }
    assert_eq!(
        collisions[&Strategy::Kindproof],
        0,
        "kindproof handed a port to two processes"
    );
}
