//! Replaying archived binlogs into a target server.
//!
//! One client session (`mariadb`/`mysql`) receives, in order, what `mariadb-binlog` makes of
//! each file, with start and stop positions computed by zrm: transaction order and session
//! state hold, and `--stop-datetime` is never used. The archived (compressed) file is
//! decompressed into a private spool one file at a time, so disk use is one binlog file.
//!
//! If the client stops on an error, the error's input line is mapped back to the event that
//! caused it (zrm follows the `# at POS` markers it streams), and from there to the start of
//! its transaction: everything before it is applied, and `--resume FILE:POS` continues.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::process::Stdio;

use regex::Regex;

use super::db_filter::{self, BlockFilter, Patterns, StatementGroups};
use super::plan::ReplayFile;
use super::target_gtids::TargetGtids;
use crate::binlog::reader::BinlogReader;
use crate::binlog::scan::{ScanOptions, Scanner};
use crate::command::{RunningTool, ToolCommand};
use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mycnf::ClientOptionFile;
use crate::mysql::gtid::{Gtid, GtidSet};
use crate::mysql::tools;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::selection::Selection;

/// How many recent `# at` markers are kept to map an error line back to an event.
const MARKERS: usize = 200_000;

pub struct ReplayJob<'a> {
    pub files: &'a [ReplayFile],
    pub target: &'a ConnectionConfig,
    pub target_flavor: Flavor,
    pub source_flavor: Flavor,
    /// `SET time_zone` for the session: the source server's zone.
    pub time_zone: Option<String>,
    /// What is replayed (see `db_filter`).
    pub scope: Selection,
    /// Write the replay into the target's binary log (`--log-bin`); off by default, as for
    /// the load of the base.
    pub log_bin: bool,
    /// Replay without the source's GTIDs (`--skip-gtids`).
    pub skip_gtids: bool,
    /// `--rename-database`: the changes of database `old` (key) are applied to `new` (value).
    pub rename: BTreeMap<String, String>,
}

/// Where a failed replay stopped.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub file: String,
    /// Start of the transaction that failed (nothing of it is applied).
    pub resume_pos: u64,
    pub error: String,
}

/// Streams bytes to the client while counting lines and remembering `# at` markers.
struct Tracker {
    line: u64,
    /// The first bytes of the current line.
    head: Vec<u8>,
    markers: VecDeque<(u64, usize, u64)>,
    last_pos: u64,
}

impl Tracker {
    fn new() -> Self {
        Tracker {
            line: 1,
            head: Vec::with_capacity(32),
            markers: VecDeque::new(),
            last_pos: 0,
        }
    }

    fn feed(&mut self, file_idx: usize, buf: &[u8]) {
        // Jump from newline to newline (SIMD search): only line starts are looked at.
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', buf) {
            let line = &buf[start..nl];
            start = nl + 1;
            let room = 32usize.saturating_sub(self.head.len());
            self.head.extend_from_slice(&line[..line.len().min(room)]);
            self.end_line(file_idx);
        }
        let rest = &buf[start..];
        let room = 32usize.saturating_sub(self.head.len());
        self.head.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    fn end_line(&mut self, file_idx: usize) {
        if let Some(rest) = self.head.strip_prefix(b"# at ") {
            if let Some(pos) = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                if self.markers.len() == MARKERS {
                    self.markers.pop_front();
                }
                self.markers.push_back((self.line, file_idx, pos));
                self.last_pos = pos;
            }
        }
        self.head.clear();
        self.line += 1;
    }

    /// The event that input line `line` belongs to.
    fn event_at(&self, line: u64) -> Option<(usize, u64)> {
        self.markers
            .iter()
            .rev()
            .find(|m| m.0 <= line)
            .map(|m| (m.1, m.2))
    }
}

/// Copies what is read through it into a file (the spool copy).
struct Tee<'a, R: Read> {
    inner: R,
    out: &'a mut std::io::BufWriter<std::fs::File>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What one pass over an archived binlog found in its replayed range.
struct Spooled {
    path: std::path::PathBuf,
    /// Start positions of the out-of-scope events, sorted.
    excluded: Vec<u64>,
    /// The MySQL GTIDs of the transactions replayed (`uuid[:tag]:n`).
    gtids: GtidSet,
}

