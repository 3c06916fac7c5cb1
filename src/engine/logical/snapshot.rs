//! N connections reading one consistent state, and the binary-log point of that state.
//!
//! Commits are blocked only while the N `START TRANSACTION WITH CONSISTENT SNAPSHOT`s are
//! issued (milliseconds): MariaDB `BACKUP STAGE BLOCK_COMMIT` (blocks commits, not reads or
//! running writes), else `FLUSH TABLES WITH READ LOCK`. On MariaDB the coordinates are read
//! after the lock is released, from each snapshot's own `binlog_snapshot_file/position` — and
//! all N must agree, which proves the snapshots are one. One connection on MariaDB needs no
//! lock at all. If zrm dies, the server drops the lock with the connection.

use std::time::{Duration, Instant};

use super::conn::DumpConn;
use super::SnapshotInfo;
use crate::catalog::{ConsistentPoint, Flavor};
use crate::config::ConnectionConfig;
use crate::error::{Error, Result};
use crate::mysql::{self, Session};

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
    let lock_free = n == 1 && opts.flavor == Flavor::MariaDB;
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

    let mut locker = mysql::connect(conn).await?;
    locker
        .exec(&format!(
            "SET SESSION lock_wait_timeout = {}",
            opts.lock_timeout.as_secs().max(1)
        ))
        .await?;
    let (lock_name, lock_sql, unlock_sql): (&str, &[&str], &str) =
        if opts.flavor == Flavor::MariaDB && opts.backup_stage {
            (
                "BACKUP STAGE BLOCK_COMMIT",
                &["BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"],
                "BACKUP STAGE END",
            )
        } else {
            (
                "FLUSH TABLES WITH READ LOCK",
                &["FLUSH TABLES WITH READ LOCK"],
                "UNLOCK TABLES",
            )
        };
    let waited = Instant::now();
    for q in lock_sql {
        if let Err(e) = locker.exec(q).await {
            let _ = locker.exec(unlock_sql).await;
            locker.close().await;
            let text = e.to_string();
            if text.contains("1227") || text.contains("1045") || text.contains("denied") {
                return Err(Error::Backup(format!(
                    "{e}: the account may not take {lock_name}; grant it RELOAD \
                     (`zrm check --set …` lists what is missing), or (MariaDB) use \
                     `parallel = 1`, which needs no lock"
                )));
            }
            let blockers = long_statements(&mut sessions[0]).await;
            return Err(Error::Backup(format!(
                "could not take {lock_name} on {} within {}s: {e}; {}; let them finish, raise \
                 `lock_timeout` for the set, or (MariaDB) use `parallel = 1`, which needs no lock",
                conn.display(),
                opts.lock_timeout.as_secs(),
                blockers
            )));
        }
    }
    let lock_wait_ms = waited.elapsed().as_millis() as u64;
    let held = Instant::now();
    let started = start_all(&mut sessions).await;
    // MySQL has no per-snapshot coordinates: read them while commits are still blocked.
    let mysql_point = if started.is_ok() && opts.flavor == Flavor::MySQL && opts.log_bin {
        Some(mysql_point(&mut locker).await)
    } else {
        None
    };
    let released = locker.exec(unlock_sql).await;
    let lock_hold_ms = held.elapsed().as_millis() as u64;
    locker.close().await;
    started?;
    released?;
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

async fn mysql_point(locker: &mut Session) -> Result<Option<ConsistentPoint>> {
    let rows = match locker.rows("SHOW BINARY LOG STATUS").await {
        Ok(r) => r,
        Err(_) => locker.rows("SHOW MASTER STATUS").await?,
    };
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let file = r.first().cloned().flatten().unwrap_or_default();
    let pos = r
        .get(1)
        .cloned()
        .flatten()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let gtid = r.get(4).cloned().flatten().map(|g| g.replace('\n', ""));
    Ok(Some(ConsistentPoint {
        binlog_file: file,
        binlog_pos: pos,
        gtid_set: gtid,
    }))
}

/// The statements running longest on the server (the likely blockers of a lock), for an error.
async fn long_statements(s: &mut DumpConn) -> String {
    let rows = s
        .rows(
            "SELECT ID, USER, TIME, COMMAND, LEFT(COALESCE(INFO, ''), 200) \
             FROM information_schema.PROCESSLIST \
             WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') \
             AND COALESCE(INFO, '') NOT LIKE 'BACKUP STAGE%' \
             AND COALESCE(INFO, '') NOT LIKE 'FLUSH TABLES WITH READ LOCK%' \
             ORDER BY TIME DESC LIMIT 3",
        )
        .await
        .unwrap_or_default();
    if rows.is_empty() {
        return "no other statement was running when zrm looked".into();
    }
    let list: Vec<String> = rows
        .iter()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            format!(
                "connection {} (user {}, running {} s): {}",
                f(0),
                f(1),
                f(2),
                if f(4).is_empty() { f(3) } else { f(4) }
            )
        })
        .collect();
    format!("longest running: {}", list.join("; "))
}

/// MariaDB 10.4.1 added BACKUP STAGE.
pub fn has_backup_stage(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a, b, c) >= (10, 4, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backup_stage_versions() {
        assert!(super::has_backup_stage("10.11.19-MariaDB-0+deb12u1"));
        assert!(super::has_backup_stage("11.4.2-MariaDB"));
        assert!(!super::has_backup_stage("10.3.39-MariaDB"));
    }
}
