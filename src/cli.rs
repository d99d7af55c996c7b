//! The command line: clap types only; each command lives in `commands/`.
#![allow(
    rustdoc::invalid_html_tags,
    reason = "doc comments here are --help text, where <name> is a placeholder"
)]

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;
use crate::kind_config::version::KindVersion;

#[derive(Debug, Parser)]
#[command(
    name = "kindproof",
    version,
    about = "Reproduce and prove Kubernetes networking behaviour on disposable Kind clusters",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenarios (their steps, variables, manifests and kind config) or kind configs the
    /// way a given kind version would, without touching Docker or a cluster
    #[command(after_help = EXIT_CODES_HELP)]
    Validate {
        /// The kind version whose rules apply [default: the installed `kind version`, else the
        /// newest rules kindproof knows]
        #[arg(long, value_name = "V", value_parser = kind_version)]
        kind_version: Option<KindVersion>,
        /// Also say whether each scenario runs on any cluster (`run --kubeconfig`), and if not
        /// why: kind-only actions, probes from a node, kind node names, host ports
        #[arg(long)]
        portable: bool,
        /// Scenario directories (`scenarios/`, `scenarios/<name>/`), scenario files, kind
        /// config files, or directories of them: each file is checked as what its
        /// apiVersion/kind say it is
        #[arg(required = true, value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Run scenarios: create each cluster shape once (or use --cluster/--kubeconfig), run every
    /// variant in its own namespace, clean up, report
    #[command(after_help = EXIT_CODES_HELP)]
    Run(Box<RunCommand>),
    /// Clusters kept warm across processes (`run --pool`, the nextest harness): ls, prune,
    /// rm, warm; idle ones go after KINDPROOF_POOL_TTL (default 10m)
    #[command(after_help = EXIT_CODES_HELP)]
    Pool {
        #[command(subcommand)]
        action: PoolCommand,
    },
    /// List the scenarios, their variants and what each variant shows
    #[command(after_help = EXIT_CODES_HELP)]
    List {
        /// Scenario directories or files
        #[arg(value_name = "PATH", default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Resolve the host ports of a kind config: fixed ports as written, hostPort 0/unset picked
    /// and reserved by kindproof, -1 left to Docker
    #[command(after_help = EXIT_CODES_HELP)]
    Ports {
        /// The kind config
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The kind version whose rules apply (kind 0.19–0.21 also get -1 resolved)
        #[arg(long, value_name = "V", value_parser = kind_version)]
        kind_version: Option<KindVersion>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Write the resolved config (concrete host ports) for `kind create cluster --config`
        #[arg(long, value_name = "OUT")]
        write: Option<PathBuf>,
        /// Keep the reservations until standard input closes (for scripts that create the
        /// cluster themselves); other kindproof processes will not pick these ports meanwhile
        #[arg(long)]
        hold: bool,
    },
    /// The probe image kindproof runs in clusters and test containers
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Image(ImageCommand),
    /// Read a run's JSON report
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Report(ReportCommand),
    /// Create one kind cluster from a kind config, for local reproduction: host ports resolved,
    /// its own kubeconfig, the nodes and their published ports printed. It stays until `down`
    #[command(after_help = EXIT_CODES_HELP)]
    Up {
        /// The kind config
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// The cluster name [default: kp-<config name>-<run id>]
        #[arg(long, value_name = "NAME", value_parser = cluster_name)]
        name: Option<String>,
        /// The node image; must be present locally unless --pull [default:
        /// $KINDPROOF_NODE_IMAGE, else the newest local kindest/node]
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        /// Let kind pull the node image when it is not present locally (also KINDPROOF_PULL=1);
        /// without it nothing is ever pulled
        #[arg(long)]
        pull: bool,
        /// How long kind waits for the control plane
        #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = crate::scenario::convert::duration)]
        wait: std::time::Duration,
        /// Also add the cluster to your own kubeconfig ($KUBECONFIG or ~/.kube/config); without
        /// this, kindproof writes only the cluster's private kubeconfig
        #[arg(long)]
        export_kubeconfig: bool,
    },
    /// Run a failed variant again from its diagnostics bundle (its replay.json and the copy of
    /// its scenario): the same shape, node image and variant. The cluster stays when it fails
    /// again, and kindproof says how to reach it
    #[command(after_help = EXIT_CODES_HELP)]
    Replay {
        /// The bundle: kindproof-artifacts/<run>/<scenario>/<variant>
        #[arg(value_name = "BUNDLE")]
        bundle: PathBuf,
        /// Keep the cluster even when the variant passes
        #[arg(long)]
        keep: bool,
    },
    /// Delete a kind cluster (one made by `up`, or any other) and forget its kubeconfig
    #[command(after_help = EXIT_CODES_HELP)]
    Down {
        /// The cluster name (not a path: kindproof deletes only its own record of it)
        #[arg(value_name = "NAME", value_parser = cluster_name)]
        name: String,
    },
    /// Remove what runs whose process is gone left behind: the clusters they created (not those
    /// `up` keeps) and the containers and networks carrying kindproof's labels
    #[command(after_help = EXIT_CODES_HELP)]
    Clean {
        /// Only what is at least this old (e.g. 30m, 2h)
        #[arg(long, value_name = "DURATION", value_parser = crate::scenario::convert::duration)]
        older_than: Option<std::time::Duration>,
    },
    /// Print the JSON Schema of scenario files, for editors (YAML language servers)
    Schema,
    /// Check the environment: Docker engine, kind, kubectl, port reservation directory
    #[command(after_help = EXIT_CODES_HELP)]
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The critical path of a run: its floor (the slowest cluster creation plus the longest
    /// chain of step time that must run one after another on a cluster, given the variants'
    /// cluster-wide claims), its wall time, their ratio, and the three biggest gaps
    #[command(after_help = EXIT_CODES_HELP)]
    Timeline {
        /// A JSON report written by `run --report-json`
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print the analysis as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build kindproof/probe:<version> FROM scratch around the static kindproof-probe binary
    /// (no registry, no network); skipped when an image with the same binary exists
    #[command(after_help = EXIT_CODES_HELP)]
    Build {
        /// The static kindproof-probe binary [default: $KINDPROOF_PROBE_BIN, beside kindproof,
        /// or the `make probe` output]
        #[arg(long, value_name = "PATH", value_parser = existing_file)]
        binary: Option<PathBuf>,
    },
    /// Load a local image (the probe image by default) into every node of a kind cluster that
    /// lacks it, as `kind load docker-image` does but without the kind CLI: `docker save`, then
    /// `ctr --namespace=k8s.io images import -` in each node container
    #[command(after_help = EXIT_CODES_HELP)]
    Load {
        /// The kind cluster's name
        #[arg(long, value_name = "NAME", value_parser = cluster_name)]
        cluster: String,
        /// The image to load [default: kindproof/probe:<version>]
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        /// Pull the image first when it is not present locally (also KINDPROOF_PULL=1)
        #[arg(long)]
        pull: bool,
    },
}

/// The arguments of `kindproof run`.
#[derive(Debug, clap::Args)]
pub struct RunCommand {
    /// Scenario directories or files
    #[arg(value_name = "PATH", default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Cluster shapes made at once, and scenarios run at once on each (variants of one
    /// scenario take turns)
    #[arg(short = 'j', long, value_name = "N", default_value_t = 2, value_parser = positive)]
    pub jobs: usize,
    /// Only variants whose `scenario/variant` contains this
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Only variants with this name
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    /// Keep the clusters this run creates (`down` removes them); without it they are kept
    /// only after a failure in an interactive terminal outside CI
    #[arg(long)]
    pub keep: bool,
    /// Run shard K of N of the variants (hash:K/N), for parallel CI jobs
    #[arg(long, value_name = "hash:K/N")]
    pub partition: Option<crate::runner::plan::Partition>,
    /// Run on this existing kind cluster (e.g. made by `up`) instead of creating one
    #[arg(long, value_name = "NAME", value_parser = cluster_name, conflicts_with = "kubeconfig")]
    pub cluster: Option<String>,
    /// Run on the cluster of this kubeconfig (no kind lifecycle; nodes from the API)
    #[arg(long, value_name = "PATH", value_parser = existing_file)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: its current context]; needs --kubeconfig
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub context: Option<String>,
    /// The node image for clusters this run creates (must be local unless --pull). Given more
    /// than once, a matrix: every selected variant runs once per image (`bug@v1.31.0`), each
    /// image's shapes as their own clusters, and a table variant × image ends the run
    #[arg(long, value_name = "IMAGE")]
    pub image: Vec<String>,
    /// Let kind pull a node image that is not present locally, and pull the images the
    /// manifests use before loading them into the nodes (also KINDPROOF_PULL=1); the run says
    /// what it pulled. Without it nothing is ever pulled
    #[arg(long)]
    pub pull: bool,
    /// Write a JUnit XML report here
    #[arg(long, value_name = "FILE", value_parser = crate::output::output_file)]
    pub report_junit: Option<PathBuf>,
    /// Write a JSON report (steps, timings) here
    #[arg(long, value_name = "FILE", value_parser = crate::output::output_file)]
    pub report_json: Option<PathBuf>,
    /// Where diagnostics bundles of variants that do not pass are written
    /// (<DIR>/<run id>/<scenario>/<variant>/)
    #[arg(long, value_name = "DIR", default_value = "kindproof-artifacts", value_parser = crate::output::output_dir)]
    pub artifacts: PathBuf,
    /// How long to wait for a created cluster: kind's control plane, then every node Ready
    #[arg(long, value_name = "DURATION", default_value = "180s", value_parser = crate::scenario::convert::duration)]
    pub wait: std::time::Duration,
    /// Lease each cluster shape from the pool shared by every kindproof process on this host
    /// (made once, kept warm for KINDPROOF_POOL_TTL) instead of making one for this run
    #[arg(long, env = "KINDPROOF_POOL", conflicts_with_all = ["cluster", "kubeconfig"])]
    pub pool: bool,
    /// Show the steps of passing variants too
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Each pooled shape: its cluster, age, idle time and live leases
    Ls,
    /// Delete the clusters idle past the TTL (`--all`: every idle one)
    Prune {
        #[arg(long)]
        all: bool,
    },
    /// Delete these pooled clusters (by shape key or cluster name) unless someone holds them
    Rm {
        #[arg(required = true, value_name = "SHAPE")]
        keys: Vec<String>,
    },
    /// Make each kind config's pooled cluster now (for a nextest setup script)
    Warm {
        #[arg(required = true, value_name = "KIND_CONFIG", value_parser = existing_file)]
        configs: Vec<PathBuf>,
        /// The node image (must be local) [default: KINDPROOF_NODE_IMAGE, else kind's]
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        /// How long to wait for the cluster: kind's control plane, then every node Ready
        #[arg(long, value_name = "DURATION", default_value = "180s", value_parser = crate::scenario::convert::duration)]
        wait: std::time::Duration,
    },
}

/// A kind cluster name (see [`crate::cluster::state::check_name`]).
fn cluster_name(s: &str) -> Result<String, String> {
    crate::cluster::state::check_name(s).map(|()| s.to_string())
}

/// A count of at least 1.
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// An input file that exists and is a regular file.
fn existing_file(s: &str) -> Result<std::path::PathBuf, String> {
    let p = std::path::PathBuf::from(s);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        Ok(_) => Err(format!("{s} is not a regular file")),
        Err(e) => Err(format!("{s}: {e}")),
    }
}

/// A kind version for `--kind-version`: no kind before v0.1.0 exists; one newer than any
/// kindproof knows is validated with the newest rules known, said with a warning.
fn kind_version(s: &str) -> Result<KindVersion, String> {
    let v: KindVersion = s.parse()?;
    if v < KindVersion::new(0, 1, 0) {
        return Err(format!("no kind release {v} exists (the first was v0.1.0)"));
    }
    if v > KindVersion::NEWEST_KNOWN {
        crate::errln!(
            "kindproof: warning: kind {v} is newer than any kind kindproof knows; validating with kind {}'s rules",
            KindVersion::NEWEST_KNOWN
        );
    }
    Ok(v)
}
