//! Cluster commands: `backup --cluster C [--coordinated]` and `checkpoint --cluster C --name N`
//! (and the cluster restore in `cluster_restore.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::Context;
use crate::cluster::cut::Cut;
use crate::cluster::record::{self, Checkpoint, CheckpointShard, ClusterBackup, ShardBackup};
use crate::config::{ClusterConfig, ConfigFile, SetConfig};
use crate::error::{Error, Result};
use crate::mysql::lock::{self, LockKind, LockRequest};
use crate::mysql::{self, ServerFacts};
use crate::output::{emit, emit_json, human_bytes};
use crate::progress::ProgressPolicy;
use crate::repo::Repository;

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

/// A context for work running in parallel: no progress bars (they would fight on a terminal).
fn quiet_context(ctx: &Context) -> Context {
    Context {
        global: ctx.global.clone(),
        progress: ProgressPolicy { enabled: false },
    }
}

/// One shard's outcome.
struct ShardResult {
    set: String,
    result: Result<(crate::catalog::Manifest, f64)>,
}

pub async fn backup(
    ctx: &Context,
    name: &str,
    coordinated: bool,
    comment: Option<String>,
) -> Result<i32> {
    let config = ctx.config()?;
    let (cluster, sets) = resolve(&config, name)?;
    let started = chrono::Utc::now();
    let n = sets.len();
    // A coordinated cut runs every shard at once; otherwise `parallel` bounds it.
    let parallel = if coordinated {
        n
    } else {
        cluster.parallel.unwrap_or(n).max(1)
    };
    let cut = coordinated.then(|| {
        let longest = sets
            .iter()
            .map(|s| s.lock_timeout)
            .max()
            .unwrap_or_default();
        Arc::new(Cut::new(n, longest + Duration::from_secs(30)))
    });
    // One repository for all shards, created (if new) once, before they start.
    tokio::task::block_in_place(|| Repository::open(&config, true))?;
    // Each shard in its own task: a shard's blocking work (a copy out of a snapshot, waiting
    // for EBS) must never hold up another shard that still has to release its lock.
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let config = Arc::new(config);
    let runs = sets.iter().map(|set| {
        let cut = cut.clone();
        let gate = gate.clone();
        let quiet = quiet_context(ctx);
        let config = config.clone();
        let comment = comment.clone();
        let set = set.clone();
        tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("never closed");
            let result = super::backup::full_backup(
                &quiet,
                &config,
                &set,
                comment,
                cut.clone().map(|c| (c, set.name.clone())),
            )
            .await;
            if let (Err(e), Some(c)) = (&result, &cut) {
                c.fail(&set.name, &e.to_string());
            }
            ShardResult {
                set: set.name.clone(),
                result,
            }
        })
    });
    let results: Vec<ShardResult> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .zip(&sets)
        .map(|(r, set)| {
            r.unwrap_or_else(|e| ShardResult {
                set: set.name.clone(),
                result: Err(Error::Backup(format!("the shard's task failed: {e}"))),
            })
        })
        .collect();
    let failed = results.iter().filter(|r| r.result.is_err()).count();

    let mut rec = ClusterBackup {
        cluster: name.to_string(),
        id: crate::catalog::new_backup_id(started),
        coordinated,
        start_time: started,
        end_time: chrono::Utc::now(),
        shards: Default::default(),
        max_lock_hold_ms: None,
    };
    for r in &results {
        if let Ok((m, secs)) = &r.result {
            rec.shards.insert(
                r.set.clone(),
                ShardBackup {
                    backup_id: m.id.clone(),
                    method: m.method,
                    consistent_point: m.consistent_point.clone(),
                    lock_hold_ms: m.read_lock_ms,
                    duration_s: *secs,
                    size: m.total_stored_size(),
                },
            );
        }
    }
    rec.max_lock_hold_ms = rec.shards.values().filter_map(|s| s.lock_hold_ms).max();
    crate::logfile::result(
        results
            .iter()
            .map(|r| match &r.result {
                Ok((m, _)) => format!("{}: backup {}", r.set, m.id),
                Err(e) => format!("{}: FAILED: {e}", r.set),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    if failed == 0 {
        let repo = tokio::task::block_in_place(|| Repository::open(&config, true))?;
        // Ids are seconds: two cluster backups within one second must not share one.
        while tokio::task::block_in_place(|| {
            repo.backend().exists(&record::backup_path(name, &rec.id))
        })? {
            tokio::time::sleep(Duration::from_millis(200)).await;
            rec.id = crate::catalog::new_backup_id(chrono::Utc::now());
        }
        tokio::task::block_in_place(|| {
            record::write(&repo, &record::backup_path(name, &rec.id), &rec)
        })?;
    }

    if ctx.json() {
        emit_json(&serde_json::json!({
            "cluster": name,
            "coordinated": coordinated,
            "ok": failed == 0,
            "record": (failed == 0).then_some(&rec),
            "shards": results.iter().map(|r| match &r.result {
                Ok((m, secs)) => serde_json::json!({
                    "set": r.set, "status": "ok", "backup_id": m.id, "method": m.method,
                    "duration_s": secs, "size": m.total_stored_size(),
                    "lock_hold_ms": m.read_lock_ms, "consistent_point": m.consistent_point,
                }),
                Err(e) => serde_json::json!({ "set": r.set, "status": "failed", "error": e.to_string() }),
            }).collect::<Vec<_>>(),
        }));
    } else {
        let mut out = format!(
            "{} backup of cluster '{name}' ({n} shard(s)):\n  {:<16} {:<17} {:<10} {:>8} {:>11} {:>8}  status\n",
            if coordinated { "coordinated" } else { "parallel" },
            "shard",
            "backup",
            "method",
            "seconds",
            "size",
            "lock ms"
        );
        for r in &results {
            match &r.result {
                Ok((m, secs)) => out.push_str(&format!(
                    "  {:<16} {:<17} {:<10} {:>8.1} {:>11} {:>8}  ok\n",
                    r.set,
                    m.id,
                    m.method.to_string(),
                    secs,
                    human_bytes(m.total_stored_size()),
                    m.read_lock_ms.map_or("-".into(), |l| l.to_string())
                )),
                Err(e) => out.push_str(&format!(
                    "  {:<16} {:<17} {:<10} {:>8} {:>11} {:>8}  FAILED: {e}\n",
                    r.set, "-", "-", "-", "-", "-"
                )),
            }
        }
        if failed == 0 {
            out.push_str(&format!(
                "cluster backup {} recorded{}\n",
                rec.id,
                rec.max_lock_hold_ms
                    .map(|m| format!("; longest lock hold {m} ms"))
                    .unwrap_or_default()
            ));
        } else {
            out.push_str(&format!(
                "{failed} shard(s) failed: no cluster backup was recorded{}\n",
                if coordinated {
                    " (a coordinated cut is all or nothing: every shard's lock was released)"
                } else {
                    ""
                }
            ));
        }
        emit(&out);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The cluster
    #[arg(long)]
    pub cluster: String,
    /// The checkpoint's name (letters, digits, -, _ and .)
    #[arg(long)]
    pub name: String,
}

/// The same cut as a coordinated backup, without a backup: every shard locked at once, its
/// binlog point recorded, released; then a marker transaction on every shard.
pub async fn checkpoint(ctx: &Context, args: CheckpointArgs) -> Result<i32> {
    let config = ctx.config()?;
    let (_, sets) = resolve(&config, &args.cluster)?;
    crate::repo::check_component("checkpoint name", &args.name)?;
    let repo = tokio::task::block_in_place(|| Repository::open(&config, true))?;
    let rel = record::point_path(&args.cluster, &args.name);
    if tokio::task::block_in_place(|| repo.backend().exists(&rel))? {
        return Err(Error::Usage(format!(
            "cluster '{}' already has a checkpoint '{}': choose another name",
            args.cluster, args.name
        )));
    }
    let mut facts = Vec::new();
    for set in &sets {
        let mut s = mysql::connect(&set.connection).await.map_err(|e| {
            Error::Backup(format!(
                "shard '{}': {e}; no checkpoint was taken",
                set.name
            ))
        })?;
        let f = ServerFacts::gather(&mut s).await?;
        s.close().await;
        if !f.log_bin {
            return Err(Error::Backup(format!(
                "shard '{}' ({}) has binary logging off: a checkpoint needs binlog coordinates",
                set.name,
                set.connection.display()
            )));
        }
        facts.push(f);
    }
    let reqs: Vec<LockRequest> = sets
        .iter()
        .zip(&facts)
        .map(|(set, f)| LockRequest {
            conn: &set.connection,
            kind: LockKind::for_server(f.flavor, &f.version),
            timeout: set.lock_timeout,
            hint: "",
        })
        .collect();
    let taken = Instant::now();
    let mut held = lock::lock_all(&reqs).await?;
    let mut points = Vec::new();
    let mut read_error = None;
    for (l, f) in held.iter_mut().zip(&facts) {
        match l.point(f.flavor).await {
            Ok(Some(p)) => points.push(p),
            Ok(None) => read_error = Some("a shard reported no binlog position".to_string()),
            Err(e) => read_error = Some(e.to_string()),
        }
    }
    let mut holds = Vec::new();
    for l in held {
        holds.push(l.release().await.map(|t| t.hold_ms).unwrap_or(0));
    }
    if let Some(e) = read_error {
        return Err(Error::Backup(format!(
            "checkpoint '{}' not taken: {e}",
            args.name
        )));
    }
    let cp = Checkpoint {
        cluster: args.cluster.clone(),
        name: args.name.clone(),
        time: chrono::Utc::now(),
        shards: sets
            .iter()
            .zip(&facts)
            .zip(points.into_iter().zip(&holds))
            .map(|((set, f), (point, hold))| {
                (
                    set.name.clone(),
                    CheckpointShard {
                        server_id: f.server_id,
                        point,
                        lock_hold_ms: *hold,
                    },
                )
            })
            .collect(),
        max_lock_hold_ms: holds.iter().copied().max().unwrap_or(0),
    };
    tokio::task::block_in_place(|| record::write(&repo, &rel, &cp))?;
    // The marker: the first transaction after the cut on every shard, so the analyzer shows the
    // checkpoint in the binlogs. A shard that refuses it keeps a valid checkpoint.
    let mut marker_warnings = Vec::new();
    for set in &sets {
        if let Err(e) = write_marker(set, &args.cluster, &args.name).await {
            marker_warnings.push(format!("shard '{}': {e}", set.name));
        }
    }
    for w in &marker_warnings {
        ctx.note(&format!(
            "warning: the checkpoint is recorded, but its marker was not written on {w}"
        ));
    }
    if ctx.json() {
        emit_json(
            &serde_json::json!({ "checkpoint": cp, "elapsed_ms": taken.elapsed().as_millis() as u64 }),
        );
    } else {
        let mut out = format!(
            "checkpoint '{}' of cluster '{}' at {} (longest lock hold {} ms):\n",
            cp.name,
            cp.cluster,
            cp.time.format("%Y-%m-%d %H:%M:%S UTC"),
            cp.max_lock_hold_ms
        );
        for (set, s) in &cp.shards {
            out.push_str(&format!("  {set:<16} {}\n", s.point));
        }
        emit(&out);
    }
    Ok(0)
}

/// Marker schema and table on every shard (zrm's own small schema).
pub const MARKER_SCHEMA: &str = crate::restore::target::ZRM_SCHEMA;

async fn write_marker(set: &SetConfig, cluster: &str, name: &str) -> Result<()> {
    let mut s = mysql::connect(&set.connection).await?;
    let q = mysql::conn::quote_str;
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {MARKER_SCHEMA}"),
        // No unique key on purpose: a marker replayed into a target that already holds it
        // (restored there before) must not stop the replay with a duplicate-key error.
        format!(
            "CREATE TABLE IF NOT EXISTS {MARKER_SCHEMA}.checkpoints (cluster VARCHAR(64) NOT NULL, \
             name VARCHAR(128) NOT NULL, taken_at DATETIME(6) NOT NULL, KEY (cluster, name)) \
             ENGINE=InnoDB"
        ),
        format!(
            "INSERT INTO {MARKER_SCHEMA}.checkpoints VALUES ({}, {}, UTC_TIMESTAMP(6))",
            q(cluster),
            q(name)
        ),
    ] {
        s.exec(&sql).await?;
    }
    s.close().await;
    Ok(())
}
