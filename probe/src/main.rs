//! `kindproof-probe`: the program kindproof runs inside clusters and test containers. It tells
//! the truth in JSON lines on stdout: which pod answered, when a name first resolved, why a bind
//! failed. Statically linked, so its image is `FROM scratch` and needs no registry.

mod args;
mod bind;
mod connect;
mod dns;
mod identity;
mod out;
mod serve;
mod signals;
mod stream;

use std::net::SocketAddr;
use std::time::Duration;

use args::Flags;
use identity::Identity;

const USAGE: &str = "usage: kindproof-probe MODE [flags]
  serve   [--tcp PORT]... [--http PORT]... [--udp PORT]... [--address IP] [--quiet]
          [--drain DURATION]  (on SIGTERM keep serving for DURATION, then exit 0)
  bind    --address HOST:PORT [--quiet] [--check]  (--check: report and exit, do not serve)
  dns     --name NAME [--once | --until-resolved [--deadline 120s] | --for DURATION]
          [--interval 20ms] [--timeout 2s] [--type A|AAAA]
  connect --target HOST:PORT [--target ...] --count N [--concurrency C] [--timeout 2s]
          [--proto tcp|http]   (HOST: an IP, or a name resolved where the probe runs)
  connect --target HOST:PORT [--target ...] --interval 50ms (--for DURATION | --until-signal)
          [--timeout 2s] [--proto tcp|http]   (streams one JSON line per attempt)
  version
Exit codes: 0 done, 1 the probed thing failed (bind failed, name never resolved), 2 usage.
SIGTERM, SIGINT, SIGHUP: exit at once (0 for serve and a serving bind, else 128 + signal);
serve --drain D: SIGTERM starts D of serving on, then exit 0 (SIGINT and SIGHUP: at once).";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // A server told to stop has done its job; anything else was cut short.
    let serving = matches!(argv.first().map(String::as_str), Some("serve" | "bind"));
    signals::exit_on_termination(serving.then_some(0));
    let code = match run(&argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kindproof-probe: {e}\n{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the runtime: {e}"))
}

fn run(argv: &[String]) -> Result<i32, String> {
    let Some((mode, rest)) = argv.split_first() else {
        return Err("no mode given".into());
    };
    match mode.as_str() {
        "serve" => {
            let f = Flags::parse(rest, &["quiet"])?;
            f.only(&["tcp", "http", "udp", "address", "quiet", "drain"])?;
            let drain = f.duration("drain", Duration::ZERO)?;
            if !drain.is_zero() {
                signals::drain_on_sigterm(drain);
            }
            let ip: std::net::IpAddr = f.parsed("address", std::net::IpAddr::from([0, 0, 0, 0]))?;
            let mut endpoints = Vec::new();
            for (flag, kind) in [
                ("tcp", serve::Kind::Tcp),
                ("http", serve::Kind::Http),
                ("udp", serve::Kind::Udp),
            ] {
                for p in f.all(flag) {
                    let port: u16 = p
                        .parse()
                        .map_err(|_| format!("bad port for --{flag}: {p:?}"))?;
                    endpoints.push((kind, SocketAddr::new(ip, port)));
                }
            }
            if endpoints.is_empty() {
                return Err("serve needs at least one --tcp, --http or --udp port".into());
            }
            runtime()?.block_on(serve::serve(
                endpoints,
                Identity::from_env(),
                f.has("quiet"),
            ))?;
            Ok(0)
        }
        "bind" => {
            let f = Flags::parse(rest, &["quiet", "check"])?;
            f.only(&["address", "quiet", "check"])?;
            let text = f.one("address").ok_or("bind needs --address HOST:PORT")?;
            let addr: SocketAddr = text
                .parse()
                .map_err(|_| format!("--address must be IP:PORT, got {text:?}"))?;
            match bind::flower_bind(addr) {
                bind::Bound::Failed { errno } => {
                    bind::report_failure(&text, errno);
                    Ok(1)
                }
                bind::Bound::Listening(_) if f.has("check") => {
                    bind::report_listening(&text);
                    Ok(0)
                }
                bind::Bound::Listening(listener) => {
                    bind::report_listening(&text);
                    runtime()?.block_on(serve::serve_listener(
                        listener,
                        Identity::from_env(),
                        f.has("quiet"),
                    ))?;
                    Ok(0)
                }
            }
        }
        "dns" => {
            let f = Flags::parse(rest, &["once", "until-resolved"])?;
            f.only(&[
                "name",
                "once",
                "until-resolved",
                "deadline",
                "for",
                "interval",
                "timeout",
                "type",
            ])?;
            let name = f.one("name").ok_or("dns needs --name NAME")?;
            let until = if f.has("once") {
                dns::Until::Once
            } else if let Some(d) = f.one("for") {
                dns::Until::For(args::duration(&d)?)
            } else {
                dns::Until::Resolved {
                    deadline: f.duration("deadline", Duration::from_secs(120))?,
                }
            };
            let rtype = match f.one("type").as_deref() {
                None | Some("A") => hickory_resolver::proto::rr::RecordType::A,
                Some("AAAA") => hickory_resolver::proto::rr::RecordType::AAAA,
                Some(t) => return Err(format!("--type must be A or AAAA, got {t:?}")),
            };
            let interval = f.duration("interval", Duration::from_millis(20))?;
            let timeout = f.duration("timeout", Duration::from_secs(2))?;
            let resolved = runtime()?.block_on(dns::run(&name, rtype, until, interval, timeout))?;
            Ok(if resolved || matches!(until, dns::Until::For(_)) {
                0
            } else {
                1
            })
        }
        "connect" => {
            let f = Flags::parse(rest, &["until-signal"])?;
            f.only(&[
                "target",
                "count",
                "concurrency",
                "timeout",
                "proto",
                "interval",
                "for",
                "until-signal",
            ])?;
            let targets = f
                .all("target")
                .iter()
                .map(|t| connect::Target::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            if targets.is_empty() {
                return Err("connect needs at least one --target".into());
            }
            let proto = match f.one("proto").as_deref() {
                None | Some("tcp") => connect::Proto::Tcp,
                Some("http") => connect::Proto::Http,
                Some(p) => return Err(format!("--proto must be tcp or http, got {p:?}")),
            };
            let timeout = f.duration("timeout", Duration::from_secs(2))?;
            if let Some(interval) = f.one("interval") {
                let interval = args::duration(&interval)?;
                if interval.is_zero() {
                    return Err("--interval must be more than 0".into());
                }
                let until = match (f.one("for"), f.has("until-signal")) {
                    (Some(d), false) => Some(args::duration(&d)?),
                    (None, true) => None,
                    _ => {
                        return Err(
                            "--interval needs exactly one of --for DURATION and --until-signal"
                                .into(),
                        );
                    }
                };
                if f.one("count").is_some() || f.one("concurrency").is_some() {
                    return Err("--count and --concurrency do not go with --interval".into());
                }
                runtime()?.block_on(stream::run(&targets, interval, until, timeout, proto));
                return Ok(0);
            }
            if f.one("for").is_some() || f.has("until-signal") {
                return Err("--for and --until-signal need --interval".into());
            }
            let count: u64 = f.parsed("count", 0)?;
            if count == 0 {
                return Err("connect needs --count N (N ≥ 1)".into());
            }
            let concurrency: usize = f.parsed("concurrency", 16)?;
            runtime()?.block_on(connect::run(&targets, count, concurrency, timeout, proto));
            Ok(0)
        }
        "version" => {
            println!("kindproof-probe {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        other => Err(format!("unknown mode {other:?}")),
    }
}
