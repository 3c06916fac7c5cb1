//! The command line: clap definitions (the single source for help and man pages) and dispatch.
//! One file per command; each returns `Result<i32>` (its exit code) or an error.

pub mod backup;
pub mod binlog;
pub mod check;
pub mod cluster;
pub mod cluster_restore;
pub mod compat;
pub mod import;
pub mod import_config;
pub mod key;
pub mod list;
pub mod purge;
pub mod replicate;
pub mod report;
pub mod restore;
pub mod restore_args;
pub mod schedule;
pub mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigFile, Method};
use crate::error::Result;
use crate::output::Format;
use crate::progress::ProgressPolicy;

#[derive(Debug, Parser)]
#[command(
    name = "zrm",
    version,
    about = "Point-in-time backup manager for MySQL and MariaDB",
    long_about = "Point-in-time backup manager for MySQL and MariaDB.\n\n\
        Exit codes: 0 success, 1 the command failed, 2 bad usage or configuration."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr (-vv for debugging)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never draw progress bars (they are drawn only when stderr is a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check configuration, connection, privileges, binary log settings, tools and repository
    Check(check::CheckArgs),
    /// Take a backup: full (level 0) or incremental
    Backup(backup::BackupArgs),
    /// List the backups in the catalog
    List(list::ListArgs),
    /// Show one backup's manifest
    Show(list::ShowArgs),
    /// Restore a backup, then replay the archived binary logs to a point in time
    Restore(Box<restore::RestoreArgs>),
    /// Binary logs: archive, purge, analyze, find
    #[command(subcommand)]
    Binlog(binlog::BinlogCommand),
    /// A named, consistent cut across all shards of a cluster
    Checkpoint(cluster::CheckpointArgs),
    /// Verify backups: every file read back and checked, or a test restore with --restore
    Verify(verify::VerifyArgs),
    /// Apply retention: delete expired backups and binary logs
    Purge(purge::PurgeArgs),
    /// Keep a backup whatever the retention says
    Pin(purge::PinArgs),
    /// Let retention apply to a pinned backup again
    Unpin(purge::PinArgs),
    /// Copy backups and binary logs to a second repository (disaster recovery)
    Replicate(replicate::ReplicateArgs),
    /// Encryption keys
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Manage crontab entries for scheduled backups
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Reports: status, method, retention, performance, restore points
    Report(report::ReportArgs),
    /// Write the zrm.toml equivalent of ZRM's mysql-zrm.conf files
    ImportConfig(import_config::ImportConfigArgs),
    /// Import ZRM's backup images into the repository (copied, md5 sums checked)
    Import(import::ImportArgs),
}

/// What every command gets: the global flags and, once loaded, the configuration.
pub struct Context {
    pub global: GlobalArgs,
    pub progress: ProgressPolicy,
}

impl Context {
    pub fn config(&self) -> Result<ConfigFile> {
        let config = ConfigFile::locate_and_load(self.global.config.as_deref())?;
        crate::mysql::tools::configure(config.tool_dirs());
        if let Some(p) = &config.defaults.log_file {
            let path = config.resolve_path(p);
            if let Err(e) = crate::logfile::set(&path) {
                self.note(&format!(
                    "warning: cannot write the log file {}: {e}",
                    path.display()
                ));
            }
        }
        Ok(config)
    }

    pub fn json(&self) -> bool {
        self.global.format == Format::Json
    }

