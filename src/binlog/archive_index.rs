//! The archive of a set's binary logs in the repository, and the chain they form.
//!
//! Layout: `sets/<set>/binlogs/<server_id>/<file>.zst` (or `<file>` uncompressed) with
//! `<file>.json`, this index. A file still being written (archived with `--follow`) is kept
//! as segments `<file>.seg-<start>.zst` that the index lists; when the server closes the file
//! they are joined into one object. The chain: each complete file names the next (from its
//! ROTATE event); a missing link is a gap, reported by name and never replayed across.

use serde::{Deserialize, Serialize};

use crate::config::Compression;
use crate::error::{Error, Result};
use crate::repo::Repository;

pub const INDEX_VERSION: u32 = 1;

/// One stored piece of a binlog: bytes `[start, end)` of the original file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    /// Object name, relative to the server's archive directory.
    pub object: String,
    pub start: u64,
    pub end: u64,
    /// SHA-256 of the original bytes `[start, end)`.
    pub sha256: String,
    /// SHA-256 and size of the stored object.
    pub stored_sha256: String,
    pub stored_size: u64,
}

/// `<file>.json`: what zrm knows about one archived binlog.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BinlogIndex {
    pub format_version: u32,
    pub file: String,
    pub server_id: u32,
    /// MySQL's `server_uuid` (absent for MariaDB, and in indexes written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_uuid: Option<String>,
    /// The server closed the file (ROTATE or STOP seen): nothing will be added.
    pub complete: bool,
    /// The file's size archived so far (its size when complete).
    pub end_pos: u64,
    /// SHA-256 of the whole original file (when complete).
    pub sha256: Option<String>,
    pub segments: Vec<Segment>,
    pub compression: Compression,
    pub events: u64,
    pub transactions: u64,
    pub first_event_time: Option<chrono::DateTime<chrono::Utc>>,
    pub last_event_time: Option<chrono::DateTime<chrono::Utc>>,
    /// GTIDs of the first and last transactions in the file.
    pub first_gtid: Option<String>,
    pub last_gtid: Option<String>,
    /// The GTID state at the start of the file (MariaDB GTID_LIST / MySQL Previous_gtids).
    pub gtid_state_at_start: Option<String>,
    /// The GTID state at the end of what is archived (MariaDB: per domain/server, last seq).
    pub gtid_state_at_end: Option<String>,
    /// The file the ROTATE event names, when complete by rotation.
    pub next_file: Option<String>,
    /// To check cheaply that the server's file is still this one (a `RESET MASTER` can
    /// recreate a file with the same name and size): the SHA-256 of the file's head (magic and
    /// format description, which carries the creation time) and of its tail from the start of
    /// its last transaction (`tail_pos`) to the end.
    #[serde(default)]
    pub head_end: Option<u64>,
    #[serde(default)]
    pub head_sha256: Option<String>,
    #[serde(default)]
    pub tail_pos: Option<u64>,
    #[serde(default)]
    pub tail_sha256: Option<String>,
    /// The file ended without ROTATE or STOP: its server crashed (or was killed) while
    /// writing it, then started a new file. The server recovers from that; so does the
    /// archive, which holds the file up to its last complete event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<CrashEnd>,
    pub archived_at: chrono::DateTime<chrono::Utc>,
}

/// How a file cut by a server crash ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrashEnd {
    /// Bytes the server holds after the last complete event: a torn event, which the server
    /// cannot send and zrm never applies.
    pub torn_bytes: u64,
    /// The start of a transaction the file never ends (no COMMIT or XID): the server rolled it
    /// back when it recovered, so a replay stops before it.
    pub incomplete_trx_at: Option<u64>,
}

impl std::fmt::Display for CrashEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ended without ROTATE or STOP (its server crashed)")?;
        if self.torn_bytes > 0 {
            write!(
                f,
                "; a torn last event of {} bytes is not archived",
                self.torn_bytes
            )?;
        }
        if let Some(p) = self.incomplete_trx_at {
            write!(
                f,
                "; the transaction starting at {p} never committed and is not replayed"
            )?;
        }
        Ok(())
    }
}

impl BinlogIndex {
    /// Where a replay of the whole file ends: before a transaction a crash left unfinished.
    pub fn replay_end(&self) -> u64 {
        self.crash
            .as_ref()
            .and_then(|c| c.incomplete_trx_at)
            .unwrap_or(self.end_pos)
    }

