//! Incremental backups (level n+1): the binary logs since the previous backup.
//!
//! FLUSH BINARY LOGS closes the file being written, then every closed file from the previous
//! backup's end point on is archived (or, if `binlog archive --follow` runs, its copy is
//! awaited) and verified, and the manifest records the exact range: start = the parent's end
//! point, end = the end of the last closed file, with the GTID state there. A level that would
//! need binlogs that are gone (purged and never archived, another server) is refused.

use std::time::{Duration, Instant};

use crate::binlog::archive::{self, Archiver};
use crate::binlog::archive_index::{self as idx, BinlogIndex};
use crate::catalog::{self, CatalogEntry, ConsistentPoint, Manifest};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::mysql::{ServerFacts, Session};
use crate::repo::Repository;

/// Where the previous backup left the binlogs: the point the next incremental starts at.
pub fn end_point(m: &Manifest) -> Option<ConsistentPoint> {
    match &m.binlog_range {
        Some(r) => Some(r.end.clone()),
        None => m.consistent_point.clone(),
    }
}

/// Where an incremental over these archived files ends: the end of the last one, with the
/// GTID state there.
pub fn range_end(last: &BinlogIndex) -> ConsistentPoint {
    ConsistentPoint {
        binlog_file: last.file.clone(),
        binlog_pos: last.end_pos,
        gtid_set: last.gtid_state_at_end.clone(),
    }
}

/// An incremental's files: the archived segments of its binlogs, relative to its backup
/// directory.
pub fn range_files(range: &[BinlogIndex]) -> Vec<catalog::FileEntry> {
    range
        .iter()
        .flat_map(|i| {
            i.segments.iter().map(move |s| catalog::FileEntry {
                path: format!("../../binlogs/{}/{}", i.server_id, s.object),
                size: s.end - s.start,
                stored_size: s.stored_size,
                sha256: s.stored_sha256.clone(),
            })
        })
        .collect()
}

/// The newest complete backup of a set (any level): the parent of the next incremental.
pub fn latest(repo: &Repository, set: &str) -> Result<Option<Manifest>> {
    Ok(catalog::list_set(repo, set)?
        .into_iter()
        .rev()
        .find_map(|e| match e {
            CatalogEntry::Complete(m) => Some(*m),
            _ => None,
        }))
}

/// Why an incremental cannot follow `parent`, if it cannot.
pub fn unusable(
    repo: &Repository,
    parent: &Manifest,
    facts: &ServerFacts,
    server_files: &[(String, u64)],
) -> Result<Option<String>> {
    let Some(start) = end_point(parent) else {
        return Ok(Some(format!(
            "backup {} has no binlog position (binary logging was off when it was taken)",
            parent.id
        )));
    };
    if parent.server.server_id != facts.server_id {
        return Ok(Some(format!(
            "backup {} was taken from server_id {}, the server is now server_id {}",
            parent.id, parent.server.server_id, facts.server_id
        )));
    }
    let on_server = server_files.iter().any(|(f, _)| *f == start.binlog_file);
    let archived = idx::load(repo, &parent.set, facts.server_id, &start.binlog_file)?;
    let archived_enough = archived.is_some_and(|i| i.complete || i.end_pos >= start.binlog_pos);
    if !on_server && !archived_enough {
        return Ok(Some(format!(
            "{} (where backup {} ends) is neither on the server nor archived: the binlogs since \
             then are lost",
            start.binlog_file, parent.id
        )));
    }
    Ok(None)
}

/// Close the current binlog and make sure every closed file from `start` on is archived.
/// Returns the archived files of the range, in order.
pub async fn flush_and_archive(
    config: &ConfigFile,
    repo: &Repository,
    set: &crate::config::SetConfig,
    session: &mut Session,
    facts: &ServerFacts,
    start: &ConsistentPoint,
    note: &(dyn Fn(&str) + Sync),
) -> Result<Vec<BinlogIndex>> {
    session.exec("FLUSH BINARY LOGS").await.map_err(|e| {
        Error::Backup(format!(
            "{e} (an incremental backup needs the RELOAD privilege)"
        ))
    })?;
    let server_files = archive::server_binlogs(session).await?;
    let last_closed = server_files
        .len()
        .checked_sub(2)
        .map(|i| server_files[i].0.clone())
        .ok_or_else(|| {
            Error::Backup("the server lists no closed binlog after FLUSH BINARY LOGS".into())
        })?;
    match repo.backend().lock_binlogs(&set.name) {
        Ok(_lock) => {
            let archiver = Archiver::for_set(repo, config, set, facts, note);
            tokio::task::block_in_place(|| archiver.catch_up(&server_files))?;
        }
        Err(Error::Locked { .. }) => {
            // `binlog archive --follow` holds the archive: wait for it to close the file.
            note(&format!(
                "waiting for the running `binlog archive` to store {last_closed}"
            ));
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                if idx::load(repo, &set.name, facts.server_id, &last_closed)?
                    .is_some_and(|i| i.complete)
                {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(Error::Backup(format!(
                        "the running `binlog archive` of set '{}' did not store {last_closed} within 5 minutes",
                        set.name
                    )));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Err(e) => return Err(e),
    }
    let all = idx::load_all(repo, &set.name, facts.server_id)?;
    let range: Vec<BinlogIndex> = all
        .into_iter()
        .filter(|i| idx::file_order(&i.file) >= idx::file_order(&start.binlog_file))
        .filter(|i| idx::file_order(&i.file) <= idx::file_order(&last_closed))
        .collect();
    if range.first().map(|i| i.file.as_str()) != Some(start.binlog_file.as_str()) {
        return Err(Error::Backup(format!(
            "{} (the start of this incremental) is not in the archive",
            start.binlog_file
        )));
    }
    if let Some(g) = idx::gaps(&range).first() {
        return Err(Error::Backup(format!(
            "the binlog archive has a gap: {g}; take a full backup"
        )));
    }
    if let Some(open) = range.iter().find(|i| !i.complete) {
        return Err(Error::Backup(format!(
            "{} is not completely archived",
            open.file
        )));
    }
    Ok(range)
}
