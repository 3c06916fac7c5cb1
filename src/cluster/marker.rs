//! A checkpoint's marker: one row in the server's `zrm_meta.checkpoints`, written with the
//! checkpoint so that the cut is visible in every shard's binlog.

use crate::config::SetConfig;
use crate::error::Result;
use crate::mysql;

/// Marker schema and table on every shard (zrm's own small schema).
pub const MARKER_SCHEMA: &str = crate::restore::target::ZRM_SCHEMA;

pub async fn write(set: &SetConfig, cluster: &str, name: &str) -> Result<()> {
    let mut s = mysql::connect(&set.connection).await?;
    let q = mysql::conn::quote_str;
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {MARKER_SCHEMA}"),
        // No unique key on purpose: a marker replayed into a target that already holds it
        // (restored there before) must not stop the replay with a duplicate-key error.
        format!(
            "CREATE TABLE IF NOT EXISTS {MARKER_SCHEMA}.checkpoints (cluster VARCHAR(64) NOT NULL, \
             name VARCHAR(128) NOT NULL, taken_at DATETIME(6) NOT NULL, KEY (cluster, name)) \
             ENGINE=InnoDB"
        ),
        format!(
            "INSERT INTO {MARKER_SCHEMA}.checkpoints VALUES ({}, {}, UTC_TIMESTAMP(6))",
            q(cluster),
            q(name)
        ),
    ] {
        s.exec(&sql).await?;
    }
    s.close().await;
    Ok(())
}
