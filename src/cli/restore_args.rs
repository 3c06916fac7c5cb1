//! The flags of `zrm restore`, shared by its two forms: one set (`cli/restore.rs`) and every
//! shard of a cluster (`cli/cluster_restore.rs`).

use clap::Args;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup set whose backups are restored
    #[arg(
        long,
        required_unless_present_any = ["cluster", "plan"],
        conflicts_with_all = ["cluster", "plan"]
    )]
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
    /// With --cluster: resolve every shard's stop point and write one plan per shard into
    /// DIR (DIR/CLUSTER.SET.json) instead of restoring; run each with --plan on the shard's
    /// host
    #[arg(long, value_name = "DIR", requires = "cluster")]
    pub plan_out: Option<std::path::PathBuf>,
    /// Carry out one shard's plan written by --plan-out (with this host's configuration)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "cluster",
            "target",
            "until",
            "backup",
            "databases",
            "tables",
            "rename_database"
        ]
    )]
    pub plan: Option<std::path::PathBuf>,
    /// The backup id (default: the latest full backup)
    #[arg(long)]
    pub backup: Option<String>,
    /// Where to restore: a set name, mysql://user@host:port, or datadir:/path
    #[arg(long)]
    pub target: Option<String>,
    /// Restore only these databases (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub databases: Option<Vec<String>>,
    /// Restore only these tables, db.table (comma-separated; logical backups): their schema,
    /// their data and the binlog changes to them; nothing else of their databases is touched
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "DB.TABLE,…",
        conflicts_with_all = ["databases", "cluster"]
    )]
    pub tables: Option<Vec<String>>,
    /// Restore database OLD under the name NEW (repeatable, or comma-separated; logical
    /// backups): its tables are created in NEW and its binlog changes applied to NEW, never to
    /// OLD
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "OLD=NEW",
        conflicts_with = "cluster"
    )]
    pub rename_database: Vec<String>,
    /// Allow replacing databases that exist on the target (they are dropped first; with
    /// --tables, only those tables are)
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
    /// Stop before the transaction with this GTID (MariaDB d-s-n, MySQL uuid:n), or apply
    /// exactly a GTID set (MySQL uuid:1-N,…; MariaDB d-s-n,d-s-n for several domains)
    #[arg(long, value_name = "GTID|SET", group = "until")]
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
    /// Write the loaded data and the replayed binlogs to the target's binary log (off by
    /// default, so a restore does not replicate)
    #[arg(long)]
    pub log_bin: bool,
    /// Who applies the binlogs: zrm (its own parallel applier; statements and DDL go through
    /// the client) or client (`mysqlbinlog | mysql`, one session)
    #[arg(long, value_enum, default_value = "zrm", value_name = "zrm|client")]
    pub applier: ApplierArg,
    /// Replay without the source's GTIDs (MySQL): the target gives the transactions its own
    /// (or none), and zrm's applier lets them share commits, which is much faster on a target
    /// that would take every source GTID with one commit each
    #[arg(long)]
    pub skip_gtids: bool,
    /// Connections of zrm's applier
    #[arg(long, value_name = "N", default_value_t = crate::restore::execute::DEFAULT_REPLAY_LANES)]
    pub replay_lanes: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ApplierArg {
    Zrm,
    Client,
}

impl From<ApplierArg> for crate::restore::execute::Applier {
    fn from(a: ApplierArg) -> Self {
        match a {
            ApplierArg::Zrm => crate::restore::execute::Applier::Zrm,
            ApplierArg::Client => crate::restore::execute::Applier::Client,
        }
    }
}
