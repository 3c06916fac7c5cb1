//! `zrm restore`: a full backup into a target server, then the archived binary logs replayed
//! to exactly the point asked for (or to the end of the archive).

use std::collections::BTreeSet;
use std::time::Instant;

use clap::Args;

use super::Context;
use crate::catalog::Manifest;
use crate::config::{ConnectionConfig, Method};
use crate::engine::{logical, mysqldump};
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};
use crate::output::{emit, emit_json, human_bytes};
use crate::repo::Repository;
use crate::restore::plan::{self, Plan, Until};
use crate::restore::replay::{self, ReplayJob};
use crate::restore::target::Target;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup set whose backups are restored
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub set: Option<String>,
    /// Restore every shard of a cluster, in parallel, each to its own coordinates of one
    /// logical point (--until-gsn, --until-checkpoint or --until-time)
    #[arg(long)]
    pub cluster: Option<String>,
    /// With --cluster: the target of each shard, shard=TARGET,… (default: the cluster's
    /// `restore_targets`)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SHARD=TARGET,…",
        requires = "cluster"
    )]
    pub target_map: Vec<String>,
    /// The backup id (default: the latest full backup)
    #[arg(long)]
    pub backup: Option<String>,
    /// Where to restore: a set name, mysql://user@host:port, or datadir:/path
    #[arg(long)]
    pub target: Option<String>,
    /// Restore only these databases (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub databases: Option<Vec<String>>,
    /// Allow replacing databases that exist on the target (they are dropped first)
    #[arg(long)]
    pub replace: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply every transaction committed at or before this time (the server's zone unless an
    /// offset is given)
    #[arg(long, value_name = "TIME", group = "until")]
    pub until_time: Option<String>,
    /// Stop before the transaction that starts at FILE:POS
    #[arg(long, value_name = "FILE:POS", group = "until")]
    pub until_position: Option<String>,
    /// Stop before the transaction with this GTID (MariaDB d-s-n, MySQL uuid:n)
    #[arg(long, value_name = "GTID", group = "until")]
    pub until_gtid: Option<String>,
    /// Apply every transaction before the first that writes a global sequence number above N
    /// (the cluster's `gsn` table)
    #[arg(long, value_name = "N", group = "until")]
    pub until_gsn: Option<u64>,
    /// Stop at a named checkpoint of the set's cluster (`zrm checkpoint`)
    #[arg(long, value_name = "NAME", group = "until")]
    pub until_checkpoint: Option<String>,
    /// Include the transaction at the UNTIL point (--until-position, --until-gtid)
    #[arg(long)]
    pub inclusive: bool,
    /// Restore the backup alone, replaying no binary log
    #[arg(long, conflicts_with_all = ["until_time", "until_position", "until_gtid", "resume"])]
    pub no_binlogs: bool,
    /// Continue an interrupted replay from FILE:POS (the base is not restored again)
    #[arg(long, value_name = "FILE:POS", conflicts_with = "resume_load")]
    pub resume: Option<String>,
    /// Continue an interrupted load of a logical backup: chunks the target already committed
    /// are skipped, then the binlogs are replayed as asked
    #[arg(long)]
    pub resume_load: bool,
    /// Connections for a logical load (default: the set's `parallel`)
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Create secondary indexes with the tables instead of after the data (logical backups)
    #[arg(long)]
    pub no_defer_indexes: bool,
    /// Snapshot backups into datadir:PATH: start a throwaway server on the rebuilt directory,
    /// replay the binary logs into it, and shut it down cleanly
    #[arg(long)]
    pub start_server: bool,
    /// ebs backups: attach the new volume to this instance id
    #[arg(long, value_name = "INSTANCE")]
    pub attach_to: Option<String>,
    /// ebs backups: the device name for --attach-to (default: the source volume's)
    #[arg(long, value_name = "DEVICE", requires = "attach_to")]
    pub device: Option<String>,
    /// A target given by the caller (verify's throwaway server) instead of --target.
    #[arg(skip)]
    pub internal_target: Option<Target>,
    /// Write the loaded data to the target's binary log (off by default, so a restore does
    /// not replicate; the account then needs no SUPER / BINLOG ADMIN)
    #[arg(long)]
    pub log_bin: bool,
}

fn parse_position(what: &str, text: &str) -> Result<(String, u64)> {
    let (file, pos) = text.rsplit_once(':').ok_or_else(|| {
        Error::Usage(format!(
            "{what} {text}: write FILE:POS, e.g. mysql-bin.000042:1234"
        ))
    })?;
    let pos = pos
        .parse()
        .map_err(|_| Error::Usage(format!("{what} {text}: the position is not a number")))?;
    Ok((file.to_string(), pos))
}

fn until_of(args: &RestoreArgs, repo: &Repository, set: &str) -> Result<Until> {
    if let Some(t) = &args.until_time {
        return Ok(Until::Time(crate::timeparse::parse_time(
            t,
            plan::source_zone(repo, set),
        )?));
    }
    if let Some(p) = &args.until_position {
        let (file, pos) = parse_position("--until-position", p)?;
        return Ok(Until::Position { file, pos });
    }
    if let Some(g) = &args.until_gtid {
        return Ok(Until::Gtid(g.clone()));
    }
    Ok(Until::All)
}

