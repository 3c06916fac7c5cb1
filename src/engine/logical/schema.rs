//! Schema objects: read with SHOW CREATE, stored one file per kind, replayed with the session
//! settings each object was created under.
//!
//! A schema file is a series of records: a header line `-- zrm {json}` naming the object, its
//! `sql_mode`, client character set and collation (routines, triggers, views and events keep
//! the meaning of their literals only under those), and the byte length of the statement that
//! follows. The length, not a delimiter, ends the statement, so no statement text — a
//! procedure body with `;` or `-- zrm` in a string — can break the framing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::discover::{TableInfo, TableKind};
use crate::error::{Error, Result};
use crate::mysql::conn::{quote_ident, quote_str};
use crate::mysql::Session;

pub use crate::manifest::logical::SchemaKind as Kind;

/// One statement of a schema file and the session it runs in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// `database`, `table`, `sequence`, `setval`, `view`, `procedure`, `function`, `trigger`,
    /// `event`, `user`, `grant`.
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset_client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation_connection: Option<String>,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub header: Header,
    pub statement: Vec<u8>,
}

impl Object {
    pub(crate) fn new(object: &str, db: Option<&str>, name: &str, statement: Vec<u8>) -> Object {
        Object {
            header: Header {
                object: object.into(),
                db: db.map(str::to_string),
                name: name.into(),
                sql_mode: None,
                time_zone: None,
                charset_client: None,
                collation_connection: None,
                len: statement.len(),
            },
            statement,
        }
    }
}

pub fn encode(objects: &[Object]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in objects {
        let mut h = o.header.clone();
        h.len = o.statement.len();
        out.extend_from_slice(b"-- zrm ");
        out.extend_from_slice(&serde_json::to_vec(&h).expect("headers serialise"));
        out.push(b'\n');
        out.extend_from_slice(&o.statement);
        out.extend_from_slice(b";\n");
    }
    out
}

pub fn decode(bytes: &[u8], what: &str) -> Result<Vec<Object>> {
    let bad = |at: usize, why: &str| {
        Error::Restore(format!(
            "{what} is damaged at byte {at}: {why}; the backup cannot be restored from it"
        ))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if !rest.starts_with(b"-- zrm ") {
            return Err(bad(at, "expected a `-- zrm` header"));
        }
        let eol = memchr::memchr(b'\n', rest).ok_or_else(|| bad(at, "header without end"))?;
        let header: Header = serde_json::from_slice(&rest[7..eol])
            .map_err(|e| bad(at, &format!("unreadable header: {e}")))?;
        let start = eol + 1;
        let end = start
            .checked_add(header.len)
            .filter(|&e| e.checked_add(2).is_some_and(|e2| e2 <= rest.len()))
            .ok_or_else(|| bad(at, "statement cut short"))?;
        if &rest[end..end + 2] != b";\n" {
            return Err(bad(at, "statement cut short"));
        }
        out.push(Object {
            statement: rest[start..end].to_vec(),
            header,
        });
        at += end + 2;
    }
    Ok(out)
}

fn text(v: &Option<Vec<u8>>) -> Option<String> {
    v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Rows of a SHOW statement as raw bytes (statement text must not be re-encoded).
async fn raw_rows(s: &mut Session, q: &str) -> Result<Vec<Vec<Option<Vec<u8>>>>> {
    use mysql_async::prelude::Queryable;
    let rows: std::result::Result<Vec<mysql_async::Row>, _> = s.conn.query(q).await;
    let rows = rows.map_err(|e| Error::Mysql {
        server: s.server.clone(),
        message: format!("query `{q}` failed: {e}"),
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            r.unwrap()
                .into_iter()
                .map(|v| match v {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(b),
                    other => Some(other.as_sql(true).into_bytes()),
                })
                .collect()
        })
        .collect())
}

/// The one-row answer of a SHOW CREATE, or a clear error when the account may not see it.
async fn show_create(s: &mut Session, q: &str, what: &str) -> Result<Vec<Option<Vec<u8>>>> {
    raw_rows(s, q).await?.into_iter().next().ok_or_else(|| {
        Error::Backup(format!(
            "`{q}` returned nothing: {what} disappeared during the backup, or the account \
             lacks the privilege to see it"
        ))
    })
}

