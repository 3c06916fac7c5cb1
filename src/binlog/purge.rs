//! `binlog purge`: removing binary logs from the server once they are safely archived.
//!
//! It never removes a file that is not archived complete, verified and identical to the
//! server's, nor one that ANY set of the configuration archiving the same server still needs
//! (two sets on one server each keep their own archive; purging for one must not cut the
//! other's chain). When another set's archive state cannot be read, it refuses: guessing could
//! lose a file for good.

use serde::Serialize;

use super::archive::{self, Archiver};
use super::archive_index::{self as idx, BinlogIndex};
use crate::catalog::{self, CatalogEntry};
use crate::config::{ConfigFile, SetConfig};
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};
use crate::repo::Repository;

/// What to purge.
pub struct PurgeRequest<'a> {
    pub config: &'a ConfigFile,
    pub repo: &'a Repository,
    pub set: &'a SetConfig,
    pub dry_run: bool,
    pub note: &'a (dyn Fn(&str) + Sync),
}

/// Another set that keeps files of the same server on the server.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    pub set: String,
    /// The first file that set still needs.
    pub file: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub set: String,
    pub dry_run: bool,
    /// Removed from the server (none on a dry run).
    pub purged: Vec<String>,
    /// What a real run would remove (dry run only).
    pub would_purge: Vec<String>,
    /// The first file kept, and why.
    pub kept_from: String,
    pub reason: String,
    /// Files the server kept although asked (still in use by it).
    pub kept_by_server: Vec<String>,
    /// Other sets of the configuration that archive this server, and what they need.
    pub shared_with: Vec<Hold>,
}

pub async fn purge(req: PurgeRequest<'_>) -> Result<PurgeReport> {
    // Several servers: the primary's binary logs (those the set archives now).
    let set = &crate::servers::resolve(req.set, crate::servers::Want::Primary).await?;
    let mut s = mysql::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut s).await?;
    let server_files = archive::server_binlogs(&mut s).await?;
    let Some((active, _)) = server_files.last().cloned() else {
        return Err(Error::Binlog("the server lists no binary logs".into()));
    };
    let holds = tokio::task::block_in_place(|| {
        other_sets_needs(req.config, req.repo, &set.name, &facts, &server_files)
    })?;
    let archiver = Archiver::for_set(req.repo, req.config, set, &facts, req.note);
    // The first file that is not both archived complete (same size) and verified stops the
    // purge there: PURGE BINARY LOGS TO removes only the files before it.
    let mut stop_at = (
        active.clone(),
        "it is the file the server is writing".to_string(),
    );
    let mut safe = Vec::new();
    for (name, size) in &server_files[..server_files.len() - 1] {
        let why = match holds.iter().find(|h| &h.file == name) {
            Some(h) => Some(format!("set '{}' (same server) {}", h.set, h.why)),
            None => own_reason(req.repo, &set.name, &facts, &archiver, name, *size)?,
        };
        if let Some(why) = why {
            stop_at = (name.clone(), why);
            break;
        }
        safe.push(name.clone());
    }
    let mut kept_by_server: Vec<String> = Vec::new();
    if !safe.is_empty() && !req.dry_run {
        s.exec(&format!(
            "PURGE BINARY LOGS TO {}",
            mysql::conn::quote_str(&stop_at.0)
        ))
        .await
        .map_err(|e| {
            Error::Binlog(format!(
                "{e} (PURGE needs the BINLOG ADMIN or SUPER privilege)"
            ))
        })?;
        // The server may keep a file it still needs (without an error): report what is gone.
        let after = archive::server_binlogs(&mut s).await?;
        kept_by_server = safe
            .iter()
            .filter(|f| after.iter().any(|(n, _)| n == *f))
            .cloned()
            .collect();
        safe.retain(|f| !kept_by_server.contains(f));
    }
    s.close().await;
    Ok(PurgeReport {
        set: set.name.clone(),
        dry_run: req.dry_run,
        purged: if req.dry_run {
            Vec::new()
        } else {
            safe.clone()
        },
        would_purge: if req.dry_run { safe } else { Vec::new() },
        kept_from: stop_at.0,
        reason: stop_at.1,
        kept_by_server,
        shared_with: holds,
    })
}

