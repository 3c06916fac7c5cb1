//! `zrm binlog analyze|find|archive|purge`.

use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use regex::Regex;

use super::Context;
use crate::binlog::analyze::{EventPrinter, Filters, OutputFormat, Summary, TrxGrouper};
use crate::binlog::archive::{self, Archiver};
use crate::binlog::archive_index::Gap;
use crate::binlog::find::{Finder, StopPoint, Target};
use crate::binlog::reader::BinlogReader;
use crate::binlog::scan::{ScanOptions, Scanner};
use crate::binlog::sources::{self, Input};
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};
use crate::output::{emit, emit_json, human_bytes, Format};
use crate::repo::Repository;
use crate::timeparse::{parse_time, utc};

#[derive(Debug, Subcommand)]
pub enum BinlogCommand {
    /// Copy closed (or with --follow, live) binary logs into the repository
    Archive(ArchiveArgs),
    /// PURGE BINARY LOGS on the server, never past what is archived and verified
    Purge(PurgeArgs),
    /// The binary log analyzer: events or transactions, filters, summaries
    Analyze(AnalyzeArgs),
    /// Resolve a recovery point to exact coordinates for `restore --until-position`
    Find(FindArgs),
    /// `mysql-zrm --action parse-binlogs`: ZRM's table of events
    #[command(name = "zrm-parse", hide = true)]
    ZrmParse(ParseArgs),
}

/// Where the binlogs come from.
#[derive(Debug, Args)]
pub struct Sources {
    /// Binlog files (plain or .zst-compressed), read in the order given
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The archived binlogs of a set (from `binlog archive`)
    #[arg(long, conflicts_with = "files")]
    pub set: Option<String>,
    /// Only the binlog range of this backup (with --set)
    #[arg(long, requires = "set")]
    pub backup: Option<String>,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The backup set whose server's binlogs are archived
    #[arg(long)]
    pub set: String,
    /// Keep streaming the live binlog (until SIGINT/SIGTERM), reconnecting when needed
    #[arg(long)]
    pub follow: bool,
    /// With --follow: store a durable segment at least this often (seconds)
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The backup set whose server's binlogs are purged
    #[arg(long)]
    pub set: String,
    /// Print what would be purged, purge nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Event,
    Transaction,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub sources: Sources,
    /// Events at or after this time (UTC unless an offset is given)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events at or before this time
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Events of this database
    #[arg(long)]
    pub database: Option<String>,
    /// Events of this table (`table` or `db.table`)
    #[arg(long)]
    pub table: Option<String>,
    /// Event types (comma-separated, prefixes: query, write_rows, gtid, …)
    #[arg(long = "type", value_delimiter = ',', value_name = "TYPE")]
    pub types: Vec<String>,
    /// Statements matching this regular expression
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// Events of the transaction with this GTID
    #[arg(long)]
    pub gtid: Option<String>,
    /// One line per event (default) or per transaction
    #[arg(long, value_enum, default_value_t = By::Event)]
    pub by: By,
    /// DML per table, activity per minute, largest transactions, DDL timeline
    #[arg(long)]
    pub summary: bool,
    /// Decode and show the row values of rows events
    #[arg(long)]
    pub values: bool,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    #[command(flatten)]
    pub sources: Sources,
    /// The last transaction committed at or before this time (UTC unless an offset is given)
    #[arg(long, value_name = "TIME", group = "point")]
    pub time: Option<String>,
    /// Just before the transaction with this GTID
    #[arg(long, group = "point")]
    pub gtid: Option<String>,
    /// Just before the transaction holding the first statement matching this regex
    #[arg(long = "match", value_name = "REGEX", group = "point")]
    pub pattern: Option<String>,
    /// Just before the first transaction that writes a global sequence number above N (the
    /// cluster's `gsn` table and column)
    #[arg(long, group = "point", value_name = "N")]
    pub gsn: Option<u64>,
    /// With --gsn: every shard of this cluster (instead of --set)
    #[arg(long, requires = "gsn", conflicts_with_all = ["files", "set"])]
    pub cluster: Option<String>,
}

