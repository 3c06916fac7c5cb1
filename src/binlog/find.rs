//! Resolving a recovery point (a time, a GTID, a position, a statement pattern) to exact
//! coordinates: the start of the first transaction that must NOT be applied, which is the end
//! of the last one that must. With `inclusive`, the transaction named by a GTID, position or
//! pattern is applied too.

use std::ops::ControlFlow;
use std::sync::Arc;

use regex::Regex;
use serde::Serialize;

use super::analyze::rfc3339;
use super::decode::EventData;
use super::scan::EventInfo;
use crate::mysql::gtid::{AnyGtid, GtidSet, GtidState, MariaGtidPos};

#[derive(Debug, Clone)]
pub enum Target {
    /// Apply every transaction committed at or before this time (epoch seconds).
    Time(i64),
    /// Stop before the transaction with this GTID.
    Gtid(String),
    /// Apply exactly the transactions of this set: stop before the first one not in it.
    InSet(Arc<GtidState>),
    /// Stop before the transaction holding the first statement that matches.
    Match(Regex),
    /// Stop before the first transaction starting at or after `file:pos` (which must be a
    /// transaction boundary).
    Position { file: String, pos: u64 },
    /// Stop before the first transaction that writes a global sequence number above a bound.
    Gsn(GsnTarget),
    /// Everything read.
    End,
}

/// The application's global sequence number: a column of one table, written by every
/// cross-shard transaction.
#[derive(Debug, Clone)]
pub struct GsnTarget {
    pub database: String,
    pub table: String,
    /// The column's position in the table (0-based), as row events carry no names.
    pub column: usize,
    /// Apply transactions whose GSN is at most this.
    pub max: i64,
    /// STATEMENT format: a statement that writes the table.
    statement: Regex,
}

impl GsnTarget {
    pub fn new(database: &str, table: &str, column: usize, max: i64) -> Self {
        let t = regex::escape(table);
        let statement = Regex::new(&format!(
            r"(?is)^\s*(insert|replace|update)\b.*?[\s.`]{t}`?[\s(]"
        ))
        .expect("a valid pattern");
        GsnTarget {
            database: database.to_string(),
            table: table.to_string(),
            column,
            max,
            statement,
        }
    }

    /// The GSN above `max` this event writes, if it writes one.
    fn exceeds(&self, e: &EventInfo) -> Option<i64> {
        if e.database.as_deref() == Some(self.database.as_str())
            && e.table.as_deref() == Some(self.table.as_str())
        {
            let values = e.values.as_ref()?;
            return values
                .iter()
                .filter_map(|c| c.after.as_ref())
                .filter_map(|row| row.get(self.column).cloned().flatten())
                .filter_map(|v| v.as_i64())
                .filter(|v| *v > self.max)
                .max();
        }
        // STATEMENT format: the largest integer literal of a statement writing the table.
        if e.type_code != QUERY_EVENT {
            return None;
        }
        let text = e.statement.as_deref()?;
        if !self.statement.is_match(text) {
            return None;
        }
        let ints = Regex::new(r"\b\d+\b").expect("a valid pattern");
        ints.find_iter(text)
            .filter_map(|m| m.as_str().parse::<i64>().ok())
            .filter(|v| *v > self.max)
            .max()
    }
}

const QUERY_EVENT: u8 = 2;

/// The answer: where to stop, and around it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StopPoint {
    /// Pass `file:pos` to `restore --until-position`.
    pub file: String,
    pub pos: u64,
    /// The GTID of the first transaction not applied (absent when the point is the end).
    pub gtid: Option<String>,
    /// Commit time of the last transaction applied.
    pub time: Option<String>,
    /// The last transaction applied.
    pub last_applied: Option<TrxRef>,
    /// The first transaction not applied (absent when the point is the end of the logs).
    pub first_excluded: Option<TrxRef>,
    /// For `--match`: the statement that matched, its passwords masked (the regex is
    /// matched against the statement as written).
    pub matched: Option<String>,
    /// The executed GTID set at the point (MySQL: the starting set — a backup's, or the first
    /// file's Previous_gtids — plus every transaction applied; MariaDB: each domain's last
    /// transaction), when it is tracked: `restore --until-gtid SET` with it stops here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtid_set: Option<GtidState>,
    /// The same set with the first excluded transaction too (the `--inclusive` point), when
    /// there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtid_set_inclusive: Option<GtidState>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrxRef {
    pub file: String,
    pub pos: u64,
    pub end_pos: u64,
    pub gtid: Option<String>,
    pub time: String,
}

/// Where the transaction being read starts: file, position, GTID as text and parsed.
type TrxStart = (Arc<str>, u64, Option<Arc<str>>, Option<AnyGtid>);

