//! The parallel load of a `logical` backup.
//!
//! Order: databases, tables (without their secondary indexes when deferring) and sequences;
//! the data chunks on N connections; the deferred indexes; then views, routines, triggers,
//! events and accounts, so that no trigger fires during the load and no view is created
//! before what it reads from.
//!
//! Each chunk loads in one transaction — `LOAD DATA LOCAL INFILE` fed from the repository
//! stream, or multi-row INSERTs when the target refuses LOCAL INFILE — and the same
//! transaction records the chunk in `zrm.restore_progress` on the target. A chunk is therefore
//! loaded and recorded, or neither: `--resume-load` skips exactly what is committed. The stored
//! bytes are hashed as they stream; a mismatch rolls the chunk back before anything commits.
//!
//! A table restore loads only the named tables (their schema and their chunks) into databases
//! created if missing; a database loaded under another name gets its tables and sequences
//! created in the new database. Neither restores views, routines, triggers or events: their
//! text names the source's database and tables, and running them would reach the live ones.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read;
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use tokio::sync::mpsc;

use super::ddl;
use super::schema::{self, Kind, Object};
use super::{Chunk, LogicalLayout, LogicalTable};
use crate::catalog::FileEntry;
use crate::config::{Compression, ConnectionConfig};
use crate::engine::stream::open_stored;
use crate::error::{Error, Result};
use crate::mysql::conn::{quote_ident, quote_str};
use crate::mysql::{self, Session};
use crate::progress::Progress;
use crate::repo::Repository;

const BLOCK: usize = 1024 * 1024;
/// Multi-row INSERTs of the fallback path stay under this size.
const INSERT_BYTES: usize = 1024 * 1024;
const PROGRESS_TABLE: &str = "`zrm`.`restore_progress`";
/// The sql_mode of data and table loads: keep 0 in AUTO_INCREMENT columns, refuse silent
/// truncation, accept the dates the source accepted.
const LOAD_SQL_MODE: &str = "NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,ALLOW_INVALID_DATES";
/// The INSERT fallback's: not strict, like LOAD DATA LOCAL; every warning is then checked.
const INSERT_SQL_MODE: &str = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES";

pub struct LoadJob<'a> {
    pub target: &'a ConnectionConfig,
    pub backup_id: &'a str,
    pub layout: &'a LogicalLayout,
    pub files: &'a [FileEntry],
    pub compression: Compression,
    pub backup_dir: String,
    /// The databases to restore (their names in the backup).
    pub databases: BTreeSet<String>,
    /// `Some`: only these tables `(db, table)` (a table restore): their schema and chunks;
    /// no view, routine, trigger or event.
    pub tables: Option<BTreeSet<(String, String)>>,
    /// Databases loaded under another name (`old` → `new`): their tables and sequences only.
    pub rename: BTreeMap<String, String>,
    /// Whether accounts and grants (if the backup has them) are restored.
    pub users: bool,
    pub parallel: usize,
    pub defer_indexes: bool,
    /// Keep `sql_log_bin` on, so the load replicates.
    pub log_bin: bool,
    /// Continue an interrupted load: skip what `zrm.restore_progress` records as done.
    pub resume: bool,
    /// A binlog replay follows: enabled events are created disabled (they would fire during
    /// the replay) and listed in the outcome, for the restore to enable afterwards.
    pub disable_events: bool,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LoadOutcome {
    pub bytes: u64,
    pub rows: u64,
    pub chunks_loaded: usize,
    pub chunks_skipped: usize,
    /// `load data` or `insert`.
    pub mode: String,
    pub deferred_index_tables: usize,
    pub notes: Vec<String>,
    /// Events created disabled (`db.name`, quoted) that were enabled in the backup.
    pub disabled_events: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    LoadData,
    Insert,
}

fn session_settings(log_bin: bool, names: &str) -> Vec<String> {
    let mut v = vec![
        format!("SET NAMES {names}"),
        "SET SESSION time_zone = '+00:00'".to_string(),
        format!("SET SESSION sql_mode = '{LOAD_SQL_MODE}'"),
        "SET SESSION foreign_key_checks = 0".into(),
        "SET SESSION unique_checks = 0".into(),
        "SET SESSION net_read_timeout = 3600".into(),
        "SET SESSION net_write_timeout = 3600".into(),
        "SET SESSION wait_timeout = 86400".into(),
        // Every warning of a chunk must be readable to tell harmless from damaging.
        "SET SESSION max_error_count = 65535".into(),
    ];
    if !log_bin {
        v.push("SET SESSION sql_log_bin = 0".into());
    }
    v
}

async fn open_session(target: &ConnectionConfig, log_bin: bool, names: &str) -> Result<Session> {
    let mut s = mysql::connect(target).await?;
    for q in session_settings(log_bin, names) {
        if let Err(e) = s.exec(&q).await {
            if q.contains("max_error_count") {
                // MySQL 9 lets only SESSION_VARIABLES_ADMIN raise it. The default (1024)
                // keeps most chunks' warnings; a chunk with more counts as changed (its
                // warnings cannot all be read), which fails safe.
                continue;
            }
            if q.contains("sql_log_bin") {
                return Err(Error::Restore(format!(
                    "{e}; the account needs the privilege to turn binary logging off for its \
                     session (SUPER or BINLOG ADMIN), or pass --log-bin to load with it on"
                )));
            }
            return Err(e);
        }
    }
    Ok(s)
}

fn mysql_err(s: &Session, q: &str, e: mysql_async::Error) -> Error {
    Error::Mysql {
        server: s.server.clone(),
        message: format!("query `{q}` failed: {e}"),
    }
}

struct Shared<'a> {
    repo: &'a Repository,
    job: &'a LoadJob<'a>,
    files: BTreeMap<&'a str, &'a FileEntry>,
    progress: &'a dyn Progress,
}

/// How far a load got, which decides how it can continue after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Creating databases and tables: nothing is recorded yet; restore again with --replace.
    Schema,
    /// Loading data, indexes, objects: `--resume-load` continues.
    Data,
}

pub struct LoadFailure {
    pub error: Error,
    pub phase: Phase,
}

pub async fn load(
    repo: &Repository,
    job: &LoadJob<'_>,
    progress: &dyn Progress,
) -> std::result::Result<LoadOutcome, LoadFailure> {
    let mut phase = if job.resume {
        Phase::Data
    } else {
        Phase::Schema
    };
    load_phases(repo, job, progress, &mut phase)
        .await
        .map_err(|error| LoadFailure { error, phase })
}

