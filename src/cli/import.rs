//! `zrm import --from-zrm DIR --set S [--zrm-set NAME]`: ZRM's backup images into the set
//! ([`crate::zrmimport::import`]), and what became of each.

use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::error::Result;
use crate::repo::Repository;
use crate::zrmimport::{self, ImageOutcome, ImportRequest};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// ZRM's destination (holding SET/YYYYMMDDHHMMSS/ images), e.g. /var/lib/mysql-zrm
    #[arg(long, value_name = "DIR")]
    pub from_zrm: PathBuf,
    /// The zrm set the images join
    #[arg(long)]
    pub set: String,
    /// ZRM's name of the set, when it is not the same
    #[arg(long, value_name = "NAME")]
    pub zrm_set: Option<String>,
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<i32> {
    let config = ctx.config()?;
    crate::repo::check_component("set name", &args.set)?;
    if !config.has_set(&args.set) {
        return Err(config.unknown_set(&args.set));
    }
    let repo = Repository::open(&config, true)?;
    let req = ImportRequest {
        from: args.from_zrm,
        zrm_set: args.zrm_set.unwrap_or_else(|| args.set.clone()),
        set: args.set,
    };
    let outcomes = tokio::task::block_in_place(|| {
        zrmimport::import(&repo, &req, config.repository_compression())
    })?;
    let not_imported = outcomes
        .iter()
        .filter(|o| matches!(o, ImageOutcome::NotImported { .. }))
        .count();
    if ctx.json() {
        let rows: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| match o {
                ImageOutcome::Imported { dir, id } => {
                    serde_json::json!({ "image": dir, "id": id, "outcome": "imported" })
                }
                ImageOutcome::AlreadyImported { dir, id } => {
                    serde_json::json!({ "image": dir, "id": id, "outcome": "already imported" })
                }
                ImageOutcome::NotImported { dir, reason } => {
                    serde_json::json!({ "image": dir, "outcome": "not imported", "reason": reason })
                }
                ImageOutcome::IncrementalImported {
                    dir,
                    id,
                    level,
                    parent,
                    files,
                } => serde_json::json!({
                    "image": dir, "id": id, "outcome": "imported", "level": level,
                    "parent": parent, "binlogs": files
                }),
                ImageOutcome::BinlogsArchived {
                    dir,
                    server_id,
                    files,
                    why_not_listed,
                } => serde_json::json!({
                    "image": dir, "outcome": "binlogs archived", "server_id": server_id,
                    "files": files, "not_a_backup_because": why_not_listed
                }),
            })
            .collect();
        crate::output::emit_json(&serde_json::json!({ "images": rows }));
    } else {
        for o in &outcomes {
            match o {
                ImageOutcome::Imported { dir, id } => {
                    println!("imported {} as backup {id}", dir.display())
                }
                ImageOutcome::AlreadyImported { dir, id } => {
                    println!("already imported {} (backup {id})", dir.display())
                }
                ImageOutcome::NotImported { dir, reason } => {
                    println!("not imported {}: {reason}", dir.display())
                }
                ImageOutcome::IncrementalImported {
                    dir,
                    id,
                    level,
                    parent,
                    files,
                } => println!(
                    "imported incremental {} as backup {id} (level {level} on {parent}); \
                     archived the binary logs {}",
                    dir.display(),
                    files.join(", ")
                ),
                ImageOutcome::BinlogsArchived {
                    dir,
                    server_id,
                    files,
                    why_not_listed,
                } => println!(
                    "archived the binary logs of incremental {} (server {server_id}): {}; not \
                     listed as a backup: {why_not_listed}",
                    dir.display(),
                    files.join(", ")
                ),
            }
        }
        if outcomes.is_empty() {
            println!("no ZRM images (YYYYMMDDHHMMSS directories) found");
        }
    }
    Ok(if not_imported > 0 { 1 } else { 0 })
}