/// Feed events in order; ask for the point when done (or when `push` says stop).
pub struct Finder {
    target: Target,
    inclusive: bool,
    /// Set when the target cannot be honoured (a position inside a transaction).
    pub error: Option<String>,
    /// Start of the transaction being read, and its GTID (text and parsed).
    current: Option<TrxStart>,
    matched_here: Option<String>,
    last: Option<TrxRef>,
    pub found: Option<StopPoint>,
    /// Transactions before the point (applied), among those read.
    pub applied: u64,
    /// Where reading ended (file, position), for a point at the end.
    end: Option<(Arc<str>, u64)>,
    /// Whether the executed GTIDs are tracked ([`Finder::track_gtids`]), and they so far (None
    /// until the flavor is known).
    track: bool,
    executed: Option<GtidState>,
}

/// The GTID a transaction's first event carries (its GTID event), or its text.
pub fn gtid_of(e: &EventInfo) -> Option<AnyGtid> {
    match &e.data {
        EventData::MariaGtid(g) => Some(AnyGtid::MariaDb {
            domain: g.domain,
            server_id: g.server_id,
            seq: g.seq,
        }),
        _ => e.gtid.as_deref().and_then(AnyGtid::parse),
    }
}

impl Finder {
    pub fn new(target: Target) -> Self {
        Self::with_inclusive(target, false)
    }

    pub fn with_inclusive(target: Target, inclusive: bool) -> Self {
        Finder {
            target,
            inclusive,
            error: None,
            current: None,
            matched_here: None,
            last: None,
            found: None,
            applied: 0,
            end: None,
            track: false,
            executed: None,
        }
    }

    /// Track the executed GTID set from `start` (a backup's state; None: from the first file's
    /// Previous_gtids or GTID list): every file's starting state and every transaction applied
    /// are added, and the point carries the set ([`StopPoint::gtid_set`]).
    pub fn track_gtids(&mut self, start: Option<GtidState>) {
        self.track = true;
        self.executed = start;
    }

    /// A file's starting state (Previous_gtids, GTID list: every transaction before it), or
    /// the flavor's empty state at the first GTID when none was seen.
    fn track_state(&mut self, e: &EventInfo) {
        match (&e.data, &mut self.executed) {
            (EventData::PreviousGtids(text), x) => {
                let Ok(p) = GtidSet::parse(text) else { return };
                match x {
                    Some(GtidState::MySql(set)) => set.union_with(&p),
                    None => *x = Some(GtidState::MySql(p)),
                    Some(GtidState::MariaDb(_)) => {}
                }
            }
            (EventData::GtidList(list), x) => {
                let mut p = MariaGtidPos::default();
                for g in list {
                    p.insert(g.domain, g.server_id, g.seq);
                }
                match x {
                    Some(GtidState::MariaDb(pos)) => pos.union_with(&p),
                    None => *x = Some(GtidState::MariaDb(p)),
                    Some(GtidState::MySql(_)) => {}
                }
            }
            (EventData::MariaGtid(_), x @ None) => {
                *x = Some(GtidState::MariaDb(MariaGtidPos::default()))
            }
            (EventData::MysqlGtid { gtid: Some(_), .. }, x @ None) => {
                *x = Some(GtidState::MySql(GtidSet::default()))
            }
            _ => {}
        }
    }

    /// The executed GTIDs so far, when tracked.
    pub fn executed(&self) -> Option<&GtidState> {
        self.executed.as_ref()
    }

    /// A whole file known (from its index) to be applied without reading it: its last
    /// transaction, its transactions, and the executed set at its end.
    pub fn skip_file(&mut self, last: TrxRef, transactions: u64, state_at_end: Option<&GtidState>) {
        self.end = Some((Arc::from(last.file.as_str()), last.end_pos));
        self.last = Some(last);
        self.applied += transactions;
        if let (Some(x), Some(s)) = (self.executed.as_mut(), state_at_end) {
            x.union_with(s);
        }
    }

    /// The last transaction applied so far.
    pub fn last_applied(&self) -> Option<&TrxRef> {
        self.last.as_ref()
    }

    fn state(&self) -> Option<GtidState> {
        self.executed.clone()
    }

    fn stop_before(
        &mut self,
        file: &Arc<str>,
        pos: u64,
        trx: TrxRef,
        matched: Option<String>,
        any: Option<&AnyGtid>,
    ) {
        let gtid_set_inclusive = match (self.state(), any) {
            (Some(mut s), Some(g)) => {
                s.insert(g);
                Some(s)
            }
            _ => None,
        };
        self.found = Some(StopPoint {
            file: file.to_string(),
            pos,
            gtid: trx.gtid.clone(),
            time: self.last.as_ref().map(|l| l.time.clone()),
            last_applied: self.last.clone(),
            first_excluded: Some(trx),
            matched,
            gtid_set: self.state(),
            gtid_set_inclusive,
        });
    }

