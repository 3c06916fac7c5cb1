//! Compatibility shim: the helpers that lived here are in `tests/support` now (one harness for
//! every integration test). Kept only so that tests written against the old layout still build;
//! new tests use `support::…` directly.
#![allow(dead_code, unused_imports)]

use std::path::Path;

pub use crate::support::{
    backup_ids, checksums, config_for, config_with, json, object_definitions, zrm_ok,
    MARIADB_TOOLS as BINLOG_TOOLS,
};

pub const SERVER_TOOLS: &[&str] = &["mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"];

/// Run zrm with a config; returns the output (never panics on failure).
pub fn zrm(config: &Path, args: &[&str]) -> crate::support::Output {
    crate::support::run_zrm(config, args)
}

pub fn write_private(path: &Path, content: &str) {
    crate::support::write_private(path, content.as_bytes())
}
