//! Backups as library operations: a full backup of a set (logical, mysqldump, or a volume
//! snapshot) or an incremental one (the binary logs since the previous backup), into the
//! repository.
//!
//! Order of work, so that a crash at any moment leaves the repository consistent: take the
//! set's lock; create the backup directory; stream the data files (each written under a
//! temporary name and renamed when complete); write the manifest last. Without a manifest the
//! directory is an interrupted backup that `list --all` reports and `restore` refuses. A
//! backup that fails removes what it wrote. [`take`] runs one from a typed request and returns a
//! typed report; the command line and a cluster backup call it.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::catalog::{
    self, BackupStatus, ConsistentPoint, FileEntry, Manifest, ToolInfo, MANIFEST_VERSION,
};
use crate::config::{Method, SetConfig};
use crate::engine::logical::{self, LogicalLayout};
use crate::engine::snapshot::{self, PhysicalLayout};
use crate::engine::{incremental, mysqldump};
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql::{self, ServerFacts, Session};
use crate::output::human_bytes;
use crate::progress::Reporter;
use crate::repo::{Repository, MANIFEST_FILE};

/// Which backup to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Full,
    Incremental,
    /// Incremental when one can follow the newest backup, else full.
    Auto,
}

/// A backup of one set.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The set, with any command-line override (`--method`) applied.
    pub set: SetConfig,
    pub level: Level,
    pub comment: Option<String>,
    /// Say what would be done; change nothing.
    pub dry_run: bool,
}

/// What a backup did (or would do). Serialised as the command's JSON result.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum BackupReport {
    Full(FullBackup),
    Incremental(IncrementalBackup),
    FullPlanned(PlannedFull),
    IncrementalPlanned(PlannedIncremental),
}

