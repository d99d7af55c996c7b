//! Background probes in a variant: a probe step with `background: true` starts one (the
//! backend streams its lines; a task here reads them into a compact timeline as they come),
//! `stop:` or the variant's end stops it, and `assert.during` judges a window of its timeline
//! once every attempt that started in the window has reported.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::backend::Backend;
use super::engine::{Run, rfc3339};
use super::engine_state::Background;
use super::fresh::parse_time;
use super::outcome::Status;
use crate::assert::during::{self, Check, Window};
use crate::assert::{self, Verdict};
use crate::probe::timeline::Timeline;
use crate::scenario::model::*;

/// How long a background probe may take to print its first line.
const START_BOUND: Duration = Duration::from_secs(30);
/// How long a stopped probe's last lines may take to arrive.
const DRAIN_BOUND: Duration = Duration::from_secs(10);

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl<B: Backend> Run<'_, B> {
    /// The longest a background probe started now may run: what is left of the variant.
    fn background_bound(&self) -> Duration {
        let all: Duration = self.cx.variant.steps.iter().map(|s| s.timeout).sum();
        all.min(crate::scenario::convert::MAX_DURATION)
    }

    pub(super) async fn start_background(
        &mut self,
        step: &Step,
        p: &ProbeSpec,
    ) -> Result<Status, Status> {
        let id = step
            .id
            .clone()
            .ok_or_else(|| Status::broken("a background probe needs an id"))?;
        let per_connection = match p {
            ProbeSpec::Stream { per_connection, .. } => *per_connection,
            // The probe's own query timeout.
            ProbeSpec::DnsStream { .. } => Duration::from_secs(2),
            _ => return Err(Status::broken("not a background probe")),
        };
        let run = self.probe_command(step, p, self.background_bound())?;
        let started = SystemTime::now();
        let mut stream = self
            .backend
            .probe_stream(&run.site, &run.args, &self.cx.namespace)
            .await
            .map_err(Status::from)?;
        let timeline = Arc::new(Mutex::new(Timeline::default()));
        let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let timeline = timeline.clone();
            tokio::spawn(async move {
                let mut first = Some(first_tx);
                while let Some(line) = stream.lines.recv().await {
                    let mut t = timeline.lock().unwrap_or_else(|e| e.into_inner());
                    t.feed(&line);
                    if t.epoch_ms.is_some()
                        && let Some(tx) = first.take()
                    {
                        let _ = tx.send(());
                    }
                }
            })
        };
        let handle = stream.handle;
        // The steps after this one run against a probe that is running already.
        let began = tokio::time::timeout(START_BOUND.min(step.timeout), first_rx).await;
        let mut bg = Background {
            handle,
            timeline,
            reader: Some(reader),
            per_attempt: per_connection,
            started,
            ended: None,
            windows: Vec::new(),
        };
        if !matches!(began, Ok(Ok(()))) {
            self.end(&mut bg).await;
            let noise = bg.lock().noise.join(" | ");
            return Err(Status::broken(format!(
                "background probe {id} did not start: {}",
                if noise.is_empty() {
                    "it printed nothing".into()
                } else {
                    noise
                }
            )));
        }
        self.state
            .outputs
            .entry(id.clone())
            .or_default()
            .insert("started".into(), rfc3339(started));
        self.state.background.insert(id, bg);
        Ok(Status::Passed)
    }

    /// Stop `bg` and read its last lines.
    async fn end(&self, bg: &mut Background) {
        let stopped = self.backend.end_stream(&bg.handle).await;
        if let Some(reader) = bg.reader.take() {
            let abort = reader.abort_handle();
            if tokio::time::timeout(DRAIN_BOUND, reader).await.is_err() {
                abort.abort();
            }
        }
        if let Err(e) = stopped {
            bg.lock().noise.push(format!("stopping it failed: {e}"));
        }
        bg.ended = Some(SystemTime::now());
    }

    pub(super) async fn stop_background(&mut self, id: &str) -> Result<Status, Status> {
        let mut bg = self
            .state
            .background
            .remove(id)
            .ok_or_else(|| Status::broken(format!("no background probe {id:?} is running")))?;
        if bg.ended.is_none() {
            self.end(&mut bg).await;
        }
        self.state.background.insert(id.to_string(), bg);
        Ok(Status::Passed)
    }

    /// At the variant's end: stop every background probe still running.
    pub(super) async fn stop_all_background(&mut self) {
        let ids: Vec<String> = self.state.background.keys().cloned().collect();
        for id in ids {
            let _ = self.stop_background(&id).await;
        }
    }

    /// The window of `d` in ms since its probe's stream began: from `from`'s start (or the
    /// probe's), until `until`'s end (or the probe's).
    fn window(&self, d: &During, bg: &Background, origin: f64) -> Result<Window, Status> {
        let times = |id: &str| {
            self.state
                .times
                .get(id)
                .copied()
                .ok_or_else(|| Status::broken(format!("step {id:?} has not run")))
        };
        let from = match &d.from {
            Some(id) => epoch_ms(times(id)?.0),
            None => epoch_ms(bg.started),
        };
        let to = match (&d.until, bg.ended) {
            (Some(id), _) => epoch_ms(times(id)?.1),
            (None, Some(end)) => epoch_ms(end),
            (None, None) => {
                return Err(Status::broken(format!(
                    "background probe {} is still running: its end is not known",
                    d.probe
                )));
            }
        };
        Ok(Window {
            from: from - origin,
            to: to - origin,
            target: d.target.as_ref().map(|t| self.resolve(t)).transpose()?,
        })
    }

    /// Judge `d` once its window is complete: every attempt started in it has reported.
    pub(super) async fn during(&mut self, d: &During) -> Result<Verdict, Status> {
        let bg = self
            .state
            .background
            .get(&d.probe)
            .ok_or_else(|| Status::broken(format!("no background probe {:?} ran", d.probe)))?;
        let Some(origin) = bg.origin() else {
            return Err(Status::broken(format!(
                "background probe {} never started its stream",
                d.probe
            )));
        };
        let w = self.window(d, bg, origin)?;
        if bg.ended.is_none() {
            // Attempts report when they end: at most one per-connection timeout after the
            // window, plus a little for the line to arrive.
            let complete =
                origin + w.to + (bg.per_attempt + Duration::from_secs(1)).as_secs_f64() * 1000.0;
            let now = epoch_ms(SystemTime::now());
            if complete > now {
                tokio::time::sleep(Duration::from_secs_f64((complete - now) / 1000.0)).await;
            }
        }
        let mut checks = Vec::new();
        for c in &d.checks {
            let names = |l: &[Template]| -> Result<Vec<String>, Status> {
                l.iter().map(|t| self.resolve(t)).collect()
            };
            checks.push(match c {
                DuringCheck::MaxFailures(n) => Check::MaxFailures(*n),
                DuringCheck::MinFailures(n) => Check::MinFailures(*n),
                DuringCheck::MaxFailureRatio(r) => Check::MaxFailureRatio(*r),
                DuringCheck::MaxGap(g) => Check::MaxGap(g.as_secs_f64() * 1000.0),
                DuringCheck::Only(l) => Check::Only(names(l)?),
                DuringCheck::Never(l) => Check::Never(names(l)?),
                DuringCheck::After { time, only } => {
                    let text = self.resolve(time)?;
                    let at = parse_time(&text).map_err(|e| {
                        Status::broken(format!("after.time {text:?} is not a time: {e}"))
                    })?;
                    Check::OnlyAfter {
                        at_ms: epoch_ms(at) - origin,
                        only: names(only)?,
                    }
                }
                DuringCheck::FirstSuccessWithin(t) => {
                    Check::FirstSuccessWithin(t.as_secs_f64() * 1000.0)
                }
                DuringCheck::P99Below(t) => Check::P99Below(t.as_secs_f64() * 1000.0),
            });
        }
        let bg = self
            .state
            .background
            .get_mut(&d.probe)
            .expect("looked up above");
        // Judged under the lock, not on a copy (the reader only appends).
        let timeline = bg.lock();
        let verdict = assert::during::evaluate(&timeline, &w, &checks);
        let summary = during::summary(&timeline, &w);
        let latencies = during::answered_latencies(&during::attempts(&timeline, &w));
        drop(timeline);
        bg.windows.push(json!({
            "from": d.from.as_deref().unwrap_or("start"),
            "until": d.until.as_deref().unwrap_or("end"),
            "target": w.target,
            "summary": summary,
            // Of the answered attempts (nearest rank), for comparing windows.
            "latency_ms": {
                "p50": during::quantile(&latencies, 0.5),
                "p99": during::quantile(&latencies, 0.99),
            },
            "held": verdict.is_ok(),
        }));
        self.extra.evidence = Some(summary);
        Ok(verdict)
    }
}
