//! Converting assertions: field, pod, routing, dns, result and endpoints, with their settle
//! rules and the step ids they read.

use super::*;

impl Converter<'_> {
    pub(super) fn step_ref(&mut self, s: &S<String>, field: &str, known: &Known) -> String {
        if !known.steps.contains_key(&s.value) {
            self.err(
                pos(self.file, s),
                field,
                format!("no earlier step has id `{}`", s.value),
            );
        }
        s.value.clone()
    }

    pub(super) fn assertion(
        &mut self,
        a: &raw::Assert,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<(Action, String)> {
        let kinds = [
            ("field", a.field.is_some()),
            ("pod", a.pod.is_some()),
            ("routing", a.routing.is_some()),
            ("dns", a.dns.is_some()),
            ("result", a.result.is_some()),
            ("endpoints", a.endpoints.is_some()),
            ("during", a.during.is_some()),
        ];
        if !self.exactly_one(at.clone(), field, "an assert", &kinds) {
            return None;
        }
        if let Some(d) = &a.during {
            return self.during(d, at, &format!("{field}.during"), known);
        }
        if let Some(f) = &a.field {
            let fld = format!("{field}.field");
            let target = self.object_ref(&f.target, &format!("{fld}.target"), known);
            let path: FieldPath = match f.path.value.parse() {
                Ok(p) => p,
                Err(m) => {
                    self.err(pos(self.file, &f.path), &format!("{fld}.path"), m);
                    return None;
                }
            };
            let mut checks = Vec::new();
            if let Some(v) = &f.equals {
                checks.push(FieldCheck::Equals(v.clone()));
            }
            if let Some(c) = &f.contains {
                checks.push(FieldCheck::Contains(self.tpl(
                    c,
                    &format!("{fld}.contains"),
                    known,
                )));
            }
            if let Some(m) = &f.matches {
                match regex_lite::Regex::new(&m.value) {
                    Ok(r) => checks.push(FieldCheck::Matches(r)),
                    Err(e) => self.err(
                        pos(self.file, m),
                        &format!("{fld}.matches"),
                        format!("not a regular expression: {e}"),
                    ),
                }
            }
            if let Some(n) = f.count {
                checks.push(FieldCheck::Count(n));
            }
            let options = [
                ("equals", f.equals.is_some()),
                ("contains", f.contains.is_some()),
                ("matches", f.matches.is_some()),
                ("count", f.count.is_some()),
            ];
            // A check that did not convert (a bad regex) has said why already.
            if !self.exactly_one(at.clone(), &fld, "a field assert", &options) || checks.len() != 1
            {
                return None;
            }
            let label = format!("assert {} {}", target.name.0, f.path.value);
            return Some((
                Action::Assert(Assertion::Field {
                    target,
                    path,
                    check: checks.remove(0),
                }),
                label,
            ));
        }
        if let Some(p) = &a.pod {
            let fld = format!("{field}.pod");
            let selector = self.tpl(&p.selector, &format!("{fld}.selector"), known);
            let container = p
                .container
                .as_ref()
                .map(|c| self.tpl(c, &format!("{fld}.container"), known));
            let mut checks = Vec::new();
            let v = |s: &Option<S<String>>| s.as_ref().map(|x| x.value.clone());
            if let Some(x) = v(&p.phase) {
                checks.push(PodCheck::Phase(x));
            }
            if let Some(x) = p.ready {
                checks.push(PodCheck::Ready(x));
            }
            if let Some(x) = v(&p.waiting_reason) {
                checks.push(PodCheck::WaitingReason(x));
            }
            if let Some(x) = v(&p.terminated_reason) {
                checks.push(PodCheck::TerminatedReason(x));
            }
            if let Some(x) = p.min_restarts {
                checks.push(PodCheck::MinRestarts(x));
            }
            if let Some(x) = p.max_restarts {
                checks.push(PodCheck::MaxRestarts(x));
            }
            if let Some(x) = p.last_exit_code {
                checks.push(PodCheck::LastExitCode(x));
            }
            if let Some(x) = &p.logs_contain {
                checks.push(PodCheck::LogsContain(self.tpl(
                    x,
                    &format!("{fld}.logsContain"),
                    known,
                )));
            }
            if let Some(x) = &p.previous_logs_contain {
                checks.push(PodCheck::PreviousLogsContain(self.tpl(
                    x,
                    &format!("{fld}.previousLogsContain"),
                    known,
                )));
            }
            if let Some(x) = v(&p.event_reason) {
                checks.push(PodCheck::EventReason(x));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a pod assert needs at least one check");
                return None;
            }
            let label = format!("assert pods {}", selector.0);
            return Some((
                Action::Assert(Assertion::Pod {
                    selector,
                    container,
                    checks,
                }),
                label,
            ));
        }
        if let Some(r) = &a.routing {
            let fld = format!("{field}.routing");
            let probe = self.step_ref(&r.probe, &format!("{fld}.probe"), known);
            self.not_background(&r.probe, &format!("{fld}.probe"), known);
            let target = self.tpl(&r.target, &format!("{fld}.target"), known);
            let mut checks = Vec::new();
            let list = |cx: &mut Self, l: &Option<Vec<S<String>>>, name: &str| {
                l.as_ref().map(|v| {
                    v.iter()
                        .enumerate()
                        .map(|(i, s)| cx.tpl(s, &format!("{fld}.{name}[{i}]"), known))
                        .collect::<Vec<_>>()
                })
            };
            if let Some(x) = list(self, &r.only, "only") {
                checks.push(RoutingCheck::Only(x));
            }
            if let Some(x) = list(self, &r.includes, "includes") {
                checks.push(RoutingCheck::Includes(x));
            }
            if let Some(x) = list(self, &r.excludes, "excludes") {
                checks.push(RoutingCheck::Excludes(x));
            }
            if let Some(x) = r.min_distinct {
                checks.push(RoutingCheck::MinDistinct(x));
            }
            if let Some(x) = r.min_share {
                if !(0.0..=1.0).contains(&x) {
                    self.err(
                        at.clone(),
                        &format!("{fld}.minShare"),
                        "a share is between 0 and 1",
                    );
                }
                checks.push(RoutingCheck::MinShare(x));
            }
            if let Some(x) = r.unreachable {
                checks.push(RoutingCheck::Unreachable(x));
            }
            if checks.is_empty() {
                self.err(
                    at.clone(),
                    &fld,
                    "a routing assert needs at least one check",
                );
                return None;
            }
            let negative = checks.iter().any(RoutingCheck::forbids);
            let settle = self.settle(&r.settle, r.settle_rounds, negative, at, &fld);
            let label = format!("assert routing {} {}", probe, target.0);
            return Some((
                Action::Assert(Assertion::Routing {
                    probe,
                    target,
                    checks,
                    settle,
                }),
                label,
            ));
        }
        if let Some(d) = &a.dns {
            let fld = format!("{field}.dns");
            let probe = self.step_ref(&d.probe, &format!("{fld}.probe"), known);
            self.not_background(&d.probe, &format!("{fld}.probe"), known);
            let since = d
                .since
                .as_ref()
                .map(|s| self.tpl(s, &format!("{fld}.since"), known));
            let mut checks = Vec::new();
            if let Some(x) = d.resolved {
                checks.push(DnsCheck::Resolved(x));
            }
            if let Some(w) = &d.within {
                let bound = self.dur(w, &format!("{fld}.within"))?;
                checks.push(DnsCheck::Within {
                    bound,
                    since: since.clone(),
                });
            }
            if let Some(w) = &d.not_before {
                let bound = self.dur(w, &format!("{fld}.notBefore"))?;
                checks.push(DnsCheck::NotBefore {
                    bound,
                    since: since.clone(),
                });
            }
            if let Some(c) = &d.seen_before_success {
                checks.push(DnsCheck::SeenBeforeSuccess(c.value.clone()));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a dns assert needs at least one check");
                return None;
            }
            let negative = checks.iter().any(DnsCheck::forbids);
            let settle = self.settle(&d.settle, d.settle_rounds, negative, at, &fld);
            let label = format!("assert dns {probe}");
            return Some((
                Action::Assert(Assertion::Dns {
                    probe,
                    checks,
                    settle,
                }),
                label,
            ));
        }
        if let Some(r) = &a.result {
            let fld = format!("{field}.result");
            let step = self.step_ref(&r.step, &format!("{fld}.step"), known);
            let mut checks = Vec::new();
            if let Some(x) = r.exit_code {
                checks.push(ResultCheck::ExitCode(x));
            }
            if let Some(x) = &r.stdout_contains {
                checks.push(ResultCheck::StdoutContains(self.tpl(
                    x,
                    &format!("{fld}.stdoutContains"),
                    known,
                )));
            }
            if let Some(x) = &r.stderr_contains {
                checks.push(ResultCheck::StderrContains(self.tpl(
                    x,
                    &format!("{fld}.stderrContains"),
                    known,
                )));
            }
            if let Some(x) = &r.reason {
                checks.push(ResultCheck::Reason(x.value.clone()));
            }
            if let Some(x) = &r.message_contains {
                checks.push(ResultCheck::MessageContains(self.tpl(
                    x,
                    &format!("{fld}.messageContains"),
                    known,
                )));
            }
            if checks.is_empty() {
                self.err(at.clone(), &fld, "a result assert needs at least one check");
                return None;
            }
            let label = format!("assert result of {step}");
            return Some((Action::Assert(Assertion::Result { step, checks }), label));
        }
        let e = a.endpoints.as_ref().expect("one assert kind");
        let fld = format!("{field}.endpoints");
        let service = self.tpl(&e.service, &format!("{fld}.service"), known);
        let nodes = e.nodes.as_ref().map(|v| {
            v.iter()
                .enumerate()
                .map(|(i, n)| self.node_name(n, &format!("{fld}.nodes[{i}]"), known))
                .collect()
        });
        let label = format!("assert endpoints of {}", service.0);
        Some((
            Action::Assert(Assertion::Endpoints {
                service,
                ready: e.ready,
                nodes,
            }),
            label,
        ))
    }
}
