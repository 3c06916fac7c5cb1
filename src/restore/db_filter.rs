//! Replaying only some databases: which binlog events belong to them, and a streaming filter
//! over `mariadb-binlog` output that drops the others' statements without reordering anything.
//!
//! zrm decides per event with its own reader: table maps and row events by their table's
//! database; statements by their default database or by a `db.`-qualified name in their text
//! (so `CREATE TABLE one.t` issued from another default database belongs to `one`, which
//! `mariadb-binlog --database` gets wrong). Transaction control (BEGIN, COMMIT, XID, GTIDs) and
//! session state (`SET TIMESTAMP`, `SET @@session…`, `/*!…*/` lines) are always kept, so the
//! session stays right for what follows. `use` of a database that is not restored is dropped.

use std::collections::BTreeSet;

use regex::Regex;

use crate::binlog::decode::EventData;
use crate::binlog::scan::EventInfo;

/// Whether an event belongs to the chosen databases (`true` for everything that is not a
/// statement or a row change: those are always replayed).
pub fn keep_event(e: &EventInfo, dbs: &BTreeSet<String>, qualified: &Regex) -> bool {
    if e.rows_kind.is_some() || e.type_code == crate::binlog::event::code::TABLE_MAP {
        return e.database.as_deref().is_some_and(|d| dbs.contains(d));
    }
    let EventData::Query(q) = &e.data else {
        return true;
    };
    let first = q
        .statement
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if matches!(
        first.as_str(),
        "BEGIN" | "COMMIT" | "ROLLBACK" | "XA" | "SAVEPOINT" | "RELEASE"
    ) {
        return true;
    }
    if dbs.contains(&q.database) {
        return true;
    }
    qualified
        .captures_iter(&q.statement)
        .any(|c| dbs.contains(c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str())))
}

/// `db.` or `` `db`. `` prefixes in a statement.
pub fn qualified_names() -> Regex {
    Regex::new(r"`((?:[^`]|``)+)`\s*\.|\b([A-Za-z_$][A-Za-z0-9_$]*)\s*\.\s*[`A-Za-z_$]")
        .expect("valid regex")
}

enum Mode {
    LineStart,
    Peek,
    Pass(bool),
}

/// Filters the text `mariadb-binlog` writes: blocks start at `# at POS`; a block of an
/// excluded event loses its statement lines, keeping comments and session state.
pub struct BlockFilter {
    /// Start positions of the events to drop, sorted.
    excluded: Vec<u64>,
    dbs: BTreeSet<String>,
    in_excluded: bool,
    mode: Mode,
    head: Vec<u8>,
}

const PEEK: usize = 64;

impl BlockFilter {
    pub fn new(excluded: Vec<u64>, dbs: BTreeSet<String>) -> Self {
        BlockFilter {
            excluded,
            dbs,
            in_excluded: false,
            mode: Mode::LineStart,
            head: Vec::new(),
        }
    }

    /// Decide on a line from its first bytes.
    fn keep_line(&mut self) -> bool {
        let h = &self.head;
        if let Some(rest) = h.strip_prefix(b"# at ") {
            if let Some(pos) = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                self.in_excluded = self.excluded.binary_search(&pos).is_ok();
            }
            return true;
        }
        if h.starts_with(b"# End of log file") {
            self.in_excluded = false;
            return true;
        }
        if let Some(rest) = h.strip_prefix(b"use `") {
            // `use `db`/*!*/;`: only databases being restored exist on the target.
            let text = String::from_utf8_lossy(rest);
            if let Some(end) = text.find("`/*!*/;").or_else(|| text.rfind('`')) {
                let db = text[..end].replace("``", "`");
                return self.dbs.contains(&db);
            }
        }
        if !self.in_excluded {
            return true;
        }
        h.starts_with(b"#")
            || h.starts_with(b"/*!")
            || h.starts_with(b"SET TIMESTAMP")
            || h.starts_with(b"SET @@session")
            || h.starts_with(b"SET @@SESSION")
            || h.starts_with(b"DELIMITER")
            || h.is_empty()
    }

    /// Filter a chunk; the kept bytes are appended to `out`.
    pub fn process(&mut self, buf: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < buf.len() {
            match self.mode {
                Mode::LineStart => {
                    self.head.clear();
                    self.mode = Mode::Peek;
                }
                Mode::Peek => {
                    let b = buf[i];
                    i += 1;
                    if b == b'\n' {
                        if self.keep_line() {
                            out.extend_from_slice(&self.head);
                            out.push(b'\n');
                        }
                        self.mode = Mode::LineStart;
                    } else {
                        self.head.push(b);
                        if self.head.len() >= PEEK {
                            let keep = self.keep_line();
                            if keep {
                                out.extend_from_slice(&self.head);
                            }
                            self.mode = Mode::Pass(keep);
                        }
                    }
                }
                Mode::Pass(keep) => {
                    let end = buf[i..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(buf.len(), |p| i + p + 1);
                    if keep {
                        out.extend_from_slice(&buf[i..end]);
                    }
                    if buf[end - 1] == b'\n' {
                        self.mode = Mode::LineStart;
                    }
                    i = end;
                }
            }
        }
    }

    /// Whatever is pending at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Mode::Peek = self.mode {
            if self.keep_line() {
                out.extend_from_slice(&self.head);
            }
        }
        self.mode = Mode::LineStart;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_excluded_statements_keeps_session_state() {
        let text = "DELIMITER /*!*/;\n# at 4\n#t Start\n# at 100\n#t Query\nSET TIMESTAMP=1/*!*/;\nuse `two`/*!*/;\nCREATE TABLE x (a INT)\n/*!*/;\n# at 200\n#t Query\nuse `one`/*!*/;\nCREATE TABLE y (a INT)\n/*!*/;\n# End of log file\nROLLBACK /* added by mysqlbinlog */;\n";
        let dbs: BTreeSet<String> = ["one".to_string()].into();
        for chunk in [1, 7, 4096] {
            let mut f = BlockFilter::new(vec![100], dbs.clone());
            let mut out = Vec::new();
            for c in text.as_bytes().chunks(chunk) {
                f.process(c, &mut out);
            }
            f.finish(&mut out);
            let out = String::from_utf8(out).unwrap();
            assert!(!out.contains("CREATE TABLE x"), "{out}");
            assert!(!out.contains("use `two`"), "{out}");
            assert!(out.contains("SET TIMESTAMP=1"), "{out}");
            assert!(
                out.contains("use `one`/*!*/;\nCREATE TABLE y (a INT)\n/*!*/;"),
                "{out}"
            );
            assert!(
                out.ends_with("# End of log file\nROLLBACK /* added by mysqlbinlog */;\n"),
                "{out}"
            );
        }
    }

    #[test]
    fn qualified_names_are_found() {
        let re = qualified_names();
        let found: Vec<String> = re
            .captures_iter("INSERT INTO `one`.t SELECT * FROM two.u WHERE x = 1.5")
            .map(|c| c.get(1).or_else(|| c.get(2)).unwrap().as_str().to_string())
            .collect();
        assert_eq!(found, vec!["one", "two"]);
    }
}
