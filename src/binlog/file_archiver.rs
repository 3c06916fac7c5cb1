//! Archiving one binlog file from a local spool copy (written by the replication client) into
//! the repository, verifying every event before any byte is stored.
//!
//! The spool copy may still be growing. Only complete, CRC-verified events are archived; a
//! partial event at the tail waits for the next pass. Bytes are stored as segments (durable
//! pieces of the file) and, once the server has closed the file, joined into one object. When
//! a file was partly archived before (a restart, a kill -9), the new copy must be identical on
//! that prefix: a server whose binlog changed under the same name (RESET MASTER, a switchover
//! that reused names) is reported, never mixed into the archive.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

use crate::hash::Sha256;

use super::archive_index::{self as idx, BinlogIndex, Segment, INDEX_VERSION};
use super::decode::{EventData, MariaGtid};
use super::event::FormatDescription;
use super::reader::{BinlogReader, ReadErrorKind};
use super::scan::{ScanOptions, Scanner};
use crate::config::Compression;
use crate::engine::stream::{HashingWriter, StoredFileWriter};
use crate::error::{Error, Result};
use crate::repo::Repository;

/// Progress of one file through the archive.
pub struct FileArchiver<'r> {
    repo: &'r Repository,
    set: String,
    server_id: u32,
    pub file: String,
    compression: Compression,
    level: i32,
    /// What the repository holds for this file.
    pub index: BinlogIndex,
    /// Bytes of the spool copy verified (complete events), from the start of the file.
    pub verified_end: u64,
    /// The previously stored prefix has been checked against the spool copy.
    prefix_checked: bool,
    whole: Sha256,
    /// How far `whole` has hashed.
    hashed_end: u64,
    fde: Option<FormatDescription>,
    scanner: Scanner,
    domains: BTreeMap<u32, MariaGtid>,
    /// A STOP event ended the file (server shutdown).
    stopped: bool,
    /// The server ended the file by crashing (no ROTATE or STOP): the torn bytes after the
    /// last complete event, which the archive does not hold.
    crashed: Option<u64>,
    /// Where the format description ends, and where the last complete transaction starts.
    head_end: u64,
    last_trx_start: Option<u64>,
    current_trx_start: Option<u64>,
    pub last_store: Instant,
}

fn empty_index(file: &str, server_id: u32, compression: Compression) -> BinlogIndex {
    BinlogIndex {
        format_version: INDEX_VERSION,
        file: file.to_string(),
        server_id,
        server_uuid: None,
        complete: false,
        end_pos: 0,
        sha256: None,
        segments: Vec::new(),
        compression,
        events: 0,
        transactions: 0,
        first_event_time: None,
        last_event_time: None,
        first_gtid: None,
        last_gtid: None,
        gtid_state_at_start: None,
        gtid_state_at_end: None,
        next_file: None,
        head_end: None,
        head_sha256: None,
        tail_pos: None,
        tail_sha256: None,
        crash: None,
        archived_at: chrono::Utc::now(),
    }
}

fn time_of(ts: u32) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(i64::from(ts), 0)
}

impl<'r> FileArchiver<'r> {
    pub fn new(
        repo: &'r Repository,
        set: &str,
        server_id: u32,
        file: &str,
        compression: Compression,
        level: i32,
    ) -> Result<Self> {
        let mut index = idx::load(repo, set, server_id, file)?;
        let prefix_checked = index.as_ref().is_none_or(|i| i.end_pos == 0);
        if let Some(i) = index.as_mut() {
            // The file is read again from its start: what it says is counted again, so the
            // counts and firsts restart (only what is stored — segments, end — carries over).
            i.events = 0;
            i.transactions = 0;
            i.first_event_time = None;
            i.last_event_time = None;
            i.first_gtid = None;
            i.last_gtid = None;
            i.gtid_state_at_start = None;
            i.gtid_state_at_end = None;
            i.next_file = None;
        }
        // Compression is chosen once per file: segments of one file share it.
        let compression = index.as_ref().map_or(compression, |i| i.compression);
        Ok(FileArchiver {
            repo,
            set: set.to_string(),
            server_id,
            file: file.to_string(),
            compression,
            level,
            index: index.unwrap_or_else(|| empty_index(file, server_id, compression)),
            verified_end: 0,
            prefix_checked,
            whole: Sha256::new(),
            hashed_end: 0,
            fde: None,
            scanner: Scanner::new(ScanOptions::default()),
            domains: BTreeMap::new(),
            stopped: false,
            crashed: None,
            head_end: 0,
            last_trx_start: None,
            current_trx_start: None,
            last_store: Instant::now(),
        })
    }

