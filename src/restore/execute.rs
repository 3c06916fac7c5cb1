//! A restore as a library operation: a full backup into a target server (or a data
//! directory, or new EBS volumes), then the archived binary logs replayed to exactly the point
//! asked for (or to the end of the archive).
//!
//! [`execute`] takes a typed [`RestoreRequest`] and returns a typed [`RestoreReport`]; notes and
//! progress go through a [`Reporter`], so the command line, `verify`'s test restore and a
//! cluster restore (one task per shard) all run the same code. Before anything on the target
//! changes, it checks what could make the restore unsafe or short: the target being the source,
//! a named time zone the target lacks, databases that exist (`replace` needed), the backup's
//! files and the archived binlogs it will replay; it holds named locks on the target's databases
//! and a lease on the backup for its whole run. It never drops a system schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::binlog::coordinates::BinlogCoordinates;
use crate::binlog::find::{StopPoint, TrxRef};
use crate::catalog::{ConsistentPoint, FileEntry, Manifest};
use crate::config::{ConfigFile, ConnectionConfig, Method};
use crate::engine::{logical, mysqldump};
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};
use crate::output::human_bytes;
use crate::progress::Reporter;
use crate::repo::Repository;
use crate::restore::applier::{self, ApplyJob, ApplyStats};
use crate::restore::plan::{self, Plan, Until};
use crate::restore::replay::{self, ReplayJob, Stopped};
use crate::restore::target::Target;

/// What to restore, and how.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub set: String,
    /// The full backup (default: the newest that can reach the point).
    pub backup: Option<String>,
    pub target: Target,
    /// The target as the user named it (for the commands zrm prints).
    pub target_spec: String,
    pub until: Until,
    /// Apply the transaction at the point too (a position or a GTID).
    pub inclusive: bool,
    /// The point as the user wrote it (` --until-time '…'`), for the commands zrm prints.
    pub until_flags: String,
    /// Only these databases.
    pub databases: Option<Vec<String>>,
    /// Only these tables `(db, table)`: a table restore (logical backups).
    pub tables: Option<Vec<(String, String)>>,
    /// Restore database `old` (key) as `new` (value): its tables and its changes.
    pub rename: BTreeMap<String, String>,
    /// Drop databases that exist on the target.
    pub replace: bool,
    pub dry_run: bool,
    /// The backup alone, no binlog replayed.
    pub no_binlogs: bool,
    /// Continue an interrupted replay from here (the base is not restored again).
    pub resume: Option<BinlogCoordinates>,
    /// Continue an interrupted logical load.
    pub resume_load: bool,
    /// Connections of a logical load (default: the set's `parallel`).
    pub parallel: Option<usize>,
    /// Secondary indexes after the data (logical).
    pub defer_indexes: bool,
    /// Snapshot backups into a datadir: start a throwaway server and replay into it.
    pub start_server: bool,
    /// EBS: attach the new volumes to this instance (as this device).
    pub attach_to: Option<String>,
    pub device: Option<String>,
    /// Keep the target's binary log on for the load and replay.
    pub log_bin: bool,
    /// Who applies the binlogs: zrm's own parallel applier or the client pipeline.
    pub applier: Applier,
    /// Connections of zrm's applier.
    pub replay_lanes: usize,
    /// Replay without the source's GTIDs: the transactions share commits (faster on a target
    /// that would otherwise take every source GTID, one commit each).
    pub skip_gtids: bool,
}

/// Who applies the archived binlogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applier {
    /// zrm's own: row events applied natively on several connections (`restore::applier`).
    #[default]
    Zrm,
    /// `mysqlbinlog | mysql`, one session.
    Client,
}

/// Lanes of zrm's applier when the request does not say.
pub const DEFAULT_REPLAY_LANES: usize = 4;

impl RestoreRequest {
    /// A request with the defaults of the command line.
    pub fn new(set: &str, target: Target, target_spec: &str) -> Self {
        RestoreRequest {
            set: set.to_string(),
            backup: None,
            target,
            target_spec: target_spec.to_string(),
            until: Until::All,
            inclusive: false,
            until_flags: String::new(),
            databases: None,
            tables: None,
            rename: BTreeMap::new(),
            replace: false,
            dry_run: false,
            no_binlogs: false,
            resume: None,
            resume_load: false,
            parallel: None,
            defer_indexes: true,
            start_server: false,
            attach_to: None,
            device: None,
            log_bin: false,
            applier: Applier::Zrm,
            replay_lanes: DEFAULT_REPLAY_LANES,
            skip_gtids: false,
        }
    }

    /// This restore as a command line, without resume flags: the base of every "continue
    /// with" hint.
    fn again(&self) -> String {
        let mut s = format!(
            "zrm restore --set {} --target {}{}",
            self.set, self.target_spec, self.until_flags
        );
        if let Some(dbs) = &self.databases {
            s.push_str(&format!(" --databases '{}'", dbs.join(",")));
        }
        if let Some(tables) = &self.tables {
            let list: Vec<String> = tables.iter().map(|(d, t)| format!("{d}.{t}")).collect();
            s.push_str(&format!(" --tables '{}'", list.join(",")));
        }
        if !self.rename.is_empty() {
            let list: Vec<String> = self
                .rename
                .iter()
                .map(|(o, n)| format!("{o}={n}"))
                .collect();
            s.push_str(&format!(" --rename-database '{}'", list.join(",")));
        }
        s
    }
}

