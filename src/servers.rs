//! A set that names several servers (`servers = [...]`): ask each its role and replication
//! state, and pick the one a command works on — a healthy replica for a full backup, the
//! primary for binlog archiving, purging and incrementals.
//!
//! The choice is a pure function of the probes ([`choose_backup`], [`choose_primary`]); only
//! [`probe`] talks to servers. It never changes a server (no STOP/START, no writes), and never
//! picks an unfit replica: the refusal names every server and why it was not taken.

use serde::Serialize;

use crate::config::{BackupFrom, ConnectionConfig, SetConfig};
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};

/// What one of a set's servers is, as zrm found it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerProbe {
    /// `user@host:port` or `user@socket`.
    pub server: String,
    #[serde(skip)]
    pub conn: ConnectionConfig,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// Could not be asked (connection refused, no privilege to read the replica status…).
    Unreachable { error: String },
    /// Not a replica of anything.
    Primary { server_id: u32, read_only: bool },
    Replica {
        server_id: u32,
        /// `host:port` of its (first) source.
        source: String,
        seconds_behind: Option<u64>,
        /// Why a backup would not be taken from it; `None`: fit.
        unfit: Option<String>,
    },
}

impl ServerProbe {
    /// One line: the server, its role and state.
    pub fn describe(&self) -> String {
        match &self.role {
            Role::Unreachable { error } => format!("{}: cannot be asked: {error}", self.server),
            Role::Primary {
                server_id,
                read_only,
            } => format!(
                "{}: primary (server_id {server_id}{})",
                self.server,
                if *read_only { ", read_only" } else { "" }
            ),
            Role::Replica {
                server_id,
                source,
                seconds_behind,
                unfit,
            } => format!(
                "{}: replica of {source} (server_id {server_id}), {}{}",
                self.server,
                match seconds_behind {
                    Some(s) => format!("{s} s behind"),
                    None => "lag unknown (a thread is stopped)".to_string(),
                },
                match unfit {
                    Some(why) => format!(", unfit: {why}"),
                    None => ", healthy".to_string(),
                }
            ),
        }
    }
}

/// Ask every server of the set its role and replication state.
pub async fn probe(set: &SetConfig) -> Vec<ServerProbe> {
    let mut out = Vec::new();
    for conn in &set.servers {
        let role = match probe_one(conn, set.max_replica_lag).await {
            Ok(r) => r,
            Err(e) => Role::Unreachable {
                error: e.to_string(),
            },
        };
        out.push(ServerProbe {
            server: conn.display(),
            conn: conn.clone(),
            role,
        });
    }
    out
}

async fn probe_one(conn: &ConnectionConfig, max_lag: u64) -> Result<Role> {
    let mut s = mysql::connect(conn).await?;
    let facts = ServerFacts::gather(&mut s).await;
    let facts = match facts {
        Ok(f) => f,
        Err(e) => {
            s.close().await;
            return Err(e);
        }
    };
    let channels = crate::mysql::replica::status(&mut s, facts.flavor).await;
    let read_only = s
        .value("SELECT @@GLOBAL.read_only")
        .await
        .ok()
        .flatten()
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON"));
    s.close().await;
    let channels = channels?;
    Ok(match channels.first() {
        None => Role::Primary {
            server_id: facts.server_id,
            read_only,
        },
        Some(c) => Role::Replica {
            server_id: facts.server_id,
            source: c.source(),
            seconds_behind: c.seconds_behind,
            unfit: unfit(c, max_lag),
        },
    })
}

/// Why a replica is not fit to back up: its SQL thread stopped on an error, or it lags more
/// than `max_lag` seconds. A SQL thread stopped by hand (no error) is fine.
pub fn unfit(c: &crate::mysql::replication::Channel, max_lag: u64) -> Option<String> {
    if !c.sql_ok() && (c.last_sql_errno != 0 || c.last_sql_error.is_some()) {
        return Some(format!(
            "its SQL thread stopped on error {}: {}",
            c.last_sql_errno,
            c.last_sql_error.as_deref().unwrap_or_default()
        ));
    }
    match c.seconds_behind {
        Some(lag) if lag > max_lag => Some(format!(
            "it lags {lag} s behind its source, more than max_replica_lag = {max_lag} s"
        )),
        _ => None,
    }
}

/// The server a command works on, and why it was chosen.
#[derive(Debug, Clone)]
pub struct Choice {
    pub conn: ConnectionConfig,
    pub why: String,
}

/// The one primary among the probes: the server that is not a replica (of several, the
/// only writable one).
pub fn choose_primary(set: &str, probes: &[ServerProbe]) -> Result<Choice> {
    let primaries: Vec<&ServerProbe> = probes
        .iter()
        .filter(|p| matches!(p.role, Role::Primary { .. }))
        .collect();
    let writable: Vec<&ServerProbe> = primaries
        .iter()
        .copied()
        .filter(|p| {
            matches!(
                p.role,
                Role::Primary {
                    read_only: false,
                    ..
                }
            )
        })
        .collect();
    let one = match (primaries.as_slice(), writable.as_slice()) {
        ([p], _) => Some(*p),
        (_, [p]) => Some(*p),
        _ => None,
    };
    match one {
        Some(p) => Ok(Choice {
            conn: p.conn.clone(),
            why: format!(
                "{} is the primary of set '{set}' (the one of its servers that is not a replica{})",
                p.server,
                if primaries.len() > 1 {
                    " and not read_only"
                } else {
                    ""
                }
            ),
        }),
        None => Err(Error::Backup(format!(
            "set '{set}': {} of its servers: {}",
            if primaries.is_empty() {
                "cannot find the primary (a server that is not a replica) among"
            } else {
                "cannot tell which is the primary: more than one writable non-replica among"
            },
            list(probes)
        ))),
    }
}

