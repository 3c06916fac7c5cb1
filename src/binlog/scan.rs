//! Walking binlog files event by event with the context a single event lacks: the table a
//! rows event refers to (from its TABLE_MAP), the GTID of the transaction it belongs to, and
//! where transactions begin and end.

use std::collections::HashMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::decode::{self, EventData};
use super::event::{code, rows_event, type_name, RowsKind};
use super::reader::{BinlogReader, RawEvent, ReadError, ReadErrorKind};
use super::rows::{self, RowChange, TableMap};

/// One event with its context, as the analyzer and `find` see it.
#[derive(Debug, Clone)]
pub struct EventInfo {
    pub file: Arc<str>,
    pub pos: u64,
    pub end_pos: u64,
    pub timestamp: u32,
    pub type_code: u8,
    pub server_id: u32,
    /// The GTID of the transaction this event belongs to.
    pub gtid: Option<Arc<str>>,
    pub database: Option<Arc<str>>,
    pub table: Option<Arc<str>>,
    pub rows: Option<u64>,
    pub rows_kind: Option<RowsKind>,
    /// Query text, or the statement of an ANNOTATE_ROWS event.
    pub statement: Option<String>,
    pub data: EventData,
    /// Decoded row images, when asked for.
    pub values: Option<Vec<RowChange>>,
    /// The first event of a transaction (GTID, BEGIN, or a statement on its own).
    pub trx_start: bool,
    /// The event that commits a transaction (XID, COMMIT, or a statement on its own).
    pub trx_end: bool,
    /// The transaction ends with ROLLBACK: nothing of it is applied.
    pub rolled_back: bool,
    /// A rows event flagged as the last of its statement (STMT_END_F).
    pub stmt_end: bool,
}

impl EventInfo {
    pub fn type_name(&self) -> &'static str {
        type_name(self.type_code)
    }
}

#[derive(Default)]
struct TrxState {
    gtid: Option<Arc<str>>,
    /// Inside BEGIN … COMMIT (or a MariaDB non-standalone GTID group).
    open: bool,
    /// A GTID was seen; its transaction has not shown its first statement yet.
    gtid_pending: bool,
}

/// Options for a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Decode row values (slower; for `--values` and GSN search).
    pub decode_values: bool,
    /// Leave the text of ANNOTATE_ROWS events undecoded (for summaries, which do not show it).
    pub skip_annotations: bool,
}

/// A cheap hasher for the scanner's hot maps (table ids, shared names): SipHash's protection
/// against crafted keys is not needed for keys that come from the server's own numbering.
#[derive(Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x5175_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A table map as last seen for a table id: its raw body (to recognise the same map again
/// without parsing it), the parsed map, and its names.
struct CachedMap {
    raw: Vec<u8>,
    map: Arc<TableMap>,
    db: Arc<str>,
    table: Arc<str>,
}

#[derive(Default)]
pub struct Scanner {
    tables: FastMap<u64, CachedMap>,
    trx: TrxState,
    pub options: ScanOptions,
}

