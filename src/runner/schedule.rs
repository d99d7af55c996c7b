//! Which variants run at once on one cluster: at most `-j`, and never two whose claims collide
//! (see `claims`); a variant that must run alone waits for the cluster to be free and keeps it
//! so. A variant that has to wait says for whom and why.

use std::sync::Mutex;

use tokio::sync::Notify;

use super::claims::Claims;

pub struct Scheduler {
    jobs: usize,
    running: Mutex<Vec<(String, Claims)>>,
    changed: Notify,
}

/// A place among the running variants; freed on drop.
pub struct Slot<'a> {
    scheduler: &'a Scheduler,
    id: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut r = self
            .scheduler
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(i) = r.iter().position(|(id, _)| *id == self.id) {
            r.remove(i);
        }
        drop(r);
        self.scheduler.changed.notify_waiters();
    }
}

impl Scheduler {
    pub fn new(jobs: usize) -> Self {
        Self {
            jobs: jobs.max(1),
            running: Mutex::new(Vec::new()),
            changed: Notify::new(),
        }
    }

    /// Why `claims` cannot start now, if it cannot.
    fn blocked(&self, running: &[(String, Claims)], claims: &Claims) -> Option<String> {
        if let Some((id, why)) = running
            .iter()
            .find_map(|(id, c)| claims.conflict(c).map(|why| (id, why)))
        {
            return Some(format!("waits for {id}: {why}"));
        }
        (running.len() >= self.jobs).then(|| format!("waits for a free slot (-j {})", self.jobs))
    }

    /// Wait until `id` may run beside what runs; its slot, and every reason it waited (in order,
    /// each once).
    pub async fn admit(&self, id: &str, claims: &Claims) -> (Slot<'_>, Vec<String>) {
        let mut waited: Vec<String> = Vec::new();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a slot freed in between is not missed.
            notified.as_mut().enable();
            {
                let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                match self.blocked(&running, claims) {
                    None => {
                        running.push((id.to_string(), claims.clone()));
                        return (
                            Slot {
                                scheduler: self,
                                id: id.to_string(),
                            },
                            waited,
                        );
                    }
                    Some(why) => {
                        if waited.last() != Some(&why) {
                            waited.push(why);
                        }
                    }
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::claims::Claim;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn port(p: u64) -> Claims {
        Claims {
            held: [Claim::NodePort(p)].into(),
            alone: None,
        }
    }

    /// Run `variants` (id, claims, ms) through one scheduler; the most that ran at once, and
    /// the pairs that overlapped.
    async fn run(jobs: usize, variants: Vec<(&'static str, Claims, u64)>) -> (usize, Vec<String>) {
        let s = Arc::new(Scheduler::new(jobs));
        let now = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        let max = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (id, c, ms) in variants {
            let (s, now, max, overlaps) = (s.clone(), now.clone(), max.clone(), overlaps.clone());
            tasks.push(tokio::spawn(async move {
                let (_slot, _) = s.admit(id, &c).await;
                {
                    let mut n = now.lock().unwrap();
                    for other in n.iter() {
                        overlaps.lock().unwrap().push(format!("{other}+{id}"));
                    }
                    n.push(id);
                    max.fetch_max(n.len(), Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(ms)).await;
                now.lock().unwrap().retain(|x| *x != id);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let o = overlaps.lock().unwrap().clone();
        (max.load(Ordering::SeqCst), o)
    }

    #[tokio::test(start_paused = true)]
    async fn disjoint_variants_run_at_once_and_colliding_ones_take_turns() {
        let (max, overlaps) = run(
            4,
            vec![
                ("a", port(30001), 100),
                ("b", port(30002), 100),
                ("c", port(30001), 100),
                ("d", Claims::default(), 100),
            ],
        )
        .await;
        assert_eq!(max, 3);
        assert!(
            !overlaps.iter().any(|o| o == "a+c" || o == "c+a"),
            "{overlaps:?}"
        );
        assert!(overlaps.iter().any(|o| o == "a+b"), "{overlaps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_variant_that_must_run_alone_runs_alone_and_j_bounds_the_rest() {
        let alone = Claims {
            alone: Some("restarts node worker".into()),
            ..Default::default()
        };
        let (_, overlaps) = run(
            8,
            vec![
                ("x", Claims::default(), 50),
                ("r", alone, 50),
                ("y", Claims::default(), 50),
            ],
        )
        .await;
        assert!(!overlaps.iter().any(|o| o.contains('r')), "{overlaps:?}");
        let many = (0..10)
            .map(|i| {
                (
                    ["v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"][i],
                    Claims::default(),
                    10,
                )
            })
            .collect();
        assert_eq!(run(3, many).await.0, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_variant_says_why() {
        let s = Scheduler::new(2);
        let (first, w) = s.admit("nodeport/bug", &port(30001)).await;
        assert!(w.is_empty());
        let claims = port(30001);
        let second = s.admit("nodeport/mitigated", &claims);
        tokio::pin!(second);
        assert!(futures_util::poll!(second.as_mut()).is_pending());
        drop(first);
        let (_slot, why) = second.await;
        assert_eq!(why, ["waits for nodeport/bug: nodePort 30001"]);
    }
}
