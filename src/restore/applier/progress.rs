//! Where an interrupted replay may continue, kept on the target itself, inside the same
//! transactions as the work it describes.
//!
//! Two tables in `zrm_meta`:
//! - `replay_progress`, one row per restore (keyed by the backup restored): the position up
//!   to which every transaction is committed, set by batches that commit in the source's
//!   order, and the range handed to the client pipeline while it runs. A batch whose source
//!   GTIDs are added to the target's `gtid_executed` right after its commit (MySQL, see the
//!   applier) records them here as pending: if zrm stops between the two, the next run adds
//!   what the target lacks of them before anything else.
//! - `replay_lanes`, one row per lane: batches that keep their source GTID on a MySQL target
//!   commit as soon as they are applied, without waiting for earlier ones (one commit per
//!   GTID would otherwise be one fsync after another). Each such batch records in its lane's
//!   row the point before which every transaction was already committed when it was
//!   dispatched (`safe`) and its own end. After a stop, everything before the greatest `safe`
//!   is applied; between it and the greatest end, a transaction is applied exactly when its
//!   GTID is in the target's `gtid_executed`. Lanes never share a row, so commits never wait
//!   on each other's progress update.

use crate::binlog::coordinates::BinlogCoordinates;
use crate::error::{Error, Result};
use crate::mysql::conn::quote_str;
use crate::mysql::gtid::GtidSet;
use crate::mysql::Session;

use super::super::plan::ReplayFile;

/// A point of the replay: an index into the job's files and a byte position in that file.
pub type At = (usize, u64);

/// What the target recorded of this restore's replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Every transaction before this point is committed.
    pub committed: BinlogCoordinates,
    /// A range was being applied through the client pipeline, from `committed` up to here.
    pub pipeline_end: Option<u64>,
    /// Batches that commit out of order reached this far: a transaction between `committed`
    /// and here may be applied already (its GTID on the target says).
    pub unordered_end: Option<BinlogCoordinates>,
    /// The source GTIDs of the last batch committed in order, which the target's
    /// `gtid_executed` must hold.
    pub gtids_pending: Option<GtidSet>,
}

impl Recorded {
    /// `committed` and `unordered_end` as points of the job's files (a file the job does not
    /// replay is not a point of it).
    pub fn points(&self, files: &[ReplayFile]) -> (Option<At>, Option<At>) {
        let at = |c: &BinlogCoordinates| {
            files
                .iter()
                .position(|f| f.file == c.file)
                .map(|k| (k, c.pos))
        };
        (
            at(&self.committed),
            self.unordered_end.as_ref().and_then(at),
        )
    }
}

/// `UPDATE` of the restore's row: every transaction before `at` is committed (and the
/// source GTIDs of the batch that ends there, when they are added after the commit).
pub fn ordered_sql(
    backup_id: &str,
    at: &BinlogCoordinates,
    pipeline_end: Option<u64>,
    gtids: Option<&GtidSet>,
) -> String {
    format!(
        "UPDATE zrm_meta.replay_progress SET file = {}, pos = {}, pipeline_end = {}, \
         gtids_pending = {} WHERE backup_id = {}",
        quote_str(&at.file),
        at.pos,
        pipeline_end.map_or("NULL".to_string(), |e| e.to_string()),
        gtids.map_or("NULL".to_string(), |g| quote_str(&g.to_string())),
        quote_str(backup_id)
    )
}

/// The lane's row, written by a batch that commits out of order.
pub fn unordered_sql(
    backup_id: &str,
    lane: usize,
    safe: &BinlogCoordinates,
    end: &BinlogCoordinates,
) -> String {
    format!(
        "INSERT INTO zrm_meta.replay_lanes (backup_id, lane, safe_file, safe_pos, end_file, \
         end_pos) VALUES ({}, {lane}, {}, {}, {}, {}) ON DUPLICATE KEY UPDATE safe_file = \
         VALUES(safe_file), safe_pos = VALUES(safe_pos), end_file = VALUES(end_file), end_pos \
         = VALUES(end_pos)",
        quote_str(backup_id),
        quote_str(&safe.file),
        safe.pos,
        quote_str(&end.file),
        end.pos
    )
}

