//! ZRM's `parse-binlogs` table (`mysql-zrm --action parse-binlogs`): one row per event with
//! file, position, time, type and what the event does, statements on one line with passwords
//! masked and control bytes escaped.

use std::io::Write;

use super::decode::EventData;
use super::event::RowsKind;
use super::scan::EventInfo;

const RULE: &str = "------------------------------------------------------------";
const HEADER: &str = "Log filename | Log Position | Timestamp | Event Type | Event";

/// ZRM's parse-binlogs table: a header between rules, one row per event, a closing rule.
pub struct ZrmTable<W: Write> {
    out: W,
    zone: chrono::FixedOffset,
    /// The default database of the last Query event: a change is shown as `use db;`, as
    /// mysqlbinlog (and so ZRM) did.
    database: Option<String>,
}

impl<W: Write> ZrmTable<W> {
    pub fn new(out: W, zone: chrono::FixedOffset) -> Self {
        ZrmTable {
            out,
            zone,
            database: None,
        }
    }

    pub fn header(&mut self) -> std::io::Result<()> {
        writeln!(self.out, "{RULE}\n{HEADER}\n{RULE}")
    }

    pub fn row(&mut self, e: &EventInfo) -> std::io::Result<()> {
        let time = chrono::DateTime::from_timestamp(i64::from(e.timestamp), 0)
            .map(|d| {
                d.with_timezone(&self.zone)
                    .format("%y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let mut event = event_text(e);
        if let EventData::Query(q) = &e.data {
            if !q.database.is_empty() && self.database.as_deref() != Some(q.database.as_str()) {
                self.database = Some(q.database.clone());
                event = format!("use `{}`; {event}", q.database.replace('`', "``"));
            }
        }
        let line = format!(
            "{} | {} | {} | {} | {}",
            e.file,
            e.pos,
            time,
            e.type_name(),
            event
        );
        // Statements and names come from the binlog: no control byte reaches the terminal.
        writeln!(self.out, "{}", crate::redact::escape_controls(&line))
    }

    /// The closing rule; gives the writer back.
    pub fn finish(mut self) -> std::io::Result<W> {
        writeln!(self.out, "{RULE}")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The Event column: the statement (on one line), or what a non-statement event does.
fn event_text(e: &EventInfo) -> String {
    let table = || match (&e.database, &e.table) {
        (Some(d), Some(t)) => format!("{d}.{t}"),
        (None, Some(t)) => t.to_string(),
        _ => "?".into(),
    };
    match &e.data {
        EventData::Rotate {
            next_file,
            position,
        } => format!("rotate to {next_file}:{position}"),
        EventData::Xid(x) => format!("COMMIT /* xid={x} */"),
        EventData::MariaGtid(g) => format!("GTID {g}"),
        EventData::MysqlGtid { gtid, .. } => {
            format!("GTID {}", gtid.as_deref().unwrap_or("(anonymous)"))
        }
        EventData::PreviousGtids(s) => format!("previous GTIDs {s}"),
        EventData::GtidList(l) => format!(
            "GTID list [{}]",
            l.iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        EventData::BinlogCheckpoint(f) => format!("checkpoint {f}"),
        EventData::Stop => "server stopped".into(),
        _ => match (e.rows_kind, &e.statement) {
            (Some(kind), _) => {
                let n = e.rows.unwrap_or(0);
                let rows = if n == 1 { "row" } else { "rows" };
                match kind {
                    RowsKind::Insert => format!("insert {n} {rows} into {}", table()),
                    RowsKind::Update => format!("update {n} {rows} of {}", table()),
                    RowsKind::Delete => format!("delete {n} {rows} from {}", table()),
                }
            }
            (None, Some(s)) => crate::redact::mask_sql(s)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            (None, None) if e.table.is_some() => format!("table {}", table()),
            (None, None) if e.type_code == crate::binlog::event::code::FORMAT_DESCRIPTION => {
                "start of binlog (format description)".into()
            }
            (None, None) => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: EventData) -> EventInfo {
        EventInfo {
            file: "mysql-bin.000002".into(),
            pos: 98,
            end_pos: 272,
            timestamp: 1_161_266_067, // 2006-10-19 13:54:27 UTC
            type_code: crate::binlog::event::code::QUERY,
            server_id: 1,
            gtid: None,
            database: None,
            table: None,
            rows: None,
            rows_kind: None,
            statement: None,
            data,
            values: None,
            trx_start: false,
            trx_end: false,
            rolled_back: false,
            stmt_end: false,
        }
    }

    #[test]
    fn zrm_table_rows() {
        let zone = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let mut t = ZrmTable::new(Vec::new(), zone);
        t.header().unwrap();
        let q = crate::binlog::decode::Query {
            database: "movies".into(),
            statement: "INSERT INTO `MovieID`\n  VALUES ('17786')".into(),
            error_code: 0,
            exec_time: 0,
        };
        let mut e = event(EventData::Query(q.clone()));
        e.statement = Some(q.statement.clone());
        t.row(&e).unwrap();
        // The same database again: no `use`.
        t.row(&e).unwrap();
        let mut x = event(EventData::Xid(42));
        x.type_code = crate::binlog::event::code::XID;
        t.row(&x).unwrap();
        let mut w = event(EventData::Other);
        w.type_code = crate::binlog::event::code::WRITE_ROWS_V1;
        w.database = Some("app".into());
        w.table = Some("t".into());
        w.rows = Some(2);
        w.rows_kind = Some(RowsKind::Insert);
        t.row(&w).unwrap();
        let mut r = event(EventData::Rotate {
            position: 4,
            next_file: "mysql-bin.000003".into(),
        });
        r.type_code = crate::binlog::event::code::ROTATE;
        t.row(&r).unwrap();
        let text = String::from_utf8(t.finish().unwrap()).unwrap();
        let expected = "\
------------------------------------------------------------
Log filename | Log Position | Timestamp | Event Type | Event
------------------------------------------------------------
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Query | use `movies`; INSERT INTO `MovieID` VALUES ('17786')
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Query | INSERT INTO `MovieID` VALUES ('17786')
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Xid | COMMIT /* xid=42 */
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Write_rows_v1 | insert 2 rows into app.t
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Rotate | rotate to mysql-bin.000003:4
------------------------------------------------------------
";
        assert_eq!(text, expected);
    }
}
