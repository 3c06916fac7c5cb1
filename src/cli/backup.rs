//! `zrm backup`: the command line of a backup. The backup itself is the library's
//! (`crate::backup::take`); this file adds the set's hooks and metrics around it and prints
//! the report.

use clap::Args;

use super::Context;
use crate::backup::{self, BackupRequest, Level};
use crate::catalog;
use crate::config::Method;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, human_bytes};
use crate::repo::Repository;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup set
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub set: Option<String>,
    /// Back up every set of a cluster, in parallel (the cluster's `parallel`); with --level
    /// 1|auto every shard's incremental
    #[arg(long)]
    pub cluster: Option<String>,
    /// 0 = full, 1 = incremental (binary logs since the last backup), auto = full if none usable
    #[arg(long, default_value = "0", value_parser = ["0", "1", "auto"])]
    pub level: String,
    /// Override the set's method
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// One consistent cut across the cluster's shards: every shard locked at once
    #[arg(long, requires = "cluster")]
    pub coordinated: bool,
    /// A note stored in the manifest
    #[arg(long)]
    pub comment: Option<String>,
    /// Print what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: BackupArgs) -> Result<i32> {
    let Some(set_name) = args.set.clone().filter(|_| !args.dry_run) else {
        return run_set(ctx, args).await; // a cluster, or a dry run: no hooks, no metrics
    };
    let config = ctx.config()?;
    crate::repo::check_component("set name", &set_name)?;
    let set = config.resolve_set(&set_name, &super::method_override(args.method))?;
    let level = args.level.clone();
    let env = crate::hooks::HookEnv {
        set: &set,
        level: &level,
        config: &config.source,
    };
    crate::hooks::pre_backup(&env)?;
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);
    let result = run_set(ctx, args).await;
    // The backup this run made, if any: the newest that started during the run.
    let made = Repository::open(&config, false).ok().and_then(|repo| {
        catalog::list_set(&repo, &set.name)
            .ok()?
            .into_iter()
            .filter_map(|e| match e {
                catalog::CatalogEntry::Complete(m) if m.start_time >= started => Some(m.id),
                _ => None,
            })
            .next_back()
    });
    let error = result.as_ref().err().map(|e| e.to_string());
    if let Err(e) = crate::hooks::post_backup(&env, made.as_deref(), error.as_deref()) {
        ctx.note(&format!("warning: {e}"));
    }
    if let Some(path) = &set.metrics_file {
        let written = Repository::open(&config, false)
            .and_then(|repo| crate::metrics::render(&config, &repo, (&set.name, result.is_ok())))
            .and_then(|text| crate::metrics::write(path, &text));
        if let Err(e) = written {
            ctx.note(&format!("warning: the metrics file was not updated: {e}"));
        }
    }
    result
}

async fn run_set(ctx: &Context, args: BackupArgs) -> Result<i32> {
    let level = match args.level.as_str() {
        "1" => Level::Incremental,
        "auto" => Level::Auto,
        _ => Level::Full,
    };
    if let Some(cluster) = &args.cluster {
        if args.method.is_some() || args.dry_run {
            return Err(Error::Usage(
                "backup --cluster takes each set's own method and has no dry run: --method and \
                 --dry-run go with --set"
                    .into(),
            ));
        }
        return super::cluster::backup(ctx, cluster, level, args.coordinated, args.comment.clone())
            .await;
    }
    let config = ctx.config()?;
    let set_name = args
        .set
        .clone()
        .expect("clap requires --set without --cluster");
    crate::repo::check_component("set name", &set_name)?;
    let set = config.resolve_set(&set_name, &super::method_override(args.method))?;
    let report = backup::take(
        &config,
        BackupRequest {
            set,
            level,
            comment: args.comment.clone(),
            dry_run: args.dry_run,
        },
        ctx,
    )
    .await?;
    if let Some(m) = report.manifest() {
        crate::logfile::result(format!(
            "backup {} of set '{}': level {}, {}, {}",
            m.id,
            m.set,
            m.level,
            m.method,
            human_bytes(m.total_stored_size())
        ));
    }
    if ctx.json() {
        emit_json(&report);
    } else {
        emit(&report.to_string());
    }
    Ok(0)
}
