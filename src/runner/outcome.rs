//! What running a scenario produced, at step and variant level. "The assertion failed" and "the
//! harness broke" are different outcomes, with different exit codes and report elements.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    Passed,
    /// The cluster did not behave as asserted; `observed` is the last value seen.
    Failed {
        message: String,
        observed: String,
    },
    /// The harness or the infrastructure failed; says nothing about the behaviour.
    Broken {
        message: String,
        /// What broke, when a backend call did (`docker`, `kubernetes-api`, `timeout`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        cause: Option<&'static str>,
    },
    /// Not run, and why (a version gate, or an earlier step that did not pass).
    Skipped {
        reason: String,
    },
}

impl From<super::backend::BackendError> for Status {
    fn from(e: super::backend::BackendError) -> Self {
        Self::Broken {
            message: e.to_string(),
            cause: Some(e.cause()),
        }
    }
}

impl Status {
    pub fn failed(message: impl Into<String>, observed: impl Into<String>) -> Self {
        Self::Failed {
            message: message.into(),
            observed: observed.into(),
        }
    }

    pub fn broken(message: impl Into<String>) -> Self {
        Self::Broken {
            message: message.into(),
            cause: None,
        }
    }

    pub fn is_passed(&self) -> bool {
        matches!(self, Self::Passed)
    }

    /// Which of two outcomes a report shows for the whole: broken over failed over passed.
    fn rank(&self) -> u8 {
        match self {
            Self::Passed => 0,
            Self::Skipped { .. } => 1,
            Self::Failed { .. } => 2,
            Self::Broken { .. } => 3,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    #[serde(flatten)]
    pub status: Status,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<StepReport>,
    /// An assertion on a probe, observed round by round: what each round saw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<super::observe::Round>,
    /// A wait after a node restart or pause: the evidence that the status it believed was
    /// written after the disruption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub scenario: String,
    pub variant: String,
    pub expect: String,
    #[serde(flatten)]
    pub status: Status,
    pub namespace: String,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    pub steps: Vec<StepReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<StepReport>,
    /// What each probe step observed, by step id (connect tallies, dns summaries, bind records).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub probes: std::collections::BTreeMap<String, serde_json::Value>,
    /// Every background probe's timeline, by step id (for the diagnostics bundle).
    #[serde(skip)]
    pub timelines: std::collections::BTreeMap<String, crate::probe::timeline::Timeline>,
    /// Where the diagnostics bundle of a variant that did not pass was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// The API server's version as it states it (`v1.36.2`), when the run had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<String>,
    /// The node image its cluster was made from, when the run named it (a matrix always does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_image: Option<String>,
}

impl VariantReport {
    /// A variant that ran no step (skipped by a gate, or its cluster could not be had).
    pub fn without_steps(
        scenario: &str,
        variant: &str,
        expect: &str,
        status: Status,
        namespace: &str,
    ) -> Self {
        Self {
            scenario: scenario.to_string(),
            variant: variant.to_string(),
            expect: expect.to_string(),
            status,
            namespace: namespace.to_string(),
            duration: Duration::ZERO,
            steps: Vec::new(),
            cleanup: Vec::new(),
            probes: Default::default(),
            timelines: Default::default(),
            diagnostics: None,
            kubernetes: None,
            node_image: None,
        }
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
}

/// The overall status of steps: the worst one (a failed step's `finally` counts too).
pub fn overall<'a>(steps: impl IntoIterator<Item = &'a StepReport>) -> Status {
    let mut worst = Status::Passed;
    for s in steps {
        for st in std::iter::once(&s.status).chain(s.finally.iter().map(|f| &f.status)) {
            if matches!(st, Status::Skipped { .. }) {
                continue;
            }
            if st.rank() > worst.rank() {
                worst = st.clone();
            }
        }
    }
    worst
}