fn with_session(
    mut o: Object,
    sql_mode: &Option<Vec<u8>>,
    cs: &Option<Vec<u8>>,
    coll: &Option<Vec<u8>>,
) -> Object {
    o.header.sql_mode = text(sql_mode);
    o.header.charset_client = text(cs);
    o.header.collation_connection = text(coll);
    o
}

fn need(v: Option<&Option<Vec<u8>>>, q: &str) -> Result<Vec<u8>> {
    v.cloned().flatten().ok_or_else(|| {
        Error::Backup(format!(
            "`{q}` returned no statement text: the account needs the privilege to read the \
             object's definition (SELECT on mysql.proc / SHOW VIEW / TRIGGER / EVENT)"
        ))
    })
}

pub struct SchemaRequest<'a> {
    pub databases: &'a [String],
    pub tables: &'a [TableInfo],
    /// `db.table` names left out of the backup: their triggers are left out too.
    pub excluded_tables: &'a BTreeSet<String>,
    pub include_users: bool,
}

/// Read every schema object of the selected databases, grouped by kind in load order.
pub async fn read(s: &mut Session, req: &SchemaRequest<'_>) -> Result<Vec<(Kind, Vec<Object>)>> {
    let mut kinds: BTreeMap<Kind, Vec<Object>> = BTreeMap::new();
    let list = req
        .databases
        .iter()
        .map(|d| quote_str(d))
        .collect::<Vec<_>>()
        .join(",");
    for db in req.databases {
        let q = format!("SHOW CREATE DATABASE {}", quote_ident(db));
        let r = show_create(s, &q, &format!("database {db}")).await?;
        let stmt = need(r.get(1), &q)?;
        kinds
            .entry(Kind::Databases)
            .or_default()
            .push(Object::new("database", Some(db), db, stmt));
    }
    for t in req.tables {
        match t.kind {
            TableKind::Sequence => {
                let q = format!("SHOW CREATE SEQUENCE {}", t.qualified());
                let r = show_create(s, &q, &format!("sequence {}", t.key())).await?;
                let stmt = need(r.get(1), &q)?;
                let seq = kinds.entry(Kind::Sequences).or_default();
                seq.push(Object::new("sequence", Some(&t.database), &t.name, stmt));
                let next = s
                    .value(&format!(
                        "SELECT next_not_cached_value FROM {}",
                        t.qualified()
                    ))
                    .await?;
                if let Some(next) = next {
                    let setval = format!("SELECT SETVAL({}, {next}, 0)", t.qualified());
                    seq.push(Object::new(
                        "setval",
                        Some(&t.database),
                        &t.name,
                        setval.into_bytes(),
                    ));
                }
            }
            TableKind::Base | TableKind::SystemVersioned => {
                let q = format!("SHOW CREATE TABLE {}", t.qualified());
                let r = show_create(s, &q, &format!("table {}", t.key())).await?;
                let stmt = need(r.get(1), &q)?;
                kinds.entry(Kind::Tables).or_default().push(Object::new(
                    "table",
                    Some(&t.database),
                    &t.name,
                    stmt,
                ));
            }
        }
    }
    if list.is_empty() {
        return Ok(kinds.into_iter().collect());
    }

    // Views, in an order where each comes after the views it reads from.
    let mut views = Vec::new();
    for r in s
        .rows(&format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA IN ({list}) ORDER BY TABLE_SCHEMA, TABLE_NAME"
        ))
        .await?
    {
        let (Some(db), Some(name)) = (r[0].clone(), r[1].clone()) else {
            continue;
        };
        let q = format!(
            "SHOW CREATE VIEW {}.{}",
            quote_ident(&db),
            quote_ident(&name)
        );
        let v = show_create(s, &q, &format!("view {db}.{name}")).await?;
        let stmt = need(v.get(1), &q)?;
        views.push(with_session(
            Object::new("view", Some(&db), &name, stmt),
            &None,
            &v.get(2).cloned().flatten(),
            &v.get(3).cloned().flatten(),
        ));
    }
    if !views.is_empty() {
        kinds.insert(Kind::Views, order_views(views));
    }

    for r in s
        .rows(&format!(
            "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA IN ({list}) AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') \
             ORDER BY ROUTINE_SCHEMA, ROUTINE_TYPE, ROUTINE_NAME"
        ))
        .await?
    {
        let (Some(db), Some(name), Some(ty)) = (r[0].clone(), r[1].clone(), r[2].clone()) else {
            continue;
        };
        let q = format!(
            "SHOW CREATE {ty} {}.{}",
            quote_ident(&db),
            quote_ident(&name)
        );
        let v = show_create(s, &q, &format!("{} {db}.{name}", ty.to_lowercase())).await?;
        let stmt = need(v.get(2), &q)?;
        kinds.entry(Kind::Routines).or_default().push(with_session(
            Object::new(&ty.to_lowercase(), Some(&db), &name, stmt),
            &v.get(1).cloned().flatten(),
            &v.get(3).cloned().flatten(),
            &v.get(4).cloned().flatten(),
        ));
    }

    for r in s
        .rows(&format!(
            "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA IN ({list}) \
             ORDER BY TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"
        ))
        .await?
    {
        let (Some(db), Some(name), Some(table)) = (r[0].clone(), r[1].clone(), r[2].clone()) else {
            continue;
        };
        if req.excluded_tables.contains(&format!("{db}.{table}")) {
            continue;
        }
        let q = format!("SHOW CREATE TRIGGER {}.{}", quote_ident(&db), quote_ident(&name));
        let v = show_create(s, &q, &format!("trigger {db}.{name}")).await?;
        let stmt = need(v.get(2), &q)?;
        kinds.entry(Kind::Triggers).or_default().push(with_session(
            Object::new("trigger", Some(&db), &name, stmt),
            &v.get(1).cloned().flatten(),
            &v.get(3).cloned().flatten(),
            &v.get(4).cloned().flatten(),
        ));
    }

    for r in s
        .rows(&format!(
            "SELECT EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS \
             WHERE EVENT_SCHEMA IN ({list}) ORDER BY EVENT_SCHEMA, EVENT_NAME"
        ))
        .await?
    {
        let (Some(db), Some(name)) = (r[0].clone(), r[1].clone()) else {
            continue;
        };
        let q = format!(
            "SHOW CREATE EVENT {}.{}",
            quote_ident(&db),
            quote_ident(&name)
        );
        let v = show_create(s, &q, &format!("event {db}.{name}")).await?;
        let stmt = need(v.get(3), &q)?;
        let mut o = with_session(
            Object::new("event", Some(&db), &name, stmt),
            &v.get(1).cloned().flatten(),
            &v.get(4).cloned().flatten(),
            &v.get(5).cloned().flatten(),
        );
        o.header.time_zone = text(&v.get(2).cloned().flatten());
        kinds.entry(Kind::Events).or_default().push(o);
    }

    if req.include_users {
        kinds.insert(Kind::Users, users(s).await?);
    }
    Ok(kinds.into_iter().collect())
}

