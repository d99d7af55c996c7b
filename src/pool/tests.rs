//! The pool without Docker: a fake maker counts clusters. One shape made once for many
//! leases (in parallel), two shapes two clusters, a warm one pruned only past its TTL and
//! only when idle, a dead holder's leftovers swept, and claims that exclude each other.

use std::sync::Mutex;
use std::time::Duration;

use super::*;

#[derive(Default)]
struct Fake {
    made: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
    swept: Mutex<Vec<String>>,
}

impl Maker for Fake {
    async fn create(&self, key: &str, name: &str) -> Result<ShapeState, AppError> {
        // Long enough that the others are waiting meanwhile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.made.lock().unwrap().push(key.to_string());
        Ok(ShapeState {
            key: key.into(),
            cluster: name.to_string(),
            kubeconfig: "/nonexistent".into(),
            config: "c.yaml".into(),
            image: "img".into(),
            created: state::unix_now(),
            last_used: state::unix_now(),
            holders: vec![],
        })
    }
    async fn exists(&self, s: &ShapeState) -> bool {
        !self.deleted.lock().unwrap().contains(&s.cluster)
    }
    async fn delete(&self, s: &ShapeState) -> Result<(), AppError> {
        self.deleted.lock().unwrap().push(s.cluster.clone());
        Ok(())
    }
    async fn sweep(&self, _: &ShapeState, dead: &[Holder]) -> Result<(), AppError> {
        self.swept
            .lock()
            .unwrap()
            .extend(dead.iter().map(|h| h.run_id.clone()));
        Ok(())
    }
}

fn pool(tmp: &tempfile::TempDir, ttl: Duration) -> Pool {
    Pool::at(tmp.path().join("pool"), ttl)
}

#[tokio::test(flavor = "multi_thread")]
async fn many_leases_of_one_shape_make_one_cluster_and_two_shapes_two() {
    let tmp = tempfile::tempdir().unwrap();
    let (p, fake) = (pool(&tmp, DEFAULT_TTL), Fake::default());
    let leases = futures_util::future::join_all(
        (0..8).map(|i| p.lease(&fake, "aaaa", Box::leak(format!("r{i}").into_boxed_str()))),
    )
    .await;
    let leases: Vec<Lease> = leases.into_iter().map(Result::unwrap).collect();
    assert_eq!(*fake.made.lock().unwrap(), ["aaaa"]);
    assert_eq!(leases.iter().filter(|l| l.created).count(), 1);
    assert_eq!(p.shapes()[0].holders.len(), 8);
    let other = p.lease(&fake, "bbbb", "r9").await.unwrap();
    assert_eq!(*fake.made.lock().unwrap(), ["aaaa", "bbbb"]);
    for l in leases {
        l.release().await.unwrap();
    }
    other.release().await.unwrap();
    assert!(p.shapes().iter().all(|s| s.holders.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_cluster_goes_only_when_idle_past_its_ttl() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let p = pool(&tmp, Duration::from_secs(3600));
    let held = p.lease(&fake, "aaaa", "r1").await.unwrap();
    // In use: not even `all` removes it.
    assert!(p.prune(&fake, true).await.unwrap().is_empty());
    held.release().await.unwrap();
    // Idle, but younger than its TTL.
    assert!(p.prune(&fake, false).await.unwrap().is_empty());
    let p0 = pool(&tmp, Duration::ZERO);
    assert_eq!(
        p0.prune(&fake, false).await.unwrap(),
        [p0.cluster_name("aaaa")]
    );
    assert!(p0.shapes().is_empty());
    // The next lease makes it again.
    let again = p0.lease(&fake, "aaaa", "r2").await.unwrap();
    assert!(again.created);
    assert_eq!(fake.made.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_holders_leftovers_are_swept_by_the_next_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let p = pool(&tmp, DEFAULT_TTL);
    p.lease(&fake, "aaaa", "r1")
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    // A holder whose process is gone (as a SIGKILL leaves it).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let json = p.dir.join("aaaa.json");
    let mut s = state::read(&json).unwrap();
    s.holders.push(Holder {
        pid: dead_pid,
        run_id: "deadrun".into(),
    });
    state::write(&json, &s).unwrap();
    let l = p.lease(&fake, "aaaa", "r2").await.unwrap();
    assert_eq!(*fake.swept.lock().unwrap(), ["deadrun"]);
    assert_eq!(
        l.state
            .holders
            .iter()
            .map(|h| h.run_id.as_str())
            .collect::<Vec<_>>(),
        ["r2"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn colliding_claims_and_alone_variants_wait_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = Fake::default();
    let p = pool(&tmp, DEFAULT_TTL);
    let a = p.lease(&fake, "aaaa", "r1").await.unwrap();
    let b = p.lease(&fake, "aaaa", "r2").await.unwrap();
    let port = vec!["nodePort 30080/TCP".to_string()];
    let held = a.hold(&port, false).await.unwrap();
    // The same claim waits; another claim does not.
    let other = tokio::time::timeout(
        Duration::from_secs(5),
        b.hold(&["nodePort 30081/TCP".into()], false),
    )
    .await
    .expect("a different claim is free")
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.hold(&port, false))
            .await
            .is_err(),
        "the same claim was had twice"
    );
    // Alone waits for every running variant.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.hold(&[], true))
            .await
            .is_err()
    );
    drop((held, other));
    let alone = tokio::time::timeout(Duration::from_secs(5), b.hold(&[], true))
        .await
        .expect("free once they end")
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), a.hold(&port, false))
            .await
            .is_err(),
        "a variant ran beside one that must run alone"
    );
    drop(alone);
}