    fn dir(&self) -> String {
        idx::server_dir(&self.set, self.server_id)
    }

    /// Bytes verified but not stored yet.
    pub fn pending(&self) -> u64 {
        self.verified_end.saturating_sub(self.index.end_pos)
    }

    /// The server closed the file and every byte of it is verified.
    pub fn closed(&self) -> bool {
        self.index.next_file.is_some() || self.stopped || self.crashed.is_some()
    }

    /// The server has moved on from this file without closing it (it crashed, then started a
    /// new file): what is verified is all there is, but for `torn_bytes` of a last event
    /// the server cannot send either.
    pub fn mark_crashed(&mut self, torn_bytes: u64) {
        self.crashed = Some(torn_bytes);
    }

    /// A transaction the verified part starts but does not end.
    pub fn open_transaction(&self) -> Option<u64> {
        self.current_trx_start
    }

    /// Verify what the spool copy holds beyond what was verified before. Returns whether
    /// anything new was verified.
    pub fn advance(&mut self, spool: &Path) -> Result<bool> {
        let len = match std::fs::metadata(spool) {
            Ok(m) => m.len(),
            Err(_) => return Ok(false),
        };
        if !self.prefix_checked {
            if len < self.index.end_pos {
                return Ok(false);
            }
            self.check_prefix(spool)?;
        }
        if len <= self.verified_end || len < 4 {
            return Ok(false);
        }
        let mut f = std::fs::File::open(spool).map_err(|e| Error::io("open", spool, e))?;
        let before = self.verified_end;
        let name = self.file.clone();
        let mut reader = if self.verified_end == 0 {
            match BinlogReader::new(std::io::BufReader::with_capacity(1 << 20, f), name.clone()) {
                Ok(r) => r,
                Err(e) if e.kind == ReadErrorKind::NotBinlog && len < 4 => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        } else {
            f.seek(SeekFrom::Start(self.verified_end))
                .map_err(|e| Error::io("seek in", spool, e))?;
            let fde = self
                .fde
                .clone()
                .expect("a format description once bytes are verified");
            BinlogReader::resume(
                std::io::BufReader::with_capacity(1 << 20, f),
                name.clone(),
                self.verified_end,
                fde,
            )
        };
        let mut stats = Stats::default();
        let mut verified = self.verified_end.max(4);
        let (mut head_end, mut last_trx, mut current_trx) =
            (self.head_end, self.last_trx_start, self.current_trx_start);
        let result = self.scanner.scan(&mut reader, &mut |e| {
            stats.push(&e);
            verified = e.end_pos;
            if head_end == 0 && e.type_code == super::event::code::FORMAT_DESCRIPTION {
                head_end = e.end_pos;
            }
            if e.trx_start {
                current_trx = Some(e.pos);
            }
            if e.trx_end {
                last_trx = current_trx.take().or(Some(e.pos));
            }
            std::ops::ControlFlow::Continue(())
        });
        (self.head_end, self.last_trx_start, self.current_trx_start) =
            (head_end, last_trx, current_trx);
        if self.fde.is_none() {
            self.fde = reader.format().cloned();
        }
        if self.fde.is_none() {
            // Only the magic (or part of the format description) so far: start again next time.
            self.verified_end = 0;
            return Ok(false);
        }
        match result {
            Ok(_) => {}
            // A partial event at the live end: wait for the rest.
            Err(e) if e.kind == ReadErrorKind::Truncated => {}
            Err(e) => return Err(e.into()),
        }
        self.verified_end = verified;
        self.apply(stats);
        Ok(self.verified_end > before)
    }

    fn apply(&mut self, s: Stats) {
        let i = &mut self.index;
        i.events += s.events;
        i.transactions += s.transactions;
        if i.first_event_time.is_none() {
            i.first_event_time = s.first_time.and_then(time_of);
        }
        if let Some(t) = s.last_time.and_then(time_of) {
            i.last_event_time = Some(t);
        }
        if i.first_gtid.is_none() {
            i.first_gtid = s.first_gtid;
        }
        if s.last_gtid.is_some() {
            i.last_gtid = s.last_gtid;
        }
        if let Some(list) = s.gtid_list {
            for g in &list {
                self.domains.entry(g.domain).or_insert(*g);
            }
            if i.gtid_state_at_start.is_none() {
                i.gtid_state_at_start = Some(render(&list));
            }
        }
        if let Some(p) = s.previous_gtids {
            i.gtid_state_at_start.get_or_insert(p);
        }
        for g in s.gtids {
            self.domains.insert(g.domain, g);
        }
        if !s.mysql_gtids.is_empty() {
            // MySQL: the executed set at the end of what is archived, Previous_gtids plus
            // the file's GTIDs.
            use crate::mysql::gtid::{Gtid, GtidSet};
            let so_far = i
                .gtid_state_at_end
                .as_deref()
                .or(i.gtid_state_at_start.as_deref());
            let mut set = so_far
                .and_then(|t| GtidSet::parse(t).ok())
                .unwrap_or_default();
            for g in s.mysql_gtids.iter().filter_map(|g| Gtid::parse(g)) {
                set.insert(&g);
            }
            i.gtid_state_at_end = Some(set.to_string());
        }
        if !self.domains.is_empty() {
            i.gtid_state_at_end = Some(render(&self.domains.values().copied().collect::<Vec<_>>()));
        }
        if let Some(next) = s.next_file {
            // The next name comes from the file's ROTATE event: it names files too.
            if idx::check_binlog_name(&next).is_ok() {
                i.next_file = Some(next);
            }
        }
        self.stopped |= s.stopped;
    }

    /// The stored prefix must be byte-identical to the new copy.
    fn check_prefix(&mut self, spool: &Path) -> Result<()> {
        for seg in &self.index.segments {
            let mut h = Sha256::new();
            let whole = &mut self.whole;
            for_each_chunk(spool, seg.start, seg.end, |b| {
                h.update(b);
                whole.update(b);
                Ok(())
            })?;
            if h.finish_hex() != seg.sha256 {
                return Err(Error::Binlog(format!(
                    "binlog {} of server {} no longer matches its archived copy in bytes {}-{}: \
                     the server's binary logs were reset (RESET MASTER; MySQL 8.4+: RESET BINARY LOGS AND GTIDS) or replaced under the same \
                     names; zrm will not mix them. Move {}/{} aside (or archive this server into \
                     another set) before archiving again",
                    self.file,
                    self.server_id,
                    seg.start,
                    seg.end,
                    self.repo.describe(),
                    self.dir()
                )));
            }
        }
        self.hashed_end = self.index.end_pos;
        self.prefix_checked = true;
        Ok(())
    }

    /// Copy spool bytes `[from, to)` into a repository object; returns the segment.
    fn store_range(&mut self, spool: &Path, object: String, from: u64, to: u64) -> Result<Segment> {
        let rel = format!("{}/{object}", self.dir());
        let (w, sha) = compress_range(
            self.repo,
            &rel,
            self.compression,
            self.level,
            spool,
            from,
            to,
        )?;
        let stored = w.commit(to - from, &rel)?;
        Ok(Segment {
            object,
            start: from,
            end: to,
            sha256: sha,
            stored_sha256: stored.sha256,
            stored_size: stored.stored_size,
        })
    }

    /// A closed file not archived before, in one pass per core: one thread verifies every
    /// event, the other compresses and hashes the same bytes into a new object, which is
    /// committed only if the verification succeeds. `server` is how the server lists the file
    /// (closed: a later file exists). Returns the bytes stored.
    pub fn archive_closed_file(&mut self, spool: &Path, server: ServerEnd) -> Result<u64> {
        let len = std::fs::metadata(spool)
            .map_err(|e| Error::io("stat", spool, e))?
            .len();
        if !self.index.segments.is_empty() {
            // Partly archived before (by --follow): verify the rest, then join.
            self.advance(spool)?;
            self.settle_end(len, server)?;
            return self.finish(spool);
        }
        let object = idx::object_name(&self.file, self.compression);
        let rel = format!("{}/{object}", self.dir());
        let (repo, compression, level) = (self.repo, self.compression, self.level);
        let (stored, verified) = std::thread::scope(|s| {
            let compress =
                s.spawn(|| compress_range(repo, &rel, compression, level, spool, 0, len));
            let verified = self.advance(spool);
            (compress.join(), verified)
        });
        verified?;
        let (w, sha) =
            stored.map_err(|_| Error::Binlog("the compression thread failed".into()))??;
        // Dropping `w` on an error removes the object.
        self.settle_end(len, server)?;
        let stored = w.commit(len, &rel)?;
        self.index.segments = vec![Segment {
            object,
            start: 0,
            end: len,
            sha256: sha.clone(),
            stored_sha256: stored.sha256,
            stored_size: stored.stored_size,
        }];
        self.index.end_pos = len;
        self.complete_index(spool, sha)?;
        Ok(len)
    }

    /// How a closed file fetched to `len` bytes ends: by ROTATE or STOP as usual; by a crash
    /// when every fetched byte is a complete event and the server has no more to give (its
    /// whole size, or all but a torn last event it could not send); else it was cut short.
    fn settle_end(&mut self, len: u64, server: ServerEnd) -> Result<()> {
        if self.verified_end == len && (self.index.next_file.is_some() || self.stopped) {
            return Ok(());
        }
        if self.verified_end == len && len > 4 {
            if len == server.size {
                self.mark_crashed(0);
                return Ok(());
            }
            if server.torn_tail && len < server.size {
                self.mark_crashed(server.size - len);
                return Ok(());
            }
        }
        Err(Error::Binlog(format!(
            "binlog {} as fetched from the server ends at {len} bytes (verified up to {}) while \
             the server lists it with {} bytes: the transfer was cut short; not archived. Run \
             `zrm binlog archive` again",
            self.file, self.verified_end, server.size
        )))
    }

    /// Feed the whole-file hash up to `to` from the spool copy.
    fn hash_to(&mut self, spool: &Path, to: u64) -> Result<()> {
        if to <= self.hashed_end {
            return Ok(());
        }
        let whole = &mut self.whole;
        for_each_chunk(spool, self.hashed_end, to, |b| {
            whole.update(b);
            Ok(())
        })?;
        self.hashed_end = to;
        Ok(())
    }

    fn write_index(&mut self) -> Result<()> {
        self.index.archived_at = chrono::Utc::now();
        let rel = idx::index_path(&self.set, self.server_id, &self.file);
        self.repo.write_small(&rel, &self.index.to_json())
    }

    /// Store the verified bytes not stored yet as a durable segment (for a file still open).
    pub fn store_segment(&mut self, spool: &Path) -> Result<u64> {
        let (from, to) = (self.index.end_pos, self.verified_end);
        if to <= from {
            return Ok(0);
        }
        let object = idx::segment_name(&self.file, from, self.compression);
        let seg = self.store_range(spool, object, from, to)?;
        self.hash_to(spool, to)?;
        self.index.segments.push(seg);
        self.index.end_pos = to;
        self.write_index()?;
        self.last_store = Instant::now();
        Ok(to - from)
    }

    /// The file is closed and verified to its end: store it as one object and mark it
    /// complete. Returns the bytes newly stored.
    pub fn finish(&mut self, spool: &Path) -> Result<u64> {
        let end = self.verified_end;
        let object = idx::object_name(&self.file, self.compression);
        let stored_now = end - self.index.end_pos;
        let seg = if self.index.segments.is_empty() {
            // One segment: its hash is the file's.
            let seg = self.store_range(spool, object, 0, end)?;
            self.whole = Sha256::new();
            self.hashed_end = end;
            let sha = seg.sha256.clone();
            self.index.segments = vec![seg];
            self.index.end_pos = end;
            self.complete_index(spool, sha)?;
            return Ok(stored_now);
        } else {
            // Store the tail, then join the segments: zstd frames concatenate, so the joined
            // object is the segments' stored bytes one after the other.
            self.store_segment(spool)?;
            self.join_segments(object)?
        };
        let sha = std::mem::take(&mut self.whole).finish_hex();
        let old: Vec<String> = self
            .index
            .segments
            .iter()
            .map(|s| s.object.clone())
            .collect();
        self.index.segments = vec![Segment {
            sha256: sha.clone(),
            ..seg
        }];
        self.index.end_pos = end;
        self.complete_index(spool, sha)?;
        let keep = &self.index.segments[0].object;
        for o in old.iter().filter(|o| *o != keep) {
            self.repo
                .backend()
                .remove_file(&format!("{}/{o}", self.dir()));
        }
        Ok(stored_now)
    }

    /// Mark the file complete: whole-file hash, head and tail hashes, index written.
    fn complete_index(&mut self, spool: &Path, sha: String) -> Result<()> {
        let end = self.index.end_pos;
        if self.head_end > 0 {
            self.index.head_end = Some(self.head_end);
            self.index.head_sha256 = Some(head_hash(spool, self.head_end)?);
        }
        let tail = self.last_trx_start.unwrap_or(self.head_end.max(4));
        self.index.tail_pos = Some(tail);
        self.index.tail_sha256 = Some(hash_range(spool, tail, end)?);
        self.index.sha256 = Some(sha);
        self.index.crash = self.crashed.map(|torn_bytes| idx::CrashEnd {
            torn_bytes,
            incomplete_trx_at: self.current_trx_start,
        });
        self.index.complete = true;
        self.write_index()
    }

    fn join_segments(&mut self, object: String) -> Result<Segment> {
        let rel = format!("{}/{object}", self.dir());
        let mut w = HashingWriter::new(self.repo.backend().create(&rel)?);
        for s in &self.index.segments {
            let src = format!("{}/{}", self.dir(), s.object);
            // Each segment is checked as it is copied: a damaged one must not end up in the
            // joined object under the file's verified hash.
            let mut r = crate::engine::stream::HashingReader::new(self.repo.backend().open(&src)?);
            std::io::copy(&mut r, &mut w).map_err(|e| Error::io("join segments into", &rel, e))?;
            let (n, sha) = r.finish();
            if n != s.stored_size || sha != s.stored_sha256 {
                return Err(Error::Binlog(format!(
                    "{}/{src} does not match its index (damaged or changed): not joined",
                    self.repo.describe()
                )));
            }
        }
        let (obj, stored_size, stored_sha256) = w.finish();
        obj.commit()?;
        Ok(Segment {
            object,
            start: 0,
            end: self.verified_end,
            sha256: String::new(),
            stored_sha256,
            stored_size,
        })
    }
}

/// How the server lists a closed file, for deciding how the fetched copy may end.
#[derive(Debug, Clone, Copy)]
pub struct ServerEnd {
    /// Its size in SHOW BINARY LOGS.
    pub size: u64,
    /// A second fetch from the end of the copy failed again without a byte: the server's file
    /// ends in a torn event (a crash in the middle of a write).
    pub torn_tail: bool,
}

/// Compress and hash spool bytes `[from, to)` into a new repository object, not yet committed
/// (dropping the writer removes it). Returns the writer and the SHA-256 of the original bytes.
fn compress_range(
    repo: &Repository,
    rel: &str,
    compression: Compression,
    level: i32,
    spool: &Path,
    from: u64,
    to: u64,
) -> Result<(StoredFileWriter, String)> {
    let mut w = StoredFileWriter::new(repo.backend().create(rel)?, compression, level)?;
    let mut h = Sha256::new();
    for_each_chunk(spool, from, to, |b| {
        h.update(b);
        w.write_all(b).map_err(|e| {
            Error::Binlog(format!(
                "writing {}/{rel} failed: {e}; check the repository's free space",
                repo.describe()
            ))
        })
    })?;
    Ok((w, h.finish_hex()))
}

/// Where the first event (the format description) of a binlog copy ends, from its header; None
/// while the copy is shorter than that.
pub fn head_end(path: &Path) -> Option<u64> {
    let mut head = [0u8; 17];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    let size = u32::from_le_bytes(head[13..17].try_into().ok()?);
    let end = 4 + u64::from(size);
    let len = std::fs::metadata(path).ok()?.len();
    (len >= end).then_some(end)
}

/// SHA-256 of a binlog's head (magic and format description) without the fields a server
/// changes when it sends the format description again in a stream that starts mid-file: the
/// end position (file offsets 17–20), the `create_timestamp` of the first binlog after a server
/// start (offsets 75–78, sent as 0), and so the CRC (the last 4 bytes). The event's own
/// timestamp (offsets 4–7, when the file was created) stays in.
pub fn head_hash(path: &Path, head_end: u64) -> Result<String> {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut head = vec![0u8; head_end as usize];
    f.read_exact(&mut head)
        .map_err(|e| Error::io("read", path, e))?;
    if head.len() < 84 {
        return Err(Error::Binlog(format!(
            "{}: no format description",
            path.display()
        )));
    }
    h.update(&head[..17]);
    h.update(&head[21..75]);
    h.update(&head[79..head.len() - 4]);
    Ok(h.finish_hex())
}

/// SHA-256 of bytes `[from, to)` of a file.
pub fn hash_range(path: &Path, from: u64, to: u64) -> Result<String> {
    let mut h = Sha256::new();
    for_each_chunk(path, from, to, |b| {
        h.update(b);
        Ok(())
    })?;
    Ok(h.finish_hex())
}

/// Stream bytes `[from, to)` of a file to `f`, a megabyte at a time.
fn for_each_chunk(
    path: &Path,
    from: u64,
    to: u64,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io("seek in", path, e))?;
    let mut r = file.take(to.saturating_sub(from));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n])?;
    }
}

