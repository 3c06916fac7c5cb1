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
//!   transaction.
//! - Speculative: if anything goes wrong while lanes run side by side (a lock wait, a
//!   deadlock, a row not found because a key collation hid a dependency), every uncommitted
//!   batch is rolled back and the next transactions run one lane at a time; only an error that
//!   repeats on one lane stops the replay.

mod lane;
mod schema;
mod units;
mod writeset;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use self::lane::{Batch, Lane, LaneReport};
use self::schema::Schema;
use self::units::{RowTrx, TrxGtid, Unit, Units};
use self::writeset::WriteSet;
use super::replay::{self, ReplayJob, Stopped};
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
        Ok(())
    }
}

/// The recorded progress of this restore's replay on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    file: String,
    pos: u64,
    /// A range was being applied through the client pipeline, up to here.
    pipeline_end: Option<u64>,
}

/// Whether the MySQL target takes the source's GTIDs: once a replayed GTID is found already
/// executed on the target (MySQL would skip that transaction silently) or the target runs
/// with `gtid_mode = OFF`, every later transaction takes a new GTID of the target instead.
struct MysqlGtids {
    mode_off: bool,
    executed: GtidSet,
    skipping: bool,
}

impl MysqlGtids {
    fn keep(&mut self, gtid: &str) -> bool {
        if self.skipping {
            return false;
        }
        if self.mode_off {
            self.skipping = true;
            tracing::warn!(
                "replaying without the source's GTIDs: the target runs with gtid_mode = OFF"
            );
            return false;
        }
        match Gtid::parse(gtid) {
            Some(g) if self.executed.contains(&g) => {
                self.skipping = true;
                tracing::warn!(
                    "replaying {gtid} and every later transaction without the source's GTIDs: \
                     the target had already executed it (the source itself, or an earlier restore?), which MySQL \
                     would have skipped silently; the transactions take new GTIDs of the target"
                );
                false
            }
            Some(_) => true,
            None => false,
        }
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
    fn keep(&mut self, g: Option<&TrxGtid>) -> bool {
        match (self, g) {
            (GtidPolicy::MariaKeep, Some(TrxGtid::Maria { .. })) => true,
            (GtidPolicy::Mysql(m), Some(TrxGtid::Mysql(g))) => m.keep(g),
            _ => false,
        }
    }
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
    in_flight: BTreeMap<u64, (WriteSet, usize)>,
    in_flight_bytes: usize,
    reports: mpsc::UnboundedReceiver<(usize, LaneReport)>,
    turn: Arc<watch::Sender<u64>>,
    next_seq: u64,
    busy: Duration,
    commits: u64,
}

impl Pass {
    fn start(rt: &Handle, job: &ApplyJob, lanes: usize) -> Result<Pass> {
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
            busy: Duration::ZERO,
            commits: 0,
        };
        for id in 0..lanes {
            let session = rt.block_on(open_session(job, true))?;
            pass.conn_ids.push(session.conn.id());
            let (tx, rx) = mpsc::channel(1);
            let lane = Lane {
                session,
                fde: None,
                mysql: job.replay.target_flavor == Flavor::MySQL,
            };
            pass.handles.push(rt.spawn(lane::run(
                lane,
                rx,
                report_tx.clone(),
                pass.turn.clone(),
                id,
            )));
            pass.senders.push(tx);
            pass.idle.push(id);
        }
        Ok(pass)
    }

