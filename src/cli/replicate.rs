//! `zrm replicate --set S [--to URL]`: the command line of replication (`crate::replicate`).

use clap::Args;

use super::Context;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, human_bytes};
use crate::replicate::replicate_set;

#[derive(Debug, Args)]
pub struct ReplicateArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// Target repository: s3://bucket/prefix or a directory (default: [repository.replica])
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Region of an s3:// target (default: [repository.replica], then [repository])
    #[arg(long, value_name = "REGION", requires = "to")]
    pub to_region: Option<String>,
    /// Endpoint of an s3:// target (default: [repository.replica], then [repository])
    #[arg(long, value_name = "URL", requires = "to")]
    pub to_endpoint: Option<String>,
    /// Print what would be copied, copy nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: ReplicateArgs) -> Result<i32> {
    let config = ctx.config()?;
    crate::repo::check_component("set name", &args.set)?;
    if !config.has_set(&args.set) {
        return Err(config.unknown_set(&args.set));
    }
    let target = match &args.to {
        Some(t) => config.location_of(t, args.to_region.clone(), args.to_endpoint.clone())?,
        None => config.replica_location()?.ok_or_else(|| {
            Error::Usage(
                "replicate needs --to s3://bucket/prefix (or a directory), or a \
                 [repository.replica] in the configuration"
                    .into(),
            )
        })?,
    };
    let r = tokio::task::block_in_place(|| {
        replicate_set(&config, &target, &args.set, args.dry_run, &|m| ctx.note(m))
    })?;
    if ctx.json() {
        emit_json(&serde_json::json!({ "dry_run": args.dry_run, "replicated": r }));
    } else {
        let verb = if args.dry_run { "would copy" } else { "copied" };
        emit(&format!(
            "set '{}': {} → {}: {verb} {} file(s), {} ({} backup manifest(s)); {} already there; {:.1}s\n",
            r.set,
            r.from,
            r.to,
            r.copied.len(),
            human_bytes(r.copied_bytes),
            r.manifests_copied,
            r.already_there,
            r.duration_s
        ));
    }
    Ok(0)
}
