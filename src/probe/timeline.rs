//! A background probe's timeline, kept compact while its stream is read: every attempt as 12
//! bytes (start and latency as `f32` ms, class, target and backend as small indexes into name
//! tables), so that 200,000 attempts take about 2.4 MB, not the 40 MB of their JSON lines.
//! Lines are decoded one at a time (`feed`); nothing of a line is kept but its attempt. A dns
//! probe's queries are attempts too: answered with addresses (the "backend" is the addresses
//! given, sorted and joined by commas), NXDOMAIN, timed out, or answered otherwise (another
//! code, or no record of the type).

use std::io::Write;

use kindproof_probe::protocol::{ATTEMPT, AttemptRecord, DNS, STREAM, StreamStart};
use serde_json::Value;

/// An attempt's class: every attempt lands in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Class {
    Answered,
    Refused,
    Timeout,
    Closed,
    BadAnswer,
    Error,
    /// A dns query answered NXDOMAIN.
    NxDomain,
}

impl Class {
    pub const ALL: [Class; 7] = [
        Class::Answered,
        Class::Refused,
        Class::Timeout,
        Class::Closed,
        Class::BadAnswer,
        Class::Error,
        Class::NxDomain,
    ];

    /// The protocol's name (`bad-answer`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Answered => "answered",
            Class::Refused => "refused",
            Class::Timeout => "timeout",
            Class::Closed => "closed",
            Class::BadAnswer => "bad-answer",
            Class::Error => "error",
            Class::NxDomain => "nxdomain",
        }
    }

    /// In a sentence: `15 refused`, `3 closed without an answer`.
    pub fn words(self) -> &'static str {
        match self {
            Class::Answered => "answered",
            Class::Refused => "refused",
            Class::Timeout => "timed out",
            Class::Closed => "closed without an answer",
            Class::BadAnswer => "answered otherwise",
            Class::Error => "failed otherwise",
            Class::NxDomain => "NXDOMAIN",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// One attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// When it started, ms since the stream began.
    pub t_ms: f32,
    pub latency_ms: f32,
    pub class: Class,
    /// Index into [`Timeline::targets`].
    pub target: u8,
    /// Index into [`Timeline::backends`] (meaningful for `Answered` only).
    pub backend: u16,
}

/// A background probe's attempts so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Wall-clock ms since the Unix epoch when the stream began (`None`: no `stream` line yet).
    pub epoch_ms: Option<u64>,
    pub targets: Vec<String>,
    pub backends: Vec<String>,
    pub attempts: Vec<Attempt>,
    /// Lines that were not JSON (the probe's or the exec's complaints), the first few.
    pub noise: Vec<String>,
}

const NOISE_KEPT: usize = 8;

fn index<T: TryFrom<usize>>(names: &mut Vec<String>, name: &str, max: usize) -> Option<T> {
    let i = match names.iter().position(|n| n == name) {
        Some(i) => i,
        None if names.len() < max => {
            names.push(name.to_string());
            names.len() - 1
        }
        None => return None,
    };
    T::try_from(i).ok()
}

impl Timeline {
    /// Read one line of the probe's stream. A line that is not one of the stream's events
    /// is ignored (a summary, say); a line that is not JSON is kept as noise (a few).
    pub fn feed(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            if self.noise.len() < NOISE_KEPT {
                self.noise.push(line.chars().take(200).collect());
            }
            return;
        };
        match v["event"].as_str() {
            Some(STREAM) => {
                if let Ok(s) = serde_json::from_value::<StreamStart>(v) {
                    self.epoch_ms = Some(s.epoch_ms);
                    for t in s.targets {
                        let _ = index::<u8>(&mut self.targets, &t, u8::MAX as usize);
                    }
                }
            }
            Some(DNS) => {
                let name = v["name"].as_str().unwrap_or("").to_string();
                let mut addresses: Vec<&str> = v["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                addresses.sort_unstable();
                let class = match v["code"].as_str() {
                    Some("NOERROR") if !addresses.is_empty() => Class::Answered,
                    Some("NXDOMAIN") => Class::NxDomain,
                    Some("TIMEOUT") => Class::Timeout,
                    Some("ERROR") => Class::Error,
                    _ => Class::BadAnswer,
                };
                let record = AttemptRecord {
                    target: name,
                    t_ms: v["t_ms"].as_f64().unwrap_or(0.0),
                    outcome: class.name().into(),
                    backend: (class == Class::Answered).then(|| addresses.join(",")),
                    latency_ms: v["latency_ms"].as_f64().unwrap_or(0.0),
                };
                self.push(record);
            }
            Some(ATTEMPT) => {
                if let Ok(a) = serde_json::from_value::<AttemptRecord>(v) {
                    self.push(a);
                }
            }
            _ => {}
        }
    }

