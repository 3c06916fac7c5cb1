//! A server's replication state, as a backup taken from a replica needs it: is it healthy
//! enough to back up, and where in its source's history is it.
//!
//! Read from `SHOW REPLICA STATUS` (MySQL 8.4+, MariaDB 10.5+; MariaDB's older
//! `SHOW SLAVE STATUS` as a fallback) by column name, since the two flavors name and order the
//! columns differently (`Source_Host` / `Master_Host`, …).

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql::Session;

/// One replication channel of a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub source: String,
    pub io_running: bool,
    pub sql_running: bool,
    pub last_sql_errno: u32,
    pub last_sql_error: String,
    /// `NULL` while the SQL thread is stopped.
    pub seconds_behind: Option<u64>,
    /// The source's binlog file and position of the last transaction the SQL thread
    /// committed.
    pub source_file: String,
    pub source_pos: u64,
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

/// The replication channels of the server (none: it is not a replica).
pub async fn status(s: &mut Session) -> Result<Vec<ReplicaStatus>> {
    let rows = match show(s, "SHOW REPLICA STATUS").await {
        Ok(r) => r,
        Err(_) => show(s, "SHOW SLAVE STATUS").await?,
    };
    Ok(rows.iter().map(parse).collect())
}

async fn show(s: &mut Session, q: &str) -> Result<Vec<HashMap<String, String>>> {
    let rows: Vec<mysql_async::Row> = s.conn.query(q).await.map_err(|e| Error::Mysql {
        server: s.server.clone(),
        message: format!("`{q}` failed: {e}"),
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let names: Vec<String> = r
                .columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect();
            names
                .into_iter()
                .zip(r.unwrap())
                .map(|(n, v)| {
                    let text = match v {
                        mysql_async::Value::NULL => String::new(),
                        mysql_async::Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                        other => other.as_sql(true).trim_matches('\'').to_string(),
                    };
                    (n, text)
                })
                .collect()
        })
        .collect())
}

fn parse(r: &HashMap<String, String>) -> ReplicaStatus {
    // MySQL 8.4+ says Source/Replica, MariaDB and older MySQL Master/Slave.
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| r.get(*n))
            .cloned()
            .unwrap_or_default()
    };
    let yes = |v: String| v.eq_ignore_ascii_case("Yes");
    ReplicaStatus {
        source: format!(
            "{}:{}",
            get(&["Source_Host", "Master_Host"]),
            get(&["Source_Port", "Master_Port"])
        ),
        io_running: yes(get(&["Replica_IO_Running", "Slave_IO_Running"])),
        sql_running: yes(get(&["Replica_SQL_Running", "Slave_SQL_Running"])),
        last_sql_errno: get(&["Last_SQL_Errno"]).parse().unwrap_or(0),
        last_sql_error: get(&["Last_SQL_Error"]),
        seconds_behind: get(&["Seconds_Behind_Source", "Seconds_Behind_Master"])
            .parse()
            .ok(),
        source_file: get(&["Relay_Source_Log_File", "Relay_Master_Log_File"]),
        source_pos: get(&["Exec_Source_Log_Pos", "Exec_Master_Log_Pos"])
            .parse()
            .unwrap_or(0),
    }
}

/// Refuse a replica that is not fit to back up: its SQL thread stopped on an error, or
/// lagging beyond `max_lag` seconds. A replica whose SQL thread was stopped by hand (no
/// error) is static, and fine.
pub fn check_health(r: &ReplicaStatus, server: &str, max_lag: u64) -> Result<()> {
    if !r.sql_running && r.last_sql_errno != 0 {
        return Err(Error::Backup(format!(
            "{server} is a replica of {} whose SQL thread stopped on error {}: {}. A backup of \
             it would hold a state its source never had after that point; fix replication \
             (or back up the source), then run the backup again",
            r.source, r.last_sql_errno, r.last_sql_error
        )));
    }
    if let Some(lag) = r.seconds_behind.filter(|l| *l > max_lag) {
        return Err(Error::Backup(format!(
            "{server} is a replica of {} and lags {lag} s behind it, more than max_replica_lag \
             = {max_lag} s; wait until it catches up, raise max_replica_lag, or set \
             replica_pause = true to back it up where it is",
            r.source
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
