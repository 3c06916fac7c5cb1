//! The `logical` method: zrm's own parallel, consistent dump and parallel load.
//!
//! Dump: N connections open `START TRANSACTION WITH CONSISTENT SNAPSHOT` while commits are
//! blocked for a moment ([`snapshot`]), so all N read one state; the binary-log coordinates of
//! that state come from the snapshot itself. Tables are cut into primary-key ranges
//! ([`discover`]), read on the N connections and written as tab-separated chunk files
//! ([`format`]), each compressed and hashed as it streams ([`dump`]). Schema objects go into one
//! file per kind ([`schema`]).
//!
//! Load: schema, then chunks on N connections with `LOAD DATA LOCAL INFILE` (multi-row INSERT
//! when the target refuses it), each chunk one transaction that also records its completion,
//! so an interrupted load resumes exactly ([`load`]); secondary indexes are built after the
//! data ([`ddl`]); views, routines, triggers and events last.

pub mod conn;
pub mod ddl;
pub mod discover;
pub mod dump;
pub mod format;
pub mod load;
pub mod schema;
pub mod snapshot;

pub use crate::manifest::logical::{Chunk, LogicalLayout, LogicalTable, SchemaFile, SnapshotInfo};

/// Whether an engine rolls back: only then can a chunk load atomically, and only then is a
/// table read as of the snapshot.
pub fn transactional_engine(engine: Option<&str>) -> bool {
    engine.is_none_or(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "innodb" | "xtradb" | "rocksdb" | "tokudb"
        )
    })
}

/// Engines whose rows live elsewhere (another table, another server) or nowhere: their
/// definition is backed up, never their rows (restoring them would write the rows twice, or
/// into a remote server).
pub fn holds_own_rows(engine: Option<&str>) -> bool {
    !engine.is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "mrg_myisam"
                | "merge"
                | "federated"
                | "federatedx"
                | "connect"
                | "spider"
                | "blackhole"
        )
    })
}

impl LogicalTable {
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            crate::mysql::conn::quote_ident(&self.database),
            crate::mysql::conn::quote_ident(&self.name)
        )
    }
}