async fn load_phases(
    repo: &Repository,
    job: &LoadJob<'_>,
    progress: &dyn Progress,
    phase: &mut Phase,
) -> Result<LoadOutcome> {
    let shared = Shared {
        repo,
        job,
        files: job.files.iter().map(|f| (f.path.as_str(), f)).collect(),
        progress,
    };
    let mut outcome = LoadOutcome::default();
    let target_dbs: BTreeSet<String> = job
        .databases
        .iter()
        .map(|d| job.rename.get(d).unwrap_or(d).clone())
        .collect();
    let mut control = open_session(job.target, job.log_bin, "utf8mb4").await?;
    let done = progress_table(&mut control, job, &target_dbs).await?;
    let schema_files = tokio::task::block_in_place(|| read_schema(&shared))?;
    let (schema_files, left_out) = select_objects(schema_files, job);
    if left_out > 0 {
        outcome.notes.push(format!(
            "{left_out} view(s), routine(s), trigger(s) or event(s) not restored: {}",
            if job.tables.is_some() {
                "a table restore brings back tables only"
            } else {
                "their text names the source database, so a database restored under another \
                 name gets its tables only"
            }
        ));
    }
    let selected: Vec<LogicalTable> = job
        .layout
        .tables
        .iter()
        .filter(|t| job.wants_table(&t.database, &t.name))
        .map(|t| {
            let mut t = t.clone();
            if let Some(new) = job.rename.get(&t.database) {
                t.database = new.clone();
            }
            t
        })
        .collect();
    let tables: Vec<&LogicalTable> = selected.iter().collect();
    let job_dbs = &target_dbs;

    // Tables created without their secondary indexes, by (db, table): the ALTER clauses.
    let mut deferred: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let table_objects = objects_of(&schema_files, Kind::Tables, job_dbs);
    // A resumed load finds tables as the first run created them, perhaps without their
    // secondary indexes: it always plans the ALTERs (which skip the indexes that exist).
    let referenced = ddl::referenced_tables(table_objects.iter().map(|o| {
        (
            o.header.db.as_deref().unwrap_or_default(),
            o.statement.as_slice(),
        )
    }));
    if job.defer_indexes || job.resume {
        for o in &table_objects {
            let key = (
                o.header.db.clone().unwrap_or_default(),
                o.header.name.clone(),
            );
            if referenced.contains(&key) {
                continue; // a foreign key elsewhere needs this table's indexes at CREATE time
            }
            if let Some(d) = ddl::defer_indexes(&o.statement) {
                deferred.insert(key, d.add);
            }
        }
    }
    outcome.deferred_index_tables = deferred.len();

    // (A resumable load always has "schema": it is the first item recorded.)
    if !done.contains("schema") {
        for o in objects_of(&schema_files, Kind::Databases, job_dbs) {
            let stmt = String::from_utf8_lossy(&o.statement).replacen(
                "CREATE DATABASE ",
                "CREATE DATABASE IF NOT EXISTS ",
                1,
            );
            control.exec(&stmt).await?;
        }
        // Sequences first: a column may default to NEXTVAL(seq).
        for o in objects_of(&schema_files, Kind::Sequences, job_dbs) {
            run_object(&mut control, o).await?;
        }
        create_tables(&shared, &table_objects, &deferred).await?;
        mark_done(&mut control, job.backup_id, "schema").await?;
    }
    *phase = Phase::Data;

    // Data.
    let mode = choose_mode(&mut control, &mut outcome).await?;
    outcome.mode = match mode {
        Mode::LoadData => "load data".into(),
        Mode::Insert => "insert".into(),
    };
    let mut pending: Vec<(&LogicalTable, &Chunk)> = Vec::new();
    for t in &tables {
        let all_done = t.chunks.iter().all(|c| done.contains(&c.path));
        let transactional = super::transactional_engine(t.engine.as_deref());
        if job.resume && !transactional && !all_done {
            // A non-transactional chunk may be half in: start the table over.
            control
                .exec(&format!("TRUNCATE TABLE {}", t.qualified()))
                .await?;
            for c in &t.chunks {
                unmark(&mut control, job.backup_id, &c.path).await?;
                pending.push((t, c));
            }
            continue;
        }
        for c in &t.chunks {
            if done.contains(&c.path) {
                outcome.chunks_skipped += 1;
            } else {
                pending.push((t, c));
            }
        }
    }
    progress.set_total(Some(pending.iter().map(|(_, c)| c.bytes).sum()));
    // Round robin over the tables, biggest first: the first chunk of every table, then the
    // second… so N connections rarely load into one table at once (a first load into an empty
    // InnoDB table also takes its fast bulk path only while it is alone there).
    let table_bytes: BTreeMap<String, u64> = tables
        .iter()
        .map(|t| (t.qualified(), t.chunks.iter().map(|c| c.bytes).sum()))
        .collect();
    let mut nth: BTreeMap<String, usize> = BTreeMap::new();
    let mut ordered: Vec<(usize, std::cmp::Reverse<u64>, usize)> = Vec::new();
    for (i, (t, _)) in pending.iter().enumerate() {
        let q = t.qualified();
        let k = nth.entry(q.clone()).or_insert(0);
        ordered.push((*k, std::cmp::Reverse(table_bytes[&q]), i));
        *k += 1;
    }
    ordered.sort();
    let pending: Vec<(&LogicalTable, &Chunk)> =
        ordered.into_iter().map(|(_, _, i)| pending[i]).collect();
    let json = json_columns(&mut control, &tables).await?;
    let (bytes, rows, n) = load_chunks(&shared, pending, mode, &json).await?;
    outcome.bytes += bytes;
    outcome.rows += rows;
    outcome.chunks_loaded += n;

    // Deferred indexes, one ALTER per table, N tables at a time.
    let alters: Vec<(&LogicalTable, &Vec<String>)> = tables
        .iter()
        .filter_map(|t| {
            deferred
                .get(&(t.database.clone(), t.name.clone()))
                .map(|a| (*t, a))
        })
        .filter(|(t, _)| !done.contains(&index_item(t)))
        .collect();
    add_indexes(&shared, alters).await?;

    if !done.contains("objects") {
        for kind in [Kind::Views, Kind::Routines, Kind::Triggers, Kind::Events] {
            let objs = objects_of(&schema_files, kind, job_dbs);
            if kind == Kind::Views {
                create_views(&mut control, &objs, job.resume).await?;
                continue;
            }
            for o in objs {
                if job.resume {
                    drop_object(&mut control, o).await?;
                }
                if kind == Kind::Events && job.disable_events {
                    if let Some(disabled) = disabled_event(o) {
                        run_object(&mut control, &disabled).await?;
                        outcome.disabled_events.push(format!(
                            "{}.{}",
                            quote_ident(o.header.db.as_deref().unwrap_or_default()),
                            quote_ident(&o.header.name)
                        ));
                        continue;
                    }
                }
                run_object(&mut control, o).await?;
            }
        }
        if job.users {
            for o in objects_of(&schema_files, Kind::Users, job_dbs) {
                let stmt = String::from_utf8_lossy(&o.statement).into_owned();
                let stmt = match o.header.object.as_str() {
                    "user" => stmt.replacen("CREATE USER ", "CREATE USER IF NOT EXISTS ", 1),
                    "role" => stmt.replacen("CREATE ROLE ", "CREATE ROLE IF NOT EXISTS ", 1),
                    _ => stmt,
                };
                control.exec(&stmt).await?;
            }
        }
        mark_done(&mut control, job.backup_id, "objects").await?;
    }
    finish_progress(&mut control, job.backup_id).await?;
    control.close().await;
    Ok(outcome)
}

