//! A reader's lease: a restore marks the backup it reads (`sets/<set>/leases/<id>.<token>.json`)
//! so that a `purge` running meanwhile keeps that backup, and with it the binlogs after it.
//!
//! A lease carries an expiry that its holder renews while it reads; a holder killed with -9
//! stops renewing and its lease lapses, after which purge removes the file. A lease never makes
//! purge delete anything: at worst it keeps a backup one retention run longer.
//!
//! The window left: a purge that read the leases just before a restore wrote its lease may still
//! delete the backup; the restore then fails reading it (a missing file is an error, never a
//! shorter restore), which is why the restore checks the manifest again once its lease is down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Repository;
use crate::error::Result;

/// How long a lease holds without renewal, and how often its holder renews it.
const LEASE_FOR: Duration = Duration::from_secs(180);
const RENEW_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub set: String,
    pub backup: String,
    pub pid: u32,
    pub host: String,
    pub started: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

fn leases_dir(set: &str) -> String {
    format!("sets/{set}/leases")
}

/// A lease held by this process; released (its file removed) on drop.
pub struct Lease {
    stop: Arc<AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
    repo: Arc<Repository>,
    rel: String,
}

impl Lease {
    /// Lease backup `id` of `set` in `repo` for as long as the returned value lives.
    pub fn take(repo: Arc<Repository>, set: &str, id: &str) -> Result<Lease> {
        crate::repo::check_component("backup id", id)?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let rel = format!("{}/{id}.{token}.json", leases_dir(set));
        let record = LeaseRecord {
            set: set.to_string(),
            backup: id.to_string(),
            pid: std::process::id(),
            host: crate::repo::lock::hostname(),
            started: Utc::now(),
            expires: Utc::now(),
        };
        write(&repo, &rel, &record)?;
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (stop, repo, rel) = (stop.clone(), repo.clone(), rel.clone());
            std::thread::Builder::new()
                .name("zrm-lease".into())
                .spawn(move || {
                    let tick = Duration::from_millis(200);
                    let mut waited = Duration::ZERO;
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(tick);
                        waited += tick;
                        if waited >= RENEW_EVERY {
                            waited = Duration::ZERO;
                            if let Err(e) = write(&repo, &rel, &record) {
                                tracing::warn!("cannot renew the lease {rel}: {e}");
                            }
                        }
                    }
                })
                .ok()
        };
        Ok(Lease {
            stop,
            renewer,
            repo,
            rel,
        })
    }
}

fn write(repo: &Repository, rel: &str, record: &LeaseRecord) -> Result<()> {
    let mut r = record.clone();
    r.expires = Utc::now() + chrono::Duration::from_std(LEASE_FOR).expect("small");
    repo.write_small(rel, &serde_json::to_vec_pretty(&r).expect("serialises"))
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        self.repo.backend().remove_file(&self.rel);
    }
}

/// The live leases of a set (backup id → who reads it); lapsed ones are removed when `tidy`.
/// A lease file that cannot be read counts as live for the backup its name gives: purge must
/// not delete a backup because the store failed to answer.
pub fn live(repo: &Repository, set: &str, tidy: bool) -> Result<Vec<LeaseRecord>> {
    let dir = leases_dir(set);
    let now = Utc::now();
    let mut out = Vec::new();
    for name in repo.backend().list(&dir)? {
        let Some(id) = name.split('.').next().filter(|_| name.ends_with(".json")) else {
            continue;
        };
        if crate::repo::check_component("backup id", id).is_err() || name.starts_with('.') {
            continue;
        }
        let rel = format!("{dir}/{name}");
        match repo
            .read_small(&rel)
            .ok()
            .and_then(|b| serde_json::from_slice::<LeaseRecord>(&b).ok())
        {
            Some(r) if r.expires < now => {
                if tidy {
                    repo.backend().remove_file(&rel);
                }
            }
            Some(r) if r.backup == id => out.push(r),
            _ => out.push(LeaseRecord {
                set: set.to_string(),
                backup: id.to_string(),
                pid: 0,
                host: "?".into(),
                started: now,
                expires: now,
            }),
        }
    }
    Ok(out)
}
