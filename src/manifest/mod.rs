//! What zrm writes into a repository and reads back: the manifest of a backup with every type
//! it holds (the logical layout, the snapshot and EBS records), and the names of the methods
//! and codecs. A leaf module: everything may depend on it, it depends on nothing of zrm's but
//! the error type and the name checks, so persisted formats never pull engines or the
//! configuration along.

pub mod logical;
pub mod physical;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Zstd,
    None,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Zstd => "zstd",
            Compression::None => "none",
        })
    }
}

/// How a full backup is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Logical,
    Mysqldump,
    Lvm,
    Btrfs,
    Ebs,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Logical => "logical",
            Method::Mysqldump => "mysqldump",
            Method::Lvm => "lvm",
            Method::Btrfs => "btrfs",
            Method::Ebs => "ebs",
        })
    }
}

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    pub id: String,
    pub set: String,
    /// 0 for a full backup, n+1 for an incremental on top of level n.
    pub level: u32,
    pub parent_id: Option<String>,
    pub method: Method,
    pub tool: ToolInfo,
    pub server: ServerInfo,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    /// Where binary-log replay starts after restoring this backup.
    pub consistent_point: Option<ConsistentPoint>,
    /// How long a global read lock was held, when zrm measured it (`None`: not measurable for
    /// this method, e.g. a lock taken inside mysqldump).
    pub read_lock_ms: Option<u64>,
    pub databases: Vec<DatabaseEntry>,
    pub files: Vec<FileEntry>,
    pub compression: Compression,
    pub encryption_key_id: Option<String>,
    pub status: BackupStatus,
    /// For incrementals: the exact binary-log range they hold.
    pub binlog_range: Option<BinlogRange>,
    pub comment: Option<String>,
    /// What the set selected: its `databases` (None: every non-system database) and
    /// `exclude` patterns. Replay after this backup covers the same.
    #[serde(default)]
    pub selected_databases: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// For `logical` backups: schema files, tables and their chunks, snapshot details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<logical::LogicalLayout>,
    /// For snapshot backups (lvm, btrfs, ebs): the snapshot, its lock and its copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical: Option<physical::PhysicalLayout>,
    /// Taken from a replica: where in its source's history the backup is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaRecord>,
    /// For a set naming several `servers`: which one was backed up, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_choice: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolInfo {
    /// `zrm 0.1.0`.
    pub zrm: String,
    /// The external tool that produced the data, with its version line (mysqldump method).
    pub dump_tool: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerInfo {
    pub host: String,
    pub port: Option<u16>,
    /// The unix socket zrm connected through, if it did.
    #[serde(default)]
    pub socket: Option<String>,
    pub version: String,
    pub flavor: Flavor,
    pub server_id: u32,
    /// MySQL `server_uuid`; MariaDB has none.
    pub server_uuid: Option<String>,
    /// MariaDB `gtid_domain_id`.
    pub gtid_domain_id: Option<u32>,
    /// MySQL: `gtid_mode`; MariaDB: `ON` (GTIDs are always written) plus strict mode.
    pub gtid_mode: String,
    pub log_bin: bool,
    pub binlog_format: String,
    pub time_zone: String,
    /// The zone to replay in and to read times without an offset in, as a UTC offset: the
    /// server's `time_zone` when it is one, else its offset at backup time (for SYSTEM or a
    /// named zone; with daylight saving time, give times with an explicit offset).
    #[serde(default)]
    pub session_time_zone: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Flavor {
    MySQL,
    MariaDB,
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavor::MySQL => "MySQL",
            Flavor::MariaDB => "MariaDB",
        })
    }
}

/// A point in the server's binary log: the coordinates and the GTID state there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsistentPoint {
    pub binlog_file: String,
    pub binlog_pos: u64,
    /// MySQL `gtid_executed` or MariaDB `gtid_binlog_pos` at that point; empty if none.
    pub gtid_set: Option<String>,
}