/// An enabled event's definition made to create it disabled: `SHOW CREATE EVENT` writes the
/// status right after `ON COMPLETION [NOT] PRESERVE`, before the body. `None` when the event
/// is not enabled (or the text is not in that form: then it is created as it was).
fn disabled_event(o: &Object) -> Option<Object> {
    let text = std::str::from_utf8(&o.statement).ok()?;
    let at = ["PRESERVE ENABLE", "PRESERVE\nENABLE"]
        .iter()
        .filter_map(|p| text.find(p))
        .min()?;
    let body = text.find(" DO ").unwrap_or(text.len());
    if at > body {
        return None;
    }
    let enable = at + text[at..].find("ENABLE")?;
    let mut d = o.clone();
    let mut stmt = String::with_capacity(text.len() + 1);
    stmt.push_str(&text[..enable]);
    stmt.push_str("DISABLE");
    stmt.push_str(&text[enable + "ENABLE".len()..]);
    d.statement = stmt.into_bytes();
    Some(d)
}

fn object_key(o: &Object) -> String {
    format!("{}.{}", o.header.db.as_deref().unwrap_or(""), o.header.name)
}

fn index_item(t: &LogicalTable) -> String {
    format!("index:{}", t.qualified())
}

/// The objects of one kind that belong to the restored databases (their names on the target).
fn objects_of<'a>(
    files: &'a [(Kind, Vec<Object>)],
    kind: Kind,
    dbs: &BTreeSet<String>,
) -> Vec<&'a Object> {
    files
        .iter()
        .filter(|(k, _)| *k == kind)
        .flat_map(|(_, objs)| objs.iter())
        .filter(|o| o.header.db.as_ref().is_none_or(|d| dbs.contains(d)))
        .collect()
}

impl LoadJob<'_> {
    /// Whether table (or sequence) `db.name` of the backup is loaded.
    fn wants_table(&self, db: &str, name: &str) -> bool {
        self.databases.contains(db)
            && self
                .tables
                .as_ref()
                .is_none_or(|t| t.contains(&(db.to_string(), name.to_string())))
    }
}

/// The schema objects a table restore or a renamed database loads, named as on the target;
/// and how many views, routines, triggers and events it leaves out.
fn select_objects(
    files: Vec<(Kind, Vec<Object>)>,
    job: &LoadJob,
) -> (Vec<(Kind, Vec<Object>)>, usize) {
    if job.tables.is_none() && job.rename.is_empty() {
        return (files, 0);
    }
    let mut left_out = 0;
    let mut out = Vec::new();
    for (kind, objs) in files {
        let mut kept = Vec::new();
        for mut o in objs {
            let Some(db) = o.header.db.clone() else {
                kept.push(o); // accounts: `users` decides
                continue;
            };
            if !job.databases.contains(&db) {
                continue;
            }
            let new = job.rename.get(&db);
            match kind {
                Kind::Databases => {
                    if let Some(new) = new {
                        o.statement = rename_create_database(&o.statement, new);
                        o.header.name = new.clone();
                    }
                }
                Kind::Tables | Kind::Sequences => {
                    if !job.wants_table(&db, &o.header.name) {
                        continue;
                    }
                    if let Some(new) = new {
                        if o.header.object == "setval" {
                            let from = format!("SETVAL({}.", quote_ident(&db));
                            let to = format!("SETVAL({}.", quote_ident(new));
                            o.statement = String::from_utf8_lossy(&o.statement)
                                .replacen(&from, &to, 1)
                                .into_bytes();
                        }
                    }
                }
                _ => {
                    if job.tables.is_some() || new.is_some() {
                        left_out += 1;
                        continue;
                    }
                }
            }
            if let Some(new) = new {
                o.header.db = Some(new.clone());
            }
            kept.push(o);
        }
        out.push((kind, kept));
    }
    (out, left_out)
}

/// `CREATE DATABASE `old` /*!40100 …*/` as `CREATE DATABASE `new` /*!40100 …*/`.
fn rename_create_database(stmt: &[u8], new: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(stmt);
    let options = text.strip_prefix("CREATE DATABASE ").and_then(|rest| {
        let rest = rest.strip_prefix('`')?;
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if chars.peek().is_some_and(|(_, n)| *n == '`') {
                    chars.next();
                    continue;
                }
                return Some(rest[i + 1..].to_string());
            }
        }
        None
    });
    format!(
        "CREATE DATABASE {}{}",
        quote_ident(new),
        options.unwrap_or_default()
    )
    .into_bytes()
}

fn read_schema(sh: &Shared) -> Result<Vec<(Kind, Vec<Object>)>> {
    let mut out = Vec::new();
    for f in &sh.job.layout.schema_files {
        let bytes = read_verified(sh, &f.path)?;
        out.push((f.kind, schema::decode(&bytes, &f.path)?));
    }
    Ok(out)
}

/// A whole (small) file of the backup, its size and hash checked.
fn read_verified(sh: &Shared, rel: &str) -> Result<Vec<u8>> {
    let entry = sh.files.get(rel).ok_or_else(|| {
        Error::Restore(format!(
            "the manifest lists no file {rel} of backup {}",
            sh.job.backup_id
        ))
    })?;
    let full = format!("{}/{rel}", sh.job.backup_dir);
    let raw = sh.repo.backend().open(&full)?;
    let (mut r, digest) = open_stored(raw, sh.job.compression)?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .map_err(|e| damaged(&full, &e.to_string()))?;
    check_digest(&full, entry, &digest)?;
    Ok(out)
}

