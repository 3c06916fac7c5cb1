//! One consistent cut across several servers: each shard's backup takes its own momentary lock,
//! then waits here until every shard holds its lock; only then does any shard record its
//! coordinates and start its snapshot, and release. At that moment commits are blocked on all
//! shards at once, so the per-shard points belong to one instant.
//!
//! If any shard fails before it holds its lock (down, refused, lock timeout), every shard
//! waiting here gets an error and releases: never a half-coordinated backup.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{Error, Result};

pub struct Cut {
    shards: usize,
    /// Longest a shard waits for the others once it holds its own lock.
    timeout: Duration,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Shards ready to take their lock (connections open, work planned).
    ready: usize,
    locked: usize,
    failed: Option<String>,
    generation: u64,
}

impl Cut {
    pub fn new(shards: usize, timeout: Duration) -> Cut {
        let (changed, _) = watch::channel(0);
        Cut {
            shards,
            timeout,
            state: Mutex::new(State::default()),
            changed,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self, s: &mut State) {
        s.generation += 1;
        let _ = self.changed.send(s.generation);
    }

    /// A shard failed before holding its lock: everyone gives up.
    pub fn fail(&self, shard: &str, why: &str) {
        let mut s = self.state();
        if s.failed.is_none() {
            s.failed = Some(format!("shard '{shard}': {why}"));
        }
        self.bump(&mut s);
    }

    /// Called just before taking this shard's lock: returns once every shard is that far, so
    /// that no shard holds its lock while another is still preparing (that wait would count
    /// as lock time).
    pub async fn all_ready(&self, shard: &str) -> Result<()> {
        self.arrive(shard, |s| &mut s.ready, "is ready").await
    }

    /// Called with this shard's lock held: returns once every shard holds its lock, or an error
    /// (the caller releases its lock) when a shard failed or the others took too long.
    pub async fn all_locked(&self, shard: &str) -> Result<()> {
        self.arrive(shard, |s| &mut s.locked, "holds its lock")
            .await
    }

    async fn arrive(
        &self,
        shard: &str,
        counter: fn(&mut State) -> &mut usize,
        what: &str,
    ) -> Result<()> {
        let mut rx = self.changed.subscribe();
        {
            let mut s = self.state();
            *counter(&mut s) += 1;
            self.bump(&mut s);
        }
        let wait = async {
            loop {
                {
                    let s = self.state();
                    if let Some(f) = &s.failed {
                        return Err(Error::Backup(format!(
                            "the coordinated cut was abandoned, so shard '{shard}' released its \
                             lock and took no backup: {f}"
                        )));
                    }
                    let mut s = s;
                    if *counter(&mut s) >= self.shards {
                        return Ok(());
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Backup("the coordinated cut was dropped".into()));
                }
            }
        };
        match tokio::time::timeout(self.timeout, wait).await {
            Ok(r) => r,
            Err(_) => {
                self.fail(
                    shard,
                    &format!(
                        "waited {} s for every other shard to be as far (until each {what})",
                        self.timeout.as_secs()
                    ),
                );
                Err(Error::Backup(format!(
                    "shard '{shard}' waited {} s for the other shards (until each {what}); the \
                     coordinated cut was abandoned",
                    self.timeout.as_secs()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn all_or_none() {
        let cut = Arc::new(Cut::new(2, Duration::from_secs(5)));
        let c2 = cut.clone();
        let a = tokio::spawn(async move { c2.all_locked("a").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cut.all_locked("b").await.unwrap();
        a.await.unwrap().unwrap();

        let cut = Arc::new(Cut::new(3, Duration::from_secs(5)));
        let c2 = cut.clone();
        let a = tokio::spawn(async move { c2.all_locked("a").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cut.fail("c", "connection refused");
        let e = a.await.unwrap().unwrap_err().to_string();
        assert!(e.contains("shard 'c': connection refused"), "{e}");
        assert!(cut.all_locked("b").await.is_err());
    }

    #[tokio::test]
    async fn times_out() {
        let cut = Cut::new(2, Duration::from_millis(100));
        let e = cut.all_locked("a").await.unwrap_err().to_string();
        assert!(e.contains("waited 0 s for the other shards"), "{e}");
    }
}
