//! Reports of a run: plain terminal lines (one block per variant, printed whole so parallel
//! output never interleaves), JUnit XML (a test case per scenario × variant; an assertion
//! failure is `<failure>`, a broken harness `<error>`, a gated variant `<skipped>`), and JSON
//! with per-phase timings.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::outcome::{Status, StepReport, VariantReport};

/// Where a run's time went, each phase as wall-clock time (the union of its intervals across
/// parallel clusters and variants), and what kindproof itself added.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phases {
    #[serde(serialize_with = "ms")]
    pub load: Duration,
    #[serde(serialize_with = "ms")]
    pub cluster_create: Duration,
    #[serde(serialize_with = "ms")]
    pub image_load: Duration,
    #[serde(serialize_with = "ms")]
    pub cluster_delete: Duration,
    /// Wall time the variants ran (their own steps, waits and probes).
    #[serde(serialize_with = "ms")]
    pub variants: Duration,
    /// What kindproof itself added: the part of the total covered by none of the above.
    #[serde(serialize_with = "ms")]
    pub harness: Duration,
    #[serde(serialize_with = "ms")]
    pub total: Duration,
    /// Namespaces still terminating when the run ended (deleted in the background, waited for
    /// once at the end, bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stragglers: Vec<String>,
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn steps_text(out: &mut String, steps: &[StepReport], indent: &str) {
    for s in steps {
        let (mark, detail) = match &s.status {
            Status::Passed => ("ok  ", String::new()),
            Status::Failed { message, observed } => (
                "FAIL",
                format!("\n{indent}      {message}\n{indent}      observed: {observed}"),
            ),
            Status::Broken { message, .. } => ("ERR ", format!("\n{indent}      {message}")),
            Status::Skipped { reason } => ("skip", format!(" ({reason})")),
        };
        let rounds = match s.rounds.len() {
            0 | 1 => String::new(),
            n => format!(" ({n} rounds)"),
        };
        let _ = writeln!(
            out,
            "{indent}{mark} {}{rounds} [{}]{detail}",
            s.name,
            secs(s.duration)
        );
        if let Some(e) = &s.evidence {
            let _ = writeln!(out, "{indent}      evidence: {e}");
        }
        steps_text(out, &s.finally, &format!("{indent}  finally: "));
    }
}

/// The terminal block of one variant.
pub fn variant_text(r: &VariantReport, verbose: bool) -> String {
    let mut out = String::new();
    let head = match &r.status {
        Status::Passed => "PASS ",
        Status::Failed { .. } => "FAIL ",
        Status::Broken { .. } => "ERROR",
        Status::Skipped { .. } => "SKIP ",
    };
    let _ = writeln!(
        out,
        "{head} {}/{} [{}]",
        r.scenario,
        r.variant,
        secs(r.duration)
    );
    match &r.status {
        Status::Passed if !verbose => {}
        Status::Skipped { reason } => {
            let _ = writeln!(out, "      {reason}");
        }
        _ => {
            let _ = writeln!(out, "      expect: {}", r.expect);
            if let Status::Broken { message, .. } = &r.status {
                let _ = writeln!(out, "      broken: {message}");
            }
            steps_text(&mut out, &r.steps, "      ");
            if !r.cleanup.is_empty() {
                let _ = writeln!(out, "      cleanup:");
                steps_text(&mut out, &r.cleanup, "        ");
            }
            if let Some(d) = &r.diagnostics {
                let _ = writeln!(out, "      diagnostics: {d}");
            }
        }
    }
    out
}

/// The closing summary line.
pub fn summary_text(reports: &[VariantReport], phases: &Phases) -> String {
    let count = |f: fn(&Status) -> bool| reports.iter().filter(|r| f(&r.status)).count();
    format!(
        "{} variant(s): {} passed, {} failed, {} broken, {} skipped in {}\n",
        reports.len(),
        count(|s| matches!(s, Status::Passed)),
        count(|s| matches!(s, Status::Failed { .. })),
        count(|s| matches!(s, Status::Broken { .. })),
        count(|s| matches!(s, Status::Skipped { .. })),
        secs(phases.total)
    )
}

fn step_lines(steps: &[StepReport]) -> String {
    let mut out = String::new();
    steps_text(&mut out, steps, "");
    out
}

