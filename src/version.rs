//! Versions as servers and tools state them — `v1.36.2`, `v1.36.0-rc.1`, `v1.33.1+k3s1` —
//! ordered as semver orders them (a pre-release before its release; build metadata ignored),
//! and shown as they were stated.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The pre-release identifiers (`rc.1`), if any.
    pub pre: Option<String>,
    /// As stated (`v1.36.2`).
    pub text: String,
}

impl Version {
    /// `1`, `1.36`, `v1.36.2`, `1.36.0-rc.1`, `v1.33.1+k3s1`: missing parts are 0.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let core = t.strip_prefix('v').unwrap_or(t);
        let core = core.split_once('+').map_or(core, |(c, _)| c);
        let (nums, pre) = match core.split_once('-') {
            Some((n, p)) if !p.is_empty() => (n, Some(p.to_string())),
            Some(_) => return None,
            None => (core, None),
        };
        let mut parts = nums.split('.').map(|p| p.parse::<u64>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            major,
            minor,
            patch,
            pre,
            text: t.to_string(),
        })
    }

    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            pre: None,
            text: format!("{major}.{minor}.{patch}"),
        }
    }

    pub fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

/// Semver precedence of pre-release identifiers: numeric ones numerically and below
/// alphanumeric ones, which compare as text; a shorter list that is a prefix comes first.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.triple()
            .cmp(&other.triple())
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_pre(a, b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str) -> Version {
        Version::parse(t).unwrap()
    }

    #[test]
    fn reads_what_servers_state() {
        let s = v("v1.36.2");
        assert_eq!((s.triple(), s.pre.as_deref()), ((1, 36, 2), None));
        assert_eq!(s.to_string(), "v1.36.2");
        assert_eq!(v("v1.36.0-rc.1").pre.as_deref(), Some("rc.1"));
        assert_eq!(v("v1.33.1+k3s1").triple(), (1, 33, 1));
        assert_eq!(v("1.36").triple(), (1, 36, 0));
        for bad in ["", "v", "1.x", "1.2.3.4", "1.2.3-", "-rc.1"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn orders_as_semver_does() {
        let order = [
            "1.35.9",
            "1.36.0-alpha.0",
            "1.36.0-alpha.1",
            "1.36.0-alpha.beta",
            "1.36.0-beta",
            "1.36.0-rc.1",
            "1.36.0",
            "v1.36.1",
            "v1.36.2",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("v1.33.1+k3s1"), v("1.33.1"));
        assert!(v("v1.36.2") > v("1.36"));
    }
}
