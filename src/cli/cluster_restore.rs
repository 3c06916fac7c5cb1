//! `restore --cluster C (--until-gsn N | --until-checkpoint NAME | --until-time T)`: every shard
//! restored in parallel to its own coordinates of one logical point.
//!
//! The point is resolved per shard by zrm before anything runs (a GSN to the start of the first
//! transaction writing a larger one, a checkpoint to its recorded position, a time as it is);
//! then each shard's restore runs as a task of its own calling `restore::execute` (own lock,
//! own target, own failure), `parallel` at a time — or, with `--plan-out DIR`, each shard's
//! resolved restore is written as a plan for `restore --plan` on the shard's host. The summary shows each shard's stop point, the
//! commit time of its last applied transaction, and the skew between shards.

use std::sync::Arc;
use std::time::Instant;

use super::restore_args::RestoreArgs;
use super::Context;
use crate::binlog::coordinates::BinlogCoordinates;
use crate::binlog::find::StopPoint;
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json};
use crate::progress::Reporter;
use crate::repo::Repository;
use crate::restore::execute::{self, RestoreReport, RestoreRequest};
use crate::restore::plan::Until;
use crate::restore::target::Target;

/// A set's `--until-gsn` / `--until-checkpoint` as `FILE:POS` for `--until-position`, or `None`
/// when the point is past everything archived (replay it all). Blocking parts run in place.
pub fn resolve_point(
    ctx: &Context,
    config: &ConfigFile,
    set: &str,
    cluster: Option<&str>,
    args: &RestoreArgs,
) -> Result<Option<BinlogCoordinates>> {
    if let Some(n) = args.until_gsn {
        let p = tokio::task::block_in_place(|| {
            super::binlog::gsn_stop_point(ctx, config, set, cluster, n)
        })?;
        return Ok(gsn_position(&p));
    }
    if let Some(name) = &args.until_checkpoint {
        let cluster = match cluster {
            Some(c) => c.to_string(),
            None => {
                let holding: Vec<&String> = config
                    .clusters
                    .iter()
                    .filter(|(_, c)| c.sets.iter().any(|s| s == set))
                    .map(|(n, _)| n)
                    .collect();
                match holding.as_slice() {
                    [c] => c.to_string(),
                    [] => {
                        return Err(Error::Usage(format!(
                            "set '{set}' is in no cluster, so it has no checkpoints"
                        )))
                    }
                    _ => {
                        return Err(Error::Usage(format!(
                            "set '{set}' is in several clusters: restore with --cluster"
                        )))
                    }
                }
            }
        };
        let repo = tokio::task::block_in_place(|| Repository::open(config, false))?;
        let cp = tokio::task::block_in_place(|| {
            crate::cluster::record::read_checkpoint(&repo, &cluster, name)
        })?;
        let shard = cp.shards.get(set).ok_or_else(|| {
            Error::Usage(format!(
                "checkpoint '{name}' of cluster '{cluster}' has no position for set '{set}' \
                 (it was taken when the set was not in the cluster)"
            ))
        })?;
        // Named on its server (`FILE@SERVER_ID`): after a failover of the shard the point may
        // be on a later server of the set's timeline than the base backup's (restore reads the
        // base server's own files by their plain names).
        let file = match shard.server_id {
            0 => shard.point.binlog_file.clone(),
            sid => crate::binlog::timeline::qualified_name(&shard.point.binlog_file, sid),
        };
        return Ok(Some(BinlogCoordinates::new(file, shard.point.binlog_pos)));
    }
    args.until_position
        .as_deref()
        .map(|p| BinlogCoordinates::parse("--until-position", p))
        .transpose()
}

