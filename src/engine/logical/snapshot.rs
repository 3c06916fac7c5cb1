//! N connections reading one consistent state, and the binary-log point of that state.
//!
//! Commits are blocked only while the N `START TRANSACTION WITH CONSISTENT SNAPSHOT`s are
//! issued (milliseconds): MariaDB `BACKUP STAGE BLOCK_COMMIT` (blocks commits, not reads or
//! running writes), else `FLUSH TABLES WITH READ LOCK`. On MariaDB the coordinates are read
//! after the lock is released, from each snapshot's own `binlog_snapshot_file/position` — and
//! all N must agree, which proves the snapshots are one. One connection on MariaDB needs no
//! lock at all. If zrm dies, the server drops the lock with the connection.

use std::time::Duration;

use super::conn::DumpConn;
use super::SnapshotInfo;
use crate::catalog::ConsistentPoint;
use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql;
use crate::mysql::lock::{HeldLock, LockKind, LockRequest, LockTimes};

pub struct Snapshot {
    pub sessions: Vec<DumpConn>,
    pub point: Option<ConsistentPoint>,
    pub info: SnapshotInfo,
}

pub struct SnapshotOptions {
    pub connections: usize,
    pub flavor: Flavor,
    pub log_bin: bool,
    /// MariaDB 10.4.1 or later.
    pub backup_stage: bool,
    pub lock_timeout: Duration,
    /// Part of a coordinated cluster cut: wait for every shard's lock before starting.
    pub cut: Option<(std::sync::Arc<crate::cluster::cut::Cut>, String)>,
}

/// Session settings every dump connection reads with: raw bytes (no charset conversion),
/// TIMESTAMPs in UTC, backticks in SHOW CREATE, and patience with a slow writer.
pub const DUMP_SESSION: &[&str] = &[
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "SET NAMES binary",
    "SET SESSION time_zone = '+00:00'",
    "SET SESSION sql_mode = ''",
    "SET SESSION net_write_timeout = 3600",
    "SET SESSION net_read_timeout = 3600",
    "SET SESSION wait_timeout = 86400",
];

pub async fn prepare(s: &mut DumpConn, statements: &[&str]) -> Result<()> {
    for q in statements {
        s.exec(q).await?;
    }
    Ok(())
}

pub async fn open(conn: &ConnectionConfig, opts: &SnapshotOptions) -> Result<Snapshot> {
    let n = opts.connections.max(1);
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = DumpConn::open(conn).await?;
        prepare(&mut s, DUMP_SESSION).await?;
        sessions.push(s);
    }
    // A coordinated cut needs the lock even where one connection could do without.
    let lock_free = n == 1 && opts.flavor == Flavor::MariaDB && opts.cut.is_none();
    if lock_free {
        start_all(&mut sessions).await?;
        let point = mariadb_point(&mut sessions, opts.log_bin).await?;
        return Ok(Snapshot {
            sessions,
            point,
            info: SnapshotInfo {
                lock: "none".into(),
                connections: n,
                lock_wait_ms: 0,
                lock_hold_ms: 0,
            },
        });
    }

    let kind = if opts.flavor == Flavor::MariaDB && opts.backup_stage {
        LockKind::BackupStage
    } else {
        LockKind::FlushTablesWithReadLock
    };
    if let Some((cut, shard)) = &opts.cut {
        cut.all_ready(shard).await?;
    }
    let mut lock = HeldLock::take(&LockRequest {
        conn,
        kind,
        timeout: opts.lock_timeout,
        hint: ", or (MariaDB) use `parallel = 1`, which needs no lock",
    })
    .await?;
    let lock_name = kind.name();
    if let Some((cut, shard)) = &opts.cut {
        if let Err(e) = cut.all_locked(shard).await {
            let _ = lock.release().await;
            return Err(e);
        }
    }
    let started = start_all(&mut sessions).await;
    // MySQL has no per-snapshot coordinates: read them while commits are still blocked.
    let mysql_point = if started.is_ok() && opts.flavor == Flavor::MySQL && opts.log_bin {
        Some(lock.point(opts.flavor).await)
    } else {
        None
    };
    let times = lock.release().await;
    started?;
    let LockTimes {
        wait_ms: lock_wait_ms,
        hold_ms: lock_hold_ms,
    } = times?;
    let point = match mysql_point {
        Some(p) => p?,
        None => mariadb_point(&mut sessions, opts.log_bin).await?,
    };
    Ok(Snapshot {
        sessions,
        point,
        info: SnapshotInfo {
            lock: lock_name.into(),
            connections: n,
            lock_wait_ms,
            lock_hold_ms,
        },
    })
}

/// Issue the N snapshot starts concurrently, so the lock is held for one round trip.
async fn start_all(sessions: &mut [DumpConn]) -> Result<()> {
    let futs = sessions
        .iter_mut()
        .map(|s| s.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
    for r in futures_util::future::join_all(futs).await {
        r?;
    }
    Ok(())
}

async fn mariadb_point(
    sessions: &mut [DumpConn],
    log_bin: bool,
) -> Result<Option<ConsistentPoint>> {
    if !log_bin {
        return Ok(None);
    }
    let mut seen: Option<(String, u64)> = None;
    for s in sessions.iter_mut() {
        let rows = s.rows("SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
        let get = |name: &str| {
            rows.iter()
                .find(|r| r.first().and_then(|v| v.as_deref()) == Some(name))
                .and_then(|r| r.get(1).cloned().flatten())
        };
        let file = get("Binlog_snapshot_file").unwrap_or_default();
        let pos: u64 = get("Binlog_snapshot_position")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if file.is_empty() {
            return Err(Error::Backup(format!(
                "{} reports no binlog_snapshot_file although log_bin is on; the snapshot has \
                 no coordinates",
                s.server()
            )));
        }
        match &seen {
            None => seen = Some((file, pos)),
            Some(first) if *first != (file.clone(), pos) => {
                return Err(Error::Backup(format!(
                    "the dump connections see different snapshots ({}:{} and {file}:{pos}); \
                     the dump was stopped; this is a bug, please report it",
                    first.0, first.1
                )))
            }
            Some(_) => {}
        }
    }
    let (file, pos) = seen.expect("at least one session");
    let gtid = sessions[0]
        .value(&format!(
            "SELECT BINLOG_GTID_POS({}, {pos})",
            mysql::conn::quote_str(&file)
        ))
        .await?;
    Ok(Some(ConsistentPoint {
        binlog_file: file,
        binlog_pos: pos,
        gtid_set: gtid,
    }))
}

pub use crate::mysql::lock::has_backup_stage;
