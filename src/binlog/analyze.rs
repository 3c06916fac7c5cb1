//! The binlog analyzer (ZRM's "parse-binlogs", made useful): events or transactions with
//! filters, in text, NDJSON or CSV, and a summary (DML per table, activity per minute, the
//! largest transactions, the DDL timeline). Streams: memory does not grow with the input,
//! except for the bounded summary tables.
//!
//! What it prints never carries a password or a raw control byte: statements go through
//! [`redact::mask_sql`] (filters match the statement as written), text and CSV through
//! [`redact::escape_controls`], JSON through serde and [`redact::json_controls`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Serialize;

use super::decode::EventData;
use super::event::RowsKind;
use super::rows::{RowChange, Value};
use super::scan::EventInfo;
use crate::redact::{self, escape_controls, mask_sql};

/// Which events to show.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub database: Option<String>,
    /// `table` or `db.table`.
    pub table: Option<String>,
    /// Type names, case-insensitive prefixes (`query` matches Query and Query_compressed).
    pub types: Vec<String>,
    pub grep: Option<Regex>,
    pub gtid: Option<String>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.database.is_none()
            && self.table.is_none()
            && self.types.is_empty()
            && self.grep.is_none()
            && self.gtid.is_none()
    }

    pub fn matches(&self, e: &EventInfo) -> bool {
        let ts = i64::from(e.timestamp);
        if self.since.is_some_and(|s| ts < s) || self.until.is_some_and(|u| ts > u) {
            return false;
        }
        if let Some(db) = &self.database {
            if e.database.as_deref() != Some(db.as_str()) {
                return false;
            }
        }
        if let Some(t) = &self.table {
            let ok = match t.split_once('.') {
                Some((db, table)) => {
                    e.database.as_deref() == Some(db) && e.table.as_deref() == Some(table)
                }
                None => e.table.as_deref() == Some(t.as_str()),
            };
            if !ok {
                return false;
            }
        }
        if !self.types.is_empty() {
            let name = e.type_name().to_ascii_lowercase();
            if !self
                .types
                .iter()
                .any(|t| name.starts_with(&t.to_ascii_lowercase()))
            {
                return false;
            }
        }
        if let Some(re) = &self.grep {
            if !e.statement.as_deref().is_some_and(|s| re.is_match(s)) {
                return false;
            }
        }
        if let Some(g) = &self.gtid {
            if e.gtid.as_deref() != Some(g.as_str()) {
                return false;
            }
        }
        true
    }
}

