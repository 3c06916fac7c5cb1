//! Manifests and the catalog of a set's backups.
//!
//! A backup *is* its manifest: a directory without `manifest.json` is an interrupted backup,
//! listed as incomplete (with `list --all`) and never restored. The manifest is a versioned
//! struct; readers refuse a version newer than they know.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::repo::{Repository, MANIFEST_FILE};

pub use crate::manifest::*;

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
    crate::names::check_component("backup id", id)?;
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
            replica: None,
            server_choice: None,
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
