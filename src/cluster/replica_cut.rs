//! A coordinated cluster backup whose shards are replicas: each shard's set names its replica
//! (the server backed up) and, with `primary = "SET"`, the set of that replica's primary. The
//! cut is taken on the primaries, for milliseconds, as a checkpoint takes it; each replica is
//! then brought exactly to its primary's cut point (`START REPLICA SQL_THREAD UNTIL …`) and
//! backed up there, so the heavy reading never touches a primary.
//!
//! Order matters: every replica's SQL thread is stopped *before* the primaries are locked, so
//! no replica can have applied a transaction past the cut when it is told where to stop. A
//! stopped SQL thread is always started again (also when anything fails: [`PausedReplica`]).
//! This module never locks a replica's primary for longer than reading its binlog position.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::catalog::ConsistentPoint;
use crate::config::{ConfigFile, SetConfig};
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql::lock::{self, LockKind, LockRequest};
use crate::mysql::replica::{self, PausedReplica};
use crate::mysql::{self as my, facts::ServerFacts};

/// What the cluster record keeps of a shard backed up from its replica.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FromReplica {
    /// The primary's set.
    pub primary: String,
    /// The primary's binlog coordinates and GTID set at the cut: where the replica stood when
    /// it was backed up.
    pub primary_point: ConsistentPoint,
    /// How long commits were blocked on the primary.
    pub primary_lock_hold_ms: u64,
}

/// A shard whose replica has been stopped (SQL thread) before the cut.
pub struct Shard {
    pub replica: SetConfig,
    pub primary: SetConfig,
    flavor: Flavor,
    paused: PausedReplica,
}

impl Shard {
    pub fn name(&self) -> &str {
        &self.replica.name
    }
}

/// The primary set named by each replica shard's `primary` key.
pub fn primary_of(config: &ConfigFile, set: &SetConfig) -> Result<SetConfig> {
    let Some(p) = &set.primary else {
        return Err(Error::Config(format!(
            "set '{}' names no primary",
            set.name
        )));
    };
    if *p == set.name {
        return Err(Error::Config(format!(
            "{}: [sets.{}] primary = \"{p}\" names the set itself; name the set of its primary",
            config.source.display(),
            set.name
        )));
    }
    config.resolve_set(p, &Default::default())
}

/// Stop the SQL thread of the shard's replica (which must replicate from one source, without
/// an SQL error), before the cut.
pub async fn pause(config: &ConfigFile, set: &SetConfig) -> Result<Shard> {
    let primary = primary_of(config, set)?;
    let mut s = my::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut s).await?;
    let channels = replica::status(&mut s, facts.flavor).await?;
    let server = s.server.clone();
    let channel = match channels.as_slice() {
        [c] => c.clone(),
        [] => {
            s.close().await;
            return Err(Error::Backup(format!(
                "set '{}' names primary = \"{}\", but its server {server} is not a replica",
                set.name, primary.name
            )));
        }
        _ => {
            s.close().await;
            return Err(Error::Backup(format!(
                "{server} replicates from {} sources; a shard backed up from its replica needs \
                 exactly one",
                channels.len()
            )));
        }
    };
    // Only the SQL error counts here: lag is what the wait below absorbs.
    if let Err(e) = replica::check_health(&channel, &server, u64::MAX) {
        s.close().await;
        return Err(e);
    }
    let paused = PausedReplica::pause(&mut s, &set.connection, facts.flavor).await;
    s.close().await;
    Ok(Shard {
        replica: set.clone(),
        primary,
        flavor: facts.flavor,
        paused: paused?,
    })
}

/// The momentary lock on every primary at once: each one's point at that instant, and how
/// long each was held. All or nothing (`lock::lock_all`).
pub async fn cut(shards: &[Shard]) -> Result<Vec<(ConsistentPoint, u64)>> {
    let mut facts = Vec::new();
    for sh in shards {
        let mut s = my::connect(&sh.primary.connection).await?;
        let f = ServerFacts::gather(&mut s).await?;
        s.close().await;
        if !f.log_bin {
            return Err(Error::Backup(format!(
                "primary set '{}' ({}) of shard '{}' has binary logging off: its replica cannot \
                 be brought to a point of it",
                sh.primary.name,
                sh.primary.connection.display(),
                sh.name()
            )));
        }
        facts.push(f);
    }
    let reqs: Vec<LockRequest> = shards
        .iter()
        .zip(&facts)
        .map(|(sh, f)| LockRequest {
            conn: &sh.primary.connection,
            kind: LockKind::for_server(f.flavor, &f.version),
            timeout: sh.primary.lock_timeout,
            hint: "",
        })
        .collect();
    let mut held = lock::lock_all(&reqs).await?;
    let mut points = Vec::new();
    let mut read_error = None;
    for ((l, f), sh) in held.iter_mut().zip(&facts).zip(shards) {
        match l.point(f.flavor).await {
            Ok(Some(p)) => points.push(p),
            Ok(None) => {
                read_error = Some(format!(
                    "primary set '{}' reported no binlog position",
                    sh.primary.name
                ))
            }
            Err(e) => read_error = Some(format!("primary set '{}': {e}", sh.primary.name)),
        }
    }
    let mut holds = Vec::new();
    for l in held {
        holds.push(l.release().await.map(|t| t.hold_ms).unwrap_or(0));
    }
    if let Some(e) = read_error {
        return Err(Error::Backup(format!(
            "the cut on the primaries failed: {e}"
        )));
    }
    Ok(points.into_iter().zip(holds).collect())
}

