//! A server's place in replication, as `check` reports it: its role (primary, replica of
//! HOST:PORT, standalone), each replication channel's state (IO and SQL threads, last error,
//! seconds behind the source), `read_only`, and the replicas registered with it.
//!
//! Reads only (`SHOW REPLICA STATUS` / `SHOW ALL SLAVES STATUS`, `SHOW REPLICAS` / `SHOW SLAVE
//! HOSTS`, `@@read_only`); never starts, stops or changes replication. Columns are read by
//! name: MySQL 8.4+/9.x says `Source_Host`, `Replica_IO_Running`; MariaDB `Master_Host`,
//! `Slave_IO_Running`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::conn::Session;
use crate::error::Result;
use crate::manifest::Flavor;

/// What a server is in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Replicates from a source (it may have replicas of its own too).
    Replica,
    /// Has replicas registered, replicates from no one.
    Primary,
    /// Neither.
    Standalone,
}

/// One replication channel (MySQL) or connection (MariaDB multi-source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// The channel's or connection's name ("" for the default one).
    pub name: String,
    pub source_host: String,
    pub source_port: u16,
    /// `Yes`, `No` or `Connecting`.
    pub io_running: String,
    pub sql_running: String,
    pub last_io_error: Option<String>,
    pub last_sql_error: Option<String>,
    /// None while the SQL thread is stopped or the IO thread not connected.
    pub seconds_behind: Option<u64>,
    /// GTID auto-positioning (MySQL `Auto_Position`, MariaDB `Using_Gtid`).
    pub gtid_positioning: Option<String>,
    /// The SQL thread's last error number (0: none).
    pub last_sql_errno: u32,
    /// The source's binlog file and position of the last transaction the SQL thread
    /// committed (`Relay_Source_Log_File`, `Exec_Source_Log_Pos`).
    pub executed_file: String,
    pub executed_pos: u64,
}

impl Channel {
    pub fn io_ok(&self) -> bool {
        self.io_running.eq_ignore_ascii_case("yes")
    }
    pub fn sql_ok(&self) -> bool {
        self.sql_running.eq_ignore_ascii_case("yes")
    }
    /// `HOST:PORT`.
    pub fn source(&self) -> String {
        format!("{}:{}", self.source_host, self.source_port)
    }
}

/// A replica registered with this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredReplica {
    pub server_id: u32,
    /// Its `report_host` (empty when it sets none).
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplicationState {
    pub role: Role,
    pub read_only: bool,
    /// MySQL `super_read_only`.
    pub super_read_only: Option<bool>,
    pub channels: Vec<Channel>,
    pub replicas: Vec<RegisteredReplica>,
    /// What could not be read (a missing privilege), said, not fatal.
    pub unreadable: Vec<String>,
}

fn text(row: &BTreeMap<String, Option<String>>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| row.get(*n).cloned().flatten())
        .filter(|v| !v.is_empty())
}

fn channel_of(row: &BTreeMap<String, Option<String>>) -> Channel {
    Channel {
        name: text(row, &["Channel_Name", "Connection_name"]).unwrap_or_default(),
        source_host: text(row, &["Source_Host", "Master_Host"]).unwrap_or_default(),
        source_port: text(row, &["Source_Port", "Master_Port"])
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        io_running: text(row, &["Replica_IO_Running", "Slave_IO_Running"])
            .unwrap_or_else(|| "No".into()),
        sql_running: text(row, &["Replica_SQL_Running", "Slave_SQL_Running"])
            .unwrap_or_else(|| "No".into()),
        last_io_error: text(row, &["Last_IO_Error"]),
        last_sql_error: text(row, &["Last_SQL_Error"]),
        seconds_behind: text(row, &["Seconds_Behind_Source", "Seconds_Behind_Master"])
            .and_then(|s| s.parse().ok()),
        gtid_positioning: text(row, &["Auto_Position", "Using_Gtid"]),
        last_sql_errno: text(row, &["Last_SQL_Errno"])
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        executed_file: text(row, &["Relay_Source_Log_File", "Relay_Master_Log_File"])
            .unwrap_or_default(),
        executed_pos: text(row, &["Exec_Source_Log_Pos", "Exec_Master_Log_Pos"])
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    }
}

fn replica_of(row: &BTreeMap<String, Option<String>>) -> Option<RegisteredReplica> {
    Some(RegisteredReplica {
        server_id: text(row, &["Server_Id", "Server_id"])?.parse().ok()?,
        host: text(row, &["Host"]).unwrap_or_default(),
        port: text(row, &["Port"])
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    })
}