pub async fn run(ctx: &Context, cmd: BinlogCommand) -> Result<i32> {
    match cmd {
        BinlogCommand::Analyze(a) => tokio::task::block_in_place(|| analyze(ctx, a)),
        BinlogCommand::Find(a) => tokio::task::block_in_place(|| find(ctx, a)),
        BinlogCommand::ZrmParse(a) => tokio::task::block_in_place(|| parse_binlogs(ctx, a)),
        BinlogCommand::Archive(a) => archive_cmd(ctx, a).await,
        BinlogCommand::Purge(a) => purge_cmd(ctx, a).await,
    }
}

/// What to read: files, or a set's archive (with its repository, and the gaps in it).
pub(super) struct Resolved {
    repo: Option<Repository>,
    inputs: Vec<Input>,
    gaps: Vec<Gap>,
    /// The zone of times given without an offset: the set's server's (as `restore` reads
    /// them), UTC for plain files.
    pub(super) zone: chrono::FixedOffset,
    /// The executed GTIDs where the inputs start, when that is a backup's point (`--backup`).
    start_gtids: Option<String>,
}

pub(super) fn resolve(ctx: &Context, s: &Sources) -> Result<Resolved> {
    if let Some(set) = &s.set {
        crate::repo::check_component("set name", set)?;
        let config = ctx.config()?;
        let repo = Repository::open(&config, false)?;
        let view = sources::archived(&repo, set)?;
        let mut inputs = view.inputs;
        let mut start_gtids = None;
        if let Some(id) = &s.backup {
            let m = crate::catalog::find_backup(&repo, set, id)?;
            let (from, to) = sources::backup_range(&m)?;
            inputs = sources::restrict(inputs, &from, to.as_ref());
            start_gtids = from.gtid_set.clone();
        }
        for g in &view.gaps {
            ctx.note(&format!("warning: gap in the archive of set '{set}': {g}"));
        }
        let zone = crate::restore::plan::source_zone(&repo, set);
        return Ok(Resolved {
            repo: Some(repo),
            inputs,
            gaps: view.gaps,
            zone,
            start_gtids,
        });
    }
    if s.files.is_empty() {
        return Err(Error::Usage(
            "name binlog files, or --set S for a set's archive".into(),
        ));
    }
    Ok(Resolved {
        repo: None,
        inputs: s.files.iter().cloned().map(Input::from_path).collect(),
        gaps: Vec::new(),
        zone: utc(),
        start_gtids: None,
    })
}

/// Scan every input in order with one scanner (transaction state carries over).
pub(super) fn scan_all(
    r: &Resolved,
    options: ScanOptions,
    visit: &mut dyn FnMut(crate::binlog::scan::EventInfo) -> ControlFlow<()>,
) -> Result<()> {
    let mut scanner = Scanner::new(options);
    for input in &r.inputs {
        let stopped = std::cell::Cell::new(false);
        let end = input.end;
        let mut wrapped = |e: crate::binlog::scan::EventInfo| {
            if end.is_some_and(|end| e.pos >= end) {
                return ControlFlow::Break(());
            }
            let flow = visit(e);
            stopped.set(flow.is_break());
            flow
        };
        let display = input.display();
        let mut reader = BinlogReader::new(input.open(r.repo.as_ref())?, input.name.clone())
            .map_err(|mut e| {
                e.file = display.clone();
                e
            })?;
        if let Some(start) = input.start {
            reader.skip_to(start).map_err(|mut e| {
                e.file = display.clone();
                e
            })?;
        }
        scanner.scan(&mut reader, &mut wrapped).map_err(|mut e| {
            e.file = display.clone();
            Error::from(e)
        })?;
        if stopped.get() {
            break;
        }
    }
    Ok(())
}

