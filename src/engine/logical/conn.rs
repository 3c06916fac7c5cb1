//! A dump connection: the lean row reader ([`crate::mysql::wire`]) when the server's
//! authentication allows it, else the general driver. Both read with the same session
//! settings and give the same bytes.

use crate::connection::ConnectionConfig;
use crate::error::Result;
use crate::mysql::wire::RawConn;
use crate::mysql::{self, Session};

pub enum DumpConn {
    Raw(RawConn),
    Driver(Session),
}

impl DumpConn {
    pub async fn open(cfg: &ConnectionConfig) -> Result<DumpConn> {
        // For comparing the two readers (the tests check they write identical bytes).
        if std::env::var_os("ZRM_DUMP_READER").is_some_and(|v| v == "driver") {
            return Ok(DumpConn::Driver(mysql::connect(cfg).await?));
        }
        match RawConn::connect(cfg).await {
            Ok(Some(raw)) => return Ok(DumpConn::Raw(raw)),
            Ok(None) => tracing::debug!("the server wants an auth method the row reader lacks"),
            Err(e) => tracing::debug!("the row reader could not connect: {e}"),
        }
        Ok(DumpConn::Driver(mysql::connect(cfg).await?))
    }

    pub fn server(&self) -> &str {
        match self {
            DumpConn::Raw(r) => &r.server,
            DumpConn::Driver(s) => &s.server,
        }
    }

    pub async fn exec(&mut self, q: &str) -> Result<()> {
        match self {
            DumpConn::Raw(r) => r.exec(q).await,
            DumpConn::Driver(s) => s.exec(q).await,
        }
    }

    pub async fn rows(&mut self, q: &str) -> Result<Vec<Vec<Option<String>>>> {
        match self {
            DumpConn::Raw(r) => r.rows(q).await,
            DumpConn::Driver(s) => s.rows(q).await,
        }
    }

    pub async fn value(&mut self, q: &str) -> Result<Option<String>> {
        match self {
            DumpConn::Raw(r) => r.value(q).await,
            DumpConn::Driver(s) => s.value(q).await,
        }
    }

    pub async fn close(self) {
        match self {
            DumpConn::Raw(r) => r.close().await,
            DumpConn::Driver(s) => s.close().await,
        }
    }
}
