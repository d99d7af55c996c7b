//! The `kindproof` binary: parse the command line, run the command, map the outcome to a
//! documented exit code.

use clap::Parser;

use kindproof::cli::{Cli, Command, ImageCommand, ReportCommand};
use kindproof::commands;
use kindproof::exit::{AppError, OK};

fn main() {
    let cli = Cli::parse();
    // Library logs stay off the terminal (results own it) unless `-v` or KINDPROOF_LOG.
    let verbose = matches!(&cli.command, Command::Run(r) if r.verbose);
    kindproof::logs::init(verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            kindproof::errln!("kindproof: failed to start the async runtime: {e}");
            std::process::exit(kindproof::exit::INFRASTRUCTURE);
        }
    };
    let result: Result<(), AppError> = runtime.block_on(async {
        match cli.command {
            Command::Validate {
                kind_version,
                portable,
                files,
            } => commands::validate::run(kind_version, portable, &files),
            Command::List { paths } => commands::list::run(&paths),
            Command::Pool { action } => {
                commands::pool::run(match action {
                    kindproof::cli::PoolCommand::Ls => commands::pool::Action::Ls,
                    kindproof::cli::PoolCommand::Prune { all } => {
                        commands::pool::Action::Prune { all }
                    }
                    kindproof::cli::PoolCommand::Rm { keys } => commands::pool::Action::Rm { keys },
                    kindproof::cli::PoolCommand::Warm {
                        configs,
                        image,
                        wait,
                    } => commands::pool::Action::Warm {
                        configs,
                        image,
                        wait,
                    },
                })
                .await
            }
            Command::Run(r) => {
                let r = *r;
                commands::run::run(commands::run::RunArgs {
                    paths: r.paths,
                    jobs: r.jobs,
                    filter: r.filter,
                    variant: r.variant,
                    keep: r.keep,
                    keep_failed: None,
                    partition: r.partition,
                    cluster: r.cluster,
                    kubeconfig: r.kubeconfig,
                    context: r.context,
                    image: r.image,
                    pull: r.pull,
                    report_junit: r.report_junit,
                    report_json: r.report_json,
                    artifacts: Some(r.artifacts),
                    wait: r.wait,
                    pool: r.pool,
                    verbose: r.verbose,
                })
                .await
            }
            Command::Ports {
                file,
                kind_version,
                json,
                write,
                hold,
            } => {
                commands::ports::run(commands::ports::Args {
                    file,
                    kind_version,
                    json,
                    write,
                    hold,
                })
                .await
            }
            Command::Report(ReportCommand::Timeline { file, json }) => {
                commands::report::timeline(&file, json)
            }
            Command::Image(ImageCommand::Build { binary }) => {
                commands::image::build(binary.as_deref()).await
            }
            Command::Image(ImageCommand::Load {
                cluster,
                image,
                pull,
            }) => commands::image::load(&cluster, image.as_deref(), pull).await,
            Command::Up {
                config,
                name,
                image,
                pull,
                wait,
                export_kubeconfig,
            } => {
                commands::cluster::up(commands::cluster::UpArgs {
                    config,
                    name,
                    image,
                    pull,
                    wait,
                    export_kubeconfig,
                })
                .await
            }
            Command::Down { name } => commands::cluster::down(&name).await,
            Command::Replay { bundle, keep } => commands::replay::run(&bundle, keep).await,
            Command::Clean { older_than } => commands::cluster::clean(older_than).await,
            Command::Schema => {
                let schema = schemars::schema_for!(kindproof::scenario::raw::Scenario);
                kindproof::outln!(
                    "{}",
                    serde_json::to_string_pretty(&schema).expect("a schema serializes")
                );
                Ok(())
            }
            Command::Doctor => commands::doctor::run().await,
        }
    });
    // A write that failed for a reason other than a closed pipe (a full disk) fails the command.
    let result = result.and_then(|()| match kindproof::output::failure() {
        Some(why) => Err(AppError::Environment(why)),
        None => Ok(()),
    });
    let code = match result {
        Ok(()) => OK,
        Err(e) => {
            kindproof::errln!("kindproof: {e}");
            e.exit_code()
        }
    };
    // Everything a command holds (reservations, sockets) was dropped with its future; do not
    // wait for blocking threads (a stdin reader) that may never finish.
    runtime.shutdown_background();
    std::process::exit(code);
}
