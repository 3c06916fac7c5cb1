//! A server's replication state, as a backup taken from a replica needs it: is it healthy
//! enough to back up, and where in its source's history is it.
//!
//! The channels come from `replication` (what `check` shows too); this module adds what a
//! backup decides and records: fit or not, the record of the source's point, and the paused
//! SQL thread.

use crate::error::{Error, Result};
use crate::manifest::Flavor;
pub use crate::manifest::ReplicaRecord;
use crate::mysql::replication::{Channel, ReplicationState};
use crate::mysql::Session;

/// The replication channels of the server (none: it is not a replica). Unlike `check`,
/// a backup cannot go on without knowing: a refused `SHOW REPLICA STATUS` is an error.
pub async fn status(s: &mut Session, flavor: Flavor) -> Result<Vec<Channel>> {
    let state = ReplicationState::gather(s, flavor).await?;
    if let Some(why) = state.unreadable.iter().find(|u| u.contains("STATUS")) {
        return Err(Error::Backup(format!(
            "{}: cannot tell whether it is a replica: {why}",
            s.server
        )));
    }
    Ok(state.channels)
}

/// Refuse a replica that is not fit to back up: its SQL thread stopped on an error, or
/// lagging beyond `max_lag` seconds. A replica whose SQL thread was stopped by hand (no
/// error) is static, and fine.
pub fn check_health(r: &Channel, server: &str, max_lag: u64) -> Result<()> {
    if !r.sql_ok() && (r.last_sql_errno != 0 || r.last_sql_error.is_some()) {
        return Err(Error::Backup(format!(
            "{server} is a replica of {} whose SQL thread stopped on error {}: {}. A backup of \
             it would hold a state its source never had after that point; fix replication \
             (or back up the source), then run the backup again",
            r.source(),
            r.last_sql_errno,
            r.last_sql_error.as_deref().unwrap_or_default()
        )));
    }
    if let Some(lag) = r.seconds_behind.filter(|l| *l > max_lag) {
        return Err(Error::Backup(format!(
            "{server} is a replica of {} and lags {lag} s behind it, more than max_replica_lag \
             = {max_lag} s; wait until it catches up, raise max_replica_lag, or set \
             replica_pause = true to back it up where it is",
            r.source()
        )));
    }
    Ok(())
}

/// `STOP REPLICA SQL_THREAD` for the time of a backup, started again on drop (also when the
/// backup fails). Only the applier stops: the replica keeps receiving from its source.
pub struct PausedReplica {
    conn: crate::connection::ConnectionConfig,
    flavor: Flavor,
    started_again: bool,
}

fn stop_sql(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MySQL => "STOP REPLICA SQL_THREAD",
        Flavor::MariaDB => "STOP SLAVE SQL_THREAD",
    }
}

fn start_sql(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MySQL => "START REPLICA SQL_THREAD",
        Flavor::MariaDB => "START SLAVE SQL_THREAD",
    }
}

impl PausedReplica {
    pub async fn pause(
        s: &mut Session,
        conn: &crate::connection::ConnectionConfig,
        flavor: Flavor,
    ) -> Result<PausedReplica> {
        s.exec(stop_sql(flavor)).await?;
        Ok(PausedReplica {
            conn: conn.clone(),
            flavor,
            started_again: false,
        })
    }

    pub async fn resume(mut self) -> Result<()> {
        self.started_again = true;
        let mut s = crate::mysql::connect(&self.conn).await?;
        let r = s.exec(start_sql(self.flavor)).await;
        s.close().await;
        r
    }
}

impl Drop for PausedReplica {
    fn drop(&mut self) {
        if self.started_again {
            return;
        }
        let conn = self.conn.clone();
        let q = start_sql(self.flavor);
        let started = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut s = crate::mysql::connect(&conn).await.ok()?;
                let r = s.exec(q).await.ok();
                s.close().await;
                r
            })
        })
        .join()
        .ok()
        .flatten();
        if started.is_none() {
            tracing::warn!(
                "could not start the replica's SQL thread again: run {q} on {}",
                self.conn.display()
            );
        }
    }
}
