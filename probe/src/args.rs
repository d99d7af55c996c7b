//! Command-line parsing, by hand to keep the static binary small: `MODE --flag value ...`.

use std::time::Duration;

/// Parse `20ms`, `2s`, `1.5s`, `3m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("not a duration: {text:?} (expected e.g. 0, 20ms, 2s, 1.5s, 3m)");
    // Zero needs no unit (`--drain 0`).
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (num, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| text.split_at(i))
        .ok_or_else(bad)?;
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Flags after the mode: `--name value` pairs and bare `--switch`es.
pub struct Flags {
    items: Vec<(String, Option<String>)>,
}

impl Flags {
    /// `switches` take no value; every other flag takes exactly one.
    pub fn parse(args: &[String], switches: &[&str]) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let name = args[i]
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {:?}", args[i]))?;
            if switches.contains(&name) {
                items.push((name.to_string(), None));
                i += 1;
            } else {
                let value = args
                    .get(i + 1)
                    .ok_or_else(|| format!("--{name} needs a value"))?;
                items.push((name.to_string(), Some(value.clone())));
                i += 2;
            }
        }
        Ok(Self { items })
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.items
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    pub fn one(&self, name: &str) -> Option<String> {
        self.all(name).pop()
    }

    pub fn has(&self, name: &str) -> bool {
        self.items.iter().any(|(n, _)| n == name)
    }

    /// Reject flags the mode does not know.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self
            .items
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((n, _)) => Err(format!("unknown flag --{n}")),
            None => Ok(()),
        }
    }

    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.one(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("bad value for --{name}: {v:?}")),
        }
    }

    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, String> {
        self.one(name).map_or(Ok(default), |v| duration(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("5").is_err(), "only zero goes without a unit");
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("20").is_err());
        assert!(duration("fast").is_err());
    }

    #[test]
    fn flags() {
        let args: Vec<String> = ["--target", "a:1", "--target", "b:2", "--once"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = Flags::parse(&args, &["once"]).unwrap();
        assert_eq!(f.all("target"), ["a:1", "b:2"]);
        assert!(f.has("once"));
        assert!(f.only(&["target", "once"]).is_ok());
        assert!(f.only(&["target"]).is_err());
        assert!(Flags::parse(&["--count".to_string()], &[]).is_err());
    }
}
