//! A background probe's memory: 200,000 attempt lines as the probe streams them (20 ms apart
//! over three targets and three backends) go through a bounded channel into a `Timeline`, then
//! a window over all of them is judged and summarised and the bundle's JSON lines are written
//! (to a sink). Measured with a counting allocator: the most heap live at once, and what the
//! timeline keeps. The baseline, measured in the same run: keeping the raw lines, which is
//! what collecting the stream's output whole would cost. The goal: ≤ 20 MB for 200,000
//! attempts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kindproof::assert::during::{self, Check, Window};
use kindproof::probe::timeline::Timeline;

/// Heap bytes live now, and the most live since the last `reset_peak`.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ATTEMPTS: usize = 200_000;
const GOAL_MB: f64 = 20.0;
/// The channel between the stream's reader and the timeline (as `cluster_faults` bounds it).
const BUFFERED: usize = 4096;

fn reset_peak() -> usize {
    let now = LIVE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Attempt `i` as the probe prints it: one in 50 refused, the rest answered by one of three.
fn line(i: usize) -> String {
    let t_ms = i as f64 * 20.0 / 3.0;
    let target = ["10.89.0.2:30080", "10.89.0.3:30080", "10.89.0.4:30080"][i % 3];
    if i % 50 == 7 {
        format!(
            r#"{{"time":"2026-12-02T16:00:00.000Z","event":"attempt","target":"{target}","t_ms":{t_ms:.1},"outcome":"refused","latency_ms":0.3}}"#
        )
    } else {
        let backend = [
            "web-7d9c6b5f4-abcde",
            "web-7d9c6b5f4-fghij",
            "web-7d9c6b5f4-klmno",
        ][(i / 3) % 3];
        format!(
            r#"{{"time":"2026-12-02T16:00:00.000Z","event":"attempt","target":"{target}","t_ms":{t_ms:.1},"outcome":"answered","backend":"{backend}","latency_ms":1.2}}"#
        )
    }
}

const STREAM: &str = r#"{"time":"2026-12-02T16:00:00.000Z","event":"stream","epoch_ms":1764691200000,"interval_ms":20.0,"targets":["10.89.0.2:30080","10.89.0.3:30080","10.89.0.4:30080"]}"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Baseline: the raw lines kept whole.
    let before = reset_peak();
    let t = Instant::now();
    let mut raw: Vec<String> = Vec::new();
    raw.push(STREAM.to_string());
    for i in 0..ATTEMPTS {
        raw.push(line(i));
    }
    let raw_elapsed = t.elapsed();
    let raw_kept = LIVE.load(Ordering::Relaxed) - before;
    drop(raw);

    // kindproof: lines through a bounded channel into the timeline, as a background probe's
    // reader task does; then a window judged and the bundle written.
    let before = reset_peak();
    let t = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(BUFFERED);
    let producer = tokio::spawn(async move {
        tx.send(STREAM.to_string()).await.unwrap();
        for i in 0..ATTEMPTS {
            tx.send(line(i)).await.unwrap();
        }
    });
    let reader = tokio::spawn(async move {
        let mut timeline = Timeline::default();
        while let Some(l) = rx.recv().await {
            timeline.feed(&l);
        }
        timeline
    });
    producer.await.unwrap();
    let timeline = reader.await.unwrap();
    let fed = t.elapsed();
    let kept = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(timeline.attempts.len(), ATTEMPTS, "every attempt recorded");
    let last = timeline
        .attempts
        .iter()
        .map(|a| a.t_ms)
        .fold(0f32, f32::max);
    let whole = Window {
        from: 0.0,
        to: f64::from(last),
        target: None,
    };
    let verdict = during::evaluate(
        &timeline,
        &whole,
        &[
            Check::MaxFailures(ATTEMPTS as u64 / 50),
            Check::MaxGap(100.0),
        ],
    );
    let summary = during::summary(&timeline, &whole);
    timeline.write_jsonl(std::io::sink()).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let total = t.elapsed();
    assert!(verdict.is_ok(), "{verdict:?}");

    let grouped = during::grouped(ATTEMPTS as u64);
    println!("background probe timeline, {grouped} attempts (3 targets, 3 backends):");
    println!(
        "  baseline (the raw lines kept)     {:>7.1} MB kept, {:>6.1} ms to build",
        mb(raw_kept),
        raw_elapsed.as_secs_f64() * 1000.0
    );
    println!(
        "  kindproof timeline                {:>7.1} MB kept ({} bytes an attempt), {:>6.1} ms to feed  ({:.1}x smaller than the baseline)",
        mb(kept),
        kept / ATTEMPTS,
        fed.as_secs_f64() * 1000.0,
        raw_kept as f64 / kept.max(1) as f64
    );
    println!(
        "  with a window judged and the bundle written: peak {:>6.1} MB live, {:>6.1} ms in all",
        mb(peak),
        total.as_secs_f64() * 1000.0
    );
    println!("  window: {summary}");
    println!(
        "goal: <= {GOAL_MB} MB for {grouped} attempts: {}",
        if mb(peak) <= GOAL_MB {
            "met"
        } else {
            "NOT met"
        }
    );
}
