//! What the applier needs to know of the target's tables to build write sets: their unique
//! keys (by column position, as row images number columns), whether a key's strings compare
//! without regard to case, whether the table is transactional, and which tables foreign keys
//! join. Read from the target's `information_schema`, again after every statement the client
//! pipeline applied (DDL changes keys).

use std::collections::HashMap;

use super::writeset::WriteSet;
use crate::binlog::rows::Value;
use crate::error::Result;
use crate::mysql::Session;

#[derive(Debug, Clone, Copy)]
pub struct KeyColumn {
    /// 0-based position in the row image.
    pub index: usize,
    /// A string compared without regard to case (a `_ci` collation): folded before hashing,
    /// so `'a'` and `'A'` count as the same key, as the target's unique index counts them.
    pub fold: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TableKeys {
    pub transactional: bool,
    /// Unique keys made of whole columns (prefix and functional key parts are left out).
    pub unique: Vec<Vec<KeyColumn>>,
    /// Tables joined by foreign keys share one family id.
    pub family: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Schema {
    tables: HashMap<(String, String), TableKeys>,
}

/// Value bytes for hashing; `None` for NULL (NULLs never collide in a unique key).
fn key_bytes(v: &Value, fold: bool, out: &mut Vec<u8>) -> Option<()> {
    match v {
        Value::Null => return None,
        Value::Int(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(2);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Text(t) => {
            out.push(3);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(4);
            if fold {
                // PAD SPACE collations ignore trailing spaces; case-insensitive ones case.
                let s = String::from_utf8_lossy(b);
                out.extend_from_slice(s.trim_end_matches(' ').to_lowercase().as_bytes());
            } else {
                out.extend_from_slice(b);
            }
        }
    }
    out.extend_from_slice(&(out.len() as u32).to_le_bytes());
    Some(())
}

impl TableKeys {
    /// Add the keys of one row image. `false` when the image cannot name its row by any key
    /// (the caller then takes the table whole). `may_lack_keys`: an update's after image,
    /// which with `binlog_row_image = MINIMAL` holds only the changed columns; the row keeps
    /// the key of its before image then.
    pub fn add_row_keys(
        &self,
        ws: &mut WriteSet,
        table: u64,
        image: &[Option<Value>],
        may_lack_keys: bool,
    ) -> bool {
        let mut formed = false;
        let mut buf = Vec::with_capacity(32);
        for (k, key) in self.unique.iter().enumerate() {
            buf.clear();
            let mut present = 0;
            let mut null = false;
            for col in key {
                match image.get(col.index) {
                    None => return false,
                    Some(None) => {}
                    Some(Some(v)) => {
                        present += 1;
                        if key_bytes(v, col.fold, &mut buf).is_none() {
                            null = true;
                        }
                    }
                }
            }
            if present == key.len() {
                if !null {
                    ws.row(WriteSet::row_id(table, k, &buf));
                    formed = true;
                }
            } else if present > 0 {
                // Part of a key changed, the rest is not in the image: its new value is unknown.
                return false;
            } else if !may_lack_keys {
                return false;
            }
        }
        formed || may_lack_keys
    }
}

impl Schema {
    pub fn table(&self, db: &str, table: &str) -> Option<&TableKeys> {
        self.tables.get(&(db.to_string(), table.to_string()))
    }

    pub async fn load(s: &mut Session) -> Result<Schema> {
        let rows = s
            .rows(
                "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, IFNULL(t.ENGINE, ''), s.INDEX_NAME, \
                 c.ORDINAL_POSITION, IFNULL(c.COLLATION_NAME, ''), s.SUB_PART \
                 FROM information_schema.TABLES t \
                 LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = t.TABLE_SCHEMA \
                   AND s.TABLE_NAME = t.TABLE_NAME AND s.NON_UNIQUE = 0 \
                 LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA \
                   AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME \
                 WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN \
                   ('mysql', 'information_schema', 'performance_schema', 'sys') \
                 ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX",
            )
            .await?;
        let mut tables: HashMap<(String, String), TableKeys> = HashMap::new();
        // (table, index) -> columns, or None once a part is unusable.
        let mut indexes: HashMap<(String, String, String), Option<Vec<KeyColumn>>> = HashMap::new();
        let mut order: Vec<(String, String, String)> = Vec::new();
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let (db, name, engine) = (text(0), text(1), text(2));
            let entry = tables
                .entry((db.clone(), name.clone()))
                .or_insert_with(|| TableKeys {
                    transactional: engine.eq_ignore_ascii_case("InnoDB"),
                    ..TableKeys::default()
                });
            let _ = entry;
            let Some(index) = r.get(3).cloned().flatten() else {
                continue;
            };
            let key = (db, name, index);
            if !indexes.contains_key(&key) {
                order.push(key.clone());
            }
            let slot = indexes.entry(key).or_insert_with(|| Some(Vec::new()));
            let position = r
                .get(4)
                .cloned()
                .flatten()
                .and_then(|p| p.parse::<usize>().ok());
            let prefix = r.get(6).cloned().flatten().is_some();
            match (slot.as_mut(), position) {
                (Some(cols), Some(p)) if p >= 1 && !prefix => {
                    let collation = text(5).to_ascii_lowercase();
                    cols.push(KeyColumn {
                        index: p - 1,
                        fold: !collation.is_empty()
                            && !collation.ends_with("_bin")
                            && collation != "binary",
                    });
                }
                _ => *slot = None,
            }
        }
        for key in order {
            if let Some(Some(cols)) = indexes.remove(&key) {
                if let Some(t) = tables.get_mut(&(key.0, key.1)) {
                    t.unique.push(cols);
                }
            }
        }
        // Foreign keys: tables joined directly or through others form one family.
        let fks = s
            .rows(
                "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, \
                 REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS",
            )
            .await?;
        let mut parent: HashMap<(String, String), (String, String)> = HashMap::new();
        fn root(
            parent: &HashMap<(String, String), (String, String)>,
            mut k: (String, String),
        ) -> (String, String) {
            while let Some(p) = parent.get(&k) {
                if *p == k {
                    break;
                }
                k = p.clone();
            }
            k
        }
        for r in fks {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let a = root(&parent, (text(0), text(1)));
            let b = root(&parent, (text(2), text(3)));
            if a != b {
                parent.insert(a, b);
            }
        }
        let members: Vec<(String, String)> = parent.keys().cloned().collect();
        for m in members {
            let r = root(&parent, m.clone());
            let family = WriteSet::table_id(&format!("fk-family:{}", r.0), &r.1);
            for t in [m, r] {
                if let Some(keys) = tables.get_mut(&t) {
                    keys.family = Some(family);
                }
            }
        }
        Ok(Schema { tables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TableKeys {
        TableKeys {
            transactional: true,
            unique: vec![
                vec![KeyColumn {
                    index: 0,
                    fold: false,
                }],
                vec![KeyColumn {
                    index: 2,
                    fold: true,
                }],
            ],
            family: None,
        }
    }

    #[test]
    fn case_folded_keys_meet_and_nulls_do_not() {
        let k = keys();
        let t = WriteSet::table_id("d", "t");
        let mut a = WriteSet::default();
        a.touch(t);
        let row = |id: i64, email: Option<&str>| {
            vec![
                Some(Value::Int(id)),
                Some(Value::Int(0)),
                Some(email.map_or(Value::Null, |e| Value::Bytes(e.as_bytes().to_vec()))),
            ]
        };
        assert!(k.add_row_keys(&mut a, t, &row(1, Some("Ann@x ")), false));
        let mut b = WriteSet::default();
        b.touch(t);
        assert!(k.add_row_keys(&mut b, t, &row(2, Some("ann@x")), false));
        assert!(a.meets(&b), "the _ci unique key is the same key");
        let mut c = WriteSet::default();
        c.touch(t);
        assert!(k.add_row_keys(&mut c, t, &row(3, None), false));
        let mut d = WriteSet::default();
        d.touch(t);
        assert!(k.add_row_keys(&mut d, t, &row(4, None), false));
        assert!(!c.meets(&d), "NULLs in a unique key do not collide");
        // A MINIMAL after image without key columns keeps the before image's key.
        let minimal = vec![None, Some(Value::Int(5)), None];
        assert!(k.add_row_keys(&mut d, t, &minimal, true));
        assert!(!k.add_row_keys(&mut d, t, &minimal, false));
        // Part of a two-column key: unknown.
        let two = TableKeys {
            unique: vec![vec![
                KeyColumn {
                    index: 0,
                    fold: false,
                },
                KeyColumn {
                    index: 1,
                    fold: false,
                },
            ]],
            ..keys()
        };
        assert!(!two.add_row_keys(&mut d, t, &[Some(Value::Int(1)), None], true));
    }
}