pub fn rfc3339(ts: u32) -> String {
    DateTime::<Utc>::from_timestamp(i64::from(ts), 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn text_time(ts: u32) -> String {
    DateTime::<Utc>::from_timestamp(i64::from(ts), 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One event as NDJSON (the keys DESIGN.md promises).
#[derive(Serialize)]
pub struct EventJson<'a> {
    pub file: &'a str,
    pub pos: u64,
    pub end_pos: u64,
    pub time: String,
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub server_id: u32,
    pub gtid: Option<&'a str>,
    pub database: Option<&'a str>,
    pub table: Option<&'a str>,
    pub rows: Option<u64>,
    /// Passwords masked.
    pub statement: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<RowJson>>,
}

#[derive(Serialize)]
pub struct RowJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Vec<String>>,
}

fn image(v: &Option<Vec<Option<Value>>>) -> Option<Vec<String>> {
    v.as_ref().map(|cols| {
        cols.iter()
            .map(|c| c.as_ref().map_or("-".to_string(), Value::to_sql))
            .collect()
    })
}

fn rows_json(values: &[RowChange]) -> Vec<RowJson> {
    values
        .iter()
        .map(|r| RowJson {
            before: image(&r.before),
            after: image(&r.after),
        })
        .collect()
}

pub fn event_json(e: &EventInfo) -> EventJson<'_> {
    EventJson {
        file: &e.file,
        pos: e.pos,
        end_pos: e.end_pos,
        time: rfc3339(e.timestamp),
        type_name: e.type_name(),
        server_id: e.server_id,
        gtid: e.gtid.as_deref(),
        database: e.database.as_deref(),
        table: e.table.as_deref(),
        rows: e.rows,
        statement: e.statement.as_deref().map(mask_sql),
        next_file: match &e.data {
            EventData::Rotate { next_file, .. } => Some(next_file.as_str()),
            _ => None,
        },
        values: e.values.as_deref().map(rows_json),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Csv,
}

/// A CSV field: control bytes (line breaks too) as `\xHH`, so that a record is one line;
/// quoted when it holds a comma or a quote.
fn csv_field(s: &str) -> String {
    let s = escape_controls(s);
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// Serialise one NDJSON line (C1 and DEL escaped too).
fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    if let Cow::Owned(escaped) = redact::json_controls(&line) {
        line = escaped;
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Cut a statement to one line of `width` characters.
fn one_line(s: &str, width: Option<usize>) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match width {
        Some(w) if flat.chars().count() > w => {
            let mut t: String = flat.chars().take(w.saturating_sub(1)).collect();
            t.push('…');
            t
        }
        _ => flat,
    }
}

/// Prints events one by one.
pub struct EventPrinter<W: Write> {
    out: W,
    format: OutputFormat,
    width: Option<usize>,
    header_done: bool,
}

impl<W: Write> EventPrinter<W> {
    pub fn new(out: W, format: OutputFormat, width: Option<usize>) -> Self {
        EventPrinter {
            out,
            format,
            width,
            header_done: false,
        }
    }

    pub fn print(&mut self, e: &EventInfo) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => write_json_line(&mut self.out, &event_json(e)),
            OutputFormat::Csv => {
                if !self.header_done {
                    self.header_done = true;
                    writeln!(
                        self.out,
                        "file,pos,end_pos,time,type,server_id,gtid,database,table,rows,statement"
                    )?;
                }
                writeln!(
                    self.out,
                    "{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&e.file),
                    e.pos,
                    e.end_pos,
                    rfc3339(e.timestamp),
                    csv_field(e.type_name()),
                    e.server_id,
                    e.gtid.as_deref().unwrap_or(""),
                    csv_field(e.database.as_deref().unwrap_or("")),
                    csv_field(e.table.as_deref().unwrap_or("")),
                    e.rows.map(|r| r.to_string()).unwrap_or_default(),
                    csv_field(&mask_sql(e.statement.as_deref().unwrap_or("")))
                )
            }
            OutputFormat::Text => {
                if !self.header_done {
                    self.header_done = true;
                    writeln!(self.out, "# times are UTC; positions are FILE:START-END")?;
                }
                let target = match (&e.database, &e.table) {
                    (Some(d), Some(t)) => format!("{d}.{t}"),
                    (Some(d), None) => d.to_string(),
                    _ => "-".into(),
                };
                let mut line = format!(
                    "{}:{}-{}  {}  {:<18} {:>5}  {:<14} {:<24} {:>6}",
                    e.file,
                    e.pos,
                    e.end_pos,
                    text_time(e.timestamp),
                    e.type_name(),
                    e.server_id,
                    e.gtid.as_deref().unwrap_or("-"),
                    target,
                    e.rows.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                );
                let detail = match &e.data {
                    EventData::Rotate {
                        next_file,
                        position,
                    } => Some(format!("→ {next_file}:{position}")),
                    EventData::Xid(x) => Some(format!("xid {x}")),
                    EventData::GtidList(l) => Some(
                        l.iter()
                            .map(|g| g.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    EventData::BinlogCheckpoint(f) => Some(format!("checkpoint {f}")),
                    _ => e.statement.as_deref().map(|s| mask_sql(s).into_owned()),
                };
                if let Some(d) = detail {
                    let room = self
                        .width
                        .map(|w| w.saturating_sub(line.chars().count() + 2).max(20));
                    line.push_str("  ");
                    line.push_str(&one_line(&d, room));
                }
                writeln!(self.out, "{}", escape_controls(&line))?;
                if let Some(values) = &e.values {
                    for r in values {
                        if let Some(b) = image(&r.before) {
                            let b = b.join(", ");
                            writeln!(self.out, "    before: ({})", escape_controls(&b))?;
                        }
                        if let Some(a) = image(&r.after) {
                            let a = a.join(", ");
                            writeln!(self.out, "    after:  ({})", escape_controls(&a))?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// One transaction (with `--by transaction`).
    pub fn print_trx(&mut self, t: &TrxSummary) -> std::io::Result<()> {
        let mut t = t.clone();
        t.complete();
        let t = &t;
        match self.format {
            OutputFormat::Json => write_json_line(&mut self.out, t),
            OutputFormat::Csv => {
                if !self.header_done {
                    self.header_done = true;
                    writeln!(
                        self.out,
                        "file,pos,end_pos,time,gtid,events,rows,bytes,rolled_back,tables,statement"
                    )?;
                }
                writeln!(
                    self.out,
                    "{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&t.file),
                    t.pos,
                    t.end_pos,
                    t.time,
                    t.gtid.as_deref().unwrap_or(""),
                    t.events,
                    t.rows,
                    t.bytes,
                    t.rolled_back,
                    csv_field(&t.tables.join(" ")),
                    csv_field(t.statement.as_deref().unwrap_or(""))
                )
            }
            OutputFormat::Text => {
                let mut line = format!(
                    "{}:{}-{}  {}  {:<14} {:>5} events {:>7} rows  {}{}",
                    t.file,
                    t.pos,
                    t.end_pos,
                    t.time,
                    t.gtid.as_deref().unwrap_or("-"),
                    t.events,
                    t.rows,
                    if t.rolled_back { "ROLLED BACK " } else { "" },
                    t.tables.join(",")
                );
                if let Some(stmt) = &t.statement {
                    let room = self
                        .width
                        .map(|w| w.saturating_sub(line.chars().count() + 2).max(20));
                    line.push_str("  ");
                    line.push_str(&one_line(stmt, room));
                }
                writeln!(self.out, "{}", escape_controls(&line))
            }
        }
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A transaction seen whole: where it is, when it committed, what it touched.
#[derive(Debug, Clone, Serialize)]
pub struct TrxSummary {
    pub file: Arc<str>,
    pub pos: u64,
    pub end_pos: u64,
    pub time: String,
    #[serde(skip)]
    pub timestamp: u32,
    pub server_id: u32,
    pub gtid: Option<Arc<str>>,
    pub events: u64,
    pub rows: u64,
    pub bytes: u64,
    pub tables: Vec<String>,
    pub statement: Option<String>,
    pub rolled_back: bool,
    /// The tables touched, as seen; `tables`, `time` and `statement` are filled from these
    /// by [`TrxSummary::complete`] only for transactions that are shown (formatting every
    /// transaction's names and times would cost more than reading it).
    #[serde(skip)]
    table_refs: Vec<(Arc<str>, Arc<str>)>,
}

impl TrxSummary {
    /// Fill the display fields (the statement with its passwords masked).
    pub fn complete(&mut self) {
        self.time = rfc3339(self.timestamp);
        if self.tables.is_empty() {
            self.tables = self
                .table_refs
                .iter()
                .map(|(d, t)| format!("{d}.{t}"))
                .collect();
        }
        if let Some(s) = self.statement.take() {
            self.statement = Some(one_line(&mask_sql(&s), Some(200)));
        }
    }
}

/// Groups events into transactions (bounded memory per transaction).
#[derive(Default)]
pub struct TrxGrouper {
    current: Option<TrxSummary>,
    matched: bool,
}

const MAX_TABLES_LISTED: usize = 16;

impl TrxGrouper {
    /// Feed an event; returns the transaction it completes, if any, and whether any of its
    /// events matched the filters.
    pub fn push(&mut self, e: &EventInfo, matched: bool) -> Option<(TrxSummary, bool)> {
        if e.trx_start || self.current.is_none() {
            if !e.trx_start && !e.trx_end {
                // Events outside transactions (format description, rotate, GTID lists…).
                return None;
            }
            self.matched = false;
            self.current = Some(TrxSummary {
                file: e.file.clone(),
                pos: e.pos,
                end_pos: e.end_pos,
                time: String::new(),
                timestamp: e.timestamp,
                server_id: e.server_id,
                gtid: e.gtid.clone(),
                events: 0,
                rows: 0,
                bytes: 0,
                tables: Vec::new(),
                statement: None,
                rolled_back: false,
                table_refs: Vec::new(),
            });
        }
        let t = self.current.as_mut().expect("set above");
        self.matched |= matched;
        t.events += 1;
        t.end_pos = e.end_pos;
        t.timestamp = e.timestamp;
        t.rows += e.rows.unwrap_or(0);
        if t.gtid.is_none() {
            t.gtid = e.gtid.clone();
        }
        if let (Some(d), Some(tb)) = (&e.database, &e.table) {
            let seen = t.table_refs.iter().any(|(a, b)| {
                Arc::ptr_eq(a, d) && Arc::ptr_eq(b, tb) || (**a == **d && **b == **tb)
            });
            if t.table_refs.len() < MAX_TABLES_LISTED && !seen {
                t.table_refs.push((d.clone(), tb.clone()));
            }
        }
        if t.statement.is_none() {
            if let Some(s) = &e.statement {
                if !s.trim().eq_ignore_ascii_case("BEGIN") {
                    t.statement = Some(s.chars().take(2000).collect());
                }
            }
        }
        if e.trx_end {
            let mut done = self.current.take().expect("open transaction");
            done.rolled_back = e.rolled_back;
            done.bytes = if done.file == e.file {
                done.end_pos - done.pos
            } else {
                0
            };
            return Some((done, std::mem::take(&mut self.matched)));
        }
        None
    }
}

/// Per-table DML counts.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TableCounts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Statements (STATEMENT/MIXED format) naming no row count.
    pub statements: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DdlEntry {
    pub time: String,
    pub file: Arc<str>,
    pub pos: u64,
    pub gtid: Option<Arc<str>>,
    pub database: Option<Arc<str>>,
    pub statement: String,
}

const TOP_TRX: usize = 10;
const MAX_DDL: usize = 1000;

/// The `--summary` view.
#[derive(Default)]
pub struct Summary {
    pub events: u64,
    pub transactions: u64,
    pub bytes: u64,
    pub first: Option<u32>,
    pub last: Option<u32>,
    pub files: Vec<String>,
    /// Statement counts by database (STATEMENT/MIXED format).
    pub tables: BTreeMap<String, TableCounts>,
    /// Row counts by table, keyed by the scanner's shared names (no string per event).
    by_table: super::scan::FastMap<(Arc<str>, Arc<str>), TableCounts>,
    /// Minute (epoch seconds / 60) → (transactions, rows).
    pub per_minute: BTreeMap<i64, (u64, u64)>,
    largest: BinaryHeap<std::cmp::Reverse<(u64, u64, usize)>>,
    largest_trx: Vec<Option<TrxSummary>>,
    pub ddl: Vec<DdlEntry>,
    pub ddl_dropped: u64,
    grouper: TrxGrouper,
}

fn is_ddl(stmt: &str) -> bool {
    let first = stmt
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "CREATE"
            | "ALTER"
            | "DROP"
            | "RENAME"
            | "TRUNCATE"
            | "GRANT"
            | "REVOKE"
            | "ANALYZE"
            | "OPTIMIZE"
            | "REPAIR"
    )
}

fn is_dml(stmt: &str) -> bool {
    let first = stmt
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD"
    )
}

impl Summary {
    pub fn push(&mut self, e: &EventInfo) {
        self.events += 1;
        self.bytes += e.end_pos.saturating_sub(e.pos);
        if e.timestamp != 0 {
            self.first = Some(self.first.map_or(e.timestamp, |f| f.min(e.timestamp)));
            self.last = Some(self.last.map_or(e.timestamp, |l| l.max(e.timestamp)));
        }
        if self.files.last().map(String::as_str) != Some(&*e.file) {
            self.files.push(e.file.to_string());
        }
        if let (Some(kind), Some(rows), Some(db), Some(table)) =
            (e.rows_kind, e.rows, &e.database, &e.table)
        {
            let c = self
                .by_table
                .entry((db.clone(), table.clone()))
                .or_default();
            match kind {
                RowsKind::Insert => c.inserted += rows,
                RowsKind::Update => c.updated += rows,
                RowsKind::Delete => c.deleted += rows,
            }
        }
        if let EventData::Query(q) = &e.data {
            if is_ddl(&q.statement) {
                if self.ddl.len() < MAX_DDL {
                    self.ddl.push(DdlEntry {
                        time: rfc3339(e.timestamp),
                        file: e.file.clone(),
                        pos: e.pos,
                        gtid: e.gtid.clone(),
                        database: e.database.clone(),
                        statement: one_line(&mask_sql(&q.statement), Some(300)),
                    });
                } else {
                    self.ddl_dropped += 1;
                }
            } else if is_dml(&q.statement) {
                let key = format!("{} (statements)", e.database.as_deref().unwrap_or("?"));
                self.tables.entry(key).or_default().statements += 1;
            }
        }
        if let Some((t, _)) = self.grouper.push(e, true) {
            self.transactions += 1;
            let m = self
                .per_minute
                .entry(i64::from(t.timestamp) / 60)
                .or_default();
            m.0 += 1;
            m.1 += t.rows;
            self.keep_if_large(t);
        }
    }

    fn keep_if_large(&mut self, t: TrxSummary) {
        let key = (t.bytes, self.transactions);
        if self.largest.len() < TOP_TRX {
            self.largest_trx.push(Some(t));
            self.largest.push(std::cmp::Reverse((
                key.0,
                key.1,
                self.largest_trx.len() - 1,
            )));
        } else if let Some(std::cmp::Reverse(min)) = self.largest.peek().copied() {
            if key.0 > min.0 {
                self.largest.pop();
                self.largest_trx[min.2] = Some(t);
                self.largest.push(std::cmp::Reverse((key.0, key.1, min.2)));
            }
        }
    }

    /// Every table's counts by name: rows (from row events) and statements.
    pub fn table_counts(&self) -> BTreeMap<String, TableCounts> {
        let mut all = self.tables.clone();
        for ((db, table), c) in &self.by_table {
            let e = all.entry(format!("{db}.{table}")).or_default();
            e.inserted += c.inserted;
            e.updated += c.updated;
            e.deleted += c.deleted;
        }
        all
    }

    pub fn largest(&self) -> Vec<TrxSummary> {
        let mut v: Vec<TrxSummary> = self.largest_trx.iter().flatten().cloned().collect();
        v.iter_mut().for_each(TrxSummary::complete);
        v.sort_by_key(|t| std::cmp::Reverse(t.bytes));
        v
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "transactions": self.transactions,
            "bytes": self.bytes,
            "first_event": self.first.map(rfc3339),
            "last_event": self.last.map(rfc3339),
            "files": self.files,
            "tables": self.table_counts(),
            "per_minute": self.per_minute.iter().map(|(m, (t, r))| serde_json::json!({
                "minute": rfc3339((*m * 60) as u32), "transactions": t, "rows": r
            })).collect::<Vec<_>>(),
            "largest_transactions": self.largest(),
            "ddl": self.ddl,
            "ddl_not_listed": self.ddl_dropped,
        })
    }

    pub fn to_text(&self, width: usize) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{} events, {} transactions, {} in {} file(s), {} → {} (UTC)\n",
            self.events,
            self.transactions,
            crate::output::human_bytes(self.bytes),
            self.files.len(),
            self.first.map(text_time).unwrap_or_else(|| "-".into()),
            self.last.map(text_time).unwrap_or_else(|| "-".into()),
        ));
        s.push_str("\nChanges per table (rows):\n");
        let rows: Vec<Vec<String>> = self
            .table_counts()
            .iter()
            .map(|(t, c)| {
                vec![
                    t.clone(),
                    c.inserted.to_string(),
                    c.updated.to_string(),
                    c.deleted.to_string(),
                    c.statements.to_string(),
                ]
            })
            .collect();
        if rows.is_empty() {
            s.push_str("  (none)\n");
        } else {
            s.push_str(&crate::output::table(
                &["TABLE", "INSERTED", "UPDATED", "DELETED", "STATEMENTS"],
                &rows,
            ));
        }
        s.push_str("\nActivity per minute (transactions):\n");
        let max = self
            .per_minute
            .values()
            .map(|v| v.0)
            .max()
            .unwrap_or(0)
            .max(1);
        let bar_room = width.saturating_sub(40).clamp(10, 60) as u64;
        let shown: Vec<_> = self.per_minute.iter().collect();
        let skip = shown.len().saturating_sub(120);
        if skip > 0 {
            s.push_str(&format!(
                "  ({skip} earlier minutes not shown; see --format json)\n"
            ));
        }
        for (m, (t, r)) in shown.into_iter().skip(skip) {
            let len = (t * bar_room).div_ceil(max) as usize;
            s.push_str(&format!(
                "  {}  {:>7} trx {:>9} rows  {}\n",
                text_time((*m * 60) as u32).get(..16).unwrap_or(""),
                t,
                r,
                "█".repeat(len)
            ));
        }
        s.push_str("\nLargest transactions:\n");
        for t in self.largest() {
            s.push_str(&format!(
                "  {}:{}-{}  {}  {}  {} events, {} rows  {}  {}\n",
                t.file,
                t.pos,
                t.end_pos,
                t.time,
                crate::output::human_bytes(t.bytes),
                t.events,
                t.rows,
                t.gtid.as_deref().unwrap_or("-"),
                t.tables.join(",")
            ));
        }
        s.push_str("\nDDL timeline:\n");
        if self.ddl.is_empty() {
            s.push_str("  (none)\n");
        }
        for d in &self.ddl {
            s.push_str(&format!(
                "  {}  {}:{}  {}  {}\n",
                d.time,
                d.file,
                d.pos,
                d.gtid.as_deref().unwrap_or("-"),
                one_line(&d.statement, Some(width.saturating_sub(50).max(40)))
            ));
        }
        if self.ddl_dropped > 0 {
            s.push_str(&format!("  … and {} more\n", self.ddl_dropped));
        }
        // Names and statements come from the binlog: no control byte reaches the terminal.
        redact::escape_controls_in_lines(&s).into_owned()
    }
}

/// Run a visitor over events that pass the filters; used by the CLI for each input file.
pub fn filtered<'a>(
    filters: &'a Filters,
    mut f: impl FnMut(&EventInfo) -> ControlFlow<()> + 'a,
) -> impl FnMut(EventInfo) -> ControlFlow<()> + 'a {
    move |e| {
        if filters.matches(&e) {
            f(&e)
        } else {
            ControlFlow::Continue(())
        }
    }
}
