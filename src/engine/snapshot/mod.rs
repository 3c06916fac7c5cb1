//! Snapshot backups (`lvm`, `btrfs`, `ebs`): the backup lock is held only while the volume
//! snapshot is cut — milliseconds — and the binary-log point is read under it. The copy out of
//! the snapshot (lvm, btrfs) or the wait for the cloud snapshot (ebs) happens after the lock is
//! released.
//!
//! Every provider implements [`VolumeSnapshot`]; [`backup`] is the one sequence they share:
//! plan (find the volume) → lock → record the point → cut → release → copy or wait → remove.
//! Removal is guaranteed by a [`crate::cleanup::Guard`], on errors and on SIGINT/SIGTERM.

pub mod btrfs;
pub mod copy;
pub mod ebs;
pub mod lvm;
pub mod runner;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::catalog::{ConsistentPoint, FileEntry};
use crate::config::{Compression, Method, SetConfig};
use crate::error::{Error, Result};
use crate::mysql::lock::{HeldLock, LockKind, LockRequest};
use crate::mysql::{self, ServerFacts, Session};
use crate::progress::Progress;
use crate::repo::Repository;

/// A volume snapshot in the making. Methods are blocking and called in this order:
/// `cut` (under the lock), `mount`, then `remove` (always, also after a failure).
pub trait VolumeSnapshot: Send {
    /// What is snapshotted, for messages and the manifest.
    fn describe(&self) -> String;
    /// Cut the snapshot. Runs while commits are blocked: must be quick.
    fn cut(&mut self) -> Result<()>;
    /// Make the snapshot readable; the directory that holds the server's datadir as it was at
    /// the cut. `None` when the snapshot is the backup itself (ebs).
    fn mount(&mut self, progress: &dyn Progress) -> Result<Option<PathBuf>>;
    /// Unmount and delete the snapshot; safe to call more than once or before `cut`.
    fn remove(&mut self) -> Result<()>;
    /// Remove snapshots an earlier run of this set left behind when it was killed (-9) before
    /// it could clean up; the set's lock guarantees no other run uses them. `is_backup(id)`
    /// tells whether a backup id has a manifest (its snapshots are a backup, not debris).
    /// Returns what was removed.
    fn remove_stale(&mut self, _is_backup: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// For snapshots kept in the cloud: what the manifest records of them.
    fn cloud_record(&self) -> Option<ebs::EbsRecord> {
        None
    }
}

/// Where the server keeps its files, and the settings a server started on a copy must share.
#[derive(Debug, Clone)]
pub struct ServerPaths {
    pub datadir: PathBuf,
    /// Variable name → absolute path, for the InnoDB files that must sit in the datadir.
    pub innodb_dirs: Vec<(&'static str, PathBuf)>,
    /// Binary and relay log basenames (absolute), which the copy leaves out.
    pub log_basenames: Vec<(PathBuf, &'static str)>,
    /// `innodb_page_size` and the like: a server started on the copy needs the same values.
    pub server_options: BTreeMap<String, String>,
}

/// Options recorded in the manifest and passed to a server started on a restored copy.
const CARRIED_OPTIONS: &[&str] = &[
    "innodb_page_size",
    "innodb_data_file_path",
    "innodb_undo_tablespaces",
    "innodb_checksum_algorithm",
    "lower_case_table_names",
];

impl ServerPaths {
    pub async fn read(s: &mut Session) -> Result<ServerPaths> {
        let rows = s
            .rows(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('datadir', 'log_bin_basename', \
                 'log_bin_index', 'relay_log_basename', 'relay_log_index', \
                 'innodb_log_group_home_dir', 'innodb_data_home_dir', 'innodb_undo_directory', \
                 'innodb_page_size', 'innodb_data_file_path', 'innodb_undo_tablespaces', \
                 'innodb_checksum_algorithm', 'lower_case_table_names')",
            )
            .await?;
        let vars: BTreeMap<String, String> = rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                Some((it.next()??, it.next()?.unwrap_or_default()))
            })
            .collect();
        let datadir = PathBuf::from(vars.get("datadir").cloned().unwrap_or_default());
        if !datadir.is_absolute() {
            return Err(Error::Backup(format!(
                "{}: the server reports datadir '{}', not an absolute path",
                s.server,
                datadir.display()
            )));
        }
        let abs = |v: &str| -> Option<PathBuf> {
            let p = vars.get(v).filter(|p| !p.is_empty())?;
            let p = Path::new(p);
            Some(if p.is_absolute() {
                p.to_path_buf()
            } else {
                datadir.join(p)
            })
        };
        let innodb_dirs = [
            "innodb_log_group_home_dir",
            "innodb_data_home_dir",
            "innodb_undo_directory",
        ]
        .into_iter()
        .filter_map(|v| abs(v).map(|p| (v, p)))
        .collect();
        let mut log_basenames = Vec::new();
        for (v, what) in [
            ("log_bin_basename", "binary log"),
            ("relay_log_basename", "relay log"),
        ] {
            if let Some(p) = abs(v) {
                log_basenames.push((p, what));
            }
        }
        let server_options = CARRIED_OPTIONS
            .iter()
            .filter_map(|k| vars.get(*k).map(|v| (k.to_string(), v.clone())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Ok(ServerPaths {
            datadir,
            innodb_dirs,
            log_basenames,
            server_options,
        })
    }

    /// The copy is of the datadir: the InnoDB system files must be inside it.
    pub fn check_innodb_inside_datadir(&self, set: &str) -> Result<()> {
        let data = normalize(&self.datadir);
        for (var, p) in &self.innodb_dirs {
            if !normalize(p).starts_with(&data) {
                return Err(Error::Backup(format!(
                    "set '{set}': {var} is {}, outside the datadir {}; a snapshot backup copies \
                     the datadir, so these files would be missing: move them into the datadir \
                     or use the logical method",
                    p.display(),
                    self.datadir.display()
                )));
            }
        }
        Ok(())
    }

    /// What the copy leaves out: binary and relay logs living inside the datadir (they are the
    /// source server's history; zrm archives binlogs separately).
    pub fn exclusions(&self) -> copy::Exclusions {
        let mut ex = copy::Exclusions::default();
        for (base, what) in &self.log_basenames {
            if let Some(name) = base.file_name() {
                ex.prefixes
                    .push((name.to_string_lossy().into_owned(), *what));
            }
        }
        ex
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub use crate::manifest::physical::PhysicalLayout;

/// What a snapshot backup hands back for the manifest.
pub struct SnapshotOutcome {
    pub point: Option<ConsistentPoint>,
    pub layout: PhysicalLayout,
    pub files: Vec<FileEntry>,
    /// Things the user should know (a snapshot that could not be removed).
    pub warnings: Vec<String>,
}

pub struct SnapshotJob<'a> {
    pub set: &'a SetConfig,
    pub facts: &'a ServerFacts,
    pub backup_id: &'a str,
    pub dir: String,
    pub codec: (Compression, i32),
    /// Part of a coordinated cluster cut: (the cut, this shard's name).
    pub cut: Option<(Arc<crate::cluster::cut::Cut>, String)>,
}

/// Take a snapshot backup with the set's method.
pub async fn backup(
    repo: &Arc<Repository>,
    job: &SnapshotJob<'_>,
    progress: Arc<dyn Progress>,
) -> Result<SnapshotOutcome> {
    let set = job.set;
    let mut session = mysql::connect(&set.connection).await?;
    let paths = ServerPaths::read(&mut session).await?;
    session.close().await;

    let provider: Box<dyn VolumeSnapshot> = match set.method {
        Method::Btrfs => Box::new(btrfs::Btrfs::plan(
            Arc::new(runner::SystemRunner),
            &paths,
            set,
            job.backup_id,
        )?),
        Method::Lvm => Box::new(lvm::Lvm::plan(
            Arc::new(runner::SystemRunner),
            &paths,
            set,
            job.backup_id,
        )?),
        Method::Ebs => {
            Box::new(ebs::Ebs::plan(set, job.backup_id, &repo.info.repository_id).await?)
        }
        other => {
            return Err(Error::Backup(format!(
                "method {other} is not a snapshot method"
            )))
        }
    };
    if set.method != Method::Ebs {
        paths.check_innodb_inside_datadir(&set.name)?;
    }
    let describe = provider.describe();
    let mut provider = provider;
    let mut warnings = Vec::new();
    let is_backup = |id: &str| {
        repo.backend()
            .exists(&format!(
                "{}/{}",
                Repository::backup_dir(&set.name, id),
                crate::repo::MANIFEST_FILE
            ))
            .unwrap_or(true) // when in doubt, keep
    };
    for stale in tokio::task::block_in_place(|| provider.remove_stale(&is_backup))? {
        warnings.push(format!(
            "removed {stale}, left by an earlier run of set '{}' that was killed",
            set.name
        ));
    }
    let provider = Arc::new(Mutex::new(provider));
    let guard = {
        let p = provider.clone();
        crate::cleanup::Guard::register(format!("remove the snapshot of {describe}"), move || {
            if let Err(e) = lock_provider(&p).remove() {
                eprintln!("zrm: warning: {e}");
            }
        })
    };

    // The momentary lock: record the point, cut, release.
    let kind = LockKind::for_server(job.facts.flavor, &job.facts.version);
    if let Some((cut, shard)) = &job.cut {
        cut.all_ready(shard).await?;
    }
    let mut lock = HeldLock::take(&LockRequest {
        conn: &set.connection,
        kind,
        timeout: set.lock_timeout,
        hint: "",
    })
    .await?;
    if let Some((cut, shard)) = &job.cut {
        if let Err(e) = cut.all_locked(shard).await {
            let _ = lock.release().await;
            return Err(e);
        }
    }
    // With binary logging on, InnoDB writes commit records lazily (the binlog is the durable
    // record), so a transaction already in the binlog may look merely "prepared" in the redo
    // log on disk. Flushing the engine logs while commits are blocked puts every commit before
    // the recorded point into the files the snapshot captures.
    let point = match flush_engine_logs(&mut lock).await {
        Ok(()) => lock.point(job.facts.flavor).await,
        Err(e) => Err(e),
    };
    let point = match point {
        Ok(p) => p,
        Err(e) => {
            let _ = lock.release().await;
            return Err(e);
        }
    };
    let cut_started = Instant::now();
    let cut = tokio::task::block_in_place(|| lock_provider(&provider).cut());
    let cut_ms = cut_started.elapsed().as_millis() as u64;
    let times = lock.release().await;
    cut.map_err(|e| {
        Error::Backup(format!(
            "cutting the snapshot of {describe} failed: {e}; the lock was released"
        ))
    })?;
    let times = times?;

    let mut layout = PhysicalLayout {
        source: describe.clone(),
        lock: kind.name().into(),
        lock_wait_ms: times.wait_ms,
        lock_hold_ms: times.hold_ms,
        cut_ms,
        datadir: paths.datadir.display().to_string(),
        datadir_owner: None,
        file_count: 0,
        bytes: 0,
        copy_seconds: 0.0,
        skipped: Vec::new(),
        server_options: paths.server_options.clone(),
        ebs: None,
    };
    let mut files = Vec::new();
    let mounted = tokio::task::block_in_place(|| lock_provider(&provider).mount(progress.as_ref()));
    match mounted? {
        None => {
            // The snapshots are the backup: keep them.
            layout.ebs = lock_provider(&provider).cloud_record();
            guard.disarm();
        }
        Some(root) => {
            let copied =
                tokio::task::block_in_place(|| copy_out(repo, job, &paths, &root, &progress));
            let removed = tokio::task::block_in_place(|| lock_provider(&provider).remove());
            guard.disarm();
            let (f, l) = copied?;
            files = f;
            layout.datadir_owner = l.datadir_owner;
            layout.file_count = l.file_count;
            layout.bytes = l.bytes;
            layout.copy_seconds = l.copy_seconds;
            layout.skipped = l.skipped;
            if let Err(e) = removed {
                warnings.push(format!(
                    "the backup is complete, but its snapshot could not be removed: {e}; remove \
                     it by hand, it holds space"
                ));
            }
        }
    }
    Ok(SnapshotOutcome {
        point,
        layout,
        files,
        warnings,
    })
}

async fn flush_engine_logs(lock: &mut HeldLock) -> Result<()> {
    lock.session()
        .exec("FLUSH NO_WRITE_TO_BINLOG ENGINE LOGS")
        .await
}

fn lock_provider(
    p: &Mutex<Box<dyn VolumeSnapshot>>,
) -> std::sync::MutexGuard<'_, Box<dyn VolumeSnapshot>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

struct Copied {
    datadir_owner: Option<(u32, u32, u32)>,
    file_count: u64,
    bytes: u64,
    copy_seconds: f64,
    skipped: Vec<String>,
}

fn copy_out(
    repo: &Arc<Repository>,
    job: &SnapshotJob<'_>,
    paths: &ServerPaths,
    root: &Path,
    progress: &Arc<dyn Progress>,
) -> Result<(Vec<FileEntry>, Copied)> {
    let started = Instant::now();
    let (files, dirs, skipped) = copy::collect(root, &paths.exclusions())?;
    if let Some(isl) = files
        .iter()
        .find(|f| f.rel.extension().is_some_and(|e| e == "isl"))
    {
        return Err(Error::Backup(format!(
            "set '{}': {} links a table to a DATA DIRECTORY outside the datadir, which the \
             snapshot does not hold; move the table into the datadir or use the logical method",
            job.set.name,
            isl.rel.display()
        )));
    }
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    progress.set_total(Some(bytes));
    let entries = copy::write_parts(
        repo,
        &job.dir,
        root,
        &files,
        &dirs,
        job.set.parallel,
        job.codec,
        progress,
    )?;
    Ok((
        entries,
        Copied {
            datadir_owner: copy::owner_of(root).ok(),
            file_count: files.len() as u64,
            bytes,
            copy_seconds: started.elapsed().as_secs_f64(),
            skipped,
        },
    ))
}