pub async fn run(ctx: &Context, mut args: RestoreArgs) -> Result<i32> {
    if let Some(cluster) = args.cluster.clone() {
        return super::cluster_restore::run(ctx, &cluster, &args).await;
    }
    // A GSN or a checkpoint is a position on this set's binlog: resolve it to one.
    if args.until_gsn.is_some() || args.until_checkpoint.is_some() {
        let config = ctx.config()?;
        let set = args
            .set
            .clone()
            .expect("clap requires --set without --cluster");
        let pos = super::cluster_restore::resolve_point(ctx, &config, &set, None, &args)?;
        args.until_gsn = None;
        args.until_checkpoint = None;
        args.until_position = pos;
    }
    if args.inclusive && args.until_position.is_none() && args.until_gtid.is_none() {
        return Err(Error::Usage(
            "--inclusive goes with --until-position or --until-gtid".into(),
        ));
    }
    let config = ctx.config()?;
    let set_name = args
        .set
        .clone()
        .expect("clap requires --set without --cluster");
    crate::repo::check_component("set name", &set_name)?;
    if !config.has_set(&set_name) {
        return Err(config.unknown_set(&set_name));
    }
    let source = config.resolve_set(&set_name, &Default::default())?;
    let target_spec = args.target.as_deref().ok_or_else(|| {
        Error::Usage(format!(
            "restore needs --target (a set name, mysql://user@host:port, or datadir:/path); \
             zrm never picks the target for you, to keep a restore from landing on the source \
             (set '{set_name}' is {})",
            source.connection.display()
        ))
    })?;
    let target = match &args.internal_target {
        Some(t) => t.clone(),
        None => Target::parse(target_spec, &config)?,
    };

    let repo = Repository::open(&config, false)?;
    let until = until_of(&args, &repo, &set_name)?;
    let mut plan = if args.no_binlogs {
        plan::base_only_plan(&repo, &set_name, args.backup.as_deref())?
    } else {
        tokio::task::block_in_place(|| {
            plan::plan(
                &repo,
                &set_name,
                &until,
                args.inclusive,
                args.backup.as_deref(),
            )
        })?
    };
    let resume = args
        .resume
        .as_deref()
        .map(|r| parse_position("--resume", r))
        .transpose()?;
    if let Some((file, pos)) = &resume {
        tokio::task::block_in_place(|| plan::resume_from(&repo, &mut plan, file, *pos))?;
    }
    // Nothing may shorten a restore silently: what the replayed range lacks, and (for a
    // restore to the end of the archive) whether the archive reaches the server's current
    // binlog, are said before anything changes.
    let mut warnings = plan.warnings.clone();
    if matches!(until, Until::All) && !args.no_binlogs && resume.is_none() {
        let coverage = crate::binlog::coverage::probe(&repo, &source).await;
        warnings.extend(coverage.warning(&set_name));
    }
    for w in &warnings {
        ctx.note(&format!("WARNING: {w}"));
    }
    plan.warnings = warnings;
    let manifest = plan.base_manifest.clone();
    if manifest.physical.is_some() && resume.is_none() {
        return run_physical(ctx, &args, &set_name, target_spec, &target, &repo, &plan).await;
    }
    if args.start_server || args.attach_to.is_some() {
        return Err(Error::Usage(format!(
            "--start-server and --attach-to go with snapshot backups (lvm, btrfs, ebs); backup \
             {} is a {} backup",
            manifest.id, manifest.method
        )));
    }
    if args.resume_load && manifest.method != Method::Logical {
        return Err(Error::Usage(format!(
            "--resume-load continues the load of a logical backup; backup {} is a {} backup: \
             restore it again with --replace",
            manifest.id, manifest.method
        )));
    }
    let (label, conn) = match target {
        Target::Server { label, conn } => (label, conn),
        Target::Ebs(_) => {
            return Err(Error::Usage(format!(
                "--target ebs: creates volumes from an ebs backup; backup {} is a {} backup",
                manifest.id, manifest.method
            )))
        }
        Target::Datadir(p) if manifest.physical.is_some() => {
            return Err(Error::Usage(format!(
                "--resume replays binary logs into a running server, not into datadir:{}: \
                 start a server on it and give that server as --target (mysql://… or a set name)",
                p.display()
            )))
        }
        Target::Datadir(p) => {
            return Err(Error::Usage(format!(
                "--target datadir:{} restores snapshot backups into a data directory; backup {} \
                 is a logical ({}) backup: restore it into a running server (a set name or \
                 mysql://user@host:port)",
                p.display(),
                manifest.id,
                manifest.method
            )))
        }
    };
    let mut databases = chosen_databases(ctx, &manifest, args.databases.as_deref())?;
    // Replay covers what the restore covers: --databases, else what the backup selected.
    let replay_scope = crate::selection::Selection {
        databases: match (&args.databases, &manifest.selected_databases) {
            (None, None) => None,
            _ => Some(databases.iter().cloned().collect::<BTreeSet<_>>()),
        },
        exclude: manifest.exclude.clone(),
    };
    let mut session = mysql::connect(&conn).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    if is_source_server(&conn, &facts, &source.connection).await && !args.replace {
        session.close().await;
        return Err(Error::Restore(format!(
            "the target {label} is the source server of set '{set_name}': restoring there \
             overwrites live data; if that is really what you want, add --replace"
        )));
    }
    check_time_zone(&mut session, &manifest, &label, plan.files.is_empty()).await?;
    // From here to the end, no other restore writes these databases on this target, and no
    // purge deletes the backup being read.
    let _target_lock = if args.dry_run {
        None
    } else {
        Some(crate::restore::target::TargetLock::acquire(&conn, &label, &databases).await?)
    };
    let _lease = if args.dry_run {
        None
    } else {
        Some(take_lease(&config, &set_name, &manifest.id)?)
    };
    let mut occupied = if resume.is_some() || args.resume_load {
        Vec::new() // the earlier run restored (part of) the base there
    } else {
        occupied_databases(&mut session, &databases).await?
    };
    // zrm's own schema (checkpoint markers) on the target is the target's: kept as it is.
    if let Some(k) = occupied
        .iter()
        .position(|o| o.name == crate::restore::target::ZRM_SCHEMA)
    {
        let o = occupied.remove(k);
        databases.retain(|d| *d != o.name);
        ctx.note(&format!(
            "note: {} exists on {label}: kept as it is (zrm's own schema is never replaced)",
            o.name
        ));
    }
    if !occupied.is_empty() && !args.replace {
        // The databases may hold an interrupted load of this very backup: then the way on is
        // to continue it.
        let interrupted = manifest.method == Method::Logical
            && logical::load::interrupted_load_of(&mut session, &manifest.id)
                .await
                .unwrap_or(false);
        session.close().await;
        let list = occupied
            .iter()
            .map(Occupied::describe)
            .collect::<Vec<_>>()
            .join(", ");
        let way_on = if interrupted {
            format!(
                "they hold an interrupted load of backup {}: continue it with the same command \
                 plus --resume-load, or start over with --replace",
                manifest.id
            )
        } else {
            "add --replace to drop and replace them, or restore elsewhere".to_string()
        };
        return Err(Error::Restore(format!(
            "refusing to restore into {label}: these databases exist and are not empty: {list}; \
             {way_on}"
        )));
    }

    let backup_dir = Repository::backup_dir(&set_name, &manifest.id);
    if args.dry_run {
        session.close().await;
        return print_plan(
            ctx,
            &plan,
            &label,
            &databases,
            &occupied,
            args.replace,
            resume.is_some(),
        );
    }

    // The archived binlogs too: a damaged or cut archive must be found before --replace drops
    // anything, not halfway through the replay.
    for f in &plan.files {
        tokio::task::block_in_place(|| {
            crate::binlog::archive_index::verify_archived(&repo, &set_name, &f.index)
        })
        .map_err(|e| {
            Error::Restore(format!(
                "{e}; nothing was changed on the target; restore to a point before {}",
                f.file
            ))
        })?;
    }
    let started = Instant::now();
    let mut loaded = 0;
    let mut load_notes = Vec::new();
    if resume.is_none() {
        // Check every file before the first change on the target: a damaged backup must not
        // cost the user the databases that --replace would drop. (A logical load also checks
        // each chunk as it streams and rolls it back on a mismatch, so without anything to
        // drop it skips this extra pass.)
        let drops = args.replace && !occupied.is_empty();
        if manifest.method == Method::Mysqldump || drops {
            for f in &manifest.files {
                let rel = format!("{backup_dir}/{}", f.path);
                tokio::task::block_in_place(|| {
                    mysqldump::verify_file(&repo, &rel, f.stored_size, &f.sha256)
                })?;
            }
        }
        if args.replace {
            for o in &occupied {
                // Checked again where it matters: nothing above may have let one through.
                if crate::restore::target::is_protected_schema(&o.name) {
                    return Err(Error::Restore(format!(
                        "refusing to drop {}: zrm never drops a system schema or its own",
                        o.name
                    )));
                }
                ctx.note(&format!(
                    "dropping database {} on {label} (--replace)",
                    o.name
                ));
                session
                    .exec(&format!(
                        "DROP DATABASE {}",
                        mysql::conn::quote_ident(&o.name)
                    ))
                    .await?;
            }
        }
        if manifest.method != Method::Logical {
            // A load of another kind replaces these databases too: an interrupted logical
            // load into them must not be resumed on top of it.
            let dbs: BTreeSet<String> = databases.iter().cloned().collect();
            logical::load::forget_loads_into(&mut session, &dbs).await?;
        }
        session.close().await;
        let progress = ctx.progress.start(&format!("restore {}", manifest.id));
        progress.set_total(Some(manifest.total_size()));
        let r = if manifest.method == Method::Logical {
            let layout = manifest.logical.as_ref().ok_or_else(|| {
                Error::Restore(format!(
                    "backup {} is a logical backup whose manifest has no table layout; it \
                     cannot be restored",
                    manifest.id
                ))
            })?;
            let parallel = args.parallel.unwrap_or(source.parallel).max(1);
            let job = logical::load::LoadJob {
                target: &conn,
                backup_id: &manifest.id,
                layout,
                files: &manifest.files,
                compression: manifest.compression,
                backup_dir: backup_dir.clone(),
                databases: databases.iter().cloned().collect(),
                users: args.databases.is_none(),
                parallel,
                defer_indexes: !args.no_defer_indexes,
                log_bin: args.log_bin,
                resume: args.resume_load,
            };
            let out = logical::load::load(&repo, &job, progress.as_ref()).await;
            // What a schema failure left on the target decides the way on.
            let left_behind = match &out {
                Err(f) if f.phase == logical::load::Phase::Schema => {
                    match mysql::connect(&conn).await {
                        Ok(mut s) => {
                            let o = occupied_databases(&mut s, &databases).await;
                            s.close().await;
                            o.map(|o| !o.is_empty()).unwrap_or(true)
                        }
                        Err(_) => true,
                    }
                }
                _ => false,
            };
            out.map(|o| {
                load_notes = o.notes.clone();
                o.bytes
            })
            .map_err(|f| match (f.error, f.phase) {
                (e @ Error::Usage(_), _) => e,
                (e, logical::load::Phase::Schema) => Error::Restore(format!(
                    "{e}. The load of backup {} into {label} stopped while creating the \
                     schema, before any data: fix the cause, then {}",
                    manifest.id,
                    if left_behind {
                        "restore again with --replace (it drops what this run created)"
                    } else {
                        "run the same command again (nothing was left on the target)"
                    }
                )),
                (e, logical::load::Phase::Data) => Error::Restore(format!(
                    "{e}. The load of backup {} into {label} stopped; chunks already committed \
                     stay. Fix the cause, then continue with the same command plus \
                     --resume-load",
                    manifest.id
                )),
            })
        } else {
            let job = mysqldump::LoadJob {
                target: &conn,
                target_flavor: facts.flavor,
                manifest: &manifest,
                backup_dir: backup_dir.clone(),
                databases: args
                    .databases
                    .as_ref()
                    .map(|_| databases.iter().cloned().collect::<BTreeSet<_>>()),
            };
            tokio::task::block_in_place(|| mysqldump::load(&repo, &job, progress.as_ref()))
        };
        progress.finish();
        loaded = r?;
        for n in &load_notes {
            ctx.note(&format!("note: {n}"));
        }
    } else {
        session.close().await;
    }
    let base_secs = started.elapsed().as_secs_f64();

    if !plan.files.is_empty() {
        let job = ReplayJob {
            files: &plan.files,
            target: &conn,
            target_flavor: facts.flavor,
            source_flavor: manifest.server.flavor,
            time_zone: manifest.server.session_time_zone.clone(),
            scope: replay_scope.clone(),
        };
        let progress = ctx.progress.start("replay binlogs");
        progress.set_total(Some(plan.bytes));
        let r = tokio::task::block_in_place(|| replay::replay(&repo, &job, progress.as_ref()));
        progress.finish();
        if let Err(stopped) = r? {
            let mut again = format!(
                "zrm restore --set {set_name} --target {target_spec} --resume {}:{}",
                stopped.file, stopped.resume_pos
            );
            for (flag, v) in [
                ("--until-time", &args.until_time),
                ("--until-position", &args.until_position),
                ("--until-gtid", &args.until_gtid),
                ("--backup", &Some(manifest.id.clone())),
            ] {
                if let Some(v) = v {
                    again.push_str(&format!(" {flag} '{v}'"));
                }
            }
            if args.inclusive {
                again.push_str(" --inclusive");
            }
            if let Some(dbs) = &args.databases {
                again.push_str(&format!(" --databases '{}'", dbs.join(",")));
            }
            return Err(Error::Restore(format!(
                "binlog replay stopped at the transaction starting at {}:{}: {}. Every \
                 transaction before it is applied on {label}. Fix the cause, then continue with: {again}",
                stopped.file, stopped.resume_pos, stopped.error
            )));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let last = plan.stop.as_ref().and_then(|s| s.last_applied.clone());
    if ctx.json() {
        emit_json(&serde_json::json!({
            "restored": manifest.id,
            "set": set_name,
            "target": label,
            "databases": databases,
            "bytes": loaded,
            "base_duration_s": base_secs,
            "replayed_bytes": plan.bytes,
            "replayed_files": plan.files.iter().map(|f| &f.file).collect::<Vec<_>>(),
            "duration_s": secs,
            "consistent_point": manifest.consistent_point,
            "stop": plan.stop,
            "last_applied": last,
            "warnings": plan.warnings,
        }));
    } else {
        let mut out = format!(
            "restored backup {} of set '{set_name}' into {label}: {} ({}) in {base_secs:.1}s\n",
            manifest.id,
            databases.join(", "),
            human_bytes(loaded),
        );
        if resume.is_some() {
            out = format!("resumed the replay of set '{set_name}' into {label}\n");
        }
        if plan.files.is_empty() {
            out.push_str(&format!(
                "no binlog replayed{}: the data is as of the consistent point {}\n",
                plan.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                manifest
                    .consistent_point
                    .as_ref()
                    .map_or("(none recorded)".into(), |p| p.to_string())
            ));
        } else {
            out.push_str(&format!(
                "replayed {} of binlogs from {} file(s) in {:.1}s\n",
                human_bytes(plan.bytes),
                plan.files.len(),
                secs - base_secs
            ));
            match &last {
                Some(t) => out.push_str(&format!("last transaction applied: {}\n", applied(t))),
                None => {
                    out.push_str("no transaction after the backup's consistent point was applied\n")
                }
            }
            if let Some(x) = plan.stop.as_ref().and_then(|s| s.first_excluded.as_ref()) {
                out.push_str(&format!(
                    "stopped before: {} committed {} ({}:{})\n",
                    x.gtid.as_deref().unwrap_or("(no GTID)"),
                    x.time,
                    x.file,
                    x.pos
                ));
            }
        }
        emit(&out);
    }
    Ok(0)
}

/// The databases to restore: those asked for, else the backup's; never a system schema
/// (`mysql`, `sys`, …), whatever a manifest lists (zrm never writes one there: a manifest that
/// does was changed).
fn chosen_databases(ctx: &Context, m: &Manifest, wanted: Option<&[String]>) -> Result<Vec<String>> {
    if let Some(w) = wanted {
        if let Some(sys) = w
            .iter()
            .find(|d| crate::restore::target::is_system_schema(d))
        {
            return Err(Error::Usage(format!(
                "--databases {sys}: zrm never restores over a system schema"
            )));
        }
    }
    let (system, present): (Vec<String>, Vec<String>) = m
        .databases
        .iter()
        .map(|d| d.name.clone())
        .partition(|d| crate::restore::target::is_system_schema(d));
    if !system.is_empty() {
        ctx.note(&format!(
            "WARNING: backup {} lists system schema(s) {} (zrm never backs them up this way: \
             its manifest was changed?); they are not restored and not dropped",
            m.id,
            system.join(", ")
        ));
    }
    match wanted {
        None => Ok(present),
        Some(w) => {
            let missing: Vec<_> = w.iter().filter(|d| !present.contains(d)).cloned().collect();
            if !missing.is_empty() {
                return Err(Error::Usage(format!(
                    "backup {} holds no database {}; it holds: {}",
                    m.id,
                    missing.join(", "),
                    present.join(", ")
                )));
            }
            Ok(w.to_vec())
        }
    }
}

/// A source whose zone is named (`Europe/Paris`) writes that name into its binlogs for
/// statements that convert times; replaying them needs the zone on the target too. Refuse
/// before changing anything, with the fix.
async fn check_time_zone(
    s: &mut mysql::Session,
    m: &Manifest,
    label: &str,
    no_replay: bool,
) -> Result<()> {
    let zone = m.server.time_zone.as_str();
    let named = !zone.starts_with("SYSTEM") && !zone.starts_with('+') && !zone.starts_with('-');
    if no_replay || !named {
        return Ok(());
    }
    let known = s
        .value(&format!(
            "SELECT CONVERT_TZ('2000-01-01 00:00:00', '+00:00', {}) IS NOT NULL",
            mysql::conn::quote_str(zone)
        ))
        .await?;
    if known.as_deref() == Some("1") {
        return Ok(());
    }
    Err(Error::Restore(format!(
        "the source server runs in time zone '{zone}', which its binary logs name, but {label} \
         does not know that zone (no time zone tables): load them first, e.g. \
         `mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb mysql`; nothing was changed"
    )))
}

/// A reader's lease on the backup being restored, so that a purge meanwhile keeps it; then the
/// manifest is read again (a purge that started before the lease may have taken it).
fn take_lease(
    config: &crate::config::ConfigFile,
    set: &str,
    id: &str,
) -> Result<crate::repo::lease::Lease> {
    let repo = std::sync::Arc::new(Repository::open(config, false)?);
    let lease = crate::repo::lease::Lease::take(repo.clone(), set, id)?;
    crate::catalog::find_backup(&repo, set, id).map_err(|e| {
        Error::Restore(format!(
            "backup {id} was deleted while the restore started ({e}); nothing was changed"
        ))
    })?;
    Ok(lease)
}

/// Whether the target is the set's source server: the same endpoint, or (a socket and a TCP
/// port can reach one server) the same host name, port, data directory and server id.
async fn is_source_server(
    target: &ConnectionConfig,
    target_facts: &ServerFacts,
    source: &ConnectionConfig,
) -> bool {
    if target.same_endpoint(source) {
        return true;
    }
    // The source may be down (that is often why one restores): then it is not the target.
    let probe = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut s = mysql::connect(source).await.ok()?;
        let f = ServerFacts::gather(&mut s).await.ok();
        s.close().await;
        f
    });
    matches!(probe.await, Ok(Some(f)) if f.same_server(target_facts))
}

