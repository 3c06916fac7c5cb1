//! Event headers, event type codes and names, and the format description event.

use super::bytes::Cursor;

pub const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];
pub const HEADER_LEN: usize = 19;
pub const CHECKSUM_LEN: usize = 4;

/// Set in the format description event of a binlog the server has not closed yet.
pub const LOG_EVENT_BINLOG_IN_USE_F: u16 = 0x1;
/// Set on events the server makes up for a replication stream (not in the file).
pub const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;

pub mod code {
    pub const START_V3: u8 = 1;
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const INTVAR: u8 = 5;
    pub const RAND: u8 = 13;
    pub const USER_VAR: u8 = 14;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const BEGIN_LOAD_QUERY: u8 = 17;
    pub const EXECUTE_LOAD_QUERY: u8 = 18;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const INCIDENT: u8 = 26;
    pub const HEARTBEAT: u8 = 27;
    pub const ROWS_QUERY: u8 = 29;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const GTID: u8 = 33;
    pub const ANONYMOUS_GTID: u8 = 34;
    pub const PREVIOUS_GTIDS: u8 = 35;
    pub const XA_PREPARE: u8 = 38;
    pub const PARTIAL_UPDATE_ROWS: u8 = 39;
    pub const TRANSACTION_PAYLOAD: u8 = 40;
    pub const HEARTBEAT_V2: u8 = 41;
    /// MySQL 8.3+: a GTID with a tag (`uuid:tag:n`).
    pub const GTID_TAGGED: u8 = 42;
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIA_GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const START_ENCRYPTION: u8 = 164;
    pub const QUERY_COMPRESSED: u8 = 165;
    pub const WRITE_ROWS_COMPRESSED_V1: u8 = 166;
    pub const UPDATE_ROWS_COMPRESSED_V1: u8 = 167;
    pub const DELETE_ROWS_COMPRESSED_V1: u8 = 168;
    pub const WRITE_ROWS_COMPRESSED: u8 = 169;
    pub const UPDATE_ROWS_COMPRESSED: u8 = 170;
    pub const DELETE_ROWS_COMPRESSED: u8 = 171;
}

/// The server's own name for an event type (as `SHOW BINLOG EVENTS` and mariadb-binlog say it).
pub fn type_name(t: u8) -> &'static str {
    use code::*;
    match t {
        START_V3 => "Start_v3",
        QUERY => "Query",
        STOP => "Stop",
        ROTATE => "Rotate",
        INTVAR => "Intvar",
        RAND => "RAND",
        USER_VAR => "User var",
        FORMAT_DESCRIPTION => "Format_desc",
        XID => "Xid",
        BEGIN_LOAD_QUERY => "Begin_load_query",
        EXECUTE_LOAD_QUERY => "Execute_load_query",
        TABLE_MAP => "Table_map",
        WRITE_ROWS_V1 => "Write_rows_v1",
        UPDATE_ROWS_V1 => "Update_rows_v1",
        DELETE_ROWS_V1 => "Delete_rows_v1",
        INCIDENT => "Incident",
        HEARTBEAT => "Heartbeat",
        ROWS_QUERY => "Rows_query",
        WRITE_ROWS_V2 => "Write_rows",
        UPDATE_ROWS_V2 => "Update_rows",
        DELETE_ROWS_V2 => "Delete_rows",
        GTID => "Gtid",
        ANONYMOUS_GTID => "Anonymous_Gtid",
        PREVIOUS_GTIDS => "Previous_gtids",
        XA_PREPARE => "XA_prepare",
        PARTIAL_UPDATE_ROWS => "Update_rows_partial",
        TRANSACTION_PAYLOAD => "Transaction_payload",
        HEARTBEAT_V2 => "Heartbeat_v2",
        GTID_TAGGED => "Gtid",
        ANNOTATE_ROWS => "Annotate_rows",
        BINLOG_CHECKPOINT => "Binlog_checkpoint",
        MARIA_GTID => "Gtid",
        GTID_LIST => "Gtid_list",
        START_ENCRYPTION => "Start_encryption",
        QUERY_COMPRESSED => "Query_compressed",
        WRITE_ROWS_COMPRESSED_V1 => "Write_rows_compressed_v1",
        UPDATE_ROWS_COMPRESSED_V1 => "Update_rows_compressed_v1",
        DELETE_ROWS_COMPRESSED_V1 => "Delete_rows_compressed_v1",
        WRITE_ROWS_COMPRESSED => "Write_rows_compressed",
        UPDATE_ROWS_COMPRESSED => "Update_rows_compressed",
        DELETE_ROWS_COMPRESSED => "Delete_rows_compressed",
        _ => "Unknown",
    }
}

/// The kind of row change a rows event holds, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowsKind {
    Insert,
    Update,
    Delete,
}

