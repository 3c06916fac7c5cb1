//! `zrm binlog analyze|find|archive|purge`.

use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use regex::Regex;

use super::Context;
use crate::binlog::analyze::{EventPrinter, Filters, OutputFormat, Summary, TrxGrouper};
use crate::binlog::find::{Finder, StopPoint, Target};
use crate::binlog::input;
use crate::binlog::reader::BinlogReader;
use crate::binlog::scan::{ScanOptions, Scanner};
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, Format};
use crate::timeparse::{parse_time, utc};

#[derive(Debug, Subcommand)]
pub enum BinlogCommand {
    /// Copy closed (or with --follow, live) binary logs into the repository
    Archive(super::unbuilt::Passthrough),
    /// PURGE BINARY LOGS on the server, never past what is archived
    Purge(super::unbuilt::Passthrough),
    /// The binary log analyzer: events or transactions, filters, summaries
    Analyze(AnalyzeArgs),
    /// Resolve a recovery point to exact coordinates for `restore --until-position`
    Find(FindArgs),
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
    /// A global sequence number (not built yet)
    #[arg(long, group = "point")]
    pub gsn: Option<u64>,
}

pub async fn run(ctx: &Context, cmd: BinlogCommand) -> Result<i32> {
    match cmd {
        BinlogCommand::Analyze(a) => tokio::task::block_in_place(|| analyze(ctx, a)),
        BinlogCommand::Find(a) => tokio::task::block_in_place(|| find(ctx, a)),
        BinlogCommand::Archive(_) => super::unbuilt::refuse("binlog archive"),
        BinlogCommand::Purge(_) => super::unbuilt::refuse("binlog purge"),
    }
}

/// The inputs, in order, as (binlog name, reader).
fn inputs(ctx: &Context, s: &Sources) -> Result<Vec<(String, PathBuf)>> {
    if let Some(set) = &s.set {
        let _ = ctx;
        return Err(Error::not_built(
            format!("reading the archived binlogs of set '{set}'"),
            "pass binlog files instead (`zrm binlog analyze FILE…`)",
        ));
    }
    if s.files.is_empty() {
        return Err(Error::Usage(
            "name binlog files, or --set S for a set's archive".into(),
        ));
    }
    Ok(s.files
        .iter()
        .map(|p| (input::binlog_name(p), p.clone()))
        .collect())
}

/// Scan every input in order with one scanner (transaction state carries over).
fn scan_all(
    files: &[(String, PathBuf)],
    options: ScanOptions,
    visit: &mut dyn FnMut(crate::binlog::scan::EventInfo) -> ControlFlow<()>,
) -> Result<()> {
    let mut scanner = Scanner::new(options);
    let stopped = std::cell::Cell::new(false);
    let mut wrapped = |e| {
        let r = visit(e);
        stopped.set(r.is_break());
        r
    };
    for (name, path) in files {
        let mut reader =
            BinlogReader::new(input::open_path(path)?, name.clone()).map_err(|mut e| {
                e.file = path.display().to_string();
                e
            })?;
        scanner.scan(&mut reader, &mut wrapped).map_err(|mut e| {
            e.file = path.display().to_string();
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
    let files = inputs(ctx, &a.sources)?;
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
    if let Some(e) = io_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(0);
        }
        return Err(Error::io("write", "standard output", e));
    }
    let flushed = printer.finish();
    result?;
    if let Err(e) = flushed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Error::io("write", "standard output", e));
        }
    }
    Ok(0)
}

fn find(ctx: &Context, a: FindArgs) -> Result<i32> {
    ctx.require_format("binlog find", &[Format::Text, Format::Json])?;
    if a.gsn.is_some() {
        return Err(Error::not_built(
            "`binlog find --gsn`",
            "it comes in a later version",
        ));
    }
    let target = match (&a.time, &a.gtid, &a.pattern) {
        (Some(t), _, _) => Target::Time(parse_time(t, utc())?.timestamp()),
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
    let files = inputs(ctx, &a.sources)?;
    let mut finder = Finder::new(target.clone());
    scan_all(&files, ScanOptions::default(), &mut |e| finder.push(&e))?;
    let Some(point) = finder.finish() else {
        return Err(Error::Binlog(match target {
            Target::Time(_) => "no transaction in these binlogs: nothing to stop at".into(),
            Target::Gtid(g) => format!("no transaction with GTID {g} in these binlogs"),
            Target::Match(re) => format!("no statement matches /{re}/ in these binlogs"),
        }));
    };
    if ctx.json() {
        emit_json(&point);
    } else {
        emit(&describe(&point));
    }
    Ok(0)
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
    s.push_str(&format!(
        "restore with: --until-position {}:{}\n",
        p.file, p.pos
    ));
    s
}
