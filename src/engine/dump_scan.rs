//! A streaming scanner over mysqldump/mariadb-dump output.
//!
//! It sees every byte of the dump once, in chunks, with O(1) memory per byte, and extracts:
//! the binary-log coordinates the dump tool wrote *from inside its snapshot*
//! (`--master-data=2` / `--source-data=2`), the GTID position (`--gtid` on MariaDB,
//! `GTID_PURGED` on MySQL), and the number of rows written per table (counting the tuples of
//! `INSERT INTO … VALUES (…),(…);` outside string literals). It never holds more than one
//! short line, so memory is bounded whatever the dump size.

use std::collections::BTreeMap;

use regex::Regex;

use crate::catalog::ConsistentPoint;

/// Lines longer than this are not metadata lines; they are passed over.
const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub struct DumpFacts {
    pub binlog_file: Option<String>,
    pub binlog_pos: Option<u64>,
    pub gtid: Option<String>,
    /// database → table → rows.
    pub rows: BTreeMap<String, BTreeMap<String, u64>>,
    pub bytes: u64,
}

impl DumpFacts {
    pub fn consistent_point(&self) -> Option<ConsistentPoint> {
        Some(ConsistentPoint {
            binlog_file: self.binlog_file.clone()?,
            binlog_pos: self.binlog_pos?,
            gtid_set: self.gtid.clone(),
        })
    }
}

enum State {
    /// Reading an ordinary line (kept in `line` up to MAX_LINE bytes).
    Line,
    /// Inside `VALUES …;` of an INSERT.
    Values {
        depth: u32,
        quote: Option<u8>,
        escaped: bool,
    },
}

pub struct DumpScanner {
    state: State,
    line: Vec<u8>,
    line_overflow: bool,
    database: String,
    table: String,
    /// Past the header (a `-- Current Database:` line was seen).
    in_body: bool,
    /// mariadb-dump's trailer, where it writes the GTID position.
    at_footer: bool,
    /// A MySQL GTID set that goes on over the next lines (one UUID per line).
    gtid_open: Option<String>,
    facts: DumpFacts,
    re_coords: Regex,
    re_gtid: Regex,
    re_gtid_open: Regex,
    re_use: Regex,
    re_insert: Regex,
}

