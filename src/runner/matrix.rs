//! One suite over several node images (`run --image A --image B`): every selected variant runs
//! once per image, as a variant of its own (`bug@v1.31.0`), so clusters, reports, bundles and
//! JUnit names stay apart. Each image's shapes are clusters of their own, and their `when:`
//! gates are judged by that cluster's server. At the end a table shows variant × image →
//! passed / FAILED / broken / skipped, so a change between versions is one glance.

use std::collections::BTreeMap;

use super::outcome::{Status, VariantReport};
use super::plan::Pick;
use super::reporter::{Event, Reporter};
use crate::exit::AppError;
use crate::scenario::model::Scenario;

/// What an image is called in names and the table: its tag (`v1.31.0`), else the image.
pub fn label(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => tag.to_string(),
        _ => image.to_string(),
    }
}

/// The Kubernetes version an image's tag names (`kindest/node:v1.31.0` → 1.31.0), for a
/// cluster whose server is not asked.
pub fn tag_version(image: &str) -> Option<crate::version::Version> {
    crate::version::Version::parse(&label(image))
}

/// The scenarios and picks of a matrix: for each image (in order), a copy of every scenario
/// whose clusters use that image and whose variants are named `<variant>@<label>`; the picks
/// point into the copies. Labels must tell the images apart.
pub fn expand(
    scenarios: &[Scenario],
    picks: &[Pick],
    images: &[String],
) -> Result<(Vec<Scenario>, Vec<Pick>), String> {
    let labels: Vec<String> = images.iter().map(|i| label(i)).collect();
    for (i, l) in labels.iter().enumerate() {
        if let Some(j) = labels[..i].iter().position(|o| o == l) {
            return Err(format!(
                "--image {} and --image {} have the same tag {l}: a matrix needs images that its names can tell apart",
                images[j], images[i]
            ));
        }
    }
    let mut out = Vec::with_capacity(scenarios.len() * images.len());
    let mut out_picks = Vec::with_capacity(picks.len() * images.len());
    for (k, (image, l)) in images.iter().zip(&labels).enumerate() {
        for s in scenarios {
            let mut s = s.clone();
            s.cluster.image = Some(image.clone());
            for v in &mut s.variants {
                v.name = format!("{}@{l}", v.name);
                if let Some(c) = &mut v.cluster {
                    c.image = Some(image.clone());
                }
            }
            out.push(s);
        }
        out_picks.extend(picks.iter().map(|p| Pick {
            scenario: k * scenarios.len() + p.scenario,
            variant: p.variant,
        }));
    }
    Ok((out, out_picks))
}

fn cell(s: &Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed { .. } => "FAILED",
        Status::Broken { .. } => "broken",
        Status::Skipped { .. } => "skipped",
    }
}

/// The table of a matrix run: one row per variant, one column per image label, in the order
/// the images were given; the server version each column ran on under its label.
pub fn table(reports: &[VariantReport], labels: &[String]) -> String {
    let mut rows: BTreeMap<String, BTreeMap<&str, &'static str>> = BTreeMap::new();
    let mut servers: BTreeMap<&str, String> = BTreeMap::new();
    for r in reports {
        let Some((variant, l)) = r.variant.rsplit_once('@') else {
            continue;
        };
        let Some(l) = labels.iter().find(|x| x.as_str() == l) else {
            continue;
        };
        rows.entry(format!("{}/{variant}", r.scenario))
            .or_default()
            .insert(l.as_str(), cell(&r.status));
        if let Some(k) = &r.kubernetes {
            servers.insert(l.as_str(), k.clone());
        }
    }
    let first = rows.keys().map(String::len).max().unwrap_or(0).max(7);
    let widths: Vec<usize> = labels
        .iter()
        .map(|l| {
            let server = servers.get(l.as_str()).map_or(0, |s| s.len() + 2);
            l.len().max(server).max(7)
        })
        .collect();
    let mut out = format!("{:first$}", "variant");
    for (l, w) in labels.iter().zip(&widths) {
        out.push_str(&format!("  {l:w$}"));
    }
    out.push('\n');
    if !servers.is_empty() {
        out.push_str(&format!("{:first$}", ""));
        for (l, w) in labels.iter().zip(&widths) {
            let s = servers
                .get(l.as_str())
                .map_or(String::new(), |s| format!("({s})"));
            out.push_str(&format!("  {s:w$}"));
        }
        out.push('\n');
    }
    for (name, cells) in &rows {
        out.push_str(&format!("{name:first$}"));
        for (l, w) in labels.iter().zip(&widths) {
            let c = cells.get(l.as_str()).copied().unwrap_or("-");
            out.push_str(&format!("  {c:w$}"));
        }
        out.push('\n');
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Prints the table when the run is over (on stdout, after the summary).
pub struct Table {
    pub labels: Vec<String>,
}

impl Reporter for Table {
    fn event(&self, e: &Event<'_>) -> Result<(), AppError> {
        if let Event::RunFinished { reports, .. } = e {
            crate::outln!(
                "\nmatrix ({} images):\n{}",
                self.labels.len(),
                table(reports, &self.labels).trim_end()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_tags_and_versions_come_from_them() {
        assert_eq!(label("kindest/node:v1.31.0"), "v1.31.0");
        assert_eq!(label("localhost:5000/node"), "localhost:5000/node");
        assert_eq!(label("localhost:5000/node:v1.36.2"), "v1.36.2");
        assert_eq!(
            tag_version("kindest/node:v1.36.2"),
            crate::version::Version::parse("1.36.2")
        );
        assert!(tag_version("kindest/node:v1.36.2").is_some());
        assert!(tag_version("kindest/node:latest").is_none());
    }

    #[test]
    fn images_a_matrix_cannot_tell_apart_are_refused() {
        let images = [
            "kindest/node:v1.31.0".to_string(),
            "mirror/node:v1.31.0".to_string(),
        ];
        assert_eq!(
            expand(&[], &[], &images).unwrap_err(),
            "--image kindest/node:v1.31.0 and --image mirror/node:v1.31.0 have the same tag v1.31.0: a matrix needs images that its names can tell apart"
        );
    }

    fn report(variant: &str, status: Status, k: Option<&str>) -> VariantReport {
        let mut r = VariantReport::without_steps("s", variant, "", status, "");
        r.kubernetes = k.map(str::to_string);
        r
    }

    #[test]
    fn the_table_has_a_row_per_variant_and_a_column_per_image() {
        let labels = vec!["v1.31.0".to_string(), "v1.36.2".to_string()];
        let reports = [
            report("bug@v1.31.0", Status::Passed, Some("1.31.0")),
            report(
                "bug@v1.36.2",
                Status::Failed {
                    message: "m".into(),
                    observed: "o".into(),
                },
                Some("1.36.2"),
            ),
            report(
                "old@v1.36.2",
                Status::Skipped {
                    reason: "needs kubernetes <1.32".into(),
                },
                None,
            ),
            report("old@v1.31.0", Status::Passed, None),
        ];
        assert_eq!(
            table(&reports, &labels),
            "variant  v1.31.0   v1.36.2\n         (1.31.0)  (1.36.2)\ns/bug    passed    FAILED\ns/old    passed    skipped\n"
        );
    }
}
