//! What to dump: the selected tables with their columns and the key to cut them on, and the
//! cut itself — primary-key (or unique NOT NULL key) ranges of about `chunk_bytes` each, biggest
//! tables first.
//!
//! A range cut needs only that the first key column is a NOT NULL integer: the first range is
//! open below and the last open above, so min/max read before the snapshot (cheap, through the
//! index) still give ranges that cover every row of the snapshot. Tables without such a key are
//! read whole; their output is still split into chunk files by size.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::mysql::conn::{quote_ident, quote_str};
use crate::mysql::Session;

#[derive(Debug, Clone)]
pub struct TableInfo {
    pub database: String,
    pub name: String,
    pub kind: TableKind,
    pub engine: Option<String>,
    pub columns: Vec<Column>,
    /// The integer column ranges are cut on.
    pub chunk_key: Option<String>,
    pub est_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Base,
    SystemVersioned,
    Sequence,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// FLOAT is read as DOUBLE: the server prints FLOAT with 6 significant digits, which loses
    /// bits (16777217 comes back as 16777200); the double's text is exact for every float.
    pub is_float: bool,
    pub is_enum: bool,
}

impl TableInfo {
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.database),
            quote_ident(&self.name)
        )
    }

    pub fn key(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// The SELECT list, in data-file order.
    pub fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| {
                if c.is_float {
                    format!("CAST({} AS DOUBLE)", quote_ident(&c.name))
                } else {
                    quote_ident(&c.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn transactional(&self) -> bool {
        super::transactional_engine(self.engine.as_deref())
    }
}

/// One unit of dump work: a whole table, or one key range of it.
#[derive(Debug, Clone)]
pub struct Task {
    pub table: usize,
    /// `(lower inclusive, upper exclusive)`; `None` bounds are open.
    pub range: Option<(Option<i128>, Option<i128>)>,
    pub est_bytes: u64,
}

impl Task {
    /// For messages: `db.table` and the key range.
    pub fn describe(&self, t: &TableInfo) -> String {
        match (self.range, &t.chunk_key) {
            (Some((lo, hi)), Some(k)) => format!(
                "{} ({k} from {} to {})",
                t.key(),
                lo.map_or("the start".into(), |v| v.to_string()),
                hi.map_or("the end".into(), |v| format!("before {v}"))
            ),
            _ => t.key(),
        }
    }

    pub fn query(&self, t: &TableInfo) -> String {
        let mut q = format!("SELECT {} FROM {}", t.select_list(), t.qualified());
        if let (Some((lo, hi)), Some(key)) = (self.range, &t.chunk_key) {
            let k = quote_ident(key);
            let mut conds = Vec::new();
            if let Some(lo) = lo {
                conds.push(format!("{k} >= {lo}"));
            }
            if let Some(hi) = hi {
                conds.push(format!("{k} < {hi}"));
            }
            if !conds.is_empty() {
                q.push_str(" WHERE ");
                q.push_str(&conds.join(" AND "));
            }
        }
        q
    }
}

fn in_list(dbs: &[&String]) -> String {
    dbs.iter()
        .map(|d| quote_str(d))
        .collect::<Vec<_>>()
        .join(",")
}

/// The selected tables (`db → tables`, already filtered by the set's `exclude`).
pub async fn tables(
    s: &mut Session,
    selection: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<TableInfo>> {
    let dbs: Vec<&String> = selection.keys().collect();
    if dbs.is_empty() {
        return Ok(Vec::new());
    }
    let list = in_list(&dbs);
    let wanted = |db: &str, t: &str| selection.get(db).is_some_and(|v| v.iter().any(|x| x == t));

    let mut infos: BTreeMap<(String, String), TableInfo> = BTreeMap::new();
    for r in s
        .rows(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, DATA_LENGTH \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({list}) \
             AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE')"
        ))
        .await?
    {
        let [Some(db), Some(name), Some(kind), engine, bytes] =
            <[_; 5]>::try_from(r).unwrap_or_default()
        else {
            continue;
        };
        if !wanted(&db, &name) {
            continue;
        }
        let kind = match kind.as_str() {
            "SYSTEM VERSIONED" => TableKind::SystemVersioned,
            "SEQUENCE" => TableKind::Sequence,
            _ => TableKind::Base,
        };
        infos.insert(
            (db.clone(), name.clone()),
            TableInfo {
                database: db,
                name,
                kind,
                engine,
                columns: Vec::new(),
                chunk_key: None,
                est_bytes: bytes.and_then(|b| b.parse().ok()).unwrap_or(0),
            },
        );
    }

    let mut not_null_ints: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in s
        .rows(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, EXTRA \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({list}) \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ))
        .await?
    {
        let [Some(db), Some(table), Some(col), Some(ty), nullable, extra] =
            <[_; 6]>::try_from(r).unwrap_or_default()
        else {
            continue;
        };
        let Some(info) = infos.get_mut(&(db.clone(), table.clone())) else {
            continue;
        };
        let extra = extra.unwrap_or_default().to_ascii_uppercase();
        // Generated columns are computed by the server on load; DEFAULT_GENERATED (MySQL) is a
        // default expression, an ordinary column.
        if extra.contains("VIRTUAL GENERATED")
            || extra.contains("STORED GENERATED")
            || extra.contains("PERSISTENT GENERATED")
        {
            continue;
        }
        let ty = ty.to_ascii_lowercase();
        if nullable.as_deref() == Some("NO")
            && matches!(
                ty.as_str(),
                "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
            )
        {
            not_null_ints
                .entry((db.clone(), table.clone()))
                .or_default()
                .push(col.clone());
        }
        info.columns.push(Column {
            is_float: ty == "float",
            is_enum: ty == "enum",
            name: col,
        });
    }

    // The first column of the primary key, else of a unique key, when it is a NOT NULL integer.
    let mut firsts: BTreeMap<(String, String), Vec<(bool, String)>> = BTreeMap::new();
    for r in s
        .rows(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA IN ({list}) AND NON_UNIQUE = 0 AND SEQ_IN_INDEX = 1"
        ))
        .await?
    {
        let [Some(db), Some(table), Some(index), Some(col)] =
            <[_; 4]>::try_from(r).unwrap_or_default()
        else {
            continue;
        };
        firsts
            .entry((db, table))
            .or_default()
            .push((index == "PRIMARY", col));
    }
    for (k, mut cands) in firsts {
        let Some(info) = infos.get_mut(&k) else {
            continue;
        };
        if info.kind == TableKind::Sequence {
            continue;
        }
        cands.sort_by_key(|(primary, name)| (!primary, name.clone()));
        let ints = not_null_ints.get(&k);
        info.chunk_key = cands
            .into_iter()
            .map(|(_, c)| c)
            .find(|c| ints.is_some_and(|v| v.contains(c)));
    }
    Ok(infos.into_values().collect())
}

/// Cut the tables into tasks of about `chunk_bytes`, biggest first.
pub async fn tasks(
    s: &mut Session,
    tables: &[TableInfo],
    chunk_bytes: u64,
    parallel: usize,
) -> Result<Vec<Task>> {
    // Ranges are for spreading a big table over the connections; a whole-table scan is the
    // cheapest read for the server. So a table is cut only into pieces of at least a quarter
    // of one connection's share (and at least a chunk): eight equal tables on two
    // connections are read whole, one huge table among small ones is cut. (Whole or not, the
    // output is split into chunk files of `chunk_bytes`.)
    let total: u64 = tables.iter().map(|t| t.est_bytes).sum();
    let piece_bytes = chunk_bytes.max(total / (parallel.max(1) as u64 * 4)).max(1);
    let mut tasks = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        if t.kind == TableKind::Sequence || !super::holds_own_rows(t.engine.as_deref()) {
            continue; // a sequence's state goes with its schema; MERGE & co. hold no rows
        }
        let pieces = t.est_bytes.div_ceil(piece_bytes).clamp(1, 4096);
        let key = match (&t.chunk_key, pieces) {
            (Some(k), p) if p > 1 => k,
            _ => {
                tasks.push(Task {
                    table: i,
                    range: None,
                    est_bytes: t.est_bytes,
                });
                continue;
            }
        };
        let k = quote_ident(key);
        let row = s
            .rows(&format!("SELECT MIN({k}), MAX({k}) FROM {}", t.qualified()))
            .await?;
        let bounds = row.into_iter().next().and_then(|r| {
            let lo: i128 = r.first()?.as_deref()?.parse().ok()?;
            let hi: i128 = r.get(1)?.as_deref()?.parse().ok()?;
            Some((lo, hi))
        });
        let Some((lo, hi)) = bounds else {
            tasks.push(Task {
                table: i,
                range: None,
                est_bytes: t.est_bytes,
            });
            continue;
        };
        let span = hi - lo + 1;
        let n = (pieces as i128).min(span).max(1);
        let step = span / n;
        let mut lower: Option<i128> = None;
        for j in 1..=n {
            let upper = (j < n).then(|| lo + step * j);
            tasks.push(Task {
                table: i,
                range: Some((lower, upper)),
                est_bytes: t.est_bytes / n as u64,
            });
            lower = upper;
        }
    }
    tasks.sort_by_key(|t| std::cmp::Reverse(t.est_bytes));
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_queries_are_open_at_the_ends() {
        let t = TableInfo {
            database: "d".into(),
            name: "t".into(),
            kind: TableKind::Base,
            engine: Some("InnoDB".into()),
            columns: vec![
                Column {
                    name: "id".into(),
                    is_float: false,
                    is_enum: false,
                },
                Column {
                    name: "f".into(),
                    is_float: true,
                    is_enum: false,
                },
            ],
            chunk_key: Some("id".into()),
            est_bytes: 0,
        };
        let first = Task {
            table: 0,
            range: Some((None, Some(10))),
            est_bytes: 0,
        };
        let last = Task {
            table: 0,
            range: Some((Some(10), None)),
            est_bytes: 0,
        };
        assert_eq!(
            first.query(&t),
            "SELECT `id`, CAST(`f` AS DOUBLE) FROM `d`.`t` WHERE `id` < 10"
        );
        assert_eq!(
            last.query(&t),
            "SELECT `id`, CAST(`f` AS DOUBLE) FROM `d`.`t` WHERE `id` >= 10"
        );
    }
}
