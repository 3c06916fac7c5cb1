//! `zrm purge (--set S | --all) [--dry-run]`, `zrm pin --set S ID`, `zrm unpin --set S ID`.
//!
//! Purge applies the set's retention (see [`crate::retention`]) under the set's lock: backups
//! the policy lets go are deleted manifest first (so a backup is never half-deleted yet
//! restorable), then their files, EBS snapshots and verify records; archived binlogs before the
//! oldest kept full's consistent point go, index first; directories of interrupted backups
//! (no manifest: under the lock, nothing is writing them) go too.

use std::collections::BTreeSet;

use clap::Args;
use serde::Serialize;

use super::Context;
use crate::binlog::archive_index as idx;
use crate::catalog::{self, CatalogEntry, Manifest};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json};
use crate::repo::{Repository, MANIFEST_FILE};
use crate::retention::{self, BackupMeta, BinlogMeta, Plan, Policy};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The set to purge
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub set: Option<String>,
    /// Every set of the configuration
    #[arg(long)]
    pub all: bool,
    /// Print the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// The backup id
    pub id: String,
}

pub fn pin_path(set: &str, id: &str) -> String {
    format!("sets/{set}/pins/{id}")
}

/// Whether a backup is pinned. An error reading the pin is an error: purge must not take a
/// pinned backup because the store failed to answer.
pub fn pinned(repo: &Repository, set: &str, id: &str) -> Result<bool> {
    repo.backend().exists(&pin_path(set, id))
}

/// For displays: a pin that cannot be read shows as not pinned.
pub fn is_pinned(repo: &Repository, set: &str, id: &str) -> bool {
    pinned(repo, set, id).unwrap_or(false)
}

/// What purge did (or would do) to one set.
#[derive(Debug, Serialize)]
pub struct SetPurge {
    pub set: String,
    pub plan: Plan,
    pub deleted_backups: Vec<String>,
    pub deleted_binlogs: Vec<String>,
    pub deleted_snapshots: Vec<String>,
    pub removed_incomplete: Vec<String>,
}

pub async fn run(ctx: &Context, args: PurgeArgs) -> Result<i32> {
    let config = ctx.config()?;
    let sets: Vec<String> = match &args.set {
        Some(s) => {
            crate::repo::check_component("set name", s)?;
            if !config.has_set(s) {
                return Err(config.unknown_set(s));
            }
            vec![s.clone()]
        }
        None => config.sets.keys().cloned().collect(),
    };
    let repo = match tokio::task::block_in_place(|| Repository::open(&config, false)) {
        Ok(r) => r,
        Err(e) if crate::repo::is_missing_repository(&e) => {
            ctx.note(&e.to_string());
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let mut results = Vec::new();
    for set in &sets {
        results.push(purge_set(&config, &repo, set, args.dry_run).await?);
    }
    if ctx.json() {
        emit_json(&serde_json::json!({ "dry_run": args.dry_run, "sets": results }));
    } else {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let mut out = String::new();
        for r in &results {
            if r.plan.no_policy {
                out.push_str(&format!(
                    "set '{}': no `retention` or `keep_full`: everything is kept\n",
                    r.set
                ));
                continue;
            }
            out.push_str(&format!("set '{}':\n", r.set));
            for d in &r.plan.backups {
                out.push_str(&format!(
                    "  {} {} (level {}): {}\n",
                    if d.keep { "keep  " } else { "DELETE" },
                    d.id,
                    d.level,
                    d.reason
                ));
            }
            out.push_str(&format!(
                "  {verb} {} backup(s), {} archived binlog file(s){}{}\n",
                r.plan.deleted_backups().count(),
                r.plan.binlogs.len(),
                if r.deleted_snapshots.is_empty() {
                    String::new()
                } else {
                    format!(", EBS snapshots {}", r.deleted_snapshots.join(", "))
                },
                if r.removed_incomplete.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", interrupted backup(s) {}",
                        r.removed_incomplete.join(", ")
                    )
                }
            ));
        }
        emit(&out);
    }
    Ok(0)
}