/// Shards that found no GSN above `n` although their archive ends before another shard passed
/// `n`: their archive may simply lag, and replaying all of it would not reach the point.
fn lagging_archives(
    config: &ConfigFile,
    points: &[(String, StopPoint)],
    n: u64,
) -> Result<Vec<String>> {
    let repo = tokio::task::block_in_place(|| Repository::open(config, false))?;
    // The earliest commit, on any shard, of a transaction past the point.
    let passed = points
        .iter()
        .filter_map(|(_, p)| p.first_excluded.as_ref())
        .filter_map(|x| chrono::DateTime::parse_from_rfc3339(&x.time).ok())
        .min();
    let Some(passed) = passed else {
        return Ok(Vec::new());
    };
    let mut lagging = Vec::new();
    for (set, p) in points {
        if p.first_excluded.is_some() {
            continue;
        }
        let end = tokio::task::block_in_place(|| crate::binlog::sources::archive_end(&repo, set));
        if end.is_none_or(|e| e < passed) {
            lagging.push(format!(
                "{set}: no transaction above GSN {n} in its archive, which ends at {} — before \
                 another shard passed GSN {n} ({passed}); its archive may lag: archive its binlogs \
                 (`zrm binlog archive --set {set}`) and restore again",
                end.map_or("(no time)".into(), |e| e.to_rfc3339())
            ));
        }
    }
    Ok(lagging)
}

/// A GSN stop point as a position to stop at; `None`: nothing above the GSN was found, replay
/// everything.
fn gsn_position(p: &StopPoint) -> Option<BinlogCoordinates> {
    p.first_excluded
        .as_ref()
        .map(|_| BinlogCoordinates::new(p.file.clone(), p.pos))
}

struct ShardRun {
    set: String,
    target: String,
    until: Option<String>,
    outcome: Result<RestoreReport>,
    secs: f64,
}

/// A shard's notes, prefixed with the shard (several restores write at once); no bars.
struct ShardNotes {
    prefix: String,
    quiet: bool,
}

impl Reporter for ShardNotes {
    fn note(&self, msg: &str) {
        if !self.quiet {
            crate::logfile::note(&format!("{}{msg}", self.prefix));
        }
    }
    fn progress(&self, _: &str) -> Box<dyn crate::progress::Progress> {
        Box::new(crate::progress::Silent)
    }
}

