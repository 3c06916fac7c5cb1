//! What a replay applies: the events of the databases (and tables) the restore covers, in their
//! original order, and a streaming filter over `mariadb-binlog` output that drops the others'
//! statements without reordering anything.
//!
//! The scope is the backup's: the databases it holds when the set named them (or all
//! non-system databases when it did not), minus its excluded tables, or `--databases`. Account
//! statements (GRANT, CREATE USER, …) and changes to system schemas are never replayed: the
//! base backup holds no accounts either.
//!
//! zrm decides per event with its own reader: row events by their table, statements by their
//! default database or a `db.`-qualified name in their text (so `CREATE TABLE one.t` issued
//! from another default database belongs to `one`). `mariadb-binlog` prints all row events of
//! one statement as one `BINLOG` block, so they are kept or dropped together: kept if any of
//! them is in scope (a statement that also writes outside the scope, through a trigger say,
//! then fails on the target with a clear error rather than losing its in-scope rows).
//! Transaction control and session state are always kept.
//!
//! A table restore (`--tables db.t`) narrows this: row events of other tables are dropped, DDL
//! is kept only when the table it creates, alters or drops is restored, and any other statement
//! only when it names a restored table (bare names resolve in its default database). A
//! statement that names a restored table and another one is kept, and fails on the target (the
//! other table is not there) rather than being half applied.
//!
//! A restore into another database name (`--rename-database old=new`) must never write into
//! `old`: the binlog tool rewrites the default database and the table maps (`--rewrite-db`),
//! but not a name written in a statement's text, so [`names_renamed_database`] finds every kept
//! statement that names `old` itself (`old.t`, `DROP DATABASE old`), and the restore refuses it.

use regex::Regex;

use crate::binlog::decode::EventData;
use crate::binlog::scan::EventInfo;
use crate::mysql::facts::SYSTEM_SCHEMAS;
use crate::selection::Selection;

/// Statement patterns the filter needs, compiled once.
pub struct Patterns {
    qualified: Regex,
    ddl_table: Regex,
    /// `name` or `db.name`, backquoted or bare.
    reference: Regex,
    /// `DATABASE name` / `SCHEMA name` (CREATE, ALTER, DROP).
    database_ddl: Regex,
    /// CREATE, ALTER or DROP of a trigger, view, routine or event.
    object_ddl: Regex,
}

impl Default for Patterns {
    fn default() -> Self {
        Patterns {
            qualified: Regex::new(r"`((?:[^`]|``)+)`\s*\.|\b([A-Za-z_$][A-Za-z0-9_$]*)\s*\.\s*[`A-Za-z_$]")
                .expect("valid regex"),
            ddl_table: Regex::new(
                r"(?i)^\s*(?:CREATE|ALTER|DROP|TRUNCATE|RENAME)\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))\s*(?:\.\s*(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+)))?",
            )
            .expect("valid regex"),
            reference: Regex::new(
                r"(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))(?:\s*\.\s*(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+)))?",
            )
            .expect("valid regex"),
            database_ddl: Regex::new(
                r"(?i)\b(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))",
            )
            .expect("valid regex"),
            object_ddl: Regex::new(
                r"(?is)^\s*(?:CREATE|ALTER|DROP)\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?(?:DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s@]+)(?:\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\S+))?\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?(?:AGGREGATE\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:TRIGGER|VIEW|PROCEDURE|FUNCTION|EVENT)\b",
            )
            .expect("valid regex"),
        }
    }
}

fn unquote(m: Option<regex::Match>) -> Option<String> {
    m.map(|m| m.as_str().replace("``", "`"))
}

/// Whether a statement names one of the restored tables: `t` (in its default database
/// `default_db`) or `db.t`.
fn names_restored_table(stmt: &str, default_db: &str, scope: &Selection, p: &Patterns) -> bool {
    p.reference.captures_iter(stmt).any(|c| {
        let first = unquote(c.get(1).or_else(|| c.get(2)));
        let second = unquote(c.get(3).or_else(|| c.get(4)));
        match (first, second) {
            (Some(db), Some(t)) => scope.table(&db, &t) || scope.table(default_db, &db),
            (Some(t), None) => scope.table(default_db, &t),
            _ => false,
        }
    })
}

