//! zrm's own binlog applier: the archived binlogs read by zrm's reader and applied on several
//! connections at once, with exact stop points and exact resume.
//!
//! - Row transactions are applied natively: the file's format description, then the
//!   transaction's TABLE_MAP and rows events, as the server's own `BINLOG '…'` statements
//!   (what `mysqlbinlog` prints for them), so every type is applied exactly.
//! - Parallel by dependency: a transaction goes to a free lane only when its write set (the
//!   keys of its rows; whole tables without a usable key; foreign-key families) meets no
//!   batch still in flight. Anything else (statements, DDL, non-transactional tables, LOAD
//!   DATA, XA, compressed payloads, transactions over 16 MiB) is a barrier: every lane
//!   commits, then that range of the file goes through the client pipeline
//!   (`restore::replay`), never silently, and the report counts it.
//! - Fewer commits: consecutive transactions share one target commit (bounded), unless the
//!   target must keep each source GTID.
//! - Exactly once: batches commit in the source's order, each with the progress row
//!   `zrm_meta.replay_progress` updated in the same transaction, so after a `kill -9`, a lost
//!   connection or a failed statement `--resume` continues after exactly the last committed
//!   transaction. On MySQL, a transaction that keeps its source GTID commits as soon as it is
//!   applied (side by side with the other lanes', so the target's group commit shares the
//!   fsyncs); the target's `gtid_executed` then says which of the last ones it holds (see
//!   `progress`).
//! - Speculative: if anything goes wrong while lanes run side by side (a lock wait, a
//!   deadlock, a row not found because a key collation hid a dependency), every uncommitted
//!   batch is rolled back and the next transactions run one lane at a time; only an error that
//!   repeats on one lane stops the replay.

mod lane;
mod progress;
mod schema;
mod units;
mod writeset;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use self::lane::{Batch, Lane, LaneReport, Mark};
use self::progress::At;
use self::schema::Schema;
use self::units::{RowTrx, TrxGtid, Unit, Units};
use self::writeset::WriteSet;
use super::replay::{self, ReplayJob, Stopped};
use super::target_gtids::TargetGtids;
use crate::binlog::coordinates::BinlogCoordinates;
use crate::binlog::reader::BinlogReader;
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mysql::conn::quote_str;
use crate::mysql::gtid::{Gtid, GtidSet};
use crate::mysql::Session;
use crate::progress::{Progress, Silent};
use crate::repo::Repository;

/// Transactions and bytes of one batch (one target commit).
const BATCH_TRXS: usize = 64;
const BATCH_BYTES: usize = 4 << 20;
/// After a conflict, this many units run on one lane before lanes run side by side again.
const SERIAL_UNITS: u64 = 2_000;
/// Row events held by batches in flight, at most (with their base64 text on the lanes, and
/// the batch being gathered, the applier stays well under 256 MiB).
const IN_FLIGHT_BYTES: usize = 48 << 20;
/// A lane waiting for a row lock longer than this is a dependency zrm did not see.
const LOCK_WAIT_SECS: u32 = 20;

pub struct ApplyJob<'a> {
    pub replay: &'a ReplayJob<'a>,
    /// The backup restored: the key of the progress row.
    pub backup_id: &'a str,
    pub lanes: usize,
    /// Write the replay into the target's binary log (`--log-bin`).
    pub log_bin: bool,
    /// Continue an interrupted replay (the files start at the given resume point; the
    /// target's progress row may say it got further).
    pub resume: bool,
    /// Replay without the source's GTIDs (`--skip-gtids`): transactions share commits and
    /// take none of the source's GTIDs.
    pub skip_gtids: bool,
}

/// What the applier did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyStats {
    pub lanes: usize,
    /// Row transactions applied natively, and their rows.
    pub transactions: u64,
    pub rows: u64,
    /// Target commits of those transactions.
    pub commits: u64,
    /// Transactions (or statements) sent through the client pipeline, in how many ranges,
    /// and why.
    pub pipeline_units: u64,
    pub pipeline_ranges: u64,
    pub pipeline_reasons: BTreeMap<String, u64>,
    /// Times lanes running side by side met a dependency zrm had not seen, and went on one
    /// lane at a time.
    pub conflicts: u64,
    pub seconds: f64,
    /// Average number of lanes busy applying.
    pub parallelism: f64,
    /// Where the target's progress row let an interrupted replay continue.
    pub resumed_at: Option<String>,
    /// Transactions an interrupted replay had committed out of order (their GTIDs are on the
    /// target), not applied again.
    pub already_applied: u64,
}

