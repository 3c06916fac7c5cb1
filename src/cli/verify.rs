//! `zrm verify --set S [ID|--all] [--restore [--binlogs]]`: the command line of `crate::verify`.

use clap::Args;

use super::Context;
use crate::error::Result;
use crate::output::{emit, emit_json};
use crate::verify::{self, VerifyRequest};

pub use crate::verify::verify_record_path;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// The backup to verify (default: the latest)
    #[arg(value_name = "ID", conflicts_with = "all")]
    pub id: Option<String>,
    /// Verify every backup of the set
    #[arg(long)]
    pub all: bool,
    /// Also restore into a throwaway server and compare row counts and checksums
    #[arg(long)]
    pub restore: bool,
    /// With --restore: then replay the archived binlogs to the end
    #[arg(long, requires = "restore")]
    pub binlogs: bool,
}

pub async fn run(ctx: &Context, args: VerifyArgs) -> Result<i32> {
    let config = ctx.config()?;
    let report = verify::verify(
        &config,
        VerifyRequest {
            set: args.set.clone(),
            id: args.id.clone(),
            all: args.all,
            restore: args.restore,
            binlogs: args.binlogs,
        },
        ctx,
    )
    .await?;
    crate::logfile::result(format!(
        "{}: {}{}",
        if report.ok { "OK" } else { "FAILED" },
        report
            .backups
            .iter()
            .map(|b| {
                let r = &b.record;
                if r.ok {
                    format!("backup {} of set '{}' verified", r.backup, r.set)
                } else {
                    format!(
                        "backup {} of set '{}' FAILED ({})",
                        r.backup,
                        r.set,
                        r.failures.join("; ")
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        report
            .warnings
            .first()
            .map(|w| format!("; WARNING: {w}"))
            .unwrap_or_default()
    ));
    if ctx.json() {
        emit_json(&report);
    } else {
        emit(&report.to_string());
    }
    Ok(if report.ok { 0 } else { 1 })
}
