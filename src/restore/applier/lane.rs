//! One connection of the applier. It applies a batch of row transactions as one target
//! transaction and commits it with the replay's progress updated in the same transaction
//! (see `progress`). An ordered batch first waits for its turn: such batches commit in the
//! source's order, so the target holds exactly the transactions up to the recorded position,
//! whatever stops zrm. A batch that keeps its source GTID on MySQL commits as soon as it is
//! applied: the target's `gtid_executed` then says which transactions it holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mysql_async::prelude::Queryable;
use tokio::sync::{mpsc, watch};

use super::progress;
use super::units::{RowTrx, TrxGtid};
use crate::binlog::coordinates::BinlogCoordinates;
use crate::mysql::conn::quote_str;
use crate::mysql::gtid::GtidSet;
use crate::mysql::Session;

/// Consecutive row transactions applied and committed together.
pub struct Batch {
    pub seq: u64,
    /// The file's format description event (a session must run it before row events).
    pub fde: Arc<Vec<u8>>,
    pub trxs: Vec<RowTrx>,
    /// Give the target the source's GTID with `SET gtid_next` (then the batch holds one
    /// transaction).
    pub keep_gtid: bool,
    /// The source GTIDs of the batch's transactions, added to the target's `gtid_executed`
    /// right after the commit (a batch committed in order; instead of `keep_gtid`).
    pub add_gtids: Option<GtidSet>,
    /// How it commits, and what it records.
    pub mark: Mark,
}

/// How a batch commits.
pub enum Mark {
    /// In the source's order; the restore's progress row moves to the batch's end.
    Ordered(BinlogCoordinates),
    /// As soon as applied (one transaction keeping its MySQL GTID): the lane's row records
    /// the batch's end and the point before which everything was committed at dispatch.
    Unordered {
        safe: BinlogCoordinates,
        end: BinlogCoordinates,
    },
}

pub enum LaneReport {
    Done {
        seq: u64,
        busy: Duration,
    },
    Failed {
        seq: u64,
        code: Option<u16>,
        message: String,
    },
}

pub struct Lane {
    pub id: usize,
    /// The restore's key in the progress tables.
    pub backup_id: Arc<str>,
    pub session: Session,
    pub fde: Option<Arc<Vec<u8>>>,
    /// A MySQL target: a `BINLOG` of a format description leaves `gtid_next` at
    /// NOT_YET_DETERMINED (the next transaction would become ANONYMOUS, refused with
    /// `gtid_mode = ON`), so it is set back to AUTOMATIC.
    pub mysql: bool,
}

async fn exec(session: &mut Session, sql: &str) -> Result<(), (Option<u16>, String)> {
    session.conn.query_drop(sql).await.map_err(|e| match e {
        mysql_async::Error::Server(se) => (Some(se.code), se.message),
        other => (None, other.to_string()),
    })
}

/// Add GTIDs to the target's `gtid_executed` (and `gtid_purged`, where MySQL keeps the
/// GTIDs of transactions that are in no binary log of the server, as it does for every
/// transaction committed with `sql_log_bin = 0`).
pub fn add_gtids_sql(g: &GtidSet) -> String {
    format!("SET GLOBAL gtid_purged = {}", quote_str(&format!("+{g}")))
}

fn binlog_statement(events: &[u8]) -> String {
    let mut sql = String::with_capacity(events.len() * 4 / 3 + 16);
    sql.push_str("BINLOG '");
    base64::engine::general_purpose::STANDARD.encode_string(events, &mut sql);
    sql.push('\'');
    sql
}

impl Lane {
    async fn apply(
        &mut self,
        b: &Batch,
        turn: &watch::Sender<u64>,
    ) -> Result<Duration, (Option<u16>, String)> {
        let started = Instant::now();
        if self.fde.as_ref().is_none_or(|f| f != &b.fde) {
            exec(&mut self.session, &binlog_statement(&b.fde)).await?;
            if self.mysql {
                exec(&mut self.session, "SET gtid_next = 'AUTOMATIC'").await?;
            }
            self.fde = Some(b.fde.clone());
        }
        if b.keep_gtid {
            match b.trxs.first().and_then(|t| t.gtid.as_ref()) {
                Some(TrxGtid::Mysql(g)) => {
                    exec(
                        &mut self.session,
                        &format!("SET gtid_next = {}", quote_str(g)),
                    )
                    .await?
                }
                Some(TrxGtid::Maria {
                    domain,
                    server_id,
                    seq,
                }) => {
                    exec(
                        &mut self.session,
                        &format!(
                            "SET @@session.gtid_domain_id = {domain}, @@session.server_id = \
                             {server_id}, @@session.gtid_seq_no = {seq}"
                        ),
                    )
                    .await?
                }
                None => {}
            }
        }
        exec(&mut self.session, "START TRANSACTION").await?;
        for t in &b.trxs {
            if !t.events.is_empty() {
                exec(&mut self.session, &binlog_statement(&t.events)).await?;
            }
        }
        let busy = started.elapsed();
        match &b.mark {
            Mark::Ordered(at) => {
                // Commit in the source's order: every earlier batch first.
                let mut rx = turn.subscribe();
                if rx.wait_for(|next| *next == b.seq).await.is_err() {
                    return Err((None, "the applier stopped".into()));
                }
                exec(
                    &mut self.session,
                    &progress::ordered_sql(&self.backup_id, at, None, b.add_gtids.as_ref()),
                )
                .await?;
                exec(&mut self.session, "COMMIT").await?;
                if let Some(g) = &b.add_gtids {
                    // Before the next batch commits: only the last committed batch's GTIDs
                    // can be missing from the target if zrm stops here.
                    exec(&mut self.session, &add_gtids_sql(g)).await?;
                }
                // The next batch may commit now: resetting gtid_next is this session's own
                // business.
                turn.send_replace(b.seq + 1);
            }
            Mark::Unordered { safe, end } => {
                exec(
                    &mut self.session,
                    &progress::unordered_sql(&self.backup_id, self.id, safe, end),
                )
                .await?;
                exec(&mut self.session, "COMMIT").await?;
            }
        }
        if b.keep_gtid
            && matches!(
                b.trxs.first().and_then(|t| t.gtid.as_ref()),
                Some(TrxGtid::Mysql(_))
            )
        {
            exec(&mut self.session, "SET gtid_next = 'AUTOMATIC'").await?;
        }
        Ok(busy)
    }
}

/// Apply batches until the channel closes or one fails (the lane then stops: its
/// transaction stays open until the coordinator kills the connection).
pub async fn run(
    mut lane: Lane,
    mut batches: mpsc::Receiver<Batch>,
    reports: mpsc::UnboundedSender<(usize, LaneReport)>,
    turn: Arc<watch::Sender<u64>>,
) {
    let id = lane.id;
    while let Some(b) = batches.recv().await {
        match lane.apply(&b, &turn).await {
            Ok(busy) => {
                let _ = reports.send((id, LaneReport::Done { seq: b.seq, busy }));
            }
            Err((code, message)) => {
                let _ = reports.send((
                    id,
                    LaneReport::Failed {
                        seq: b.seq,
                        code,
                        message,
                    },
                ));
                // Keep the session (and its open transaction) until the coordinator kills it.
                std::future::pending::<()>().await;
            }
        }
    }
    lane.session.close().await;
}