impl ApplyStats {
    pub fn transactions_per_second(&self) -> f64 {
        let all = self.transactions + self.pipeline_units;
        if self.seconds > 0.0 {
            all as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for ApplyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} transactions ({} rows) applied by zrm on {} lane(s) in {} commits, parallelism \
             {:.1}, {:.0} transactions/s",
            self.transactions,
            self.rows,
            self.lanes,
            self.commits,
            self.parallelism,
            self.transactions_per_second()
        )?;
        if self.pipeline_units > 0 {
            let why: Vec<String> = self
                .pipeline_reasons
                .iter()
                .map(|(k, v)| format!("{v} × {k}"))
                .collect();
            write!(
                f,
                "; {} through the client pipeline in {} range(s): {}",
                self.pipeline_units,
                self.pipeline_ranges,
                why.join(", ")
            )?;
        }
        if self.conflicts > 0 {
            write!(
                f,
                "; {} unforeseen conflict(s) retried on one lane",
                self.conflicts
            )?;
        }
        if self.already_applied > 0 {
            write!(
                f,
                "; {} transaction(s) already applied by the interrupted replay (their GTIDs \
                 are on the target)",
                self.already_applied
            )?;
        }
        Ok(())
    }
}

/// Whether the MySQL target takes the source's GTIDs (see `TargetGtids`), and which
/// transactions an interrupted replay applied already.
struct MysqlGtids {
    target: TargetGtids,
    /// Kept GTIDs are added to the target's `gtid_executed` after each commit, so that
    /// transactions share commits: the replay is not written to the target's binary log
    /// and zrm may set `gtid_purged`.
    add_after_commit: bool,
    /// An interrupted replay committed out of order up to this point: a transaction before
    /// it whose GTID the target has now (the set) is applied already.
    applied: Option<(At, GtidSet)>,
}

/// What becomes of a transaction's GTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GtidChoice {
    /// The target takes the source's GTID.
    Keep,
    /// The transaction takes a new GTID of the target (or none).
    New,
    /// The interrupted replay applied it: not again.
    Skip,
}

impl MysqlGtids {
    fn choose(&mut self, gtid: &str, at: At) -> GtidChoice {
        if let Some((until, now)) = &self.applied {
            if at <= *until && Gtid::parse(gtid).is_some_and(|g| now.contains(&g)) {
                return GtidChoice::Skip;
            }
        }
        if self.keep(gtid) {
            GtidChoice::Keep
        } else {
            GtidChoice::New
        }
    }

    fn keep(&mut self, gtid: &str) -> bool {
        let Some(g) = Gtid::parse(gtid) else {
            return false;
        };
        let mut one = GtidSet::default();
        one.insert(&g);
        let first = self.target.dropped_because().is_none();
        let keeps = self.target.keeps(gtid, &one);
        if !keeps && first {
            tracing::warn!(
                "replaying {gtid} and every later transaction without the source's GTIDs: {}; \
                 the transactions take new GTIDs of the target",
                self.target.dropped_because().unwrap_or_default()
            );
        }
        keeps
    }
}

/// How the target takes GTIDs.
enum GtidPolicy {
    /// MariaDB target writing its binary log: each transaction keeps its GTID.
    MariaKeep,
    /// MySQL to MySQL.
    Mysql(MysqlGtids),
    /// Nothing to keep: transactions share commits.
    Batch,
}

impl GtidPolicy {
    fn adds_after_commit(&self) -> bool {
        matches!(self, GtidPolicy::Mysql(m) if m.add_after_commit)
    }

    fn choose(&mut self, g: Option<&TrxGtid>, at: At) -> GtidChoice {
        match (self, g) {
            (GtidPolicy::MariaKeep, Some(TrxGtid::Maria { .. })) => GtidChoice::Keep,
            (GtidPolicy::Mysql(m), Some(TrxGtid::Mysql(g))) => m.choose(g, at),
            _ => GtidChoice::New,
        }
    }
}

