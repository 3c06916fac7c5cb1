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

use serde::{Deserialize, Serialize};

/// What a logical backup holds beyond the generic manifest: its schema files, its tables with
/// their chunks, and how the snapshot was taken.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogicalLayout {
    /// Schema files (relative to the backup directory) in the order they load.
    pub schema_files: Vec<SchemaFile>,
    pub tables: Vec<LogicalTable>,
    /// How the N snapshots were lined up, and for how long commits were blocked.
    pub snapshot: SnapshotInfo,
    /// The source's global `sql_mode` at backup time (for the record; loads use their own).
    pub source_sql_mode: String,
    /// Tables whose engine has no transactions (MyISAM, Aria…): read as they were when read,
    /// not as of the snapshot.
    #[serde(default)]
    pub non_transactional: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchemaFile {
    pub kind: schema::Kind,
    pub path: String,
    pub objects: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotInfo {
    /// `BACKUP STAGE BLOCK_COMMIT`, `FLUSH TABLES WITH READ LOCK`, or `none` (one connection).
    pub lock: String,
    pub connections: usize,
    pub lock_wait_ms: u64,
    pub lock_hold_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogicalTable {
    pub database: String,
    pub name: String,
    pub engine: Option<String>,
    /// The columns in the data files, in order (generated columns are left to the server).
    pub columns: Vec<String>,
    /// The key the chunks were cut on, if any.
    pub chunk_key: Option<String>,
    pub rows: u64,
    /// Order-independent checksum of the encoded rows ([`format::TableSum`]).
    pub checksum: String,
    pub chunks: Vec<Chunk>,
    /// System-versioned: only current rows are in the backup (history is not kept).
    #[serde(default)]
    pub system_versioned: bool,
    /// ENUM columns: a stored '' (the value a lax sql_mode keeps for a non-member) loads back
    /// as '' but with a truncation warning, which the load must not take for damage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chunk {
    /// Relative to the backup directory; its size and hash are in the manifest's `files`.
    pub path: String,
    pub rows: u64,
    /// Uncompressed bytes.
    pub bytes: u64,
}

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