impl BackupReport {
    /// The backup made, if one was.
    pub fn manifest(&self) -> Option<&Manifest> {
        match self {
            BackupReport::Full(f) => Some(&f.backup),
            BackupReport::Incremental(i) => Some(&i.backup),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FullBackup {
    pub backup: Manifest,
    pub duration_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncrementalBackup {
    pub backup: Manifest,
    pub duration_s: f64,
    /// The transactions and bytes of its own binlog range.
    pub transactions: u64,
    pub binlog_bytes: u64,
    #[serde(skip)]
    pub files: usize,
    #[serde(skip)]
    pub start: ConsistentPoint,
    #[serde(skip)]
    pub end: ConsistentPoint,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedFull {
    pub dry_run: bool,
    pub set: String,
    pub level: u32,
    pub method: Method,
    pub server: String,
    pub flavor: crate::manifest::Flavor,
    pub databases: Vec<String>,
    pub excluded_tables: Vec<String>,
    pub estimated_bytes: Option<u64>,
    /// Whether the backup will have a consistent point (binary logging is on).
    pub consistent_point: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedIncremental {
    pub dry_run: bool,
    pub set: String,
    pub level: u32,
    pub parent: String,
    pub start: ConsistentPoint,
}

/// Take (or, with `dry_run`, plan) the backup `req` asks for.
pub async fn take(
    config: &crate::config::ConfigFile,
    req: BackupRequest,
    ui: &dyn Reporter,
) -> Result<BackupReport> {
    crate::repo::check_component("set name", &req.set.name)?;
    let mut req = req;
    if !req.set.servers.is_empty() {
        // Several servers: a healthy replica by `backup_from` (incrementals too: they follow
        // the server their parent was taken from, or say why they cannot).
        req.set = crate::servers::resolve(&req.set, crate::servers::Want::Backup).await?;
        if let Some(why) = &req.set.server_choice {
            ui.note(&format!(
                "backing up {}: {why}",
                req.set.connection.display()
            ));
        }
    }
    let set = &req.set;
    if req.level != Level::Full {
        if let Some(report) = incremental(ui, config, &req).await? {
            return Ok(report);
        }
        // `auto` without a usable parent: a full backup (the reason was said).
    }
    let snapshot_method = matches!(set.method, Method::Btrfs | Method::Lvm | Method::Ebs);
    if snapshot_method && (set.databases.is_some() || !set.exclude.is_empty()) {
        ui.note(&format!(
            "note: method {} copies the whole server: `databases` and `exclude` of set '{}' do \
             not narrow the backup (a restore can still pick databases)",
            set.method, set.name
        ));
    }
    let mut session = mysql::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    let selection = select(&mut session, set, snapshot_method).await?;
    let estimate = estimate_bytes(&mut session, &selection.databases).await;
    session.close().await;
    if !facts.log_bin {
        ui.note(&format!(
            "warning: binary logging is off on {}: this backup has no consistent point and \
             cannot be rolled forward (`zrm check --set {}` says how to turn it on)",
            set.connection.display(),
            set.name
        ));
    }
    if req.dry_run {
        return Ok(BackupReport::FullPlanned(PlannedFull {
            dry_run: true,
            set: set.name.clone(),
            level: 0,
            method: set.method,
            server: set.connection.display(),
            flavor: facts.flavor,
            databases: selection.databases.clone(),
            excluded_tables: selection.ignore_tables.clone(),
            estimated_bytes: estimate,
            consistent_point: facts.log_bin,
        }));
    }
    let (manifest, secs) = take_full(
        ui,
        config,
        set,
        &facts,
        &selection,
        estimate,
        req.comment.clone(),
        None,
    )
    .await?;
    replicate_after(ui, config, &set.name, &manifest.id)?;
    Ok(BackupReport::Full(FullBackup {
        backup: manifest,
        duration_s: secs,
    }))
}

/// What to back up, resolved against the server.
pub(crate) struct Selection {
    databases: Vec<String>,
    ignore_tables: Vec<String>,
    /// The base tables found at the start, so empty tables appear in the manifest too.
    tables: BTreeMap<String, Vec<String>>,
}

/// A full backup of one set into the repository: lock the set, take the backup, write the
/// manifest last. `cut` makes it one shard of a coordinated cluster cut.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn take_full(
    ui: &dyn Reporter,
    config: &crate::config::ConfigFile,
    set: &SetConfig,
    facts: &ServerFacts,
    selection: &Selection,
    estimate: Option<u64>,
    comment: Option<String>,
    cut: Option<(std::sync::Arc<crate::cluster::cut::Cut>, String)>,
) -> Result<(Manifest, f64)> {
    let (compression, level) = config.repository_compression();
    let snapshot_method = matches!(set.method, Method::Btrfs | Method::Lvm | Method::Ebs);
    let repo = std::sync::Arc::new(Repository::open(config, true)?);
    let lock = repo.backend().lock_set(&set.name)?;
    if let Some(pid) = &lock.took_over_from {
        ui.note(&format!(
            "note: took over the lock of set '{}' left by pid {pid}, which is no longer running",
            set.name
        ));
    }
    let id = fresh_id(&repo, &set.name).await?;
    let dir = Repository::backup_dir(&set.name, &id);
    let start_time = chrono::Utc::now();
    let started = Instant::now();
    let bar = ui.progress(&format!("backup {}", set.name));
    let progress: std::sync::Arc<dyn crate::progress::Progress> = match set.max_rate {
        Some(rate) => std::sync::Arc::new(crate::progress::Throttled::new(bar, rate)),
        None => bar.into(),
    };
    progress.set_total(estimate);
    let codec = (compression, level);
    let replica = from_replica(ui, set, facts).await?;
    let outcome = match set.method {
        Method::Logical => {
            full_logical(
                &repo,
                set,
                facts,
                selection,
                &dir,
                codec,
                progress.clone(),
                cut.clone(),
            )
            .await
        }
        Method::Btrfs | Method::Lvm | Method::Ebs => {
            full_snapshot(
                ui,
                &repo,
                set,
                facts,
                &id,
                &dir,
                codec,
                progress.clone(),
                cut.clone(),
            )
            .await
        }
        Method::Mysqldump if cut.is_some() => Err(Error::Usage(format!(
            "set '{}' uses method mysqldump, which takes its lock inside the dump tool and \
             cannot join a coordinated cut: give the cluster's sets the logical or a snapshot \
             method",
            set.name
        ))),
        Method::Mysqldump => {
            full_mysqldump(&repo, set, facts, selection, &dir, codec, progress.as_ref())
        }
    };
    progress.finish();
    let replica = match replica {
        None => None,
        Some(FromReplica { mut record, paused }) => {
            if let Some(p) = paused {
                if let Err(e) = p.resume().await {
                    ui.note(&format!(
                        "warning: the replica's SQL thread could not be started again ({e}): \
                         start it by hand (START REPLICA SQL_THREAD)"
                    ));
                }
            } else if let Ok(o) = &outcome {
                // The GTID state at the backup's own consistent point holds every source
                // transaction the replica had applied: the source's point, exactly.
                record.source_gtid_set =
                    o.consistent_point.as_ref().and_then(|c| c.gtid_set.clone());
            }
            Some(record)
        }
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            for f in repo.backend().list(&dir).unwrap_or_default() {
                if f == "data" || f == "schema" {
                    for g in repo
                        .backend()
                        .list(&format!("{dir}/{f}"))
                        .unwrap_or_default()
                    {
                        repo.backend().remove_file(&format!("{dir}/{f}/{g}"));
                    }
                    repo.backend().remove_empty_dir(&format!("{dir}/{f}"));
                } else {
                    repo.backend().remove_file(&format!("{dir}/{f}"));
                }
            }
            repo.backend().remove_empty_dir(&dir);
            return Err(e);
        }
    };
    if facts.log_bin && outcome.consistent_point.is_none() {
        for f in &outcome.files {
            repo.backend().remove_file(&format!("{dir}/{}", f.path));
        }
        repo.backend().remove_empty_dir(&dir);
        return Err(Error::Backup(format!(
            "the dump of set '{}' holds no binary log coordinates although log_bin is on; \
             the backup was discarded (does the account have BINLOG MONITOR / REPLICATION CLIENT?)",
            set.name
        )));
    }
    if let Some(l) = outcome
        .logical
        .as_ref()
        .filter(|l| !l.non_transactional.is_empty())
    {
        let (what, verb) = match l.non_transactional.len() {
            1 => ("table", "uses"),
            _ => ("tables", "use"),
        };
        ui.note(&format!(
            "warning: {what} {} {verb} an engine without transactions, read after the snapshot \
             rather than in it: a point-in-time restore may apply some of their changes twice; \
             convert them to InnoDB (ALTER TABLE … ENGINE=InnoDB)",
            l.non_transactional.join(", ")
        ));
    }

    let manifest = Manifest {
        format_version: MANIFEST_VERSION,
        id: id.clone(),
        set: set.name.clone(),
        level: 0,
        parent_id: None,
        method: set.method,
        tool: ToolInfo {
            zrm: format!("zrm {}", env!("CARGO_PKG_VERSION")),
            dump_tool: outcome.tool_version.clone(),
        },
        server: facts.server_info(&set.connection),
        start_time,
        end_time: chrono::Utc::now(),
        consistent_point: outcome.consistent_point.clone(),
        read_lock_ms: outcome.read_lock_ms,
        databases: with_checksums(
            catalog::databases_from(&with_all_tables(&outcome.rows, &selection.tables)),
            outcome.logical.as_ref(),
        ),
        files: outcome.files.clone(),
        compression,
        encryption_key_id: repo.info.encryption_key_id.clone(),
        status: BackupStatus::Complete,
        binlog_range: None,
        comment,
        selected_databases: if snapshot_method {
            None
        } else {
            set.databases.clone()
        },
        exclude: if snapshot_method {
            Vec::new()
        } else {
            set.exclude.clone()
        },
        logical: outcome.logical.clone(),
        physical: outcome.physical.clone(),
        replica,
        server_choice: set.server_choice.clone(),
    };
    repo.write_small(&format!("{dir}/{MANIFEST_FILE}"), &manifest.to_json())?;
    drop(lock);

    Ok((manifest, started.elapsed().as_secs_f64()))
}

/// A full backup of one set, from the connection on (for cluster backups: no dry run).
pub async fn full_backup(
    ui: &dyn Reporter,
    config: &crate::config::ConfigFile,
    set: &SetConfig,
    comment: Option<String>,
    cut: Option<(std::sync::Arc<crate::cluster::cut::Cut>, String)>,
) -> Result<(Manifest, f64)> {
    let snapshot_method = matches!(set.method, Method::Btrfs | Method::Lvm | Method::Ebs);
    let mut session = mysql::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    let selection = select(&mut session, set, snapshot_method).await?;
    let estimate = estimate_bytes(&mut session, &selection.databases).await;
    session.close().await;
    take_full(ui, config, set, &facts, &selection, estimate, comment, cut).await
}

/// With a `[repository.replica]`, copy the new backup there. A failure fails the command (cron
/// must hear of a missing DR copy) but says the backup itself is complete.
pub fn replicate_after(
    ui: &dyn Reporter,
    config: &crate::config::ConfigFile,
    set: &str,
    id: &str,
) -> Result<()> {
    let Some(replica) = config.replica_location()? else {
        return Ok(());
    };
    let r = tokio::task::block_in_place(|| {
        crate::replicate::replicate_set(config, &replica, set, false, &|m| ui.note(m))
    });
    match r {
        Ok(r) => {
            ui.note(&format!(
                "replicated to {}: {} file(s), {}",
                r.to,
                r.copied.len(),
                human_bytes(r.copied_bytes)
            ));
            Ok(())
        }
        Err(e) => Err(Error::Repository(format!(
            "backup {id} of set '{set}' is complete, but replicating it to {} failed: {e}",
            replica.describe()
        ))),
    }
}

/// What a full backup method produced, for the manifest.
struct FullOutcome {
    consistent_point: Option<ConsistentPoint>,
    read_lock_ms: Option<u64>,
    rows: BTreeMap<String, BTreeMap<String, u64>>,
    files: Vec<FileEntry>,
    tool_version: Option<String>,
    logical: Option<LogicalLayout>,
    physical: Option<PhysicalLayout>,
}

#[allow(clippy::too_many_arguments)]
async fn full_logical(
    repo: &std::sync::Arc<Repository>,
    set: &SetConfig,
    facts: &ServerFacts,
    selection: &Selection,
    dir: &str,
    (compression, level): (crate::config::Compression, i32),
    progress: std::sync::Arc<dyn crate::progress::Progress>,
    cut: Option<(std::sync::Arc<crate::cluster::cut::Cut>, String)>,
) -> Result<FullOutcome> {
    let job = logical::dump::DumpJob {
        conn: &set.connection,
        flavor: facts.flavor,
        server_version: &facts.version,
        log_bin: facts.log_bin,
        selection: &selection.tables,
        excluded_tables: &selection.ignore_tables,
        parallel: set.parallel,
        compression,
        level,
        dir: dir.to_string(),
        chunk_bytes: set.chunk_bytes,
        include_users: set.include_users,
        lock_timeout: set.lock_timeout,
        cut,
    };
    let out = logical::dump::dump(repo.clone(), &job, progress).await?;
    let mut rows: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for t in &out.layout.tables {
        rows.entry(t.database.clone())
            .or_default()
            .insert(t.name.clone(), t.rows);
    }
    for (db, name) in &out.sequences {
        rows.entry(db.clone()).or_default().insert(name.clone(), 1);
    }
    Ok(FullOutcome {
        consistent_point: out.point,
        read_lock_ms: Some(out.layout.snapshot.lock_hold_ms),
        rows,
        files: out.files,
        tool_version: None,
        logical: Some(out.layout),
        physical: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn full_snapshot(
    ui: &dyn Reporter,
    repo: &std::sync::Arc<Repository>,
    set: &SetConfig,
    facts: &ServerFacts,
    id: &str,
    dir: &str,
    codec: (crate::config::Compression, i32),
    progress: std::sync::Arc<dyn crate::progress::Progress>,
    cut: Option<(std::sync::Arc<crate::cluster::cut::Cut>, String)>,
) -> Result<FullOutcome> {
    let job = snapshot::SnapshotJob {
        set,
        facts,
        backup_id: id,
        dir: dir.to_string(),
        codec,
        cut,
    };
    let out = snapshot::backup(repo, &job, progress).await?;
    for w in &out.warnings {
        ui.note(&format!("warning: {w}"));
    }
    Ok(FullOutcome {
        consistent_point: out.point,
        read_lock_ms: Some(out.layout.lock_hold_ms),
        rows: BTreeMap::new(),
        files: out.files,
        tool_version: None,
        logical: None,
        physical: Some(out.layout),
    })
}

fn full_mysqldump(
    repo: &Repository,
    set: &SetConfig,
    facts: &ServerFacts,
    selection: &Selection,
    dir: &str,
    (compression, level): (crate::config::Compression, i32),
    progress: &dyn crate::progress::Progress,
) -> Result<FullOutcome> {
    let file_name = mysqldump::dump_file_name(compression);
    let job = mysqldump::DumpJob {
        conn: &set.connection,
        flavor: facts.flavor,
        log_bin: facts.log_bin,
        mysql_gtids: facts.flavor == crate::manifest::Flavor::MySQL && facts.gtid_mode == "ON",
        databases: &selection.databases,
        ignore_tables: &selection.ignore_tables,
        compression,
        level,
        file_rel: format!("{dir}/{file_name}"),
    };
    let outcome = tokio::task::block_in_place(|| mysqldump::dump(repo, &job, progress))?;
    Ok(FullOutcome {
        consistent_point: outcome.facts.consistent_point(),
        read_lock_ms: None,
        rows: outcome.facts.rows.clone(),
        files: vec![FileEntry {
            path: file_name.to_string(),
            size: outcome.file.size,
            stored_size: outcome.file.stored_size,
            sha256: outcome.file.sha256.clone(),
        }],
        tool_version: outcome.tool_version,
        logical: None,
        physical: None,
    })
}

/// Logical backups know each table's checksum: put it in the manifest's table list.
fn with_checksums(
    mut dbs: Vec<catalog::DatabaseEntry>,
    layout: Option<&LogicalLayout>,
) -> Vec<catalog::DatabaseEntry> {
    let Some(layout) = layout else {
        return dbs;
    };
    for d in &mut dbs {
        for t in &mut d.tables {
            if let Some(lt) = layout
                .tables
                .iter()
                .find(|x| x.database == d.name && x.name == t.name)
            {
                t.checksum = Some(lt.checksum.clone());
            }
        }
    }
    dbs
}

/// Tables the dump wrote no INSERT for are empty: they belong in the manifest with 0 rows.
fn with_all_tables(
    rows: &BTreeMap<String, BTreeMap<String, u64>>,
    tables: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut all = rows.clone();
    for (db, names) in tables {
        let entry = all.entry(db.clone()).or_default();
        for t in names {
            entry.entry(t.clone()).or_insert(0);
        }
    }
    all
}

/// A backup id not used yet in this set (ids are seconds; wait for the next one if needed).
async fn fresh_id(repo: &Repository, set: &str) -> Result<String> {
    loop {
        let id = catalog::new_backup_id(chrono::Utc::now());
        if !repo.backend().exists(&Repository::backup_dir(set, &id))? {
            return Ok(id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The databases and excluded tables of a set, checked against the server. A snapshot copies
/// the whole server, so for those methods an empty selection is fine (`whole_server`).
async fn select(s: &mut Session, set: &SetConfig, whole_server: bool) -> Result<Selection> {
    let present = mysql::facts::user_databases(s).await?;
    let mut databases = match &set.databases {
        Some(wanted) => {
            let missing: Vec<_> = wanted
                .iter()
                .filter(|d| !present.contains(d))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(Error::Backup(format!(
                    "set '{}' lists databases that do not exist on {}: {}; fix `databases` in the configuration",
                    set.name,
                    set.connection.display(),
                    missing.join(", ")
                )));
            }
            wanted.clone()
        }
        None => present,
    };
    let selection = crate::selection::Selection {
        databases: None,
        exclude: set.exclude.clone(),
        tables: None,
    };
    databases.retain(|d| !selection.excludes_database(d));
    let mut ignore_tables = Vec::new();
    let mut tables = BTreeMap::new();
    for db in &databases {
        let mut kept = Vec::new();
        for t in mysql::facts::tables_of(s, db).await? {
            if selection.excludes_table(db, &t) {
                ignore_tables.push(format!("{db}.{t}"));
            } else {
                kept.push(t);
            }
        }
        tables.insert(db.clone(), kept);
    }
    if databases.is_empty() && !whole_server {
        return Err(Error::Backup(format!(
            "set '{}' has nothing to back up on {}: no application database (after `exclude`)",
            set.name,
            set.connection.display()
        )));
    }
    Ok(Selection {
        databases,
        ignore_tables,
        tables,
    })
}

/// Data size on the server, to give progress a total (the dump is roughly this size).
async fn estimate_bytes(s: &mut Session, dbs: &[String]) -> Option<u64> {
    let list = dbs
        .iter()
        .map(|d| mysql::conn::quote_str(d))
        .collect::<Vec<_>>()
        .join(",");
    s.value(&format!(
        "SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({list})"
    ))
    .await
    .ok()
    .flatten()
    .and_then(|v| v.parse::<f64>().ok())
    .map(|v| v as u64)
}

/// An incremental backup, if one can be taken; `None` when `--level auto` must fall back to a
/// full backup.
async fn incremental(
    ui: &dyn Reporter,
    config: &crate::config::ConfigFile,
    req: &BackupRequest,
) -> Result<Option<BackupReport>> {
    let set = &req.set;
    let auto = req.level == Level::Auto;
    let repo = Repository::open(config, true)?;
    let lock = repo.backend().lock_set(&set.name)?;
    let Some(parent) = incremental::latest(&repo, &set.name)? else {
        if auto {
            ui.note(&format!(
                "set '{}' has no backup yet: taking a full backup",
                set.name
            ));
            return Ok(None);
        }
        return Err(Error::Backup(format!(
            "set '{}' has no backup to build an incremental on: take a full backup first (--level 0)",
            set.name
        )));
    };
    let mut session = mysql::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    if !facts.log_bin {
        return Err(Error::Backup(format!(
            "binary logging is off on {}: incremental backups need it",
            set.connection.display()
        )));
    }
    let server_files = crate::binlog::archive::server_binlogs(&mut session).await?;
    if let Some(why) = incremental::unusable(&repo, &parent, &facts, &server_files)? {
        if auto {
            ui.note(&format!(
                "an incremental cannot follow: {why}; taking a full backup"
            ));
            drop(lock);
            return Ok(None);
        }
        return Err(Error::Backup(format!(
            "no incremental backup of set '{}' is possible: {why}; take a full backup (--level 0)",
            set.name
        )));
    }
    let start = incremental::end_point(&parent).expect("checked by unusable()");
    if req.dry_run {
        session.close().await;
        return Ok(Some(BackupReport::IncrementalPlanned(PlannedIncremental {
            dry_run: true,
            set: set.name.clone(),
            level: parent.level + 1,
            parent: parent.id.clone(),
            start,
        })));
    }
    let id = fresh_id(&repo, &set.name).await?;
    let start_time = chrono::Utc::now();
    let started = Instant::now();
    let note = |m: &str| ui.note(m);
    let range =
        incremental::flush_and_archive(config, &repo, set, &mut session, &facts, &start, &note)
            .await?;
    session.close().await;
    let last = range.last().expect("the range starts with the start file");
    let end = incremental::range_end(last);
    let files = incremental::range_files(&range);
    let manifest = Manifest {
        format_version: MANIFEST_VERSION,
        id: id.clone(),
        set: set.name.clone(),
        level: parent.level + 1,
        parent_id: Some(parent.id.clone()),
        method: parent.method,
        tool: ToolInfo {
            zrm: format!("zrm {}", env!("CARGO_PKG_VERSION")),
            dump_tool: None,
        },
        server: facts.server_info(&set.connection),
        start_time,
        end_time: chrono::Utc::now(),
        consistent_point: Some(end.clone()),
        read_lock_ms: None,
        databases: Vec::new(),
        files,
        compression: range.first().map_or(parent.compression, |i| i.compression),
        encryption_key_id: repo.info.encryption_key_id.clone(),
        status: BackupStatus::Complete,
        binlog_range: Some(crate::catalog::BinlogRange {
            start: start.clone(),
            end: end.clone(),
        }),
        comment: req.comment.clone(),
        selected_databases: parent.selected_databases.clone(),
        exclude: parent.exclude.clone(),
        logical: None,
        physical: None,
        replica: None,
        server_choice: set.server_choice.clone(),
    };
    let dir = Repository::backup_dir(&set.name, &id);
    repo.write_small(&format!("{dir}/{MANIFEST_FILE}"), &manifest.to_json())?;
    drop(lock);
    let secs = started.elapsed().as_secs_f64();
    // The range's own figures (its first file may start before it).
    let (trx, bytes) = tokio::task::block_in_place(|| {
        crate::restore::plan::range_figures(&repo, &set.name, &range, &start)
    })?;
    crate::logfile::result(format!(
        "backup {id} of set '{}': level {} incremental on {}, {trx} transactions",
        set.name, manifest.level, parent.id
    ));
    replicate_after(ui, config, &set.name, &id)?;
    Ok(Some(BackupReport::Incremental(IncrementalBackup {
        files: range.len(),
        start,
        end,
        backup: manifest,
        duration_s: secs,
        transactions: trx,
        binlog_bytes: bytes,
    })))
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupReport::Full(b) => {
                let m = &b.backup;
                let rows_total: u64 = m
                    .databases
                    .iter()
                    .flat_map(|d| d.tables.iter().filter_map(|t| t.rows))
                    .sum();
                let lock = match &m.logical {
                    Some(l) if l.snapshot.lock != "none" => format!(
                        "; commits blocked {} ms ({}, {} connections)",
                        l.snapshot.lock_hold_ms, l.snapshot.lock, l.snapshot.connections
                    ),
                    Some(l) => format!("; no lock ({} connection)", l.snapshot.connections),
                    None => match &m.physical {
                        Some(p) => format!(
                            "; commits blocked {} ms ({}, snapshot cut in {} ms)",
                            p.lock_hold_ms, p.lock, p.cut_ms
                        ),
                        None => String::new(),
                    },
                };
                writeln!(
                    f,
                    "backup {} of set '{}': full, {}, {} databases, {rows_total} rows, {} ({} stored) in {:.1}s{lock}\nconsistent point: {}",
                    m.id,
                    m.set,
                    m.method,
                    m.databases.len(),
                    human_bytes(m.total_size()),
                    human_bytes(m.total_stored_size()),
                    b.duration_s,
                    m.consistent_point
                        .as_ref()
                        .map_or("none (binary logging is off)".to_string(), |p| p.to_string()),
                )?;
                if let Some(r) = &m.replica {
                    let at = match (&r.source_binlog_file, r.source_binlog_pos) {
                        (Some(file), Some(pos)) => format!("{file}:{pos}"),
                        _ => "its GTID state".to_string(),
                    };
                    writeln!(
                        f,
                        "taken from a replica of {} (behind by {}{}): the source at {at}{}",
                        r.source,
                        r.seconds_behind
                            .map_or("an unknown time".to_string(), |s| format!("{s} s")),
                        if r.paused { ", SQL thread paused" } else { "" },
                        r.source_gtid_set
                            .as_deref()
                            .map(|g| format!(" ({g})"))
                            .unwrap_or_default()
                    )?;
                }
                Ok(())
            }
            BackupReport::Incremental(i) => writeln!(
                f,
                "backup {} of set '{}': level {} incremental on {}, {} binlog file(s), {} transactions, {} of binlog in {:.1}s\nrange: {} → {}",
                i.backup.id,
                i.backup.set,
                i.backup.level,
                i.backup.parent_id.as_deref().unwrap_or("?"),
                i.files,
                i.transactions,
                human_bytes(i.binlog_bytes),
                i.duration_s,
                i.start,
                i.end
            ),
            BackupReport::FullPlanned(p) => writeln!(
                f,
                "would take a full backup of set '{}' ({}, method {}):\n  databases: {}\n  excluded tables: {}\n  estimated data: {}\n  consistent point: {}",
                p.set,
                p.server,
                p.method,
                p.databases.join(", "),
                if p.excluded_tables.is_empty() {
                    "none".into()
                } else {
                    p.excluded_tables.join(", ")
                },
                p.estimated_bytes.map_or("unknown".into(), human_bytes),
                if p.consistent_point {
                    "recorded from inside the dump's snapshot"
                } else {
                    "none: binary logging is off"
                },
            ),
            BackupReport::IncrementalPlanned(p) => writeln!(
                f,
                "would take a level {} incremental backup of set '{}' on top of {}: the binary logs from {} to a FLUSH BINARY LOGS now",
                p.level, p.set, p.parent, p.start
            ),
        }
    }
}

/// A backup of a replica: what it records of the source, and the paused SQL thread to start
/// again.
struct FromReplica {
    record: crate::mysql::replica::ReplicaRecord,
    paused: Option<crate::mysql::replica::PausedReplica>,
}

/// When the set's server is a replica: refuse it if it is unfit (its SQL thread stopped on
/// an error, or lagging beyond `max_replica_lag`), or with `replica_pause` stop its SQL
/// thread for the backup and record the source's exact coordinates. Otherwise the source's
/// point is the GTID state at the backup's consistent point, which needs the replica's GTIDs
/// to hold the source's transactions.
async fn from_replica(
    ui: &dyn Reporter,
    set: &SetConfig,
    facts: &ServerFacts,
) -> Result<Option<FromReplica>> {
    use crate::mysql::replica::{self, PausedReplica, ReplicaRecord};
    let mut s = crate::mysql::connect(&set.connection).await?;
    let channels = replica::status(&mut s, facts.flavor).await?;
    let Some(r) = channels.first().cloned() else {
        s.close().await;
        return Ok(None);
    };
    if channels.len() > 1 {
        ui.note(&format!(
            "note: {} replicates from {} sources; the backup records the first ({})",
            s.server,
            channels.len(),
            r.source()
        ));
    }
    if set.replica_pause {
        let paused = PausedReplica::pause(&mut s, &set.connection, facts.flavor).await?;
        let now = replica::status(&mut s, facts.flavor)
            .await?
            .into_iter()
            .next()
            .unwrap_or(r.clone());
        let gtid_sql = match facts.flavor {
            Flavor::MySQL => "SELECT REPLACE(@@GLOBAL.gtid_executed, '\\n', '')",
            Flavor::MariaDB => "SELECT @@GLOBAL.gtid_slave_pos",
        };
        let gtid = s.value(gtid_sql).await?.filter(|g| !g.is_empty());
        s.close().await;
        ui.note(&format!(
            "note: the replica's SQL thread is stopped for the backup (replica_pause) at \
             {}:{} of its source {}",
            now.executed_file,
            now.executed_pos,
            now.source()
        ));
        return Ok(Some(FromReplica {
            record: ReplicaRecord {
                source: now.source(),
                source_binlog_file: Some(now.executed_file.clone()),
                source_binlog_pos: Some(now.executed_pos),
                source_gtid_set: gtid,
                seconds_behind: r.seconds_behind,
                paused: true,
            },
            paused: Some(paused),
        }));
    }
    let server = s.server.clone();
    let gtids_hold_source = match facts.flavor {
        Flavor::MySQL => facts.gtid_mode == "ON",
        Flavor::MariaDB => s
            .value("SELECT @@GLOBAL.log_slave_updates")
            .await?
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON")),
    };
    s.close().await;
    replica::check_health(&r, &server, set.max_replica_lag)?;
    if !gtids_hold_source {
        return Err(Error::Backup(format!(
            "{server} is a replica of {}, and its {} does not hold the source's transactions, \
             so the backup could not say where in the source's history it is; set \
             replica_pause = true for this set (the SQL thread is stopped for the backup and \
             the source's coordinates recorded), or enable {}",
            r.source(),
            match facts.flavor {
                Flavor::MySQL => "GTID state (gtid_mode is not ON)",
                Flavor::MariaDB => "binary log (log_slave_updates is OFF)",
            },
            match facts.flavor {
                Flavor::MySQL => "gtid_mode = ON",
                Flavor::MariaDB => "log_slave_updates",
            }
        )));
    }
    Ok(Some(FromReplica {
        record: ReplicaRecord {
            source: r.source(),
            source_binlog_file: None,
            source_binlog_pos: None,
            source_gtid_set: None,
            seconds_behind: r.seconds_behind,
            paused: false,
        },
        paused: None,
    }))
}