async fn purge_set(
    config: &ConfigFile,
    repo: &Repository,
    set: &str,
    dry_run: bool,
) -> Result<SetPurge> {
    let _lock = if dry_run {
        None
    } else {
        Some(tokio::task::block_in_place(|| {
            repo.backend().lock_set(set)
        })?)
    };
    let (entries, binlogs) = tokio::task::block_in_place(|| -> Result<_> {
        let entries = catalog::list_set(repo, set)?;
        let mut binlogs = Vec::new();
        for server in idx::servers(repo, set)? {
            for i in idx::load_all(repo, set, server)? {
                binlogs.push(i);
            }
        }
        Ok((entries, binlogs))
    })?;
    // A manifest that cannot be read may be the oldest kept full: deciding without it could
    // delete binlogs a kept backup needs.
    let unreadable: Vec<&str> = entries
        .iter()
        .filter_map(|e| match e {
            CatalogEntry::Unreadable { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    if !unreadable.is_empty() {
        return Err(Error::Repository(format!(
            "set '{set}': the manifest(s) of {} cannot be read, so purge will not decide what \
             the set still needs; nothing was deleted. `zrm verify --set {set} --all` shows why",
            unreadable.join(", ")
        )));
    }
    let manifests: Vec<Manifest> = entries
        .iter()
        .filter_map(|e| match e {
            CatalogEntry::Complete(m) => Some((**m).clone()),
            _ => None,
        })
        .collect();
    let incomplete: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            CatalogEntry::Incomplete { id } => Some(id.clone()),
            _ => None,
        })
        .collect();
    // A backup a restore is reading (a live lease) is kept like a pinned one.
    let leases = tokio::task::block_in_place(|| crate::repo::lease::live(repo, set, !dry_run))?;
    let metas: Vec<BackupMeta> = manifests
        .iter()
        .map(|m| {
            let mut meta = BackupMeta::of(m, pinned(repo, set, &m.id)?);
            meta.leased = leases.iter().any(|l| l.backup == m.id);
            Ok(meta)
        })
        .collect::<Result<_>>()?;
    let bl: Vec<BinlogMeta> = binlogs
        .iter()
        .map(|i| BinlogMeta {
            server_id: i.server_id,
            file: i.file.clone(),
            last_event: i.last_event_time,
        })
        .collect();
    let plan = retention::plan(
        chrono::Utc::now(),
        Policy::for_set(config, set),
        &metas,
        &bl,
    );
    let mut out = SetPurge {
        set: set.to_string(),
        deleted_backups: Vec::new(),
        deleted_binlogs: Vec::new(),
        deleted_snapshots: Vec::new(),
        removed_incomplete: if plan.no_policy {
            Vec::new()
        } else {
            incomplete.clone()
        },
        plan,
    };
    if dry_run || out.plan.no_policy {
        return Ok(out);
    }
    let doomed: BTreeSet<String> = out.plan.deleted_backups().map(|d| d.id.clone()).collect();
    // Children before parents, so an interrupted purge never leaves an incremental without
    // its full; per backup the manifest first (it stops existing), then its snapshots, then
    // its files.
    let mut order: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| doomed.contains(&m.id))
        .collect();
    order.sort_by_key(|m| std::cmp::Reverse(m.level));
    for m in order {
        // A restore may have started reading it since the plan was made.
        let leased = tokio::task::block_in_place(|| crate::repo::lease::live(repo, set, false))?
            .iter()
            .any(|l| l.backup == m.id);
        if leased {
            continue;
        }
        tokio::task::block_in_place(|| remove_manifest(repo, set, &m.id))?;
        if let Some(e) = m.physical.as_ref().and_then(|p| p.ebs.as_ref()) {
            let endpoint = config
                .resolve_set(set, &Default::default())
                .ok()
                .and_then(|c| c.ebs.and_then(|e| e.endpoint));
            let gone = crate::engine::snapshot::ebs::delete_backup_snapshots(
                e,
                set,
                &m.id,
                &repo.info.repository_id,
                endpoint.as_deref(),
            )
            .await?;
            out.deleted_snapshots.extend(gone);
        }
        tokio::task::block_in_place(|| delete_backup_dir(repo, set, &m.id))?;
        out.deleted_backups.push(m.id.clone());
    }
    for id in &incomplete {
        tokio::task::block_in_place(|| delete_backup_dir(repo, set, id))?;
    }
    for (server, file) in out.plan.binlogs.clone() {
        if let Some(i) = binlogs
            .iter()
            .find(|i| i.server_id == server && i.file == file)
        {
            tokio::task::block_in_place(|| {
                // The index first: a file without index is never used, a missing object is.
                repo.backend()
                    .remove_file(&idx::index_path(set, server, &file));
                for seg in &i.segments {
                    repo.backend().remove_file(&format!(
                        "{}/{}",
                        idx::server_dir(set, server),
                        seg.object
                    ));
                }
            });
            out.deleted_binlogs.push(file);
        }
    }
    // Remember how far each server's archive was purged, so that archiving does not fetch
    // those files again while the server still has them.
    let mut marks: std::collections::BTreeMap<u32, String> = Default::default();
    for (server, file) in &out.plan.binlogs {
        let e = marks.entry(*server).or_insert_with(|| file.clone());
        if idx::file_order(file) > idx::file_order(e) {
            *e = file.clone();
        }
    }
    for (server, file) in marks {
        tokio::task::block_in_place(|| idx::write_purged_mark(repo, set, server, &file))?;
    }
    Ok(out)
}

