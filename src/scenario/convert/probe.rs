//! Converting probes: connect, dns and bind, with their bounded counts and intervals.

use super::*;

impl Converter<'_> {
    /// A background probe's `interval`: present, and at least 1ms. With the text as written.
    fn background_interval(
        &mut self,
        interval: Option<&crate::kind_config::model::S<String>>,
        at: &Position,
        f: &str,
        example: &str,
    ) -> Option<(Duration, String)> {
        let Some(i) = interval else {
            self.err(
                at.clone(),
                &format!("{f}.interval"),
                format!("a background probe needs an interval (e.g. interval: {example})"),
            );
            return None;
        };
        let d = self.dur(i, &format!("{f}.interval"))?;
        if d < Duration::from_millis(1) {
            self.err(
                pos(self.file, i),
                &format!("{f}.interval"),
                "an interval is at least 1ms",
            );
            return None;
        }
        Some((d, i.value.clone()))
    }

    /// A background connect probe: an interval instead of a count.
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &mut self,
        c: &raw::ConnectProbe,
        from: From,
        targets: Vec<Template>,
        per_connection: Duration,
        http: bool,
        at: &Position,
        f: &str,
    ) -> Option<(Action, String)> {
        for (set, name) in [
            (c.count.is_some(), "count"),
            (c.concurrency.is_some(), "concurrency"),
        ] {
            if set {
                self.err(
                    at.clone(),
                    &format!("{f}.{name}"),
                    format!("{name} does not apply to a background probe: it makes one attempt per target every interval"),
                );
            }
        }
        let (interval, every) = self.background_interval(c.interval.as_ref(), at, f, "50ms")?;
        let label = format!(
            "probe connect from {} every {every} (background)",
            c.from.value
        );
        Some((
            Action::Probe(ProbeSpec::Stream {
                from,
                targets,
                interval,
                per_connection,
                http,
            }),
            label,
        ))
    }

    pub(super) fn probe(
        &mut self,
        p: &raw::Probe,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<(Action, String)> {
        match (&p.connect, &p.dns, &p.bind) {
            (Some(c), None, None) => {
                let f = format!("{field}.connect");
                let from = self.from(&c.from, &format!("{f}.from"), known)?;
                if c.targets.is_empty() {
                    self.err(
                        at.clone(),
                        &format!("{f}.targets"),
                        "at least one target is required",
                    );
                }
                let targets = c
                    .targets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.tpl(t, &format!("{f}.targets[{i}]"), known))
                    .collect();
                let http = match c.proto.unwrap_or(Proto::Tcp) {
                    Proto::Tcp => false,
                    Proto::Http => true,
                };
                let per_connection = match &c.per_connection_timeout {
                    Some(d) => self.dur(d, &format!("{f}.perConnectionTimeout"))?,
                    None => Duration::from_secs(2),
                };
                if p.background {
                    return self.stream(c, from, targets, per_connection, http, at, &f);
                }
                if let Some(i) = &c.interval {
                    self.err(
                        pos(self.file, i),
                        &format!("{f}.interval"),
                        "an interval paces a background probe: add background: true, or use count",
                    );
                }
                let label = format!("probe connect from {}", c.from.value);
                Some((
                    Action::Probe(ProbeSpec::Connect {
                        from,
                        targets,
                        count: self.bounded(&c.count, &format!("{f}.count"), 40, 1..=MAX_COUNT)?,
                        concurrency: self.bounded(
                            &c.concurrency,
                            &format!("{f}.concurrency"),
                            4,
                            1..=MAX_CONCURRENCY,
                        )?,
                        per_connection,
                        http,
                    }),
                    label,
                ))
            }
            (None, None, Some(_)) if p.background => {
                self.err(
                    at.clone(),
                    &format!("{field}.background"),
                    "only connect and dns probes run in the background (a bind probe ends by itself)",
                );
                None
            }
            (None, Some(d), None) if p.background => {
                let f = format!("{field}.dns");
                let from = self.from(&d.from, &format!("{f}.from"), known)?;
                let name = self.tpl(&d.name, &format!("{f}.name"), known);
                if let Some(u) = &d.until {
                    self.err(
                        pos(self.file, u),
                        &format!("{f}.until"),
                        "a background probe runs until it is stopped: leave until out",
                    );
                }
                let (interval, every) =
                    self.background_interval(d.interval.as_ref(), at, &f, "100ms")?;
                let label = format!(
                    "probe dns {} from {} every {every} (background)",
                    d.name.value, d.from.value
                );
                Some((
                    Action::Probe(ProbeSpec::DnsStream {
                        from,
                        name,
                        interval,
                    }),
                    label,
                ))
            }
            (None, Some(d), None) => {
                let f = format!("{field}.dns");
                let from = self.from(&d.from, &format!("{f}.from"), known)?;
                let name = self.tpl(&d.name, &format!("{f}.name"), known);
                let interval = match &d.interval {
                    Some(i) => {
                        let d = self.dur(i, &format!("{f}.interval"))?;
                        if d.is_zero() {
                            self.err(
                                pos(self.file, i),
                                &format!("{f}.interval"),
                                "an interval of 0 would query without pause: name one of at least 1ms",
                            );
                            return None;
                        }
                        d
                    }
                    None => Duration::from_millis(20),
                };
                let until = match d.until.as_ref().map(|u| u.value.as_str()) {
                    None | Some("until-resolved") => DnsUntil::Resolved,
                    Some("once") => DnsUntil::Once,
                    Some(_) => DnsUntil::For(
                        self.dur(d.until.as_ref().expect("some"), &format!("{f}.until"))?,
                    ),
                };
                let label = format!("probe dns {} from {}", d.name.value, d.from.value);
                Some((
                    Action::Probe(ProbeSpec::Dns {
                        from,
                        name,
                        interval,
                        until,
                    }),
                    label,
                ))
            }
            (None, None, Some(b)) => {
                let f = format!("{field}.bind");
                let from = self.from(&b.from, &format!("{f}.from"), known)?;
                let address = self.tpl(&b.address, &format!("{f}.address"), known);
                let label = format!("probe bind {} from {}", b.address.value, b.from.value);
                Some((Action::Probe(ProbeSpec::Bind { from, address }), label))
            }
            _ => {
                let modes = [
                    ("connect", p.connect.is_some()),
                    ("dns", p.dns.is_some()),
                    ("bind", p.bind.is_some()),
                ];
                self.exactly_one(at.clone(), field, "a probe", &modes);
                None
            }
        }
    }
}
