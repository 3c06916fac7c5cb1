//! Opening a connection with an error a DBA can act on.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

use crate::connection::ConnectionConfig;
use crate::error::{Error, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection that remembers which server it talks to, for error messages.
pub struct Session {
    pub conn: Conn,
    pub server: String,
}

pub async fn connect(cfg: &ConnectionConfig) -> Result<Session> {
    let server = cfg.display();
    let mut opts = OptsBuilder::default()
        .user(Some(cfg.user.clone()))
        .pass(cfg.password.as_ref().map(|p| p.expose().to_string()))
        .prefer_socket(false)
        .stmt_cache_size(0);
    opts = match cfg.local_socket() {
        Some(sock) => opts.socket(Some(sock.to_string_lossy().into_owned())),
        None => opts
            .ip_or_hostname(cfg.tcp_host().to_string())
            .tcp_port(cfg.port),
    };
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Err(_) => {
            return Err(Error::Mysql {
                server,
                message: format!(
                    "no answer within {}s: check that the server is up and that host/port \
                     (or socket) in the configuration are right",
                    CONNECT_TIMEOUT.as_secs()
                ),
            })
        }
        Ok(Err(e)) => return Err(connect_error(&server, cfg, e)),
        Ok(Ok(c)) => c,
    };
    Ok(Session { conn, server })
}

fn connect_error(server: &str, cfg: &ConnectionConfig, e: mysql_async::Error) -> Error {
    let message = match &e {
        mysql_async::Error::Server(se) if se.code == 1045 => format!(
            "access denied ({}): check `user` and the password in `password_file` or \
             `defaults_file` for this set{}",
            se.message,
            if cfg.password.is_none() {
                " (no password is configured)"
            } else {
                ""
            }
        ),
        mysql_async::Error::Server(se) => format!("server refused the connection: {}", se.message),
        mysql_async::Error::Io(io) => format!(
            "cannot connect: {io}; is the server running, and are host/port (or socket) right?"
        ),
        other => format!("cannot connect: {other}"),
    };
    Error::Mysql {
        server: server.to_string(),
        message,
    }
}

impl Session {
    fn err(&self, query: &str, e: mysql_async::Error) -> Error {
        Error::Mysql {
            server: self.server.clone(),
            message: format!("query `{query}` failed: {e}"),
        }
    }

    pub async fn exec(&mut self, query: &str) -> Result<()> {
        let r = self.conn.query_drop(query).await;
        r.map_err(|e| self.err(query, e))
    }

    /// All rows, each column as text (`None` for NULL).
    pub async fn rows(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>> {
        let r: std::result::Result<Vec<Row>, _> = self.conn.query(query).await;
        let rows = r.map_err(|e| self.err(query, e))?;
        Ok(rows.into_iter().map(row_to_text).collect())
    }

    /// All rows, each as column name → text (`None` for NULL): for statements whose columns
    /// differ between flavors and versions (`SHOW REPLICA STATUS`), read by name.
    pub async fn named_rows(
        &mut self,
        query: &str,
    ) -> Result<Vec<std::collections::BTreeMap<String, Option<String>>>> {
        let r: std::result::Result<Vec<Row>, _> = self.conn.query(query).await;
        let rows = r.map_err(|e| self.err(query, e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let names: Vec<String> = row
                    .columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect();
                names.into_iter().zip(row_to_text(row)).collect()
            })
            .collect())
    }

    /// The first column of the first row, as text.
    pub async fn value(&mut self, query: &str) -> Result<Option<String>> {
        Ok(self
            .rows(query)
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

fn row_to_text(row: Row) -> Vec<Option<String>> {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            other => Some(other.as_sql(true).trim_matches('\'').to_string()),
        })
        .collect()
}

/// Quote an identifier with backticks.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Quote a string literal.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
