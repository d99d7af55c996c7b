//! A small JSONPath-like field path for reading objects: `.spec.ports[*].nodePort`,
//! `.status.containerStatuses[0].state.waiting.reason`, and a selector by field value,
//! `.spec.ports[protocol=UDP].nodePort`, for lists whose order is not the point (the TCP and UDP
//! entries of one Service port). A path yields every value it reaches, in document order.

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    /// Items of a list whose field `key` equals `value` (compared as text, so `port=53` works).
    Select {
        key: String,
        value: String,
    },
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad field path {text:?}: {why}");
        if !text.starts_with('.') {
            return Err(bad("it must start with `.` (e.g. .spec.ports[0].nodePort)"));
        }
        let mut steps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(bad("empty field name"));
                }
                steps.push(Step::Field(name.to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| bad("unclosed `[`"))?;
                let inner = after[..end].trim();
                steps.push(if inner == "*" {
                    Step::All
                } else if let Some((k, v)) = inner.split_once('=') {
                    let (k, v) = (k.trim(), v.trim().trim_matches(['"', '\'']));
                    if k.is_empty() {
                        return Err(bad("empty key in a selector"));
                    }
                    Step::Select {
                        key: k.to_string(),
                        value: v.to_string(),
                    }
                } else {
                    Step::Index(
                        inner
                            .parse()
                            .map_err(|_| bad("an index is a number, `*` or key=value"))?,
                    )
                });
                rest = &after[end + 1..];
            } else {
                return Err(bad("expected `.` or `[`"));
            }
        }
        Ok(Self {
            text: text.to_string(),
            steps,
        })
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl FieldPath {
    /// Every value the path reaches in `root` (empty when nothing matches).
    pub fn read<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in current {
                match step {
                    Step::Field(name) => next.extend(v.get(name)),
                    Step::Index(i) => next.extend(v.get(*i)),
                    Step::All => {
                        if let Some(items) = v.as_array() {
                            next.extend(items.iter());
                        }
                    }
                    Step::Select { key, value } => {
                        if let Some(items) = v.as_array() {
                            next.extend(
                                items.iter().filter(|item| {
                                    item.get(key).map(as_text).as_ref() == Some(value)
                                }),
                            );
                        }
                    }
                }
            }
            current = next;
        }
        current
    }

    /// The values as JSON, for reports: one value as itself, several as a list.
    pub fn read_value(&self, root: &Value) -> Option<Value> {
        let found = self.read(root);
        match found.len() {
            0 => None,
            1 => Some(found[0].clone()),
            _ => Some(Value::Array(found.into_iter().cloned().collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPath {
        s.parse().unwrap()
    }

    fn service() -> Value {
        json!({"spec": {"ports": [
            {"port": 53, "protocol": "TCP", "nodePort": 30054},
            {"port": 53, "protocol": "UDP", "nodePort": 30053}
        ]}, "status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3}
        ]}})
    }

    #[test]
    fn reads_fields_indexes_wildcards_and_selectors() {
        let s = service();
        assert_eq!(
            p(".spec.ports[*].nodePort").read(&s),
            [&json!(30054), &json!(30053)]
        );
        assert_eq!(p(".spec.ports[1].nodePort").read(&s), [&json!(30053)]);
        assert_eq!(
            p(".spec.ports[protocol=UDP].nodePort").read(&s),
            [&json!(30053)]
        );
        assert_eq!(
            p(".spec.ports[port=53].protocol").read(&s),
            [&json!("TCP"), &json!("UDP")]
        );
        assert_eq!(
            p(".status.containerStatuses[0].state.waiting.reason").read(&s),
            [&json!("CrashLoopBackOff")]
        );
        assert!(
            p(".status.containerStatuses[0].state.terminated")
                .read(&s)
                .is_empty()
        );
        assert!(p(".spec.ports[7]").read(&s).is_empty());
        assert_eq!(
            p(".spec.ports[*].port").read_value(&s),
            Some(json!([53, 53]))
        );
        assert_eq!(p(".spec.ports[0].port").read_value(&s), Some(json!(53)));
        assert_eq!(p(".nothing").read_value(&s), None);
    }

    #[test]
    fn bad_paths_say_why() {
        for (text, why) in [
            ("spec.ports", "must start with `.`"),
            (".spec..ports", "empty field name"),
            (".spec.ports[0", "unclosed `[`"),
            (".spec.ports[x]", "an index is a number"),
            (".spec.ports[=1]", "empty key"),
        ] {
            let e = text.parse::<FieldPath>().unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