fn damaged(rel: &str, why: &str) -> Error {
    Error::Restore(format!(
        "backup file {rel} is damaged ({why}); nothing of it was committed; restore another \
         backup, or repair the repository copy"
    ))
}

fn check_digest(
    rel: &str,
    entry: &FileEntry,
    digest: &crate::engine::stream::StoredDigest,
) -> Result<()> {
    let got = digest.lock().expect("not poisoned").clone();
    match got {
        Some((size, sha)) if size == entry.stored_size && sha == entry.sha256 => Ok(()),
        Some((size, sha)) => Err(damaged(
            rel,
            &format!(
                "{size} bytes with SHA-256 {sha}, the manifest says {} bytes with {}",
                entry.stored_size, entry.sha256
            ),
        )),
        None => Err(damaged(rel, "it was not read to its end")),
    }
}

async fn progress_table(
    s: &mut Session,
    job: &LoadJob<'_>,
    target_dbs: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let nothing_to_resume = || {
        Error::Usage(format!(
            "--resume-load: the target has no record of an interrupted load of backup {} \
             (zrm.restore_progress holds nothing for it); restore without --resume-load",
            job.backup_id
        ))
    };
    if job.resume {
        let exists = s
            .value(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = 'zrm' AND TABLE_NAME = 'restore_progress'",
            )
            .await?;
        if exists.as_deref() != Some("1") {
            return Err(nothing_to_resume());
        }
    }
    if !job.resume {
        // This load takes its databases over: an interrupted load of another backup into them
        // can no longer be resumed.
        forget_loads_into(s, target_dbs).await?;
    }
    s.exec("CREATE DATABASE IF NOT EXISTS `zrm`").await?;
    s.exec(&format!(
        "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (\
           backup_id VARCHAR(64) CHARACTER SET ascii NOT NULL, \
           item VARBINARY(1024) NOT NULL, \
           done_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
           PRIMARY KEY (backup_id, item)) ENGINE=InnoDB \
           COMMENT='zrm: what an interrupted restore already loaded; dropped when it completes'"
    ))
    .await?;
    let id = quote_str(job.backup_id);
    if !job.resume {
        // Each database is claimed by a row of its own.
        s.exec(&format!(
            "DELETE FROM {PROGRESS_TABLE} WHERE backup_id = {id}"
        ))
        .await?;
        for db in target_dbs {
            mark_done(s, job.backup_id, &database_item(db)).await?;
        }
        return Ok(BTreeSet::new());
    }
    let rows = s
        .rows(&format!(
            "SELECT item FROM {PROGRESS_TABLE} WHERE backup_id = {id}"
        ))
        .await?;
    let mut done: BTreeSet<String> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
    // The interrupted load must still own every database it resumes: after another restore
    // into one of them, skipping "done" chunks would leave that backup's rows half replaced.
    let lost: Vec<&String> = target_dbs
        .iter()
        .filter(|db| !done.contains(&database_item(db)))
        .collect();
    done.retain(|i| !i.starts_with(DATABASE_ITEM));
    if done.is_empty() {
        finish_progress(s, job.backup_id).await?;
        return Err(nothing_to_resume());
    }
    if !lost.is_empty() {
        return Err(Error::Usage(format!(
            "--resume-load: the interrupted load of backup {} no longer owns {} on the target \
             (another restore replaced it since, or it was not part of that load); resuming \
             would mix two backups. Restore backup {} again with --replace",
            job.backup_id,
            lost.iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            job.backup_id
        )));
    }
    Ok(done)
}

/// Whether the target holds an interrupted load of `backup_id` (chunks or schema recorded), so
/// that `--resume-load` can continue it.
pub async fn interrupted_load_of(s: &mut Session, backup_id: &str) -> Result<bool> {
    let exists = s
        .value(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'zrm' AND TABLE_NAME = 'restore_progress'",
        )
        .await?;
    if exists.as_deref() != Some("1") {
        return Ok(false);
    }
    let n = s
        .value(&format!(
            "SELECT COUNT(*) FROM {PROGRESS_TABLE} WHERE backup_id = {} AND item NOT LIKE 'database:%'",
            quote_str(backup_id)
        ))
        .await?;
    Ok(n.is_some_and(|n| n != "0"))
}

/// Progress rows that claim a database for the load of one backup.
const DATABASE_ITEM: &str = "database:";

fn database_item(db: &str) -> String {
    format!("{DATABASE_ITEM}{db}")
}

/// Another restore (of any method) is about to replace `databases` on the target: forget every
/// interrupted logical load that had claimed one of them, so it cannot be resumed on top.
pub async fn forget_loads_into(s: &mut Session, databases: &BTreeSet<String>) -> Result<()> {
    let exists = s
        .value(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'zrm' AND TABLE_NAME = 'restore_progress'",
        )
        .await?;
    if exists.as_deref() != Some("1") {
        return Ok(());
    }
    let mut owners = BTreeSet::new();
    for db in databases {
        for r in s
            .rows(&format!(
                "SELECT backup_id FROM {PROGRESS_TABLE} WHERE item = {}",
                quote_str(&database_item(db))
            ))
            .await?
        {
            owners.extend(r.into_iter().flatten());
        }
    }
    for owner in owners {
        finish_progress(s, &owner).await?;
    }
    Ok(())
}

async fn mark_done(s: &mut Session, id: &str, item: &str) -> Result<()> {
    s.exec(&format!(
        "REPLACE INTO {PROGRESS_TABLE} (backup_id, item) VALUES ({}, {})",
        quote_str(id),
        quote_str(item)
    ))
    .await
}

async fn unmark(s: &mut Session, id: &str, item: &str) -> Result<()> {
    s.exec(&format!(
        "DELETE FROM {PROGRESS_TABLE} WHERE backup_id = {} AND item = {}",
        quote_str(id),
        quote_str(item)
    ))
    .await
}

/// The load is complete: forget it, and leave no trace of zrm on the target.
async fn finish_progress(s: &mut Session, id: &str) -> Result<()> {
    s.exec(&format!(
        "DELETE FROM {PROGRESS_TABLE} WHERE backup_id = {}",
        quote_str(id)
    ))
    .await?;
    let left = s
        .value(&format!("SELECT COUNT(*) FROM {PROGRESS_TABLE}"))
        .await?;
    if left.as_deref() == Some("0") {
        s.exec(&format!("DROP TABLE {PROGRESS_TABLE}")).await?;
        let others = s
            .value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'zrm'")
            .await?;
        if others.as_deref() == Some("0") {
            s.exec("DROP DATABASE `zrm`").await?;
        }
    }
    Ok(())
}