impl ReplicationState {
    /// Read the server's replication state. Statements refused (a missing privilege) are
    /// listed in `unreadable`; only a lost connection is an error.
    pub async fn gather(s: &mut Session, flavor: Flavor) -> Result<ReplicationState> {
        let (status_sql, hosts_sql, status_grant, hosts_grant) = match flavor {
            Flavor::MySQL => (
                "SHOW REPLICA STATUS",
                "SHOW REPLICAS",
                "REPLICATION CLIENT",
                "REPLICATION SLAVE",
            ),
            Flavor::MariaDB => (
                "SHOW ALL SLAVES STATUS",
                "SHOW SLAVE HOSTS",
                "SLAVE MONITOR",
                "REPLICATION MASTER ADMIN",
            ),
        };
        let mut unreadable = Vec::new();
        let channels = match s.named_rows(status_sql).await {
            Ok(rows) => rows
                .iter()
                .map(channel_of)
                .filter(|c| !c.source_host.is_empty())
                .collect(),
            Err(e) => {
                unreadable.push(format!(
                    "{status_sql} was refused ({e}): GRANT {status_grant} ON *.* to read whether \
                     this server is a replica"
                ));
                Vec::new()
            }
        };
        // MySQL's multi-threaded applier reports "Coordinator stopped because there were
        // error(s) in the worker(s)": the worker's own error says what failed.
        let mut channels: Vec<Channel> = channels;
        if flavor == Flavor::MySQL {
            for c in channels.iter_mut().filter(|c| c.last_sql_error.is_some()) {
                let q = format!(
                    "SELECT LAST_ERROR_MESSAGE FROM performance_schema.replication_applier_status_by_worker \
                     WHERE CHANNEL_NAME = {} AND LAST_ERROR_NUMBER <> 0 LIMIT 1",
                    super::conn::quote_str(&c.name)
                );
                if let Ok(Some(worker)) = s.value(&q).await {
                    if !worker.is_empty() {
                        c.last_sql_error = Some(worker);
                    }
                }
            }
        }
        let replicas = match s.named_rows(hosts_sql).await {
            Ok(rows) => rows.iter().filter_map(replica_of).collect(),
            Err(e) => {
                unreadable.push(format!(
                    "{hosts_sql} was refused ({e}): GRANT {hosts_grant} ON *.* to list the \
                     replicas of this server"
                ));
                Vec::new()
            }
        };
        let ro = match flavor {
            Flavor::MySQL => "SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only",
            Flavor::MariaDB => "SELECT @@GLOBAL.read_only, NULL",
        };
        let row = s.rows(ro).await?.into_iter().next().unwrap_or_default();
        let flag = |v: Option<&Option<String>>| {
            v.cloned()
                .flatten()
                .map(|v| v == "1" || v.eq_ignore_ascii_case("on"))
        };
        let read_only = flag(row.first()).unwrap_or(false);
        let super_read_only = flag(row.get(1));
        let role = if !channels.is_empty() {
            Role::Replica
        } else if !replicas.is_empty() {
            Role::Primary
        } else {
            Role::Standalone
        };
        Ok(ReplicationState {
            role,
            read_only,
            super_read_only,
            channels,
            replicas,
            unreadable,
        })
    }