/// `START REPLICA SQL_THREAD UNTIL` the primary's point, and wait (up to the replica set's
/// `max_replica_lag` seconds) until the SQL thread has stopped exactly there. On any error the
/// SQL thread is stopped and started again without a condition.
pub async fn bring_to(shard: &Shard, point: &ConsistentPoint) -> Result<()> {
    let r = reach(shard, point).await;
    if r.is_err() {
        if let Ok(mut s) = my::connect(&shard.replica.connection).await {
            let _ = s
                .exec(match shard.flavor {
                    Flavor::MySQL => "STOP REPLICA SQL_THREAD",
                    Flavor::MariaDB => "STOP SLAVE SQL_THREAD",
                })
                .await;
            s.close().await;
        }
    }
    r
}

/// The statement that lets the SQL thread run to `point` and stop.
fn until_sql(flavor: Flavor, point: &ConsistentPoint) -> String {
    let q = my::conn::quote_str;
    match (flavor, &point.gtid_set) {
        (Flavor::MySQL, Some(g)) => {
            format!("START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = {}", q(g))
        }
        (Flavor::MySQL, None) => format!(
            "START REPLICA SQL_THREAD UNTIL SOURCE_LOG_FILE = {}, SOURCE_LOG_POS = {}",
            q(&point.binlog_file),
            point.binlog_pos
        ),
        (Flavor::MariaDB, _) => format!(
            "START SLAVE SQL_THREAD UNTIL MASTER_LOG_FILE = {}, MASTER_LOG_POS = {}",
            q(&point.binlog_file),
            point.binlog_pos
        ),
    }
}

async fn reach(shard: &Shard, point: &ConsistentPoint) -> Result<()> {
    let name = shard.name();
    let budget = Duration::from_secs(shard.replica.max_replica_lag.max(1));
    let mut s = my::connect(&shard.replica.connection).await?;
    let started = Instant::now();
    let r = async {
        s.exec(&until_sql(shard.flavor, point)).await?;
        loop {
            let ch = replica::status(&mut s, shard.flavor)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    Error::Backup(format!(
                        "shard '{name}': its server stopped being a replica"
                    ))
                })?;
            if ch.last_sql_errno != 0 || ch.last_sql_error.is_some() {
                return Err(Error::Backup(format!(
                    "shard '{name}': its replica's SQL thread stopped on error {} before \
                     reaching the cut ({}:{} of primary set '{}'): {}",
                    ch.last_sql_errno,
                    point.binlog_file,
                    point.binlog_pos,
                    shard.primary.name,
                    ch.last_sql_error.as_deref().unwrap_or_default()
                )));
            }
            if !ch.sql_ok() {
                let exact = match (shard.flavor, &point.gtid_set) {
                    (Flavor::MySQL, Some(g)) => s
                        .value(&format!(
                            "SELECT GTID_SUBSET({}, @@GLOBAL.gtid_executed)",
                            my::conn::quote_str(g)
                        ))
                        .await?
                        .is_some_and(|v| v == "1"),
                    _ => {
                        ch.executed_file == point.binlog_file && ch.executed_pos == point.binlog_pos
                    }
                };
                if !exact {
                    return Err(Error::Backup(format!(
                        "shard '{name}': its replica's SQL thread stopped at {}:{}, not at the \
                         cut {}:{} of primary set '{}'; nothing was backed up",
                        ch.executed_file,
                        ch.executed_pos,
                        point.binlog_file,
                        point.binlog_pos,
                        shard.primary.name
                    )));
                }
                return Ok(());
            }
            if started.elapsed() >= budget {
                return Err(Error::Backup(format!(
                    "shard '{name}': its replica did not reach the cut ({}:{} of primary set \
                     '{}') within max_replica_lag = {} s (it stands at {}:{})",
                    point.binlog_file,
                    point.binlog_pos,
                    shard.primary.name,
                    budget.as_secs(),
                    ch.executed_file,
                    ch.executed_pos
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    .await;
    s.close().await;
    r
}

/// Start the shard's SQL thread again (after its backup).
pub async fn resume(shard: Shard) -> Result<()> {
    shard.paused.resume().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_statements() {
        let p = ConsistentPoint {
            binlog_file: "bin.000003".into(),
            binlog_pos: 1234,
            gtid_set: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".into()),
        };
        assert_eq!(
            until_sql(Flavor::MySQL, &p),
            "START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = \
             '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'"
        );
        assert_eq!(
            until_sql(Flavor::MariaDB, &p),
            "START SLAVE SQL_THREAD UNTIL MASTER_LOG_FILE = 'bin.000003', MASTER_LOG_POS = 1234"
        );
    }
}