/// Why this set's own archive keeps `name` on the server, if it does.
fn own_reason(
    repo: &Repository,
    set: &str,
    facts: &ServerFacts,
    archiver: &Archiver,
    name: &str,
    size: u64,
) -> Result<Option<String>> {
    Ok(match idx::load(repo, set, facts.server_id, name)? {
        None => Some("it is not archived".to_string()),
        Some(i) if !i.complete => Some(format!("it is archived only up to {}", i.end_pos)),
        Some(i) if i.server_size() != size => Some(format!(
            "the archived copy has {} bytes, the server's {size}",
            i.end_pos
        )),
        Some(i) => match tokio::task::block_in_place(|| idx::verify_archived(repo, set, &i)) {
            Err(e) => Some(format!("its archived copy failed verification: {e}")),
            // The server's file must still be the archived one (RESET MASTER can recreate a
            // file with the same name and size).
            Ok(()) => match tokio::task::block_in_place(|| archiver.matches_server(&i)) {
                Ok(true) => None,
                Ok(false) => {
                    Some("the server's file differs from the archived one (RESET MASTER / RESET BINARY LOGS AND GTIDS?)".into())
                }
                Err(e) => Some(format!("cannot compare it with the server's: {e}")),
            },
        },
    })
}

/// What every other set of the configuration that archives this server still needs from it:
/// the first file it has not archived complete (after its last complete one), or, for a set
/// that takes backups of the server without archiving, the file of its newest backup's point
/// (its next incremental starts there). A set counts as archiving this server when its
/// archive or its newest backup is of this server id (and, where recorded, this server uuid),
/// or when it connects to the same endpoint.
pub fn other_sets_needs(
    config: &ConfigFile,
    repo: &Repository,
    this_set: &str,
    facts: &ServerFacts,
    server_files: &[(String, u64)],
) -> Result<Vec<Hold>> {
    let this = config.resolve_set(this_set, &Default::default())?;
    let mut holds = Vec::new();
    for other in config.sets.keys().filter(|s| s.as_str() != this_set) {
        let unreadable = |e: Error| {
            Error::Binlog(format!(
                "set '{other}' may archive the same server, and its archive state cannot be \
                 read ({e}); nothing was purged, so that its chain is not cut. Fix the set's \
                 archive (`zrm verify --set {other}`) or remove the set from the configuration"
            ))
        };
        let ids = idx::servers(repo, other).map_err(unreadable)?;
        let archives_it = ids.contains(&facts.server_id);
        let newest = catalog::list_set(repo, other)
            .map_err(unreadable)?
            .into_iter()
            .rev()
            .find_map(|e| match e {
                CatalogEntry::Complete(m) => Some(Ok(*m)),
                CatalogEntry::Unreadable { id, error } => Some(Err(Error::Repository(format!(
                    "the manifest of backup {id} cannot be read: {error}"
                )))),
                CatalogEntry::Incomplete { .. } => None,
            })
            .transpose()
            .map_err(unreadable)?;
        let backs_it_up = newest.as_ref().is_some_and(|m| {
            m.server.server_id == facts.server_id
                && uuid_matches(m.server.server_uuid.as_deref(), facts)
        });
        let same_endpoint = config
            .resolve_set(other, &Default::default())
            .is_ok_and(|o| o.connection.same_endpoint(&this.connection));
        if !(archives_it || backs_it_up || same_endpoint) {
            continue;
        }
        let indexes = if archives_it {
            idx::load_all(repo, other, facts.server_id).map_err(unreadable)?
        } else {
            Vec::new()
        };
        if indexes
            .iter()
            .any(|i| !uuid_matches(i.server_uuid.as_deref(), facts))
        {
            continue; // another server that happens to share the id
        }
        let need = match indexes.last() {
            Some(last) => Some(first_needed(last, "has not archived it")),
            None => newest
                .as_ref()
                .filter(|_| backs_it_up || same_endpoint)
                .and_then(|m| {
                    let point = m
                        .binlog_range
                        .as_ref()
                        .map(|r| &r.end)
                        .or(m.consistent_point.as_ref())?;
                    Some((
                        point.binlog_file.clone(),
                        format!(
                            "needs it for its next incremental (backup {} ends in it, and the set \
                             archives no binlog)",
                            m.id
                        ),
                    ))
                }),
        };
        if let Some((file, why)) = need {
            // Only a file the server still has can be held back.
            let held = server_files
                .iter()
                .find(|(f, _)| idx::file_order(f) >= idx::file_order(&file))
                .map(|(f, _)| f.clone());
            if let Some(file) = held {
                holds.push(Hold {
                    set: other.clone(),
                    file,
                    why,
                });
            }
        }
    }
    Ok(holds)
}

/// The first file after a set's archive: the one it holds in part, or the one after its last
/// complete file.
fn first_needed(last: &BinlogIndex, why: &str) -> (String, String) {
    if last.complete {
        let next = last
            .next_file
            .clone()
            .or_else(|| idx::next_name(&last.file))
            .unwrap_or_else(|| last.file.clone());
        (next, why.to_string())
    } else {
        (
            last.file.clone(),
            format!("has archived it only up to {}", last.end_pos),
        )
    }
}

/// A recorded uuid rules a server out only when both sides know theirs.
fn uuid_matches(recorded: Option<&str>, facts: &ServerFacts) -> bool {
    match (recorded, facts.server_uuid.as_deref()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}
