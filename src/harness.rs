//! A test harness that speaks the libtest protocol nextest relies on, over scenario variants:
//! a `harness = false` test target whose `main` calls [`main`]. `--list --format terse`
//! (and `--ignored`) lists one test per variant, `scenario::variant`; a variant that cannot
//! run here (no node image, a version gate) is listed as ignored, and says why when run with
//! `--ignored`. `--exact NAME` runs one; a failed or broken variant exits 101 with its
//! report on stdout and the reason on stderr, so nextest's JUnit carries both. Clusters come
//! from the host-wide pool (`KINDPROOF_POOL=0`: a fresh one per test process).

use std::path::PathBuf;
use std::time::Instant;

use crate::runner::outcome::Status;
use crate::suite::{Case, Suite, Target};

/// libtest's exit code for a failed run.
const FAILED: i32 = 101;

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    list: bool,
    ignored: bool,
    include_ignored: bool,
    exact: bool,
    filters: Vec<String>,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--list" => a.list = true,
            "--ignored" => a.ignored = true,
            "--include-ignored" => a.include_ignored = true,
            "--exact" => a.exact = true,
            // Captured or not, kindproof prints the same; one test at a time either way.
            "--nocapture" | "--show-output" | "-q" | "--quiet" => {}
            "--format" | "--test-threads" | "--color" | "-Z" => {
                it.next();
            }
            s if s.starts_with("--format=")
                || s.starts_with("--test-threads=")
                || s.starts_with("--color=") => {}
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => a.filters.push(s.to_string()),
        }
    }
    Ok(a)
}

fn matches(a: &Args, name: &str) -> bool {
    a.filters.is_empty()
        || a.filters.iter().any(|f| {
            if a.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        })
}

/// Run the harness over the scenarios under `dir` (`KINDPROOF_SCENARIOS` overrides it) and
/// exit as libtest would.
pub fn main_for(dir: &str) -> ! {
    let dir =
        std::env::var_os("KINDPROOF_SCENARIOS").map_or_else(|| PathBuf::from(dir), PathBuf::from);
    let code = match parse(std::env::args().skip(1)) {
        Ok(args) => run(&dir, &args),
        Err(e) => {
            crate::errln!("kindproof harness: {e}");
            FAILED
        }
    };
    std::process::exit(code)
}

/// [`main_for`] the `scenarios` directory beside the crate's manifest (or the current one).
pub fn main() -> ! {
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    main_for(&base.join("scenarios").display().to_string())
}

fn run(dir: &std::path::Path, args: &Args) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            crate::errln!("kindproof harness: failed to start the async runtime: {e}");
            return FAILED;
        }
    };
    let code = runtime.block_on(async {
        let suite = match Suite::load(&[dir]) {
            Ok(s) => s,
            Err(e) => {
                crate::errln!("kindproof harness: {e}");
                return FAILED;
            }
        };
        let env = suite.env().await;
        let chosen: Vec<(Case<'_>, Option<String>)> = suite
            .cases()
            .into_iter()
            .filter(|c| matches(args, &c.name()))
            .map(|c| {
                let why = c.not_runnable(&env);
                (c, why)
            })
            .filter(|(_, why)| args.include_ignored || (why.is_some() == args.ignored))
            .collect();
        if args.list {
            for (c, _) in &chosen {
                crate::outln!("{}: test", c.name());
            }
            return 0;
        }
        run_cases(&chosen).await
    });
    // Nothing is left to finish; a thread waiting on a pool lock is not waited for.
    runtime.shutdown_background();
    code
}

async fn run_cases(chosen: &[(Case<'_>, Option<String>)]) -> i32 {
    let started = Instant::now();
    crate::outln!(
        "\nrunning {} test{}",
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" }
    );
    let target = match std::env::var("KINDPROOF_POOL").as_deref() {
        Ok("0") | Ok("false") => Target::Fresh,
        _ => Target::Pool,
    };
    let (mut passed, mut failed) = (0, Vec::new());
    for (c, why) in chosen {
        let name = c.name();
        // Asked for although it cannot run here (`--ignored`): that is a failure, not a pass.
        let outcome = match why {
            Some(why) => Err(format!("cannot run here: {why}")),
            None => match c.run(&target).await {
                Ok(r) => match &r.status {
                    Status::Passed => Ok(r.duration),
                    Status::Failed { message, observed } => {
                        Err(format!("failed: {message}; observed: {observed}"))
                    }
                    Status::Broken { message, .. } => {
                        Err(format!("broken (the harness or infrastructure): {message}"))
                    }
                    Status::Skipped { reason } => Err(format!("did not run: {reason}")),
                },
                Err(e) => Err(format!("broken (the harness or infrastructure): {e}")),
            },
        };
        match outcome {
            Ok(took) => {
                crate::outln!("test {name} ... ok ({:.1}s)", took.as_secs_f64());
                passed += 1;
            }
            Err(why) => {
                crate::outln!("test {name} ... FAILED");
                crate::errln!("{name}: {why}");
                failed.push(name);
            }
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    crate::outln!(
        "\ntest result: {verdict}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() { 0 } else { FAILED }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Args {
        parse(a.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn speaks_the_arguments_nextest_passes() {
        assert_eq!(
            args(&["--list", "--format", "terse", "--ignored"]),
            Args {
                list: true,
                ignored: true,
                ..Default::default()
            }
        );
        let a = args(&["--exact", "kind-random-hostports::bug", "--nocapture"]);
        assert!(a.exact && matches(&a, "kind-random-hostports::bug"));
        assert!(!matches(&a, "kind-random-hostports::bug2"));
        let a = args(&["hostports"]);
        assert!(matches(&a, "kind-random-hostports::bug") && !matches(&a, "dns::x"));
        assert!(parse(["--bogus".to_string()]).is_err());
    }
}