/// In one pass over an archived binlog: decompress it into the spool directory, find the
/// events of the replayed range that are out of scope, and the MySQL GTIDs it replays.
fn spool_and_scan(
    repo: &Repository,
    f: &ReplayFile,
    dir: &std::path::Path,
    scope: &Selection,
    rename: &BTreeMap<String, String>,
) -> Result<Spooled> {
    let path = dir.join(&f.file);
    let file = std::fs::File::create(&path).map_err(|e| Error::io("create", &path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut groups = StatementGroups::default();
    let mut gtids = GtidSet::default();
    {
        let tee = Tee {
            inner: f.input.open(Some(repo))?,
            out: &mut out,
        };
        let mut reader = BinlogReader::new(tee, f.file.clone())?;
        let mut scanner = Scanner::new(ScanOptions::default());
        let patterns = Patterns::default();
        let mut refused = None;
        scanner.scan(&mut reader, &mut |e| {
            if in_range(&e, f) {
                let keep = db_filter::keep_event(&e, scope, &patterns);
                if keep {
                    if let Some(err) = renamed_statement(&e, rename, &patterns) {
                        refused = Some(err);
                        return std::ops::ControlFlow::Break(());
                    }
                }
                groups.push(&e, keep);
                if e.trx_start {
                    if let Some(g) = e.gtid.as_deref().and_then(Gtid::parse) {
                        gtids.insert(&g);
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        })?;
        if let Some(err) = refused {
            return Err(err);
        }
    }
    out.flush().map_err(|e| {
        Error::Restore(format!(
            "cannot unpack the archived {} into {} ({e})",
            f.file,
            dir.display()
        ))
    })?;
    groups.flush();
    // The tool prints a statement's row events as one block: one that changes a restored
    // table and another table cannot be split, and the other table may exist on the target.
    if let (Some(pos), true) = (groups.mixed, scope.is_table_restore()) {
        return Err(mixed_block(&f.file, pos));
    }
    if let (Some(pos), true) = (groups.unsplit_payload, scope.is_table_restore()) {
        return Err(unsplit_payload(&f.file, pos));
    }
    groups.excluded.sort_unstable();
    Ok(Spooled {
        path,
        excluded: groups.excluded,
        gtids,
    })
}

/// Whether an event is in the file's replayed range. The events inside a MySQL compressed
/// payload are reported at the payload's end (`pos` = `end_pos`), which is also where the
/// range stops when the payload is its last transaction.
fn in_range(e: &crate::binlog::scan::EventInfo, f: &ReplayFile) -> bool {
    if e.pos == e.end_pos {
        e.pos > f.start && f.stop.is_none_or(|s| e.pos <= s)
    } else {
        e.pos >= f.start && f.stop.is_none_or(|s| e.pos < s)
    }
}

/// A replayed statement that names a database restored under another name: refused, because
/// the binlog tool rewrites only default databases and table maps, and the statement would
/// change the live database.
fn renamed_statement(
    e: &crate::binlog::scan::EventInfo,
    rename: &BTreeMap<String, String>,
    patterns: &Patterns,
) -> Option<Error> {
    if rename.is_empty() {
        return None;
    }
    let crate::binlog::decode::EventData::Query(q) = &e.data else {
        return None;
    };
    let old = db_filter::names_renamed_database(&q.statement, rename.keys(), patterns)?;
    let new = rename.get(&old).cloned().unwrap_or_default();
    let mut text: String = q.statement.chars().take(200).collect();
    if text.len() < q.statement.len() {
        text.push('…');
    }
    Some(Error::Restore(format!(
        "the binlog statement at {}:{} names database `{old}` itself ({text}); restored as          `{new}` (--rename-database {old}={new}), it would change the live `{old}`, which          zrm never does: the binlog tool renames only a statement's default database and the          table maps. Restore to a point before it (--until-position {}:{}), or without          --rename-database into another server",
        e.file, e.pos, e.file, e.pos
    )))
}

/// Before a table restore or a renamed restore changes anything, every event it would replay
/// is read: a statement that names a renamed database itself is refused (see
/// [`renamed_statement`]), and so, when the client pipeline replays everything
/// (`whole_pipeline`), is a block of row events that changes a restored table and another one.
pub fn check_replay(
    repo: &Repository,
    files: &[ReplayFile],
    scope: &Selection,
    rename: &BTreeMap<String, String>,
    whole_pipeline: bool,
) -> Result<()> {
    let mixed_matters = whole_pipeline && scope.is_table_restore();
    if rename.is_empty() && !scope.is_table_restore() {
        return Ok(());
    }
    let patterns = Patterns::default();
    for f in files {
        let mut reader = BinlogReader::new(f.input.open(Some(repo))?, f.file.clone())?;
        let mut scanner = Scanner::new(ScanOptions::default());
        let mut groups = StatementGroups::default();
        let mut refused = None;
        scanner.scan(&mut reader, &mut |e| {
            if in_range(&e, f) {
                let keep = db_filter::keep_event(&e, scope, &patterns);
                if keep {
                    refused = renamed_statement(&e, rename, &patterns);
                    if refused.is_some() {
                        return std::ops::ControlFlow::Break(());
                    }
                }
                groups.push(&e, keep);
            }
            std::ops::ControlFlow::Continue(())
        })?;
        if let Some(e) = refused {
            return Err(e);
        }
        groups.flush();
        if let (Some(pos), true) = (groups.mixed, mixed_matters) {
            return Err(mixed_block(&f.file, pos));
        }
        if let (Some(pos), true) = (groups.unsplit_payload, scope.is_table_restore()) {
            return Err(unsplit_payload(&f.file, pos));
        }
    }
    Ok(())
}

/// A MySQL compressed transaction payload holding rows of tables that are not restored.
fn unsplit_payload(file: &str, end: u64) -> Error {
    Error::Restore(format!(
        "the compressed transaction (binlog_transaction_compression) ending at {file}:{end} \
         changes tables that are not restored; the binlog tool replays such a transaction \
         whole, and zrm never applies another table's rows. Add those tables to --tables, or \
         restore to a point before it"
    ))
}

/// A block of row events the client pipeline cannot split (see `StatementGroups::mixed`).
fn mixed_block(file: &str, pos: u64) -> Error {
    Error::Restore(format!(
        "the statement at {file}:{pos} changes a restored table and another table in one \
         block of row events (a trigger or a multi-table statement), which the client pipeline \
         cannot split; zrm never applies the other table's rows. Restore with --applier zrm (it \
         applies row events table by table), add the other table to --tables, or restore to a \
         point before it"
    ))
}

/// The target's GTID state, asked through its client tool.
fn read_target_gtids(client: &tools::Tool, options: &ClientOptionFile) -> Result<TargetGtids> {
    let out = std::process::Command::new(&client.path)
        .arg(format!("--defaults-file={}", options.path().display()))
        .args(["--batch", "--skip-column-names", "-e", TargetGtids::QUERY])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("run", &client.path, e))?;
    if !out.status.success() {
        return Err(Error::Restore(format!(
            "cannot read the target's GTID state: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (mode, executed) = text
        .trim_end()
        .split_once('\t')
        .unwrap_or((text.trim(), ""));
    TargetGtids::from_row(mode, executed)
}

/// Replay the files. `Err(Ok(stopped))`-like outcomes are returned as `Ok(Err(stopped))` so the
/// caller can print how to resume.
pub fn replay(
    repo: &Repository,
    job: &ReplayJob,
    progress: &dyn Progress,
) -> Result<std::result::Result<u64, Stopped>> {
    let binlog_tool = tools::require(tools::binlog_names(job.source_flavor), job.source_flavor)?;
    let client_tool = tools::require(tools::client_names(job.target_flavor), job.target_flavor)?;
    let packet = PacketLimit::raise(job.target);
    let options = ClientOptionFile::write(job.target)?;
    let mut gtid_target = match (job.source_flavor, job.target_flavor) {
        (Flavor::MySQL, Flavor::MySQL) => Some(read_target_gtids(&client_tool, &options)?),
        _ => None,
    };
    let mut client = ToolCommand::new(&client_tool)
        .arg(format!("--defaults-file={}", options.path().display()))
        // LOAD DATA in STATEMENT format comes out of mysqlbinlog as LOAD DATA LOCAL INFILE of
        // a file it wrote: the client must be allowed to send it.
        .args([
            "--binary-mode",
            "--batch",
            "--max-allowed-packet=1G",
            "--local-infile=1",
        ])
        .spawn(Stdio::piped(), Stdio::null())?;
    let mut stdin = std::io::BufWriter::with_capacity(1 << 20, client.take_stdin());
    let spool = crate::scratch::ScratchDir::new("replay")?;
    let mut tracker = Tracker::new();
    let mut preamble = String::new();
    if !job.log_bin {
        preamble.push_str("SET SESSION sql_log_bin = 0;\n");
    }
    if let Some(tz) = &job.time_zone {
        preamble.push_str(&format!(
            "SET time_zone = {};\n",
            crate::mysql::conn::quote_str(tz)
        ));
    }
    tracker.feed(usize::MAX, preamble.as_bytes());
    let mut broken: Option<String> = stdin
        .write_all(preamble.as_bytes())
        .err()
        .map(|e| e.to_string());
    let mut done_before = 0u64;
    let mut total = 0u64;
    let mut current_file = String::new();
    // Everything that can fail while the client runs: on an error the client must still get
    // an end of input and be waited for, and the user must hear that the target is partly
    // replayed.
    let mut feed = || -> Result<()> {
        for (k, f) in job.files.iter().enumerate() {
            current_file = f.file.clone();
            if broken.is_some() {
                break;
            }
            let Spooled {
                path,
                excluded,
                gtids,
            } = spool_and_scan(repo, f, spool.path(), &job.scope, &job.rename)?;
            let mut cmd = ToolCommand::new(&binlog_tool).arg("--no-defaults");
            for (old, new) in &job.rename {
                cmd = cmd.arg(format!("--rewrite-db={old}->{new}"));
            }
            if job.skip_gtids && job.source_flavor == Flavor::MySQL {
                cmd = cmd.arg("--skip-gtids");
            } else if let Some(t) = gtid_target.as_mut() {
                let first = t.dropped_because().is_none();
                if !t.keeps(&f.file, &gtids) {
                    cmd = cmd.arg("--skip-gtids");
                    if first {
                        tracing::warn!(
                            "replaying {} and later files without the source's GTIDs: {}; the \
                             transactions take new GTIDs of the target",
                            f.file,
                            t.dropped_because().unwrap_or_default()
                        );
                    }
                }
            }
            if f.start > 4 {
                cmd = cmd.arg(format!("--start-position={}", f.start));
            }
            if let Some(stop) = f.stop {
                cmd = cmd.arg(format!("--stop-position={stop}"));
            }
            let mut filter =
                (!excluded.is_empty() || job.scope.databases.is_some() || !job.rename.is_empty())
                    .then(|| BlockFilter::new(excluded, job.scope.clone(), &job.rename));
            let mut tool = cmd.arg(&path).spawn(Stdio::null(), Stdio::piped())?;
            let mut out = tool.take_stdout();
            let mut buf = vec![0u8; 1 << 16];
            let mut kept = Vec::with_capacity(1 << 16);
            loop {
                let n = match out.read(&mut buf) {
                    Ok(0) => {
                        if let Some(flt) = filter.as_mut() {
                            kept.clear();
                            flt.finish(&mut kept);
                            tracker.feed(k, &kept);
                            if let Err(e) = stdin.write_all(&kept) {
                                broken = Some(e.to_string());
                            }
                        }
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io("read the output of", &binlog_tool.path, e)),
                };
                let chunk: &[u8] = match filter.as_mut() {
                    Some(flt) => {
                        kept.clear();
                        flt.process(&buf[..n], &mut kept);
                        &kept
                    }
                    None => &buf[..n],
                };
                tracker.feed(k, chunk);
                if let Err(e) = stdin.write_all(chunk) {
                    broken = Some(e.to_string());
                    break;
                }
                if tracker.last_pos >= f.start {
                    progress.set_total(None);
                    let done = done_before + tracker.last_pos.saturating_sub(f.start).min(f.bytes);
                    if done > total {
                        progress.advance(done - total);
                        total = done;
                    }
                }
            }
            drop(out);
            if broken.is_some() {
                tool.kill();
            } else {
                finish_tool(tool)?;
            }
            let _ = std::fs::remove_file(&path);
            done_before += f.bytes;
        }
        Ok(())
    };
    if let Err(e) = feed() {
        drop(stdin);
        let _ = client.wait();
        return Err(Error::Restore(format!(
            "binlog replay stopped while reading {current_file}: {e}. The target is partly \
             replayed: restore it again (with --replace) once the cause is fixed"
        )));
    }
    if let Err(e) = stdin.flush() {
        broken.get_or_insert(e.to_string());
    }
    drop(stdin);
    match client.wait() {
        Ok(_) if broken.is_none() => Ok(Ok(done_before)),
        Ok(_) => Err(Error::Restore(format!(
            "the client stopped reading the replay stream ({})",
            broken.unwrap_or_default()
        ))),
        Err(e) => {
            let message = e.to_string();
            let line = Regex::new(r"at line (\d+)")
                .expect("valid regex")
                .captures(&message)
                .and_then(|c| c[1].parse::<u64>().ok());
            let Some((k, pos)) = line
                .and_then(|l| tracker.event_at(l))
                .filter(|(k, _)| *k != usize::MAX)
            else {
                return Err(Error::Restore(format!(
                    "binlog replay failed: {message}. zrm cannot tell which transaction failed; \
                     the target may be partly replayed: restore it again (with --replace) once \
                     the cause is fixed"
                )));
            };
            let f = &job.files[k];
            let resume_pos = transaction_start(repo, f, pos)?;
            let message = match &packet {
                PacketLimit::Kept { bytes, why } if message.contains("gone away") => format!(
                    "{message} (the target's max_allowed_packet is {bytes} bytes and zrm could \
                     not raise it: {why}; a transaction that changed many rows is sent as one \
                     statement: run SET GLOBAL max_allowed_packet = 1073741824 on the target)"
                ),
                _ => message,
            };
            Ok(Err(Stopped {
                file: f.file.clone(),
                resume_pos,
                error: message,
            }))
        }
    }
}

/// The target's `max_allowed_packet` during a replay. `mariadb-binlog`/`mysqlbinlog` send all
/// the row events of one statement as one `BINLOG '…'` statement, so a transaction that changed
/// many rows needs a packet as large: the limit is raised to the protocol's 1 GiB for the
/// replay (new sessions see it) and put back afterwards.
pub(crate) enum PacketLimit {
    /// Already 1 GiB, or the target could not be asked.
    Enough,
    Raised {
        conn: ConnectionConfig,
        old: u64,
    },
    Kept {
        bytes: u64,
        why: String,
    },
}

const MAX_PACKET: u64 = 1 << 30;

impl PacketLimit {
    pub(crate) fn raise(target: &ConnectionConfig) -> PacketLimit {
        let asked = tokio::runtime::Handle::current().block_on(async {
            let mut s = crate::mysql::connect(target).await?;
            let now: u64 = s
                .value("SELECT @@GLOBAL.max_allowed_packet")
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(MAX_PACKET);
            let r = if now >= MAX_PACKET {
                PacketLimit::Enough
            } else {
                match s
                    .exec(&format!("SET GLOBAL max_allowed_packet = {MAX_PACKET}"))
                    .await
                {
                    Ok(()) => PacketLimit::Raised {
                        conn: target.clone(),
                        old: now,
                    },
                    Err(e) => PacketLimit::Kept {
                        bytes: now,
                        why: e.to_string(),
                    },
                }
            };
            s.close().await;
            Ok::<_, Error>(r)
        });
        let limit = asked.unwrap_or(PacketLimit::Enough);
        if let PacketLimit::Kept { bytes, why } = &limit {
            tracing::warn!(
                "the target's max_allowed_packet is {bytes} bytes and zrm could not raise it \
                 for the replay ({why}): a replayed statement larger than that will fail"
            );
        }
        limit
    }
}

impl Drop for PacketLimit {
    fn drop(&mut self) {
        if let PacketLimit::Raised { conn, old } = self {
            let put_back = tokio::runtime::Handle::current().block_on(async {
                let mut s = crate::mysql::connect(conn).await?;
                let r = s
                    .exec(&format!("SET GLOBAL max_allowed_packet = {old}"))
                    .await;
                s.close().await;
                r
            });
            if let Err(e) = put_back {
                tracing::warn!("could not set the target's max_allowed_packet back to {old}: {e}");
            }
        }
    }
}

fn finish_tool(tool: RunningTool) -> Result<()> {
    tool.wait().map(|_| ())
}

/// The start of the transaction holding the event at `pos` (scanning from the replay's start
/// in that file).
fn transaction_start(repo: &Repository, f: &ReplayFile, pos: u64) -> Result<u64> {
    let mut reader = BinlogReader::new(f.input.open(Some(repo))?, f.file.clone())?;
    if f.start > 4 {
        reader.skip_to(f.start)?;
    }
    let mut scanner = Scanner::new(ScanOptions::default());
    let mut start = f.start;
    let mut current = f.start;
    scanner.scan(&mut reader, &mut |e| {
        if e.pos > pos {
            return std::ops::ControlFlow::Break(());
        }
        if e.trx_start {
            current = e.pos;
        }
        start = current;
        if e.trx_end && e.pos < pos {
            current = e.end_pos;
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::Tracker;

    #[test]
    fn markers_map_lines_to_events() {
        let mut t = Tracker::new();
        let text = b"SET time_zone='+00:00';\n# at 4\n#261126 server id 1\n# at 256\nINSERT INTO t\nVALUES (1)/*!*/;\n# at 300\nCOMMIT;\n";
        for chunk in text.chunks(3) {
            t.feed(0, chunk);
        }
        assert_eq!(t.event_at(5), Some((0, 256)));
        assert_eq!(t.event_at(6), Some((0, 256)));
        assert_eq!(t.event_at(8), Some((0, 300)));
        assert_eq!(t.event_at(1), None);
    }
}
