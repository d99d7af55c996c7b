//! `kindproof ports`: resolve a kind config's host ports, print them (table or JSON), optionally
//! write the resolved config, optionally hold the reservations until stdin closes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::validate;
use crate::exit::AppError;
use crate::kind_cli::rules_version;
use crate::kind_config::check::{ConfigCheck, Verdict};
use crate::kind_config::load::{LoadedConfig, load_file};
use crate::kind_config::version::KindVersion;
use crate::ports::plan::{How, plan};
use crate::ports::reserve::ReservationDir;
use crate::ports::resolve::{ResolvedMapping, Resolver};
use crate::signals::Signals;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Output<'a> {
    file: String,
    kind_version: String,
    reservations: String,
    mappings: &'a [ResolvedMapping],
}

pub struct Args {
    pub file: PathBuf,
    pub kind_version: Option<KindVersion>,
    pub json: bool,
    pub write: Option<PathBuf>,
    pub hold: bool,
}

pub async fn run(args: Args) -> Result<(), AppError> {
    // With --hold, the signal handlers must exist before the ports are printed: a caller may
    // send SIGTERM as soon as it has read them.
    let hold = if args.hold {
        Some(Hold::listen()?)
    } else {
        None
    };
    if let Some(out) = &args.write {
        // Before any port is reserved.
        crate::output::check_file(out, "--write").map_err(AppError::InvalidInput)?;
    }
    let (version, _) = rules_version(args.kind_version)?;
    let loaded = usable_config(&args.file, version)?;
    let dir = ReservationDir::default_location()
        .map_err(AppError::io("create the port reservation directory"))?;
    let planned = plan(&loaded.cluster, version.rules());
    let mut resolver = Resolver::new(dir.clone());
    let mut resolution = resolver.resolve(&planned)?;

    if let Some(out) = &args.write {
        write_config(out, &resolution.apply_to(&loaded.cluster))?;
    }
    // Only the reservations keep the ports from here on: a script will hand them to kind.
    resolution.release_sockets();

    let text = if args.json {
        let out = Output {
            file: args.file.display().to_string(),
            kind_version: version.to_string(),
            reservations: dir.path().display().to_string(),
            mappings: &resolution.mappings,
        };
        serde_json::to_string(&out).expect("port output serializes") + "\n"
    } else {
        table(
            &args.file,
            version,
            &resolution.mappings,
            args.write.as_deref(),
        )
    };
    crate::out!("{text}");

    if let Some(hold) = hold {
        hold.until_stdin_closes().await?;
    }
    drop(resolution);
    Ok(())
}

fn table(
    file: &Path,
    version: KindVersion,
    mappings: &[ResolvedMapping],
    written: Option<&Path>,
) -> String {
    let mut rows = vec![[
        "NODE".to_string(),
        "CONTAINER".to_string(),
        "LISTEN".to_string(),
        "REQUESTED".to_string(),
        "HOST PORT".to_string(),
        "HOW".to_string(),
    ]];
    let mut notes = Vec::new();
    for m in mappings {
        let p = &m.planned;
        rows.push([
            format!("{} ({})", p.node, p.role),
            format!("{}/{}", p.container_port, p.protocol),
            p.listen_address.to_string(),
            p.requested
                .map(|r| r.to_string())
                .unwrap_or_else(|| "unset".into()),
            m.host_port
                .map(|h| h.to_string())
                .unwrap_or_else(|| "-".into()),
            match p.how {
                How::Runtime => "runtime (Docker picks at create; read back then)".to_string(),
                how => how.to_string(),
            },
        ]);
        if let Some(n) = &p.note {
            notes.push(format!(
                "note: node {} {}/{}: {n}",
                p.node, p.container_port, p.protocol
            ));
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!("{} (kind {version} rules)\n", file.display());
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for n in notes {
        out.push_str(&n);
        out.push('\n');
    }
    if let Some(w) = written {
        out.push_str(&format!("wrote the resolved config to {}\n", w.display()));
    }
    out
}

/// The resolved config, written atomically (see [`crate::output::write_file`]).
fn write_config(out: &Path, cluster: &crate::kind_config::model::Cluster) -> Result<(), AppError> {
    let yaml = serde_saphyr::to_string(cluster).expect("a loaded config serializes");
    let text = format!(
        "# Written by kindproof ports: host ports resolved (hostPort 0/unset picked and reserved).\n{yaml}"
    );
    crate::output::write_file(out, &text, "--write")
}

/// Load `file` and check it the way kind `version` would; a config kind would reject even with
/// its ports resolved is reported (file, line, column, field) and is invalid input.
pub fn usable_config(file: &Path, version: KindVersion) -> Result<LoadedConfig, AppError> {
    let loaded = match load_file(file) {
        Ok(l) => l,
        Err(e) => {
            // Printed once, here, in the report's form; the summary below names the file.
            crate::errln!("error  {e}");
            return Err(AppError::InvalidInput(format!(
                "{} is not a usable kind config",
                file.display()
            )));
        }
    };
    let check = ConfigCheck::run(file, &loaded.cluster, version);
    if check.verdict() == Verdict::Invalid {
        let (text, _) = validate::render(file, &check);
        crate::err!("{text}");
        return Err(AppError::InvalidInput(format!(
            "{} is not a usable kind config",
            file.display()
        )));
    }
    Ok(loaded)
}

/// Waits for the end of `--hold`: standard input closing (done) or SIGINT, SIGTERM, SIGHUP or SIGQUIT (interrupted).
struct Hold {
    signals: Signals,
}

impl Hold {
    fn listen() -> Result<Self, AppError> {
        Ok(Self {
            signals: Signals::listen()?,
        })
    }

    async fn until_stdin_closes(mut self) -> Result<(), AppError> {
        // A plain thread, not tokio's stdin: its blocking read would keep the runtime from
        // shutting down after a signal. The process exits without waiting for this thread.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            // A signal interrupts the read (EINTR): that is not the end of input.
            loop {
                match std::io::Read::read(&mut stdin, &mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
        tokio::select! {
            _ = rx => Ok(()),
            _ = self.signals.recv() => Err(AppError::Interrupted),
        }
    }
}