/// The database among `renamed` (the old names of `--rename-database`) that a statement
/// names in its text, as a qualifier (`old.t`) or as the database of a database statement
/// (`DROP DATABASE old`): such a statement would reach the live `old`, whatever its default
/// database is rewritten to.
pub fn names_renamed_database<'a>(
    stmt: &str,
    renamed: impl IntoIterator<Item = &'a String>,
    p: &Patterns,
) -> Option<String> {
    let named: Vec<String> = p
        .qualified
        .captures_iter(stmt)
        .chain(p.database_ddl.captures_iter(stmt))
        .filter_map(|c| unquote(c.get(1).or_else(|| c.get(2))))
        .collect();
    renamed
        .into_iter()
        .find(|old| named.iter().any(|n| n.eq_ignore_ascii_case(old)))
        .cloned()
}

fn is_account_statement(upper_start: &str) -> bool {
    const STARTS: &[&str] = &[
        "GRANT ",
        "REVOKE ",
        "CREATE USER",
        "ALTER USER",
        "DROP USER",
        "RENAME USER",
        "CREATE ROLE",
        "DROP ROLE",
        "SET PASSWORD",
        "SET DEFAULT ROLE",
        "FLUSH PRIVILEGES",
        "CREATE OR REPLACE USER",
        "CREATE OR REPLACE ROLE",
    ];
    STARTS.iter().any(|s| upper_start.starts_with(s))
}

/// Whether an event is in scope (`true` for everything that is neither a statement nor a row
/// change: those are always replayed).
pub fn keep_event(e: &EventInfo, scope: &Selection, p: &Patterns) -> bool {
    if e.rows_kind.is_some() || e.type_code == crate::binlog::event::code::TABLE_MAP {
        return match (e.database.as_deref(), e.table.as_deref()) {
            (Some(d), Some(t)) => scope.table(d, t),
            _ => false,
        };
    }
    let EventData::Query(q) = &e.data else {
        return true;
    };
    let stmt = q.statement.trim_start();
    let upper: String = stmt
        .chars()
        .take(32)
        .collect::<String>()
        .to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or("");
    if matches!(
        first,
        "BEGIN" | "COMMIT" | "ROLLBACK" | "XA" | "SAVEPOINT" | "RELEASE"
    ) {
        return true;
    }
    if is_account_statement(&upper) {
        return false;
    }
    // DDL on an excluded table (its rows are not replayed either).
    if let Some(c) = p.ddl_table.captures(stmt) {
        let first_name = c
            .get(1)
            .or_else(|| c.get(2))
            .map(|m| m.as_str().replace("``", "`"));
        let second_name = c
            .get(3)
            .or_else(|| c.get(4))
            .map(|m| m.as_str().replace("``", "`"));
        let (db, table) = match (first_name, second_name) {
            (Some(d), Some(t)) => (d, t),
            (Some(t), None) => (q.database.clone(), t),
            _ => (q.database.clone(), String::new()),
        };
        if !table.is_empty() && scope.database(&db) && !scope.table(&db, &table) {
            return false;
        }
        if scope.is_table_restore() {
            return !table.is_empty() && scope.table(&db, &table);
        }
    }
    if scope.is_table_restore() {
        // Only what names a restored table; never a database statement, and never a
        // trigger, view, routine or event (a table restore brings back tables only).
        return p.database_ddl.find(stmt).is_none()
            && !p.object_ddl.is_match(stmt)
            && names_restored_table(stmt, &q.database, scope, p);
    }
    let named: Vec<String> = p
        .qualified
        .captures_iter(stmt)
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().replace("``", "`"))
        })
        .collect();
    if scope.database(&q.database) || named.iter().any(|d| scope.database(d)) {
        return true;
    }
    // No database context at all (CREATE DATABASE x logs x as its database; a bare statement
    // has none): in scope when the scope is "every user database" and it names no system one.
    scope.databases.is_none()
        && q.database.is_empty()
        && !named.iter().any(|d| SYSTEM_SCHEMAS.contains(&d.as_str()))
}