async fn choose_mode(s: &mut Session, outcome: &mut LoadOutcome) -> Result<Mode> {
    let on = s.value("SELECT @@GLOBAL.local_infile").await?;
    if matches!(on.as_deref(), Some("1") | Some("ON")) {
        return Ok(Mode::LoadData);
    }
    outcome.notes.push(format!(
        "{} has local_infile = OFF: loading with multi-row INSERTs (slower; `SET GLOBAL \
         local_infile = ON` lets zrm use LOAD DATA LOCAL INFILE)",
        s.server
    ));
    Ok(Mode::Insert)
}

/// Run one schema object in the session settings it was created under.
async fn run_object(s: &mut Session, o: &Object) -> Result<()> {
    let h = &o.header;
    let mut restore = Vec::new();
    if let Some(db) = &h.db {
        s.exec(&format!("USE {}", quote_ident(db))).await?;
    }
    // Each setting the object was created under, and how to put the load's back afterwards.
    let settings = [
        (
            &h.sql_mode,
            "sql_mode",
            format!("SET SESSION sql_mode = '{LOAD_SQL_MODE}'"),
        ),
        (
            &h.time_zone,
            "time_zone",
            "SET SESSION time_zone = '+00:00'".into(),
        ),
        (
            &h.charset_client,
            "character_set_client",
            "SET NAMES utf8mb4".into(),
        ),
        (
            &h.collation_connection,
            "collation_connection",
            "SET NAMES utf8mb4".into(),
        ),
    ];
    for (value, variable, reset) in settings {
        if let Some(v) = value {
            s.exec(&format!("SET SESSION {variable} = {}", quote_str(v)))
                .await?;
            if !restore.contains(&reset) {
                restore.push(reset);
            }
        }
    }
    let r = s.conn.query_drop(o.statement.as_slice()).await;
    for q in restore {
        s.exec(&q).await?;
    }
    r.map_err(|e| {
        Error::Restore(format!(
            "creating {} {} on {} failed: {e}",
            h.object,
            object_key(o),
            s.server
        ))
    })
}

async fn drop_object(s: &mut Session, o: &Object) -> Result<()> {
    let kind = match o.header.object.as_str() {
        k @ ("view" | "procedure" | "function" | "trigger" | "event") => k.to_uppercase(),
        _ => return Ok(()),
    };
    let db = o.header.db.as_deref().unwrap_or_default();
    s.exec(&format!(
        "DROP {kind} IF EXISTS {}.{}",
        quote_ident(db),
        quote_ident(&o.header.name)
    ))
    .await
}