/// JUnit XML: one suite per scenario, one case per variant.
pub fn junit(reports: &[VariantReport], phases: &Phases) -> String {
    let mut report = Report::new("kindproof");
    report.set_time(phases.total);
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in reports {
        if suites.last().is_none_or(|s| s.name.as_str() != r.scenario) {
            suites.push(TestSuite::new(r.scenario.clone()));
        }
        let status = match &r.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Failed { message, observed } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(message.clone())
                    .set_type("assertion")
                    .set_description(format!("observed: {observed}\n\n{}", step_lines(&r.steps)));
                s
            }
            Status::Broken { message, cause } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                // The kind of infrastructure that broke, where a backend call said.
                let kind = match cause {
                    Some(c) => format!("infrastructure: {c}"),
                    None => "infrastructure".into(),
                };
                s.set_message(message.clone())
                    .set_type(kind)
                    .set_description(step_lines(&r.steps));
                s
            }
            Status::Skipped { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(reason.clone());
                s
            }
        };
        let mut case = TestCase::new(r.variant.clone(), status);
        case.set_classname(r.scenario.clone()).set_time(r.duration);
        suites.last_mut().expect("pushed above").add_test_case(case);
    }
    report.add_test_suites(suites);
    report.to_string().expect("a JUnit report serializes")
}

#[derive(Serialize)]
struct JsonReport<'a> {
    kindproof: &'static str,
    passed: bool,
    phases: &'a Phases,
    variants: &'a [VariantReport],
    /// When each cluster and variant ran (see `timeline`); absent when nothing was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<&'a super::timeline::Timeline>,
}

/// JSON: every variant with its steps and timings, the run's phases and its timeline.
pub fn json(
    reports: &[VariantReport],
    phases: &Phases,
    timeline: Option<&super::timeline::Timeline>,
) -> String {
    serde_json::to_string_pretty(&JsonReport {
        kindproof: env!("CARGO_PKG_VERSION"),
        passed: reports
            .iter()
            .all(|r| matches!(r.status, Status::Passed | Status::Skipped { .. })),
        phases,
        variants: reports,
        timeline,
    })
    .expect("a report serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, status: Status, ms: u64) -> StepReport {
        StepReport {
            name: name.into(),
            status,
            duration: Duration::from_millis(ms),
            finally: vec![],
            rounds: vec![],
            evidence: None,
        }
    }

    fn reports() -> Vec<VariantReport> {
        let v = |variant: &str, status: Status, steps: Vec<StepReport>| VariantReport {
            scenario: "nodeport-shared-selector".into(),
            variant: variant.into(),
            expect: format!("what {variant} shows"),
            status,
            namespace: "kp-x-1".into(),
            duration: Duration::from_millis(1500),
            steps,
            cleanup: vec![],
            probes: Default::default(),
            timelines: Default::default(),
            diagnostics: None,
            kubernetes: Some("v1.36.2".into()),
            node_image: None,
        };
        vec![
            v(
                "bug",
                Status::Passed,
                vec![step("probe connect from host", Status::Passed, 900)],
            ),
            v(
                "mitigated-local-policy",
                Status::failed(
                    "172.18.0.3:30001: only pod-a answer",
                    "40 of 40 answered: pod-a 22, pod-b 18",
                ),
                vec![
                    step("probe connect from host", Status::Passed, 900),
                    StepReport {
                        evidence: Some("kp-x-worker: kubelet lease renewed at 2026-12-01T19:12:15.250Z (after the restart ended at 2026-12-01T19:12:11.700Z)".into()),
                        ..step("wait nodes ready", Status::Passed, 12_000)
                    },
                    StepReport {
                        rounds: vec![
                            crate::runner::observe::Round {
                                at: -0.002,
                                held: true,
                                observed: "40 of 40 answered: pod-a 40".into(),
                            },
                            crate::runner::observe::Round {
                                at: 1.0,
                                held: false,
                                observed: "40 of 40 answered: pod-a 22, pod-b 18".into(),
                            },
                        ],
                        ..step(
                            "assert routing conn 172.18.0.3:30001",
                            Status::failed(
                                "172.18.0.3:30001: only pod-a answer",
                                "40 of 40 answered: pod-a 22, pod-b 18",
                            ),
                            1,
                        )
                    },
                ],
            ),
            v(
                "mitigated-hostport",
                Status::broken("failed to start container: no such image"),
                vec![],
            ),
            v(
                "control",
                Status::Skipped {
                    reason: "needs kubernetes >=1.40; the cluster runs 1.36.2".into(),
                },
                vec![],
            ),
        ]
    }

    fn phases() -> Phases {
        Phases {
            total: Duration::from_secs(60),
            ..Default::default()
        }
    }

    #[test]
    fn terminal_output() {
        let text: String = reports()
            .iter()
            .map(|r| variant_text(r, false))
            .collect::<String>()
            + &summary_text(&reports(), &phases());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn junit_output() {
        insta::assert_snapshot!(junit(&reports(), &phases()));
    }

    #[test]
    fn json_output() {
        insta::assert_snapshot!(json(&reports(), &phases(), None));
    }
}
