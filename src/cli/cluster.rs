//! Cluster commands: `backup --cluster C [--coordinated]` and `checkpoint --cluster C --name N`
//! (and the cluster restore in `cluster_restore.rs`).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::Context;
use crate::backup::Level;
use crate::cluster::backup::{ClusterBackupRequest, ShardResult};
use crate::cluster::record::{self, Checkpoint, CheckpointShard};
use crate::error::{Error, Result};
use crate::mysql::lock::{self, LockKind, LockRequest};
use crate::mysql::{self, ServerFacts};
use crate::output::{emit, emit_json, human_bytes};
use crate::progress::ProgressPolicy;
use crate::repo::Repository;

pub use crate::cluster::backup::resolve;

/// A context for work running in parallel: no progress bars (they would fight on a terminal).
fn quiet_context(ctx: &Context) -> Context {
    Context {
        global: ctx.global.clone(),
        progress: ProgressPolicy { enabled: false },
    }
}

/// `backup --cluster C [--coordinated] [--level 0|1|auto]`: the library's cluster backup, and
/// its per-shard report.
pub async fn backup(
    ctx: &Context,
    name: &str,
    level: Level,
    coordinated: bool,
    comment: Option<String>,
) -> Result<i32> {
    let config = Arc::new(ctx.config()?);
    let req = ClusterBackupRequest {
        cluster: name.to_string(),
        level,
        coordinated,
        comment,
    };
    let report = crate::cluster::backup::take(config, req, Arc::new(quiet_context(ctx))).await?;
    crate::logfile::result(
        report
            .shards
            .iter()
            .map(|s| match &s.result {
                ShardResult::Ok { backup_id, .. } => format!("{}: backup {backup_id}", s.set),
                ShardResult::Failed { error } => format!("{}: FAILED: {error}", s.set),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    let failures = report.failures();
    if ctx.json() {
        emit_json(&report);
    } else {
        let n = report.shards.len();
        let mut out = format!(
            "{} backup of cluster '{name}' ({n} shard(s), level {}):\n  {:<16} {:<17} {:>5} {:<10} {:>8} {:>11} {:>8}  status\n",
            if coordinated { "coordinated" } else { "parallel" },
            report.level,
            "shard",
            "backup",
            "level",
            "method",
            "seconds",
            "size",
            "lock ms"
        );
        for s in &report.shards {
            match &s.result {
                ShardResult::Ok {
                    backup_id,
                    level,
                    method,
                    duration_s,
                    size,
                    lock_hold_ms,
                    ..
                } => out.push_str(&format!(
                    "  {:<16} {:<17} {:>5} {:<10} {:>8.1} {:>11} {:>8}  ok\n",
                    s.set,
                    backup_id,
                    level,
                    method.to_string(),
                    duration_s,
                    human_bytes(*size),
                    lock_hold_ms.map_or("-".into(), |l| l.to_string())
                )),
                ShardResult::Failed { error } => out.push_str(&format!(
                    "  {:<16} {:<17} {:>5} {:<10} {:>8} {:>11} {:>8}  FAILED: {error}\n",
                    s.set, "-", "-", "-", "-", "-", "-"
                )),
            }
        }
        match &report.record {
            Some(rec) => out.push_str(&format!(
                "cluster backup {} recorded{}\n",
                rec.id,
                rec.max_lock_hold_ms
                    .map(|m| format!("; longest lock hold {m} ms"))
                    .unwrap_or_default()
            )),
            None => out.push_str(&format!(
                "{} shard(s) failed ({}): no cluster backup was recorded{}\n",
                failures.len(),
                failures
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", "),
                if coordinated {
                    " (a coordinated cut is all or nothing: every shard's lock was released)"
                } else {
                    ""
                }
            )),
        }
        emit(&out);
    }
    Ok(if report.ok { 0 } else { 1 })
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
    let sets = crate::cluster::backup::on_primaries(sets).await?;
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
        if let Err(e) = crate::cluster::marker::write(set, &args.cluster, &args.name).await {
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
