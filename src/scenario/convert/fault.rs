//! Converting faults: disconnect/reconnect a node, netem and netem-clear, stop/start kubelet,
//! kill pods. Each names a node of the cluster (or a selector) and is undone by its pair or at
//! the variant's end.

use super::*;

/// `5%` or `5` → 5.0 (percent, 0 to 100).
pub fn percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let n: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("not a percentage: {text:?} (expected e.g. 5%)"))?;
    if !(0.0..=100.0).contains(&n) {
        return Err(format!("a percentage is between 0% and 100%, got {text:?}"));
    }
    Ok(n)
}

impl Converter<'_> {
    /// The step's fault, if it is one: the action and its label.
    pub(super) fn fault(
        &mut self,
        r: &raw::Step,
        at: &Position,
        field: &str,
        known: &Known,
    ) -> Option<Option<(Action, String)>> {
        let node = |cx: &mut Self, s: &S<String>, name: &str| {
            cx.node_name(s, &format!("{field}.{name}"), known)
        };
        let fault = if let Some(n) = &r.disconnect_node {
            Fault::Disconnect(node(self, n, "disconnect-node"))
        } else if let Some(n) = &r.reconnect_node {
            Fault::Reconnect(node(self, n, "reconnect-node"))
        } else if let Some(n) = &r.netem_clear {
            Fault::NetemClear(node(self, n, "netem-clear"))
        } else if let Some(n) = &r.stop_kubelet {
            Fault::StopKubelet(node(self, n, "stop-kubelet"))
        } else if let Some(n) = &r.start_kubelet {
            Fault::StartKubelet(node(self, n, "start-kubelet"))
        } else if let Some(n) = &r.netem {
            let f = format!("{field}.netem");
            let d = |cx: &mut Self, v: &Option<S<String>>, name: &str| match v {
                Some(v) => cx.dur(v, &format!("{f}.{name}")),
                None => Some(Duration::ZERO),
            };
            let delay = d(self, &n.delay, "delay");
            let jitter = d(self, &n.jitter, "jitter");
            let loss = match &n.loss {
                Some(l) => match percent(&l.value) {
                    Ok(p) => Some(p),
                    Err(m) => {
                        self.err(pos(self.file, l), &format!("{f}.loss"), m);
                        None
                    }
                },
                None => Some(0.0),
            };
            let (delay, jitter, loss) = (delay?, jitter?, loss?);
            if delay.is_zero() && loss == 0.0 {
                self.err(
                    at.clone(),
                    &f,
                    "netem needs a delay or a loss (e.g. delay: 200ms, loss: 5%)",
                );
                return Some(None);
            }
            if !jitter.is_zero() && delay.is_zero() {
                self.err(at.clone(), &format!("{f}.jitter"), "jitter needs a delay");
            }
            Fault::Netem {
                node: self.node_name(&n.node, &format!("{f}.node"), known),
                delay,
                jitter,
                loss,
                interface: n
                    .interface
                    .as_ref()
                    .map(|i| self.tpl(i, &format!("{f}.interface"), known)),
            }
        } else if let Some(k) = &r.kill_pods {
            let f = format!("{field}.kill-pods");
            if k.selector.value.trim().is_empty() {
                self.err(
                    pos(self.file, &k.selector),
                    &format!("{f}.selector"),
                    "a selector is required: an empty one would kill every pod",
                );
            }
            Fault::KillPods {
                selector: self.tpl(&k.selector, &format!("{f}.selector"), known),
                namespace: k
                    .namespace
                    .as_ref()
                    .map(|n| self.tpl(n, &format!("{f}.namespace"), known)),
            }
        } else {
            return None;
        };
        let label = fault.describe();
        Some(Some((Action::Fault(fault), label)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages() {
        assert_eq!(super::percent("5%").unwrap(), 5.0);
        assert_eq!(super::percent(" 0.5 % ").unwrap(), 0.5);
        assert_eq!(super::percent("100").unwrap(), 100.0);
        assert!(super::percent("101%").is_err());
        assert!(super::percent("lots").is_err());
    }
}
