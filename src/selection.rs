//! Which databases and tables an operation covers: a set's `databases` (or every database but
//! the system schemas) less its `exclude` patterns, where a pattern without a dot leaves out
//! databases (`tmp_*`) and one with a dot leaves out tables (`app.cache_*`). One type and one
//! rule for what a backup takes and what a replay applies, so the two never disagree. A table
//! restore (`restore --tables db.t`) narrows it further to the tables it names.

use std::collections::BTreeSet;

use crate::mysql::facts::SYSTEM_SCHEMAS;

/// The databases and tables covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `None`: every database but the system schemas.
    pub databases: Option<BTreeSet<String>>,
    /// `db` and `db.table` glob patterns left out.
    pub exclude: Vec<String>,
    /// `Some`: only these `(db, table)` are covered (a table restore); their databases are
    /// the covered databases.
    pub tables: Option<BTreeSet<(String, String)>>,
}

impl Selection {
    /// Whether database `db` is covered (named or not a system schema, and not excluded).
    pub fn database(&self, db: &str) -> bool {
        let named = match &self.databases {
            Some(set) => set.contains(db),
            None => !db.is_empty() && !SYSTEM_SCHEMAS.contains(&db),
        };
        let holds_table = match &self.tables {
            Some(t) => t.iter().any(|(d, _)| d == db),
            None => true,
        };
        named && holds_table && !self.excludes_database(db)
    }

    /// Whether table `db.table` is covered.
    pub fn table(&self, db: &str, table: &str) -> bool {
        self.database(db)
            && !self.excludes_table(db, table)
            && self
                .tables
                .as_ref()
                .is_none_or(|t| t.contains(&(db.to_string(), table.to_string())))
    }

    /// Whether only some tables are covered (a table restore).
    pub fn is_table_restore(&self) -> bool {
        self.tables.is_some()
    }

    /// A `db` pattern leaves the whole database out.
    pub fn excludes_database(&self, db: &str) -> bool {
        self.exclude
            .iter()
            .any(|p| !p.contains('.') && glob_match(p, db))
    }

    /// A `db.table` pattern leaves this table out.
    pub fn excludes_table(&self, db: &str, table: &str) -> bool {
        self.exclude.iter().any(|p| {
            p.split_once('.')
                .is_some_and(|(dp, tp)| glob_match(dp, db) && glob_match(tp, table))
        })
    }
}

/// Shell-style `*` and `?` matching of a whole name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("tmp_*", "tmp_x"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("tmp_*", "atmp_x"));
    }

    #[test]
    fn database_patterns_leave_out_databases_everywhere() {
        let s = Selection {
            databases: None,
            exclude: vec!["tmp_*".into(), "app.cache_*".into()],
            tables: None,
        };
        assert!(!s.database("tmp_1"), "a db pattern excludes the database");
        assert!(s.database("app"));
        assert!(!s.table("app", "cache_x"));
        assert!(s.table("app", "orders"));
        assert!(
            !s.database("mysql"),
            "system schemas are never covered by default"
        );
    }

    #[test]
    fn a_table_restore_covers_its_tables_only() {
        let s = Selection {
            databases: Some(["app".to_string()].into()),
            exclude: Vec::new(),
            tables: Some([("app".to_string(), "t1".to_string())].into()),
        };
        assert!(s.table("app", "t1"));
        assert!(!s.table("app", "t2"));
        assert!(!s.table("other", "t1"));
        assert!(s.database("app"));
        assert!(!s.database("other"));
    }
}
