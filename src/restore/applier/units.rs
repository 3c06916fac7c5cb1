//! The archived binlogs as a sequence of units the applier runs: a transaction made only of
//! row events (applied natively, as `BINLOG '…'` statements on a connection of zrm's), or a
//! range of the file that needs the client pipeline (statements, DDL, anything zrm does not
//! apply itself).
//!
//! A row transaction carries its write set: the keys of the rows it changes, as the target's
//! schema defines them (see `schema`). Two transactions whose write sets do not meet change no
//! common row, so they may run at the same time.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use super::schema::{Schema, TableKeys};
use super::writeset::WriteSet;
use crate::binlog::decode::{self, EventData};
use crate::binlog::event::{code, rows_event};
use crate::binlog::reader::{BinlogReader, RawEvent};
use crate::binlog::rows::{self, RowsEvent, TableMap};
use crate::binlog::scan::is_word;
use crate::error::{Error, Result};
use crate::selection::Selection;

/// A transaction larger than this is not held in memory: it goes through the client
/// pipeline, which streams it.
pub const MAX_NATIVE_BYTES: usize = 16 << 20;

/// The GTID a transaction carries, to keep on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrxGtid {
    /// MySQL `uuid[:tag]:n`.
    Mysql(String),
    /// MariaDB domain, server id, sequence number.
    Maria {
        domain: u32,
        server_id: u32,
        seq: u64,
    },
}

/// A transaction of row events, ready to apply.
#[derive(Debug)]
pub struct RowTrx {
    pub end: u64,
    pub gtid: Option<TrxGtid>,
    /// The TABLE_MAP and rows events, as stored (checksums included): the body of one
    /// `BINLOG` statement. Empty when every row is outside the restore's scope.
    pub events: Vec<u8>,
    pub write_set: WriteSet,
    pub rows: u64,
}

/// What the applier runs next.
#[derive(Debug)]
pub enum Unit {
    Rows(RowTrx),
    /// `[start, end)` of the file needs the client pipeline: why (for the report).
    Pipeline {
        start: u64,
        end: u64,
        why: &'static str,
    },
}

impl Unit {
    pub fn end(&self) -> u64 {
        match self {
            Unit::Rows(t) => t.end,
            Unit::Pipeline { end, .. } => *end,
        }
    }
}

/// The transaction being read.
struct Open {
    start: u64,
    gtid: Option<TrxGtid>,
    /// BEGIN seen (or a MariaDB non-standalone GTID group).
    begun: bool,
    /// Why it cannot be applied natively, once known.
    pipeline: Option<&'static str>,
    events: Vec<u8>,
    tables: HashMap<u64, Option<TableMap>>,
    write_set: WriteSet,
    rows: u64,
}

impl Open {
    fn new(start: u64, gtid: Option<TrxGtid>, begun: bool) -> Open {
        Open {
            start,
            gtid,
            begun,
            pipeline: None,
            events: Vec::new(),
            tables: HashMap::new(),
            write_set: WriteSet::default(),
            rows: 0,
        }
    }

    fn refuse(&mut self, why: &'static str) {
        self.pipeline.get_or_insert(why);
        self.events = Vec::new();
        self.tables.clear();
    }

    fn finish(self, end: u64) -> Unit {
        match self.pipeline {
            Some(why) => Unit::Pipeline {
                start: self.start,
                end,
                why,
            },
            None => Unit::Rows(RowTrx {
                end,
                gtid: self.gtid,
                events: self.events,
                write_set: self.write_set,
                rows: self.rows,
            }),
        }
    }
}

/// Reads one archived binlog's range `[start, stop)` as units.
pub struct Units<R: Read> {
    reader: BinlogReader<R>,
    start: u64,
    stop: Option<u64>,
    /// The file's format description event as stored: the first `BINLOG` of every session.
    pub fde: Option<Vec<u8>>,
    open: Option<Open>,
    scope: Selection,
    /// `--rename-database`: table maps of `old` (key) are rewritten to name `new`.
    rename: BTreeMap<String, String>,
    done: bool,
}

impl<R: Read> Units<R> {
    pub fn new(
        reader: BinlogReader<R>,
        start: u64,
        stop: Option<u64>,
        scope: Selection,
        rename: BTreeMap<String, String>,
    ) -> Self {
        Units {
            reader,
            start,
            stop,
            fde: None,
            open: None,
            scope,
            rename,
            done: false,
        }
    }

    fn file(&self) -> String {
        self.reader.name().to_string()
    }

    /// The next unit, `None` at the end of the range. A transaction the range ends inside
    /// (a crash-ended file) is not returned: nothing of it was committed on the source.
    pub fn next_unit(&mut self, schema: &Schema) -> Result<Option<Unit>> {
        while !self.done {
            let file = self.file();
            let scope = &self.scope;
            let Some(ev) = self.reader.next_event()? else {
                self.done = true;
                break;
            };
            if ev.header.type_code == code::FORMAT_DESCRIPTION {
                self.fde = Some(ev.bytes.to_vec());
                continue;
            }
            if ev.pos < self.start {
                continue;
            }
            if self.stop.is_some_and(|s| ev.pos >= s) {
                self.done = true;
                break;
            }
            if let Some(unit) = step(&mut self.open, &ev, schema, scope, &self.rename, &file)? {
                return Ok(Some(unit));
            }
        }
        if let Some(open) = self.open.take() {
            tracing::debug!(
                "{}: the transaction at {} does not end in the replayed range; not applied",
                self.file(),
                open.start
            );
        }
        Ok(None)
    }
}