    /// The role in words: `primary (2 replicas: …)`, `replica of HOST:PORT`, `standalone`.
    pub fn describe_role(&self) -> String {
        let replicas = if self.replicas.is_empty() {
            String::new()
        } else {
            format!(
                "{} replica(s): {}",
                self.replicas.len(),
                self.replicas
                    .iter()
                    .map(|r| if r.host.is_empty() {
                        format!("server_id {} (no report_host)", r.server_id)
                    } else {
                        format!("server_id {} at {}:{}", r.server_id, r.host, r.port)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match self.role {
            Role::Replica => format!(
                "replica of {}{}",
                self.channels
                    .iter()
                    .map(|c| if c.name.is_empty() {
                        c.source()
                    } else {
                        format!("{} (channel '{}')", c.source(), c.name)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                if replicas.is_empty() {
                    String::new()
                } else {
                    format!("; source of {replicas}")
                }
            ),
            Role::Primary => format!("primary: {replicas}"),
            Role::Standalone => {
                "standalone: replicates from no source, no replica registered".to_string()
            }
        }
    }
}

/// How a finding weighs, for `check`'s verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Error,
}

/// One line of `check`: what, how it weighs, the detail, and the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: String,
    pub severity: Severity,
    pub detail: String,
    pub fix: Option<String>,
}

impl ReplicationState {
    /// What `check` says about it. The rules:
    /// - role and `read_only` are information; a replica that is writable is a warning (a
    ///   write there makes it diverge from its source);
    /// - per channel: both threads running is ok; a thread stopped without an error is a
    ///   warning (backups of this server hold data as of where it stopped); a thread stopped on
    ///   an error is an error (the replica no longer follows its source).
    pub fn findings(&self, flavor: Flavor) -> Vec<Finding> {
        let (start, status) = match flavor {
            Flavor::MySQL => ("START REPLICA", "SHOW REPLICA STATUS"),
            Flavor::MariaDB => ("START SLAVE", "SHOW SLAVE STATUS"),
        };
        let mut out = vec![Finding {
            check: "replication role".into(),
            severity: Severity::Info,
            detail: self.describe_role(),
            fix: None,
        }];
        for c in &self.channels {
            let error = c.last_sql_error.is_some() || c.last_io_error.is_some();
            let (severity, fix) = match (c.io_ok() && c.sql_ok(), error) {
                (true, _) => (Severity::Ok, None),
                (false, false) => (
                    Severity::Warning,
                    Some(format!(
                        "{start}{} if it was not stopped on purpose",
                        channel_clause(flavor, &c.name)
                    )),
                ),
                (false, true) => (
                    Severity::Error,
                    Some(format!(
                        "fix the error on the replica ({status} shows it), then {start}{}",
                        channel_clause(flavor, &c.name)
                    )),
                ),
            };
            out.push(Finding {
                check: "replication".into(),
                severity,
                detail: c.describe(),
                fix,
            });
        }
        let writable_replica = self.role == Role::Replica && !self.read_only;
        out.push(Finding {
            check: "read_only".into(),
            severity: if writable_replica {
                Severity::Warning
            } else {
                Severity::Info
            },
            detail: format!(
                "{}{}{}",
                if self.read_only { "ON" } else { "OFF" },
                match self.super_read_only {
                    Some(true) => " (super_read_only ON)",
                    _ => "",
                },
                if writable_replica {
                    ": a write on this replica makes it diverge from its source"
                } else {
                    ""
                }
            ),
            fix: writable_replica
                .then(|| "SET GLOBAL read_only = ON (and read_only = ON in my.cnf)".into()),
        });
        if !self.unreadable.is_empty() {
            out.push(Finding {
                check: "replication".into(),
                severity: Severity::Warning,
                detail: format!(
                    "the role above may be incomplete: {}",
                    self.unreadable.join("; ")
                ),
                fix: None,
            });
        }
        out
    }
}

fn channel_clause(flavor: Flavor, name: &str) -> String {
    match (flavor, name.is_empty()) {
        (_, true) => String::new(),
        (Flavor::MySQL, false) => format!(" FOR CHANNEL '{name}'"),
        (Flavor::MariaDB, false) => format!(" '{name}'"),
    }
}

impl Channel {
    /// The channel's state in words: threads, lag, errors.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "from {}{}: IO thread {}, SQL thread {}",
            self.source(),
            if self.name.is_empty() {
                String::new()
            } else {
                format!(" (channel '{}')", self.name)
            },
            running(&self.io_running),
            running(&self.sql_running),
        );
        match self.seconds_behind {
            Some(n) => s.push_str(&format!(", {n} s behind the source")),
            None => s.push_str(", lag unknown"),
        }
        if let Some(g) = &self.gtid_positioning {
            s.push_str(&format!(", GTID positioning {g}"));
        }
        if let Some(e) = &self.last_io_error {
            s.push_str(&format!("; last IO error: {e}"));
        }
        if let Some(e) = &self.last_sql_error {
            s.push_str(&format!("; last SQL error: {e}"));
        }
        s
    }
}

fn running(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "yes" => "running".into(),
        "no" => "stopped".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    #[test]
    fn columns_of_both_flavors() {
        let my = channel_of(&row(&[
            ("Source_Host", "10.0.0.1"),
            ("Source_Port", "3306"),
            ("Replica_IO_Running", "Yes"),
            ("Replica_SQL_Running", "No"),
            ("Last_SQL_Error", "Error 'Duplicate entry'"),
            ("Seconds_Behind_Source", ""),
            ("Channel_Name", ""),
        ]));
        assert_eq!(my.source(), "10.0.0.1:3306");
        assert!(my.io_ok() && !my.sql_ok());
        assert_eq!(my.seconds_behind, None);
        assert!(
            my.describe().contains("SQL thread stopped"),
            "{}",
            my.describe()
        );
        assert!(my.describe().contains("Duplicate entry"));
        let maria = channel_of(&row(&[
            ("Master_Host", "db1"),
            ("Master_Port", "3307"),
            ("Slave_IO_Running", "Connecting"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "7"),
            ("Connection_name", "east"),
            ("Using_Gtid", "Slave_Pos"),
        ]));
        assert_eq!(maria.seconds_behind, Some(7));
        assert!(maria.describe().contains("IO thread connecting"));
        assert!(maria.describe().contains("channel 'east'"));
    }
}
