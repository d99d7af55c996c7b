//! Converting what background probes add: `assert.during` (its window checked against the
//! steps before it: a window that ends at `end` needs the probe stopped first) and `stop`.

use super::*;

impl Converter<'_> {
    /// A background probe step named by `s`, defined before.
    fn background_ref(&mut self, s: &S<String>, field: &str, known: &Known) -> String {
        if !known.background.contains(&s.value) {
            let why = if known.steps.contains_key(&s.value) {
                format!(
                    "step `{}` is not a background probe (probe: {{background: true, connect: {{interval: …}}}})",
                    s.value
                )
            } else {
                format!("no earlier step has id `{}`", s.value)
            };
            self.err(pos(self.file, s), field, why);
        }
        s.value.clone()
    }

    /// A probe an ordinary assertion judges must not be a background one.
    pub(super) fn not_background(&mut self, s: &S<String>, field: &str, known: &Known) {
        if known.background.contains(&s.value) {
            self.err(
                pos(self.file, s),
                field,
                format!(
                    "`{}` is a background probe: judge its timeline with assert.during",
                    s.value
                ),
            );
        }
    }

    pub(super) fn stop(&mut self, s: &raw::StopProbe, field: &str, known: &Known) -> Action {
        let f = format!("{field}.stop.probe");
        let probe = self.background_ref(&s.probe, &f, known);
        if known.stopped.contains(&probe) {
            self.err(
                pos(self.file, &s.probe),
                &f,
                format!("background probe `{probe}` is already stopped"),
            );
        }
        Action::Stop(probe)
    }

    pub(super) fn during(
        &mut self,
        d: &raw::DuringAssert,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<(Action, String)> {
        let probe = self.background_ref(&d.probe, &format!("{field}.probe"), known);
        let from = d
            .from
            .as_ref()
            .map(|s| self.step_ref(s, &format!("{field}.from"), known));
        let until = match &d.until {
            Some(s) if s.value != "end" => Some(self.step_ref(s, &format!("{field}.until"), known)),
            _ => None,
        };
        if until.is_none() && known.background.contains(&probe) && !known.stopped.contains(&probe) {
            let where_ = d.until.as_ref().map_or(at.clone(), |u| pos(self.file, u));
            self.err(
                where_,
                &format!("{field}.until"),
                format!(
                    "background probe `{probe}` is still running here, so its end is not known: stop it first (stop: {{probe: {probe}}}) or end the window at a step (until: <step id>)"
                ),
            );
        }
        let mut checks = Vec::new();
        if let Some(n) = d.max_failures {
            checks.push(DuringCheck::MaxFailures(n));
        }
        if let Some(n) = d.min_failures {
            checks.push(DuringCheck::MinFailures(n));
        }
        if let Some(r) = d.max_failure_ratio {
            if (0.0..=1.0).contains(&r) {
                checks.push(DuringCheck::MaxFailureRatio(r));
            } else {
                self.err(
                    at.clone(),
                    &format!("{field}.maxFailureRatio"),
                    format!("a ratio is between 0 and 1, got {r}"),
                );
            }
        }
        for (value, name, make) in [
            (
                &d.max_gap,
                "maxGap",
                DuringCheck::MaxGap as fn(Duration) -> DuringCheck,
            ),
            (
                &d.first_success_within,
                "firstSuccessWithin",
                DuringCheck::FirstSuccessWithin,
            ),
            (&d.p99_below, "p99Below", DuringCheck::P99Below),
        ] {
            if let Some(v) = value
                && let Some(t) = self.dur(v, &format!("{field}.{name}"))
            {
                checks.push(make(t));
            }
        }
        let list = |cx: &mut Self, l: &[S<String>], name: &str| -> Vec<Template> {
            if l.is_empty() {
                cx.err(
                    at.clone(),
                    &format!("{field}.{name}"),
                    "name at least one backend",
                );
            }
            l.iter()
                .enumerate()
                .map(|(i, s)| cx.tpl(s, &format!("{field}.{name}[{i}]"), known))
                .collect()
        };
        if let Some(o) = &d.only {
            checks.push(DuringCheck::Only(list(self, o, "only")));
        }
        if let Some(n) = &d.never {
            checks.push(DuringCheck::Never(list(self, n, "never")));
        }
        if let Some(a) = &d.after {
            let only = list(self, &a.only, "after.only");
            checks.push(DuringCheck::After {
                time: self.tpl(&a.time, &format!("{field}.after.time"), known),
                only,
            });
        }
        if checks.is_empty() {
            self.err(
                at.clone(),
                field,
                "a during assertion needs at least one check (maxFailures, minFailures, maxFailureRatio, maxGap, only, never, after, firstSuccessWithin, p99Below)",
            );
            return None;
        }
        let target = d
            .target
            .as_ref()
            .map(|t| self.tpl(t, &format!("{field}.target"), known));
        let label = format!(
            "assert during {probe} from {} until {}",
            from.as_deref().unwrap_or("its start"),
            until.as_deref().unwrap_or("its end")
        );
        Some((
            Action::Assert(Assertion::During(During {
                probe,
                from,
                until,
                target,
                checks,
            })),
            label,
        ))
    }
}