/// One event into the open transaction; a finished unit when it ends one.
fn step(
    open: &mut Option<Open>,
    ev: &RawEvent,
    schema: &Schema,
    scope: &Selection,
    rename: &BTreeMap<String, String>,
    file: &str,
) -> Result<Option<Unit>> {
    let t = ev.header.type_code;
    let end = ev.end_pos();
    let fde = ev.format.ok_or_else(|| {
        Error::Binlog(format!(
            "{file}: event at {} comes before any format description",
            ev.pos
        ))
    })?;
    let decode = || {
        decode::decode(t, ev.header.server_id, ev.body, fde)
            .map_err(|e| Error::Binlog(format!("{file}: event at {}: {}", ev.pos, e.0)))
    };
    match t {
        code::GTID | code::GTID_TAGGED | code::ANONYMOUS_GTID => {
            let gtid = match decode()? {
                EventData::MysqlGtid { gtid, .. } => gtid.map(TrxGtid::Mysql),
                _ => None,
            };
            let stale = open.replace(Open::new(ev.pos, gtid, false));
            Ok(stale.map(|o| o.finish(ev.pos)))
        }
        code::MARIA_GTID => {
            let EventData::MariaGtid(g) = decode()? else {
                return Ok(None);
            };
            let mut o = Open::new(
                ev.pos,
                Some(TrxGtid::Maria {
                    domain: g.domain,
                    server_id: g.server_id,
                    seq: g.seq,
                }),
                !g.standalone,
            );
            if g.standalone {
                // A statement on its own (DDL): the client pipeline.
                o.refuse("a statement (DDL or a non-transactional change)");
            }
            let stale = open.replace(o);
            Ok(stale.map(|o| o.finish(ev.pos)))
        }
        code::QUERY | code::QUERY_COMPRESSED => {
            let EventData::Query(q) = decode()? else {
                return Ok(None);
            };
            let stmt = q.statement.as_str();
            match open {
                Some(o) if !o.begun && is_word(stmt, "BEGIN") => {
                    o.begun = true;
                    Ok(None)
                }
                None if is_word(stmt, "BEGIN") => {
                    *open = Some(Open::new(ev.pos, None, true));
                    Ok(None)
                }
                Some(o) if o.begun && is_word(stmt, "COMMIT") => {
                    Ok(open.take().map(|o| o.finish(end)))
                }
                Some(o) if o.begun && is_word(stmt, "ROLLBACK") => {
                    o.refuse("a transaction the source rolled back");
                    Ok(open.take().map(|o| o.finish(end)))
                }
                Some(o) if o.begun => {
                    o.refuse("a statement inside a transaction (STATEMENT or MIXED format)");
                    Ok(None)
                }
                Some(o) => {
                    // GTID then a statement on its own: one transaction.
                    o.refuse("a statement (DDL or a non-transactional change)");
                    Ok(open.take().map(|o| o.finish(end)))
                }
                None => Ok(Some(Unit::Pipeline {
                    start: ev.pos,
                    end,
                    why: "a statement (DDL or a non-transactional change)",
                })),
            }
        }
        code::XID => Ok(open.take().map(|o| o.finish(end))),
        code::TABLE_MAP => {
            let o = match row_event_target(open) {
                RowEventTarget::Gather(o) => o,
                RowEventTarget::Skip => return Ok(None),
                RowEventTarget::Outside => {
                    return Ok(Some(Unit::Pipeline {
                        start: ev.pos,
                        end,
                        why: "row events outside a transaction",
                    }))
                }
            };
            let mut tm = rows::parse_table_map(ev.body, fde)
                .map_err(|e| Error::Binlog(format!("{file}: table map at {}: {e}", ev.pos)))?;
            if !scope.table(&tm.database, &tm.table) {
                o.tables.insert(tm.table_id, None);
                return Ok(None);
            }
            // Restored under another name: the event names the new database, so its rows
            // go there and never to the live one.
            let renamed = match rename.get(&tm.database) {
                Some(new) => {
                    let bytes = rows::rename_table_map(ev.bytes, fde, new).map_err(|e| {
                        Error::Binlog(format!("{file}: table map at {}: {e}", ev.pos))
                    })?;
                    tm.database = new.clone();
                    Some(bytes)
                }
                None => None,
            };
            match schema.table(&tm.database, &tm.table) {
                Some(k) if !k.transactional => {
                    o.refuse("a change to a non-transactional table (MyISAM, Aria, …)");
                    return Ok(None);
                }
                _ => {}
            }
            o.events
                .extend_from_slice(renamed.as_deref().unwrap_or(ev.bytes));
            o.tables.insert(tm.table_id, Some(tm));
            Ok(None)
        }
        _ if rows_event(t).is_some() || t == code::PARTIAL_UPDATE_ROWS => {
            let o = match row_event_target(open) {
                RowEventTarget::Gather(o) => o,
                RowEventTarget::Skip => return Ok(None),
                RowEventTarget::Outside => {
                    return Ok(Some(Unit::Pipeline {
                        start: ev.pos,
                        end,
                        why: "row events outside a transaction",
                    }))
                }
            };
            let parsed = rows::parse_rows(ev.body, t, fde)
                .map_err(|e| Error::Binlog(format!("{file}: rows event at {}: {e}", ev.pos)))?;
            let Some(entry) = o.tables.get(&parsed.table_id) else {
                o.refuse("a rows event without its table map");
                return Ok(None);
            };
            let Some(tm) = entry else {
                // Outside the restore's scope.
                return Ok(None);
            };
            if o.events.len() + ev.bytes.len() > MAX_NATIVE_BYTES {
                o.refuse("a transaction larger than 16 MiB (streamed by the client pipeline)");
                return Ok(None);
            }
            let keys = schema.table(&tm.database, &tm.table);
            o.rows += add_keys(&mut o.write_set, &parsed, tm, keys, file, ev.pos)?;
            o.events.extend_from_slice(ev.bytes);
            Ok(None)
        }
        // Informational: the statement text of the rows that follow.
        code::ANNOTATE_ROWS | code::ROWS_QUERY => Ok(None),
        // Outside transactions: no effect on data.
        code::ROTATE
        | code::STOP
        | code::PREVIOUS_GTIDS
        | code::GTID_LIST
        | code::BINLOG_CHECKPOINT
        | code::HEARTBEAT
        | code::HEARTBEAT_V2
            if open.is_none() =>
        {
            Ok(None)
        }
        _ => {
            // INTVAR, RAND, USER_VAR (statement context), LOAD DATA, XA, compressed
            // payloads, incidents, anything unknown: the client pipeline knows them.
            let why = match t {
                code::INTVAR | code::RAND | code::USER_VAR => {
                    "statement-based changes (STATEMENT or MIXED format)"
                }
                code::BEGIN_LOAD_QUERY | code::EXECUTE_LOAD_QUERY => "LOAD DATA",
                code::XA_PREPARE => "an XA transaction",
                code::TRANSACTION_PAYLOAD => "a compressed transaction payload",
                code::INCIDENT => "an incident event",
                _ => "an event zrm does not apply itself",
            };
            match open {
                Some(o) => {
                    o.refuse(why);
                    // Both end their transaction: an XA PREPARE, and MySQL's compressed
                    // payload (its BEGIN … XID are inside it; nothing follows but the next
                    // GTID, which the last transaction of a range never sees).
                    if t == code::XA_PREPARE || t == code::TRANSACTION_PAYLOAD {
                        return Ok(open.take().map(|o| o.finish(end)));
                    }
                    Ok(None)
                }
                None => Ok(Some(Unit::Pipeline {
                    start: ev.pos,
                    end,
                    why,
                })),
            }
        }
    }
}

