//! The global sequence number (GSN): a column the application writes, on every shard, with an
//! increasing number for each cross-shard transaction. Restoring every shard to "GSN ≤ N" gives
//! a state that is consistent across shards by the application's own definition.

use crate::binlog::find::GsnTarget;
use crate::catalog::{self, CatalogEntry};
use crate::config::{ConfigFile, GsnConfig, SetConfig};
use crate::error::{Error, Result};
use crate::mysql;
use crate::repo::Repository;

/// `db.table` of the GSN config, split.
pub fn table_of(gsn: &GsnConfig) -> Result<(String, String)> {
    gsn.table
        .split_once('.')
        .map(|(d, t)| (d.to_string(), t.to_string()))
        .ok_or_else(|| {
            Error::Config(format!(
                "gsn.table = \"{}\": write it as database.table",
                gsn.table
            ))
        })
}

/// The GSN settings for a set: from `cluster`, or the one cluster holding the set.
pub fn config_for<'a>(
    config: &'a ConfigFile,
    set: &str,
    cluster: Option<&str>,
) -> Result<(&'a str, &'a GsnConfig)> {
    let candidates: Vec<(&String, &GsnConfig)> = config
        .clusters
        .iter()
        .filter(|(name, c)| {
            cluster.is_none_or(|want| want == name.as_str()) && c.sets.iter().any(|s| s == set)
        })
        .filter_map(|(name, c)| c.gsn.as_ref().map(|g| (name, g)))
        .collect();
    match candidates.as_slice() {
        [(name, g)] => Ok((name.as_str(), g)),
        [] => Err(Error::Usage(format!(
            "set '{set}' is in no cluster with a `gsn = {{ table, column }}`: configure the \
             cluster's global sequence number first"
        ))),
        _ => Err(Error::Usage(format!(
            "set '{set}' is in several clusters with a GSN: name one with --cluster"
        ))),
    }
}

/// The GSN target for `max` on a set: the column's position comes from the server when it
/// answers, else from the newest logical backup's table layout.
pub async fn target(
    repo: &Repository,
    set: &SetConfig,
    gsn: &GsnConfig,
    max: i64,
) -> Result<GsnTarget> {
    let (db, table) = table_of(gsn)?;
    let from_server = async {
        let mut s = mysql::connect(&set.connection).await?;
        let pos = s
            .value(&format!(
                "SELECT ORDINAL_POSITION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} \
                 AND TABLE_NAME = {} AND COLUMN_NAME = {}",
                mysql::conn::quote_str(&db),
                mysql::conn::quote_str(&table),
                mysql::conn::quote_str(&gsn.column)
            ))
            .await?;
        s.close().await;
        Ok::<_, Error>(pos.and_then(|p| p.parse::<usize>().ok()))
    };
    let column = match from_server.await {
        Ok(Some(p)) if p > 0 => p - 1,
        Ok(_) => {
            return Err(Error::Config(format!(
                "set '{}': the GSN column {}.{} does not exist on {}",
                set.name,
                gsn.table,
                gsn.column,
                set.connection.display()
            )))
        }
        Err(server_error) => {
            from_backups(repo, &set.name, &db, &table, &gsn.column)?.ok_or_else(|| {
                Error::Backup(format!(
                    "set '{}': cannot tell which column of {} is `{}`: the server is not \
                     reachable ({server_error}) and no logical backup records the table",
                    set.name, gsn.table, gsn.column
                ))
            })?
        }
    };
    Ok(GsnTarget::new(&db, &table, column, max))
}

fn from_backups(
    repo: &Repository,
    set: &str,
    db: &str,
    table: &str,
    column: &str,
) -> Result<Option<usize>> {
    for e in catalog::list_set(repo, set)?.into_iter().rev() {
        let CatalogEntry::Complete(m) = e else {
            continue;
        };
        let Some(layout) = &m.logical else { continue };
        if let Some(t) = layout
            .tables
            .iter()
            .find(|t| t.database == db && t.name == table)
        {
            return Ok(t.columns.iter().position(|c| c == column));
        }
    }
    Ok(None)
}