    /// The file's size on its server (a torn event the archive lacks included).
    pub fn server_size(&self) -> u64 {
        self.end_pos + self.crash.as_ref().map_or(0, |c| c.torn_bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("index serialises")
    }

    /// What an index stored as `<server_id>/<file>.json` says is checked before anything is
    /// read, replayed or deleted by it: its file and server are the ones it is stored as,
    /// every name is a binlog name, its objects are this file's own and its segments cover
    /// `[0, end_pos)` without a hole. An archive that disagrees with itself is an error, never
    /// a shorter restore.
    pub fn validate(&self, file: &str, server_id: u32, what: &str) -> Result<()> {
        let lie = |why: String| {
            Err(Error::Repository(format!(
                "{what} is inconsistent: {why}; zrm will not use it (it was changed or \
                 damaged): archive the file again from the server (move the index aside and run \
                 `zrm binlog archive`), or restore it from a replica of the repository"
            )))
        };
        if self.file != file {
            return lie(format!(
                "it describes '{}', not {file}",
                self.file.escape_default()
            ));
        }
        if self.server_id != server_id {
            return lie(format!(
                "it belongs to server {}, not {server_id}",
                self.server_id
            ));
        }
        check_binlog_name(&self.file)?;
        if let Some(n) = &self.next_file {
            if check_binlog_name(n).is_err() {
                return lie(format!(
                    "its next file '{}' is not a binlog name",
                    n.escape_default()
                ));
            }
        }
        let whole = object_name(&self.file, self.compression);
        let mut at = 0;
        for seg in &self.segments {
            let own = seg.object == whole
                || (seg.object.starts_with(&format!("{}.seg-", self.file))
                    && crate::repo::is_plain_component(&seg.object));
            if !own {
                return lie(format!(
                    "it lists an object '{}' that is not one of {file}'s",
                    seg.object.escape_default()
                ));
            }
            if seg.start != at || seg.end < seg.start {
                return lie(format!(
                    "its segments do not follow each other (bytes {}-{} after {at})",
                    seg.start, seg.end
                ));
            }
            at = seg.end;
        }
        if at != self.end_pos {
            return lie(format!(
                "its segments end at {at} but it says the archive holds {} bytes",
                self.end_pos
            ));
        }
        if self
            .crash
            .as_ref()
            .and_then(|c| c.incomplete_trx_at)
            .is_some_and(|p| p > self.end_pos)
        {
            return lie("its crash record points past its end".into());
        }
        Ok(())
    }

    pub fn from_json(bytes: &[u8], what: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Repository(format!("{what} is not a valid binlog index: {e}")))?;
        if v["format_version"].as_u64().unwrap_or(0) > u64::from(INDEX_VERSION) {
            return Err(Error::Repository(format!(
                "{what} has a newer index version than this zrm understands: upgrade zrm"
            )));
        }
        serde_json::from_value(v)
            .map_err(|e| Error::Repository(format!("{what} is not a valid binlog index: {e}")))
    }
}

pub fn server_dir(set: &str, server_id: u32) -> String {
    format!("sets/{set}/binlogs/{server_id}")
}

pub fn index_path(set: &str, server_id: u32, file: &str) -> String {
    format!("{}/{file}.json", server_dir(set, server_id))
}

pub fn object_name(file: &str, compression: Compression) -> String {
    match compression {
        Compression::Zstd => format!("{file}.zst"),
        Compression::None => file.to_string(),
    }
}

pub fn segment_name(file: &str, start: u64, compression: Compression) -> String {
    match compression {
        Compression::Zstd => format!("{file}.seg-{start:012}.zst"),
        Compression::None => format!("{file}.seg-{start:012}"),
    }
}

/// The server ids that have archived binlogs in a set.
pub fn servers(repo: &Repository, set: &str) -> Result<Vec<u32>> {
    let mut ids: Vec<u32> = repo
        .backend()
        .list(&format!("sets/{set}/binlogs"))?
        .into_iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Where purge recorded the last file it deleted from a server's archive (a dot-name, so it
/// is never taken for an index).
fn purged_mark_path(set: &str, server_id: u32) -> String {
    format!("{}/.purged", server_dir(set, server_id))
}

pub fn write_purged_mark(repo: &Repository, set: &str, server_id: u32, file: &str) -> Result<()> {
    repo.write_small(&purged_mark_path(set, server_id), file.as_bytes())
}

/// The last file purge deleted from this server's archive: files up to it are not archived
/// again.
pub fn purged_mark(repo: &Repository, set: &str, server_id: u32) -> Option<String> {
    let rel = purged_mark_path(set, server_id);
    if !repo.backend().exists(&rel).ok()? {
        return None;
    }
    let b = repo.read_small(&rel).ok()?;
    Some(String::from_utf8_lossy(&b).trim().to_string()).filter(|s| !s.is_empty())
}

/// Every index of one server's archive, in file order.
pub fn load_all(repo: &Repository, set: &str, server_id: u32) -> Result<Vec<BinlogIndex>> {
    let dir = server_dir(set, server_id);
    let mut out = Vec::new();
    for name in repo.backend().list(&dir)? {
        let Some(file) = name
            .strip_suffix(".json")
            .filter(|_| !name.starts_with('.'))
        else {
            continue;
        };
        let rel = format!("{dir}/{name}");
        let what = format!("{}/{rel}", repo.describe());
        let i = BinlogIndex::from_json(&repo.read_small(&rel)?, &what)?;
        i.validate(file, server_id, &what)?;
        out.push(i);
    }
    out.sort_by_key(|i| file_order(&i.file));
    Ok(out)
}

pub fn load(
    repo: &Repository,
    set: &str,
    server_id: u32,
    file: &str,
) -> Result<Option<BinlogIndex>> {
    let rel = index_path(set, server_id, file);
    if !repo.backend().exists(&rel)? {
        return Ok(None);
    }
    let what = format!("{}/{rel}", repo.describe());
    let i = BinlogIndex::from_json(&repo.read_small(&rel)?, &what)?;
    i.validate(file, server_id, &what)?;
    Ok(Some(i))
}

/// Verify an archived file: every stored object's SHA-256, and the original bytes' SHA-256
/// after decompression.
pub fn verify_archived(repo: &Repository, set: &str, i: &BinlogIndex) -> Result<()> {
    let dir = server_dir(set, i.server_id);
    for seg in &i.segments {
        let rel = format!("{dir}/{}", seg.object);
        let mut raw = crate::engine::stream::HashingReader::new(repo.backend().open(&rel)?);
        let mut original = crate::engine::stream::HashingWriter::new(std::io::sink());
        match i.compression {
            crate::config::Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::new(&mut raw)
                    .map_err(|e| Error::Binlog(format!("{rel}: {e}")))?;
                std::io::copy(&mut d, &mut original).map_err(|e| {
                    Error::Binlog(format!("{}/{rel} is damaged: {e}", repo.describe()))
                })?;
            }
            crate::config::Compression::None => {
                std::io::copy(&mut raw, &mut original).map_err(|e| Error::io("read", &rel, e))?;
            }
        }
        let (_, n, sha) = original.finish();
        let (stored_n, stored_sha) = raw.finish();
        if stored_sha != seg.stored_sha256
            || stored_n != seg.stored_size
            || sha != seg.sha256
            || n != seg.end - seg.start
        {
            return Err(Error::Binlog(format!(
                "{}/{rel} does not match its index (damaged or changed)",
                repo.describe()
            )));
        }
    }
    Ok(())
}