/// Accounts that belong to the server itself, never backed up or restored.
const SYSTEM_USERS: &[&str] = &[
    "root",
    "mariadb.sys",
    "mysql.sys",
    "mysql.session",
    "mysql.infoschema",
    "",
];

/// Accounts and roles with their grants: every role and account is created first, then the
/// grants (a grant may name a role, and `SET DEFAULT ROLE` needs both ends).
async fn users(s: &mut Session) -> Result<Vec<Object>> {
    let denied = |e: Error| {
        Error::Backup(format!(
            "include_users = true needs SELECT on mysql.user: {e}"
        ))
    };
    // MariaDB marks roles with is_role; MySQL has no such column (its roles are locked accounts
    // that SHOW CREATE USER handles like any other).
    let accounts = match s
        .rows("SELECT User, Host, is_role FROM mysql.user ORDER BY User, Host")
        .await
    {
        Ok(rows) => rows,
        Err(_) => s
            .rows("SELECT User, Host, 'N' FROM mysql.user ORDER BY User, Host")
            .await
            .map_err(denied)?,
    };
    // MySQL's CREATE USER names the account's default roles, which must exist by then: the
    // accounts used as someone's default role are created first. (MariaDB has no such table;
    // its roles are created before any grant anyway.)
    let default_roles: BTreeSet<(String, String)> = s
        .rows("SELECT DISTINCT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles")
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?)))
        .collect();
    let mut accounts = accounts;
    accounts.sort_by_key(|r| {
        let key = (
            r.first().cloned().flatten().unwrap_or_default(),
            r.get(1).cloned().flatten().unwrap_or_default(),
        );
        !default_roles.contains(&key)
    });
    let mut creates = Vec::new();
    let mut grants = Vec::new();
    for r in accounts {
        let (Some(user), Some(host)) = (r[0].clone(), r[1].clone()) else {
            continue;
        };
        if SYSTEM_USERS.contains(&user.as_str()) {
            continue;
        }
        let is_role = r[2].as_deref() == Some("Y");
        let account = if is_role {
            quote_ident(&user)
        } else {
            format!("{}@{}", quote_str(&user), quote_str(&host))
        };
        if is_role {
            creates.push(Object::new(
                "role",
                None,
                &account,
                format!("CREATE ROLE {account}").into_bytes(),
            ));
        } else {
            let q = format!("SHOW CREATE USER {account}");
            let create = show_create(s, &q, &format!("user {account}")).await?;
            let stmt = need(create.first(), &q)?;
            creates.push(Object::new("user", None, &account, stmt));
        }
        for g in raw_rows(s, &format!("SHOW GRANTS FOR {account}")).await? {
            if let Some(Some(grant)) = g.into_iter().next() {
                grants.push(Object::new("grant", None, &account, grant));
            }
        }
    }
    creates.extend(grants);
    Ok(creates)
}

