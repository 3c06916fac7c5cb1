//! The momentary backup lock: the lightest lock under which data files and the binary-log
//! position agree, held only while something quick happens (snapshots start, a volume snapshot
//! is cut), and measured.
//!
//! * MariaDB 10.4.1+: `BACKUP STAGE START` + `BACKUP STAGE BLOCK_COMMIT` — commits wait, reads
//!   and running statements go on; `BACKUP STAGE END` releases.
//! * MySQL and older MariaDB: `FLUSH TABLES WITH READ LOCK`. (MySQL 8's `LOCK INSTANCE FOR
//!   BACKUP` does not hold commits back, so the binary-log position read under it would not be
//!   the position of a volume snapshot cut a moment later; only FTWRL gives that on MySQL.)
//!
//! The lock lives in one connection: if zrm dies, the server drops the connection and with it
//! the lock. Waiting is bounded by `lock_wait_timeout` and retried, so a long statement that
//! blocks the lock costs the application a few short stalls, never one long one; the final
//! error names the statements that were running longest. A waiting FLUSH TABLES WITH READ LOCK
//! stops every new write statement (a waiting BACKUP STAGE only commits), and on MySQL it
//! cannot succeed at all while a write waits for a row lock held by a transaction between two
//! statements (that transaction's next statement waits for the FTWRL, which waits for the
//! write: a cycle the server only breaks by the timeout; seen with three writers on one
//! counter row). So its tries are short (2 s at most), many, and spread over `lock_timeout`.
//!
//! [`lock_all`] takes the lock on several servers at once and holds all or none: the step a
//! coordinated cluster backup is built on.

use std::time::{Duration, Instant};

use crate::catalog::ConsistentPoint;
use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql::{self, Session};

/// How many times the lock is tried within the set's `lock_timeout` (at least).
pub const LOCK_ATTEMPTS: u32 = 3;
/// The longest a FLUSH TABLES WITH READ LOCK may wait in one try (it stops every write while
/// it waits).
const FTWRL_MAX_TRY_S: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    BackupStage,
    FlushTablesWithReadLock,
}

impl LockKind {
    pub fn for_server(flavor: Flavor, version: &str) -> LockKind {
        if flavor == Flavor::MariaDB && has_backup_stage(version) {
            LockKind::BackupStage
        } else {
            LockKind::FlushTablesWithReadLock
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LockKind::BackupStage => "BACKUP STAGE BLOCK_COMMIT",
            LockKind::FlushTablesWithReadLock => "FLUSH TABLES WITH READ LOCK",
        }
    }

    fn take_sql(self) -> &'static [&'static str] {
        match self {
            LockKind::BackupStage => &["BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"],
            LockKind::FlushTablesWithReadLock => &["FLUSH TABLES WITH READ LOCK"],
        }
    }

    /// How many tries of how many seconds each within `timeout`: a third each for BACKUP
    /// STAGE; for FLUSH TABLES WITH READ LOCK at most [`FTWRL_MAX_TRY_S`] each, as many as fit.
    pub fn schedule(self, timeout: Duration) -> (u32, u64) {
        let total = timeout.as_secs().max(1);
        match self {
            LockKind::BackupStage => (LOCK_ATTEMPTS, (total / LOCK_ATTEMPTS as u64).max(1)),
            LockKind::FlushTablesWithReadLock => {
                let per_try = (total / LOCK_ATTEMPTS as u64).clamp(1, FTWRL_MAX_TRY_S);
                let attempts = (total / per_try).clamp(LOCK_ATTEMPTS as u64, 60) as u32;
                (attempts, per_try)
            }
        }
    }

    fn release_sql(self) -> &'static str {
        match self {
            LockKind::BackupStage => "BACKUP STAGE END",
            LockKind::FlushTablesWithReadLock => "UNLOCK TABLES",
        }
    }
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