/// A binlog name as a server writes it (`mysql-bin.000042`): it becomes a file name in the
/// repository and the spool, so anything that could leave a directory is refused.
pub fn check_binlog_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Binlog(format!(
            "the server names a binary log '{}', which zrm does not accept as a file name",
            name.escape_default()
        )))
    }
}

/// Binlog names sort by their numeric suffix (`mysql-bin.000010` after `.000009`; and after
/// `.999999` comes `.1000000`).
pub fn file_order(name: &str) -> (String, u64) {
    match name.rsplit_once('.') {
        Some((base, num)) => (base.to_string(), num.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    }
}

/// The name that follows `name` in a server's numbering.
pub fn next_name(name: &str) -> Option<String> {
    let (base, num) = name.rsplit_once('.')?;
    let n: u64 = num.parse().ok()?;
    Some(format!("{base}.{:0width$}", n + 1, width = num.len()))
}

/// A break in the chain of archived files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub after: String,
    pub missing: String,
    pub before: String,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} missing between {} and {}",
            self.missing, self.after, self.before
        )
    }
}

/// Gaps in a sorted list of indexes: a file whose successor is not the one it names, or an
/// incomplete file that is followed by another.
pub fn gaps(files: &[BinlogIndex]) -> Vec<Gap> {
    let mut out = Vec::new();
    for w in files.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let expected = a
            .next_file
            .clone()
            .or_else(|| next_name(&a.file))
            .unwrap_or_default();
        if b.file != expected {
            out.push(Gap {
                after: a.file.clone(),
                missing: expected,
                before: b.file.clone(),
            });
        } else if !a.complete {
            out.push(Gap {
                after: a.file.clone(),
                missing: format!("the rest of {} (archived up to {})", a.file, a.end_pos),
                before: b.file.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(file: &str, next: Option<&str>, complete: bool) -> BinlogIndex {
        BinlogIndex {
            format_version: INDEX_VERSION,
            file: file.into(),
            server_id: 1,
            server_uuid: None,
            complete,
            end_pos: 100,
            sha256: None,
            segments: vec![],
            compression: Compression::Zstd,
            events: 0,
            transactions: 0,
            first_event_time: None,
            last_event_time: None,
            first_gtid: None,
            last_gtid: None,
            gtid_state_at_start: None,
            gtid_state_at_end: None,
            next_file: next.map(str::to_string),
            head_end: None,
            head_sha256: None,
            tail_pos: None,
            tail_sha256: None,
            crash: None,
            archived_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn gaps_are_named() {
        let files = vec![
            idx("mysql-bin.000016", Some("mysql-bin.000017"), true),
            idx("mysql-bin.000018", Some("mysql-bin.000019"), true),
            idx("mysql-bin.000019", None, false),
        ];
        let g = gaps(&files);
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].to_string(),
            "mysql-bin.000017 missing between mysql-bin.000016 and mysql-bin.000018"
        );
        assert_eq!(next_name("mysql-bin.999999").unwrap(), "mysql-bin.1000000");
        assert!(file_order("b.1000000") > file_order("b.999999"));
    }

    #[test]
    fn index_round_trips() {
        let i = idx("f.000001", Some("f.000002"), true);
        assert_eq!(BinlogIndex::from_json(&i.to_json(), "t").unwrap(), i);
    }
}
