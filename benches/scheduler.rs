//! The scheduler's own overhead: 200 variants on one cluster — half of them colliding on a few
//! nodePorts, a tenth running alone, the rest disjoint — each a no-op body that yields, admitted
//! by `Scheduler` with `-j 8`, against the same bodies run with no scheduling at all (the
//! baseline, measured in the same run). Goal: ≤ 2 ms per variant, ≤ 50 MB peak.

#[path = "common/mod.rs"]
mod common;
use common::peak_mb;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kindproof::runner::claims::{Claim, Claims};
use kindproof::runner::schedule::Scheduler;

const VARIANTS: usize = 200;
const ROUNDS: usize = 5;
const GOAL_PER_VARIANT: Duration = Duration::from_millis(2);
const GOAL_PEAK_MB: f64 = 50.0;

fn claims(i: usize) -> Claims {
    match i % 10 {
        // A tenth run alone (a node restart, a CoreDNS change).
        0 => Claims {
            alone: Some(format!("restarts node {i}")),
            ..Default::default()
        },
        // Half collide on one of four nodePorts.
        1..=5 => Claims {
            held: [Claim::NodePort(30000 + (i % 4) as u64)].into(),
            alone: None,
        },
        // The rest hold ports nobody else does.
        _ => Claims {
            held: [Claim::NodePort(31000 + i as u64)].into(),
            alone: None,
        },
    }
}

/// A variant's body: a few yields, as a step that does nothing.
async fn body() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

async fn scheduled(all: &[(String, Claims)]) -> Duration {
    let s = Arc::new(Scheduler::new(8));
    let t = Instant::now();
    let runs = all.iter().map(|(id, c)| {
        let s = s.clone();
        async move {
            let (_slot, _waited) = s.admit(id, c).await;
            body().await;
        }
    });
    futures_util::future::join_all(runs).await;
    t.elapsed()
}

async fn unscheduled(all: &[(String, Claims)]) -> Duration {
    let t = Instant::now();
    let runs = all.iter().map(|_| body());
    futures_util::future::join_all(runs).await;
    t.elapsed()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let all: Vec<(String, Claims)> = (0..VARIANTS)
        .map(|i| (format!("s{i}/v"), claims(i)))
        .collect();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        with.push(scheduled(&all).await);
        without.push(unscheduled(&all).await);
    }
    with.sort();
    without.sort();
    let (w, b) = (with[ROUNDS / 2], without[ROUNDS / 2]);
    let per = w.saturating_sub(b) / VARIANTS as u32;
    let peak = peak_mb();
    println!(
        "scheduler: {VARIANTS} variants (50% on 4 shared nodePorts, 10% alone, 40% disjoint), -j 8, no-op bodies; medians of {ROUNDS}"
    );
    println!(
        "  scheduled   {:>8.3} ms   baseline (no scheduling) {:>8.3} ms",
        w.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3
    );
    println!(
        "  overhead    {:>8.4} ms per variant  ({:.1}x the baseline)  peak memory {peak:.1} MB",
        per.as_secs_f64() * 1e3,
        w.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    let met = per <= GOAL_PER_VARIANT && peak <= GOAL_PEAK_MB;
    println!(
        "goal: <= {GOAL_PER_VARIANT:?} per variant and <= {GOAL_PEAK_MB:.0} MB peak: {}",
        if met { "met" } else { "NOT met" }
    );
}