/// Remove a backup's manifest: from then on the backup does not exist.
fn remove_manifest(repo: &Repository, set: &str, id: &str) -> Result<()> {
    let rel = format!("{}/{MANIFEST_FILE}", Repository::backup_dir(set, id));
    repo.backend().remove_file(&rel);
    if repo.backend().exists(&rel)? {
        return Err(Error::Repository(format!(
            "cannot delete {}/{rel}: check the repository's permissions",
            repo.describe()
        )));
    }
    Ok(())
}

/// Delete what is left of a backup directory (its manifest is gone first), hidden temporary
/// files of an interrupted run included; and its verify record and pin. The id is a checked
/// name, so the directory is this set's own.
fn delete_backup_dir(repo: &Repository, set: &str, id: &str) -> Result<()> {
    crate::repo::check_component("backup id", id)?;
    repo.backend()
        .remove_tree(&Repository::backup_dir(set, id))?;
    repo.backend()
        .remove_file(&super::verify::verify_record_path(set, id));
    repo.backend().remove_file(&pin_path(set, id));
    Ok(())
}

pub fn pin(ctx: &Context, args: PinArgs, pinned: bool) -> Result<i32> {
    let config = ctx.config()?;
    crate::repo::check_component("set name", &args.set)?;
    let repo = Repository::open(&config, false)?;
    let m = catalog::find_backup(&repo, &args.set, &args.id)?;
    let rel = pin_path(&args.set, &m.id);
    if pinned {
        repo.write_small(
            &rel,
            format!("pinned {}\n", chrono::Utc::now().to_rfc3339()).as_bytes(),
        )?;
    } else {
        repo.backend().remove_file(&rel);
    }
    if ctx.json() {
        emit_json(&serde_json::json!({ "set": args.set, "backup": m.id, "pinned": pinned }));
    } else {
        emit(&format!(
            "backup {} of set '{}' is {}\n",
            m.id,
            args.set,
            if pinned {
                "pinned: retention will never delete it (`zrm unpin` releases it)"
            } else {
                "no longer pinned"
            }
        ));
    }
    Ok(0)
}
