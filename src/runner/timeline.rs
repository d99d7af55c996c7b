//! When everything in a run happened, for the critical path: each cluster's create, ready and
//! delete; each variant's queue, start, end, step time and teardown, with the claims that made
//! it wait; phase totals as wall-clock (the union of intervals, never sums across parallel
//! work). From a recorded timeline, `kindproof report timeline` computes the floor — the
//! slowest cluster creation plus the longest chain of step time that must run one after
//! another on a cluster — and how far the run's wall time is above it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Seconds since the run began.
pub type At = f64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpan {
    pub name: String,
    /// Not set for a cluster the run borrowed.
    #[serde(default)]
    pub create: Option<[At; 2]>,
    #[serde(default)]
    pub ready: Option<At>,
    #[serde(default)]
    pub delete: Option<[At; 2]>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantSpan {
    /// `scenario/variant`.
    pub id: String,
    pub cluster: String,
    pub queued: At,
    pub start: At,
    pub end: At,
    /// The time its own steps took.
    pub steps: f64,
    pub teardown: f64,
    /// Its cluster-wide claims; variants sharing one take turns.
    #[serde(default)]
    pub claims: Vec<String>,
    /// It ran alone on its cluster (a node action, a cluster-wide change).
    #[serde(default)]
    pub alone: bool,
    #[serde(default)]
    pub waited: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub clusters: Vec<ClusterSpan>,
    pub variants: Vec<VariantSpan>,
    /// Intervals by phase (`cluster_create`, `image_load`, `cluster_delete`, `variants`).
    #[serde(default)]
    pub phases: BTreeMap<String, Vec<[At; 2]>>,
    pub wall: f64,
    /// Namespaces still terminating when the run ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stragglers: Vec<String>,
}

/// The total length of the union of `spans`.
pub fn union(spans: &[[At; 2]]) -> f64 {
    let mut v: Vec<[At; 2]> = spans.iter().copied().filter(|s| s[1] > s[0]).collect();
    v.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut total = 0.0;
    let mut cur: Option<[At; 2]> = None;
    for s in v {
        match &mut cur {
            Some(c) if s[0] <= c[1] => c[1] = c[1].max(s[1]),
            _ => {
                if let Some(c) = cur {
                    total += c[1] - c[0];
                }
                cur = Some(s);
            }
        }
    }
    total + cur.map_or(0.0, |c| c[1] - c[0])
}

/// A gap: a stretch of the run where no variant ran and no cluster was being made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub from: At,
    pub to: At,
    pub seconds: f64,
}

/// What `kindproof report timeline` says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub floor: f64,
    pub wall: f64,
    pub ratio: f64,
    /// The cluster whose create + chain makes the floor.
    pub critical: String,
    pub gaps: Vec<Gap>,
}

/// The longest chain of step time on one cluster's variants: all that run alone, plus the
/// heaviest claim's holders (they take turns), or the longest single variant.
fn chain(variants: &[&VariantSpan]) -> f64 {
    let alone: f64 = variants.iter().filter(|v| v.alone).map(|v| v.steps).sum();
    let mut by_claim: BTreeMap<&str, f64> = BTreeMap::new();
    for v in variants.iter().filter(|v| !v.alone) {
        for c in &v.claims {
            *by_claim.entry(c).or_default() += v.steps;
        }
    }
    let longest = variants
        .iter()
        .filter(|v| !v.alone)
        .map(|v| v.steps)
        .fold(0.0, f64::max);
    alone + by_claim.values().copied().fold(longest, f64::max)
}

