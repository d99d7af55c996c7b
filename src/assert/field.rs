//! Field assertions: what the API server stored at a path of one object. The observation is
//! the live object (or its absence); `evaluate` is pure.

use serde_json::Value;

use super::Verdict;
use crate::field_path::FieldPath;
use crate::runner::outcome::Status;
use crate::scenario::model::{FieldCheck, Template};

/// Judge `check` at `path` of `live` (`what` names the object and path in the message).
pub fn evaluate(
    what: &str,
    live: Option<&Value>,
    path: &FieldPath,
    check: &FieldCheck,
    resolve: impl Fn(&Template) -> Result<String, Status>,
) -> Result<Verdict, Status> {
    let Some(live) = live else {
        return Ok(Err((
            format!("{what}: the object does not exist"),
            "absent".into(),
        )));
    };
    let values = path.read(live);
    let observed = path
        .read_value(live)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "nothing at that path".into());
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let ok = match check {
        FieldCheck::Equals(want) => path.read_value(live).as_ref() == Some(want),
        FieldCheck::Contains(t) => {
            let t = resolve(t)?;
            values.iter().any(|v| text(v).contains(&t))
        }
        FieldCheck::Matches(re) => values.iter().any(|v| re.is_match(&text(v))),
        FieldCheck::Count(n) => values.len() == *n as usize,
    };
    let expected = match check {
        FieldCheck::Equals(v) => format!("equals {v}"),
        FieldCheck::Contains(t) => format!("contains {:?}", t.0),
        FieldCheck::Matches(r) => format!("matches /{}/", r.as_str()),
        FieldCheck::Count(n) => format!("has {n} values"),
    };
    Ok(if ok {
        Ok(())
    } else {
        Err((format!("{what} {expected}"), observed))
    })
}
