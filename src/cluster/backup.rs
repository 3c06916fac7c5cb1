//! A backup of every shard of a cluster, as one library operation: full backups (in parallel,
//! or `coordinated` at one consistent cut) or every shard's incremental (`Level::Incremental`,
//! `Level::Auto`), then one cluster record (`clusters/<C>/backups/<id>.json`) listing each
//! shard's backup.
//!
//! All or nothing for the record: a shard that fails makes the operation fail by name and no
//! cluster record is written (the other shards' backups stay, as ordinary set backups).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::cut::Cut;
use super::record::{self, ClusterBackup, ShardBackup};
use super::replica_cut;
use crate::backup::{BackupRequest, Level};
use crate::catalog::Manifest;
use crate::config::{ClusterConfig, ConfigFile, SetConfig};
use crate::error::{Error, Result};
use crate::progress::{Prefixed, Reporter};
use crate::repo::Repository;

/// Which cluster backup to take.
#[derive(Debug, Clone)]
pub struct ClusterBackupRequest {
    pub cluster: String,
    /// Full, every shard's incremental, or `auto` (each shard decides: n+1 when it can).
    pub level: Level,
    /// One consistent cut across every shard (full backups only).
    pub coordinated: bool,
    pub comment: Option<String>,
}

/// One shard's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ShardOutcome {
    pub set: String,
    #[serde(flatten)]
    pub result: ShardResult,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ShardResult {
    Ok {
        backup_id: String,
        level: u32,
        method: crate::config::Method,
        duration_s: f64,
        size: u64,
        lock_hold_ms: Option<u64>,
        consistent_point: Option<crate::catalog::ConsistentPoint>,
    },
    Failed {
        error: String,
    },
}

/// What a cluster backup did. `record` is the cluster record, written only when every shard
/// succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterBackupReport {
    pub cluster: String,
    pub coordinated: bool,
    /// `0`, `1` or `auto`, as asked.
    pub level: String,
    pub ok: bool,
    pub record: Option<ClusterBackup>,
    pub shards: Vec<ShardOutcome>,
}

impl ClusterBackupReport {
    /// The shards that failed, with their errors.
    pub fn failures(&self) -> Vec<(&str, &str)> {
        self.shards
            .iter()
            .filter_map(|s| match &s.result {
                ShardResult::Failed { error } => Some((s.set.as_str(), error.as_str())),
                ShardResult::Ok { .. } => None,
            })
            .collect()
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Full => "0",
        Level::Incremental => "1",
        Level::Auto => "auto",
    }
}