fn filters(a: &AnalyzeArgs) -> Result<Filters> {
    let t = |s: &Option<String>| -> Result<Option<i64>> {
        s.as_deref()
            .map(|s| parse_time(s, utc()).map(|d| d.timestamp()))
            .transpose()
    };
    Ok(Filters {
        since: t(&a.since)?,
        until: t(&a.until)?,
        database: a.database.clone(),
        table: a.table.clone(),
        types: a.types.clone(),
        grep: a
            .grep
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| Error::Usage(format!("--grep: {e}")))?,
        gtid: a.gtid.clone(),
    })
}

fn analyze(ctx: &Context, a: AnalyzeArgs) -> Result<i32> {
    let files = resolve(ctx, &a.sources)?;
    let f = filters(&a)?;
    let format = match ctx.global.format {
        Format::Text => OutputFormat::Text,
        Format::Json => OutputFormat::Json,
        Format::Csv => OutputFormat::Csv,
        Format::Html => {
            return Err(Error::Usage(
                "binlog analyze writes text, json or csv".into(),
            ))
        }
    };
    let options = ScanOptions {
        decode_values: a.values,
        // The summary shows no row statement; skipping their text saves a fifth of its time.
        skip_annotations: a.summary,
    };
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let width = crate::output::terminal_width();

    if a.summary {
        if format == OutputFormat::Csv {
            return Err(Error::Usage("--summary writes text or json".into()));
        }
        let mut summary = Summary::default();
        scan_all(&files, options, &mut |e| {
            if f.matches(&e) {
                summary.push(&e);
            }
            ControlFlow::Continue(())
        })?;
        drop(out);
        if format == OutputFormat::Json {
            emit_json(&summary.to_json());
        } else {
            emit(&summary.to_text(width.unwrap_or(120)));
        }
        return Ok(0);
    }

    let mut printer = EventPrinter::new(out, format, width);
    let mut io_error: Option<std::io::Error> = None;
    let mut grouper = TrxGrouper::default();
    let by_trx = a.by == By::Transaction;
    let result = scan_all(&files, options, &mut |e| {
        let r = if by_trx {
            let m = f.matches(&e);
            match grouper.push(&e, m) {
                Some((t, true)) => printer.print_trx(&t),
                _ => Ok(()),
            }
        } else if f.matches(&e) {
            printer.print(&e)
        } else {
            Ok(())
        };
        match r {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                io_error = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    end_of_output(io_error, result, || printer.finish())
}

/// How a command that streams events to stdout ends: a reader gone away (broken pipe) is a
/// normal end; another write error, or the scan's own error, is the command's error. The
/// output is finished (flushed) even when the scan failed, so what was read is not lost.
pub(super) fn end_of_output(
    write_error: Option<std::io::Error>,
    scanned: Result<()>,
    finish: impl FnOnce() -> std::io::Result<()>,
) -> Result<i32> {
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(0);
        }
        return Err(Error::io("write", "standard output", e));
    }
    let flushed = finish();
    scanned?;
    if let Err(e) = flushed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Error::io("write", "standard output", e));
        }
    }
    Ok(0)
}

fn find(ctx: &Context, a: FindArgs) -> Result<i32> {
    ctx.require_format("binlog find", &[Format::Text, Format::Json])?;
    if let Some(n) = a.gsn {
        return find_gsn(ctx, &a, n);
    }
    let files = resolve(ctx, &a.sources)?;
    let target = match (&a.time, &a.gtid, &a.pattern) {
        (Some(t), _, _) => Target::Time(parse_time(t, files.zone)?.timestamp()),
        (_, Some(g), _) => Target::Gtid(g.clone()),
        (_, _, Some(p)) => {
            Target::Match(Regex::new(p).map_err(|e| Error::Usage(format!("--match: {e}")))?)
        }
        _ => {
            return Err(Error::Usage(
                "say what to find: --time, --gtid or --match".into(),
            ))
        }
    };
    let mut finder = Finder::new(target.clone());
    // The executed GTID set at the point: from a backup's state when one is named, else from
    // the first file's Previous_gtids / GTID list.
    finder.track_gtids(
        files
            .start_gtids
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .and_then(|t| crate::mysql::gtid::GtidState::parse(t).ok()),
    );
    scan_all(&files, ScanOptions::default(), &mut |e| finder.push(&e))?;
    let Some(point) = finder.finish() else {
        return Err(Error::Binlog(match target {
            Target::Time(_) => "no transaction in these binlogs: nothing to stop at".into(),
            Target::Gtid(g) => format!("no transaction with GTID {g} in these binlogs"),
            Target::Match(re) => format!("no statement matches /{re}/ in these binlogs"),
            Target::Position { .. } | Target::End | Target::Gsn(_) | Target::InSet(_) => {
                "no transaction in these binlogs".into()
            }
        }));
    };
    if ctx.json() {
        let mut v = serde_json::to_value(&point).expect("serialises");
        v["gaps"] = files
            .gaps
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .into();
        emit_json(&v);
    } else {
        emit(&describe(&point));
    }
    Ok(0)
}