/// (kind, version 2 post-header?, compressed?) for rows events.
pub fn rows_event(t: u8) -> Option<(RowsKind, bool, bool)> {
    use code::*;
    Some(match t {
        WRITE_ROWS_V1 => (RowsKind::Insert, false, false),
        UPDATE_ROWS_V1 => (RowsKind::Update, false, false),
        DELETE_ROWS_V1 => (RowsKind::Delete, false, false),
        WRITE_ROWS_V2 => (RowsKind::Insert, true, false),
        UPDATE_ROWS_V2 | PARTIAL_UPDATE_ROWS => (RowsKind::Update, true, false),
        DELETE_ROWS_V2 => (RowsKind::Delete, true, false),
        WRITE_ROWS_COMPRESSED_V1 => (RowsKind::Insert, false, true),
        UPDATE_ROWS_COMPRESSED_V1 => (RowsKind::Update, false, true),
        DELETE_ROWS_COMPRESSED_V1 => (RowsKind::Delete, false, true),
        WRITE_ROWS_COMPRESSED => (RowsKind::Insert, true, true),
        UPDATE_ROWS_COMPRESSED => (RowsKind::Update, true, true),
        DELETE_ROWS_COMPRESSED => (RowsKind::Delete, true, true),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventHeader {
    pub timestamp: u32,
    pub type_code: u8,
    pub server_id: u32,
    pub event_size: u32,
    /// Where the next event starts (the end of this one), as the server wrote it.
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    pub fn parse(b: &[u8; HEADER_LEN]) -> EventHeader {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        EventHeader {
            timestamp: u32_at(0),
            type_code: b[4],
            server_id: u32_at(5),
            event_size: u32_at(9),
            log_pos: u32_at(13),
            flags: u16::from_le_bytes([b[17], b[18]]),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlg {
    Off,
    Crc32,
}

/// What the format description event says about the rest of the file.
#[derive(Debug, Clone)]
pub struct FormatDescription {
    pub binlog_version: u16,
    pub server_version: String,
    pub header_len: u8,
    /// Post-header length per event type (index = type code - 1).
    pub post_header_len: Vec<u8>,
    pub checksum: ChecksumAlg,
    pub mariadb: bool,
}

impl FormatDescription {
    /// Parse an FDE body (everything after the common header, checksum included).
    ///
    /// Servers that write the checksum algorithm into the FDE (MySQL 5.6.1+, MariaDB 5.3+)
    /// always end it with the algorithm byte and a CRC32 of the event, even when
    /// `binlog_checksum` is NONE; the caller verifies that CRC before trusting anything here.
    /// Older servers (MySQL 5.0 to 5.6.0, MariaDB 5.1 and 5.2) write neither, and no event of
    /// theirs has a checksum: the rest of their FDE is the post-header lengths
    /// ([`pre_checksum`](Self::pre_checksum) tells them apart).
    pub fn parse(body: &[u8]) -> Result<FormatDescription, String> {
        let mut c = Cursor::new(body);
        let short = |e: super::bytes::Short| e.to_string();
        let binlog_version = c.u16("binlog version").map_err(short)?;
        let raw_version = c.take(50, "server version").map_err(short)?;
        let end = raw_version.iter().position(|&b| b == 0).unwrap_or(50);
        let server_version = String::from_utf8_lossy(&raw_version[..end]).into_owned();
        c.skip(4, "create timestamp").map_err(short)?;
        let header_len = c.u8("header length").map_err(short)?;
        let rest = c.rest();
        let mariadb = server_version.to_ascii_lowercase().contains("mariadb");
        if binlog_version == 4 && pre_checksum_version(&server_version, mariadb) {
            return Ok(FormatDescription {
                binlog_version,
                server_version,
                header_len,
                post_header_len: rest.to_vec(),
                checksum: ChecksumAlg::Off,
                mariadb,
            });
        }
        if !checksum_aware(&server_version, mariadb) || rest.len() < 5 {
            return Err(format!(
                "server version '{}' is not supported (MySQL 5.6.1+ or MariaDB 5.3+), or the \
                 format description is damaged",
                server_version.escape_default()
            ));
        }
        // The last 5 bytes: checksum algorithm, then the CRC32 of the event.
        let checksum = match rest[rest.len() - 5] {
            0 => ChecksumAlg::Off,
            1 => ChecksumAlg::Crc32,
            other => return Err(format!("unknown checksum algorithm {other}")),
        };
        Ok(FormatDescription {
            binlog_version,
            server_version,
            header_len,
            post_header_len: rest[..rest.len() - 5].to_vec(),
            checksum,
            mariadb,
        })
    }

    /// Whether an FDE body (checksum included, if any) comes from a server older than the
    /// checksums (see [`parse`](Self::parse)): version 4 of the format and a server version
    /// before MySQL 5.6.1 / MariaDB 5.3.
    pub fn pre_checksum(body: &[u8]) -> bool {
        if body.len() < 57 || u16::from_le_bytes([body[0], body[1]]) != 4 {
            return false;
        }
        let raw = &body[2..52];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(50);
        let version = String::from_utf8_lossy(&raw[..end]);
        pre_checksum_version(&version, version.to_ascii_lowercase().contains("mariadb"))
    }

    /// The post-header length of an event type, with the usual value if the FDE omits it.
    pub fn post_header(&self, type_code: u8, default: usize) -> usize {
        usize::from(type_code)
            .checked_sub(1)
            .and_then(|i| self.post_header_len.get(i))
            .map_or(default, |&l| usize::from(l))
    }
}

/// A real version of a server older than binlog checksums: MySQL 5.0 to 5.6.0, MariaDB 5.1 and
/// 5.2 (strict, so that a damaged version string of a newer server is not taken for one).
fn pre_checksum_version(version: &str, mariadb: bool) -> bool {
    let re = regex::Regex::new(r"^(\d+)\.(\d+)\.(\d+)(?:[-_.a-zA-Z0-9+~]*)$").expect("valid regex");
    let Some(c) = re.captures(version) else {
        return false;
    };
    let n = |i: usize| c[i].parse::<u32>().unwrap_or(u32::MAX);
    let v = (n(1), n(2), n(3));
    if mariadb {
        v.0 == 5 && (1..3).contains(&v.1)
    } else {
        v.0 == 5 && (v.1 < 6 || v == (5, 6, 0))
    }
}

/// Servers from MySQL 5.6.1 and MariaDB 5.3 write the checksum algorithm into the FDE.
fn checksum_aware(version: &str, mariadb: bool) -> bool {
    let nums: Vec<u32> = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    let v = (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
        nums.get(2).copied().unwrap_or(0),
    );
    if mariadb {
        v >= (5, 3, 0)
    } else {
        v >= (5, 6, 1)
    }
}
