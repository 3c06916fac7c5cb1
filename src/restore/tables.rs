//! Table restores and restores under another database name: what `--tables db.t1,db.t2` and
//! `--rename-database old=new` mean, checked before anything on the target changes.
//!
//! - A table restore loads only the named tables of a logical backup (their schema and their
//!   chunks) and replays only their changes; the rest of their databases on the target is never
//!   touched: no `DROP DATABASE`, and with `--replace` only the named tables are dropped first.
//! - A renamed database is created under its new name and receives the old one's tables and
//!   changes. It must never write into the old name: the load creates objects in the new
//!   database only, the applier rewrites table maps, the client pipeline rewrites default
//!   databases, and a statement that names the old database itself is refused
//!   (`db_filter::names_renamed_database`).

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Manifest;
use crate::error::{Error, Result};
use crate::mysql::{self, conn::quote_str};

/// `db.table` items of `--tables`, as `(db, table)`.
pub fn parse_tables(items: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let unquoted = item.replace('`', "");
        let Some((db, table)) = unquoted.split_once('.') else {
            return Err(Error::Usage(format!(
                "--tables {item}: name each table with its database, as db.table (e.g. \
                 app.orders)"
            )));
        };
        if db.is_empty() || table.is_empty() {
            return Err(Error::Usage(format!(
                "--tables {item}: name each table with its database, as db.table (e.g. \
                 app.orders)"
            )));
        }
        check_name("--tables", item, db)?;
        check_name("--tables", item, table)?;
        let pair = (db.to_string(), table.to_string());
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(
            "--tables names no table; give db.table[,db.table…]".into(),
        ));
    }
    Ok(out)
}

/// `old=new` items of `--rename-database` (repeated or comma-separated).
pub fn parse_renames(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((old, new)) = item.split_once('=') else {
            return Err(Error::Usage(format!(
                "--rename-database {item}: give OLD=NEW, e.g. --rename-database \
                 app=app_restored"
            )));
        };
        let (old, new) = (old.trim(), new.trim());
        check_name("--rename-database", item, old)?;
        check_name("--rename-database", item, new)?;
        if old == new {
            return Err(Error::Usage(format!(
                "--rename-database {item}: the new name is the old one; leave the flag out"
            )));
        }
        if crate::restore::target::is_protected_schema(new) || new == "zrm" {
            return Err(Error::Usage(format!(
                "--rename-database {item}: {new} is a system schema or zrm's own; pick another \
                 name"
            )));
        }
        if let Some(before) = out.get(old).filter(|b| *b != new) {
            return Err(Error::Usage(format!(
                "--rename-database names {old} twice (as {before} and as {new}); give one new \
                 name per database"
            )));
        }
        if let Some((other, _)) = out.iter().find(|(o, n)| *n == new && *o != old) {
            return Err(Error::Usage(format!(
                "--rename-database: {other} and {old} would both become {new}; give each \
                 database its own new name"
            )));
        }
        out.insert(old.to_string(), new.to_string());
    }
    Ok(out)
}

fn check_name(flag: &str, item: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || name.ends_with(' ') || name.contains('\0') {
        return Err(Error::Usage(format!(
            "{flag} {item}: `{name}` is not a valid database or table name (1 to 64 \
             characters, not ending with a space)"
        )));
    }
    Ok(())
}

/// Check a table restore and the renames against the backup and the databases restored.
/// `databases` are the restored databases, by their names in the backup.
pub fn check_against_backup(
    m: &Manifest,
    tables: Option<&[(String, String)]>,
    rename: &BTreeMap<String, String>,
    databases: &[String],
) -> Result<()> {
    if let Some(tables) = tables {
        let layout = m.logical.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "--tables restores tables of a logical backup; backup {} is a {} backup",
                m.id, m.method
            ))
        })?;
        let present: BTreeSet<(&str, &str)> = layout
            .tables
            .iter()
            .map(|t| (t.database.as_str(), t.name.as_str()))
            .collect();
        for (db, t) in tables {
            if !present.contains(&(db.as_str(), t.as_str())) {
                let of_db: Vec<&str> = present
                    .iter()
                    .filter(|(d, _)| d == db)
                    .map(|(_, t)| *t)
                    .collect();
                return Err(Error::Usage(format!(
                    "--tables {db}.{t}: backup {} holds no such table; {}",
                    m.id,
                    if of_db.is_empty() {
                        format!("it holds no table of database {db}")
                    } else {
                        format!("its tables of {db} are: {}", of_db.join(", "))
                    }
                )));
            }
        }
    }
    for (old, new) in rename {
        if !databases.contains(old) {
            return Err(Error::Usage(format!(
                "--rename-database {old}={new}: {old} is not restored (the restore covers {}); \
                 rename one of those",
                databases.join(", ")
            )));
        }
        if databases.contains(new) && !rename.contains_key(new) {
            return Err(Error::Usage(format!(
                "--rename-database {old}={new}: {new} is restored too; two databases cannot be \
                 restored into one"
            )));
        }
    }
    Ok(())
}

/// The restored tables that exist on the target, as `db.table` under their target names.
pub async fn existing_tables(
    s: &mut mysql::Session,
    tables: &[(String, String)],
    rename: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (db, t) in tables {
        let db = rename.get(db).unwrap_or(db);
        let n = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND \
                 TABLE_NAME = {}",
                quote_str(db),
                quote_str(t)
            ))
            .await?;
        if n.as_deref().is_some_and(|n| n != "0") {
            out.push((db.clone(), t.clone()));
        }
    }
    Ok(out)
}

/// Which of `names` exist as databases on the target.
pub async fn existing_databases(s: &mut mysql::Session, names: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for db in names {
        let n = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                quote_str(db)
            ))
            .await?;
        if n.as_deref().is_some_and(|n| n != "0") {
            out.push(db.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tables_are_db_dot_table() {
        assert_eq!(
            parse_tables(&v(&["app.t1", "`app`.`t2`", "app.t1"])).unwrap(),
            vec![
                ("app".to_string(), "t1".to_string()),
                ("app".to_string(), "t2".to_string())
            ]
        );
        assert!(parse_tables(&v(&["t1"]))
            .unwrap_err()
            .to_string()
            .contains("db.table"));
        assert!(parse_tables(&v(&["app."])).is_err());
        assert!(parse_tables(&v(&[""])).is_err());
    }

    #[test]
    fn renames_are_old_equals_new_one_to_one() {
        let r = parse_renames(&v(&["app=app_restored", "crm = crm2"])).unwrap();
        assert_eq!(r.get("app").map(String::as_str), Some("app_restored"));
        assert_eq!(r.get("crm").map(String::as_str), Some("crm2"));
        assert!(parse_renames(&v(&["app"])).is_err());
        assert!(parse_renames(&v(&["app=app"])).is_err());
        assert!(parse_renames(&v(&["app=mysql"])).is_err());
        assert!(parse_renames(&v(&["app=x", "app=y"])).is_err());
        assert!(parse_renames(&v(&["a=x", "b=x"])).is_err());
        assert!(parse_renames(&v(&["app="])).is_err());
    }
}