/// `binlog find --gsn N` for one set (`--set S`) or every shard (`--cluster C`).
fn find_gsn(ctx: &Context, a: &FindArgs, n: u64) -> Result<i32> {
    let config = ctx.config()?;
    let sets: Vec<String> = match (&a.cluster, &a.sources.set) {
        (Some(c), _) => super::cluster::resolve(&config, c)?
            .1
            .into_iter()
            .map(|s| s.name)
            .collect(),
        (None, Some(s)) => vec![s.clone()],
        (None, None) => {
            return Err(Error::Usage(
                "--gsn needs --set S or --cluster C (the GSN table is found from the cluster)"
                    .into(),
            ))
        }
    };
    let mut found = Vec::new();
    for set in &sets {
        let point = gsn_stop_point(ctx, &config, set, a.cluster.as_deref(), n)?;
        found.push((set.clone(), point));
    }
    if ctx.json() {
        let shards: serde_json::Map<String, serde_json::Value> = found
            .iter()
            .map(|(s, p)| (s.clone(), serde_json::to_value(p).expect("serialises")))
            .collect();
        if a.cluster.is_some() {
            emit_json(&serde_json::json!({ "cluster": a.cluster, "gsn": n, "shards": shards }));
        } else {
            emit_json(&found[0].1);
        }
    } else {
        let mut out = String::new();
        for (set, p) in &found {
            if sets.len() > 1 {
                out.push_str(&format!("shard {set}:\n"));
            }
            out.push_str(&describe(p));
        }
        emit(&out);
    }
    Ok(0)
}

/// Where a set's archive must stop for "GSN ≤ n": the start of the first transaction that
/// writes a larger GSN (or the end of the archive). Blocking.
pub fn gsn_stop_point(
    ctx: &Context,
    config: &crate::config::ConfigFile,
    set: &str,
    cluster: Option<&str>,
    n: u64,
) -> Result<StopPoint> {
    let (_, gsn) = crate::cluster::gsn::config_for(config, set, cluster)?;
    let set_cfg = config.resolve_set(set, &Default::default())?;
    let mut files = resolve(
        ctx,
        &Sources {
            files: Vec::new(),
            set: Some(set.to_string()),
            backup: None,
        },
    )?;
    let repo = files
        .repo
        .as_ref()
        .expect("a set's archive has a repository");
    // An archive spanning a failover: both servers may have a `mysql-bin.000001`, so the stop
    // point names its file `FILE@SERVER_ID` (which restore reads on every server of the set's
    // timeline, the base backup's own included).
    let view = crate::binlog::sources::archived(repo, set)?;
    let first = view.indexes.first().map(|i| i.server_id);
    if view.indexes.iter().any(|i| Some(i.server_id) != first) {
        for (input, i) in files.inputs.iter_mut().zip(&view.indexes) {
            input.name = crate::binlog::timeline::qualified_name(&i.file, i.server_id);
        }
    }
    let max = i64::try_from(n).map_err(|_| Error::Usage(format!("--gsn {n} is too large")))?;
    let target = tokio::runtime::Handle::current()
        .block_on(crate::cluster::gsn::target(repo, &set_cfg, gsn, max))?;
    let mut finder = Finder::new(Target::Gsn(target));
    let options = ScanOptions {
        decode_values: true,
        ..Default::default()
    };
    scan_all(&files, options, &mut |e| finder.push(&e))?;
    finder.finish().ok_or_else(|| {
        Error::Binlog(format!(
            "set '{set}': no transaction in its binlog archive: archive the binlogs first \
             (`zrm binlog archive --set {set}`)"
        ))
    })
}