/// A database on the target that a restore would overwrite.
struct Occupied {
    name: String,
    tables: u64,
    views: u64,
    routines: u64,
}

impl Occupied {
    fn describe(&self) -> String {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if self.tables > 0 {
            parts.push(plural(self.tables, "table"));
        }
        if self.views > 0 {
            parts.push(plural(self.views, "view"));
        }
        if self.routines > 0 {
            parts.push(plural(self.routines, "routine"));
        }
        format!("{} ({})", self.name, parts.join(", "))
    }
}

/// Databases among `dbs` that exist on the target and hold tables, views or routines.
async fn occupied_databases(s: &mut mysql::Session, dbs: &[String]) -> Result<Vec<Occupied>> {
    let mut out = Vec::new();
    for db in dbs {
        let q = mysql::conn::quote_str(db);
        let exists = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {q}"
            ))
            .await?;
        if exists.as_deref() != Some("1") {
            continue;
        }
        let mut o = Occupied {
            name: db.clone(),
            tables: 0,
            views: 0,
            routines: 0,
        };
        for row in s
            .rows(&format!(
                "SELECT TABLE_TYPE, COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q} GROUP BY TABLE_TYPE"
            ))
            .await?
        {
            let n: u64 = row.get(1).cloned().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
            match row.first().cloned().flatten().as_deref() {
                Some("VIEW") => o.views += n,
                _ => o.tables += n,
            }
        }
        o.routines = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {q}"
            ))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if o.tables + o.views + o.routines > 0 {
            out.push(o);
        }
    }
    Ok(out)
}

