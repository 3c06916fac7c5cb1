//! `binlog archive`: fetching a server's binary logs over the replication protocol into the
//! repository, byte-exact and verified.
//!
//! The replication client is `mariadb-binlog`/`mysqlbinlog --read-from-remote-server --raw`
//! (it needs only REPLICATION SLAVE and handles each flavor's handshake, including MariaDB's
//! `@mariadb_slave_capability`); it writes into a private spool directory, and zrm verifies
//! every event there with its own reader before storing anything. Never overwrites an
//! archived file with different content; never stores an unverified byte.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::archive_index::{self as idx, BinlogIndex};
use super::file_archiver::{self, FileArchiver};
use crate::command::{RunningTool, ToolCommand};
use crate::config::{Compression, ConnectionConfig};
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mycnf::ClientOptionFile;
use crate::mysql::tools::{self, Tool};
use crate::mysql::Session;
use crate::repo::Repository;

/// The server's binary logs (SHOW BINARY LOGS): name and size, oldest first. The last one is
/// the file being written.
pub async fn server_binlogs(s: &mut Session) -> Result<Vec<(String, u64)>> {
    let rows = s.rows("SHOW BINARY LOGS").await.map_err(|e| {
        Error::Binlog(format!(
            "{e}; is binary logging on (log_bin) and does the account have BINLOG MONITOR / \
             REPLICATION CLIENT?"
        ))
    })?;
    let files: Vec<(String, u64)> = rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            let size = r.get(1).cloned().flatten()?.parse().ok()?;
            Some((name, size))
        })
        .collect();
    for (name, _) in &files {
        idx::check_binlog_name(name)?;
    }
    Ok(files)
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    /// Bytes stored by this run.
    pub bytes: u64,
    pub end_pos: u64,
    pub complete: bool,
    pub events: u64,
    pub transactions: u64,
}

pub struct Archiver<'r> {
    pub repo: &'r Repository,
    pub set: String,
    pub conn: ConnectionConfig,
    pub server_id: u32,
    pub flavor: Flavor,
    pub compression: Compression,
    pub level: i32,
    /// MySQL's `server_uuid`, recorded in each index so that two servers sharing a server id
    /// are told apart.
    pub server_uuid: Option<String>,
    /// The replication client's own server id (must differ from every real server's).
    pub client_server_id: u32,
    pub note: &'r (dyn Fn(&str) + Sync),
}

struct Fetch {
    child: RunningTool,
    _options: ClientOptionFile,
}

impl<'r> Archiver<'r> {
    /// The archiver of a set's server, with the repository's compression settings.
    pub fn for_set(
        repo: &'r Repository,
        config: &crate::config::ConfigFile,
        set: &crate::config::SetConfig,
        facts: &crate::mysql::ServerFacts,
        note: &'r (dyn Fn(&str) + Sync),
    ) -> Self {
        let (compression, level) = config.repository_compression();
        Archiver {
            repo,
            set: set.name.clone(),
            conn: set.connection.clone(),
            server_id: facts.server_id,
            server_uuid: facts.server_uuid.clone(),
            flavor: facts.flavor,
            compression,
            level,
            client_server_id: client_server_id(&set.name),
            note,
        }
    }

    fn tool(&self) -> Result<Tool> {
        tools::require(tools::binlog_names(self.flavor), self.flavor)
    }

    /// Start the replication client writing `first` (and, with `follow`, every later file,
    /// waiting for new events) into `spool`.
    fn start_fetch(&self, spool: &Path, first: &str, follow: bool) -> Result<Fetch> {
        self.start_fetch_at(spool, first, follow, 4)
    }

    /// Fetch one file from `pos` (the stream holds the magic and format description first).
    fn start_fetch_from(&self, spool: &Path, file: &str, pos: u64) -> Result<Fetch> {
        self.start_fetch_at(spool, file, false, pos)
    }

