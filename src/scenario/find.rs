//! Which files the command line names, and what each is: a scenario or a kind config, told
//! apart by its `apiVersion`/`kind` (as kind sniffs its configs), never by where it lies or by
//! the working directory.

use std::path::PathBuf;

use super::convert::{API_VERSION, KIND};

/// The name of a scenario file inside its directory.
pub const FILE: &str = "scenario.yaml";

/// What an input file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Scenario,
    /// A kind config, or a YAML file that is neither: the kind config loader says what is wrong
    /// with it, located.
    KindConfig,
}

/// One input file and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub kind: InputKind,
}

/// Every input file under `inputs`: a file as given; a scenario directory (one holding a
/// `scenario.yaml`); or a directory whose `<name>/scenario.yaml` and `*.yaml`/`*.yml` files
/// are the inputs (sorted). A directory with none of these, or a path that does not exist, is
/// an error.
pub fn classify(inputs: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|_| format!("{}: no such file or directory", input.display()))?;
        if !meta.is_dir() {
            out.push(sniffed(input.clone()));
        } else if input.join(FILE).is_file() {
            out.push(Input {
                path: input.join(FILE),
                kind: InputKind::Scenario,
            });
        } else {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| format!("failed to read directory {}: {e}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            let before = out.len();
            for p in entries {
                if p.join(FILE).is_file() {
                    out.push(Input {
                        path: p.join(FILE),
                        kind: InputKind::Scenario,
                    });
                } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && !p.is_dir() {
                    out.push(sniffed(p));
                }
            }
            if out.len() == before {
                return Err(format!(
                    "{}: no scenarios (<name>/{FILE}) and no *.yaml files here",
                    input.display()
                ));
            }
        }
    }
    Ok(out)
}

fn sniffed(path: PathBuf) -> Input {
    let kind = match crate::input::read_text(&path) {
        Ok(text) if is_scenario(&text) => InputKind::Scenario,
        // Unreadable files go to the kind config loader too, which reports why.
        _ if path.file_name().is_some_and(|n| n == FILE) => InputKind::Scenario,
        _ => InputKind::KindConfig,
    };
    Input { path, kind }
}

/// Whether `text` declares itself a kindproof scenario: its top-level `apiVersion` or `kind`
/// says so. Read line by line, so a scenario with a YAML syntax error further down is still
/// reported by the scenario loader.
pub fn is_scenario(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_end();
        let value = |key: &str| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        };
        value("apiVersion:").is_some_and(|v| v == API_VERSION || v.starts_with("kindproof.dev/"))
            || value("kind:").is_some_and(|v| v == KIND)
    })
}

/// The scenario files among `inputs`; a kind config among them is an error naming it.
pub fn scenarios_only(inputs: &[Input]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for i in inputs {
        match i.kind {
            InputKind::Scenario => out.push(i.path.clone()),
            InputKind::KindConfig => {
                return Err(format!(
                    "{}: not a kindproof scenario (no `apiVersion: {API_VERSION}` / `kind: {KIND}`): this command takes scenarios; `kindproof validate` checks kind configs",
                    i.path.display()
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_what_they_declare() {
        assert!(is_scenario(
            "apiVersion: kindproof.dev/v1alpha1\nkind: Scenario\n"
        ));
        assert!(is_scenario("kind: \"Scenario\"\nnodes: [\n  - broken"));
        assert!(!is_scenario(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
        ));
        assert!(!is_scenario(
            "  kind: Scenario  # nested, not the document's\n"
        ));
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("s")).unwrap();
        std::fs::write(
            root.join("s/scenario.yaml"),
            "apiVersion: kindproof.dev/v1alpha1\n",
        )
        .unwrap();
        std::fs::write(root.join("s/manifest.yaml"), "kind: Pod\n").unwrap();
        std::fs::write(root.join("stray.yaml"), "nodes: [\n").unwrap();
        std::fs::write(root.join("notes.txt"), "").unwrap();
        let got = classify(&[root.to_path_buf()]).unwrap();
        assert_eq!(
            got,
            [
                Input {
                    path: root.join("s/scenario.yaml"),
                    kind: InputKind::Scenario
                },
                // Not skipped: reported by the kind config loader.
                Input {
                    path: root.join("stray.yaml"),
                    kind: InputKind::KindConfig
                },
            ]
        );
        let e = scenarios_only(&got).unwrap_err();
        assert!(e.contains("stray.yaml: not a kindproof scenario"), "{e}");
        assert!(classify(&[root.join("missing")]).is_err());
        let empty = root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(classify(&[empty]).unwrap_err().contains("no scenarios"));
    }
}
