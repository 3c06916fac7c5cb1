//! `zrm restore`: the command line of a restore. The restore itself is the library's
//! (`restore::execute`): this file turns the flags into a request, runs it, prints the report.

use clap::Args;

use super::Context;
use crate::binlog::coordinates::BinlogCoordinates;
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json};
use crate::restore::execute::{self, RestoreRequest};
use crate::restore::plan::Until;
use crate::restore::target::Target;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup set whose backups are restored
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub set: Option<String>,
    /// Restore every shard of a cluster, in parallel, each to its own coordinates of one
    /// logical point (--until-gsn, --until-checkpoint or --until-time)
    #[arg(long)]
    pub cluster: Option<String>,
    /// With --cluster: the target of each shard, shard=TARGET,… (default: the cluster's
    /// `restore_targets`)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SHARD=TARGET,…",
        requires = "cluster"
    )]
    pub target_map: Vec<String>,
    /// The backup id (default: the latest full backup)
    #[arg(long)]
    pub backup: Option<String>,
    /// Where to restore: a set name, mysql://user@host:port, or datadir:/path
    #[arg(long)]
    pub target: Option<String>,
    /// Restore only these databases (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub databases: Option<Vec<String>>,
    /// Allow replacing databases that exist on the target (they are dropped first)
    #[arg(long)]
    pub replace: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply every transaction committed at or before this time (the server's zone unless an
    /// offset is given)
    #[arg(long, value_name = "TIME", group = "until")]
    pub until_time: Option<String>,
    /// Stop before the transaction that starts at FILE:POS
    #[arg(long, value_name = "FILE:POS", group = "until")]
    pub until_position: Option<String>,
    /// Stop before the transaction with this GTID (MariaDB d-s-n, MySQL uuid:n)
    #[arg(long, value_name = "GTID", group = "until")]
    pub until_gtid: Option<String>,
    /// Apply every transaction before the first that writes a global sequence number above N
    /// (the cluster's `gsn` table)
    #[arg(long, value_name = "N", group = "until")]
    pub until_gsn: Option<u64>,
    /// Stop at a named checkpoint of the set's cluster (`zrm checkpoint`)
    #[arg(long, value_name = "NAME", group = "until")]
    pub until_checkpoint: Option<String>,
    /// Include the transaction at the UNTIL point (--until-position, --until-gtid)
    #[arg(long)]
    pub inclusive: bool,
    /// Restore the backup alone, replaying no binary log
    #[arg(long, conflicts_with_all = ["until_time", "until_position", "until_gtid", "resume"])]
    pub no_binlogs: bool,
    /// Continue an interrupted replay from FILE:POS (the base is not restored again)
    #[arg(long, value_name = "FILE:POS", conflicts_with = "resume_load")]
    pub resume: Option<String>,
    /// Continue an interrupted load of a logical backup: chunks the target already committed
    /// are skipped, then the binlogs are replayed as asked
    #[arg(long)]
    pub resume_load: bool,
    /// Connections for a logical load (default: the set's `parallel`)
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Create secondary indexes with the tables instead of after the data (logical backups)
    #[arg(long)]
    pub no_defer_indexes: bool,
    /// Snapshot backups into datadir:PATH: start a throwaway server on the rebuilt directory,
    /// replay the binary logs into it, and shut it down cleanly
    #[arg(long)]
    pub start_server: bool,
    /// ebs backups: attach the new volume to this instance id
    #[arg(long, value_name = "INSTANCE")]
    pub attach_to: Option<String>,
    /// ebs backups: the device name for --attach-to (default: the source volume's)
    #[arg(long, value_name = "DEVICE", requires = "attach_to")]
    pub device: Option<String>,
    /// Write the loaded data to the target's binary log (off by default, so a restore does
    /// not replicate; the account then needs no SUPER / BINLOG ADMIN)
    #[arg(long)]
    pub log_bin: bool,
}

pub async fn run(ctx: &Context, args: RestoreArgs) -> Result<i32> {
    if let Some(cluster) = args.cluster.clone() {
        return super::cluster_restore::run(ctx, &cluster, &args).await;
    }
    let config = ctx.config()?;
    let req = request(ctx, &config, &args)?;
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
        (_, _, Some(g)) => Until::Gtid(g.clone()),
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
    Ok(req)
}