    fn push(&mut self, a: AttemptRecord) {
        let class = Class::parse(&a.outcome).unwrap_or(Class::Error);
        let Some(target) = index::<u8>(&mut self.targets, &a.target, u8::MAX as usize) else {
            return;
        };
        let backend = match (&a.backend, class) {
            (Some(b), Class::Answered) => {
                index::<u16>(&mut self.backends, b, u16::MAX as usize).unwrap_or(0)
            }
            _ => 0,
        };
        self.attempts.push(Attempt {
            t_ms: a.t_ms as f32,
            latency_ms: a.latency_ms as f32,
            class,
            target,
            backend,
        });
    }

    /// Who answered attempt `a` (`None` unless it was answered).
    pub fn backend_of(&self, a: &Attempt) -> Option<&str> {
        (a.class == Class::Answered)
            .then(|| self.backends.get(a.backend as usize).map(String::as_str))
            .flatten()
    }

    /// Where the stream's ms count from, as ms since the Unix epoch.
    pub fn origin(&self) -> Option<f64> {
        self.epoch_ms.map(|e| e as f64)
    }

    /// The latest start of an attempt seen so far (ms since the stream began).
    pub fn latest_start(&self) -> Option<f64> {
        self.attempts
            .iter()
            .map(|a| f64::from(a.t_ms))
            .max_by(f64::total_cmp)
    }

    /// Every attempt as a JSON line, in start order, with wall-clock times (for the
    /// diagnostics bundle).
    pub fn write_jsonl(&self, mut w: impl Write) -> std::io::Result<()> {
        let mut order: Vec<&Attempt> = self.attempts.iter().collect();
        order.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        let origin = self.epoch_ms.unwrap_or(0);
        for a in order {
            let line = serde_json::json!({
                "epoch_ms": origin as f64 + f64::from(a.t_ms),
                "t_ms": a.t_ms,
                "target": self.targets.get(a.target as usize),
                "outcome": a.class.name(),
                "backend": self.backend_of(a),
                "latency_ms": a.latency_ms,
            });
            writeln!(w, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Attempt>(), 12);
    }

    #[test]
    fn reads_a_stream_line_by_line() {
        let mut t = Timeline::default();
        for line in [
            r#"{"time":"x","event":"stream","epoch_ms":1000,"interval_ms":20.0,"targets":["a:1","b:2"]}"#,
            r#"{"time":"x","event":"attempt","target":"b:2","t_ms":20.0,"outcome":"refused","latency_ms":0.2}"#,
            r#"{"time":"x","event":"attempt","target":"a:1","t_ms":0.5,"outcome":"answered","backend":"pod-a","latency_ms":0.8}"#,
            "Error from server: not json",
            r#"{"time":"x","event":"connect-summary","target":"a:1"}"#,
        ] {
            t.feed(line);
        }
        assert_eq!(t.epoch_ms, Some(1000));
        assert_eq!(t.targets, ["a:1", "b:2"]);
        assert_eq!(t.attempts.len(), 2);
        assert_eq!(t.attempts[0].class, Class::Refused);
        assert_eq!(t.attempts[0].target, 1);
        assert_eq!(t.backend_of(&t.attempts[1]), Some("pod-a"));
        assert_eq!(t.backend_of(&t.attempts[0]), None);
        assert_eq!(t.noise.len(), 1);
        assert_eq!(t.latest_start(), Some(20.0));
        let mut out = Vec::new();
        t.write_jsonl(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["backend"], "pod-a", "in start order: {text}");
        assert_eq!(first["epoch_ms"], 1000.5);
    }

    #[test]
    fn dns_queries_are_attempts_answered_by_their_addresses() {
        let mut t = Timeline::default();
        for line in [
            r#"{"event":"stream","epoch_ms":5,"interval_ms":20.0,"targets":["web.ns"]}"#,
            r#"{"event":"dns","name":"web.ns","code":"NXDOMAIN","addresses":[],"t_ms":0.1,"latency_ms":1.0}"#,
            r#"{"event":"dns","name":"web.ns","code":"NOERROR","addresses":["10.0.0.9","10.0.0.2"],"t_ms":20.0,"latency_ms":1.0}"#,
            r#"{"event":"dns","name":"web.ns","code":"NOERROR","addresses":[],"t_ms":40.0,"latency_ms":1.0}"#,
            r#"{"event":"dns","name":"web.ns","code":"TIMEOUT","addresses":[],"t_ms":60.0,"latency_ms":2000.0}"#,
        ] {
            t.feed(line);
        }
        let classes: Vec<Class> = t.attempts.iter().map(|a| a.class).collect();
        assert_eq!(
            classes,
            [
                Class::NxDomain,
                Class::Answered,
                Class::BadAnswer,
                Class::Timeout
            ]
        );
        assert_eq!(t.backend_of(&t.attempts[1]), Some("10.0.0.2,10.0.0.9"));
        assert_eq!(t.targets, ["web.ns"]);
    }
}