    fn start_fetch_at(&self, spool: &Path, first: &str, follow: bool, pos: u64) -> Result<Fetch> {
        let tool = self.tool()?;
        let options = ClientOptionFile::write(&self.conn)?;
        let mut cmd = ToolCommand::new(&tool)
            .arg(format!("--defaults-file={}", options.path().display()))
            .args(["--read-from-remote-server", "--raw"])
            .arg(format!("--result-file={}/", spool.display()));
        if pos > 4 {
            cmd = cmd.arg(format!("--start-position={pos}"));
        }
        if follow {
            cmd = cmd.arg("--stop-never").arg(match self.flavor {
                Flavor::MariaDB => {
                    format!("--stop-never-slave-server-id={}", self.client_server_id)
                }
                Flavor::MySQL => format!("--connection-server-id={}", self.client_server_id),
            });
        }
        let child = cmd.arg(first).spawn(Stdio::null(), Stdio::null())?;
        Ok(Fetch {
            child,
            _options: options,
        })
    }

    fn spool_dir() -> Result<crate::scratch::ScratchDir> {
        crate::scratch::ScratchDir::new("spool")
    }

    /// Whether the server's file is still the one archived: its head (format description,
    /// with the creation time) and its last transaction are fetched and compared with the
    /// index's hashes; the whole file is compared when the index predates those hashes.
    pub fn matches_server(&self, i: &BinlogIndex) -> Result<bool> {
        let spool = Self::spool_dir()?;
        let cheap = match (i.head_end, &i.head_sha256, i.tail_pos, &i.tail_sha256) {
            (Some(h), Some(_), Some(t), Some(_)) if t >= h => Some((h, t)),
            _ => None,
        };
        let from = cheap.map_or(4, |(_, t)| t);
        let mut fetch = self.start_fetch_from(spool.path(), &i.file, from)?;
        let fetched = fetch.child.wait_for_exit();
        // A file whose last event is torn makes every fetch of it fail at that event, after
        // the bytes compared here.
        if i.crash.as_ref().is_none_or(|c| c.torn_bytes == 0) {
            fetched?;
        }
        let path = spool.path().join(&i.file);
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io("stat", &path, e))?
            .len();
        Ok(match cheap {
            Some((head_end, tail_pos)) => {
                // A stream from `tail_pos` holds the magic, the format description, then the
                // events from `tail_pos` to the end of the file.
                len >= head_end
                    && len - head_end == i.end_pos - tail_pos
                    && Some(file_archiver::head_hash(&path, head_end)?) == i.head_sha256
                    && Some(file_archiver::hash_range(&path, head_end, len)?) == i.tail_sha256
            }
            None => len == i.end_pos && Some(file_archiver::hash_range(&path, 0, len)?) == i.sha256,
        })
    }

    fn conflict(&self, name: &str, what: String) -> Error {
        Error::Binlog(format!(
            "binlog {name} of server {} {what}: the server's binary logs were reset (RESET MASTER; MySQL 8.4+: RESET BINARY LOGS AND GTIDS) \
             or replaced under the same names; zrm will not mix them. Move {}/{} aside before \
             archiving again",
            self.server_id,
            self.repo.describe(),
            idx::server_dir(&self.set, self.server_id)
        ))
    }

    /// Refuse when a file the archive holds as complete has another size on the server, or
    /// (checked for the newest such file, cheaply) other content.
    pub fn check_conflicts(&self, server_files: &[(String, u64)]) -> Result<()> {
        let active = server_files.last().map(|f| f.0.as_str());
        let mut newest_same = None;
        for (name, size) in server_files {
            if Some(name.as_str()) == active {
                continue;
            }
            if let Some(i) = idx::load(self.repo, &self.set, self.server_id, name)? {
                if i.complete && i.server_size() == *size {
                    newest_same = Some(i);
                } else if i.complete && i.server_size() != *size {
                    return Err(Error::Binlog(format!(
                        "binlog {name} of server {} is {size} bytes on the server but {} bytes in \
                         the archive: the server's binary logs were reset (RESET MASTER; MySQL 8.4+: RESET BINARY LOGS AND GTIDS) or \
                         replaced; zrm will not mix them. Move {}/{} aside before archiving again",
                        self.server_id,
                        i.end_pos,
                        self.repo.describe(),
                        idx::server_dir(&self.set, self.server_id)
                    )));
                }
            }
        }
        if let Some(i) = newest_same {
            if !self.matches_server(&i)? {
                return Err(
                    self.conflict(&i.file, "has the archived size but other content".into())
                );
            }
        }
        Ok(())
    }

    /// Archive every closed binlog of the server that the archive lacks (or holds only in
    /// part). A file that cannot be archived does not stop the later ones (the gap it leaves
    /// is named, and the next run tries it again); the files that failed are the error, after
    /// the others are stored. Blocking.
    pub fn catch_up(&self, server_files: &[(String, u64)]) -> Result<Vec<FileReport>> {
        self.check_conflicts(server_files)?;
        self.note_new_server()?;
        let closed = &server_files[..server_files.len().saturating_sub(1)];
        let spool = Self::spool_dir()?;
        let mut reports = Vec::new();
        let mut failed: Vec<(String, Error)> = Vec::new();
        let purged = idx::purged_mark(self.repo, &self.set, self.server_id);
        for (name, size) in closed {
            // Purged on purpose: not fetched again while the server still holds it.
            if purged.as_deref().is_some_and(|p| {
                idx::file_order(name).0 == idx::file_order(p).0
                    && idx::file_order(name) <= idx::file_order(p)
            }) {
                continue;
            }
            let existing = idx::load(self.repo, &self.set, self.server_id, name)?;
            if existing.as_ref().is_some_and(|i| i.complete) {
                continue;
            }
            match self.archive_closed(spool.path(), name, *size) {
                Ok(r) => reports.push(r),
                Err(e) => {
                    (self.note)(&format!("error: binlog {name} was not archived: {e}"));
                    failed.push((name.clone(), e));
                }
            }
        }
        if failed.is_empty() {
            return Ok(reports);
        }
        let (first, _) = &failed[0];
        let list = failed
            .iter()
            .map(|(n, e)| format!("{n}: {e}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::Binlog(format!(
            "{} of {} binlog file(s) could not be archived ({list}); {} other file(s) were \
             archived. Until {first} is archived the archive has a gap there, and no restore \
             replays past it; fix the cause and run `zrm binlog archive --set {}` again",
            failed.len(),
            failed.len() + reports.len(),
            reports.len(),
            self.set
        )))
    }

    /// A set whose archive holds other servers but not this one: its server changed (a
    /// failover, or the set was pointed at another server). Said once, when it happens; the
    /// other archives stay as earlier segments of the set's timeline, which restore joins to
    /// this server's by GTIDs (`binlog::timeline`).
    fn note_new_server(&self) -> Result<()> {
        let others: Vec<u32> = idx::servers(self.repo, &self.set)?
            .into_iter()
            .filter(|s| *s != self.server_id)
            .collect();
        if others.is_empty() || !idx::load_all(self.repo, &self.set, self.server_id)?.is_empty() {
            return Ok(());
        }
        let list = others
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        (self.note)(&format!(
            "set '{}' now archives server {} (server_id {}); the archive of server(s) {list} \
             stays as the earlier part of the set's timeline, and restore continues it with \
             this server's binlogs from the first transaction not already archived (joined by \
             GTIDs, not by file names)",
            self.set,
            self.conn.display(),
            self.server_id
        ));
        Ok(())
    }

    /// Fetch and archive one closed file of `size` bytes on the server.
    fn archive_closed(&self, spool: &Path, name: &str, size: u64) -> Result<FileReport> {
        let path = spool.join(name);
        let _ = std::fs::remove_file(&path);
        let mut fetch = self.start_fetch(spool, name, false)?;
        let fetched = fetch.child.wait_for_exit();
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // The client failing short of the server's size is a lost connection, or a torn last
        // event that the server cannot send (a crash mid-write): ask again from where the copy
        // ends. A torn event fails again at once; a lost connection carries on.
        let torn_tail = match fetched {
            Ok(_) => false,
            Err(e) if len > 4 && len < size => {
                if self.fails_again_at(name, len, size)? {
                    true
                } else {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        };
        let mut a = self.file_archiver(name)?;
        let bytes = a.archive_closed_file(&path, file_archiver::ServerEnd { size, torn_tail })?;
        let _ = std::fs::remove_file(&path);
        if let Some(c) = &a.index.crash {
            (self.note)(&format!(
                "warning: binlog {name} {c}; archived up to {}",
                a.index.end_pos
            ));
        }
        Ok(report(&a, bytes))
    }

    /// The archiver of one file of this server.
    fn file_archiver(&self, file: &str) -> Result<FileArchiver<'r>> {
        let mut a = FileArchiver::new(
            self.repo,
            &self.set,
            self.server_id,
            file,
            self.compression,
            self.level,
        )?;
        if a.index.server_uuid.is_none() {
            a.index.server_uuid = self.server_uuid.clone();
        }
        Ok(a)
    }

    /// Whether the server's `file` (closed, `size` bytes) really ends in a torn event at `pos`:
    /// a second fetch from `pos` fails without delivering a single event while the server
    /// answers and still lists the file, closed, at that size. A server that went away (a
    /// crash, a restart, a lost network) is not a torn file: the fetch is retried next time.
    fn fails_again_at(&self, file: &str, pos: u64, size: u64) -> Result<bool> {
        let spool = Self::spool_dir()?;
        let mut fetch = self.start_fetch_from(spool.path(), file, pos)?;
        let failed = fetch.child.wait_for_exit().is_err();
        let path = spool.path().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // The stream holds the magic and the format description before any event.
        let head = file_archiver::head_end(&path);
        if !failed || head.is_none_or(|h| len > h) {
            return Ok(false);
        }
        let Ok(files) = self.server_files_now() else {
            return Ok(false);
        };
        let k = files.iter().position(|(n, _)| n == file);
        Ok(k.is_some_and(|k| k + 1 < files.len() && files[k].1 == size))
    }

    /// SHOW BINARY LOGS from blocking code (the archiver runs on a blocking thread).
    fn server_files_now(&self) -> Result<Vec<(String, u64)>> {
        tokio::runtime::Handle::current().block_on(async {
            let mut s = crate::mysql::connect(&self.conn).await?;
            let files = server_binlogs(&mut s).await;
            s.close().await;
            files
        })
    }

    /// Stream the binlogs continuously, from where the archive ends, storing a durable segment
    /// at least every `interval`. Returns when `stop` is set. Blocking.
    pub fn follow(
        &self,
        server_files: &[(String, u64)],
        interval: Duration,
        stop: &AtomicBool,
    ) -> Result<Vec<FileReport>> {
        let mut reports = self.catch_up(server_files)?;
        let mut current = self.start_file(server_files)?;
        let mut backoff = Duration::from_secs(1);
        // Where the last stream failed inside a closed file: failing there twice is a torn
        // last event (a crash mid-write), not a lost connection.
        let mut failed_at: Option<(String, u64)> = None;
        while !stop.load(Ordering::SeqCst) {
            let spool = Self::spool_dir()?;
            let mut fetch = self.start_fetch(spool.path(), &current, true)?;
            let mut a = self.file_archiver(&current)?;
            let mut stored = 0u64;
            let started = Instant::now();
            let ended = loop {
                if stop.load(Ordering::SeqCst) {
                    break None;
                }
                let path = spool.path().join(&current);
                // The client writes a file whole before it opens the next: a next file means
                // the server moved on. Looked at before reading, so nothing is still coming.
                let moved_on = later_file_in(spool.path(), &current);
                a.advance(&path)?;
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if moved_on && !a.closed() && a.verified_end == len && len > 4 {
                    // No ROTATE, yet the server went on to another file: it crashed here.
                    a.mark_crashed(0);
                }
                if a.closed() && a.verified_end == len && len > 0 {
                    stored += a.finish(&path)?;
                    let _ = std::fs::remove_file(&path);
                    reports.push(report(&a, stored));
                    stored = 0;
                    let next = a
                        .index
                        .next_file
                        .clone()
                        .unwrap_or_else(|| idx::next_name(&current).unwrap_or_default());
                    match &a.index.crash {
                        Some(c) => (self.note)(&format!(
                            "warning: binlog {current} {c}; archived up to {}; following {next}",
                            a.index.end_pos
                        )),
                        None => {
                            (self.note)(&format!("archived {current} (complete); following {next}"))
                        }
                    }
                    current = next;
                    a = self.file_archiver(&current)?;
                    continue;
                }
                if a.pending() > 0
                    && (a.last_store.elapsed() >= interval || a.pending() >= 64 << 20)
                {
                    stored += a.store_segment(&path)?;
                }
                if let Some(exit) = fetch.child.try_wait() {
                    break Some(exit);
                }
                std::thread::sleep(Duration::from_millis(200));
            };
            // Keep what is verified, whatever happens next.
            let path = spool.path().join(&current);
            stored += a.store_segment(&path)?;
            if stored > 0 || a.index.end_pos > 0 {
                reports.push(report(&a, stored));
            }
            match ended {
                None => {
                    fetch.child.kill();
                    break;
                }
                Some(exit) => {
                    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let torn = if a.closed() || a.verified_end != len {
                        None
                    } else {
                        self.crash_end(&current, len, exit.is_err(), &mut failed_at)
                    };
                    if let Some(torn) = torn {
                        a.mark_crashed(torn);
                        a.finish(&path)?;
                        let c = a.index.crash.clone().expect("marked crashed");
                        let next = idx::next_name(&current).unwrap_or_default();
                        (self.note)(&format!(
                            "warning: binlog {current} {c}; archived up to {}; following {next}",
                            a.index.end_pos
                        ));
                        reports.push(report(&a, 0));
                        current = next;
                        continue;
                    }
                    let why = match exit {
                        Ok(_) => "the server closed the replication stream".to_string(),
                        Err(e) => e.to_string(),
                    };
                    if started.elapsed() > Duration::from_secs(60) {
                        backoff = Duration::from_secs(1);
                    }
                    (self.note)(&format!(
                        "binlog stream of set '{}' ended ({why}); reconnecting in {}s",
                        self.set,
                        backoff.as_secs()
                    ));
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        Ok(reports)
    }

    /// After a stream ended with `verified` bytes of `file` verified (all it delivered): the
    /// torn bytes to leave out if the server has moved on from the file (it crashed there),
    /// None while it may still come (the active file, an unreachable server, a first failure
    /// short of the server's size).
    fn crash_end(
        &self,
        file: &str,
        verified: u64,
        failed: bool,
        failed_at: &mut Option<(String, u64)>,
    ) -> Option<u64> {
        let files = self.server_files_now().ok()?;
        let k = files.iter().position(|(n, _)| n == file)?;
        if k + 1 == files.len() || verified <= 4 {
            return None;
        }
        let size = files[k].1;
        if verified == size {
            return Some(0);
        }
        if failed && verified < size {
            let here = (file.to_string(), verified);
            if failed_at.as_ref() == Some(&here) {
                return Some(size - verified);
            }
            *failed_at = Some(here);
        }
        None
    }

    /// Where following starts: the file the archive holds in part, or the one after the last
    /// complete file, or (nothing archived) the server's active file.
    fn start_file(&self, server_files: &[(String, u64)]) -> Result<String> {
        let archived = idx::load_all(self.repo, &self.set, self.server_id)?;
        let on_server = |n: &str| server_files.iter().any(|(f, _)| f == n);
        let wanted = match archived.last() {
            Some(i) if !i.complete => Some(i.file.clone()),
            Some(i) => i.next_file.clone().or_else(|| idx::next_name(&i.file)),
            None => None,
        };
        match wanted {
            Some(f) if on_server(&f) => Ok(f),
            Some(f) => {
                let first = server_files
                    .first()
                    .map(|x| x.0.clone())
                    .unwrap_or_default();
                (self.note)(&format!(
                    "warning: {f} is no longer on the server: the archive has a gap before {first}"
                ));
                Ok(first)
            }
            None => server_files
                .last()
                .map(|x| x.0.clone())
                .ok_or_else(|| Error::Binlog("the server lists no binary logs".into())),
        }
    }
}

fn report(a: &FileArchiver, bytes: u64) -> FileReport {
    FileReport {
        file: a.file.clone(),
        bytes,
        end_pos: a.index.end_pos,
        complete: a.index.complete,
        events: a.index.events,
        transactions: a.index.transactions,
    }
}

/// Whether the client has started a file after `file` in the spool directory.
fn later_file_in(spool: &Path, file: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(spool) else {
        return false;
    };
    let here = idx::file_order(file);
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let there = idx::file_order(&name);
        there.0 == here.0 && there > here
    })
}

/// A replication client id for a set: stable, and far from the small ids servers use.
pub fn client_server_id(set: &str) -> u32 {
    0xF000_0000 | (crc32fast::hash(set.as_bytes()) & 0x0FFF_FFFF)
}

/// Remove what a spool left behind (used by tests and after errors).
pub fn spool_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}