/// Views in their recorded order; any that still fails for a missing table is tried again
/// after the others, until a round makes no progress.
async fn create_views(s: &mut Session, views: &[&Object], resume: bool) -> Result<()> {
    let mut pending: Vec<&Object> = views.to_vec();
    loop {
        let mut failed = Vec::new();
        let mut last_err = None;
        for o in &pending {
            if resume {
                drop_object(s, o).await?;
            }
            if let Err(e) = run_object(s, o).await {
                failed.push(*o);
                last_err = Some(e);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == pending.len() {
            return Err(last_err.expect("a failure was recorded"));
        }
        pending = failed;
    }
}

async fn create_tables(
    sh: &Shared<'_>,
    tables: &[&Object],
    deferred: &BTreeMap<(String, String), Vec<String>>,
) -> Result<()> {
    // Creating a table with a foreign key takes metadata locks on its parents (MySQL 8+), so
    // tables of one foreign-key web created in parallel deadlock ("ERROR 1213 … Deadlock found"
    // restoring Sakila): those are created one after the other on the first connection, the
    // rest in parallel.
    let referenced = ddl::referenced_tables(tables.iter().map(|o| {
        (
            o.header.db.as_deref().unwrap_or_default(),
            o.statement.as_slice(),
        )
    }));
    let in_web = |o: &Object| {
        referenced.contains(&(
            o.header.db.clone().unwrap_or_default(),
            o.header.name.clone(),
        )) || memchr::memmem::find(&o.statement, b" REFERENCES ").is_some()
    };
    let (web, free): (Vec<&Object>, Vec<&Object>) = tables.iter().copied().partition(|o| in_web(o));
    let web: Mutex<VecDeque<&Object>> = Mutex::new(web.into());
    let queue: Mutex<VecDeque<&Object>> = Mutex::new(free.into());
    let workers = sh.job.parallel.clamp(1, tables.len().max(1));
    let (web, queue) = (&web, &queue);
    let run = |worker: usize| async move {
        let mut s = open_session(sh.job.target, sh.job.log_bin, "utf8mb4").await?;
        loop {
            let next = if worker == 0 {
                let w = web.lock().expect("not poisoned").pop_front();
                w.or_else(|| queue.lock().expect("not poisoned").pop_front())
            } else {
                queue.lock().expect("not poisoned").pop_front()
            };
            let Some(o) = next else {
                break;
            };
            let mut o = o.clone();
            let key = (
                o.header.db.clone().unwrap_or_default(),
                o.header.name.clone(),
            );
            if deferred.contains_key(&key) {
                if let Some(d) = ddl::defer_indexes(&o.statement) {
                    o.statement = d.create;
                }
            }
            run_object(&mut s, &o).await?;
        }
        s.close().await;
        Ok::<(), Error>(())
    };
    let results = futures_util::future::join_all((0..workers).map(run)).await;
    results.into_iter().collect()
}

async fn add_indexes(sh: &Shared<'_>, alters: Vec<(&LogicalTable, &Vec<String>)>) -> Result<()> {
    if alters.is_empty() {
        return Ok(());
    }
    let workers = sh.job.parallel.clamp(1, alters.len());
    let queue = Mutex::new(VecDeque::from(alters));
    let run = |_: usize| async {
        let mut s = open_session(sh.job.target, sh.job.log_bin, "utf8mb4").await?;
        loop {
            let Some((t, adds)) = queue.lock().expect("not poisoned").pop_front() else {
                break;
            };
            // A resumed load may find some indexes built already.
            let existing: BTreeSet<String> = s
                .rows(&format!(
                    "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
                     WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                    quote_str(&t.database),
                    quote_str(&t.name)
                ))
                .await?
                .into_iter()
                .filter_map(|r| r[0].clone())
                .collect();
            let todo: Vec<&String> = adds
                .iter()
                .filter(|a| {
                    a.split('`')
                        .nth(1)
                        .is_none_or(|name| !existing.contains(name))
                })
                .collect();
            if !todo.is_empty() {
                let q = format!(
                    "ALTER TABLE {} {}",
                    t.qualified(),
                    todo.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                s.exec(&q).await.map_err(|e| {
                    Error::Restore(format!(
                        "building the secondary indexes of {} failed: {e}; the data is loaded; \
                         fix the cause and run the restore again with --resume-load",
                        t.qualified()
                    ))
                })?;
            }
            mark_done(&mut s, sh.job.backup_id, &index_item(t)).await?;
        }
        s.close().await;
        Ok::<(), Error>(())
    };
    let results = futures_util::future::join_all((0..workers).map(run)).await;
    results.into_iter().collect()
}

/// The JSON columns of MySQL tables on the target, by qualified table name. MySQL refuses
/// bytes in CHARACTER SET binary for a JSON column ("Cannot create a JSON value from a string
/// with CHARACTER SET 'binary'"): their values (the JSON text the dump read) go in as utf8mb4.
/// MariaDB's JSON is a LONGTEXT and never listed.
async fn json_columns(
    s: &mut Session,
    tables: &[&LogicalTable],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let dbs: BTreeSet<&str> = tables.iter().map(|t| t.database.as_str()).collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if dbs.is_empty() {
        return Ok(out);
    }
    let rows = s
        .rows(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE DATA_TYPE = 'json' AND TABLE_SCHEMA IN ({})",
            dbs.iter()
                .map(|d| quote_str(d))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await?;
    for r in rows {
        let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        let qualified = format!("{}.{}", quote_ident(&f(0)), quote_ident(&f(1)));
        out.entry(qualified).or_default().insert(f(2));
    }
    Ok(out)
}

/// Load the chunks on N connections; returns (bytes, rows, chunks).
async fn load_chunks(
    sh: &Shared<'_>,
    pending: Vec<(&LogicalTable, &Chunk)>,
    mode: Mode,
    json: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(u64, u64, usize)> {
    if pending.is_empty() {
        return Ok((0, 0, 0));
    }
    let workers = sh.job.parallel.clamp(1, pending.len());
    let queue = Mutex::new(VecDeque::from(pending));
    let failed = std::sync::atomic::AtomicBool::new(false);
    let run = |_: usize| async {
        let mut s = open_session(sh.job.target, sh.job.log_bin, "binary").await?;
        if mode == Mode::Insert {
            // As LOAD DATA LOCAL does: a doubtful value is a warning, which the chunk check
            // then judges (strict mode would refuse '' into an ENUM, which a lax source holds).
            s.exec(&format!("SET SESSION sql_mode = '{INSERT_SQL_MODE}'"))
                .await?;
        }
        let mut totals = (0u64, 0u64, 0usize);
        loop {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let Some((t, c)) = queue.lock().expect("not poisoned").pop_front() else {
                break;
            };
            let no_json = BTreeSet::new();
            let json_cols = json.get(&t.qualified()).unwrap_or(&no_json);
            let loaded = load_chunk(sh, &mut s, t, c, mode, json_cols)
                .await
                .map_err(|e| match e {
                    Error::Mysql { server, message } => Error::Mysql {
                        server,
                        message: format!("loading {}: {message}", c.path),
                    },
                    e => e,
                });
            match loaded {
                Ok(bytes) => {
                    totals.0 += bytes;
                    totals.1 += c.rows;
                    totals.2 += 1;
                }
                Err(e) => {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        s.close().await;
        Ok(totals)
    };
    let results = futures_util::future::join_all((0..workers).map(run)).await;
    let mut sum = (0, 0, 0);
    let mut first_err = None;
    for r in results {
        match r {
            Ok((b, r, n)) => {
                sum.0 += b;
                sum.1 += r;
                sum.2 += n;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}

/// LOAD DATA LOCAL cannot abort on bad data (LOCAL implies IGNORE: values are truncated and
/// duplicate keys skipped, each with only a warning). A chunk counts as loaded only if every
/// row went in, unchanged.
async fn check_applied(s: &mut Session, t: &LogicalTable, c: &Chunk, applied: u64) -> Result<()> {
    let harmful = harmful_warnings(s, t).await;
    if harmful.is_none() && applied == c.rows {
        return Ok(());
    }
    Err(Error::Restore(format!(
        "loading {} into {} changed the data: {applied} of {} rows went in{}; the chunk was \
         rolled back. Does the table on the target differ from the backup's?",
        c.path,
        t.qualified(),
        c.rows,
        harmful
            .map(|w| format!(", with warnings: {w}"))
            .unwrap_or_default()
    )))
}

/// The warnings of the last statement that may mean a changed value, or `None`. The one that
/// changes nothing is '' into an ENUM (a lax source stores a non-member as '', and loading ''
/// stores the same, with a warning).
async fn harmful_warnings(s: &mut Session, t: &LogicalTable) -> Option<String> {
    let count = usize::from(s.conn.get_warnings());
    if count == 0 {
        return None;
    }
    let list = s.rows("SHOW WARNINGS").await.unwrap_or_default();
    let harmless = |r: &Vec<Option<String>>| {
        r.get(1).and_then(|c| c.as_deref()) == Some("1265")
            && r.get(2).and_then(|m| m.as_deref()).is_some_and(|m| {
                t.enum_columns
                    .iter()
                    .any(|e| m.starts_with(&format!("Data truncated for column '{e}' at row")))
            })
    };
    if list.len() == count && list.iter().all(harmless) {
        return None;
    }
    let shown: Vec<String> = list
        .iter()
        .filter(|r| !harmless(r))
        .take(3)
        .map(|r| r.iter().flatten().cloned().collect::<Vec<_>>().join(" "))
        .collect();
    Some(if shown.is_empty() {
        format!("{count} warning(s)")
    } else {
        format!("{count} warning(s), e.g. {}", shown.join("; "))
    })
}

/// The LOAD DATA statement of a table; the `json` columns are read into variables and set
/// from them as utf8mb4 (see [`json_columns`]).
fn load_data_sql(t: &LogicalTable, json: &BTreeSet<String>) -> String {
    let mut sets = Vec::new();
    let columns: Vec<String> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if json.contains(c) {
                sets.push(format!(
                    "{} = CONVERT(@zrm_j{i} USING utf8mb4)",
                    quote_ident(c)
                ));
                format!("@zrm_j{i}")
            } else {
                quote_ident(c)
            }
        })
        .collect();
    let mut q = format!(
        "LOAD DATA LOCAL INFILE 'zrm-chunk' INTO TABLE {} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        t.qualified(),
        columns.join(", ")
    );
    if !sets.is_empty() {
        q.push_str(" SET ");
        q.push_str(&sets.join(", "));
    }
    q
}

/// What the reader thread sends: raw chunk bytes (LOAD DATA) or whole statements (INSERT).
type Feed = std::io::Result<Bytes>;

async fn load_chunk(
    sh: &Shared<'_>,
    s: &mut Session,
    t: &LogicalTable,
    c: &Chunk,
    mode: Mode,
    json: &BTreeSet<String>,
) -> Result<u64> {
    let entry = *sh.files.get(c.path.as_str()).ok_or_else(|| {
        Error::Restore(format!(
            "the manifest of backup {} lists no file {}",
            sh.job.backup_id, c.path
        ))
    })?;
    let rel = format!("{}/{}", sh.job.backup_dir, c.path);
    let transactional = super::transactional_engine(t.engine.as_deref());
    if !transactional {
        // Rows of a MyISAM/Aria table cannot be rolled back: check the whole file before the
        // first row goes in.
        tokio::task::block_in_place(|| {
            crate::engine::mysqldump::verify_file(sh.repo, &rel, entry.stored_size, &entry.sha256)
        })?;
    }
    let raw = sh.repo.backend().open(&rel)?;
    let (tx, mut rx) = mpsc::channel::<Feed>(4);
    let compression = sh.job.compression;
    let insert_prefix = (mode == Mode::Insert).then(|| {
        let prefix = format!(
            "INSERT INTO {} ({}) VALUES ",
            t.qualified(),
            t.columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let json_flags: Vec<bool> = t.columns.iter().map(|c| json.contains(c)).collect();
        (prefix, json_flags)
    });
    let entry_owned = entry.clone();
    let rel_owned = rel.clone();
    let reader = tokio::task::spawn_blocking(move || {
        feed(
            raw,
            compression,
            &rel_owned,
            &entry_owned,
            insert_prefix,
            tx,
        )
    });

    s.exec("START TRANSACTION").await?;
    let loaded: Result<()> = match mode {
        Mode::LoadData => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed();
            let cell = std::sync::Mutex::new(Some(stream));
            s.conn.set_infile_handler(async move {
                Ok(cell
                    .lock()
                    .expect("not poisoned")
                    .take()
                    .expect("the handler runs once"))
            });
            let q = load_data_sql(t, json);
            let r = s.conn.query_drop(q.as_str()).await;
            // A statement that failed before the server asked for the file leaves the handler
            // (and with it the reader's channel) in the connection: drop it, or the reader
            // thread would wait for ever on a full channel.
            s.conn
                .set_infile_handler(async { Ok(futures_util::stream::empty().boxed()) });
            match r {
                Ok(()) => check_applied(s, t, c, s.conn.affected_rows()).await,
                Err(e) => Err(mysql_err(s, &q, e)),
            }
        }
        Mode::Insert => {
            let mut r = Ok(());
            let mut applied = 0u64;
            while let Some(item) = rx.recv().await {
                let stmt = match item {
                    Ok(b) => b,
                    Err(e) => {
                        r = Err(damaged(&rel, &e.to_string()));
                        break;
                    }
                };
                if let Err(e) = s.conn.query_drop(stmt.as_ref()).await {
                    r = Err(mysql_err(s, &format!("INSERT INTO {} …", t.qualified()), e));
                    break;
                }
                applied += s.conn.affected_rows();
                if let Some(w) = harmful_warnings(s, t).await {
                    r = Err(Error::Restore(format!(
                        "loading {} into {} changed the data ({w}); the chunk was rolled back. \
                         Does the table on the target differ from the backup's?",
                        c.path,
                        t.qualified()
                    )));
                    break;
                }
            }
            drop(rx);
            match r {
                Ok(()) => check_applied(s, t, c, applied).await,
                e => e,
            }
        }
    };
    let read = reader
        .await
        .map_err(|e| Error::Restore(format!("reading {rel} failed: {e}")))?;
    let outcome = match (loaded, read) {
        (_, Err(e)) => Err(e),
        (Err(e), Ok(_)) => Err(e),
        (Ok(()), Ok(bytes)) => Ok(bytes),
    };
    match outcome {
        Ok(bytes) => {
            s.exec(&format!(
                "INSERT INTO {PROGRESS_TABLE} (backup_id, item) VALUES ({}, {})",
                quote_str(sh.job.backup_id),
                quote_str(&c.path)
            ))
            .await?;
            s.exec("COMMIT").await?;
            sh.progress.advance(bytes);
            Ok(bytes)
        }
        Err(e) => {
            let _ = s.conn.query_drop("ROLLBACK").await;
            if transactional {
                return Err(e);
            }
            Err(Error::Restore(format!(
                "{e}; {} has no transactions ({}), so part of this chunk may be in it; \
                 --resume-load empties that table and loads it again",
                t.qualified(),
                t.engine.as_deref().unwrap_or("?")
            )))
        }
    }
}

/// The reader thread of one chunk: decompress and hash the stored file, send raw blocks (LOAD
/// DATA) or INSERT statements; the hash is checked before the last block goes out, so a
/// damaged file fails the statement instead of completing it.
fn feed(
    raw: Box<dyn Read + Send>,
    compression: Compression,
    rel: &str,
    entry: &FileEntry,
    insert_prefix: Option<(String, Vec<bool>)>,
    tx: mpsc::Sender<Feed>,
) -> Result<u64> {
    let (mut r, digest) = open_stored(raw, compression)?;
    let mut total = 0u64;
    let mut inserts = insert_prefix.map(|(p, json)| InsertBuilder::new(p.into_bytes(), json));
    let mut held: Option<Vec<u8>> = None;
    loop {
        let mut block = vec![0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK {
            match r.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return Err(damaged(rel, &e.to_string()));
                }
            }
        }
        block.truncate(filled);
        total += filled as u64;
        let end = filled == 0;
        if end {
            // Verify before the last block is released.
            if let Err(e) = check_digest(rel, entry, &digest) {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return Err(e);
            }
        }
        match &mut inserts {
            None => {
                if let Some(prev) = held.take() {
                    if tx.blocking_send(Ok(Bytes::from(prev))).is_err() {
                        return Ok(total); // the statement failed; its error is reported
                    }
                }
                if !end {
                    held = Some(block);
                }
            }
            Some(b) => {
                let mut out = Vec::new();
                b.push(&block, end, &mut out);
                // Held back one statement, for the same reason as the raw blocks.
                for stmt in out {
                    if let Some(prev) = held.replace(stmt) {
                        if tx.blocking_send(Ok(Bytes::from(prev))).is_err() {
                            return Ok(total);
                        }
                    }
                }
                if end {
                    if let Some(prev) = held.take() {
                        let _ = tx.blocking_send(Ok(Bytes::from(prev)));
                    }
                }
            }
        }
        if end {
            return Ok(total);
        }
    }
}

/// Turns encoded lines into multi-row INSERT statements of about [`INSERT_BYTES`].
struct InsertBuilder {
    prefix: Vec<u8>,
    /// Per column: a MySQL JSON column, whose value goes in as utf8mb4 text.
    json: Vec<bool>,
    carry: Vec<u8>,
    stmt: Vec<u8>,
}

impl InsertBuilder {
    fn new(prefix: Vec<u8>, json: Vec<bool>) -> Self {
        InsertBuilder {
            prefix,
            json,
            carry: Vec::new(),
            stmt: Vec::new(),
        }
    }

    fn push(&mut self, block: &[u8], end: bool, out: &mut Vec<Vec<u8>>) {
        self.carry.extend_from_slice(block);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &self.carry[start..]) {
            let line = self.carry[start..start + i].to_vec();
            self.row(&line);
            start += i + 1;
            if self.stmt.len() >= INSERT_BYTES {
                out.push(std::mem::take(&mut self.stmt));
            }
        }
        self.carry.drain(..start);
        if end && !self.stmt.is_empty() {
            out.push(std::mem::take(&mut self.stmt));
        }
    }

    fn row(&mut self, line: &[u8]) {
        if self.stmt.is_empty() {
            self.stmt.extend_from_slice(&self.prefix);
        } else {
            self.stmt.push(b',');
        }
        self.stmt.push(b'(');
        for (i, f) in super::format::split_line(line).into_iter().enumerate() {
            if i > 0 {
                self.stmt.push(b',');
            }
            match f {
                None => self.stmt.extend_from_slice(b"NULL"),
                Some(v) => {
                    let json = self.json.get(i).copied().unwrap_or(false);
                    if json {
                        self.stmt.extend_from_slice(b"CONVERT(");
                    }
                    self.stmt.extend_from_slice(b"_binary'");
                    for &b in &v {
                        match b {
                            b'\'' => self.stmt.extend_from_slice(b"\\'"),
                            b'\\' => self.stmt.extend_from_slice(b"\\\\"),
                            0 => self.stmt.extend_from_slice(b"\\0"),
                            _ => self.stmt.push(b),
                        }
                    }
                    self.stmt.push(b'\'');
                    if json {
                        self.stmt.extend_from_slice(b" USING utf8mb4)");
                    }
                }
            }
        }
        self.stmt.push(b')');
    }
}

#[cfg(test)]
mod tests {
    use super::{disabled_event, rename_create_database, InsertBuilder};

    #[test]
    fn enabled_events_are_created_disabled_and_others_as_they_were() {
        use crate::engine::logical::schema::Object;
        let ev = |text: &str| Object::new("event", Some("d"), "e", text.as_bytes().to_vec());
        let on = ev(
            "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 SECOND \
                     STARTS '2026-12-06 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO INSERT \
                     INTO t VALUES ('PRESERVE ENABLE')",
        );
        let d = disabled_event(&on).expect("an enabled event");
        let text = String::from_utf8(d.statement).unwrap();
        assert!(text.contains("NOT PRESERVE DISABLE DO"), "{text}");
        assert!(
            text.ends_with("VALUES ('PRESERVE ENABLE')"),
            "the body is untouched: {text}"
        );
        let off = ev(
            "CREATE EVENT `e` ON SCHEDULE EVERY 1 SECOND ON COMPLETION PRESERVE \
                      DISABLE DO INSERT INTO t VALUES ('PRESERVE ENABLE')",
        );
        assert!(
            disabled_event(&off).is_none(),
            "a disabled event stays as it is"
        );
        let replica = ev(
            "CREATE EVENT `e` ON SCHEDULE EVERY 1 SECOND ON COMPLETION PRESERVE \
                          DISABLE ON SLAVE DO SELECT 1",
        );
        assert!(disabled_event(&replica).is_none());
    }

    #[test]
    fn a_renamed_database_keeps_its_options() {
        assert_eq!(
            rename_create_database(
                b"CREATE DATABASE `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
                "app_restored"
            ),
            b"CREATE DATABASE `app_restored` /*!40100 DEFAULT CHARACTER SET utf8mb4 */".to_vec()
        );
        assert_eq!(
            rename_create_database(b"CREATE DATABASE `a``b`", "n"),
            b"CREATE DATABASE `n`".to_vec()
        );
    }

    #[test]
    fn inserts_escape_and_split_on_rows() {
        let mut b = InsertBuilder::new(b"INSERT INTO t (a, b) VALUES ".to_vec(), vec![]);
        let mut out = Vec::new();
        b.push(b"1\tit's\n2\t\\N\n3\ta\\\\b", false, &mut out);
        assert!(out.is_empty());
        b.push(b"\n", true, &mut out);
        assert_eq!(
            String::from_utf8(out.remove(0)).unwrap(),
            "INSERT INTO t (a, b) VALUES (_binary'1',_binary'it\\'s'),(_binary'2',NULL),(_binary'3',_binary'a\\\\b')"
        );
    }

    /// MySQL refused the restore of a JSON column: "Cannot create a JSON value from a string
    /// with CHARACTER SET 'binary'".
    #[test]
    fn json_values_go_in_as_utf8mb4() {
        let mut b = InsertBuilder::new(b"INSERT INTO t (a, j) VALUES ".to_vec(), vec![false, true]);
        let mut out = Vec::new();
        b.push(b"1\t{\"k\": 1}\n2\t\\N\n", true, &mut out);
        assert_eq!(
            String::from_utf8(out.remove(0)).unwrap(),
            "INSERT INTO t (a, j) VALUES (_binary'1',CONVERT(_binary'{\"k\": 1}' USING utf8mb4)),(_binary'2',NULL)"
        );
        let t = super::LogicalTable {
            database: "d".into(),
            name: "t".into(),
            engine: None,
            columns: vec!["a".into(), "j".into()],
            chunk_key: None,
            rows: 0,
            checksum: String::new(),
            chunks: vec![],
            system_versioned: false,
            enum_columns: vec![],
        };
        let q = super::load_data_sql(&t, &["j".to_string()].into_iter().collect());
        assert!(
            q.ends_with("(`a`, @zrm_j1) SET `j` = CONVERT(@zrm_j1 USING utf8mb4)"),
            "{q}"
        );
    }
}