/// The server a full backup is taken from, by `backup_from`: the fit replica with the least
/// lag (a stopped SQL thread without error counts as no lag; unknown lag comes after known
/// lag), else — when allowed — the primary.
pub fn choose_backup(set: &str, from: BackupFrom, probes: &[ServerProbe]) -> Result<Choice> {
    if from == BackupFrom::Primary {
        let p = choose_primary(set, probes)?;
        return Ok(Choice {
            why: format!("{} (backup_from = \"primary\")", p.why),
            ..p
        });
    }
    let best = probes
        .iter()
        .filter_map(|p| match &p.role {
            Role::Replica {
                seconds_behind,
                unfit: None,
                ..
            } => Some((p, *seconds_behind)),
            _ => None,
        })
        .min_by_key(|(_, lag)| lag.unwrap_or(u64::MAX));
    if let Some((p, lag)) = best {
        return Ok(Choice {
            conn: p.conn.clone(),
            why: format!(
                "{} is a healthy replica of set '{set}'{}",
                p.server,
                match lag {
                    Some(l) => format!(" ({l} s behind, the least lag of its fit replicas)"),
                    None => " (its lag is unknown: a thread is stopped without error)".into(),
                }
            ),
        });
    }
    if from == BackupFrom::ReplicaOrPrimary {
        if let Ok(p) = choose_primary(set, probes) {
            return Ok(Choice {
                why: format!(
                    "no replica of set '{set}' is fit, so the primary: {} (backup_from = \
                     \"replica-or-primary\"); {}",
                    p.server_name(),
                    list(probes)
                ),
                ..p
            });
        }
    }
    Err(Error::Backup(format!(
        "set '{set}': no server to back up from (backup_from = \"{from}\"): {}; fix \
         replication{}, or raise max_replica_lag",
        list(probes),
        if from == BackupFrom::Replica {
            ", allow the primary with backup_from = \"replica-or-primary\""
        } else {
            ""
        }
    )))
}

impl Choice {
    fn server_name(&self) -> String {
        self.conn.display()
    }
}

fn list(probes: &[ServerProbe]) -> String {
    probes
        .iter()
        .map(ServerProbe::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a command wants of a set with several servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A full backup: by `backup_from`.
    Backup,
    /// The primary: binlog archiving, purging, incrementals.
    Primary,
}

/// The set with `connection` set to the server the command works on (a set without
/// `servers`: unchanged), and `server_choice` saying why.
pub async fn resolve(set: &SetConfig, want: Want) -> Result<SetConfig> {
    if set.servers.is_empty() {
        return Ok(set.clone());
    }
    let probes = probe(set).await;
    let choice = match want {
        Want::Backup => choose_backup(&set.name, set.backup_from, &probes)?,
        Want::Primary => choose_primary(&set.name, &probes)?,
    };
    let mut out = set.clone();
    out.connection = choice.conn;
    out.server_choice = Some(choice.why);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(port: u16) -> ConnectionConfig {
        ConnectionConfig {
            host: Some("db".into()),
            port,
            socket: None,
            user: "zrm".into(),
            password: None,
        }
    }

    fn replica(port: u16, lag: Option<u64>, unfit: Option<&str>) -> ServerProbe {
        ServerProbe {
            server: conn(port).display(),
            conn: conn(port),
            role: Role::Replica {
                server_id: u32::from(port),
                source: "db:1".into(),
                seconds_behind: lag,
                unfit: unfit.map(str::to_string),
            },
        }
    }

    fn primary(port: u16, read_only: bool) -> ServerProbe {
        ServerProbe {
            server: conn(port).display(),
            conn: conn(port),
            role: Role::Primary {
                server_id: u32::from(port),
                read_only,
            },
        }
    }

    #[test]
    fn the_fit_replica_with_least_lag_is_picked() {
        let probes = [
            primary(1, false),
            replica(2, Some(9), None),
            replica(3, Some(2), None),
            replica(4, Some(0), Some("its SQL thread stopped on error 1062")),
            replica(5, None, None),
        ];
        let c = choose_backup("s", BackupFrom::Replica, &probes).unwrap();
        assert_eq!(c.conn.port, 3);
    }

    #[test]
    fn no_fit_replica_falls_back_to_the_primary_only_when_allowed() {
        let probes = [primary(1, false), replica(2, Some(900), Some("it lags"))];
        let c = choose_backup("s", BackupFrom::ReplicaOrPrimary, &probes).unwrap();
        assert_eq!(c.conn.port, 1);
        assert!(c.why.contains("no replica"), "{}", c.why);
        let e = choose_backup("s", BackupFrom::Replica, &probes)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zrm@db:1: primary") && e.contains("zrm@db:2"),
            "{e}"
        );
    }

    #[test]
    fn the_primary_is_the_writable_non_replica() {
        let probes = [primary(1, true), primary(2, false), replica(3, None, None)];
        assert_eq!(choose_primary("s", &probes).unwrap().conn.port, 2);
        let probes = [primary(1, false), primary(2, false)];
        assert!(choose_primary("s", &probes).is_err());
        let probes = [replica(3, None, None)];
        assert!(choose_primary("s", &probes).is_err());
    }
}