pub async fn run(ctx: &Context, cluster: &str, args: &RestoreArgs) -> Result<i32> {
    let config = ctx.config()?;
    let (cfg, sets) = super::cluster::resolve(&config, cluster)?;
    if args.until_position.is_some() || args.until_gtid.is_some() || args.backup.is_some() {
        return Err(Error::Usage(
            "restore --cluster stops every shard at one logical point: --until-gsn, \
             --until-checkpoint or --until-time (positions, GTIDs and backup ids belong to \
             one set: use --set)"
                .into(),
        ));
    }
    if args.until_gsn.is_none() && args.until_checkpoint.is_none() && args.until_time.is_none() {
        return Err(Error::Usage(
            "restore --cluster needs the point: --until-gsn N, --until-checkpoint NAME or \
             --until-time T"
                .into(),
        ));
    }
    // Targets: --target-map, else the cluster's restore_targets; every shard needs one.
    let mut targets = cfg.restore_targets.clone().unwrap_or_default();
    for kv in &args.target_map {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--target-map '{kv}': write shard=target")))?;
        if !cfg.sets.iter().any(|s| s == k) {
            return Err(Error::Usage(format!(
                "--target-map names '{k}', which is not a shard of cluster '{cluster}' ({})",
                cfg.sets.join(", ")
            )));
        }
        targets.insert(k.to_string(), v.to_string());
    }
    let missing: Vec<&str> = sets
        .iter()
        .filter(|s| !targets.contains_key(&s.name))
        .map(|s| s.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "no restore target for shard(s) {}: give --target-map shard=target,… or \
             [clusters.{cluster}.restore_targets]",
            missing.join(", ")
        )));
    }

    // Resolve every shard's point first: a shard that cannot reach it fails before any
    // restore starts.
    let mut plans = Vec::new();
    let mut unresolved = Vec::new();
    if let Some(n) = args.until_gsn {
        // One scan per shard serves both the stop points and the lag check.
        let mut points = Vec::new();
        for set in &sets {
            match tokio::task::block_in_place(|| {
                super::binlog::gsn_stop_point(ctx, &config, &set.name, Some(cluster), n)
            }) {
                Ok(p) => {
                    plans.push((
                        set.name.clone(),
                        targets[&set.name].clone(),
                        gsn_position(&p),
                    ));
                    points.push((set.name.clone(), p));
                }
                Err(e) => unresolved.push(format!("{}: {e}", set.name)),
            }
        }
        if unresolved.is_empty() {
            unresolved = lagging_archives(&config, &points, n)?;
        }
    } else {
        for set in &sets {
            match resolve_point(ctx, &config, &set.name, Some(cluster), args) {
                Ok(p) => plans.push((set.name.clone(), targets[&set.name].clone(), p)),
                Err(e) => unresolved.push(format!("{}: {e}", set.name)),
            }
        }
    }
    if !unresolved.is_empty() {
        return Err(Error::Restore(format!(
            "the point cannot be resolved on every shard, so nothing was restored: {}",
            unresolved.join("; ")
        )));
    }

    if let Some(dir) = &args.plan_out {
        return write_plans(ctx, &config, cluster, plans, args, dir);
    }

    let parallel = cfg.parallel.unwrap_or(sets.len()).max(1);
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let config = Arc::new(config);
    let quiet = ctx.global.quiet;
    let started = Instant::now();
    // Each shard is a restore of its own, on a task of its own (its blocking parts then never
    // hold up another shard), with its notes prefixed by the shard.
    let mut tasks = Vec::new();
    for (set, target, until) in plans {
        let gate = gate.clone();
        let config = config.clone();
        let until_time = args.until_time.clone();
        let until_text = until.as_ref().map(|p| p.to_string()).or(until_time.clone());
        let mut req = match Target::parse(&target, &config) {
            Ok(t) => RestoreRequest::new(&set, t, &target),
            Err(e) => {
                tasks.push(tokio::spawn(async move {
                    ShardRun {
                        set,
                        target,
                        until: until_text,
                        outcome: Err(e),
                        secs: 0.0,
                    }
                }));
                continue;
            }
        };
        req.replace = args.replace;
        req.dry_run = args.dry_run;
        req.parallel = args.parallel;
        req.start_server = args.start_server;
        req.log_bin = args.log_bin;
        req.applier = args.applier.into();
        req.replay_lanes = args.replay_lanes.max(1);
        req.skip_gtids = args.skip_gtids;
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("never closed");
            let t0 = Instant::now();
            let outcome = async {
                req.until = match (until, &until_time) {
                    (Some(p), _) => Until::Position(p),
                    (None, Some(t)) => {
                        Until::Time(crate::restore::plan::time_in_source_zone(&config, &set, t)?)
                    }
                    (None, None) => Until::All,
                };
                req.until_flags = match &req.until {
                    Until::Position(p) => format!(" --until-position '{p}'"),
                    Until::Time(_) => format!(
                        " --until-time '{}'",
                        until_time.as_deref().unwrap_or_default()
                    ),
                    _ => String::new(),
                };
                let ui = ShardNotes {
                    prefix: format!("[{set}] "),
                    quiet,
                };
                execute::execute(&config, req, &ui).await
            }
            .await;
            ShardRun {
                set,
                target,
                until: until_text,
                outcome,
                secs: t0.elapsed().as_secs_f64(),
            }
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(
            t.await
                .map_err(|e| Error::Restore(format!("a shard's restore task failed: {e}")))?,
        );
    }
    let wall = started.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();

    // The commit time of each shard's last applied transaction, and the spread.
    let last_time = |r: &ShardRun| -> Option<chrono::DateTime<chrono::FixedOffset>> {
        let t = &r.outcome.as_ref().ok()?.last_applied()?.time;
        chrono::DateTime::parse_from_rfc3339(t).ok()
    };
    let times: Vec<_> = results.iter().filter_map(last_time).collect();
    let skew = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => Some((*b - *a).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };

    if ctx.json() {
        emit_json(&serde_json::json!({
            "cluster": cluster,
            "ok": failed == 0,
            "dry_run": args.dry_run,
            "until_gsn": args.until_gsn,
            "until_checkpoint": args.until_checkpoint,
            "until_time": args.until_time,
            "wall_s": wall,
            "skew_s": skew,
            "shards": results.iter().map(|r| match &r.outcome {
                Ok(v) => serde_json::json!({
                    "set": r.set, "target": r.target, "status": "ok", "until": r.until,
                    "stop": v.stop(), "last_applied": v.last_applied(),
                    "duration_s": r.secs, "restore": v,
                }),
                Err(e) => serde_json::json!({
                    "set": r.set, "target": r.target, "status": "failed", "until": r.until,
                    "error": e.to_string(), "duration_s": r.secs,
                }),
            }).collect::<Vec<_>>(),
        }));
    } else {
        let point = match (&args.until_gsn, &args.until_checkpoint, &args.until_time) {
            (Some(n), _, _) => format!("GSN ≤ {n}"),
            (_, Some(c), _) => format!("checkpoint '{c}'"),
            (_, _, Some(t)) => format!("time {t}"),
            _ => String::new(),
        };
        let mut out = format!(
            "{}restore of cluster '{cluster}' to {point} ({} shard(s), {parallel} at a time):\n  {:<14} {:<28} {:<26} {:<26} {:>7}  status\n",
            if args.dry_run { "plan: " } else { "" },
            results.len(),
            "shard",
            "target",
            "stop point",
            "last applied commit",
            "seconds"
        );
        for r in &results {
            let last = last_time(r).map_or("-".into(), |t| t.to_rfc3339());
            match &r.outcome {
                Ok(_) => out.push_str(&format!(
                    "  {:<14} {:<28} {:<26} {:<26} {:>7.1}  ok\n",
                    r.set,
                    r.target,
                    r.until.as_deref().unwrap_or("end of archive"),
                    last,
                    r.secs
                )),
                Err(e) => out.push_str(&format!(
                    "  {:<14} {:<28} {:<26} {:<26} {:>7.1}  FAILED: {e}\n",
                    r.set,
                    r.target,
                    r.until.as_deref().unwrap_or("end of archive"),
                    "-",
                    r.secs
                )),
            }
        }
        if let Some(s) = skew {
            out.push_str(&format!(
                "skew between the shards' last applied commits: {s:.3} s; wall time {wall:.1} s\n"
            ));
        }
        if failed > 0 {
            out.push_str(&format!(
                "{failed} shard(s) could not be restored to the point: the cluster is NOT \
                 consistent until they are (fix the cause and restore those shards again)\n"
            ));
        }
        emit(&out);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `--plan-out DIR`: every shard's resolved restore as a plan file, nothing restored.
fn write_plans(
    ctx: &Context,
    config: &ConfigFile,
    cluster: &str,
    plans: Vec<(String, String, Option<BinlogCoordinates>)>,
    args: &RestoreArgs,
    dir: &std::path::Path,
) -> Result<i32> {
    use crate::restore::shard_plan::{ShardPlan, FORMAT};
    let point = match (&args.until_gsn, &args.until_checkpoint, &args.until_time) {
        (Some(n), _, _) => format!("--until-gsn {n}"),
        (_, Some(c), _) => format!("--until-checkpoint {c}"),
        (_, _, Some(t)) => format!("--until-time '{t}'"),
        _ => String::new(),
    };
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for (set, target, until) in plans {
        let until_time = match (&until, &args.until_time) {
            (None, Some(t)) => Some(crate::restore::plan::time_in_source_zone(config, &set, t)?),
            _ => None,
        };
        out.push(ShardPlan {
            format: FORMAT.to_string(),
            cluster: cluster.to_string(),
            set,
            target,
            point: point.clone(),
            until_position: until,
            until_time,
            replace: args.replace,
            start_server: args.start_server,
            parallel: args.parallel,
            applier: args.applier.into(),
            replay_lanes: args.replay_lanes.max(1),
            log_bin: args.log_bin,
            skip_gtids: args.skip_gtids,
            resolved_at: now,
        });
    }
    let written = ShardPlan::write_all(&out, dir)?;
    if ctx.json() {
        emit_json(&serde_json::json!({
            "cluster": cluster,
            "point": point,
            "plans": out,
            "files": written,
        }));
    } else {
        let mut text = format!(
            "{} shard plan(s) of cluster '{cluster}' to {point}, written to {}:\n",
            out.len(),
            dir.display()
        );
        for (p, f) in out.iter().zip(&written) {
            let at = match (&p.until_position, &p.until_time) {
                (Some(c), _) => c.to_string(),
                (None, Some(t)) => t.to_rfc3339(),
                (None, None) => "the end of its archive".to_string(),
            };
            text.push_str(&format!(
                "  {}: {} → {}, stop at {at}\n",
                f.display(),
                p.set,
                p.target
            ));
        }
        text.push_str("run each on its shard's host: zrm restore --plan FILE");
        emit(&text);
    }
    Ok(0)
}