/// Groups the row events of one statement so they are kept or dropped together.
#[derive(Default)]
pub struct StatementGroups {
    pending: Vec<u64>,
    any_kept: bool,
    any_dropped: bool,
    /// The first statement whose row events are partly in scope and partly not (a trigger,
    /// a multi-table UPDATE): kept whole, so a table restore must refuse it.
    pub mixed: Option<u64>,
    /// The end of the first MySQL compressed transaction payload holding rows out of scope:
    /// the client tool replays a payload whole, so a table restore must refuse it too.
    pub unsplit_payload: Option<u64>,
    /// A MySQL GTID event whose transaction has shown no statement yet.
    gtid_event: Option<u64>,
    pub excluded: Vec<u64>,
}

impl StatementGroups {
    pub fn push(&mut self, e: &EventInfo, kept: bool) {
        use crate::binlog::event::code;
        // An event inside a MySQL transaction payload has no position of its own (mysqlbinlog
        // prints it at the payload's end, where the next event starts too): a compressed
        // transaction is replayed whole.
        if e.pos == e.end_pos {
            let row_part = e.rows_kind.is_some() || e.type_code == code::TABLE_MAP;
            if row_part && !kept && self.unsplit_payload.is_none() {
                self.unsplit_payload = Some(e.pos);
            }
            return;
        }
        let row_part = e.rows_kind.is_some() || e.type_code == code::TABLE_MAP;
        if matches!(
            e.type_code,
            code::GTID | code::ANONYMOUS_GTID | code::GTID_TAGGED
        ) {
            self.flush();
            self.gtid_event = Some(e.pos);
            return;
        }
        if !row_part {
            self.flush();
            if !kept {
                self.excluded.push(e.pos);
                // A MySQL statement on its own (DDL) dropped: its GTID goes too, or the
                // client would own that GTID and refuse the next one (ERROR 1790).
                if let Some(g) = self.gtid_event.take() {
                    self.excluded.push(g);
                }
            }
            self.gtid_event = None;
            return;
        }
        self.gtid_event = None;
        self.pending.push(e.pos);
        self.any_kept |= kept;
        self.any_dropped |= !kept;
        if e.stmt_end {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.any_kept {
            self.excluded.append(&mut self.pending);
        } else if self.any_dropped && self.mixed.is_none() {
            self.mixed = self.pending.first().copied();
        }
        self.pending.clear();
        self.any_kept = false;
        self.any_dropped = false;
    }
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
    scope: Selection,
    /// `--rename-database`, new name → old: the tool prints `use `new`` for `old`'s.
    renamed_from: std::collections::BTreeMap<String, String>,
    in_excluded: bool,
    mode: Mode,
    head: Vec<u8>,
}

const PEEK: usize = 600;

impl BlockFilter {
    pub fn new(
        excluded: Vec<u64>,
        scope: Selection,
        rename: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        BlockFilter {
            excluded,
            scope,
            renamed_from: rename.iter().map(|(o, n)| (n.clone(), o.clone())).collect(),
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
            // `use `db`/*!*/;`: only databases in scope exist on the target.
            let text = String::from_utf8_lossy(rest);
            if let Some(end) = text.find("`/*!*/;").or_else(|| text.rfind('`')) {
                let db = text[..end].replace("``", "`");
                return match self.renamed_from.get(&db) {
                    Some(old) => self.scope.database(old),
                    // A database restored under another name is never the session's.
                    None => {
                        self.scope.database(&db)
                            && !self.renamed_from.values().any(|old| *old == db)
                    }
                };
            }
        }
        if !self.in_excluded {
            return true;
        }
        if h.starts_with(b"SET @@SESSION.GTID_NEXT") {
            return false;
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

    fn only(dbs: &[&str]) -> Selection {
        Selection {
            databases: Some(dbs.iter().map(|s| s.to_string()).collect()),
            exclude: Vec::new(),
            tables: None,
        }
    }

    #[test]
    fn drops_excluded_statements_keeps_session_state() {
        let text = "DELIMITER /*!*/;\n# at 4\n#t Start\n# at 100\n#t Query\nSET TIMESTAMP=1/*!*/;\nuse `two`/*!*/;\nCREATE TABLE x (a INT)\n/*!*/;\n# at 200\n#t Query\nuse `one`/*!*/;\nCREATE TABLE y (a INT)\n/*!*/;\n# End of log file\nROLLBACK /* added by mysqlbinlog */;\n";
        for chunk in [1, 7, 4096] {
            let mut f = BlockFilter::new(vec![100], only(&["one"]), &Default::default());
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

    fn query(db: &str, stmt: &str) -> EventInfo {
        EventInfo {
            file: "f".into(),
            pos: 4,
            end_pos: 100,
            timestamp: 0,
            type_code: crate::binlog::event::code::QUERY,
            server_id: 1,
            gtid: None,
            database: None,
            table: None,
            rows: None,
            rows_kind: None,
            statement: Some(stmt.into()),
            data: EventData::Query(crate::binlog::decode::Query {
                database: db.into(),
                statement: stmt.into(),
                error_code: 0,
                exec_time: 0,
            }),
            values: None,
            trx_start: true,
            trx_end: true,
            rolled_back: false,
            stmt_end: false,
        }
    }

    #[test]
    fn a_table_restore_replays_what_names_its_tables() {
        let s = Selection {
            databases: Some(["app".to_string()].into()),
            exclude: Vec::new(),
            tables: Some([("app".to_string(), "t1".to_string())].into()),
        };
        let p = Patterns::default();
        let keep = |db: &str, stmt: &str| keep_event(&query(db, stmt), &s, &p);
        assert!(keep("app", "ALTER TABLE t1 ADD COLUMN c INT"));
        assert!(keep("other", "ALTER TABLE `app`.`t1` ADD COLUMN c INT"));
        assert!(!keep("app", "ALTER TABLE t2 ADD COLUMN c INT"));
        assert!(!keep("app", "CREATE TABLE t3 LIKE t1"));
        assert!(!keep("app", "DROP DATABASE app"));
        assert!(keep("app", "UPDATE t1 SET a = 1"));
        assert!(keep("app", "INSERT INTO `t1` SELECT * FROM t2"));
        assert!(!keep("app", "UPDATE t2 SET a = 1"));
        assert!(!keep("other", "UPDATE t1 SET a = 1"));
        assert!(keep("app", "BEGIN"));
        assert!(!keep(
            "app",
            "CREATE DEFINER=`root`@`localhost` TRIGGER tr AFTER INSERT ON t1 FOR EACH ROW SET @a = 1"
        ));
        assert!(!keep("app", "CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER=`u`@`%` SQL SECURITY DEFINER VIEW v AS SELECT * FROM t1"));
        assert!(!keep("app", "DROP TRIGGER IF EXISTS tr"));
        assert!(!keep(
            "app",
            "CREATE DEFINER='root'@'localhost' PROCEDURE p() UPDATE t1 SET a = 1"
        ));
    }

    #[test]
    fn statements_that_name_a_renamed_database_are_found() {
        let p = Patterns::default();
        let old = ["app".to_string()];
        let names = |stmt: &str| names_renamed_database(stmt, &old, &p);
        assert_eq!(names("UPDATE app.t1 SET a = 1").as_deref(), Some("app"));
        assert_eq!(
            names("UPDATE `app` . `t1` SET a = 1").as_deref(),
            Some("app")
        );
        assert_eq!(
            names("DROP DATABASE IF EXISTS `app`").as_deref(),
            Some("app")
        );
        assert_eq!(names("create schema APP").as_deref(), Some("app"));
        assert_eq!(names("UPDATE t1 SET a = 'app'"), None);
        assert_eq!(names("UPDATE t1 SET t1.a = 1"), None);
        assert_eq!(names("UPDATE app2.t1 SET a = 1"), None);
    }

    #[test]
    fn scope_of_tables() {
        let s = Selection {
            databases: None,
            exclude: vec!["app.tmp_*".into(), "scratch".into()],
            tables: None,
        };
        assert!(s.table("app", "orders"));
        assert!(!s.table("app", "tmp_1"));
        assert!(!s.table("scratch", "t"));
        assert!(!s.table("mysql", "user"));
    }
}