/// What to lock and how patiently.
#[derive(Debug, Clone)]
pub struct LockRequest<'a> {
    pub conn: &'a ConnectionConfig,
    pub kind: LockKind,
    /// The whole budget for waiting, split over [`LOCK_ATTEMPTS`] tries.
    pub timeout: Duration,
    /// Appended to the time-out error: what else the user can do (method-specific).
    pub hint: &'a str,
}

/// A held backup lock. Dropping it without [`release`](HeldLock::release) closes nothing
/// explicitly, but the connection's end releases the lock on the server anyway.
pub struct HeldLock {
    session: Session,
    kind: LockKind,
    held_since: Instant,
    /// How long taking the lock waited (all attempts).
    pub wait_ms: u64,
    /// How many attempts it took (1 = at once).
    pub attempts: u32,
}

/// The lock's measurements once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTimes {
    pub wait_ms: u64,
    pub hold_ms: u64,
}

impl HeldLock {
    pub async fn take(req: &LockRequest<'_>) -> Result<HeldLock> {
        let mut session = mysql::connect(req.conn).await?;
        let (attempts, per_try) = req.kind.schedule(req.timeout);
        session
            .exec(&format!("SET SESSION lock_wait_timeout = {per_try}"))
            .await?;
        let waited = Instant::now();
        let mut last_err = None;
        for attempt in 1..=attempts {
            match try_lock(&mut session, req.kind).await {
                Ok(()) => {
                    return Ok(HeldLock {
                        session,
                        kind: req.kind,
                        held_since: Instant::now(),
                        wait_ms: waited.elapsed().as_millis() as u64,
                        attempts: attempt,
                    })
                }
                Err(e) => {
                    let text = e.to_string();
                    if is_denied(&text) {
                        session.close().await;
                        return Err(Error::Backup(format!(
                            "{e}: the account may not take {}; grant it RELOAD (FLUSH TABLES \
                             WITH READ LOCK and BACKUP STAGE both need it); `zrm check --set …` \
                             lists what is missing",
                            req.kind.name()
                        )));
                    }
                    if !is_timeout(&text) {
                        session.close().await;
                        return Err(e);
                    }
                    last_err = Some(e);
                    if attempt < attempts {
                        // Let the application run between attempts.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        let blockers = long_statements(&mut session).await;
        session.close().await;
        let why = match req.kind {
            LockKind::FlushTablesWithReadLock => {
                "; FLUSH TABLES WITH READ LOCK waits for every running write, and cannot outwait \
                 writes queued on a row lock that an open transaction holds (a hot row, such as \
                 a counter every transaction updates): back up when fewer such writes run, or \
                 from a replica"
            }
            LockKind::BackupStage => "",
        };
        Err(Error::Backup(format!(
            "could not take {} on {} in {attempts} attempts of {per_try}s each ({}); {}; \
             let them finish, raise `lock_timeout` for the set{}{why}",
            req.kind.name(),
            req.conn.display(),
            last_err.map(|e| e.to_string()).unwrap_or_default(),
            blockers,
            req.hint
        )))
    }

    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// The lock's own connection (to read coordinates while commits are held back).
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The binary-log coordinates now: exact, since commits are held back.
    pub async fn point(&mut self, flavor: Flavor) -> Result<Option<ConsistentPoint>> {
        current_point(&mut self.session, flavor).await
    }

    /// Milliseconds held so far.
    pub fn held_ms(&self) -> u64 {
        self.held_since.elapsed().as_millis() as u64
    }

    /// Release the lock; the hold time runs to the moment the server confirmed the release.
    pub async fn release(mut self) -> Result<LockTimes> {
        let released = self.session.exec(self.kind.release_sql()).await;
        let times = LockTimes {
            wait_ms: self.wait_ms,
            hold_ms: self.held_since.elapsed().as_millis() as u64,
        };
        self.session.close().await;
        released.map(|_| times)
    }
}

async fn try_lock(s: &mut Session, kind: LockKind) -> Result<()> {
    for q in kind.take_sql() {
        if let Err(e) = s.exec(q).await {
            // Leave no half-taken stage behind for the next attempt.
            let _ = s.exec(kind.release_sql()).await;
            return Err(e);
        }
    }
    Ok(())
}

fn is_denied(text: &str) -> bool {
    text.contains("1227") || text.contains("1045") || text.contains("denied")
}

fn is_timeout(text: &str) -> bool {
    text.contains("1205") || text.to_ascii_lowercase().contains("lock wait timeout")
}

/// Take the lock on every server concurrently; all are held when this returns, or none is
/// (each lock taken is released before the error returns, naming the server that failed).
pub async fn lock_all(reqs: &[LockRequest<'_>]) -> Result<Vec<HeldLock>> {
    let results =
        futures_util::future::join_all(reqs.iter().map(|r| async move { HeldLock::take(r).await }))
            .await;
    let mut held = Vec::new();
    let mut failures = Vec::new();
    for (r, req) in results.into_iter().zip(reqs) {
        match r {
            Ok(l) => held.push(l),
            Err(e) => failures.push(format!("{}: {e}", req.conn.display())),
        }
    }
    if failures.is_empty() {
        return Ok(held);
    }
    for l in held {
        let _ = l.release().await;
    }
    Err(Error::Backup(format!(
        "the lock could not be taken on every server, so none is held: {}",
        failures.join("; ")
    )))
}

/// `SHOW MASTER STATUS` and the GTID state: the coordinates of the last commit.
pub async fn current_point(s: &mut Session, flavor: Flavor) -> Result<Option<ConsistentPoint>> {
    let rows = match s.rows("SHOW BINARY LOG STATUS").await {
        Ok(r) => r,
        Err(_) => s.rows("SHOW MASTER STATUS").await?,
    };
    let Some(r) = rows.into_iter().next() else {
        return Ok(None); // binary logging is off
    };
    let file = r.first().cloned().flatten().unwrap_or_default();
    let pos = r
        .get(1)
        .cloned()
        .flatten()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let gtid_set = match flavor {
        Flavor::MySQL => r.get(4).cloned().flatten().map(|g| g.replace('\n', "")),
        Flavor::MariaDB => s
            .value("SELECT @@GLOBAL.gtid_binlog_pos")
            .await?
            .filter(|g| !g.is_empty()),
    };
    Ok(Some(ConsistentPoint {
        binlog_file: file,
        binlog_pos: pos,
        gtid_set,
    }))
}

/// The statements running longest on the server (the likely blockers of a lock), for an error.
pub async fn long_statements(s: &mut Session) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_stage_versions() {
        assert!(has_backup_stage("10.11.19-MariaDB-0+deb12u1"));
        assert!(has_backup_stage("11.4.2-MariaDB"));
        assert!(!has_backup_stage("10.3.39-MariaDB"));
        assert_eq!(
            LockKind::for_server(Flavor::MySQL, "8.0.36"),
            LockKind::FlushTablesWithReadLock
        );
        assert_eq!(
            LockKind::for_server(Flavor::MariaDB, "10.11.19-MariaDB"),
            LockKind::BackupStage
        );
    }

    #[test]
    fn ftwrl_tries_are_short_backup_stage_tries_a_third() {
        let ftwrl = LockKind::FlushTablesWithReadLock;
        assert_eq!(ftwrl.schedule(Duration::from_secs(60)), (30, 2));
        assert_eq!(ftwrl.schedule(Duration::from_secs(3)), (3, 1));
        assert_eq!(ftwrl.schedule(Duration::from_secs(1)), (3, 1));
        assert_eq!(ftwrl.schedule(Duration::from_secs(6)), (3, 2));
        assert_eq!(
            LockKind::BackupStage.schedule(Duration::from_secs(60)),
            (3, 20)
        );
    }

    #[test]
    fn classifies_errors() {
        assert!(is_timeout(
            "ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting transaction"
        ));
        assert!(!is_timeout("ERROR 1064 syntax"));
        assert!(is_denied(
            "Access denied; you need (at least one of) the RELOAD privilege(s)"
        ));
    }
}
