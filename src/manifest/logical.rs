//! A logical backup's layout in its manifest: schema files, tables and their chunks, and how
//! the snapshot was taken.

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
    pub kind: SchemaKind,
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
    /// Order-independent checksum of the encoded rows (`engine::logical::format::TableSum`).
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

/// The kinds of schema objects, one file each.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SchemaKind {
    Databases,
    Tables,
    Sequences,
    Views,
    Routines,
    Triggers,
    Events,
    Users,
}

impl SchemaKind {
    pub fn file_stem(self) -> &'static str {
        match self {
            SchemaKind::Databases => "databases",
            SchemaKind::Tables => "tables",
            SchemaKind::Sequences => "sequences",
            SchemaKind::Views => "views",
            SchemaKind::Routines => "routines",
            SchemaKind::Triggers => "triggers",
            SchemaKind::Events => "events",
            SchemaKind::Users => "users",
        }
    }
}
