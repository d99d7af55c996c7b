//! What the engine keeps of a variant's background probes and faults while it runs: a
//! probe's stream handle and timeline, the windows judged so far; a fault in force and how to
//! undo it. The engine's steps (`engine_background`, `engine_fault`) fill these in.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::backend::{NodeFault, StreamHandle};
use crate::assert::during::{self, Window};
use crate::cluster::provider::Node;
use crate::probe::timeline::Timeline;

/// A background probe of this variant.
pub struct Background {
    pub handle: StreamHandle,
    pub timeline: Arc<Mutex<Timeline>>,
    pub reader: Option<JoinHandle<()>>,
    /// An attempt's longest time (its per-connection timeout).
    pub per_attempt: Duration,
    pub started: SystemTime,
    pub ended: Option<SystemTime>,
    /// The windows judged so far, for the report.
    pub windows: Vec<Value>,
}

impl Background {
    /// The timeline, locked (the reader only appends; hold it briefly).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.timeline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timeline, moved out (the variant has ended: its reader is done with it).
    pub fn take(&self) -> Timeline {
        std::mem::take(&mut *self.lock())
    }

    /// When its stream began (ms since the epoch), without copying the timeline.
    pub fn origin(&self) -> Option<f64> {
        self.lock().origin()
    }

    /// Everything it saw, for the JSON report: every attempt counted, and each window judged.
    pub fn report(&self) -> Value {
        let t = self.lock();
        // From the first attempt's start to the last one's: what the stream covered.
        let (first, last) = t.attempts.iter().fold((f32::MAX, 0f32), |(lo, hi), a| {
            (lo.min(a.t_ms), hi.max(a.t_ms))
        });
        let whole = Window {
            from: if t.attempts.is_empty() {
                0.0
            } else {
                f64::from(first)
            },
            to: f64::from(last),
            target: None,
        };
        json!({
            "background": true,
            "targets": t.targets,
            "attempts": t.attempts.len(),
            "summary": during::summary(&t, &whole),
            "windows": self.windows,
            "noise": t.noise,
        })
    }
}

/// A fault in force, and how to undo it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// One per node and kind of fault: `netem worker`.
    pub key: String,
    pub node: Node,
    pub undo: Undo,
    pub began: SystemTime,
}

#[derive(Debug, Clone)]
pub enum Undo {
    Reconnect,
    Fault(NodeFault),
}