fn print_plan(
    ctx: &Context,
    p: &Plan,
    label: &str,
    databases: &[String],
    occupied: &[Occupied],
    replace: bool,
    resume: bool,
) -> Result<i32> {
    let m = &p.base_manifest;
    let drops: Vec<&String> = if replace {
        occupied.iter().map(|o| &o.name).collect()
    } else {
        Vec::new()
    };
    if ctx.json() {
        emit_json(&serde_json::json!({
            "dry_run": true,
            "backup": m.id,
            "set": m.set,
            "method": m.method,
            "target": label,
            "databases": databases,
            "drop_first": drops,
            "resume": resume,
            "files": m.files,
            "bytes": m.total_size(),
            "consistent_point": m.consistent_point,
            "plan": p,
        }));
        return Ok(0);
    }
    let mut out = format!("restore plan for set '{}' into {label}:\n", m.set);
    if resume {
        out.push_str("  base: already restored (--resume)\n");
    } else {
        out.push_str(&format!(
            "  base: full backup {} ({}, taken {}), databases {}\n",
            m.id,
            m.method,
            m.start_time.format("%Y-%m-%d %H:%M:%S UTC"),
            databases.join(", ")
        ));
        if !drops.is_empty() {
            out.push_str(&format!(
                "  first DROP (--replace): {}\n",
                drops
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        match &m.logical {
            Some(l) => {
                let chunks: usize = l.tables.iter().map(|t| t.chunks.len()).sum();
                let rows: u64 = l.tables.iter().map(|t| t.rows).sum();
                out.push_str(&format!(
                    "  load {} schema file(s), then {chunks} data chunk(s) of {} tables ({rows} rows, {}) in parallel; secondary indexes after the data\n",
                    l.schema_files.len(),
                    l.tables.len(),
                    human_bytes(m.total_size()),
                ));
            }
            None => {
                for f in &m.files {
                    out.push_str(&format!("  load {} ({})\n", f.path, human_bytes(f.size)));
                }
            }
        }
    }
    if let Some(cp) = &p.start {
        out.push_str(&format!("  consistent point: {cp}\n"));
    }
    if !p.incrementals.is_empty() {
        out.push_str(&format!(
            "  incrementals covered: {}\n",
            p.incrementals.join(", ")
        ));
    }
    if p.files.is_empty() {
        out.push_str(&format!(
            "  replay: nothing{}\n",
            p.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    } else {
        out.push_str("  replay:\n");
        for f in &p.files {
            out.push_str(&format!(
                "    {}  {} → {}  ({})\n",
                f.file,
                f.start,
                f.stop.map_or("end".to_string(), |s| s.to_string()),
                human_bytes(f.bytes)
            ));
        }
        out.push_str(&format!(
            "  total: {} of binlog, {}{} transactions\n",
            human_bytes(p.bytes),
            if p.transactions_exact { "" } else { "about " },
            p.transactions
        ));
    }
    if let Some(stop) = &p.stop {
        match &stop.last_applied {
            Some(t) => out.push_str(&format!("  last transaction applied: {}\n", applied(t))),
            None => out.push_str("  last transaction applied: none after the consistent point\n"),
        }
        match &stop.first_excluded {
            Some(x) => out.push_str(&format!(
                "  stop before: {} committed {} at {}:{}\n",
                x.gtid.as_deref().unwrap_or("(no GTID)"),
                x.time,
                x.file,
                x.pos
            )),
            None => out.push_str(&format!(
                "  stop at: {}:{} (the end of the archive or of the range)\n",
                stop.file, stop.pos
            )),
        }
    }
    emit(&out);
    Ok(0)
}

/// Restore a snapshot backup: a data directory rebuilt from the copy (lvm, btrfs), or new
/// volumes from the snapshots (ebs); then, with --start-server, the binlogs replayed into a
/// throwaway server on the rebuilt directory.
async fn run_physical(
    ctx: &Context,
    args: &RestoreArgs,
    set_name: &str,
    target_spec: &str,
    target: &Target,
    repo: &Repository,
    plan: &Plan,
) -> Result<i32> {
    let m = &plan.base_manifest;
    let layout = m.physical.as_ref().expect("checked by the caller");
    if args.databases.is_some() {
        return Err(Error::Usage(format!(
            "backup {} is a {} snapshot of the whole server: --databases cannot pick from it; \
             restore it whole, or use a logical backup",
            m.id, m.method
        )));
    }
    let replay_hint = |target_server: &str| {
        let p = plan
            .files
            .first()
            .map(|f| format!("{}:{}", f.file, f.start))
            .or_else(|| {
                m.consistent_point
                    .as_ref()
                    .map(|c| format!("{}:{}", c.binlog_file, c.binlog_pos))
            })
            .unwrap_or_else(|| "FILE:POS".into());
        let mut cmd = format!(
            "zrm restore --set {set_name} --backup {} --target {target_server} --resume {p}",
            m.id
        );
        for (flag, v) in [
            ("--until-time", &args.until_time),
            ("--until-position", &args.until_position),
            ("--until-gtid", &args.until_gtid),
        ] {
            if let Some(v) = v {
                cmd.push_str(&format!(" {flag} '{v}'"));
            }
        }
        if args.inclusive {
            cmd.push_str(" --inclusive");
        }
        cmd
    };
    let options = layout
        .server_options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");

    if m.method == Method::Ebs {
        let Target::Ebs(zone) = target else {
            return Err(Error::Usage(format!(
                "backup {} is an ebs backup: it restores as new volumes with --target ebs: (the \
                 source volume's zone) or --target ebs:ZONE, optionally --attach-to INSTANCE",
                m.id
            )));
        };
        let record = layout
            .ebs
            .as_ref()
            .ok_or_else(|| Error::Restore(format!("backup {} records no EBS snapshot", m.id)))?;
        if args.dry_run {
            let v = serde_json::json!({
                "dry_run": true, "backup": m.id, "snapshots": record.snapshots,
                "zone": zone, "attach_to": args.attach_to, "consistent_point": m.consistent_point,
            });
            if ctx.json() {
                emit_json(&v);
            } else {
                emit(&format!(
                    "would create {} volume(s) from backup {} ({}) in {}{}\n",
                    record.snapshots.len(),
                    m.id,
                    record
                        .snapshots
                        .iter()
                        .map(|s| s.snapshot_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    zone.as_deref().unwrap_or("the source volumes' zone"),
                    args.attach_to
                        .as_deref()
                        .map(|i| format!(", attached to {i}"))
                        .unwrap_or_default()
                ));
            }
            return Ok(0);
        }
        let progress = ctx.progress.start("create volumes");
        let made = crate::engine::snapshot::ebs::restore_volumes(
            record,
            zone.as_deref(),
            args.attach_to.as_deref(),
            args.device.as_deref(),
            progress.as_ref(),
        )
        .await;
        progress.finish();
        let made = made?;
        let next = format!(
            "next: {}mount the volume on the database host (the datadir was {}), start the \
             server on it (same version; {}), then replay the binary logs:\n  {}",
            if args.attach_to.is_some() {
                ""
            } else {
                "attach the volume to an instance, "
            },
            layout.datadir,
            if options.is_empty() {
                "default InnoDB settings".to_string()
            } else {
                options.clone()
            },
            replay_hint("mysql://USER@HOST:PORT")
        );
        if ctx.json() {
            emit_json(&serde_json::json!({
                "restored": m.id, "set": set_name, "volumes": made,
                "consistent_point": m.consistent_point, "next": next,
            }));
        } else {
            let mut out = format!(
                "restored backup {} of set '{set_name}' as new EBS volume(s):\n",
                m.id
            );
            for v in &made {
                out.push_str(&format!(
                    "  {} from {} in {}{}\n",
                    v.volume_id,
                    v.snapshot_id,
                    v.availability_zone,
                    v.attached_to
                        .as_deref()
                        .map(|i| format!(
                            ", attached to {i} as {}",
                            v.device.as_deref().unwrap_or("?")
                        ))
                        .unwrap_or_default()
                ));
            }
            out.push_str(&format!(
                "consistent point: {}\n{next}\n",
                m.consistent_point
                    .as_ref()
                    .map_or("none".into(), |p| p.to_string())
            ));
            emit(&out);
        }
        return Ok(0);
    }

    let Target::Datadir(path) = target else {
        return Err(Error::Usage(format!(
            "backup {} is a {} snapshot: it restores into a data directory with --target \
             datadir:/path (add --start-server to replay the binary logs at once); to replay \
             onto a server already started on such a directory, add --resume FILE:POS",
            m.id, m.method
        )));
    };
    crate::restore::physical::check_target(path)?;
    if args.start_server && !plan.files.is_empty() {
        for f in &plan.files {
            tokio::task::block_in_place(|| {
                crate::binlog::archive_index::verify_archived(repo, set_name, &f.index)
            })
            .map_err(|e| {
                Error::Restore(format!(
                    "{e}; nothing was written to {}; restore to a point before {}",
                    path.display(),
                    f.file
                ))
            })?;
        }
    }
    if args.dry_run {
        if ctx.json() {
            emit_json(&serde_json::json!({
                "dry_run": true, "backup": m.id, "method": m.method, "target": target_spec,
                "files": m.files, "bytes": layout.bytes, "start_server": args.start_server,
                "plan": plan,
            }));
        } else {
            emit(&format!(
                "restore plan for set '{set_name}' into {}:\n  base: {} snapshot {} ({} files, {})\n  replay: {}\n",
                path.display(),
                m.method,
                m.id,
                layout.file_count,
                human_bytes(layout.bytes),
                if plan.files.is_empty() {
                    "nothing".to_string()
                } else if args.start_server {
                    format!("{} binlog file(s), {} into a server started on the directory", plan.files.len(), human_bytes(plan.bytes))
                } else {
                    "not now (no --start-server): the command to run is printed at the end".to_string()
                }
            ));
        }
        return Ok(0);
    }
    let started = Instant::now();
    let progress = ctx.progress.start(&format!("restore {}", m.id));
    let bytes = tokio::task::block_in_place(|| {
        crate::restore::physical::rebuild_datadir(repo, m, path, progress.as_ref())
    });
    progress.finish();
    let bytes = bytes?;
    let base_secs = started.elapsed().as_secs_f64();

    let mut replayed = false;
    if args.start_server {
        let server = crate::restore::server::ThrowawayServer::start(
            m.server.flavor,
            path,
            &layout.server_options,
        )
        .await
        .map_err(|e| {
            Error::Restore(format!(
                "{e}. The data directory {} is complete; start a server on it yourself and \
                     replay with: {}",
                path.display(),
                replay_hint("mysql://USER@HOST:PORT")
            ))
        })?;
        if !plan.files.is_empty() {
            let job = ReplayJob {
                files: &plan.files,
                target: server.conn(),
                target_flavor: m.server.flavor,
                source_flavor: m.server.flavor,
                time_zone: m.server.session_time_zone.clone(),
                scope: crate::selection::Selection {
                    databases: None,
                    exclude: Vec::new(),
                },
            };
            let progress = ctx.progress.start("replay binlogs");
            progress.set_total(Some(plan.bytes));
            let r = tokio::task::block_in_place(|| replay::replay(repo, &job, progress.as_ref()));
            progress.finish();
            let outcome = r.and_then(|r| {
                r.map_err(|stopped| {
                    Error::Restore(format!(
                        "binlog replay into the server on {} stopped at the transaction starting \
                         at {}:{}: {}. Every transaction before it is applied. Start a server on \
                         the directory, fix the cause, and continue with: zrm restore --set \
                         {set_name} --backup {} --target mysql://USER@HOST:PORT --resume {}:{}",
                        path.display(),
                        stopped.file,
                        stopped.resume_pos,
                        stopped.error,
                        m.id,
                        stopped.file,
                        stopped.resume_pos
                    ))
                })
            });
            if let Err(e) = outcome {
                let _ = server.shutdown().await;
                return Err(e);
            }
            replayed = true;
        }
        server.shutdown().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let last = plan.stop.as_ref().and_then(|s| s.last_applied.clone());
    let next = if plan.files.is_empty() || replayed {
        format!(
            "the data directory is ready: start the server on it (same version; {})",
            if options.is_empty() {
                "default InnoDB settings".to_string()
            } else {
                options.clone()
            }
        )
    } else {
        format!(
            "next: start a server on {} (same version; {}), then replay the binary logs:\n  {}\n(or restore again with --start-server, which does both)",
            path.display(),
            if options.is_empty() { "default InnoDB settings".to_string() } else { options.clone() },
            replay_hint("mysql://USER@HOST:PORT")
        )
    };
    if ctx.json() {
        emit_json(&serde_json::json!({
            "restored": m.id,
            "set": set_name,
            "target": target_spec,
            "bytes": bytes,
            "files": layout.file_count,
            "base_duration_s": base_secs,
            "replayed": replayed,
            "replayed_bytes": if replayed { plan.bytes } else { 0 },
            "duration_s": secs,
            "consistent_point": m.consistent_point,
            "stop": plan.stop,
            "last_applied": if replayed { last.clone() } else { None },
            "next": next,
        }));
    } else {
        let mut out = format!(
            "restored backup {} of set '{set_name}' into {}: {} files, {} in {base_secs:.1}s\n",
            m.id,
            path.display(),
            layout.file_count,
            human_bytes(bytes)
        );
        if replayed {
            out.push_str(&format!(
                "replayed {} of binlogs from {} file(s) in {:.1}s\n",
                human_bytes(plan.bytes),
                plan.files.len(),
                secs - base_secs
            ));
            if let Some(t) = &last {
                out.push_str(&format!("last transaction applied: {}\n", applied(t)));
            }
        } else {
            out.push_str(&format!(
                "the data is as of the consistent point {}\n",
                m.consistent_point
                    .as_ref()
                    .map_or("(none recorded)".into(), |p| p.to_string())
            ));
        }
        out.push_str(&next);
        out.push('\n');
        emit(&out);
    }
    Ok(0)
}

/// `GTID committed TIME (FILE:POS-END)` of a replayed transaction.
fn applied(t: &crate::binlog::find::TrxRef) -> String {
    format!(
        "{} committed {} ({}:{}-{})",
        t.gtid.as_deref().unwrap_or("(no GTID)"),
        t.time,
        t.file,
        t.pos,
        t.end_pos
    )
}
