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
use crate::catalog::Flavor;
use crate::command::{RunningTool, ToolCommand};
use crate::config::{Compression, ConnectionConfig};
use crate::error::{Error, Result};
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

    fn spool_dir() -> Result<tempfile::TempDir> {
        crate::secret::private_tempdir("zrm-binlog-spool-")
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
        fetch.child.wait_for_exit()?;
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
                if i.complete && i.end_pos == *size {
                    newest_same = Some(i);
                } else if i.complete && i.end_pos != *size {
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
    /// part). Blocking.
    pub fn catch_up(&self, server_files: &[(String, u64)]) -> Result<Vec<FileReport>> {
        self.check_conflicts(server_files)?;
        let closed = &server_files[..server_files.len().saturating_sub(1)];
        let spool = Self::spool_dir()?;
        let mut reports = Vec::new();
        let purged = idx::purged_mark(self.repo, &self.set, self.server_id);
        for (name, _) in closed {
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
            let mut fetch = self.start_fetch(spool.path(), name, false)?;
            let waited = fetch.child.wait_for_exit();
            waited?;
            let path = spool.path().join(name);
            let mut a = FileArchiver::new(
                self.repo,
                &self.set,
                self.server_id,
                name,
                self.compression,
                self.level,
            )?;
            let bytes = a.archive_closed_file(&path)?;
            let _ = std::fs::remove_file(&path);
            reports.push(report(&a, bytes));
        }
        Ok(reports)
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
        while !stop.load(Ordering::SeqCst) {
            let spool = Self::spool_dir()?;
            let mut fetch = self.start_fetch(spool.path(), &current, true)?;
            let mut a = FileArchiver::new(
                self.repo,
                &self.set,
                self.server_id,
                &current,
                self.compression,
                self.level,
            )?;
            let mut stored = 0u64;
            let started = Instant::now();
            let ended = loop {
                if stop.load(Ordering::SeqCst) {
                    break None;
                }
                let path = spool.path().join(&current);
                a.advance(&path)?;
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
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
                    (self.note)(&format!("archived {current} (complete); following {next}"));
                    current = next;
                    a = FileArchiver::new(
                        self.repo,
                        &self.set,
                        self.server_id,
                        &current,
                        self.compression,
                        self.level,
                    )?;
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

/// A replication client id for a set: stable, and far from the small ids servers use.
pub fn client_server_id(set: &str) -> u32 {
    0xF000_0000 | (crc32fast::hash(set.as_bytes()) & 0x0FFF_FFFF)
}

/// Remove what a spool left behind (used by tests and after errors).
pub fn spool_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}
