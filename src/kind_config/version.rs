//! kind versions and the validation rules each one applies to port mappings.
//!
//! The duplicate-port rule changed across kind releases (kind#3512, fixed by PR #3513 in
//! v0.22.0; listen-address handling changed again in v0.32.0). kindproof must say exactly what
//! the kind a user has would say, so the rules are data keyed by version.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KindVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KindVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The newest rules kindproof knows; used when no kind binary is installed.
    pub const NEWEST_KNOWN: Self = Self::new(0, 33, 0);

    /// Parse the output of `kind version` (`kind v0.33.0 go1.27.2 linux/amd64`).
    pub fn from_kind_output(output: &str) -> Option<Self> {
        output
            .split_whitespace()
            .find_map(|word| word.strip_prefix('v').and_then(|w| w.parse().ok()))
    }

    pub fn rules(self) -> Rules {
        let v = |minor| Self::new(0, minor, 0);
        Rules {
            duplicates: if self < v(19) {
                DuplicateRule::None
            } else if self < v(22) {
                DuplicateRule::IncludingRandom
            } else {
                DuplicateRule::SkipRandom
            },
            empty_listen_address_is_wildcard: self >= v(32),
            rejects_bad_listen_address: self >= v(32),
        }
    }
}

/// Parses `0.21.0`, `v0.21.0`, `0.21` and pre-release suffixes (`0.22.0-alpha`).
impl FromStr for KindVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a kind version: {s:?} (expected e.g. 0.21.0 or v0.33.0)");
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or(core);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad());
        }
        let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
        Ok(Self::new(
            num(parts[0])?,
            num(parts[1])?,
            parts.get(2).map(|p| num(p)).transpose()?.unwrap_or(0),
        ))
    }
}

impl fmt::Display for KindVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How a kind version checks port mappings for duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateRule {
    /// kind ≤ 0.18: no duplicate check at all.
    None,
    /// kind 0.19.0–0.21.x: every mapping counts, so two random ports (hostPort 0, -1 or unset)
    /// on one listen address and protocol collide.
    IncludingRandom,
    /// kind ≥ 0.22.0: hostPort 0 and -1 are skipped; fixed ports still collide.
    SkipRandom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub duplicates: DuplicateRule,
    /// kind ≥ 0.32: an empty listenAddress is checked as `0.0.0.0` (before: as Go's `<nil>`).
    pub empty_listen_address_is_wildcard: bool,
    /// kind ≥ 0.32: a listenAddress that is not an IP is `invalid listen address: <x>`.
    pub rejects_bad_listen_address: bool,
}

impl Rules {
    /// Whether kindproof picks this mapping's host port itself. `0` and unset always (kind's own
    /// pick-then-release races with parallel jobs); `-1` only where this kind rejects repeated
    /// `-1` mappings (0.19–0.21): elsewhere Docker picks it when the node container is created.
    pub fn kindproof_picks(self, host_port: Option<i64>) -> bool {
        match host_port.unwrap_or(0) {
            0 => true,
            -1 => self.duplicates == DuplicateRule::IncludingRandom,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kind_version_output() {
        assert_eq!(
            KindVersion::from_kind_output("kind v0.33.0 go1.27.2 linux/amd64"),
            Some(KindVersion::new(0, 33, 0))
        );
        assert_eq!(
            KindVersion::from_kind_output("kind v0.22.0-alpha+abc go1.21 linux/amd64"),
            Some(KindVersion::new(0, 22, 0))
        );
        assert_eq!(KindVersion::from_kind_output("garbage"), None);
    }

    #[test]
    fn parses_user_versions() {
        assert_eq!("0.21".parse(), Ok(KindVersion::new(0, 21, 0)));
        assert_eq!("v0.19.0".parse(), Ok(KindVersion::new(0, 19, 0)));
        assert!("x.y".parse::<KindVersion>().is_err());
        assert!("1".parse::<KindVersion>().is_err());
    }

    #[test]
    fn rules_follow_the_release_history() {
        let r = |s: &str| s.parse::<KindVersion>().unwrap().rules();
        assert_eq!(r("0.18.0").duplicates, DuplicateRule::None);
        assert_eq!(r("0.19.0").duplicates, DuplicateRule::IncludingRandom);
        assert_eq!(r("0.21.0").duplicates, DuplicateRule::IncludingRandom);
        assert_eq!(r("0.22.0").duplicates, DuplicateRule::SkipRandom);
        assert!(!r("0.31.0").empty_listen_address_is_wildcard);
        assert!(r("0.32.0").empty_listen_address_is_wildcard);
        assert!(r("0.33.0").rejects_bad_listen_address);
    }
}
