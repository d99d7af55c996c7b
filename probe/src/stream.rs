//! Streaming `connect` (`--for D` or `--until-signal`): one fresh connection per target every
//! `--interval`, each attempt printed as one JSON line as it ends (when it began, its class,
//! who answered, how long it took), so that a reader builds a timeline while the probe runs.
//! An attempt does not wait for the one before it: a dropped SYN does not delay the next tick.
//! With `--for` it ends after D, once the attempts in flight have ended, with one summary per
//! target; on a termination signal, or once its output is closed, it ends at once (every line
//! already printed is whole).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use kindproof_probe::protocol::{ATTEMPT, AttemptRecord, STREAM, StreamStart};

use crate::connect::{AnswerCache, Outcome, Proto, Tally, Target, attempt, summary};
use crate::out::{emit_record, millis, try_emit_record};

/// The protocol's name of an outcome class.
pub fn class(o: &Outcome) -> &'static str {
    match o {
        Outcome::Answered(_) => "answered",
        Outcome::Refused => "refused",
        Outcome::Timeout => "timeout",
        Outcome::Closed => "closed",
        Outcome::BadAnswer(_) => "bad-answer",
        Outcome::Error(_) => "error",
    }
}

/// Stream attempts to every target every `interval`, for `until` (`None`: until a signal).
pub async fn run(
    targets: &[Target],
    interval: Duration,
    until: Option<Duration>,
    timeout: Duration,
    proto: Proto,
) -> Vec<Tally> {
    let epoch_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let started = Instant::now();
    emit_record(
        STREAM,
        &StreamStart {
            epoch_ms,
            interval_ms: millis(interval),
            targets: targets.iter().map(|t| t.text.clone()).collect(),
        },
        json!({}),
    );
    // Names are looked up once; a target that does not resolve counts an error per tick.
    let mut addresses: Vec<Result<SocketAddr, String>> = Vec::new();
    for t in targets {
        addresses.push(t.resolve(timeout).await);
    }
    let mut tallies = vec![Tally::default(); targets.len()];
    let mut inflight = JoinSet::new();
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
    // After a stall (a paused container), go on from now rather than in a burst.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let at = started.elapsed();
        if until.is_some_and(|u| at >= u) {
            break;
        }
        for (i, (t, a)) in targets.iter().zip(&addresses).enumerate() {
            let (text, a) = (t.text.clone(), a.clone());
            inflight.spawn(async move {
                let begun = Instant::now();
                let o = match a {
                    Ok(addr) => attempt(addr, proto, timeout, &mut AnswerCache::default()).await,
                    Err(e) => Outcome::Error(e),
                };
                let latency = begun.elapsed();
                let written = try_emit_record(
                    ATTEMPT,
                    &AttemptRecord {
                        target: text,
                        t_ms: millis(at),
                        outcome: class(&o).into(),
                        backend: match &o {
                            Outcome::Answered(who) => Some(who.clone()),
                            _ => None,
                        },
                        latency_ms: millis(latency),
                    },
                    match &o {
                        Outcome::Error(e) | Outcome::BadAnswer(e) => json!({"detail": e}),
                        _ => json!({}),
                    },
                );
                // Nobody reads any more (a pod exec whose stream was closed): done.
                if written.is_err() {
                    std::process::exit(0);
                }
                (i, o, latency)
            });
        }
        while let Some(done) = inflight.try_join_next() {
            let (i, o, latency) = done.expect("attempt task");
            tallies[i].add(o, latency);
        }
    }
    while let Some(done) = inflight.join_next().await {
        let (i, o, latency) = done.expect("attempt task");
        tallies[i].add(o, latency);
    }
    for ((t, a), tally) in targets.iter().zip(&addresses).zip(&tallies) {
        summary(
            t,
            a.as_ref().ok().copied(),
            proto,
            tally.attempts(),
            tally,
            started.elapsed(),
            a.as_ref().err().map(String::as_str),
        );
    }
    tallies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_an_attempt_per_tick_and_classes_sum_to_the_attempts() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = l.local_addr().unwrap();
        drop(l);
        let t = Target::parse(&closed.to_string()).unwrap();
        let tallies = run(
            &[t],
            Duration::from_millis(10),
            Some(Duration::from_millis(200)),
            Duration::from_millis(500),
            Proto::Tcp,
        )
        .await;
        let n = tallies[0].attempts();
        // A tick every 10 ms for 200 ms: the first at once, so about 20.
        assert!((15..=21).contains(&n), "{n} attempts");
        assert_eq!(tallies[0].refused, n, "a closed port refuses every attempt");
    }
}
