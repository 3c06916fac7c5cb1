//! What zrm needs to know about a server before backing it up or restoring to it.

use serde::Serialize;

use super::conn::Session;
use crate::catalog::ServerInfo;
use crate::connection::ConnectionConfig;
use crate::error::Result;
use crate::manifest::Flavor;

/// Schemas that belong to the server, never backed up as application data.
pub const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

#[derive(Debug, Clone, Serialize)]
pub struct ServerFacts {
    pub version: String,
    pub version_comment: String,
    pub flavor: Flavor,
    pub server_id: u32,
    pub server_uuid: Option<String>,
    pub gtid_domain_id: Option<u32>,
    /// MySQL `gtid_mode`; for MariaDB `ON` (it always writes GTIDs) or `ON (strict)`.
    pub gtid_mode: String,
    /// MySQL `gtid_executed` / MariaDB `gtid_binlog_pos`.
    pub gtid_position: Option<String>,
    pub log_bin: bool,
    pub binlog_format: String,
    pub datadir: String,
    /// `@@time_zone`, and the system zone when that is `SYSTEM`.
    pub time_zone: String,
    pub system_time_zone: String,
    /// `@@hostname` and `@@port`: with the datadir and server_id, what tells two endpoints
    /// (a socket and a TCP port) apart as the same server or not.
    pub hostname: String,
    pub port: u16,
    /// The session's offset from UTC now (`+02:00`), for times given without an offset.
    pub utc_offset: String,
}

impl ServerFacts {
    pub async fn gather(s: &mut Session) -> Result<ServerFacts> {
        let row = s
            .rows(
                "SELECT @@version, @@version_comment, @@server_id, @@log_bin, @@binlog_format, \
                 @@datadir, @@time_zone, @@system_time_zone, @@hostname, @@port, \
                 TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i')",
            )
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let version = col(0);
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDB
        } else {
            Flavor::MySQL
        };
        let (server_uuid, gtid_domain_id, gtid_mode, gtid_position) = match flavor {
            Flavor::MariaDB => {
                let r = s
                    .rows("SELECT @@gtid_domain_id, @@gtid_strict_mode, @@gtid_binlog_pos")
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let strict = r.get(1).cloned().flatten().unwrap_or_default() == "1";
                (
                    None,
                    r.first().cloned().flatten().and_then(|v| v.parse().ok()),
                    if strict { "ON (strict)" } else { "ON" }.to_string(),
                    r.get(2).cloned().flatten(),
                )
            }
            Flavor::MySQL => {
                let r = s
                    .rows("SELECT @@server_uuid, @@gtid_mode, @@gtid_executed")
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                (
                    r.first().cloned().flatten(),
                    None,
                    r.get(1).cloned().flatten().unwrap_or_else(|| "OFF".into()),
                    r.get(2).cloned().flatten(),
                )
            }
        };
        Ok(ServerFacts {
            version,
            version_comment: col(1),
            flavor,
            server_id: col(2).parse().unwrap_or(0),
            server_uuid,
            gtid_domain_id,
            gtid_mode,
            gtid_position: gtid_position.filter(|g| !g.is_empty()),
            log_bin: matches!(col(3).as_str(), "1" | "ON"),
            binlog_format: col(4),
            datadir: col(5),
            time_zone: col(6),
            system_time_zone: col(7),
            hostname: col(8),
            port: col(9).parse().unwrap_or(0),
            utc_offset: {
                let o = col(10);
                if o.starts_with('-') {
                    o
                } else {
                    format!("+{o}")
                }
            },
        })
    }

    /// The time zone a session sees by default, spelled out (`SYSTEM (CET)`).
    pub fn effective_time_zone(&self) -> String {
        if self.time_zone == "SYSTEM" {
            format!("SYSTEM ({})", self.system_time_zone)
        } else {
            self.time_zone.clone()
        }
    }

    /// The zone as a UTC offset (`+05:30`): `time_zone` itself when it is one, else (SYSTEM or
    /// a named zone, which a target may not know and which this code cannot resolve) the
    /// offset in force now.
    pub fn offset_zone(&self) -> String {
        let tz = self.time_zone.as_bytes();
        let is_offset = tz.len() == 6 && (tz[0] == b'+' || tz[0] == b'-') && tz[3] == b':';
        if is_offset {
            self.time_zone.clone()
        } else {
            self.utc_offset.clone()
        }
    }

    /// True when both describe the same running server.
    pub fn same_server(&self, other: &ServerFacts) -> bool {
        self.hostname == other.hostname
            && self.port == other.port
            && self.datadir == other.datadir
            && self.server_id == other.server_id
    }

    pub fn server_info(&self, conn: &ConnectionConfig) -> ServerInfo {
        ServerInfo {
            host: match conn.local_socket() {
                Some(_) => "localhost".to_string(),
                None => conn.tcp_host().to_string(),
            },
            port: conn.local_socket().is_none().then_some(conn.port),
            socket: conn.local_socket().map(|s| s.display().to_string()),
            version: self.version.clone(),
            flavor: self.flavor,
            server_id: self.server_id,
            server_uuid: self.server_uuid.clone(),
            gtid_domain_id: self.gtid_domain_id,
            gtid_mode: self.gtid_mode.clone(),
            log_bin: self.log_bin,
            binlog_format: self.binlog_format.clone(),
            time_zone: self.effective_time_zone(),
            session_time_zone: Some(self.offset_zone()),
        }
    }
}

/// The application databases of a server: all but the system schemas.
pub async fn user_databases(s: &mut Session) -> Result<Vec<String>> {
    let rows = s.rows("SHOW DATABASES").await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|d| !SYSTEM_SCHEMAS.contains(&d.as_str()))
        .collect())
}

/// Base tables of a database (views excluded).
pub async fn tables_of(s: &mut Session, db: &str) -> Result<Vec<String>> {
    let rows = s
        .rows(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} \
             AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') ORDER BY TABLE_NAME",
            super::conn::quote_str(db)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}