/// The cluster's definition and its sets, resolved.
pub fn resolve(config: &ConfigFile, name: &str) -> Result<(ClusterConfig, Vec<SetConfig>)> {
    crate::repo::check_component("cluster name", name)?;
    let cluster = config.clusters.get(name).cloned().ok_or_else(|| {
        Error::Usage(format!(
            "no cluster '{name}' in {} (clusters: {})",
            config.source.display(),
            if config.clusters.is_empty() {
                "none".to_string()
            } else {
                config
                    .clusters
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    })?;
    if cluster.sets.is_empty() {
        return Err(Error::Config(format!(
            "{}: [clusters.{name}] lists no sets",
            config.source.display()
        )));
    }
    let sets = cluster
        .sets
        .iter()
        .map(|s| config.resolve_set(s, &Default::default()))
        .collect::<Result<Vec<_>>>()?;
    Ok((cluster, sets))
}

/// The shards with `servers` pointed at their primaries: a coordinated cut locks, marks and
/// reads the GSN on the servers that take the writes.
pub async fn on_primaries(sets: Vec<SetConfig>) -> Result<Vec<SetConfig>> {
    let mut out = Vec::with_capacity(sets.len());
    for set in sets {
        out.push(crate::servers::resolve(&set, crate::servers::Want::Primary).await?);
    }
    Ok(out)
}

/// Take the cluster backup `req` asks for. A shard that fails does not make this return an
/// error: the report names it, `ok` is false and no record is written (the caller fails).
pub async fn take(
    config: Arc<ConfigFile>,
    req: ClusterBackupRequest,
    ui: Arc<dyn Reporter>,
) -> Result<ClusterBackupReport> {
    let name = req.cluster.clone();
    if req.coordinated && req.level != Level::Full {
        return Err(Error::Usage(format!(
            "backup --cluster {name} --coordinated --level {}: a coordinated cut takes a full \
             backup of every shard; an incremental needs no cut (each shard's range ends at its \
             own flushed binlog, and `restore --cluster` finds one GSN or checkpoint across \
             them). Leave --coordinated out, or take --level 0",
            level_name(req.level)
        )));
    }
    let (cluster, sets) = resolve(&config, &name)?;
    let sets = on_primaries(sets).await?;
    let started = chrono::Utc::now();
    let n = sets.len();
    // A coordinated cut runs every shard at once; otherwise `parallel` bounds it.
    let parallel = if req.coordinated {
        n
    } else {
        cluster.parallel.unwrap_or(n).max(1)
    };
    let cut = req.coordinated.then(|| {
        let longest = sets
            .iter()
            .map(|s| s.lock_timeout)
            .max()
            .unwrap_or_default();
        Arc::new(Cut::new(n, longest + Duration::from_secs(30)))
    });
    // One repository for all shards, created (if new) once, before they start.
    tokio::task::block_in_place(|| Repository::open(&config, true))?;
    let from_replicas = req.coordinated && sets.iter().any(|s| s.primary.is_some());
    if let Some(s) = sets.iter().find(|s| from_replicas && s.primary.is_none()) {
        return Err(Error::Usage(format!(
            "backup --cluster {name} --coordinated: some of its sets name a primary (their \
             replica is backed up at the primaries' cut) but set '{}' does not; give every \
             shard's set a `primary`, or none",
            s.name
        )));
    }
    let mut via = std::collections::BTreeMap::new();
    let results = if from_replicas {
        let (results, v) = via_replicas(&config, &sets, req.comment.clone(), &ui).await;
        via = v;
        results
    } else {
        // Each shard in its own task: a shard's blocking work (a copy out of a snapshot, waiting
        // for EBS) must never hold up another shard that still has to release its lock.
        let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
        let runs = sets.iter().map(|set| {
            let cut = cut.clone();
            let gate = gate.clone();
            let ui = ui.clone();
            let config = config.clone();
            let comment = req.comment.clone();
            let level = req.level;
            let set = set.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.expect("never closed");
                let notes = Prefixed {
                    inner: &*ui,
                    prefix: format!("shard '{}': ", set.name),
                };
                let result: Result<(Manifest, f64)> = if level == Level::Full {
                    crate::backup::full_backup(
                        &notes,
                        &config,
                        &set,
                        comment,
                        cut.clone().map(|c| (c, set.name.clone())),
                    )
                    .await
                } else {
                    let req = BackupRequest {
                        set: set.clone(),
                        level,
                        comment,
                        dry_run: false,
                    };
                    crate::backup::take(&config, req, &notes).await.and_then(
                        |report| match report {
                            crate::backup::BackupReport::Full(f) => Ok((f.backup, f.duration_s)),
                            crate::backup::BackupReport::Incremental(i) => {
                                Ok((i.backup, i.duration_s))
                            }
                            _ => Err(Error::Backup("no backup was made".into())),
                        },
                    )
                };
                if let (Err(e), Some(c)) = (&result, &cut) {
                    c.fail(&set.name, &e.to_string());
                }
                (set.name.clone(), result)
            })
        });
        let results: Vec<(String, Result<(Manifest, f64)>)> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .zip(&sets)
            .map(|(r, set)| {
                r.unwrap_or_else(|e| {
                    (
                        set.name.clone(),
                        Err(Error::Backup(format!("the shard's task failed: {e}"))),
                    )
                })
            })
            .collect();
        results
    };
    let ok = results.iter().all(|(_, r)| r.is_ok());

    let mut rec = ClusterBackup {
        cluster: name.clone(),
        id: crate::catalog::new_backup_id(started),
        coordinated: req.coordinated,
        start_time: started,
        end_time: chrono::Utc::now(),
        shards: Default::default(),
        max_lock_hold_ms: None,
    };
    let mut shards = Vec::new();
    for (set, r) in &results {
        let result = match r {
            Ok((m, secs)) => {
                rec.shards.insert(
                    set.clone(),
                    ShardBackup {
                        backup_id: m.id.clone(),
                        level: m.level,
                        parent_id: m.parent_id.clone(),
                        method: m.method,
                        consistent_point: m.consistent_point.clone(),
                        lock_hold_ms: m.read_lock_ms,
                        duration_s: *secs,
                        size: m.total_stored_size(),
                        from_replica: via.get(set).cloned(),
                    },
                );
                ShardResult::Ok {
                    backup_id: m.id.clone(),
                    level: m.level,
                    method: m.method,
                    duration_s: *secs,
                    size: m.total_stored_size(),
                    lock_hold_ms: m.read_lock_ms,
                    consistent_point: m.consistent_point.clone(),
                }
            }
            Err(e) => ShardResult::Failed {
                error: e.to_string(),
            },
        };
        shards.push(ShardOutcome {
            set: set.clone(),
            result,
        });
    }
    rec.max_lock_hold_ms = if from_replicas {
        // Commits were blocked on the primaries only, for the cut.
        via.values().map(|v| v.primary_lock_hold_ms).max()
    } else {
        rec.shards.values().filter_map(|s| s.lock_hold_ms).max()
    };
    if ok {
        let repo = tokio::task::block_in_place(|| Repository::open(&config, true))?;
        // Ids are seconds: two cluster backups within one second must not share one.
        while tokio::task::block_in_place(|| {
            repo.backend().exists(&record::backup_path(&name, &rec.id))
        })? {
            tokio::time::sleep(Duration::from_millis(200)).await;
            rec.id = crate::catalog::new_backup_id(chrono::Utc::now());
        }
        tokio::task::block_in_place(|| {
            record::write(&repo, &record::backup_path(&name, &rec.id), &rec)
        })?;
    }
    Ok(ClusterBackupReport {
        cluster: name,
        coordinated: req.coordinated,
        level: level_name(req.level).to_string(),
        ok,
        record: ok.then_some(rec),
        shards,
    })
}

type ShardResults = Vec<(String, Result<(Manifest, f64)>)>;

/// The coordinated backup of shards that are replicas (see `replica_cut`): every replica's
/// SQL thread stopped, the cut on the primaries, then each replica run to its primary's point
/// and backed up there (all at once), its SQL thread started again in every case.
async fn via_replicas(
    config: &Arc<ConfigFile>,
    sets: &[SetConfig],
    comment: Option<String>,
    ui: &Arc<dyn Reporter>,
) -> (
    ShardResults,
    std::collections::BTreeMap<String, replica_cut::FromReplica>,
) {
    let abandon = |failed: &str, why: &str| -> ShardResults {
        sets.iter()
            .map(|s| {
                let e = if s.name == failed {
                    Error::Backup(why.to_string())
                } else {
                    Error::Backup(format!(
                        "not taken: the coordinated cut was abandoned because shard \
                         '{failed}' failed"
                    ))
                };
                (s.name.clone(), Err(e))
            })
            .collect()
    };
    let mut shards = Vec::new();
    for set in sets {
        match replica_cut::pause(config, set).await {
            Ok(s) => shards.push(s),
            // `shards` is dropped: each stopped SQL thread starts again.
            Err(e) => return (abandon(&set.name, &e.to_string()), Default::default()),
        }
    }
    let points = match replica_cut::cut(&shards).await {
        Ok(p) => p,
        Err(e) => {
            let why = e.to_string();
            return (
                sets.iter()
                    .map(|s| (s.name.clone(), Err(Error::Backup(why.clone()))))
                    .collect(),
                Default::default(),
            );
        }
    };
    let mut via = std::collections::BTreeMap::new();
    let runs = shards
        .into_iter()
        .zip(points)
        .map(|(shard, (point, hold))| {
            via.insert(
                shard.replica.name.clone(),
                replica_cut::FromReplica {
                    primary: shard.primary.name.clone(),
                    primary_point: point.clone(),
                    primary_lock_hold_ms: hold,
                },
            );
            let config = config.clone();
            let ui = ui.clone();
            let comment = comment.clone();
            tokio::spawn(async move {
                let name = shard.replica.name.clone();
                let notes = Prefixed {
                    inner: &*ui,
                    prefix: format!("shard '{name}': "),
                };
                let r = async {
                    replica_cut::bring_to(&shard, &point).await?;
                    notes.note(&format!(
                        "note: replica at the cut {point} of primary set '{}' (commits blocked \
                     there {hold} ms); backing it up",
                        shard.primary.name
                    ));
                    // Static now: the backup records the primary's point as the replica's source
                    // point, and leaves the SQL thread stopped until it is done.
                    let mut set = shard.replica.clone();
                    set.replica_pause = true;
                    crate::backup::full_backup(&notes, &config, &set, comment, None).await
                }
                .await;
                if let Err(e) = replica_cut::resume(shard).await {
                    notes.note(&format!(
                    "warning: the replica's SQL thread could not be started again ({e}): start \
                     it by hand (START REPLICA SQL_THREAD)"
                ));
                }
                (name, r)
            })
        });
    let results = futures_util::future::join_all(runs.collect::<Vec<_>>())
        .await
        .into_iter()
        .zip(sets)
        .map(|(r, set)| {
            r.unwrap_or_else(|e| {
                (
                    set.name.clone(),
                    Err(Error::Backup(format!("the shard's task failed: {e}"))),
                )
            })
        })
        .collect();
    (results, via)
}