fn render(list: &[MariaGtid]) -> String {
    list.iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// What one pass over new events found.
#[derive(Default)]
struct Stats {
    events: u64,
    transactions: u64,
    first_time: Option<u32>,
    last_time: Option<u32>,
    first_gtid: Option<String>,
    last_gtid: Option<String>,
    gtid_list: Option<Vec<MariaGtid>>,
    previous_gtids: Option<String>,
    gtids: Vec<MariaGtid>,
    /// MySQL GTIDs of the transactions (`uuid[:tag]:n`).
    mysql_gtids: Vec<String>,
    next_file: Option<String>,
    stopped: bool,
}

impl Stats {
    fn push(&mut self, e: &super::scan::EventInfo) {
        self.events += 1;
        if e.timestamp != 0 {
            self.first_time.get_or_insert(e.timestamp);
            self.last_time = Some(e.timestamp);
        }
        if e.trx_end {
            self.transactions += 1;
        }
        match &e.data {
            EventData::MariaGtid(g) => {
                self.first_gtid.get_or_insert_with(|| g.to_string());
                self.last_gtid = Some(g.to_string());
                self.gtids.push(*g);
            }
            EventData::MysqlGtid { gtid: Some(g), .. } => {
                self.first_gtid.get_or_insert_with(|| g.clone());
                self.last_gtid = Some(g.clone());
                self.mysql_gtids.push(g.clone());
            }
            EventData::GtidList(l) => self.gtid_list = Some(l.clone()),
            EventData::PreviousGtids(p) => self.previous_gtids = Some(p.clone()),
            EventData::Rotate { next_file, .. } => self.next_file = Some(next_file.clone()),
            EventData::Stop => self.stopped = true,
            _ => {}
        }
    }
}