/// Where a TABLE_MAP or rows event goes.
enum RowEventTarget<'a> {
    /// The open transaction gathering row events.
    Gather(&'a mut Open),
    /// The open transaction already goes to the client pipeline: nothing more to gather.
    Skip,
    /// No transaction is open: a range of its own for the pipeline.
    Outside,
}

fn row_event_target(open: &mut Option<Open>) -> RowEventTarget<'_> {
    match open.as_mut() {
        None => RowEventTarget::Outside,
        Some(o) if o.pipeline.is_some() => RowEventTarget::Skip,
        Some(o) => RowEventTarget::Gather(o),
    }
}

/// The keys of every row of a rows event into the write set; returns the number of rows.
fn add_keys(
    ws: &mut WriteSet,
    ev: &RowsEvent,
    tm: &TableMap,
    keys: Option<&TableKeys>,
    file: &str,
    pos: u64,
) -> Result<u64> {
    let table = WriteSet::table_id(&tm.database, &tm.table);
    ws.touch(table);
    if let Some(family) = keys.and_then(|k| k.family) {
        // Tables joined by foreign keys: checks and cascades reach rows the events do not
        // name, so their transactions never overlap.
        ws.touch(family);
        ws.whole(family);
    }
    let Some(keys) = keys.filter(|k| !k.unique.is_empty()) else {
        ws.whole(table);
        return rows::count_rows(ev, tm)
            .map_err(|e| Error::Binlog(format!("{file}: rows event at {pos}: {e}")));
    };
    let changes = rows::decode_rows(ev, tm)
        .map_err(|e| Error::Binlog(format!("{file}: rows event at {pos}: {e}")))?;
    for change in &changes {
        // An update's after image may lack the key columns (binlog_row_image = MINIMAL).
        let update = change.before.is_some() && change.after.is_some();
        let images = [(&change.before, false), (&change.after, update)];
        for (image, may_lack_keys) in images {
            if let Some(image) = image {
                if !keys.add_row_keys(ws, table, image, may_lack_keys) {
                    ws.whole(table);
                }
            }
        }
    }
    Ok(changes.len() as u64)
}