/// The tables: created, this restore's rows reset for a new replay, or read for a resume.
pub async fn prepare(
    s: &mut Session,
    backup_id: &str,
    files: &[ReplayFile],
    resume: bool,
) -> Result<Option<Recorded>> {
    let first = files.first();
    s.exec("CREATE DATABASE IF NOT EXISTS zrm_meta").await?;
    s.exec(
        "CREATE TABLE IF NOT EXISTS zrm_meta.replay_progress (backup_id VARCHAR(128) NOT NULL \
         PRIMARY KEY, file VARCHAR(512) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pipeline_end \
         BIGINT UNSIGNED NULL, gtids_pending MEDIUMTEXT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) \
         ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
    )
    .await?;
    // A table an earlier zrm created, for a replay it left to resume.
    if s.value(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'zrm_meta' AND \
         TABLE_NAME = 'replay_progress' AND COLUMN_NAME = 'gtids_pending'",
    )
    .await?
    .as_deref()
        == Some("0")
    {
        s.exec("ALTER TABLE zrm_meta.replay_progress ADD COLUMN gtids_pending MEDIUMTEXT NULL")
            .await?;
    }
    s.exec(
        "CREATE TABLE IF NOT EXISTS zrm_meta.replay_lanes (backup_id VARCHAR(128) NOT NULL, \
         lane INT UNSIGNED NOT NULL, safe_file VARCHAR(512) NOT NULL, safe_pos BIGINT UNSIGNED \
         NOT NULL, end_file VARCHAR(512) NOT NULL, end_pos BIGINT UNSIGNED NOT NULL, PRIMARY \
         KEY (backup_id, lane)) ENGINE=InnoDB",
    )
    .await?;
    let recorded = if resume {
        read(s, backup_id, files).await?
    } else {
        None
    };
    if recorded.is_none() {
        let id = quote_str(backup_id);
        s.exec(&format!(
            "REPLACE INTO zrm_meta.replay_progress (backup_id, file, pos) VALUES ({id}, {}, {})",
            quote_str(first.map_or("", |f| f.file.as_str())),
            first.map_or(0, |f| f.start)
        ))
        .await?;
        s.exec(&format!(
            "DELETE FROM zrm_meta.replay_lanes WHERE backup_id = {id}"
        ))
        .await?;
    }
    Ok(recorded)
}

/// What the target holds of this restore's replay, or `None` without its row. Points are
/// compared by their place in the job's `files` (names alone do not order the files of
/// several servers of a set's timeline).
pub async fn read(
    s: &mut Session,
    backup_id: &str,
    files: &[ReplayFile],
) -> Result<Option<Recorded>> {
    let place = |c: &BinlogCoordinates| {
        files
            .iter()
            .position(|f| f.file == c.file)
            .map(|k| (k, c.pos))
    };
    let id = quote_str(backup_id);
    let rows = s
        .rows(&format!(
            "SELECT file, pos, pipeline_end, gtids_pending FROM zrm_meta.replay_progress WHERE \
             backup_id = {id}"
        ))
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let cell = |i: usize| row.get(i).cloned().flatten();
    let unreadable = || {
        Error::Restore(format!(
            "zrm_meta.replay_progress on the target holds an unreadable row for {backup_id}; \
             restore again with --replace"
        ))
    };
    let mut recorded = Recorded {
        committed: BinlogCoordinates::new(
            cell(0).ok_or_else(unreadable)?,
            cell(1)
                .and_then(|p| p.parse().ok())
                .ok_or_else(unreadable)?,
        ),
        pipeline_end: cell(2).and_then(|p| p.parse().ok()),
        unordered_end: None,
        gtids_pending: match cell(3) {
            Some(g) => Some(GtidSet::parse(&g).map_err(|_| unreadable())?),
            None => None,
        },
    };
    let lanes = s
        .rows(&format!(
            "SELECT safe_file, safe_pos, end_file, end_pos FROM zrm_meta.replay_lanes WHERE \
             backup_id = {id}"
        ))
        .await
        // A target whose interrupted replay was run by an earlier zrm has no lane table.
        .unwrap_or_default();
    for r in lanes {
        let cell = |i: usize| r.get(i).cloned().flatten();
        let (Some(sf), Some(sp), Some(ef), Some(ep)) = (cell(0), cell(1), cell(2), cell(3)) else {
            continue;
        };
        let (Ok(sp), Ok(ep)) = (sp.parse::<u64>(), ep.parse::<u64>()) else {
            continue;
        };
        let safe = BinlogCoordinates::new(sf, sp);
        let end = BinlogCoordinates::new(ef, ep);
        // A lane's row of a file this replay does not read is of no use to it.
        let (Some(safe_at), Some(end_at)) = (place(&safe), place(&end)) else {
            continue;
        };
        // The restore's row is ahead of a lane's only after an ordered batch or a pipeline
        // range that came later; its pipeline mark then stays.
        if place(&recorded.committed).is_none_or(|c| safe_at > c) {
            recorded.committed = safe;
            recorded.pipeline_end = None;
        }
        if recorded
            .unordered_end
            .as_ref()
            .and_then(place)
            .is_none_or(|u| end_at > u)
        {
            recorded.unordered_end = Some(end);
        }
    }
    let committed_at = place(&recorded.committed);
    if let Some(u) = recorded.unordered_end.as_ref().and_then(place) {
        if committed_at.is_some_and(|c| u <= c) {
            recorded.unordered_end = None;
        }
    }
    Ok(Some(recorded))
}

/// After a complete replay the rows have served: the target is left as the source was,
/// without zrm's tables (or schema) unless something else of zrm's is in it.
pub async fn forget(s: &mut Session, backup_id: &str) -> Result<()> {
    let id = quote_str(backup_id);
    for table in ["replay_progress", "replay_lanes"] {
        s.exec(&format!(
            "DELETE FROM zrm_meta.{table} WHERE backup_id = {id}"
        ))
        .await?;
        if s.value(&format!("SELECT COUNT(*) FROM zrm_meta.{table}"))
            .await?
            .as_deref()
            == Some("0")
        {
            s.exec(&format!("DROP TABLE IF EXISTS zrm_meta.{table}"))
                .await?;
        }
    }
    let left = s
        .value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'zrm_meta'")
        .await?;
    if left.as_deref() == Some("0") {
        s.exec("DROP DATABASE IF EXISTS zrm_meta").await?;
    }
    Ok(())
}
