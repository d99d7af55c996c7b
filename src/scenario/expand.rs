//! Expanding user variables safely: a cycle (`a: ${b}`, `b: ${a}`) is refused, nesting and
//! the expanded size are bounded, and a manifest filled with the values a run will use must
//! keep the YAML structure it has with placeholders — a value carrying a newline and `---`
//! must not inject a second object.

use std::collections::BTreeMap;

use super::vars::substitute;

/// How deeply user variables may refer to one another.
pub const MAX_DEPTH: usize = 8;
/// The most text one user variable may expand to.
pub const MAX_EXPANSION: usize = 64 * 1024;

/// Every user variable fully expanded (other names — `${namespace}`, `${nodes.…}` — left as
/// written), or the first problem: a cycle, nesting deeper than [`MAX_DEPTH`], or a value
/// longer than [`MAX_EXPANSION`]. Each variable is expanded once, so the work is linear.
pub fn expand_all(
    user: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    for name in user.keys() {
        let mut stack = Vec::new();
        expand_one(name, user, &mut done, &mut stack).map_err(|m| (name.clone(), m))?;
    }
    Ok(done)
}

fn expand_one(
    name: &str,
    user: &BTreeMap<String, String>,
    done: &mut BTreeMap<String, String>,
    stack: &mut Vec<String>,
) -> Result<String, String> {
    if let Some(v) = done.get(name) {
        return Ok(v.clone());
    }
    if let Some(at) = stack.iter().position(|n| n == name) {
        let mut chain: Vec<&str> = stack[at..].iter().map(String::as_str).collect();
        chain.push(name);
        return Err(format!(
            "variables refer to each other in a cycle: {}",
            chain.join(" -> ")
        ));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(format!(
            "variables nest more than {MAX_DEPTH} deep: {} -> {name}",
            stack.join(" -> ")
        ));
    }
    let value = user.get(name).cloned().unwrap_or_default();
    stack.push(name.to_string());
    // Collect the user names first (substitute's lookup cannot recurse mutably).
    let mut inner = BTreeMap::new();
    for r in super::vars::references(&value)? {
        if user.contains_key(r) && !inner.contains_key(r) {
            let v = expand_one(r, user, done, stack)?;
            inner.insert(r.to_string(), v);
        }
    }
    stack.pop();
    let out = substitute(&value, |n| {
        Some(inner.get(n).cloned().unwrap_or_else(|| format!("${{{n}}}")))
    })?;
    if out.len() > MAX_EXPANSION {
        return Err(format!(
            "variable `{name}` expands to {} bytes, more than {MAX_EXPANSION}",
            out.len()
        ));
    }
    done.insert(name.to_string(), out.clone());
    Ok(out)
}

/// The shape of a YAML value: mappings and sequences with their sizes and the shapes of their
/// children; every scalar (string, number, bool, null) is the same shape.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Scalar,
    Seq(Vec<Shape>),
    Map(Vec<Shape>),
}

fn shape(v: &serde_json::Value) -> Shape {
    match v {
        serde_json::Value::Array(a) => Shape::Seq(a.iter().map(shape).collect()),
        serde_json::Value::Object(m) => Shape::Map(m.values().map(shape).collect()),
        _ => Shape::Scalar,
    }
}

/// Check that `text` (a manifest template) keeps its structure when filled by `lookup`
/// rather than with placeholders: same documents, same mappings and sequences, each reference
/// still one scalar. Names `lookup` does not know stay placeholders. Returns the filled text.
pub fn fill_keeping_structure(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let placeholder = substitute(text, |_| Some("x".into()))?;
    let filled = substitute(text, |n| Some(lookup(n).unwrap_or_else(|| "x".into())))?;
    let parse = |t: &str| {
        serde_saphyr::from_multiple::<serde_json::Value>(t).map(|d| {
            d.iter()
                .filter(|v| !v.is_null())
                .map(shape)
                .collect::<Vec<_>>()
        })
    };
    // A template that does not parse with placeholders is reported by the manifest parser.
    let Ok(expected) = parse(&placeholder) else {
        return Ok(filled);
    };
    match parse(&filled) {
        Ok(got) if got == expected => Ok(filled),
        Ok(got) => {
            let how = if got.len() == expected.len() {
                "a value became a mapping or list".to_string()
            } else {
                format!("{} document(s) instead of {}", got.len(), expected.len())
            };
            Err(format!(
                "with the variables' values filled in, the manifest changes structure ({how}): a value must stay one scalar — no newlines, `---`, `: ` or brackets"
            ))
        }
        Err(e) => Err(format!(
            "with the variables' values filled in, the manifest no longer parses ({}): a value must stay one scalar",
            e.without_snippet()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cycles_depth_and_size_are_refused() {
        let ok = expand_all(&vars(&[("a", "x-${b}"), ("b", "${namespace}.y")])).unwrap();
        assert_eq!(ok["a"], "x-${namespace}.y");
        let (at, why) = expand_all(&vars(&[("a", "${b}"), ("b", "${a}")])).unwrap_err();
        assert_eq!(at, "a");
        assert!(why.contains("cycle: a -> b -> a"), "{why}");
        let (_, why) = expand_all(&vars(&[("a", "${a}")])).unwrap_err();
        assert!(why.contains("cycle: a -> a"), "{why}");
        let chain: Vec<(String, String)> = (0..12)
            .map(|i| (format!("v{i}"), format!("${{v{}}}", i + 1)))
            .collect();
        let chain: BTreeMap<String, String> = chain.into_iter().collect();
        let (_, why) = expand_all(&chain).unwrap_err();
        assert!(why.contains("nest more than 8 deep"), "{why}");
        // A billion laughs: ten times ten times … is cut off, quickly.
        let ten = |n: &str| format!("${{{n}}}").repeat(10);
        let bomb = vars(&[
            ("a", &ten("b")),
            ("b", &ten("c")),
            ("c", &ten("d")),
            ("d", &ten("e")),
            ("e", &ten("f")),
            ("f", "laugh"),
        ]);
        let (_, why) = expand_all(&bomb).unwrap_err();
        assert!(why.contains("more than 65536"), "{why}");
    }

    #[test]
    fn a_value_may_not_change_a_manifests_structure() {
        let tpl = "kind: ConfigMap\ndata:\n  key: ${v}\n";
        let ok = fill_keeping_structure(tpl, |_| Some("plain value".into())).unwrap();
        assert!(ok.contains("key: plain value"));
        for bad in ["x\n---\nkind: Secret", "x\nother: y", "[a, b]", "{a: b}"] {
            let e = fill_keeping_structure(tpl, |_| Some(bad.into())).unwrap_err();
            assert!(e.contains("a value must stay one scalar"), "{bad:?}: {e}");
        }
        // Unknown names stay placeholders.
        assert!(fill_keeping_structure(tpl, |_| None).is_ok());
    }
}