pub fn analyse(t: &Timeline) -> Analysis {
    let mut floor = 0.0;
    let mut critical = String::new();
    let mut names: Vec<&str> = t.clusters.iter().map(|c| c.name.as_str()).collect();
    for v in &t.variants {
        if !names.contains(&v.cluster.as_str()) {
            names.push(&v.cluster);
        }
    }
    for name in names {
        let create = t
            .clusters
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| {
                c.ready
                    .or(c.create.map(|s| s[1]))
                    .zip(c.create.map(|s| s[0]))
            })
            .map_or(0.0, |(ready, start)| ready - start);
        let on: Vec<&VariantSpan> = t.variants.iter().filter(|v| v.cluster == name).collect();
        let f = create + chain(&on);
        if f > floor {
            floor = f;
            critical = name.to_string();
        }
    }
    // Busy: any variant running or any cluster being made; the rest are gaps.
    let mut busy: Vec<[At; 2]> = t.variants.iter().map(|v| [v.start, v.end]).collect();
    busy.extend(
        t.clusters
            .iter()
            .filter_map(|c| c.create.map(|s| [s[0], c.ready.unwrap_or(s[1]).max(s[1])])),
    );
    busy.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut gaps = Vec::new();
    let mut reached = 0.0;
    for b in &busy {
        if b[0] > reached {
            gaps.push(Gap {
                from: reached,
                to: b[0],
                seconds: b[0] - reached,
            });
        }
        reached = f64::max(reached, b[1]);
    }
    if t.wall > reached {
        gaps.push(Gap {
            from: reached,
            to: t.wall,
            seconds: t.wall - reached,
        });
    }
    gaps.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    gaps.truncate(3);
    Analysis {
        floor,
        wall: t.wall,
        ratio: if floor > 0.0 { t.wall / floor } else { 0.0 },
        critical,
        gaps,
    }
}

pub fn analysis_text(a: &Analysis) -> String {
    let mut out = format!(
        "floor   {:.1}s  (slowest cluster create + longest chain of step time, on {})\nwall    {:.1}s\nratio   {:.2}\n",
        a.floor,
        if a.critical.is_empty() {
            "-"
        } else {
            &a.critical
        },
        a.wall,
        a.ratio
    );
    for g in &a.gaps {
        out.push_str(&format!(
            "gap     {:.1}s  from {:.1}s to {:.1}s (no variant ran, no cluster was made)\n",
            g.seconds, g.from, g.to
        ));
    }
    out
}

/// Collects a run's timeline as it happens (shared by every group of the run).
pub struct Recorder {
    begun: Instant,
    t: Mutex<Timeline>,
}

impl Recorder {
    pub fn new(begun: Instant) -> Self {
        Self {
            begun,
            t: Mutex::new(Timeline::default()),
        }
    }