fn describe(p: &StopPoint) -> String {
    let mut s = format!("stop point: {}:{}\n", p.file, p.pos);
    if let Some(m) = &p.matched {
        s.push_str(&format!(
            "  matched:        {}\n",
            m.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    match &p.last_applied {
        Some(l) => s.push_str(&format!(
            "  last applied:   {}:{}-{} committed {}{}\n",
            l.file,
            l.pos,
            l.end_pos,
            l.time,
            l.gtid
                .as_deref()
                .map(|g| format!(" (GTID {g})"))
                .unwrap_or_default()
        )),
        None => {
            s.push_str("  last applied:   none (the point is before the first transaction read)\n")
        }
    }
    match &p.first_excluded {
        Some(x) => s.push_str(&format!(
            "  first excluded: {}:{}-{} committed {}{}\n",
            x.file,
            x.pos,
            x.end_pos,
            x.time,
            x.gtid
                .as_deref()
                .map(|g| format!(" (GTID {g})"))
                .unwrap_or_default()
        )),
        None => s.push_str("  first excluded: none (the point is the end of the binlogs read)\n"),
    }
    if let Some(set) = &p.gtid_set {
        s.push_str(&format!("  GTID set:       {set}\n"));
    }
    s.push_str(&format!(
        "restore with: --until-position {}:{}\n",
        p.file, p.pos
    ));
    if let Some(set) = p.gtid_set.as_ref().filter(|s| !s.is_empty()) {
        s.push_str(&format!("          or:  --until-gtid '{set}'\n"));
    }
    if let Some(set) = &p.gtid_set_inclusive {
        s.push_str(&format!(
            "with the first excluded transaction applied too: --until-gtid '{set}'\n"
        ));
    }
    // The matched statement and the names come from the binlog.
    crate::redact::escape_controls_in_lines(&s).into_owned()
}

async fn archive_cmd(ctx: &Context, a: ArchiveArgs) -> Result<i32> {
    ctx.require_format("binlog archive", &[Format::Text, Format::Json])?;
    let config = ctx.config()?;
    crate::repo::check_component("set name", &a.set)?;
    let set = config.resolve_set(&a.set, &Default::default())?;
    // Several servers: the binary logs of the primary (after a failover, the new one).
    let set = crate::servers::resolve(&set, crate::servers::Want::Primary).await?;
    if let Some(why) = &set.server_choice {
        ctx.note(&format!("archiving {}: {why}", set.connection.display()));
    }
    let repo = Repository::open(&config, true)?;
    let _lock = repo.backend().lock_binlogs(&set.name)?;
    let mut s = mysql::connect(&set.connection).await?;
    let facts = ServerFacts::gather(&mut s).await?;
    if !facts.log_bin {
        return Err(Error::Binlog(format!(
            "binary logging is off on {}: there is nothing to archive",
            set.connection.display()
        )));
    }
    let server_files = archive::server_binlogs(&mut s).await?;
    s.close().await;
    let note = |m: &str| ctx.note(m);
    let archiver = Archiver::for_set(&repo, &config, &set, &facts, &note);
    let started = std::time::Instant::now();
    let reports = if a.follow {
        // SIGINT/SIGTERM is the normal way to stop following: what was received is stored
        // and the report printed; a second signal interrupts (clean-up, 130/143).
        let stop = crate::cleanup::StopOnSignal::new();
        ctx.note(&format!(
            "following the binlogs of set '{}' (server {}); stop with Ctrl-C or SIGTERM",
            set.name, facts.server_id
        ));
        let interval = std::time::Duration::from_secs(a.interval.max(1));
        tokio::task::block_in_place(|| archiver.follow(&server_files, interval, &stop.flag))?
    } else {
        tokio::task::block_in_place(|| archiver.catch_up(&server_files))?
    };
    let secs = started.elapsed().as_secs_f64();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    if ctx.json() {
        emit_json(&serde_json::json!({
            "set": set.name,
            "server_id": facts.server_id,
            "files": reports,
            "bytes": bytes,
            "duration_s": secs,
        }));
    } else if reports.is_empty() {
        emit(&format!(
            "set '{}': nothing new to archive ({} closed binlogs on the server are archived)\n",
            set.name,
            server_files.len().saturating_sub(1)
        ));
    } else {
        let mut out = String::new();
        for r in &reports {
            out.push_str(&format!(
                "archived {} up to {} ({}, {} events, {} transactions){}\n",
                r.file,
                r.end_pos,
                human_bytes(r.bytes),
                r.events,
                r.transactions,
                if r.complete {
                    ""
                } else {
                    " — still open on the server"
                }
            ));
        }
        out.push_str(&format!(
            "set '{}': {} archived in {secs:.1}s ({:.1} MB/s)\n",
            set.name,
            human_bytes(bytes),
            bytes as f64 / 1e6 / secs.max(0.001)
        ));
        emit(&out);
    }
    Ok(0)
}

async fn purge_cmd(ctx: &Context, a: PurgeArgs) -> Result<i32> {
    ctx.require_format("binlog purge", &[Format::Text, Format::Json])?;
    let config = ctx.config()?;
    crate::repo::check_component("set name", &a.set)?;
    let set = config.resolve_set(&a.set, &Default::default())?;
    let repo = Repository::open(&config, false)?;
    let note = |m: &str| ctx.note(m);
    let r = crate::binlog::purge::purge(crate::binlog::purge::PurgeRequest {
        config: &config,
        repo: &repo,
        set: &set,
        dry_run: a.dry_run,
        note: &note,
    })
    .await?;
    if ctx.json() {
        emit_json(&r);
        return Ok(0);
    }
    let (verb, files) = if a.dry_run {
        ("would purge", &r.would_purge)
    } else {
        ("purged", &r.purged)
    };
    let mut out = if files.is_empty() {
        format!("set '{}': nothing to purge", r.set)
    } else {
        format!("set '{}': {verb} {}", r.set, files.join(", "))
    };
    out.push_str(&format!("; kept {} and later: {}\n", r.kept_from, r.reason));
    for h in &r.shared_with {
        out.push_str(&format!(
            "set '{}' archives the same server and needs {} and later ({})\n",
            h.set, h.file, h.why
        ));
    }
    if !r.kept_by_server.is_empty() {
        out.push_str(&format!(
            "the server kept {} (still in use by it); a later purge removes them\n",
            r.kept_by_server.join(", ")
        ));
    }
    emit(&out);
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    pub sources: Sources,
}

/// Print every event of the binlogs as ZRM's parse-binlogs did. Blocking.
pub fn parse_binlogs(ctx: &Context, a: ParseArgs) -> Result<i32> {
    ctx.require_format("binlog zrm-parse", &[Format::Text])?;
    let files = resolve(ctx, &a.sources)?;
    ctx.note(&if a.sources.set.is_some() {
        format!(
            "times are in the server's zone ({}), as its latest full backup recorded it",
            files.zone
        )
    } else {
        "times are UTC (binlog files carry no zone)".to_string()
    });
    let stdout = std::io::stdout();
    let mut table = crate::binlog::zrm_table::ZrmTable::new(
        std::io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        files.zone,
    );
    let mut io_error: Option<std::io::Error> = None;
    let written = table.header();
    let result = match written {
        Err(e) => {
            io_error = Some(e);
            Ok(())
        }
        Ok(()) => scan_all(
            &files,
            ScanOptions::default(),
            &mut |e| match table.row(&e) {
                Ok(()) => ControlFlow::Continue(()),
                Err(err) => {
                    io_error = Some(err);
                    ControlFlow::Break(())
                }
            },
        ),
    };
    end_of_output(io_error, result, || table.finish().map(drop))
}