    /// Refuse a `--format` this command cannot produce.
    pub fn require_format(&self, command: &str, allowed: &[Format]) -> Result<()> {
        if allowed.contains(&self.global.format) {
            return Ok(());
        }
        Err(crate::error::Error::Usage(
            format!(
                "`zrm {command}` cannot write --format {:?}; it writes {}",
                self.global.format,
                allowed
                    .iter()
                    .map(|f| format!("{f:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .to_lowercase(),
        ))
    }

    /// A line for the human on stderr (not in quiet mode): notes that are not the result.
    pub fn note(&self, msg: &str) {
        if !self.global.quiet {
            crate::logfile::note(msg);
        }
    }
}

impl crate::progress::Reporter for Context {
    fn note(&self, msg: &str) {
        Context::note(self, msg)
    }
    fn progress(&self, what: &str) -> Box<dyn crate::progress::Progress> {
        self.progress.start(what)
    }
}

pub async fn run(cli: Cli) -> Result<i32> {
    // Every command: SIGINT/SIGTERM run the clean-ups, say what was left, exit 130/143.
    crate::cleanup::install();
    crate::cleanup::on_interrupt(on_interrupt(&cli.command));
    let ctx = Context {
        progress: ProgressPolicy::from_flags(cli.global.quiet, cli.global.no_progress),
        global: cli.global,
    };
    // What killed zrm runs left in the temporary directories (cheap when there is nothing).
    for note in tokio::task::block_in_place(crate::scratch::sweep) {
        ctx.note(&note);
    }
    let plain = [Format::Text, Format::Json];
    match &cli.command {
        Command::Binlog(_) | Command::Report(_) => {}
        Command::Check(_) => ctx.require_format("check", &plain)?,
        Command::Backup(_) => ctx.require_format("backup", &plain)?,
        Command::List(_) => ctx.require_format("list", &plain)?,
        Command::Show(_) => ctx.require_format("show", &plain)?,
        Command::Restore(_) => ctx.require_format("restore", &plain)?,
        Command::Verify(_) => ctx.require_format("verify", &plain)?,
        Command::Checkpoint(_) => ctx.require_format("checkpoint", &plain)?,
        Command::Replicate(_) => ctx.require_format("replicate", &plain)?,
        Command::ImportConfig(_) => ctx.require_format("import-config", &plain)?,
        Command::Import(_) => ctx.require_format("import", &plain)?,
        _ => {}
    }
    match cli.command {
        Command::Check(a) => check::run(&ctx, a).await,
        Command::Backup(a) => backup::run(&ctx, a).await,
        Command::List(a) => list::run_list(&ctx, a),
        Command::Show(a) => list::run_show(&ctx, a),
        Command::Restore(a) => restore::run(&ctx, *a).await,
        Command::Binlog(c) => binlog::run(&ctx, c).await,
        Command::Checkpoint(a) => cluster::checkpoint(&ctx, a).await,
        Command::Verify(a) => verify::run(&ctx, a).await,
        Command::Purge(a) => purge::run(&ctx, a).await,
        Command::Pin(a) => purge::pin(&ctx, a, true),
        Command::Unpin(a) => purge::pin(&ctx, a, false),
        Command::Replicate(a) => replicate::run(&ctx, a).await,
        Command::Key(c) => key::run(&ctx, c),
        Command::Schedule(c) => tokio::task::block_in_place(|| schedule::run(&ctx, c)),
        Command::Report(a) => report::run(&ctx, a).await,
        Command::ImportConfig(a) => import_config::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
    }
}

/// What the message after SIGINT/SIGTERM says: what was interrupted and the state it leaves.
fn on_interrupt(command: &Command) -> String {
    match command {
        Command::Backup(_) => "the backup was interrupted; no manifest was written, so it does \
             not exist; a directory it left (`zrm list --all` shows it as interrupted) goes at \
             the next `zrm purge` of the set"
            .into(),
        Command::Binlog(binlog::BinlogCommand::Archive(_)) => "binlog archiving was \
             interrupted; what was stored before is complete and verified (a file's index is \
             written after its data), and the next `zrm binlog archive` goes on from there"
            .into(),
        Command::Binlog(binlog::BinlogCommand::Purge(_)) => "binlog purge was interrupted; \
             the server purged at most the files that are archived and verified"
            .into(),
        Command::Restore(_) => "the restore was interrupted; a server target holds a partial \
             restore (restore again with --replace, or continue a logical load with \
             --resume-load); a datadir target was left untouched (the files are extracted \
             aside and renamed into place only at the end)"
            .into(),
        Command::Verify(_) => "verify was interrupted; nothing was recorded for the backup \
             being checked, and the repository is unchanged"
            .into(),
        Command::Purge(_) => "purge was interrupted; each backup is deleted manifest first, so \
             every backup still listed is whole; the next purge finishes the rest"
            .into(),
        Command::Replicate(_) => "replicate was interrupted; the replica holds only complete \
             backups (a manifest is copied after all its files), and the next replicate goes \
             on from there"
            .into(),
        Command::Checkpoint(_) => "the checkpoint was interrupted; it is recorded only once \
             every shard's point is read, and the shards' read locks ended with zrm's connections"
            .into(),
        Command::Check(_) => "check was interrupted; it changes nothing".into(),
        Command::List(_) | Command::Show(_) | Command::Report(_) => {
            "interrupted; it only reads, nothing changed".into()
        }
        Command::Binlog(_) => "interrupted; it only reads, nothing changed".into(),
        Command::Import(_) => "import was interrupted; an image is listed only once its \
             manifest is written after its data, so a half-copied image is an interrupted \
             backup (`zrm list --all`), removed by the next purge; import again"
            .into(),
        Command::ImportConfig(_) => {
            "import-config was interrupted; a file it wrote is whole (written aside, then \
             renamed)"
                .into()
        }
        Command::Pin(_) | Command::Unpin(_) | Command::Key(_) | Command::Schedule(_) => {
            "interrupted".into()
        }
    }
}

/// `--method` on the command line.
pub fn method_override(m: Option<Method>) -> crate::config::SetOptions {
    crate::config::SetOptions {
        method: m,
        ..Default::default()
    }
}