impl std::fmt::Display for ConsistentPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.binlog_file, self.binlog_pos)?;
        if let Some(g) = self.gtid_set.as_deref().filter(|g| !g.is_empty()) {
            write!(f, " ({g})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseEntry {
    pub name: String,
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub name: String,
    /// Rows written to the backup.
    pub rows: Option<u64>,
    /// A checksum of the rows as backed up, where the method computes one.
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Relative to the backup directory.
    pub path: String,
    /// Bytes before compression.
    pub size: u64,
    /// Bytes as stored.
    pub stored_size: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Complete,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BinlogRange {
    pub start: ConsistentPoint,
    pub end: ConsistentPoint,
}

impl Manifest {
    pub fn total_stored_size(&self) -> u64 {
        self.files.iter().map(|f| f.stored_size).sum()
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("manifests serialise")
    }

    pub fn from_json(bytes: &[u8], what: &str) -> Result<Manifest> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let v: Version = serde_json::from_slice(bytes)
            .map_err(|e| Error::Repository(format!("{what} is not a valid manifest: {e}")))?;
        if v.format_version > MANIFEST_VERSION {
            return Err(Error::Repository(format!(
                "{what} has manifest version {}, newer than this zrm understands ({MANIFEST_VERSION}): upgrade zrm",
                v.format_version
            )));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Repository(format!("{what} is not a valid manifest: {e}")))
    }

    /// What a manifest read from `sets/<set>/backups/<dir>/` says is checked as a command
    /// line would be: write access to a repository is not root on the host, and an id or a
    /// path taken from a file becomes a path zrm reads and deletes. Its id and set must be
    /// the directory's; every name must be a plain path component; file paths stay inside the
    /// backup directory (an incremental may point into its set's binlog archive, as
    /// `../../binlogs/<server>/<object>`, and nowhere else).
    pub fn validate(&self, set: &str, dir: &str, what: &str) -> Result<()> {
        let lie = |why: String| {
            Err(Error::Repository(format!(
                "{what} cannot be trusted: {why}; zrm will not use it (it was changed or \
                 damaged: restore it from a replica of the repository, or move the backup \
                 directory aside)"
            )))
        };
        if self.id != dir {
            return lie(format!(
                "its id '{}' is not its directory's name '{dir}'",
                self.id.escape_default()
            ));
        }
        if self.set != set {
            return lie(format!(
                "its set '{}' is not the set '{set}' it is stored under",
                self.set.escape_default()
            ));
        }
        if let Some(p) = &self.parent_id {
            if crate::names::check_component("parent id", p).is_err() {
                return lie(format!(
                    "its parent id '{}' is not a name",
                    p.escape_default()
                ));
            }
        }
        let mut paths: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        if let Some(l) = &self.logical {
            paths.extend(l.schema_files.iter().map(|f| f.path.as_str()));
            paths.extend(
                l.tables
                    .iter()
                    .flat_map(|t| t.chunks.iter().map(|c| c.path.as_str())),
            );
        }
        for p in paths {
            if !backup_relative_path_ok(p) {
                return lie(format!(
                    "it names a file '{}' outside the backup directory",
                    p.escape_default()
                ));
            }
        }
        Ok(())
    }
}

/// A file path of a manifest: components that are plain names, inside the backup directory;
/// or an archived binlog object of the same set (`../../binlogs/<server id>/<object>`).
pub fn backup_relative_path_ok(path: &str) -> bool {
    let plain = |p: &str| !p.is_empty() && p.split('/').all(crate::names::is_plain_component);
    match path.strip_prefix("../../binlogs/") {
        Some(rest) => match rest.split_once('/') {
            Some((server, object)) => {
                !server.is_empty()
                    && server.bytes().all(|b| b.is_ascii_digit())
                    && !object.contains('/')
                    && plain(object)
            }
            None => false,
        },
        None => plain(path),
    }
}

/// What a backup taken from a replica records of its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRecord {
    /// The source, `host:port`.
    pub source: String,
    /// The source's binlog coordinates the backup corresponds to: exact when the SQL thread
    /// was paused for the backup, else `None` (the GTID set below is then the exact point).
    pub source_binlog_file: Option<String>,
    pub source_binlog_pos: Option<u64>,
    /// The GTID state at the backup's point, which includes every source transaction the
    /// replica had applied (MySQL `gtid_executed`, MariaDB `gtid_slave_pos` or the binlog
    /// position's GTIDs).
    pub source_gtid_set: Option<String>,
    /// How far behind its source the replica was when the backup started.
    pub seconds_behind: Option<u64>,
    /// The SQL thread was stopped for the backup (`replica_pause`).
    pub paused: bool,
}
