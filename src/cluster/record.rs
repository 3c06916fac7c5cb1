//! What the repository keeps about clusters: `clusters/<C>/backups/<id>.json` ties one cluster
//! backup's shard backups together; `clusters/<C>/points/<name>.json` is a checkpoint, one
//! consistent cut's coordinates on every shard.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::ConsistentPoint;
use crate::error::{Error, Result};
use crate::repo::Repository;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterBackup {
    pub cluster: String,
    pub id: String,
    pub coordinated: bool,
    pub start_time: chrono::DateTime<chrono::Utc>,
    pub end_time: chrono::DateTime<chrono::Utc>,
    /// Set name → its backup.
    pub shards: BTreeMap<String, ShardBackup>,
    /// The longest time commits were blocked on any shard.
    pub max_lock_hold_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardBackup {
    pub backup_id: String,
    /// 0 for a full backup, n+1 for an incremental (records before incrementals: 0).
    #[serde(default)]
    pub level: u32,
    /// An incremental's parent backup of the same set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub method: crate::config::Method,
    pub consistent_point: Option<ConsistentPoint>,
    pub lock_hold_ms: Option<u64>,
    pub duration_s: f64,
    pub size: u64,
    /// Taken from the shard's replica, brought exactly to its primary's cut point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_replica: Option<super::replica_cut::FromReplica>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    pub cluster: String,
    pub name: String,
    pub time: chrono::DateTime<chrono::Utc>,
    /// Set name → where its binlog stood at the cut (the end of its last commit).
    pub shards: BTreeMap<String, CheckpointShard>,
    pub max_lock_hold_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointShard {
    pub server_id: u32,
    pub point: ConsistentPoint,
    pub lock_hold_ms: u64,
}

pub fn backup_path(cluster: &str, id: &str) -> String {
    format!("clusters/{cluster}/backups/{id}.json")
}

pub fn point_path(cluster: &str, name: &str) -> String {
    format!("clusters/{cluster}/points/{name}.json")
}

pub fn write<T: Serialize>(repo: &Repository, rel: &str, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).expect("records serialise");
    repo.write_small(rel, &json)
}

pub fn read_checkpoint(repo: &Repository, cluster: &str, name: &str) -> Result<Checkpoint> {
    crate::repo::check_component("checkpoint name", name)?;
    let rel = point_path(cluster, name);
    if !repo.backend().exists(&rel)? {
        let known = repo
            .backend()
            .list(&format!("clusters/{cluster}/points"))?
            .into_iter()
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect::<Vec<_>>();
        return Err(Error::Usage(format!(
            "cluster '{cluster}' has no checkpoint '{name}' in {} (it has: {})",
            repo.describe(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let bytes = repo.read_small(&rel)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::Repository(format!(
            "{}/{rel} is not a readable checkpoint: {e}",
            repo.describe()
        ))
    })
}
