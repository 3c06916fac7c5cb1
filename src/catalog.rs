//! Manifests and the catalog of a set's backups.
//!
//! A backup *is* its manifest: a directory without `manifest.json` is an interrupted backup,
//! listed as incomplete (with `list --all`) and never restored. The manifest is a versioned
//! struct; readers refuse a version newer than they know.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Compression, Method};
use crate::error::{Error, Result};
use crate::repo::{Repository, MANIFEST_FILE};

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
    pub logical: Option<crate::engine::logical::LogicalLayout>,
    /// For snapshot backups (lvm, btrfs, ebs): the snapshot, its lock and its copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical: Option<crate::engine::snapshot::PhysicalLayout>,
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
            if crate::repo::check_component("parent id", p).is_err() {
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
    let plain = |p: &str| !p.is_empty() && p.split('/').all(crate::repo::is_plain_component);
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

/// One entry of a set's catalog.
#[derive(Debug, Clone)]
pub enum CatalogEntry {
    Complete(Box<Manifest>),
    /// A backup directory without a manifest: interrupted, never restorable.
    Incomplete {
        id: String,
    },
    /// A manifest that cannot be read.
    Unreadable {
        id: String,
        error: String,
    },
}

impl CatalogEntry {
    pub fn id(&self) -> &str {
        match self {
            CatalogEntry::Complete(m) => &m.id,
            CatalogEntry::Incomplete { id } | CatalogEntry::Unreadable { id, .. } => id,
        }
    }
}

/// Every backup directory of a set, oldest first.
pub fn list_set(repo: &Repository, set: &str) -> Result<Vec<CatalogEntry>> {
    let dir = Repository::backups_dir(set);
    let mut out = Vec::new();
    for id in repo.backend().list(&dir)? {
        if id.starts_with('.') {
            continue;
        }
        let manifest = format!("{dir}/{id}/{MANIFEST_FILE}");
        if !repo.backend().exists(&manifest)? {
            out.push(CatalogEntry::Incomplete { id });
            continue;
        }
        let what = format!("{}/{manifest}", repo.describe());
        match repo
            .read_small(&manifest)
            .and_then(|b| Manifest::from_json(&b, &what))
            .and_then(|m| m.validate(set, &id, &what).map(|()| m))
        {
            Ok(m) => out.push(CatalogEntry::Complete(Box::new(m))),
            Err(e) => out.push(CatalogEntry::Unreadable {
                id,
                error: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// The sets that have anything in the repository.
pub fn sets_in_repo(repo: &Repository) -> Result<Vec<String>> {
    repo.backend().list("sets")
}

/// Find a complete backup by id, or explain why it cannot be used.
pub fn find_backup(repo: &Repository, set: &str, id: &str) -> Result<Manifest> {
    crate::repo::check_component("backup id", id)?;
    let entries = list_set(repo, set)?;
    match entries.into_iter().find(|e| e.id() == id) {
        Some(CatalogEntry::Complete(m)) => Ok(*m),
        Some(CatalogEntry::Incomplete { .. }) => Err(Error::Repository(format!(
            "backup {id} of set '{set}' is incomplete (it has no manifest: the backup was \
             interrupted) and cannot be restored; choose another with `zrm list --set {set}`"
        ))),
        Some(CatalogEntry::Unreadable { error, .. }) => Err(Error::Repository(format!(
            "backup {id} of set '{set}' cannot be used: {error}"
        ))),
        None => Err(Error::Repository(format!(
            "set '{set}' has no backup {id} in {}; `zrm list --set {set}` shows the backups",
            repo.describe()
        ))),
    }
}

/// The newest complete full backup of a set.
pub fn latest_full(repo: &Repository, set: &str) -> Result<Option<Manifest>> {
    Ok(list_set(repo, set)?
        .into_iter()
        .rev()
        .find_map(|e| match e {
            CatalogEntry::Complete(m) if m.level == 0 => Some(*m),
            _ => None,
        }))
}

/// A new backup id: the UTC time to the second, so ids sort by time.
pub fn new_backup_id(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Whether `s` has the shape of a backup id (`20261126T101927Z`).
pub fn is_backup_id(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").is_ok() && s.len() == 16
}

/// Databases and their tables, for building a manifest.
pub fn databases_from(counts: &BTreeMap<String, BTreeMap<String, u64>>) -> Vec<DatabaseEntry> {
    counts
        .iter()
        .map(|(db, tables)| DatabaseEntry {
            name: db.clone(),
            tables: tables
                .iter()
                .map(|(t, rows)| TableEntry {
                    name: t.clone(),
                    rows: Some(*rows),
                    checksum: None,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Manifest {
        Manifest {
            format_version: MANIFEST_VERSION,
            id: "20261126T101927Z".into(),
            set: "shard1".into(),
            level: 0,
            parent_id: None,
            method: Method::Mysqldump,
            tool: ToolInfo {
                zrm: "zrm 0.1.0".into(),
                dump_tool: Some("mariadb-dump Ver 10.19".into()),
            },
            server: ServerInfo {
                host: "127.0.0.1".into(),
                port: Some(3306),
                socket: None,
                version: "10.11.19-MariaDB".into(),
                flavor: Flavor::MariaDB,
                server_id: 1,
                server_uuid: None,
                gtid_domain_id: Some(0),
                gtid_mode: "ON".into(),
                log_bin: true,
                binlog_format: "ROW".into(),
                time_zone: "SYSTEM (UTC)".into(),
                session_time_zone: Some("+00:00".into()),
            },
            start_time: "2026-11-26T10:19:27Z".parse().unwrap(),
            end_time: "2026-11-26T10:19:30Z".parse().unwrap(),
            consistent_point: Some(ConsistentPoint {
                binlog_file: "mysql-bin.000002".into(),
                binlog_pos: 865,
                gtid_set: Some("0-1-3".into()),
            }),
            read_lock_ms: None,
            databases: vec![DatabaseEntry {
                name: "app".into(),
                tables: vec![TableEntry {
                    name: "t".into(),
                    rows: Some(2),
                    checksum: None,
                }],
            }],
            files: vec![FileEntry {
                path: "dump.sql.zst".into(),
                size: 100,
                stored_size: 60,
                sha256: "00".repeat(32),
            }],
            compression: Compression::Zstd,
            encryption_key_id: None,
            status: BackupStatus::Complete,
            binlog_range: None,
            comment: Some("nightly".into()),
            selected_databases: None,
            exclude: vec!["app.tmp_*".into()],
            logical: None,
            physical: None,
        }
    }

    #[test]
    fn manifest_round_trips() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json(), "test").unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn newer_manifest_version_is_refused() {
        let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        v["format_version"] = 99.into();
        let err = Manifest::from_json(v.to_string().as_bytes(), "m.json").unwrap_err();
        assert!(err.to_string().contains("upgrade zrm"), "{err}");
    }

    #[test]
    fn ids_sort_by_time() {
        let a = new_backup_id("2026-11-26T09:59:59Z".parse().unwrap());
        let b = new_backup_id("2026-11-26T10:00:00Z".parse().unwrap());
        assert_eq!(a, "20261126T095959Z");
        assert!(a < b);
    }
}