/// What a restore did (or, on a dry run, would do). Serialised as the command's JSON result.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RestoreReport {
    /// A dry run into a server: the plan.
    Planned(PlannedRestore),
    /// Restored into a server.
    Restored(ServerRestore),
    /// A dry run of an EBS restore.
    VolumesPlanned(PlannedVolumes),
    /// New EBS volumes made.
    Volumes(RestoredVolumes),
    /// A dry run of a restore into a data directory.
    DatadirPlanned(PlannedDatadir),
    /// A data directory rebuilt (and with `start_server`, replayed).
    Datadir(RestoredDatadir),
}

impl RestoreReport {
    /// The last transaction applied, where the restore applied one.
    pub fn last_applied(&self) -> Option<&TrxRef> {
        match self {
            RestoreReport::Restored(r) => r.last_applied.as_ref(),
            RestoreReport::Datadir(r) => r.last_applied.as_ref(),
            _ => None,
        }
    }

    /// Where the replay stopped, when there is a replay.
    pub fn stop(&self) -> Option<&StopPoint> {
        match self {
            RestoreReport::Planned(p) => p.plan.stop.as_ref(),
            RestoreReport::Restored(r) => r.stop.as_ref(),
            RestoreReport::DatadirPlanned(p) => p.plan.stop.as_ref(),
            RestoreReport::Datadir(r) => r.stop.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedRestore {
    pub dry_run: bool,
    pub backup: String,
    pub set: String,
    pub method: Method,
    pub target: String,
    pub databases: Vec<String>,
    /// A table restore: its tables, `db.table` as in the backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Databases restored under another name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub renamed: BTreeMap<String, String>,
    pub drop_first: Vec<String>,
    pub resume: bool,
    pub files: Vec<FileEntry>,
    pub bytes: u64,
    pub consistent_point: Option<ConsistentPoint>,
    pub plan: Plan,
    /// What zrm's applier will do with the replay (none with the client pipeline).
    pub applier: Option<applier::Survey>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRestore {
    pub restored: String,
    pub set: String,
    pub target: String,
    pub databases: Vec<String>,
    /// A table restore: its tables, `db.table` as in the backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Databases restored under another name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub renamed: BTreeMap<String, String>,
    pub bytes: u64,
    pub base_duration_s: f64,
    pub replayed_bytes: u64,
    pub replayed_files: Vec<String>,
    pub duration_s: f64,
    pub consistent_point: Option<ConsistentPoint>,
    pub stop: Option<StopPoint>,
    pub last_applied: Option<TrxRef>,
    /// What zrm's applier did (none with the client pipeline).
    pub applier: Option<ApplyStats>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub resumed: bool,
    #[serde(skip)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedVolumes {
    pub dry_run: bool,
    pub backup: String,
    pub snapshots: Vec<crate::engine::snapshot::ebs::EbsSnapshot>,
    pub zone: Option<String>,
    pub attach_to: Option<String>,
    pub consistent_point: Option<ConsistentPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoredVolumes {
    pub restored: String,
    pub set: String,
    pub volumes: Vec<crate::engine::snapshot::ebs::RestoredVolume>,
    pub consistent_point: Option<ConsistentPoint>,
    pub next: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedDatadir {
    pub dry_run: bool,
    pub backup: String,
    pub method: Method,
    pub target: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub files: Vec<FileEntry>,
    #[serde(skip)]
    pub file_count: u64,
    pub bytes: u64,
    pub start_server: bool,
    pub plan: Plan,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoredDatadir {
    pub restored: String,
    pub set: String,
    pub target: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub bytes: u64,
    pub files: u64,
    pub base_duration_s: f64,
    pub replayed: bool,
    pub replayed_bytes: u64,
    #[serde(skip)]
    pub replayed_file_count: usize,
    pub duration_s: f64,
    pub consistent_point: Option<ConsistentPoint>,
    pub stop: Option<StopPoint>,
    pub last_applied: Option<TrxRef>,
    pub next: String,
}

/// Carry out (or, with `dry_run`, plan) a restore.
pub async fn execute(
    config: &ConfigFile,
    req: RestoreRequest,
    ui: &dyn Reporter,
) -> Result<RestoreReport> {
    let set_name = &req.set;
    crate::repo::check_component("set name", set_name)?;
    if !config.has_set(set_name) {
        return Err(config.unknown_set(set_name));
    }
    if req.inclusive && !matches!(req.until, Until::Position(_) | Until::Gtid(_)) {
        return Err(Error::Usage(
            if matches!(req.until, Until::GtidSet(_)) {
                "--inclusive goes with --until-position or a single --until-gtid GTID: a GTID set \
                 already names every transaction to apply"
            } else {
                "--inclusive goes with --until-position or --until-gtid"
            }
            .into(),
        ));
    }
    let source = config.resolve_set(set_name, &Default::default())?;
    let target = req.target.clone();
    let repo = Repository::open(config, false)?;
    let until = req.until.clone();
    let mut plan = if req.no_binlogs {
        plan::base_only_plan(&repo, set_name, req.backup.as_deref())?
    } else {
        tokio::task::block_in_place(|| {
            plan::plan(
                &repo,
                set_name,
                &until,
                req.inclusive,
                req.backup.as_deref(),
            )
        })?
    };
    let resume = req.resume.clone();
    if let Some(at) = &resume {
        tokio::task::block_in_place(|| plan::resume_from(&repo, &mut plan, at))?;
    }
    // Nothing may shorten a restore silently: what the replayed range lacks, and (for a
    // restore to the end of the archive) whether the archive reaches the server's current
    // binlog, are said before anything changes.
    let mut warnings = plan.warnings.clone();
    if matches!(until, Until::All) && !req.no_binlogs && resume.is_none() {
        let coverage = crate::binlog::coverage::probe(&repo, &source).await;
        warnings.extend(coverage.warning(set_name));
    }
    for w in &warnings {
        ui.note(&format!("WARNING: {w}"));
    }
    plan.warnings = warnings;
    let manifest = plan.base_manifest.clone();
    if manifest.physical.is_some() && resume.is_none() {
        return physical(ui, &req, &target, &repo, &plan).await;
    }
    if req.start_server || req.attach_to.is_some() {
        return Err(Error::Usage(format!(
            "--start-server and --attach-to go with snapshot backups (lvm, btrfs, ebs); backup \
             {} is a {} backup",
            manifest.id, manifest.method
        )));
    }
    if req.resume_load && manifest.method != Method::Logical {
        return Err(Error::Usage(format!(
            "--resume-load continues the load of a logical backup; backup {} is a {} backup: \
             restore it again with --replace",
            manifest.id, manifest.method
        )));
    }
    if (req.tables.is_some() || !req.rename.is_empty()) && manifest.method != Method::Logical {
        return Err(Error::Usage(format!(
            "--tables and --rename-database restore from logical backups (zrm loads each \
             table's own schema and chunks); backup {} is a {} backup, one dump stream that \
             creates and fills whole databases under their own names. Restore it whole into a \
             scratch server and copy the table from there, or restore from a logical backup \
             (method = \"logical\")",
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
    if req.tables.is_some() && req.databases.is_some() {
        return Err(Error::Usage(
            "--tables names the databases of its tables: leave --databases out".into(),
        ));
    }
    // A table restore covers the databases of its tables.
    let wanted: Option<Vec<String>> = match &req.tables {
        Some(t) => {
            let mut dbs: Vec<String> = t.iter().map(|(d, _)| d.clone()).collect();
            dbs.dedup();
            dbs.sort();
            dbs.dedup();
            Some(dbs)
        }
        None => req.databases.clone(),
    };
    let mut databases = chosen_databases(ui, &manifest, wanted.as_deref())?;
    crate::restore::tables::check_against_backup(
        &manifest,
        req.tables.as_deref(),
        &req.rename,
        &databases,
    )?;
    // Replay covers what the restore covers: --tables, --databases, else what the backup
    // selected.
    let replay_scope = crate::selection::Selection {
        databases: match (&wanted, &manifest.selected_databases) {
            (None, None) => None,
            _ => Some(databases.iter().cloned().collect::<BTreeSet<_>>()),
        },
        exclude: manifest.exclude.clone(),
        tables: req
            .tables
            .as_ref()
            .map(|t| t.iter().cloned().collect::<BTreeSet<_>>()),
    };
    // The databases as the target will hold them.
    let target_name = |d: &String| req.rename.get(d).unwrap_or(d).clone();
    let mut session = mysql::connect(&conn).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    if !req.replace && is_source_server(&conn, &facts, &source.connection).await {
        // Beside the live data, under new names that do not exist there yet, a restore into
        // the source changes nothing of what it had.
        let renamed: Vec<String> = databases
            .iter()
            .filter(|d| req.rename.contains_key(*d))
            .map(target_name)
            .collect();
        let not_renamed: Vec<&String> = databases
            .iter()
            .filter(|d| !req.rename.contains_key(*d))
            .collect();
        if !not_renamed.is_empty() {
            session.close().await;
            let list: Vec<&str> = not_renamed.iter().map(|d| d.as_str()).collect();
            return Err(Error::Restore(format!(
                "the target {label} is the source server of set '{set_name}': restoring {} \
                 there overwrites live data. To bring data back beside the live databases, \
                 restore each under a new name (--rename-database {}={}_restored); to \
                 overwrite them, add --replace",
                list.join(", "),
                list[0],
                list[0]
            )));
        }
        let exists = if resume.is_some() || req.resume_load {
            Vec::new() // the interrupted run created them
        } else {
            crate::restore::tables::existing_databases(&mut session, &renamed).await?
        };
        if !exists.is_empty() {
            session.close().await;
            return Err(Error::Restore(format!(
                "the target {label} is the source server of set '{set_name}', and {} exists \
                 there: a restore into the source goes only into databases that do not exist \
                 yet. Pick another name with --rename-database, or drop {} first",
                exists.join(", "),
                exists.join(", ")
            )));
        }
        if req.log_bin && facts.flavor == crate::manifest::Flavor::MariaDB {
            // MariaDB's replay keeps each transaction's GTID (domain-server-sequence): the
            // source's binary log would hold its own GTIDs a second time, and its replicas
            // would skip or refuse them.
            session.close().await;
            return Err(Error::Usage(format!(
                "--log-bin into the source server of set '{set_name}': the replayed \
                 transactions would be written to its binary log with the GTIDs it already \
                 wrote, which its replicas skip or refuse. Restore without --log-bin (the copy \
                 then stays on this server only)"
            )));
        }
    }
    check_time_zone(&mut session, &manifest, &label, plan.files.is_empty()).await?;
    // From here to the end, no other restore writes these databases on this target, and no
    // purge deletes the backup being read.
    let _target_lock = if req.dry_run {
        None
    } else {
        let names: Vec<String> = databases.iter().map(target_name).collect();
        Some(crate::restore::target::TargetLock::acquire(&conn, &label, &names).await?)
    };
    let _lease = if req.dry_run {
        None
    } else {
        Some(take_lease(config, set_name, &manifest.id)?)
    };
    // A table restore touches its tables only: they must not exist (or, with --replace,
    // they are dropped first); the rest of their databases stays as it is.
    let mut drop_tables = Vec::new();
    if let (Some(tables), None, false) = (&req.tables, &resume, req.resume_load) {
        let existing =
            crate::restore::tables::existing_tables(&mut session, tables, &req.rename).await?;
        if !existing.is_empty() && !req.replace {
            let interrupted = logical::load::interrupted_load_of(&mut session, &manifest.id)
                .await
                .unwrap_or(false);
            session.close().await;
            let list: Vec<String> = existing.iter().map(|(d, t)| format!("{d}.{t}")).collect();
            let resume_hint = if interrupted {
                format!(
                    " (if they hold an interrupted load of backup {}, continue it with the \
                     same command plus --resume-load)",
                    manifest.id
                )
            } else {
                String::new()
            };
            return Err(Error::Restore(format!(
                "refusing to restore into {label}: these tables exist: {}; add --replace to \
                 drop and replace them (only them), restore under another database name \
                 (--rename-database), or restore elsewhere{resume_hint}",
                list.join(", ")
            )));
        }
        drop_tables = existing;
    }
    let mut occupied = if resume.is_some() || req.resume_load || req.tables.is_some() {
        Vec::new() // the earlier run restored (part of) the base there
    } else {
        let names: Vec<String> = databases.iter().map(target_name).collect();
        occupied_databases(&mut session, &names).await?
    };
    // zrm's own schema (checkpoint markers) on the target is the target's: kept as it is.
    if let Some(k) = occupied
        .iter()
        .position(|o| o.name == crate::restore::target::ZRM_SCHEMA)
    {
        let o = occupied.remove(k);
        databases.retain(|d| *d != o.name);
        ui.note(&format!(
            "note: {} exists on {label}: kept as it is (zrm's own schema is never replaced)",
            o.name
        ));
    }
    if !occupied.is_empty() && !req.replace {
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

    let backup_dir = Repository::backup_dir(set_name, &manifest.id);
    if req.dry_run {
        session.close().await;
        let drop_first = if req.replace {
            occupied
                .iter()
                .map(|o| o.name.clone())
                .chain(drop_tables.iter().map(|(d, t)| format!("{d}.{t}")))
                .collect()
        } else {
            Vec::new()
        };
        let survey = if req.applier == Applier::Zrm
            && !plan.files.is_empty()
            && manifest.server.flavor == facts.flavor
        {
            Some(tokio::task::block_in_place(|| {
                applier::survey(&repo, &plan.files, &replay_scope, req.replay_lanes.max(1))
            })?)
        } else {
            None
        };
        return Ok(RestoreReport::Planned(PlannedRestore {
            applier: survey,
            dry_run: true,
            backup: manifest.id.clone(),
            set: manifest.set.clone(),
            method: manifest.method,
            target: label,
            databases,
            tables: table_names(&req),
            renamed: req.rename.clone(),
            drop_first,
            resume: resume.is_some(),
            files: manifest.files.clone(),
            bytes: manifest.total_size(),
            consistent_point: manifest.consistent_point.clone(),
            plan,
        }));
    }

    // The archived binlogs too: a damaged or cut archive must be found before --replace drops
    // anything, not halfway through the replay.
    for f in &plan.files {
        tokio::task::block_in_place(|| {
            crate::binlog::archive_index::verify_archived(&repo, set_name, &f.index)
        })
        .map_err(|e| {
            Error::Restore(format!(
                "{e}; nothing was changed on the target; restore to a point before {}",
                f.file
            ))
        })?;
    }
    // A renamed restore must never reach the live database, and a table restore never
    // another table: what the replay cannot keep apart is found now, before anything changes.
    let whole_pipeline = req.applier == Applier::Client || manifest.server.flavor != facts.flavor;
    tokio::task::block_in_place(|| {
        replay::check_replay(
            &repo,
            &plan.files,
            &replay_scope,
            &req.rename,
            whole_pipeline,
        )
    })
    .map_err(|e| Error::Restore(format!("{e}; nothing was changed on the target")))?;
    let started = Instant::now();
    let mut loaded = 0;
    let mut load_notes = Vec::new();
    let mut disabled_events: Vec<String> = Vec::new();
    if resume.is_none() {
        // Check every file before the first change on the target: a damaged backup must not
        // cost the user the databases that --replace would drop. (A logical load also checks
        // each chunk as it streams and rolls it back on a mismatch, so without anything to
        // drop it skips this extra pass.)
        let drops = req.replace && (!occupied.is_empty() || !drop_tables.is_empty());
        if manifest.method == Method::Mysqldump || drops {
            for f in &manifest.files {
                let rel = format!("{backup_dir}/{}", f.path);
                tokio::task::block_in_place(|| {
                    mysqldump::verify_file(&repo, &rel, f.stored_size, &f.sha256)
                })?;
            }
        }
        if req.replace {
            for o in &occupied {
                // Checked again where it matters: nothing above may have let one through.
                if crate::restore::target::is_protected_schema(&o.name) {
                    return Err(Error::Restore(format!(
                        "refusing to drop {}: zrm never drops a system schema or its own",
                        o.name
                    )));
                }
                ui.note(&format!(
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
            for (db, t) in &drop_tables {
                ui.note(&format!("dropping table {db}.{t} on {label} (--replace)"));
                session
                    .exec(&format!(
                        "DROP TABLE {}.{}",
                        mysql::conn::quote_ident(db),
                        mysql::conn::quote_ident(t)
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
        let progress = ui.progress(&format!("restore {}", manifest.id));
        progress.set_total(Some(manifest.total_size()));
        let r = if manifest.method == Method::Logical {
            let layout = manifest.logical.as_ref().ok_or_else(|| {
                Error::Restore(format!(
                    "backup {} is a logical backup whose manifest has no table layout; it \
                     cannot be restored",
                    manifest.id
                ))
            })?;
            let parallel = req.parallel.unwrap_or(source.parallel).max(1);
            let job = logical::load::LoadJob {
                target: &conn,
                backup_id: &manifest.id,
                layout,
                files: &manifest.files,
                compression: manifest.compression,
                backup_dir: backup_dir.clone(),
                databases: databases.iter().cloned().collect(),
                tables: replay_scope.tables.clone(),
                rename: req.rename.clone(),
                users: req.databases.is_none() && req.tables.is_none() && req.rename.is_empty(),
                parallel,
                defer_indexes: req.defer_indexes,
                log_bin: req.log_bin,
                resume: req.resume_load,
                disable_events: !plan.files.is_empty(),
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
                disabled_events = o.disabled_events.clone();
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
                databases: req
                    .databases
                    .as_ref()
                    .map(|_| databases.iter().cloned().collect::<BTreeSet<_>>()),
            };
            tokio::task::block_in_place(|| mysqldump::load(&repo, &job, progress.as_ref()))
        };
        progress.finish();
        loaded = r?;
        for n in &load_notes {
            ui.note(&format!("note: {n}"));
        }
    } else {
        session.close().await;
    }
    let base_secs = started.elapsed().as_secs_f64();

    let mut applied = None;
    if !plan.files.is_empty() {
        let job = ReplayJob {
            files: &plan.files,
            target: &conn,
            target_flavor: facts.flavor,
            source_flavor: manifest.server.flavor,
            time_zone: manifest.server.session_time_zone.clone(),
            scope: replay_scope.clone(),
            log_bin: req.log_bin,
            skip_gtids: req.skip_gtids,
            rename: req.rename.clone(),
        };
        let progress = ui.progress("replay binlogs");
        progress.set_total(Some(plan.bytes));
        let r = tokio::task::block_in_place(|| {
            run_replay(
                &repo,
                &job,
                &req,
                &manifest.id,
                resume.is_some(),
                progress.as_ref(),
            )
        });
        progress.finish();
        match r? {
            Ok(stats) => applied = stats,
            Err(stopped) => {
                let again = format!(
                    "{} --backup {} --resume {}:{}",
                    req.again(),
                    manifest.id,
                    stopped.file,
                    stopped.resume_pos
                );
                let events = if disabled_events.is_empty() {
                    String::new()
                } else {
                    format!(
                        " Events {} were created disabled so that they do not run during the \
                         replay: once it is complete, enable them with ALTER EVENT … ENABLE.",
                        disabled_events.join(", ")
                    )
                };
                return Err(Error::Restore(format!(
                "binlog replay stopped at the transaction starting at {}:{}: {}. Every \
                 transaction before it is applied on {label}.{events} Fix the cause, then continue with: {again}",
                stopped.file, stopped.resume_pos, stopped.error
            )));
            }
        }
    }
    if !disabled_events.is_empty() {
        // The replay is complete: the events run again, as they did on the source.
        let mut s = mysql::connect(&conn).await?;
        for e in &disabled_events {
            s.exec(&format!("ALTER EVENT {e} ENABLE")).await?;
        }
        s.close().await;
    }
    let secs = started.elapsed().as_secs_f64();
    let last = plan.stop.as_ref().and_then(|s| s.last_applied.clone());
    Ok(RestoreReport::Restored(ServerRestore {
        restored: manifest.id.clone(),
        set: set_name.clone(),
        target: label,
        databases,
        tables: table_names(&req),
        renamed: req.rename.clone(),
        bytes: loaded,
        base_duration_s: base_secs,
        replayed_bytes: plan.bytes,
        replayed_files: plan.files.iter().map(|f| f.file.clone()).collect(),
        duration_s: secs,
        consistent_point: manifest.consistent_point.clone(),
        stop: plan.stop.clone(),
        last_applied: last,
        applier: applied,
        warnings: plan.warnings.clone(),
        resumed: resume.is_some(),
        note: plan.note.clone(),
    }))
}

/// A table restore's tables as `db.table`.
fn table_names(req: &RestoreRequest) -> Option<Vec<String>> {
    req.tables
        .as_ref()
        .map(|t| t.iter().map(|(d, t)| format!("{d}.{t}")).collect())
}

/// The databases to restore: those asked for, else the backup's; never a system schema
/// (`mysql`, `sys`, …), whatever a manifest lists (zrm never writes one there: a manifest that
/// does was changed).
fn chosen_databases(
    ui: &dyn Reporter,
    m: &Manifest,
    wanted: Option<&[String]>,
) -> Result<Vec<String>> {
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
        ui.note(&format!(
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

/// Restore a snapshot backup: a data directory rebuilt from the copy (lvm, btrfs), or new
/// volumes from the snapshots (ebs); then, with --start-server, the binlogs replayed into a
/// throwaway server on the rebuilt directory.
async fn physical(
    ui: &dyn Reporter,
    req: &RestoreRequest,
    target: &Target,
    repo: &Repository,
    plan: &Plan,
) -> Result<RestoreReport> {
    let set_name = &req.set;
    let target_spec = &req.target_spec;
    let m = &plan.base_manifest;
    let layout = m.physical.as_ref().expect("checked by the caller");
    if req.databases.is_some() || req.tables.is_some() || !req.rename.is_empty() {
        return Err(Error::Usage(format!(
            "backup {} is a {} snapshot of the whole server's data directory: --databases, \
             --tables and --rename-database cannot pick from it or rename inside it; restore it \
             whole (into datadir:, then copy the table out of that server), or use a logical \
             backup",
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
        cmd.push_str(&req.until_flags);
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
        if req.dry_run {
            return Ok(RestoreReport::VolumesPlanned(PlannedVolumes {
                dry_run: true,
                backup: m.id.clone(),
                snapshots: record.snapshots.clone(),
                zone: zone.clone(),
                attach_to: req.attach_to.clone(),
                consistent_point: m.consistent_point.clone(),
            }));
        }
        let progress = ui.progress("create volumes");
        let made = crate::engine::snapshot::ebs::restore_volumes(
            record,
            zone.as_deref(),
            req.attach_to.as_deref(),
            req.device.as_deref(),
            progress.as_ref(),
        )
        .await;
        progress.finish();
        let made = made?;
        let next = format!(
            "next: {}mount the volume on the database host (the datadir was {}), start the \
             server on it (same version; {}), then replay the binary logs:\n  {}",
            if req.attach_to.is_some() {
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
        return Ok(RestoreReport::Volumes(RestoredVolumes {
            restored: m.id.clone(),
            set: set_name.clone(),
            volumes: made,
            consistent_point: m.consistent_point.clone(),
            next,
        }));
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
    if req.start_server && !plan.files.is_empty() {
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
    if req.dry_run {
        return Ok(RestoreReport::DatadirPlanned(PlannedDatadir {
            dry_run: true,
            backup: m.id.clone(),
            method: m.method,
            target: target_spec.clone(),
            path: path.clone(),
            files: m.files.clone(),
            file_count: layout.file_count,
            bytes: layout.bytes,
            start_server: req.start_server,
            plan: plan.clone(),
        }));
    }
    let started = Instant::now();
    let progress = ui.progress(&format!("restore {}", m.id));
    let bytes = tokio::task::block_in_place(|| {
        crate::restore::physical::rebuild_datadir(repo, m, path, progress.as_ref())
    });
    progress.finish();
    let bytes = bytes?;
    let base_secs = started.elapsed().as_secs_f64();

    let mut replayed = false;
    if req.start_server {
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
                scope: crate::selection::Selection::default(),
                rename: Default::default(),
                log_bin: false,
                skip_gtids: req.skip_gtids,
            };
            let progress = ui.progress("replay binlogs");
            progress.set_total(Some(plan.bytes));
            let r = tokio::task::block_in_place(|| {
                run_replay(repo, &job, req, &m.id, false, progress.as_ref())
            });
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
    Ok(RestoreReport::Datadir(RestoredDatadir {
        restored: m.id.clone(),
        set: set_name.clone(),
        target: target_spec.clone(),
        path: path.clone(),
        bytes,
        files: layout.file_count,
        base_duration_s: base_secs,
        replayed,
        replayed_bytes: if replayed { plan.bytes } else { 0 },
        replayed_file_count: plan.files.len(),
        duration_s: secs,
        consistent_point: m.consistent_point.clone(),
        stop: plan.stop.clone(),
        last_applied: if replayed { last } else { None },
        next,
    }))
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

// ---------------------------------------------------------------------------------------------
// The reports as a person reads them
// ---------------------------------------------------------------------------------------------

impl std::fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreReport::Planned(p) => p.fmt(f),
            RestoreReport::Restored(r) => r.fmt(f),
            RestoreReport::VolumesPlanned(p) => p.fmt(f),
            RestoreReport::Volumes(r) => r.fmt(f),
            RestoreReport::DatadirPlanned(p) => p.fmt(f),
            RestoreReport::Datadir(r) => r.fmt(f),
        }
    }
}

impl std::fmt::Display for PlannedRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.plan;
        let m = &p.base_manifest;
        writeln!(f, "restore plan for set '{}' into {}:", m.set, self.target)?;
        if self.resume {
            writeln!(f, "  base: already restored (--resume)")?;
        } else {
            writeln!(
                f,
                "  base: full backup {} ({}, taken {}), databases {}",
                m.id,
                m.method,
                m.start_time.format("%Y-%m-%d %H:%M:%S UTC"),
                self.databases.join(", ")
            )?;
            if let Some(t) = &self.tables {
                writeln!(f, "  tables only: {}", t.join(", "))?;
            }
            for (old, new) in &self.renamed {
                writeln!(
                    f,
                    "  database {old} restored as {new} (its changes applied to {new})"
                )?;
            }
            if !self.drop_first.is_empty() {
                writeln!(
                    f,
                    "  first DROP (--replace): {}",
                    self.drop_first.join(", ")
                )?;
            }
            match &m.logical {
                Some(l) => {
                    let chosen: Vec<_> = l
                        .tables
                        .iter()
                        .filter(|t| self.databases.contains(&t.database))
                        .filter(|t| {
                            self.tables.as_ref().is_none_or(|names| {
                                names.contains(&format!("{}.{}", t.database, t.name))
                            })
                        })
                        .collect();
                    let chunks: usize = chosen.iter().map(|t| t.chunks.len()).sum();
                    let rows: u64 = chosen.iter().map(|t| t.rows).sum();
                    // A table restore: the uncompressed bytes of its chunks.
                    let bytes: u64 = match &self.tables {
                        None => m.total_size(),
                        Some(_) => chosen
                            .iter()
                            .flat_map(|t| t.chunks.iter())
                            .map(|c| c.bytes)
                            .sum(),
                    };
                    writeln!(
                        f,
                        "  load {} schema file(s), then {chunks} data chunk(s) of {} tables ({rows} rows, {}) in parallel; secondary indexes after the data",
                        l.schema_files.len(),
                        chosen.len(),
                        human_bytes(bytes),
                    )?;
                }
                None => {
                    for file in &m.files {
                        writeln!(f, "  load {} ({})", file.path, human_bytes(file.size))?;
                    }
                }
            }
        }
        write_replay_plan(f, p)?;
        if let Some(s) = &self.applier {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// The replay part of a plan: files, totals, the stop point.
fn write_replay_plan(f: &mut std::fmt::Formatter<'_>, p: &Plan) -> std::fmt::Result {
    if let Some(cp) = &p.start {
        writeln!(f, "  consistent point: {cp}")?;
    }
    if !p.incrementals.is_empty() {
        writeln!(f, "  incrementals covered: {}", p.incrementals.join(", "))?;
    }
    if p.files.is_empty() {
        writeln!(
            f,
            "  replay: nothing{}",
            p.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        )?;
    } else {
        writeln!(f, "  replay:")?;
        for file in &p.files {
            writeln!(
                f,
                "    {}  {} → {}  ({})",
                file.file,
                file.start,
                file.stop.map_or("end".to_string(), |s| s.to_string()),
                human_bytes(file.bytes)
            )?;
        }
        writeln!(
            f,
            "  total: {} of binlog, {}{} transactions",
            human_bytes(p.bytes),
            if p.transactions_exact { "" } else { "about " },
            p.transactions
        )?;
    }
    if let Some(stop) = &p.stop {
        match &stop.last_applied {
            Some(t) => writeln!(f, "  last transaction applied: {}", applied(t))?,
            None => writeln!(
                f,
                "  last transaction applied: none after the consistent point"
            )?,
        }
        match &stop.first_excluded {
            Some(x) => writeln!(
                f,
                "  stop before: {} committed {} at {}:{}",
                x.gtid.as_deref().unwrap_or("(no GTID)"),
                x.time,
                x.file,
                x.pos
            )?,
            None => writeln!(
                f,
                "  stop at: {}:{} (the end of the archive or of the range)",
                stop.file, stop.pos
            )?,
        }
    }
    Ok(())
}

impl std::fmt::Display for ServerRestore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.resumed {
            writeln!(
                f,
                "resumed the replay of set '{}' into {}",
                self.set, self.target
            )?;
        } else {
            let what: Vec<String> = match &self.tables {
                Some(tables) => tables
                    .iter()
                    .map(|t| {
                        let (db, name) = t.split_once('.').unwrap_or(("", t));
                        match self.renamed.get(db) {
                            Some(new) => format!("{t} as {new}.{name}"),
                            None => t.clone(),
                        }
                    })
                    .collect(),
                None => self
                    .databases
                    .iter()
                    .map(|d| match self.renamed.get(d) {
                        Some(new) => format!("{d} as {new}"),
                        None => d.clone(),
                    })
                    .collect(),
            };
            writeln!(
                f,
                "restored backup {} of set '{}' into {}: {} ({}) in {:.1}s",
                self.restored,
                self.set,
                self.target,
                what.join(", "),
                human_bytes(self.bytes),
                self.base_duration_s
            )?;
        }
        if self.replayed_files.is_empty() {
            return writeln!(
                f,
                "no binlog replayed{}: the data is as of the consistent point {}",
                self.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                self.consistent_point
                    .as_ref()
                    .map_or("(none recorded)".into(), |p| p.to_string())
            );
        }
        writeln!(
            f,
            "replayed {} of binlogs from {} file(s) in {:.1}s",
            human_bytes(self.replayed_bytes),
            self.replayed_files.len(),
            self.duration_s - self.base_duration_s
        )?;
        if let Some(a) = &self.applier {
            if let Some(at) = &a.resumed_at {
                writeln!(
                    f,
                    "  continued after {at}, the target's own record of its last commit"
                )?;
            }
            writeln!(f, "  {a}")?;
        }
        match &self.last_applied {
            Some(t) => writeln!(f, "last transaction applied: {}", applied(t))?,
            None => writeln!(
                f,
                "no transaction after the backup's consistent point was applied"
            )?,
        }
        if let Some(x) = self.stop.as_ref().and_then(|s| s.first_excluded.as_ref()) {
            writeln!(
                f,
                "stopped before: {} committed {} ({}:{})",
                x.gtid.as_deref().unwrap_or("(no GTID)"),
                x.time,
                x.file,
                x.pos
            )?;
        }
        Ok(())
    }
}

impl std::fmt::Display for PlannedVolumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "would create {} volume(s) from backup {} ({}) in {}{}",
            self.snapshots.len(),
            self.backup,
            self.snapshots
                .iter()
                .map(|s| s.snapshot_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.zone.as_deref().unwrap_or("the source volumes' zone"),
            self.attach_to
                .as_deref()
                .map(|i| format!(", attached to {i}"))
                .unwrap_or_default()
        )
    }
}

impl std::fmt::Display for RestoredVolumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "restored backup {} of set '{}' as new EBS volume(s):",
            self.restored, self.set
        )?;
        for v in &self.volumes {
            writeln!(
                f,
                "  {} from {} in {}{}",
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
            )?;
        }
        writeln!(
            f,
            "consistent point: {}\n{}",
            self.consistent_point
                .as_ref()
                .map_or("none".into(), |p| p.to_string()),
            self.next
        )
    }
}

impl std::fmt::Display for PlannedDatadir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.plan;
        writeln!(
            f,
            "restore plan for set '{}' into {}:\n  base: {} snapshot {} ({} files, {})\n  replay: {}",
            p.base_manifest.set,
            self.path.display(),
            self.method,
            self.backup,
            self.file_count,
            human_bytes(self.bytes),
            if p.files.is_empty() {
                "nothing".to_string()
            } else if self.start_server {
                format!(
                    "{} binlog file(s), {} into a server started on the directory",
                    p.files.len(),
                    human_bytes(p.bytes)
                )
            } else {
                "not now (no --start-server): the command to run is printed at the end".to_string()
            }
        )
    }
}

impl std::fmt::Display for RestoredDatadir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "restored backup {} of set '{}' into {}: {} files, {} in {:.1}s",
            self.restored,
            self.set,
            self.path.display(),
            self.files,
            human_bytes(self.bytes),
            self.base_duration_s
        )?;
        if self.replayed {
            writeln!(
                f,
                "replayed {} of binlogs from {} file(s) in {:.1}s",
                human_bytes(self.replayed_bytes),
                self.replayed_file_count,
                self.duration_s - self.base_duration_s
            )?;
            if let Some(t) = &self.last_applied {
                writeln!(f, "last transaction applied: {}", applied(t))?;
            }
        } else {
            writeln!(
                f,
                "the data is as of the consistent point {}",
                self.consistent_point
                    .as_ref()
                    .map_or("(none recorded)".into(), |p| p.to_string())
            )?;
        }
        writeln!(f, "{}", self.next)
    }
}

/// Replay through zrm's applier, or the client pipeline when asked or when the two servers
/// are of different flavors (row events of one flavor are not applied by the other).
fn run_replay(
    repo: &Repository,
    job: &ReplayJob,
    req: &RestoreRequest,
    backup_id: &str,
    resume: bool,
    progress: &dyn crate::progress::Progress,
) -> Result<std::result::Result<Option<ApplyStats>, Stopped>> {
    if req.applier == Applier::Client || job.source_flavor != job.target_flavor {
        return Ok(replay::replay(repo, job, progress)?.map(|_| None));
    }
    let apply = ApplyJob {
        replay: job,
        backup_id,
        lanes: req.replay_lanes.max(1),
        log_bin: req.log_bin,
        resume,
        skip_gtids: req.skip_gtids,
    };
    Ok(applier::apply(repo, &apply, progress)?.map(Some))
}