impl Default for DumpScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl DumpScanner {
    pub fn new() -> Self {
        DumpScanner {
            state: State::Line,
            line: Vec::with_capacity(256),
            line_overflow: false,
            database: String::new(),
            table: String::new(),
            in_body: false,
            at_footer: false,
            gtid_open: None,
            facts: DumpFacts::default(),
            re_coords: Regex::new(
                r"^-- CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)', (?:MASTER|SOURCE)_LOG_POS=(\d+)",
            )
            .expect("valid regex"),
            re_gtid: Regex::new(
                r"^(?:-- )?(?:/\* )?SET (?:GLOBAL gtid_slave_pos|@@GLOBAL\.GTID_PURGED)=(?:/\*!80000 '\+'\*/ )?'\+?([^']*)'",
            )
            .expect("valid regex"),
            re_gtid_open: Regex::new(
                r"^(?:/\* )?SET @@GLOBAL\.GTID_PURGED=(?:/\*!80000 '\+'\*/ )?'\+?([^']*,)\s*$",
            )
            .expect("valid regex"),
            re_use: Regex::new(r"^USE `((?:[^`]|``)+)`;").expect("valid regex"),
            re_insert: Regex::new(r"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES$")
                .expect("valid regex"),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.facts.bytes += chunk.len() as u64;
        for &b in chunk {
            match &mut self.state {
                State::Line => self.line_byte(b),
                State::Values {
                    depth,
                    quote,
                    escaped,
                } => {
                    if let Some(q) = *quote {
                        if *escaped {
                            *escaped = false;
                        } else if b == b'\\' {
                            *escaped = true;
                        } else if b == q {
                            *quote = None;
                        }
                        continue;
                    }
                    match b {
                        b'\'' | b'"' => *quote = Some(b),
                        b'(' => {
                            if *depth == 0 {
                                *self
                                    .facts
                                    .rows
                                    .entry(self.database.clone())
                                    .or_default()
                                    .entry(self.table.clone())
                                    .or_default() += 1;
                            }
                            *depth += 1;
                        }
                        b')' => *depth = depth.saturating_sub(1),
                        b';' if *depth == 0 => {
                            self.state = State::Line;
                            self.line.clear();
                            self.line_overflow = false;
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn line_byte(&mut self, b: u8) {
        if b == b'\n' {
            self.end_line();
            return;
        }
        if self.line.len() >= MAX_LINE {
            self.line_overflow = true;
            return;
        }
        self.line.push(b);
        // `INSERT INTO `t` VALUES` switches to value counting right after `VALUES`, whether
        // the tuples follow on the same line or (mariadb-dump 10.11+) on the next ones.
        if b == b'S' && self.line.ends_with(b" VALUES") && self.line.starts_with(b"INSERT INTO `") {
            if let Ok(text) = std::str::from_utf8(&self.line) {
                if let Some(c) = self.re_insert.captures(text) {
                    self.table = c[1].replace("``", "`");
                    self.facts
                        .rows
                        .entry(self.database.clone())
                        .or_default()
                        .entry(self.table.clone())
                        .or_default();
                    self.state = State::Values {
                        depth: 0,
                        quote: None,
                        escaped: false,
                    };
                }
            }
        }
    }

    fn end_line(&mut self) {
        if !self.line_overflow {
            if let Ok(text) = std::str::from_utf8(&self.line) {
                let text = text.trim_end_matches('\r');
                if text.starts_with("-- Current Database: ") {
                    // The coordinates come in the header, before any data: a line that looks
                    // like them inside a routine body later must not count.
                    self.in_body = true;
                }
                if let Some(mut set) = self.gtid_open.take() {
                    // The rest of a GTID set printed over several lines.
                    match text.find('\'') {
                        Some(end) => {
                            set.push_str(text[..end].trim());
                            if self.facts.gtid.is_none() {
                                self.facts.gtid = Some(set);
                            }
                        }
                        None if set.len() < MAX_LINE => {
                            set.push_str(text.trim());
                            self.gtid_open = Some(set);
                        }
                        None => {}
                    }
                } else if let Some(c) = self.re_use.captures(text) {
                    self.database = c[1].replace("``", "`");
                    self.facts.rows.entry(self.database.clone()).or_default();
                } else if let Some(c) = self.re_coords.captures(text) {
                    if !self.in_body && self.facts.binlog_file.is_none() {
                        self.facts.binlog_file = Some(c[1].to_string());
                        self.facts.binlog_pos = c[2].parse().ok();
                    }
                } else if let Some(c) = self.re_gtid.captures(text) {
                    // mariadb-dump writes the GTID line at the very end (after every
                    // database), MySQL's near the top: take the first one that is not
                    // inside a routine body, i.e. at the top or after the last database.
                    if self.facts.gtid.is_none() && (!self.in_body || self.at_footer) {
                        self.facts.gtid = Some(c[1].to_string());
                    }
                } else if let Some(c) = self.re_gtid_open.captures(text) {
                    if self.facts.gtid.is_none() && (!self.in_body || self.at_footer) {
                        self.gtid_open = Some(c[1].to_string());
                    }
                } else if text.starts_with("-- The deferred gtid setting for slave") {
                    self.at_footer = true;
                }
            }
        }
        self.line.clear();
        self.line_overflow = false;
    }

    pub fn finish(mut self) -> DumpFacts {
        if matches!(self.state, State::Line) && !self.line.is_empty() {
            self.end_line();
        }
        self.facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "/*M!999999\\- enable the sandbox mode */ \n\
-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=865;\n\
USE `app`;\n\
INSERT INTO `t` VALUES\n(1,'a'),\n(2,'b(\\'),;'),\n(3,0x00FF);\n\
INSERT INTO `t` VALUES (4,'x'),(5,NULL);\n\
USE `we``ird`;\n\
INSERT INTO `e``mpty` VALUES (1,'(');\n\
-- SET GLOBAL gtid_slave_pos='0-7-3';\n";

    #[test]
    fn counts_rows_and_reads_coordinates_in_any_chunking() {
        for chunk in [1, 2, 3, 7, 64, 10_000] {
            let mut s = DumpScanner::new();
            for c in DUMP.as_bytes().chunks(chunk) {
                s.feed(c);
            }
            let f = s.finish();
            assert_eq!(f.rows["app"]["t"], 5, "chunk {chunk}");
            assert_eq!(f.rows["we`ird"]["e`mpty"], 1, "chunk {chunk}");
            let p = f.consistent_point().unwrap();
            assert_eq!(p.binlog_file, "mysql-bin.000003");
            assert_eq!(p.binlog_pos, 865);
            assert_eq!(p.gtid_set.as_deref(), Some("0-7-3"));
            assert_eq!(f.bytes, DUMP.len() as u64);
        }
    }

    #[test]
    fn mysql_source_data_and_gtid_purged() {
        let dump = "-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000002', SOURCE_LOG_POS=157;\n\
/* SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'; */\n";
        let mut s = DumpScanner::new();
        s.feed(dump.as_bytes());
        let f = s.finish();
        assert_eq!(f.binlog_file.as_deref(), Some("binlog.000002"));
        assert_eq!(f.binlog_pos, Some(157));
        assert_eq!(
            f.gtid.as_deref(),
            Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
        );
    }

    /// MySQL 9.7's mysqldump puts the `+` inside the quotes; zrm once recorded
    /// "+uuid:1-366" as the backup's GTID set.
    #[test]
    fn mysql_9_gtid_purged_with_the_plus_inside_the_quotes() {
        let dump = "/* SET @@GLOBAL.GTID_PURGED='+cf7f6c0d-f11f-11f1-9ff7-02fc00000001:1-3';*/\n\
-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000001', SOURCE_LOG_POS=820;\n";
        let mut s = DumpScanner::new();
        s.feed(dump.as_bytes());
        let f = s.finish();
        assert_eq!(
            f.gtid.as_deref(),
            Some("cf7f6c0d-f11f-11f1-9ff7-02fc00000001:1-3")
        );
        assert_eq!(f.binlog_pos, Some(820));
    }

    /// A server that has executed GTIDs of several sources: MySQL's mysqldump prints one
    /// UUID per line (zrm recorded no GTID set at all).
    #[test]
    fn mysql_gtid_set_over_several_lines() {
        let dump = "/* SET @@GLOBAL.GTID_PURGED='+3e11fa47-71ca-11e1-9e33-c80aa9429562:5,\n\
cf7f6c0d-f11f-11f1-9ff7-02fc00000001:1-3038:mytag:1';*/\n\
-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000001', SOURCE_LOG_POS=820;\n";
        for chunk in [1, 5, 4096] {
            let mut s = DumpScanner::new();
            for c in dump.as_bytes().chunks(chunk) {
                s.feed(c);
            }
            let f = s.finish();
            assert_eq!(
                f.gtid.as_deref(),
                Some(
                    "3e11fa47-71ca-11e1-9e33-c80aa9429562:5,\
                     cf7f6c0d-f11f-11f1-9ff7-02fc00000001:1-3038:mytag:1"
                ),
                "chunk {chunk}"
            );
            assert_eq!(f.binlog_pos, Some(820));
        }
    }

    #[test]
    fn coordinates_inside_a_routine_body_do_not_count() {
        let dump = "-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=865;\n\
--\n-- Current Database: `app`\n--\n\
CREATE PROCEDURE p() BEGIN\n-- CHANGE MASTER TO MASTER_LOG_FILE='evil.000009', MASTER_LOG_POS=4;\n\
-- SET GLOBAL gtid_slave_pos='9-9-9';\nEND;\n\
-- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows\n\
-- SET GLOBAL gtid_slave_pos='0-7-3';\n";
        let mut s = DumpScanner::new();
        s.feed(dump.as_bytes());
        let p = s.finish().consistent_point().unwrap();
        assert_eq!(
            (p.binlog_file.as_str(), p.binlog_pos),
            ("mysql-bin.000003", 865)
        );
        assert_eq!(p.gtid_set.as_deref(), Some("0-7-3"));
    }

    #[test]
    fn no_coordinates_means_no_point() {
        let mut s = DumpScanner::new();
        s.feed(b"USE `a`;\n");
        assert!(s.finish().consistent_point().is_none());
    }
}