/// Depth-first order: a view after every view whose qualified name its text mentions.
fn order_views(views: Vec<Object>) -> Vec<Object> {
    let names: Vec<Vec<u8>> = views
        .iter()
        .map(|v| {
            format!(
                "{}.{}",
                quote_ident(v.header.db.as_deref().unwrap_or_default()),
                quote_ident(&v.header.name)
            )
            .into_bytes()
        })
        .collect();
    let deps: Vec<Vec<usize>> = views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (0..views.len())
                .filter(|&j| j != i && memchr::memmem::find(&v.statement, &names[j]).is_some())
                .collect()
        })
        .collect();
    let mut order = Vec::new();
    let mut state = vec![0u8; views.len()]; // 0 new, 1 visiting, 2 done
    fn visit(i: usize, deps: &[Vec<usize>], state: &mut [u8], order: &mut Vec<usize>) {
        if state[i] != 0 {
            return; // done, or a cycle (cannot happen for views; the load retries anyway)
        }
        state[i] = 1;
        for &d in &deps[i] {
            visit(d, deps, state, order);
        }
        state[i] = 2;
        order.push(i);
    }
    for i in 0..views.len() {
        visit(i, &deps, &mut state, &mut order);
    }
    let mut slots: Vec<Option<Object>> = views.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_whatever_the_body_holds() {
        let body = b"CREATE PROCEDURE p() BEGIN SELECT ';\n-- zrm {}'; END".to_vec();
        let objs = vec![
            Object::new("procedure", Some("d"), "p", body),
            Object::new("table", Some("d"), "t", b"CREATE TABLE t (a int)".to_vec()),
        ];
        let bytes = encode(&objs);
        assert_eq!(decode(&bytes, "test").unwrap(), objs);
        let cut = &bytes[..bytes.len() - 5];
        assert!(decode(cut, "test")
            .unwrap_err()
            .to_string()
            .contains("cut short"));
    }

    #[test]
    fn views_come_after_their_dependencies() {
        let v = |name: &str, body: &str| Object::new("view", Some("d"), name, body.into());
        let ordered = order_views(vec![
            v("a", "CREATE VIEW `d`.`a` AS SELECT * FROM `d`.`b`"),
            v("b", "CREATE VIEW `d`.`b` AS SELECT * FROM `d`.`c`"),
            v("c", "CREATE VIEW `d`.`c` AS SELECT 1"),
        ]);
        let names: Vec<_> = ordered.iter().map(|o| o.header.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "a"]);
    }
}