    fn wait_one(&mut self) -> std::result::Result<(), PassFail> {
        let got = self.rt.block_on(self.reports.recv());
        match got {
            Some((lane, LaneReport::Done { seq, busy })) => {
                if let Some((_, bytes)) = self.in_flight.remove(&seq) {
                    self.in_flight_bytes -= bytes;
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
        while self.idle.is_empty()
            || (serial && !self.in_flight.is_empty())
            || (!self.in_flight.is_empty() && self.in_flight_bytes + bytes > IN_FLIGHT_BYTES)
            || self.in_flight.values().any(|(w, _)| w.meets(&ws))
        {
            self.wait_one()?;
        }
        batch.seq = self.next_seq;
        self.next_seq += 1;
        let lane = self.idle.pop().expect("an idle lane");
        self.in_flight.insert(batch.seq, (ws, bytes));
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

fn progress_sql(backup_id: &str, file: &str, pos: u64, pipeline_end: Option<u64>) -> String {
    format!(
        "UPDATE zrm_meta.replay_progress SET file = {}, pos = {pos}, pipeline_end = {} WHERE \
         backup_id = {}",
        quote_str(file),
        pipeline_end.map_or("NULL".to_string(), |e| e.to_string()),
        quote_str(backup_id)
    )
}

/// The progress row: created, reset for a new replay, or read for a resume.
async fn prepare_progress(s: &mut Session, job: &ApplyJob<'_>) -> Result<Option<Recorded>> {
    s.exec("CREATE DATABASE IF NOT EXISTS zrm_meta").await?;
    s.exec(
        "CREATE TABLE IF NOT EXISTS zrm_meta.replay_progress (backup_id VARCHAR(128) NOT NULL \
         PRIMARY KEY, file VARCHAR(512) NOT NULL, pos BIGINT UNSIGNED NOT NULL, pipeline_end \
         BIGINT UNSIGNED NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) \
         ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
    )
    .await?;
    let id = quote_str(job.backup_id);
    let recorded = if job.resume {
        read_progress(s, job.backup_id).await?
    } else {
        None
    };
    if recorded.is_none() {
        let first = job.replay.files.first();
        s.exec(&format!(
            "REPLACE INTO zrm_meta.replay_progress (backup_id, file, pos) VALUES ({id}, {}, {})",
            quote_str(first.map_or("", |f| f.file.as_str())),
            first.map_or(0, |f| f.start)
        ))
        .await?;
    }
    Ok(recorded)
}

/// After a complete replay the progress row has served: the target is left as the source
/// was, without zrm's table (or schema) unless something else of zrm's is in it.
async fn forget_progress(s: &mut Session, backup_id: &str) -> Result<()> {
    s.exec(&format!(
        "DELETE FROM zrm_meta.replay_progress WHERE backup_id = {}",
        quote_str(backup_id)
    ))
    .await?;
    if s.value("SELECT COUNT(*) FROM zrm_meta.replay_progress")
        .await?
        .as_deref()
        == Some("0")
    {
        s.exec("DROP TABLE IF EXISTS zrm_meta.replay_progress")
            .await?;
        let left = s
            .value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'zrm_meta'")
            .await?;
        if left.as_deref() == Some("0") {
            s.exec("DROP DATABASE IF EXISTS zrm_meta").await?;
        }
    }
    Ok(())
}

async fn read_progress(s: &mut Session, backup_id: &str) -> Result<Option<Recorded>> {
    let rows = s
        .rows(&format!(
            "SELECT file, pos, pipeline_end FROM zrm_meta.replay_progress WHERE backup_id = {}",
            quote_str(backup_id)
        ))
        .await?;
    Ok(rows.into_iter().next().and_then(|r| {
        Some(Recorded {
            file: r.first().cloned().flatten()?,
            pos: r.get(1).cloned().flatten()?.parse().ok()?,
            pipeline_end: r.get(2).cloned().flatten().and_then(|p| p.parse().ok()),
        })
    }))
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
    let recorded = rt.block_on(prepare_progress(&mut ctl, job))?;
    let mut stats = ApplyStats {
        lanes: job.lanes.max(1),
        ..ApplyStats::default()
    };
    let files = job.replay.files;
    // Where to start: the files' own start, or further if the target recorded more.
    let mut from = (0usize, files.first().map_or(4, |f| f.start));
    if let Some(r) = &recorded {
        if let Some(k) = files.iter().position(|f| f.file == r.file) {
            if let Some(end) = r.pipeline_end {
                if (k, r.pos) >= from {
                    rt.block_on(ctl.close());
                    return Err(Error::Restore(format!(
                        "the interrupted replay stopped inside {}:{}-{end}, a range applied \
                         through the client pipeline (statements zrm does not apply itself), \
                         and zrm cannot tell how much of it the target committed. Restore \
                         again with --replace",
                        r.file, r.pos
                    )));
                }
            }
            if (k, r.pos) > from {
                from = (k, r.pos);
                stats.resumed_at = Some(format!("{}:{}", r.file, r.pos));
            }
        }
    }
    let mut policy = match (job.replay.source_flavor, job.replay.target_flavor) {
        _ if job.skip_gtids => GtidPolicy::Batch,
        (Flavor::MySQL, Flavor::MySQL) => {
            let row = rt.block_on(
                ctl.rows("SELECT @@GLOBAL.gtid_mode, REPLACE(@@GLOBAL.gtid_executed, '\\n', '')"),
            )?;
            let cell = |i: usize| {
                row.first()
                    .and_then(|r| r.get(i).cloned().flatten())
                    .unwrap_or_default()
            };
            GtidPolicy::Mysql(MysqlGtids {
                mode_off: cell(0).eq_ignore_ascii_case("OFF"),
                executed: GtidSet::parse(&cell(1)).map_err(Error::Restore)?,
                skipping: false,
            })
        }
        (Flavor::MariaDB, Flavor::MariaDB) if job.log_bin => GtidPolicy::MariaKeep,
        _ => GtidPolicy::Batch,
    };
    let mut serial_left = 0u64;
    loop {
        let schema = rt.block_on(Schema::load(&mut ctl))?;
        let lanes = if serial_left > 0 { 1 } else { stats.lanes };
        let mut pass = Pass::start(&rt, job, lanes)?;
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
                let at = rt.block_on(read_progress(&mut ctl, job.backup_id))?;
                let Some(at) = at else {
                    return Err(Error::Restore(
                        "the applier's progress row is gone from zrm_meta.replay_progress".into(),
                    ));
                };
                let k = files.iter().position(|f| f.file == at.file).unwrap_or(0);
                if lanes > 1 {
                    tracing::info!(
                        "lanes met a dependency zrm did not foresee ({}; batch {}); going on \
                         one lane at a time from {}:{}",
                        fail.message,
                        fail.seq,
                        at.file,
                        at.pos
                    );
                    stats.conflicts += 1;
                    serial_left = SERIAL_UNITS;
                    from = (k, at.pos);
                    continue;
                }
                rt.block_on(ctl.close());
                let code = fail
                    .code
                    .map(|c| format!("ERROR {c}: "))
                    .unwrap_or_default();
                return Ok(Err(Stopped {
                    file: at.file,
                    resume_pos: at.pos,
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
    if let Err(e) = rt.block_on(forget_progress(&mut ctl, job.backup_id)) {
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
}

impl Gather {
    fn new() -> Gather {
        Gather {
            trxs: Vec::new(),
            ws: WriteSet::default(),
            bytes: 0,
            keep_gtid: false,
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
                send(pass, job, f, fde.clone(), g, *serial_left > 0)?;
            }
            if let Some((a, b)) = pipeline {
                if !matches!(unit, Some(Unit::Pipeline { .. })) {
                    pipeline = None;
                    pass.drain()?;
                    if let Err(stopped) = run_pipeline(repo, job, ctl, &rt, f, a, b)? {
                        return Ok(Err(stopped));
                    }
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
                    let keep = policy.keep(t.gtid.as_ref());
                    if keep && !gather.trxs.is_empty() {
                        let g = std::mem::replace(&mut gather, Gather::new());
                        send(pass, job, f, fde.clone(), g, *serial_left > 0)?;
                    }
                    gather.keep_gtid = keep;
                    gather.bytes += t.events.len();
                    gather.ws.merge(&t.write_set);
                    stats.transactions += 1;
                    stats.rows += t.rows;
                    gather.trxs.push(t);
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
    job: &ApplyJob,
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
    let end = g.trxs.last().map_or(0, |t| t.end);
    let batch = Batch {
        seq: 0,
        fde,
        keep_gtid: g.keep_gtid,
        progress_sql: progress_sql(job.backup_id, &f.file, end, None),
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
    rt.block_on(ctl.exec(&progress_sql(job.backup_id, &f.file, a, Some(b))))?;
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
            rt.block_on(ctl.exec(&progress_sql(job.backup_id, &f.file, b, None)))?;
            Ok(Ok(()))
        }
        Err(stopped) => {
            // The pipeline knows exactly where it stopped: everything before is applied.
            rt.block_on(ctl.exec(&progress_sql(
                job.backup_id,
                &f.file,
                stopped.resume_pos,
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