    pub fn at(&self, i: Instant) -> At {
        i.saturating_duration_since(self.begun).as_secs_f64()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Timeline) -> R) -> R {
        f(&mut self.t.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn phase(&self, name: &str, from: Instant, to: Instant) {
        let s = [self.at(from), self.at(to)];
        self.with(|t| t.phases.entry(name.to_string()).or_default().push(s));
    }

    pub fn cluster(&self, name: &str, f: impl FnOnce(&mut ClusterSpan)) {
        self.with(|t| {
            if !t.clusters.iter().any(|c| c.name == name) {
                t.clusters.push(ClusterSpan {
                    name: name.into(),
                    ..Default::default()
                });
            }
            let c = t
                .clusters
                .iter_mut()
                .find(|c| c.name == name)
                .expect("just added");
            f(c);
        });
    }

    /// Namespaces that were still there when the run stopped waiting for them.
    pub fn straggled(&self, names: Vec<String>) {
        self.with(|t| t.stragglers.extend(names));
    }

    pub fn variant(&self, v: VariantSpan) {
        self.with(|t| t.variants.push(v));
    }

    /// The timeline so far, its wall time set to now.
    pub fn finish(&self) -> Timeline {
        let wall = self.at(Instant::now());
        self.with(|t| {
            t.wall = wall;
            t.clone()
        })
    }

    /// The wall-clock length of phase `name` (the union of its intervals).
    pub fn phase_total(&self, name: &str) -> std::time::Duration {
        let secs = self.with(|t| t.phases.get(name).map_or(0.0, |s| union(s)));
        std::time::Duration::from_secs_f64(secs.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(
        id: &str,
        cluster: &str,
        span: [At; 2],
        steps: f64,
        claims: &[&str],
        alone: bool,
    ) -> VariantSpan {
        VariantSpan {
            id: id.into(),
            cluster: cluster.into(),
            queued: 0.0,
            start: span[0],
            end: span[1],
            steps,
            teardown: 0.1,
            claims: claims.iter().map(|c| c.to_string()).collect(),
            alone,
            waited: vec![],
        }
    }

    #[test]
    fn unions_count_overlaps_once() {
        assert_eq!(union(&[[0.0, 2.0], [1.0, 3.0], [5.0, 6.0]]), 4.0);
        assert_eq!(union(&[]), 0.0);
        assert_eq!(union(&[[1.0, 1.0]]), 0.0);
    }

    #[test]
    fn the_floor_is_create_plus_the_longest_chain_given_collisions() {
        // Recorded shape: a 24 s create; three variants sharing nodePort 30001 (5 + 4 + 3 s,
        // they take turns), one disjoint 8 s variant, one alone (node restart, 10 s).
        let t = Timeline {
            clusters: vec![ClusterSpan {
                name: "kp-three".into(),
                create: Some([0.5, 22.0]),
                ready: Some(24.5),
                delete: Some([70.0, 72.0]),
            }],
            variants: vec![
                v(
                    "n/bug",
                    "kp-three",
                    [25.0, 30.5],
                    5.0,
                    &["nodePort 30001"],
                    false,
                ),
                v(
                    "n/local",
                    "kp-three",
                    [30.6, 35.0],
                    4.0,
                    &["nodePort 30001"],
                    false,
                ),
                v(
                    "n/hostport",
                    "kp-three",
                    [35.1, 38.5],
                    3.0,
                    &["nodePort 30001"],
                    false,
                ),
                v("d/dns", "kp-three", [25.0, 33.5], 8.0, &[], false),
                v("k/restart", "kp-three", [40.0, 50.5], 10.0, &[], true),
            ],
            phases: Default::default(),
            wall: 72.5,
            stragglers: vec![],
        };
        let a = analyse(&t);
        // 24 s to ready + 10 s alone + max(12 s of nodePort 30001, 8 s).
        assert!((a.floor - 46.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.critical, "kp-three");
        assert!((a.ratio - 72.5 / 46.0).abs() < 1e-9);
        // The biggest gap is the end (delete), then 38.5..40.0.
        assert_eq!(a.gaps.len(), 3);
        assert!((a.gaps[0].seconds - 22.0).abs() < 1e-9, "{:?}", a.gaps);
        assert!((a.gaps[1].from - 38.5).abs() < 1e-9, "{:?}", a.gaps);
        let text = analysis_text(&a);
        assert!(text.starts_with("floor   46.0s"), "{text}");
        assert!(text.contains("ratio   1.58"), "{text}");
    }

    #[test]
    fn the_slowest_cluster_decides_and_a_borrowed_one_has_no_create() {
        let t = Timeline {
            clusters: vec![
                ClusterSpan {
                    name: "a".into(),
                    create: Some([0.0, 20.0]),
                    ready: Some(21.0),
                    delete: None,
                },
                ClusterSpan {
                    name: "b".into(),
                    create: Some([0.0, 40.0]),
                    ready: Some(41.0),
                    delete: None,
                },
            ],
            variants: vec![
                v("x/1", "a", [21.0, 51.0], 30.0, &[], false),
                v("y/1", "b", [41.0, 46.0], 5.0, &[], false),
                v("z/1", "borrowed", [0.0, 2.0], 2.0, &[], false),
            ],
            phases: Default::default(),
            wall: 52.0,
            stragglers: vec![],
        };
        let a = analyse(&t);
        assert!((a.floor - 51.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.critical, "a");
    }
}
