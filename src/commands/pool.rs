//! `kindproof pool`: the clusters kept warm across processes (`run --pool`, the nextest
//! harness): `ls` shows each shape with its age, idle time and holders; `prune` deletes the
//! ones idle past the TTL (`--all`: every idle one); `rm` deletes named ones that no one
//! holds; `warm` makes a shape's cluster ahead of the tests (a nextest setup script).

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::kind::{check_kind, check_provider, node_image};
use crate::docker::bollard_engine::BollardEngine;
use crate::exit::AppError;
use crate::pool::{Pool, shape_of, state::unix_now};
use crate::runner::providers::kind::Make;
use crate::runner::providers::pool::KindMaker;
use crate::runner::reporter::Reporters;
use crate::runner::reporters::standard;

pub enum Action {
    Ls,
    Prune {
        all: bool,
    },
    Rm {
        keys: Vec<String>,
    },
    Warm {
        configs: Vec<PathBuf>,
        image: Option<String>,
        wait: Duration,
    },
}

fn ago(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

pub async fn run(action: Action) -> Result<(), AppError> {
    let pool = Pool::from_env()?;
    match action {
        Action::Ls => {
            let now = unix_now();
            crate::outln!(
                "{:<14} {:<22} {:>10} {:>10} {:>7}  CONFIG / IMAGE",
                "SHAPE",
                "CLUSTER",
                "AGE",
                "IDLE",
                "LEASES"
            );
            for s in pool.shapes() {
                let alive = s
                    .holders
                    .iter()
                    .filter(|h| crate::cluster::state::pid_alive(h.pid))
                    .count();
                let idle = if alive > 0 {
                    "-".to_string()
                } else {
                    ago(now.saturating_sub(s.last_used))
                };
                crate::outln!(
                    "{:<14} {:<22} {:>10} {:>10} {:>7}  {} / {}",
                    s.key,
                    s.cluster,
                    ago(now.saturating_sub(s.created)),
                    idle,
                    alive,
                    s.config,
                    s.image
                );
            }
            crate::outln!("ttl {} ({})", ago(pool.ttl.as_secs()), crate::pool::TTL_ENV);
            Ok(())
        }
        Action::Prune { all } => {
            let engine = BollardEngine::connect().await?;
            let maker = KindMaker {
                engine: &engine,
                make: None,
            };
            for c in pool.prune(&maker, all).await? {
                crate::outln!("deleted pooled cluster {c}");
            }
            Ok(())
        }
        Action::Rm { keys } => {
            let engine = BollardEngine::connect().await?;
            let maker = KindMaker {
                engine: &engine,
                make: None,
            };
            let known = pool.shapes();
            let mut busy = Vec::new();
            for k in &keys {
                let Some(s) = known.iter().find(|s| &s.key == k || &s.cluster == k) else {
                    return Err(AppError::InvalidInput(format!(
                        "pool rm: no pooled shape or cluster {k:?} (`kindproof pool ls` shows them)"
                    )));
                };
                if pool.remove_idle(&maker, &s.key).await? {
                    crate::outln!("deleted pooled cluster {}", s.cluster);
                } else {
                    busy.push(s.cluster.clone());
                }
            }
            if busy.is_empty() {
                Ok(())
            } else {
                Err(AppError::Environment(format!(
                    "in use (leased now), not deleted: {}",
                    busy.join(", ")
                )))
            }
        }
        Action::Warm {
            configs,
            image,
            wait,
        } => {
            check_provider()?;
            let version = check_kind()?;
            let engine = BollardEngine::connect().await?;
            let image = node_image(&engine, image.as_deref(), false).await?;
            let events: Reporters = standard(false, false, None, None);
            let run_id = crate::labels::new_run_id();
            for file in configs {
                let loaded = super::ports::usable_config(&file, version)?;
                let key = shape_of(&file, &image.name, &version.to_string())?;
                let maker = KindMaker {
                    engine: &engine,
                    make: Some((
                        Make {
                            config: &loaded.cluster,
                            config_file: &file,
                            version,
                            name: "",
                            image: image.clone(),
                            run_id: &run_id,
                            wait,
                            wait_ready: true,
                        },
                        &events,
                    )),
                };
                let lease = pool.lease(&maker, &key, &run_id).await?;
                crate::outln!(
                    "{} shape {key}: cluster {} ({})",
                    if lease.created { "made" } else { "warm" },
                    lease.state.cluster,
                    file.display()
                );
                lease.release().await?;
            }
            events.finish()
        }
    }
}