async fn target_gtids(s: &mut Session) -> Result<TargetGtids> {
    let row = s.rows(TargetGtids::QUERY).await?;
    let cell = |i: usize| {
        row.first()
            .and_then(|r| r.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    TargetGtids::from_row(&cell(0), &cell(1))
}

/// Whether zrm may add GTIDs to the target's `gtid_executed` after a commit instead of
/// setting `gtid_next` before it: the replay stays out of the target's binary log (so its
/// transactions would be in `gtid_purged` either way) and the user may set `gtid_purged`.
async fn can_add_gtids(s: &mut Session, log_bin: bool) -> bool {
    if log_bin {
        return false;
    }
    if s.value("SELECT @@SESSION.sql_log_bin")
        .await
        .ok()
        .flatten()
        .as_deref()
        != Some("0")
    {
        return false;
    }
    // Adds nothing; refused without SYSTEM_VARIABLES_ADMIN (or SUPER).
    match s.exec("SET GLOBAL gtid_purged = '+'").await {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(
                "the replay keeps each source GTID with one commit per transaction: {e}"
            );
            false
        }
    }
}

/// Add what the target lacks of the GTIDs of the last batch committed before zrm stopped.
async fn settle_pending(s: &mut Session, pending: &GtidSet) -> Result<()> {
    let missing = pending.difference(&executed_now(s).await?);
    if missing.is_empty() {
        return Ok(());
    }
    s.exec(&lane::add_gtids_sql(&missing)).await.map_err(|e| {
        Error::Restore(format!(
            "the target committed the transactions of {missing} but refuses their GTIDs \
             ({e}); add them with SET GLOBAL gtid_purged = '+{missing}' as a user with \
             SYSTEM_VARIABLES_ADMIN, then resume"
        ))
    })
}

/// The target's `gtid_executed` now.
async fn executed_now(s: &mut Session) -> Result<GtidSet> {
    let now = s
        .value("SELECT REPLACE(@@GLOBAL.gtid_executed, '\\n', '')")
        .await?
        .unwrap_or_default();
    GtidSet::parse(&now).map_err(Error::Restore)
}

/// Why a pass over the files ended early.
struct PassFail {
    seq: u64,
    code: Option<u16>,
    message: String,
}

/// The lanes of one pass.
struct Pass {
    rt: Handle,
    senders: Vec<mpsc::Sender<Batch>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    conn_ids: Vec<u32>,
    idle: Vec<usize>,
    in_flight: BTreeMap<u64, InFlight>,
    in_flight_bytes: usize,
    reports: mpsc::UnboundedReceiver<(usize, LaneReport)>,
    turn: Arc<watch::Sender<u64>>,
    next_seq: u64,
    /// Every batch before this one is committed; where the last of them ends.
    committed_seq: u64,
    committed: BinlogCoordinates,
    /// Batches committed after a batch still in flight: their ends.
    committed_ahead: BTreeMap<u64, BinlogCoordinates>,
    busy: Duration,
    commits: u64,
}

/// A batch sent to a lane and not yet committed.
struct InFlight {
    ws: WriteSet,
    bytes: usize,
    unordered: bool,
    end: BinlogCoordinates,
}

impl Pass {
    fn start(rt: &Handle, job: &ApplyJob, lanes: usize, start: BinlogCoordinates) -> Result<Pass> {
        let (report_tx, reports) = mpsc::unbounded_channel();
        let turn = Arc::new(watch::channel(0u64).0);
        let mut pass = Pass {
            rt: rt.clone(),
            senders: Vec::new(),
            handles: Vec::new(),
            conn_ids: Vec::new(),
            idle: Vec::new(),
            in_flight: BTreeMap::new(),
            in_flight_bytes: 0,
            reports,
            turn,
            next_seq: 0,
            committed_seq: 0,
            committed: start,
            committed_ahead: BTreeMap::new(),
            busy: Duration::ZERO,
            commits: 0,
        };
        let backup_id: Arc<str> = Arc::from(job.backup_id);
        for id in 0..lanes {
            let session = rt.block_on(open_session(job, true))?;
            pass.conn_ids.push(session.conn.id());
            let (tx, rx) = mpsc::channel(1);
            let lane = Lane {
                id,
                backup_id: backup_id.clone(),
                session,
                fde: None,
                mysql: job.replay.target_flavor == Flavor::MySQL,
            };
            pass.handles
                .push(rt.spawn(lane::run(lane, rx, report_tx.clone(), pass.turn.clone())));
            pass.senders.push(tx);
            pass.idle.push(id);
        }
        Ok(pass)
    }

    fn wait_one(&mut self) -> std::result::Result<(), PassFail> {
        let got = self.rt.block_on(self.reports.recv());
        match got {
            Some((lane, LaneReport::Done { seq, busy })) => {
                if let Some(f) = self.in_flight.remove(&seq) {
                    self.in_flight_bytes -= f.bytes;
                    self.committed_ahead.insert(seq, f.end);
                    while let Some(end) = self.committed_ahead.remove(&self.committed_seq) {
                        self.committed = end;
                        self.committed_seq += 1;
                    }
                }
                self.idle.push(lane);
                self.busy += busy;
                self.commits += 1;
                Ok(())
            }
            Some((_, LaneReport::Failed { seq, code, message })) => {
                Err(PassFail { seq, code, message })
            }
            None => Err(PassFail {
                seq: 0,
                code: None,
                message: "every lane stopped".into(),
            }),
        }
    }

    fn dispatch(
        &mut self,
        mut batch: Batch,
        ws: WriteSet,
        serial: bool,
    ) -> std::result::Result<(), PassFail> {
        let bytes: usize = batch.trxs.iter().map(|t| t.events.len()).sum();
        let unordered = matches!(batch.mark, Mark::Unordered { .. });
        // Ordered and unordered batches are never in flight together: the turn of an
        // ordered batch counts only batches that commit in order.
        while self.idle.is_empty()
            || (serial && !self.in_flight.is_empty())
            || (!self.in_flight.is_empty() && self.in_flight_bytes + bytes > IN_FLIGHT_BYTES)
            || self.in_flight.values().any(|f| f.unordered != unordered)
            || self.in_flight.values().any(|f| f.ws.meets(&ws))
        {
            self.wait_one()?;
        }
        batch.seq = self.next_seq;
        self.next_seq += 1;
        let end = match &mut batch.mark {
            Mark::Ordered(end) => {
                if self.in_flight.is_empty() {
                    self.turn.send_replace(batch.seq);
                }
                end.clone()
            }
            Mark::Unordered { safe, end } => {
                *safe = self.committed.clone();
                end.clone()
            }
        };
        let lane = self.idle.pop().expect("an idle lane");
        self.in_flight.insert(
            batch.seq,
            InFlight {
                ws,
                bytes,
                unordered,
                end,
            },
        );
        self.in_flight_bytes += bytes;
        let sender = self.senders[lane].clone();
        if self.rt.block_on(sender.send(batch)).is_err() {
            return Err(PassFail {
                seq: self.next_seq - 1,
                code: None,
                message: "a lane stopped".into(),
            });
        }
        Ok(())
    }

    fn drain(&mut self) -> std::result::Result<(), PassFail> {
        while !self.in_flight.is_empty() {
            self.wait_one()?;
        }
        Ok(())
    }

    /// Stop every lane; uncommitted work is rolled back by the server. Connections are
    /// killed so that none keeps a lock while its statement runs on.
    fn abort(self, job: &ApplyJob) {
        let ids = self.conn_ids.clone();
        for h in &self.handles {
            h.abort();
        }
        let killed = self.rt.block_on(async {
            let mut s = open_session(job, false).await?;
            for id in ids {
                let _ = s.exec(&format!("KILL {id}")).await;
            }
            s.close().await;
            Ok::<_, Error>(())
        });
        if let Err(e) = killed {
            tracing::warn!("could not stop the applier's connections: {e}");
        }
    }

    /// Close the lanes after a clean end.
    fn finish(self) {
        drop(self.senders);
        for h in self.handles {
            let _ = self.rt.block_on(h);
        }
    }
}

async fn open_session(job: &ApplyJob<'_>, lane: bool) -> Result<Session> {
    let mut s = crate::mysql::connect(job.replay.target).await?;
    if !job.log_bin {
        if let Err(e) = s.exec("SET SESSION sql_log_bin = 0").await {
            // Without the privilege the replay is written to the target's binary log, as it
            // was by the client pipeline.
            tracing::debug!("the replay stays in the target's binary log: {e}");
        }
    }
    if lane {
        s.exec(&format!(
            "SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECS}"
        ))
        .await?;
        s.exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await?;
        if let Some(tz) = &job.replay.time_zone {
            s.exec(&format!("SET SESSION time_zone = {}", quote_str(tz)))
                .await?;
        }
    }
    Ok(s)
}

/// Replay the job's files. `Ok(Err(stopped))`: the replay stopped on an error; everything
/// before `stopped.resume_pos` is applied.
pub fn apply(
    repo: &Repository,
    job: &ApplyJob,
    progress: &dyn Progress,
) -> Result<std::result::Result<ApplyStats, Stopped>> {
    let rt = Handle::current();
    let started = Instant::now();
    let _packet = replay::PacketLimit::raise(job.replay.target);
    let mut ctl = rt.block_on(open_session(job, false))?;
    let files = job.replay.files;
    let recorded = rt.block_on(progress::prepare(
        &mut ctl,
        job.backup_id,
        files,
        job.resume,
    ))?;
    let mut stats = ApplyStats {
        lanes: job.lanes.max(1),
        ..ApplyStats::default()
    };
    // Where to start: the files' own start, or further if the target recorded more.
    let mut from = (0usize, files.first().map_or(4, |f| f.start));
    let mut unordered_end = None;
    if let Some(r) = &recorded {
        let (committed, until) = r.points(files);
        if let Some(at) = committed {
            if let Some(end) = r.pipeline_end {
                if at >= from {
                    rt.block_on(ctl.close());
                    return Err(Error::Restore(format!(
                        "the interrupted replay stopped inside {}-{end}, a range applied \
                         through the client pipeline (statements zrm does not apply itself), \
                         and zrm cannot tell how much of it the target committed. Restore \
                         again with --replace",
                        r.committed
                    )));
                }
            }
            if at > from {
                from = at;
                stats.resumed_at = Some(r.committed.to_string());
            }
        }
        unordered_end = until.filter(|u| *u > from);
    }
    if let Some(pending) = recorded.as_ref().and_then(|r| r.gtids_pending.as_ref()) {
        rt.block_on(settle_pending(&mut ctl, pending))?;
    }
    let mut policy = match (job.replay.source_flavor, job.replay.target_flavor) {
        _ if job.skip_gtids => GtidPolicy::Batch,
        (Flavor::MySQL, Flavor::MySQL) => {
            let applied = match unordered_end {
                Some(u) => Some((u, rt.block_on(executed_now(&mut ctl))?)),
                None => None,
            };
            GtidPolicy::Mysql(MysqlGtids {
                target: rt.block_on(target_gtids(&mut ctl))?,
                add_after_commit: rt.block_on(can_add_gtids(&mut ctl, job.log_bin)),
                applied,
            })
        }
        (Flavor::MariaDB, Flavor::MariaDB) if job.log_bin => GtidPolicy::MariaKeep,
        _ => GtidPolicy::Batch,
    };
    if let (Some(until), false) = (unordered_end, matches!(policy, GtidPolicy::Mysql(_))) {
        rt.block_on(ctl.close());
        return Err(Error::Restore(format!(
            "the interrupted replay committed transactions out of order up to {}:{}, which \
             the target knows by their source GTIDs; resume it keeping the GTIDs (without \
             --skip-gtids), or restore again with --replace",
            files[until.0].file, until.1
        )));
    }
    let mut serial_left = 0u64;
    loop {
        let schema = rt.block_on(Schema::load(&mut ctl))?;
        let lanes = if serial_left > 0 { 1 } else { stats.lanes };
        let start = BinlogCoordinates::new(
            files.get(from.0).map_or("", |f| f.file.as_str()),
            files.get(from.0).map_or(from.1, |f| f.start.max(from.1)),
        );
        let mut pass = Pass::start(&rt, job, lanes, start)?;
        let outcome = run_pass(
            repo,
            job,
            &mut pass,
            schema,
            &mut ctl,
            from,
            &mut policy,
            &mut serial_left,
            &mut stats,
            progress,
        );
        stats.commits += pass.commits;
        let busy = pass.busy;
        stats.parallelism += busy.as_secs_f64();
        match outcome {
            Ok(Ok(())) => {
                pass.finish();
                break;
            }
            Ok(Err(stopped)) => {
                pass.abort(job);
                rt.block_on(ctl.close());
                return Ok(Err(stopped));
            }
            Err(Failure::Lane(fail)) => {
                pass.abort(job);
                let at = rt.block_on(progress::read(&mut ctl, job.backup_id, files))?;
                let Some(at) = at else {
                    return Err(Error::Restore(
                        "the applier's progress row is gone from zrm_meta.replay_progress".into(),
                    ));
                };
                if let Some(pending) = &at.gtids_pending {
                    rt.block_on(settle_pending(&mut ctl, pending))?;
                }
                let (committed, until) = at.points(files);
                let k = committed.map_or(0, |c| c.0);
                if let (Some(until), GtidPolicy::Mysql(m)) = (until, &mut policy) {
                    m.applied = Some((until, rt.block_on(executed_now(&mut ctl))?));
                }
                if lanes > 1 {
                    tracing::info!(
                        "lanes met a dependency zrm did not foresee ({}; batch {}); going on \
                         one lane at a time from {}",
                        fail.message,
                        fail.seq,
                        at.committed
                    );
                    stats.conflicts += 1;
                    serial_left = SERIAL_UNITS;
                    from = (k, at.committed.pos);
                    continue;
                }
                rt.block_on(ctl.close());
                let code = fail
                    .code
                    .map(|c| format!("ERROR {c}: "))
                    .unwrap_or_default();
                return Ok(Err(Stopped {
                    file: at.committed.file,
                    resume_pos: at.committed.pos,
                    error: format!("{code}{}", fail.message),
                }));
            }
            Err(Failure::Zrm(e)) => {
                pass.abort(job);
                rt.block_on(ctl.close());
                return Err(e);
            }
        }
    }
    if let Err(e) = rt.block_on(progress::forget(&mut ctl, job.backup_id)) {
        tracing::warn!("could not remove zrm_meta.replay_progress from the target: {e}");
    }
    rt.block_on(ctl.close());
    stats.seconds = started.elapsed().as_secs_f64();
    if stats.seconds > 0.0 {
        stats.parallelism /= stats.seconds;
    }
    Ok(Ok(stats))
}

enum Failure {
    Lane(PassFail),
    Zrm(Error),
}

impl From<PassFail> for Failure {
    fn from(f: PassFail) -> Self {
        Failure::Lane(f)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Zrm(e)
    }
}

/// Row transactions gathered into one commit.
struct Gather {
    trxs: Vec<RowTrx>,
    ws: WriteSet,
    bytes: usize,
    keep_gtid: bool,
    /// Source GTIDs to add to the target after the commit.
    add: GtidSet,
}

impl Gather {
    fn new() -> Gather {
        Gather {
            trxs: Vec::new(),
            ws: WriteSet::default(),
            bytes: 0,
            keep_gtid: false,
            add: GtidSet::default(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_pass(
    repo: &Repository,
    job: &ApplyJob,
    pass: &mut Pass,
    mut schema: Schema,
    ctl: &mut Session,
    from: (usize, u64),
    policy: &mut GtidPolicy,
    serial_left: &mut u64,
    stats: &mut ApplyStats,
    progress: &dyn Progress,
) -> std::result::Result<std::result::Result<(), Stopped>, Failure> {
    let rt = pass.rt.clone();
    let files = job.replay.files;
    let mut reported = 0u64;
    let mut done_before = 0u64;
    for (k, f) in files.iter().enumerate() {
        if k < from.0 {
            done_before += f.bytes;
            continue;
        }
        let start = if k == from.0 {
            f.start.max(from.1)
        } else {
            f.start
        };
        let reader =
            BinlogReader::new(f.input.open(Some(repo))?, f.file.clone()).map_err(Error::from)?;
        let mut units = Units::new(
            reader,
            start,
            f.stop,
            job.replay.scope.clone(),
            job.replay.rename.clone(),
        );
        let mut fde: Option<Arc<Vec<u8>>> = None;
        let mut gather = Gather::new();
        // A run of units for the client pipeline: [start, end).
        let mut pipeline: Option<(u64, u64)> = None;
        let mut counted: HashMap<&'static str, u64> = HashMap::new();
        loop {
            let unit = units.next_unit(&schema)?;
            if fde.is_none() {
                fde = units.fde.clone().map(Arc::new);
            }
            let end_of_file = unit.is_none();
            let needs_flush = match &unit {
                None => true,
                Some(Unit::Pipeline { .. }) => true,
                Some(Unit::Rows(t)) => {
                    pipeline.is_some()
                        || gather.keep_gtid
                        || gather.trxs.len() >= BATCH_TRXS
                        || gather.bytes + t.events.len() > BATCH_BYTES
                        || (*serial_left > 0 && !gather.trxs.is_empty())
                }
            };
            if needs_flush && !gather.trxs.is_empty() {
                let g = std::mem::replace(&mut gather, Gather::new());
                send(pass, f, fde.clone(), g, *serial_left > 0)?;
            }
            if let Some((a, b)) = pipeline {
                if !matches!(unit, Some(Unit::Pipeline { .. })) {
                    pipeline = None;
                    pass.drain()?;
                    if let Err(stopped) = run_pipeline(repo, job, ctl, &rt, f, a, b)? {
                        return Ok(Err(stopped));
                    }
                    pass.committed = BinlogCoordinates::new(f.file.clone(), b);
                    stats.pipeline_ranges += 1;
                    schema = rt.block_on(Schema::load(ctl))?;
                }
            }
            let Some(unit) = unit else {
                debug_assert!(end_of_file);
                break;
            };
            let end = unit.end();
            match unit {
                Unit::Pipeline { start, end, why } => {
                    *counted.entry(why).or_default() += 1;
                    stats.pipeline_units += 1;
                    pipeline = Some(pipeline.map_or((start, end), |(a, _)| (a, end)));
                }
                Unit::Rows(t) => {
                    let choice = policy.choose(t.gtid.as_ref(), (k, t.end));
                    // Kept GTIDs: set before the transaction (one commit each), or added
                    // after the batch's commit.
                    let adds = choice == GtidChoice::Keep && policy.adds_after_commit();
                    let keep = choice == GtidChoice::Keep && !adds;
                    if let (true, Some(TrxGtid::Mysql(g))) = (adds, &t.gtid) {
                        if let Some(g) = Gtid::parse(g) {
                            gather.add.insert(&g);
                        }
                    }
                    if choice == GtidChoice::Skip {
                        stats.already_applied += 1;
                    } else {
                        if keep && !gather.trxs.is_empty() {
                            let g = std::mem::replace(&mut gather, Gather::new());
                            send(pass, f, fde.clone(), g, *serial_left > 0)?;
                        }
                        gather.keep_gtid = keep;
                        gather.bytes += t.events.len();
                        gather.ws.merge(&t.write_set);
                        stats.transactions += 1;
                        stats.rows += t.rows;
                        gather.trxs.push(t);
                    }
                }
            }
            *serial_left = serial_left.saturating_sub(1);
            let done = done_before + end.saturating_sub(f.start).min(f.bytes);
            if done > reported {
                progress.advance(done - reported);
                reported = done;
            }
        }
        for (why, n) in counted {
            *stats.pipeline_reasons.entry(why.to_string()).or_default() += n;
        }
        done_before += f.bytes;
    }
    pass.drain()?;
    Ok(Ok(()))
}

fn send(
    pass: &mut Pass,
    f: &super::plan::ReplayFile,
    fde: Option<Arc<Vec<u8>>>,
    g: Gather,
    serial: bool,
) -> std::result::Result<(), Failure> {
    let fde = fde.ok_or_else(|| {
        Error::Binlog(format!(
            "{}: no format description event before its transactions",
            f.file
        ))
    })?;
    let end = BinlogCoordinates::new(f.file.clone(), g.trxs.last().map_or(0, |t| t.end));
    // One commit per source GTID: commits need not wait for each other, the target's
    // gtid_executed records which transactions it holds.
    let unordered = g.keep_gtid
        && matches!(
            g.trxs.first().and_then(|t| t.gtid.as_ref()),
            Some(TrxGtid::Mysql(_))
        );
    let mark = if unordered {
        Mark::Unordered {
            safe: end.clone(),
            end,
        }
    } else {
        Mark::Ordered(end)
    };
    let batch = Batch {
        seq: 0,
        fde,
        keep_gtid: g.keep_gtid,
        add_gtids: (!g.add.is_empty()).then_some(g.add),
        mark,
        trxs: g.trxs,
    };
    pass.dispatch(batch, g.ws, serial)?;
    Ok(())
}

/// A range `[a, b)` of `f` through the client pipeline. The progress row marks the range
/// first: a replay killed inside it cannot tell how much the target committed.
fn run_pipeline(
    repo: &Repository,
    job: &ApplyJob,
    ctl: &mut Session,
    rt: &Handle,
    f: &super::plan::ReplayFile,
    a: u64,
    b: u64,
) -> Result<std::result::Result<(), Stopped>> {
    let at = |pos: u64| BinlogCoordinates::new(f.file.clone(), pos);
    rt.block_on(ctl.exec(&progress::ordered_sql(job.backup_id, &at(a), Some(b), None)))?;
    let mut sub = f.clone();
    sub.start = a;
    sub.stop = Some(b);
    let sub_job = ReplayJob {
        files: std::slice::from_ref(&sub),
        target: job.replay.target,
        target_flavor: job.replay.target_flavor,
        source_flavor: job.replay.source_flavor,
        time_zone: job.replay.time_zone.clone(),
        scope: job.replay.scope.clone(),
        log_bin: job.log_bin,
        skip_gtids: job.skip_gtids,
        rename: job.replay.rename.clone(),
    };
    match replay::replay(repo, &sub_job, &Silent)? {
        Ok(_) => {
            rt.block_on(ctl.exec(&progress::ordered_sql(job.backup_id, &at(b), None, None)))?;
            Ok(Ok(()))
        }
        Err(stopped) => {
            // The pipeline knows exactly where it stopped: everything before is applied.
            rt.block_on(ctl.exec(&progress::ordered_sql(
                job.backup_id,
                &at(stopped.resume_pos),
                None,
                None,
            )))?;
            Ok(Err(stopped))
        }
    }
}

/// What the applier will do with a replay, for `restore --dry-run`: how many row
/// transactions go to the lanes, and which ranges go through the client pipeline (each a
/// barrier: every lane commits first). Read without the target's schema, so changes to
/// non-transactional tables are counted with the lanes here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Survey {
    pub lanes: usize,
    pub row_transactions: u64,
    pub barriers: Vec<Barrier>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Barrier {
    pub file: String,
    pub start: u64,
    pub end: u64,
    pub units: u64,
    pub why: String,
}

pub fn survey(
    repo: &Repository,
    files: &[super::plan::ReplayFile],
    scope: &crate::selection::Selection,
    lanes: usize,
) -> Result<Survey> {
    let schema = Schema::default();
    let mut out = Survey {
        lanes,
        ..Survey::default()
    };
    for f in files {
        let reader =
            BinlogReader::new(f.input.open(Some(repo))?, f.file.clone()).map_err(Error::from)?;
        let mut units = Units::new(reader, f.start, f.stop, scope.clone(), Default::default());
        while let Some(unit) = units.next_unit(&schema)? {
            match unit {
                Unit::Rows(_) => out.row_transactions += 1,
                Unit::Pipeline { start, end, why } => match out.barriers.last_mut() {
                    Some(b) if b.file == f.file && b.end == start => {
                        b.end = end;
                        b.units += 1;
                        if !b.why.contains(why) {
                            b.why = format!("{}; {why}", b.why);
                        }
                    }
                    _ => out.barriers.push(Barrier {
                        file: f.file.clone(),
                        start,
                        end,
                        units: 1,
                        why: why.to_string(),
                    }),
                },
            }
        }
    }
    Ok(out)
}

impl std::fmt::Display for Survey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  applier: zrm, {} lane(s): {} row transaction(s) in parallel by write set, {} \
             barrier(s) through the client pipeline",
            self.lanes,
            self.row_transactions,
            self.barriers.len()
        )?;
        for b in self.barriers.iter().take(20) {
            writeln!(
                f,
                "    barrier {}:{}-{} ({} transaction(s)): {}",
                b.file, b.start, b.end, b.units, b.why
            )?;
        }
        if self.barriers.len() > 20 {
            writeln!(f, "    … and {} more", self.barriers.len() - 20)?;
        }
        Ok(())
    }
}
