//! Converting manifests: a file beside the scenario (read, confined, checked with the run's
//! values) or inline text, and object references.

use super::*;

impl Converter<'_> {
    pub(super) fn object_ref(
        &mut self,
        r: &raw::ObjectRef,
        field: &str,
        known: &Known,
    ) -> ObjectRef {
        ObjectRef {
            api_version: self.tpl(&r.api_version, &format!("{field}.apiVersion"), known),
            kind: self.tpl(&r.kind, &format!("{field}.kind"), known),
            name: self.tpl(&r.name, &format!("{field}.name"), known),
            namespace: r
                .namespace
                .as_ref()
                .map(|n| self.tpl(n, &format!("{field}.namespace"), known)),
        }
    }

    /// A manifest file: it must exist beside the scenario once user variables are filled in,
    /// use only known variables, and parse.
    pub(super) fn manifest_file(
        &mut self,
        s: &S<String>,
        field: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) -> Template {
        let t = self.tpl(s, field, known);
        let Ok(name) = substitute(&s.value, |n| user.get(n).cloned()) else {
            // Names only known at run time: checked then.
            return t;
        };
        let text = crate::scenario::paths::scenario_file(self.dir, &name)
            .map_err(|m| format!("manifest file: {m}"))
            .and_then(|p| {
                crate::input::read_text(&p)
                    .map(|t| (p, t))
                    .map_err(|e| format!("manifest file {e}"))
            });
        let (path, text) = match text {
            Ok(pt) => pt,
            Err(m) => {
                self.err(pos(self.file, s), field, m);
                return t;
            }
        };
        self.manifest_text(s, field, &path, &text, known);
        t
    }

    pub(super) fn manifest_text(
        &mut self,
        at: &S<String>,
        field: &str,
        path: &Path,
        text: &str,
        known: &Known,
    ) {
        let mut unknown = Vec::new();
        match references(text) {
            Ok(names) => unknown.extend(names.into_iter().filter_map(|n| known.check(n))),
            Err(m) => unknown.push(m),
        }
        for why in unknown {
            self.err(
                pos(self.file, at),
                field,
                format!("{}: {why}", path.display()),
            );
        }
        // With the values the run will use (user variables; placeholders stand in for what is
        // known only at run time), and the structure they must keep.
        let values = &self.values;
        let filled =
            match crate::scenario::expand::fill_keeping_structure(text, |n| values.get(n).cloned())
            {
                Ok(f) => f,
                Err(m) => {
                    self.err(
                        pos(self.file, at),
                        field,
                        format!("{}: {m}", path.display()),
                    );
                    return;
                }
            };
        if let Err(e) = crate::kube_ops::manifest::parse(path, &filled) {
            self.err(pos(self.file, at), field, e.to_string());
        }
    }

    pub(super) fn source(
        &mut self,
        file: &Option<S<String>>,
        inline: &Option<S<String>>,
        at: Position,
        field: &str,
        known: &Known,
        user: &BTreeMap<String, String>,
    ) -> Option<ManifestSource> {
        match (file, inline) {
            (Some(f), None) => Some(ManifestSource::File(self.manifest_file(
                f,
                &format!("{field}.file"),
                known,
                user,
            ))),
            (None, Some(m)) => {
                let t = self.tpl(m, &format!("{field}.manifest"), known);
                self.manifest_text(
                    m,
                    &format!("{field}.manifest"),
                    Path::new("(inline)"),
                    &m.value,
                    known,
                );
                Some(ManifestSource::Inline(t))
            }
            _ => {
                let options = [("file", file.is_some()), ("manifest", inline.is_some())];
                self.exactly_one(at, field, "a manifest source", &options);
                None
            }
        }
    }
}
