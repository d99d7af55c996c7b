//! The pool's own overhead: leasing a warm shape and giving it back (its record read and
//! written under the shape's flock, a shared lease taken and dropped), uncontended and with
//! 16 contenders at once, against the floor any cross-process coordination pays: one file
//! opened, flocked and closed (the baseline, measured in the same run). Making a cluster
//! without the pool costs 20–50 s a process; the goal is that leasing one costs ≤ 5 ms
//! uncontended and ≤ 50 ms with 16 contenders.

#[path = "common/mod.rs"]
mod common;
use common::peak_mb;

use std::time::{Duration, Instant};

use kindproof::exit::AppError;
use kindproof::pool::{Holder, Maker, Pool, ShapeState};

const ROUNDS: usize = 200;
const CONTENDERS: usize = 16;
const GOAL_UNCONTENDED: Duration = Duration::from_millis(5);
const GOAL_CONTENDED: Duration = Duration::from_millis(50);

/// A shape that is always warm (the cluster exists): only the pool's own work is measured.
struct Warm;

impl Maker for Warm {
    async fn create(&self, key: &str, name: &str) -> Result<ShapeState, AppError> {
        Ok(ShapeState {
            key: key.into(),
            cluster: name.into(),
            kubeconfig: "/nonexistent".into(),
            config: "three-node.yaml".into(),
            image: "kindest/node:v1.36.2".into(),
            created: 0,
            last_used: 0,
            holders: Vec::new(),
        })
    }
    async fn exists(&self, _: &ShapeState) -> bool {
        true
    }
    async fn delete(&self, _: &ShapeState) -> Result<(), AppError> {
        Ok(())
    }
    async fn sweep(&self, _: &ShapeState, _: &[Holder]) -> Result<(), AppError> {
        Ok(())
    }
}

fn per_op(total: Duration, ops: usize) -> Duration {
    total / ops as u32
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = Pool::at(tmp.path().join("pool"), Duration::from_secs(600));
    // Made once; every lease below finds it warm.
    pool.lease(&Warm, "shape", "warmup")
        .await
        .unwrap()
        .release()
        .await
        .unwrap();

    // Baseline: one file opened, flocked and closed.
    let file = tmp.path().join("floor.lock");
    let t = Instant::now();
    for _ in 0..ROUNDS {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&file)
            .unwrap();
        f.lock().unwrap();
        drop(f);
    }
    let floor = per_op(t.elapsed(), ROUNDS);

    let t = Instant::now();
    for i in 0..ROUNDS {
        let l = pool.lease(&Warm, "shape", &format!("r{i}")).await.unwrap();
        l.release().await.unwrap();
    }
    let alone = per_op(t.elapsed(), ROUNDS);

    // 16 at once, each leasing and releasing in turn; the slowest acquire counts too.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONTENDERS {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            for i in 0..ROUNDS / 10 {
                let a = Instant::now();
                let l = pool
                    .lease(&Warm, "shape", &format!("c{c}-{i}"))
                    .await
                    .unwrap();
                worst = worst.max(a.elapsed());
                l.release().await.unwrap();
            }
            worst
        }));
    }
    let mut worst = Duration::ZERO;
    for t in tasks {
        worst = worst.max(t.await.unwrap());
    }
    let contended = per_op(t.elapsed(), CONTENDERS * (ROUNDS / 10));

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "pool lease + release, a warm shape ({ROUNDS} rounds; {CONTENDERS} contenders x {}):",
        ROUNDS / 10
    );
    println!(
        "  baseline (open + flock + close)  {:>8.3} ms per op",
        ms(floor)
    );
    println!(
        "  uncontended                       {:>8.3} ms per op  ({:.1}x the baseline)",
        ms(alone),
        ms(alone) / ms(floor).max(1e-6)
    );
    println!(
        "  {CONTENDERS} contenders                    {:>8.3} ms per op, slowest acquire {:.3} ms  ({:.1}x the baseline)",
        ms(contended),
        ms(worst),
        ms(contended) / ms(floor).max(1e-6)
    );
    println!("  peak memory {:.1} MB", peak_mb());
    let met = alone <= GOAL_UNCONTENDED && worst <= GOAL_CONTENDED;
    println!(
        "goal: <= {}ms uncontended and <= {}ms with {CONTENDERS} contenders: {}",
        GOAL_UNCONTENDED.as_millis(),
        GOAL_CONTENDED.as_millis(),
        if met { "met" } else { "NOT met" }
    );
}