pub(crate) fn is_word(stmt: &str, word: &str) -> bool {
    // Compared as bytes: a statement may start with any text (comments in any charset), and
    // slicing a str inside a multi-byte character panics.
    let s = stmt.trim_start().as_bytes();
    s.get(..word.len())
        .is_some_and(|b| b.eq_ignore_ascii_case(word.as_bytes()))
        && String::from_utf8_lossy(&s[word.len()..])
            .trim()
            .trim_end_matches(';')
            .trim()
            .is_empty()
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Self {
        Scanner {
            options,
            ..Default::default()
        }
    }

    /// Scan one file (its FDE, then every event), calling `visit` for each event.
    /// Returns the position after the last complete event.
    pub fn scan<R: Read>(
        &mut self,
        reader: &mut BinlogReader<R>,
        visit: &mut dyn FnMut(EventInfo) -> ControlFlow<()>,
    ) -> Result<u64, ReadError> {
        let file: Arc<str> = Arc::from(reader.name());
        // Table ids are only valid within one file (a resumed reader continues the same one).
        if reader.position() <= 4 {
            self.tables.clear();
        }
        loop {
            let pos = reader.position();
            let Some(raw) = reader.next_event()? else {
                return Ok(pos);
            };
            let raw: RawEvent = raw;
            let Some(fde) = raw.format else { continue };
            let header = raw.header;
            let mk_err = |detail: String| ReadError {
                file: file.to_string(),
                offset: raw.pos,
                kind: ReadErrorKind::Corrupt,
                detail,
            };
            if header.type_code == code::TRANSACTION_PAYLOAD {
                let inner =
                    decode::transaction_payload(raw.body).map_err(|e| mk_err(e.to_string()))?;
                let end = raw.end_pos();
                // The payload event itself, then its events, as mysqlbinlog lists them.
                let info = self
                    .event_info(&file, raw.pos, end, header, raw.body, fde)
                    .map_err(mk_err)?;
                if visit(info).is_break() {
                    return Ok(end);
                }
                if self
                    .scan_payload(&file, end, &inner, fde, visit)?
                    .is_break()
                {
                    return Ok(end);
                }
                continue;
            }
            let info = self
                .event_info(&file, raw.pos, raw.end_pos(), header, raw.body, fde)
                .map_err(mk_err)?;
            if visit(info).is_break() {
                return Ok(raw.end_pos());
            }
        }
    }

    /// Events inside a MySQL transaction payload, reported where mysqlbinlog reports them: at
    /// the payload's end, with no length (`pos` = `end_pos` = the end).
    fn scan_payload(
        &mut self,
        file: &Arc<str>,
        end: u64,
        inner: &[u8],
        fde: &super::event::FormatDescription,
        visit: &mut dyn FnMut(EventInfo) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ReadError> {
        let mut off = 0;
        let mut plain = fde.clone();
        plain.checksum = super::event::ChecksumAlg::Off;
        while off + super::event::HEADER_LEN <= inner.len() {
            let head: &[u8; 19] = inner[off..off + 19].try_into().expect("19 bytes");
            let header = super::event::EventHeader::parse(head);
            let size = header.event_size as usize;
            if size < 19 || off + size > inner.len() {
                return Err(ReadError {
                    file: file.to_string(),
                    offset: end,
                    kind: ReadErrorKind::Corrupt,
                    detail: format!("transaction payload holds an event of impossible size {size}"),
                });
            }
            let body = &inner[off + 19..off + size];
            let info = self
                .event_info(file, end, end, header, body, &plain)
                .map_err(|detail| ReadError {
                    file: file.to_string(),
                    offset: end,
                    kind: ReadErrorKind::Corrupt,
                    detail,
                })?;
            if visit(info).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            off += size;
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Servers write a table map before every rows event; the same map for the same table id
    /// comes again and again, so it is parsed once and then only compared.
    fn table_map(
        &mut self,
        body: &[u8],
        fde: &super::event::FormatDescription,
    ) -> Result<&CachedMap, String> {
        let id = rows::table_id_of(body, fde).map_err(|e| format!("table map: {e}"))?;
        let same = self.tables.get(&id).is_some_and(|c| c.raw == body);
        if !same {
            let tm = rows::parse_table_map(body, fde).map_err(|e| format!("table map: {e}"))?;
            // Reuse the names of a previous map of the same table (after ALTER, new id).
            let known = self
                .tables
                .values()
                .find(|c| *c.db == *tm.database && *c.table == *tm.table)
                .map(|c| (c.db.clone(), c.table.clone()));
            let (db, table) = known.unwrap_or_else(|| {
                (
                    Arc::from(tm.database.as_str()),
                    Arc::from(tm.table.as_str()),
                )
            });
            self.tables.insert(
                id,
                CachedMap {
                    raw: body.to_vec(),
                    map: Arc::new(tm),
                    db,
                    table,
                },
            );
        }
        Ok(&self.tables[&id])
    }

    fn event_info(
        &mut self,
        file: &Arc<str>,
        pos: u64,
        end_pos: u64,
        header: super::event::EventHeader,
        body: &[u8],
        fde: &super::event::FormatDescription,
    ) -> Result<EventInfo, String> {
        let t = header.type_code;
        let mut info = EventInfo {
            file: file.clone(),
            pos,
            end_pos,
            timestamp: header.timestamp,
            type_code: t,
            server_id: header.server_id,
            gtid: None,
            database: None,
            table: None,
            rows: None,
            rows_kind: None,
            statement: None,
            data: EventData::Other,
            values: None,
            trx_start: false,
            trx_end: false,
            rolled_back: false,
            stmt_end: false,
        };
        if t == code::TABLE_MAP {
            let c = self.table_map(body, fde)?;
            info.database = Some(c.db.clone());
            info.table = Some(c.table.clone());
        } else if rows_event(t).is_some() {
            let ev =
                rows::parse_rows(body, t, fde).map_err(|e| format!("{}: {e}", type_name(t)))?;
            let c = self.tables.get(&ev.table_id).ok_or_else(|| {
                format!(
                    "{} for table id {} without a table map",
                    type_name(t),
                    ev.table_id
                )
            })?;
            info.database = Some(c.db.clone());
            info.table = Some(c.table.clone());
            info.rows_kind = Some(ev.kind);
            info.stmt_end = ev.flags & rows::STMT_END_F != 0;
            let tm = &c.map;
            if self.options.decode_values {
                let values =
                    rows::decode_rows(&ev, tm).map_err(|e| format!("{}: {e}", type_name(t)))?;
                info.rows = Some(values.len() as u64);
                info.values = Some(values);
            } else {
                info.rows =
                    Some(rows::count_rows(&ev, tm).map_err(|e| format!("{}: {e}", type_name(t)))?);
            }
        } else if t == code::ANNOTATE_ROWS && self.options.skip_annotations {
            // Passed over: nobody will read the text.
        } else {
            info.data = decode::decode(t, header.server_id, body, fde)
                .map_err(|e| format!("{}: {e}", type_name(t)))?;
        }
        self.track_transaction(&mut info);
        Ok(info)
    }

    fn track_transaction(&mut self, info: &mut EventInfo) {
        let trx = &mut self.trx;
        match &info.data {
            EventData::MariaGtid(g) => {
                trx.gtid = Some(Arc::from(g.to_string()));
                trx.open = !g.standalone;
                trx.gtid_pending = g.standalone;
                info.trx_start = true;
            }
            EventData::MysqlGtid { gtid, .. } => {
                trx.gtid = gtid.as_deref().map(Arc::from);
                trx.open = false;
                trx.gtid_pending = true;
                info.trx_start = true;
            }
            EventData::Query(q) => {
                info.database = (!q.database.is_empty()).then(|| Arc::from(q.database.as_str()));
                info.statement = Some(q.statement.clone());
                let stmt = q.statement.as_str();
                if is_word(stmt, "BEGIN")
                    || stmt
                        .trim_start()
                        .to_ascii_uppercase()
                        .starts_with("XA START")
                {
                    if !trx.gtid_pending && !trx.open {
                        info.trx_start = true;
                    }
                    trx.open = true;
                    trx.gtid_pending = false;
                } else if trx.open && (is_word(stmt, "COMMIT") || is_word(stmt, "ROLLBACK")) {
                    info.trx_end = true;
                    info.rolled_back = is_word(stmt, "ROLLBACK");
                } else if !trx.open {
                    // A statement on its own (DDL, or DML on a non-transactional table
                    // without BEGIN): its own transaction.
                    if !trx.gtid_pending {
                        info.trx_start = true;
                    }
                    info.trx_end = true;
                }
            }
            EventData::Xid(_) => info.trx_end = true,
            EventData::XaPrepare(s) => {
                info.statement = Some(s.clone());
                info.trx_end = true;
            }
            EventData::Annotate(_) => {
                if let EventData::Annotate(s) = std::mem::replace(&mut info.data, EventData::Other)
                {
                    info.statement = Some(s);
                }
            }
            _ => {}
        }
        info.gtid = trx.gtid.clone();
        if info.trx_end {
            *trx = TrxState::default();
        }
    }
}
