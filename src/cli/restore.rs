//! `zrm restore`: the command line of a restore. The restore itself is the library's
//! (`restore::execute`): this file turns the flags into a request, runs it, prints the report.

pub use super::restore_args::RestoreArgs;
use super::Context;
use crate::binlog::coordinates::BinlogCoordinates;
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json};
use crate::restore::execute::{self, RestoreRequest};
use crate::restore::plan::Until;
use crate::restore::target::Target;

pub async fn run(ctx: &Context, args: RestoreArgs) -> Result<i32> {
    if let Some(cluster) = args.cluster.clone() {
        return super::cluster_restore::run(ctx, &cluster, &args).await;
    }
    let config = ctx.config()?;
    let req = match &args.plan {
        Some(file) => crate::restore::shard_plan::ShardPlan::read(file)?.request(&config)?,
        None => request(ctx, &config, &args)?,
    };
    let report = execute::execute(&config, req, ctx).await?;
    if ctx.json() {
        emit_json(&report);
    } else {
        emit(&report.to_string());
    }
    Ok(0)
}

/// The request the flags describe.
fn request(ctx: &Context, config: &ConfigFile, args: &RestoreArgs) -> Result<RestoreRequest> {
    let set = args
        .set
        .clone()
        .expect("clap requires --set without --cluster");
    crate::repo::check_component("set name", &set)?;
    if !config.has_set(&set) {
        return Err(config.unknown_set(&set));
    }
    let target_spec = args.target.as_deref().ok_or_else(|| {
        let source = config
            .resolve_set(&set, &Default::default())
            .map(|s| s.connection.display())
            .unwrap_or_default();
        Error::Usage(format!(
            "restore needs --target (a set name, mysql://user@host:port, or datadir:/path); \
             zrm never picks the target for you, to keep a restore from landing on the source \
             (set '{set}' is {source})"
        ))
    })?;
    let target = Target::parse(target_spec, config)?;
    let mut req = RestoreRequest::new(&set, target, target_spec);
    // A GSN or a checkpoint is a position on this set's binlog: resolved to one.
    let position = if args.until_gsn.is_some() || args.until_checkpoint.is_some() {
        super::cluster_restore::resolve_point(ctx, config, &set, None, args)?
    } else {
        args.until_position
            .as_deref()
            .map(|p| BinlogCoordinates::parse("--until-position", p))
            .transpose()?
    };
    req.until = match (&args.until_time, position, &args.until_gtid) {
        (Some(t), _, _) => Until::Time(crate::restore::plan::time_in_source_zone(config, &set, t)?),
        (_, Some(p), _) => Until::Position(p),
        (_, _, Some(g)) => Until::from_gtid_text(g)?,
        _ => Until::All,
    };
    for (flag, v) in [
        ("--until-time", &args.until_time),
        ("--until-position", &args.until_position),
        ("--until-gtid", &args.until_gtid),
        ("--until-checkpoint", &args.until_checkpoint),
    ] {
        if let Some(v) = v {
            req.until_flags.push_str(&format!(" {flag} '{v}'"));
        }
    }
    if let Some(n) = args.until_gsn {
        req.until_flags.push_str(&format!(" --until-gsn {n}"));
    }
    if args.inclusive {
        req.until_flags.push_str(" --inclusive");
    }
    req.inclusive = args.inclusive;
    req.backup = args.backup.clone();
    req.databases = args.databases.clone();
    req.tables = args
        .tables
        .as_deref()
        .map(crate::restore::tables::parse_tables)
        .transpose()?;
    req.rename = crate::restore::tables::parse_renames(&args.rename_database)?;
    req.replace = args.replace;
    req.dry_run = args.dry_run;
    req.no_binlogs = args.no_binlogs;
    req.resume = args
        .resume
        .as_deref()
        .map(|r| BinlogCoordinates::parse("--resume", r))
        .transpose()?;
    req.resume_load = args.resume_load;
    req.parallel = args.parallel;
    req.defer_indexes = !args.no_defer_indexes;
    req.start_server = args.start_server;
    req.attach_to = args.attach_to.clone();
    req.device = args.device.clone();
    req.log_bin = args.log_bin;
    req.applier = args.applier.into();
    req.replay_lanes = args.replay_lanes.max(1);
    req.skip_gtids = args.skip_gtids;
    Ok(req)
}
