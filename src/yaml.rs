//! Strict YAML loading with errors that name the file, line, column and field path.
//!
//! Every YAML input of kindproof (kind configs now, scenarios later) goes through here, so a
//! user always gets `file:line:column: field.path: what is wrong`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

/// Where in a YAML file something is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown.
    pub line: u64,
    /// 1-based; 0 when the position is unknown.
    pub column: u64,
}

impl Position {
    pub fn new(file: &Path, location: Location) -> Self {
        Self {
            file: file.to_path_buf(),
            line: location.line(),
            column: location.column(),
        }
    }

    pub fn of<T>(file: &Path, spanned: &Spanned<T>) -> Self {
        Self::new(file, spanned.referenced)
    }

    /// The start of a file, for problems that belong to the whole document.
    pub fn file_start(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// A problem in an input file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {field}: {message}")]
pub struct LocatedError {
    pub position: Position,
    /// The field path, e.g. `nodes[0].extraPortMappings[1].hostPort`; `(document)` for the root.
    pub field: String,
    pub message: String,
}

impl LocatedError {
    pub fn new(position: Position, field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            position,
            field: if field.is_empty() {
                "(document)".to_string()
            } else {
                field
            },
            message: message.into(),
        }
    }
}

/// Deserialize one YAML document strictly, with a located error on failure.
pub fn from_str<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, LocatedError> {
    let text = without_trailing_separator(text);
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|err| {
        let position = err
            .location()
            .map(|l| Position::new(file, l))
            .unwrap_or_else(|| Position::file_start(file));
        let message = clean_message(&err);
        // The parser's terms, in the user's: which key is doubled, and where.
        if let Some(key) = message
            .strip_prefix("duplicate mapping key: ")
            .and_then(|r| r.split(", set DuplicateKeyPolicy").next())
        {
            let field = clean_path(&path);
            let field = match field.strip_suffix('?') {
                Some(parent) => format!("{parent}{key}"),
                None if field.is_empty() => key.to_string(),
                None => field,
            };
            return LocatedError::new(
                position,
                field,
                format!("`{key}` appears twice in this mapping: write each key once"),
            );
        }
        if message.starts_with("multiple YAML documents detected") {
            return LocatedError::new(
                position,
                "",
                "a second YAML document starts here (after `---`): this file holds one document",
            );
        }
        LocatedError::new(position, clean_path(&path), message)
    })
}

/// `text` without a final `---` that opens an empty document (only blank or comment lines
/// after it), which kind accepts: editors and generators often leave one.
pub fn without_trailing_separator(text: &str) -> &str {
    let mut offset = 0;
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .map(|l| {
            let at = offset;
            offset += l.len();
            (at, l)
        })
        .collect();
    for (at, line) in lines.into_iter().rev() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t == "---"
            || t.strip_prefix("---")
                .is_some_and(|r| r.trim_start().starts_with('#'))
        {
            return &text[..at];
        }
        break;
    }
    text
}

/// `Spanned<T>` adds a `.value` segment to the path that the user never wrote.
fn clean_path(path: &str) -> String {
    let path = if path == "." { "" } else { path };
    path.replace(".value", "")
}

/// The parser's own message without its snippet and trailing position (we print the position
/// ourselves, first, in the usual `file:line:col` form).
fn clean_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let text = text.trim();
    let text = match text.rfind(" at line ") {
        Some(idx) if text[idx..].contains(", column ") => &text[..idx],
        _ => text,
    };
    user_terms(text)
}

/// The parser's phrases that name Rust types or its own API, said in YAML terms.
fn user_terms(text: &str) -> String {
    if text.starts_with("cannot deserialize null into ") {
        return "a value is required here, not null (`~` or nothing)".to_string();
    }
    match text {
        "expected mapping start" => "expected a mapping (`key: value`) here".to_string(),
        "expected sequence start" => "expected a list (`- item`) here".to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        port: Spanned<i32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[test]
    fn a_trailing_separator_is_accepted_and_a_second_document_named() {
        assert_eq!(without_trailing_separator("a: 1\n---\n"), "a: 1\n");
        assert_eq!(
            without_trailing_separator("a: 1\n--- # end\n\n# c\n"),
            "a: 1\n"
        );
        assert_eq!(
            without_trailing_separator("a: 1\n---\nb: 2\n"),
            "a: 1\n---\nb: 2\n"
        );
        assert_eq!(without_trailing_separator("a: 1"), "a: 1");
        let err =
            from_str::<serde_json::Value>(Path::new("f.yaml"), "a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.position.line, 3);
        assert!(
            err.message.contains("a second YAML document starts here"),
            "{err}"
        );
        assert!(!err.message.contains("from_str_multiple"), "{err}");
    }

    #[test]
    fn nulls_and_wrong_shapes_are_said_in_yaml_terms() {
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only the error matters")]
        struct Named {
            name: String,
            items: Vec<String>,
            inner: std::collections::BTreeMap<String, String>,
        }
        for (text, want) in [
            (
                "name: ~\nitems: []\ninner: {}\n",
                "a value is required here, not null",
            ),
            (
                "name: a\nitems: 3\ninner: {}\n",
                "expected a list (`- item`) here",
            ),
            (
                "name: a\nitems: []\ninner: ~\n",
                "expected a mapping (`key: value`) here",
            ),
        ] {
            let err = from_str::<Named>(Path::new("f.yaml"), text).unwrap_err();
            assert!(err.message.contains(want), "{text:?}: {err}");
            assert!(!err.message.contains("Option<"), "{err}");
        }
    }

    #[test]
    fn a_duplicate_key_is_named_in_user_terms() {
        let err =
            from_str::<serde_json::Value>(Path::new("f.yaml"), "nodes:\n- role: a\n  role: b\n")
                .unwrap_err();
        assert!(err.message.contains("`role` appears twice"), "{err}");
        assert!(!err.to_string().contains("DuplicateKeyPolicy"), "{err}");
        assert!(!err.field.contains('?'), "{err}");
    }

    #[test]
    fn unknown_field_is_located_with_its_path() {
        let err =
            from_str::<Outer>(Path::new("f.yaml"), "items:\n- port: 1\n- bogus: 2\n").unwrap_err();
        assert_eq!(err.position.line, 3);
        assert_eq!(err.position.column, 3);
        assert_eq!(err.field, "items[1].bogus");
        assert!(
            err.message.contains("unknown field `bogus`"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("at line"), "{}", err.message);
        assert_eq!(
            err.to_string(),
            format!("f.yaml:3:3: items[1].bogus: {}", err.message)
        );
    }

    #[test]
    fn wrong_type_path_drops_the_spanned_segment() {
        let err = from_str::<Outer>(Path::new("f.yaml"), "items:\n- port: [1]\n").unwrap_err();
        assert_eq!(err.field, "items[0].port");
        assert_eq!(err.position.line, 2);
    }

    #[test]
    fn malformed_yaml_is_located() {
        let err = from_str::<Outer>(Path::new("f.yaml"), "items: [\n").unwrap_err();
        assert_eq!(err.position.line, 1);
        assert!(err.message.contains("bracket"), "{}", err.message);
    }

    #[test]
    fn spanned_values_keep_their_location() {
        let outer = from_str::<Outer>(Path::new("f.yaml"), "items:\n- port: 80\n").unwrap();
        let pos = Position::of(Path::new("f.yaml"), &outer.items[0].port);
        assert_eq!((pos.line, pos.column), (2, 9));
    }
}