    pub fn push(&mut self, e: &EventInfo) -> ControlFlow<()> {
        self.end = Some((e.file.clone(), e.end_pos));
        if self.track {
            self.track_state(e);
        }
        if e.trx_start || (self.current.is_none() && e.trx_end) {
            self.current = Some((e.file.clone(), e.pos, e.gtid.clone(), gtid_of(e)));
            self.matched_here = None;
        }
        if let (Target::Match(re), None) = (&self.target, &self.matched_here) {
            if let Some(s) = e.statement.as_deref().filter(|s| re.is_match(s)) {
                self.matched_here = Some(crate::redact::mask_sql(s).into_owned());
            }
        }
        if let (Target::Gsn(g), None) = (&self.target, &self.matched_here) {
            if let Some(v) = g.exceeds(e) {
                self.matched_here = Some(format!(
                    "{}.{} receives GSN {v} (> {})",
                    g.database, g.table, g.max
                ));
            }
        }
        if !e.trx_end {
            return ControlFlow::Continue(());
        }
        let (file, start, gtid, any) = self
            .current
            .take()
            .unwrap_or_else(|| (e.file.clone(), e.pos, e.gtid.clone(), gtid_of(e)));
        let gtid = gtid.or_else(|| e.gtid.clone());
        let any = any.or_else(|| gtid.as_deref().and_then(AnyGtid::parse));
        let trx = TrxRef {
            file: file.to_string(),
            pos: start,
            end_pos: e.end_pos,
            gtid: gtid.as_deref().map(str::to_string),
            time: rfc3339(e.timestamp),
        };
        let stop = match &self.target {
            Target::Time(t) => i64::from(e.timestamp) > *t,
            Target::Gtid(g) => gtid.as_deref() == Some(g.as_str()),
            Target::InSet(set) => !any.as_ref().is_some_and(|g| set.contains(g)),
            Target::Match(_) | Target::Gsn(_) => self.matched_here.is_some(),
            Target::Position { file: f, pos } => {
                let here = super::archive_index::file_order(&trx.file);
                let there = super::archive_index::file_order(f);
                if here == there && trx.pos < *pos && *pos < trx.end_pos {
                    self.error =
                        Some(format!(
                        "{f}:{pos} is inside a transaction ({}:{}-{}{}); give its start ({}:{}) \
                         or its end ({}:{})",
                        trx.file,
                        trx.pos,
                        trx.end_pos,
                        trx.gtid.as_deref().map(|g| format!(", GTID {g}")).unwrap_or_default(),
                        trx.file,
                        trx.pos,
                        trx.file,
                        trx.end_pos
                    ));
                    return ControlFlow::Break(());
                }
                here > there || (here == there && trx.pos >= *pos)
            }
            Target::End => false,
        };
        if stop {
            let matched = self.matched_here.take();
            if self.inclusive && !matches!(self.target, Target::Time(_) | Target::InSet(_)) {
                self.applied += 1;
                if let (Some(x), Some(g)) = (self.executed.as_mut(), any.as_ref()) {
                    x.insert(g);
                }
                // Apply this one too: the point is its end.
                self.found = Some(StopPoint {
                    file: trx.file.clone(),
                    pos: trx.end_pos,
                    gtid: None,
                    time: Some(trx.time.clone()),
                    last_applied: Some(trx),
                    first_excluded: None,
                    matched,
                    gtid_set: self.state(),
                    gtid_set_inclusive: None,
                });
            } else {
                self.stop_before(&file, start, trx, matched, any.as_ref());
            }
            return ControlFlow::Break(());
        }
        self.last = Some(trx);
        self.applied += 1;
        if let (Some(x), Some(g)) = (self.executed.as_mut(), any.as_ref()) {
            x.insert(g);
        }
        ControlFlow::Continue(())
    }

    /// The point after all input: found, or (for a time, a position or the end) the end of the
    /// last transaction read.
    pub fn finish(self) -> Option<StopPoint> {
        if self.found.is_some() {
            return self.found;
        }
        let gtid_set = self.state();
        match (&self.target, self.last) {
            (
                Target::Time(_)
                | Target::End
                | Target::Position { .. }
                | Target::Gsn(_)
                | Target::InSet(_),
                Some(last),
            ) => Some(StopPoint {
                file: last.file.clone(),
                pos: last.end_pos,
                gtid: None,
                time: Some(last.time.clone()),
                last_applied: Some(last),
                first_excluded: None,
                matched: None,
                gtid_set,
                gtid_set_inclusive: None,
            }),
            _ => None,
        }
    }
}
