//! ZRM's backup images (`<destination>/<set>/<YYYYMMDDHHMMSS>/` with its `index`), imported
//! into zrm's repository: copied, so that they are listed, verified, purged and restored as
//! zrm's own backups.
//!
//! What is imported: a successful logical full image (ZRM's `backup.sql`, a mysqldump of the
//! set's databases) becomes a `mysqldump` backup, its md5 sum (ZRM's index lines
//! `<path>=<md5>`) checked first. A ZRM incremental's binary log files go into the set's
//! binlog archive, where zrm's restore replays them after the full. A gzip-compressed image
//! (`backup-data`) is extracted into a private temporary directory first. Every other image
//! is listed with the reason it is not imported. It must never import an image whose md5 sum
//! does not match, nor a failed one.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::Digest;

use crate::catalog::{self, BackupStatus, FileEntry, Manifest, ServerInfo, ToolInfo};
use crate::config::Compression;
use crate::engine::dump_scan::DumpScanner;
use crate::engine::mysqldump::dump_file_name;
use crate::engine::stream::StoredFileWriter;
use crate::error::{Error, IoContext, Result};
use crate::manifest::{Flavor, Method, MANIFEST_VERSION};
use crate::repo::{Repository, MANIFEST_FILE};

/// ZRM's index of one image: its `key=value` lines.
#[derive(Debug, Clone, Default)]
pub struct ZrmIndex {
    pub values: BTreeMap<String, String>,
}

impl ZrmIndex {
    /// Parse an index as ZRM's `parseIndexFile` did (`key=value`, `#` lines skipped).
    pub fn parse(text: &str) -> ZrmIndex {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                values.insert(k.to_string(), v.to_string());
            }
        }
        ZrmIndex { values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The md5 lines: (file name, md5 hex), from `<absolute path>=<md5>`.
    pub fn md5s(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter(|(k, v)| {
                k.starts_with('/') && v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .filter_map(|(k, v)| {
                Path::new(k)
                    .file_name()
                    .map(|n| (n.to_string_lossy().into_owned(), v.to_ascii_lowercase()))
            })
            .collect()
    }
}

/// `zrm import --from-zrm DIR --set S`.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// ZRM's destination (holding `<zrm_set>/<timestamp>/`), or a set's directory itself.
    pub from: PathBuf,
    /// ZRM's set name (default: `set`).
    pub zrm_set: String,
    /// The zrm set the images join.
    pub set: String,
}

/// What became of one ZRM image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    Imported {
        dir: PathBuf,
        id: String,
    },
    AlreadyImported {
        dir: PathBuf,
        id: String,
    },
    NotImported {
        dir: PathBuf,
        reason: String,
    },
    /// A ZRM incremental registered as zrm's incremental (level n+1 on `parent`): its binary
    /// log files archived in the set's binlog archive, the backup's range from the parent's
    /// end point to the end of its last file.
    IncrementalImported {
        dir: PathBuf,
        id: String,
        level: u32,
        parent: String,
        files: Vec<String>,
    },
    /// A ZRM incremental whose binary log files are archived in the set's binlog archive
    /// (server `server_id`), where zrm's restore replays them after a full backup, but which
    /// is no backup of zrm's: why (no parent it continues).
    BinlogsArchived {
        dir: PathBuf,
        server_id: u32,
        files: Vec<String>,
        why_not_listed: String,
    },
}

/// The images of the set's directory, oldest first: directories named `YYYYMMDDHHMMSS`.
fn images(from: &Path, zrm_set: &str) -> Result<Vec<PathBuf>> {
    let set_dir = if from.join(zrm_set).is_dir() {
        from.join(zrm_set)
    } else {
        from.to_path_buf()
    };
    let mut out: Vec<PathBuf> = std::fs::read_dir(&set_dir)
        .at("read", &set_dir)?
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.len() == 14 && n.bytes().all(|b| b.is_ascii_digit()) && e.path().is_dir()
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Why ZRM's image cannot be imported, or `None` when it can.
pub fn unusable(index: &ZrmIndex) -> Option<String> {
    let status = index.get("backup-status").unwrap_or("");
    if !status.starts_with("Backup succeeded") {
        return Some(format!(
            "ZRM recorded backup-status '{}': only successful images are imported",
            status.trim()
        ));
    }
    if index.get("encrypt").is_some_and(|v| !v.is_empty()) {
        return Some(
            "encrypted by ZRM's encrypt plugin (gpg): decrypt it with ZRM's \
             `mysql-zrm --action extract-backup` first, then import the directory"
                .into(),
        );
    }
    if let Some(program) = index.get("compress").map(str::trim) {
        if !program.is_empty() && !program.ends_with("gzip") {
            return Some(format!(
                "compressed by ZRM with '{program}': zrm reads gzip (ZRM's default) only; \
                 extract it with ZRM's `mysql-zrm --action extract-backup` first"
            ));
        }
    }
    if index.get("backup-type") == Some("quick") {
        return Some("a quick (snapshot left in place) image holds no data to import".into());
    }
    if [
        "raw-databases",
        "raw-tables",
        "raw-databases-snapshot",
        "raw-tables-snapshot",
    ]
    .iter()
    .any(|k| index.get(k).is_some_and(|v| !v.trim().is_empty()))
    {
        return Some(
            "a raw (data file copy or snapshot plugin) image: zrm imports logical images".into(),
        );
    }
    None
}

/// Why the image's files cannot be imported (read in `work`, the image or its extraction).
fn missing_files(index: &ZrmIndex, work: &Path) -> Option<String> {
    if index.get("backup-level").map(str::trim) == Some("1") {
        return incremental_files(index, work)
            .is_empty()
            .then(|| "an incremental without binary log files".to_string());
    }
    (!work.join("backup.sql").is_file()).then(|| "no backup.sql in the image".to_string())
}

/// Where an image's files are: the directory itself, or its `backup-data` (ZRM's `tar | gzip`
/// of the directory) extracted into a private temporary directory, removed when dropped.
struct Work {
    path: PathBuf,
    _extracted: Option<tempfile::TempDir>,
}

fn work_dir(dir: &Path) -> std::result::Result<Work, String> {
    let data = dir.join("backup-data");
    if !data.is_file() {
        return Ok(Work {
            path: dir.to_path_buf(),
            _extracted: None,
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("zrm-import-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory to extract backup-data: {e}"))?;
    let file = std::fs::File::open(&data).map_err(|e| format!("cannot open backup-data: {e}"))?;
    // tar's unpack refuses entries that would land outside the directory.
    tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
        .unpack(tmp.path())
        .map_err(|e| format!("backup-data is not ZRM's tar | gzip, or is damaged: {e}"))?;
    Ok(Work {
        path: tmp.path().to_path_buf(),
        _extracted: Some(tmp),
    })
}

/// The binary log files of a ZRM incremental: ZRM's `incremental=NAME.[0-9]*` pattern, i.e.
/// files `NAME.<digits>` in the image, in order.
pub fn incremental_files(index: &ZrmIndex, dir: &Path) -> Vec<String> {
    let Some(pattern) = index.get("incremental") else {
        return Vec::new();
    };
    let base = pattern.trim().trim_end_matches(".[0-9]*");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| {
            n.strip_prefix(base)
                .and_then(|r| r.strip_prefix('.'))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    files
}

/// The server id in a binlog file's first event header (after the 4-byte magic: timestamp 4,
/// type 1, server id 4).
fn binlog_server_id(path: &Path) -> Result<u32> {
    let mut head = [0u8; 13];
    std::fs::File::open(path)
        .at("open", path)?
        .read_exact(&mut head)
        .at("read", path)?;
    if head[..4] != [0xfe, b'b', b'i', b'n'] {
        return Err(Error::Binlog(format!(
            "{} is not a binary log (no binlog magic)",
            path.display()
        )));
    }
    Ok(u32::from_le_bytes([head[9], head[10], head[11], head[12]]))
}

/// Archive an incremental's binlog files into the set's binlog archive.
fn archive_incremental(
    repo: &Repository,
    set: &str,
    dir: &Path,
    files: &[String],
    (compression, level): (Compression, i32),
) -> Result<u32> {
    let mut server = None;
    for f in files {
        let path = dir.join(f);
        let id = binlog_server_id(&path)?;
        if server.is_some_and(|s| s != id) {
            return Err(Error::Binlog(format!(
                "{}: server id {id}, but the image's other files are of server {}",
                path.display(),
                server.unwrap_or_default()
            )));
        }
        server = Some(id);
        let size = std::fs::metadata(&path).at("stat", &path)?.len();
        let mut a =
            crate::binlog::file_archiver::FileArchiver::new(repo, set, id, f, compression, level)?;
        if a.index.end_pos >= size && a.index.segments.is_empty() {
            continue; // archived before
        }
        a.archive_closed_file(
            &path,
            crate::binlog::file_archiver::ServerEnd {
                size,
                torn_tail: false,
            },
        )?;
    }
    Ok(server.unwrap_or_default())
}

fn md5_of(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).at("open", path)?;
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).at("read", path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// MySQL's `SET @@GLOBAL.GTID_PURGED=…;` (mysqldump's default with GTIDs, one line or more) as
/// `-- ` comment lines, so that loading the dump sets no GTID state, as for zrm's own dumps
/// (`--set-gtid-purged=COMMENTED`; zrm's replay brings the GTIDs): an imported dump then loads
/// into a server that already executed those GTIDs, such as the one it came from. (A `/* */`
/// comment would end at the statement's own `/*!80000 '+'*/`.)
fn commented_gtid_purged<'a>(line: &'a [u8], inside: &mut bool) -> std::borrow::Cow<'a, [u8]> {
    if !*inside && !line.starts_with(b"SET @@GLOBAL.GTID_PURGED=") {
        return std::borrow::Cow::Borrowed(line);
    }
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    *inside = !body.trim_ascii_end().ends_with(b";");
    let mut out = Vec::with_capacity(line.len() + 3);
    out.extend_from_slice(b"-- ");
    out.extend_from_slice(line);
    std::borrow::Cow::Owned(out)
}

/// Import every image of `req` into `repo`. Blocking.
pub fn import(
    repo: &Repository,
    req: &ImportRequest,
    (compression, level): (Compression, i32),
) -> Result<Vec<ImageOutcome>> {
    let mut out = Vec::new();
    // Incrementals first: their binlogs' server id is the server id of the fulls.
    let all = images(&req.from, &req.zrm_set)?;
    let mut servers: Vec<u32> = Vec::new();
    let mut incrementals: Vec<(PathBuf, i64, u32, Vec<String>)> = Vec::new();
    for dir in &all {
        let Ok(text) = std::fs::read_to_string(dir.join("index")) else {
            continue;
        };
        let index = ZrmIndex::parse(&text);
        if index.get("backup-level").map(str::trim) != Some("1") || unusable(&index).is_some() {
            continue;
        }
        let work = match work_dir(dir) {
            Ok(w) => w,
            Err(reason) => {
                out.push(ImageOutcome::NotImported {
                    dir: dir.clone(),
                    reason,
                });
                continue;
            }
        };
        let problem = match missing_files(&index, &work.path) {
            Some(r) => Some(r),
            None => md5_mismatch(&index, &work.path)?,
        };
        if let Some(reason) = problem {
            out.push(ImageOutcome::NotImported {
                dir: dir.clone(),
                reason,
            });
            continue;
        }
        let files = incremental_files(&index, &work.path);
        match archive_incremental(repo, &req.set, &work.path, &files, (compression, level)) {
            Ok(server_id) => {
                if !servers.contains(&server_id) {
                    servers.push(server_id);
                }
                incrementals.push((dir.clone(), image_epoch(&index, dir), server_id, files));
            }
            Err(e) => out.push(ImageOutcome::NotImported {
                dir: dir.clone(),
                reason: e.to_string(),
            }),
        }
    }
    let server_id = match servers.as_slice() {
        [one] => *one,
        _ => 0,
    };
    for dir in all {
        let index_path = dir.join("index");
        let Ok(text) = std::fs::read_to_string(&index_path) else {
            out.push(ImageOutcome::NotImported {
                dir,
                reason: "no readable index file (an interrupted ZRM backup)".into(),
            });
            continue;
        };
        let index = ZrmIndex::parse(&text);
        if let Some(reason) = unusable(&index) {
            out.push(ImageOutcome::NotImported { dir, reason });
            continue;
        }
        if index.get("backup-level").map(str::trim) == Some("1") {
            continue; // done above
        }
        let work = match work_dir(&dir) {
            Ok(w) => w,
            Err(reason) => {
                out.push(ImageOutcome::NotImported { dir, reason });
                continue;
            }
        };
        // ZRM's md5 sums, checked before anything is written.
        let problem = match missing_files(&index, &work.path) {
            Some(r) => Some(r),
            None => md5_mismatch(&index, &work.path)?,
        };
        if let Some(reason) = problem {
            out.push(ImageOutcome::NotImported { dir, reason });
            continue;
        }
        let epoch = image_epoch(&index, &dir);
        let start = chrono::DateTime::from_timestamp(epoch, 0).unwrap_or_default();
        let id = catalog::new_backup_id(start);
        let bdir = Repository::backup_dir(&req.set, &id);
        if repo.backend().exists(&format!("{bdir}/{MANIFEST_FILE}"))? {
            out.push(ImageOutcome::AlreadyImported { dir, id });
            continue;
        }
        let file_name = dump_file_name(compression);
        let rel = format!("{bdir}/{file_name}");
        let sql = work.path.join("backup.sql");
        let mut input =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&sql).at("open", &sql)?);
        let mut writer = StoredFileWriter::new(repo.backend().create(&rel)?, compression, level)?;
        let mut scanner = DumpScanner::new();
        let mut line = Vec::new();
        let mut bytes = 0u64;
        let mut in_gtid_purged = false;
        loop {
            line.clear();
            let n = std::io::BufRead::read_until(&mut input, b'\n', &mut line).at("read", &sql)?;
            if n == 0 {
                break;
            }
            // The scanner reads the GTID set from the statement as mysqldump wrote it.
            scanner.feed(&line);
            let out = commented_gtid_purged(&line, &mut in_gtid_purged);
            writer.write_all(&out).map_err(|e| {
                Error::Backup(format!(
                    "writing {}/{rel} failed: {e}; check free space and permissions of the \
                     repository",
                    repo.describe()
                ))
            })?;
            bytes += out.len() as u64;
        }
        let facts = scanner.finish();
        let stored = writer.commit(bytes, &rel)?;
        let version = index.get("mysql-version").unwrap_or("").trim().to_string();
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDB
        } else {
            Flavor::MySQL
        };
        let selected: Option<Vec<String>> = index
            .get("logical-databases")
            .map(|d| d.split_whitespace().map(str::to_string).collect())
            .filter(|d: &Vec<String>| !d.is_empty());
        let manifest = Manifest {
            format_version: MANIFEST_VERSION,
            id: id.clone(),
            set: req.set.clone(),
            level: 0,
            parent_id: None,
            method: Method::Mysqldump,
            tool: ToolInfo {
                zrm: format!("zrm {}", env!("CARGO_PKG_VERSION")),
                dump_tool: Some(format!(
                    "mysqldump, by ZRM {}",
                    index.get("mysql-zrm-version").unwrap_or("").trim()
                )),
            },
            server: ServerInfo {
                host: index.get("host").unwrap_or("localhost").trim().to_string(),
                port: None,
                socket: None,
                version,
                flavor,
                server_id,
                server_uuid: None,
                gtid_domain_id: None,
                gtid_mode: String::new(),
                log_bin: index.get("next-binlog").is_some(),
                binlog_format: String::new(),
                time_zone: "SYSTEM".into(),
                session_time_zone: None,
            },
            start_time: start,
            end_time: start,
            consistent_point: facts.consistent_point(),
            read_lock_ms: None,
            databases: catalog::databases_from(&facts.rows),
            files: vec![FileEntry {
                path: file_name.to_string(),
                size: stored.size,
                stored_size: stored.stored_size,
                sha256: stored.sha256,
            }],
            compression,
            encryption_key_id: repo.info.encryption_key_id.clone(),
            status: BackupStatus::Complete,
            binlog_range: None,
            comment: Some(
                match index.get("comment").filter(|c| !c.trim().is_empty()) {
                    Some(c) => format!("imported from ZRM image {}: {}", dir.display(), c.trim()),
                    None => format!("imported from ZRM image {}", dir.display()),
                },
            ),
            selected_databases: selected,
            exclude: Vec::new(),
            logical: None,
            physical: None,
            replica: None,
            server_choice: None,
        };
        repo.write_small(&format!("{bdir}/{MANIFEST_FILE}"), &manifest.to_json())?;
        out.push(ImageOutcome::Imported { dir, id });
    }
    // The incrementals, oldest first, each on the backup before it (a full imported above,
    // or the incremental before).
    for (dir, epoch, server_id, files) in incrementals {
        out.push(register_incremental(
            repo, &req.set, dir, epoch, server_id, files,
        )?);
    }
    // In ZRM's order: by image directory.
    out.sort_by(|a, b| image_dir(a).cmp(image_dir(b)));
    Ok(out)
}

/// When ZRM took the image: its index's `backup-date-epoch`, else its directory's name.
fn image_epoch(index: &ZrmIndex, dir: &Path) -> i64 {
    index
        .get("backup-date-epoch")
        .and_then(|e| e.trim().parse().ok())
        .or_else(|| {
            let name = dir.file_name()?.to_string_lossy().into_owned();
            chrono::NaiveDateTime::parse_from_str(&name, "%Y%m%d%H%M%S")
                .ok()
                .map(|t| t.and_utc().timestamp())
        })
        .unwrap_or(0)
}

/// A ZRM incremental (its binary logs archived) as zrm's incremental backup on the set's
/// backup before it, when its files continue exactly where that backup ended.
fn register_incremental(
    repo: &Repository,
    set: &str,
    dir: PathBuf,
    epoch: i64,
    server_id: u32,
    files: Vec<String>,
) -> Result<ImageOutcome> {
    let archived = |why: String| ImageOutcome::BinlogsArchived {
        dir: dir.clone(),
        server_id,
        files: files.clone(),
        why_not_listed: why,
    };
    let start_time = chrono::DateTime::from_timestamp(epoch, 0).unwrap_or_default();
    let id = catalog::new_backup_id(start_time);
    let bdir = Repository::backup_dir(set, &id);
    if repo.backend().exists(&format!("{bdir}/{MANIFEST_FILE}"))? {
        return Ok(ImageOutcome::AlreadyImported { dir, id });
    }
    let parent = catalog::list_set(repo, set)?
        .into_iter()
        .filter_map(|e| match e {
            catalog::CatalogEntry::Complete(m) => Some(*m),
            _ => None,
        })
        .filter(|m| m.start_time < start_time)
        .max_by_key(|m| m.start_time);
    let Some(parent) = parent else {
        return Ok(archived("no backup of the set before it".into()));
    };
    let Some(start) = crate::engine::incremental::end_point(&parent) else {
        return Ok(archived(format!(
            "backup {} before it has no binary log position",
            parent.id
        )));
    };
    let mut names = files.clone();
    names.sort_by_key(|f| crate::binlog::archive_index::file_order(f));
    // ZRM's next incremental starts with the file after the one its parent ended in: the
    // range then starts at the end of that (complete, archived) file, as zrm's own does.
    let mut range = names.clone();
    if names.first() != Some(&start.binlog_file)
        && names.first().map(String::as_str)
            == crate::binlog::archive_index::next_name(&start.binlog_file).as_deref()
        && crate::binlog::archive_index::load(repo, set, server_id, &start.binlog_file)?
            .is_some_and(|i| i.complete && i.end_pos == start.binlog_pos)
    {
        range.insert(0, start.binlog_file.clone());
    }
    if range.first() != Some(&start.binlog_file) || parent.server.server_id != server_id {
        return Ok(archived(format!(
            "its binary logs (server {server_id}, from {}) do not continue backup {} (server              {}, ending at {start})",
            names.first().map_or("none", |n| n.as_str()),
            parent.id,
            parent.server.server_id
        )));
    }
    let mut indexes = Vec::new();
    for f in &range {
        match crate::binlog::archive_index::load(repo, set, server_id, f)? {
            Some(i) => indexes.push(i),
            None => return Ok(archived(format!("{f} is not in the set's binlog archive"))),
        }
    }
    let Some(last) = indexes.last() else {
        return Ok(archived("no binary log files".into()));
    };
    let end = crate::engine::incremental::range_end(last);
    let entries = crate::engine::incremental::range_files(&indexes);
    let manifest = Manifest {
        format_version: MANIFEST_VERSION,
        id: id.clone(),
        set: set.to_string(),
        level: parent.level + 1,
        parent_id: Some(parent.id.clone()),
        method: parent.method,
        tool: parent.tool.clone(),
        server: parent.server.clone(),
        start_time,
        end_time: start_time,
        consistent_point: Some(end.clone()),
        read_lock_ms: None,
        databases: Vec::new(),
        files: entries,
        compression: indexes
            .first()
            .map_or(parent.compression, |i| i.compression),
        encryption_key_id: repo.info.encryption_key_id.clone(),
        status: BackupStatus::Complete,
        binlog_range: Some(catalog::BinlogRange { start, end }),
        comment: Some(format!("imported from ZRM image {}", dir.display())),
        selected_databases: parent.selected_databases.clone(),
        exclude: parent.exclude.clone(),
        logical: None,
        physical: None,
        replica: None,
        server_choice: None,
    };
    repo.write_small(&format!("{bdir}/{MANIFEST_FILE}"), &manifest.to_json())?;
    Ok(ImageOutcome::IncrementalImported {
        dir,
        id,
        level: manifest.level,
        parent: parent.id,
        files: names,
    })
}

fn image_dir(o: &ImageOutcome) -> &Path {
    match o {
        ImageOutcome::Imported { dir, .. }
        | ImageOutcome::AlreadyImported { dir, .. }
        | ImageOutcome::NotImported { dir, .. }
        | ImageOutcome::IncrementalImported { dir, .. }
        | ImageOutcome::BinlogsArchived { dir, .. } => dir,
    }
}

/// ZRM's md5 sums of an image checked: why it is damaged, or `None`.
fn md5_mismatch(index: &ZrmIndex, dir: &Path) -> Result<Option<String>> {
    for (name, md5) in index.md5s() {
        let file = dir.join(&name);
        let actual = if file.is_file() {
            md5_of(&file)?
        } else {
            "missing".into()
        };
        if actual != md5 {
            return Ok(Some(format!(
                "{name}: md5 {actual}, but ZRM's index says {md5}: the image is damaged"
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_purged_is_commented() {
        let mut inside = false;
        assert_eq!(
            &*commented_gtid_purged(
                b"SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'u:1-5';\n",
                &mut inside
            ),
            b"-- SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'u:1-5';\n"
        );
        assert!(!inside);
        assert_eq!(
            &*commented_gtid_purged(b"SET @@GLOBAL.GTID_PURGED='+a:5,\n", &mut inside),
            b"-- SET @@GLOBAL.GTID_PURGED='+a:5,\n"
        );
        assert!(inside);
        assert_eq!(
            &*commented_gtid_purged(b"b:1-3';\n", &mut inside),
            b"-- b:1-3';\n"
        );
        assert!(!inside);
        assert_eq!(
            &*commented_gtid_purged(b"INSERT 1;\n", &mut inside),
            b"INSERT 1;\n"
        );
    }

    #[test]
    fn index_lines_and_md5s() {
        let i = ZrmIndex::parse(
            "backup-set=dailyrun\nbackup-level=0\n\
             /var/lib/mysql-zrm/dailyrun/20061112115501/backup.sql=d41d8cd98f00b204e9800998ecf8427e\n\
             backup-status=Backup succeeded\n",
        );
        assert_eq!(i.get("backup-set"), Some("dailyrun"));
        assert_eq!(
            i.md5s(),
            vec![(
                "backup.sql".to_string(),
                "d41d8cd98f00b204e9800998ecf8427e".to_string()
            )]
        );
        let dir = Path::new("/nonexistent");
        assert_eq!(unusable(&i), None);
        assert!(missing_files(&i, dir).unwrap().contains("no backup.sql"));
        let bz = ZrmIndex::parse("backup-status=Backup succeeded\ncompress=/usr/bin/bzip2\n");
        assert!(unusable(&bz).unwrap().contains("gzip"));
        let gz = ZrmIndex::parse("backup-status=Backup succeeded\ncompress=\n");
        assert_eq!(unusable(&gz), None);
        let enc = ZrmIndex::parse("backup-status=Backup succeeded\nencrypt=/usr/bin/gpg\n");
        assert!(unusable(&enc).unwrap().contains("gpg"));
        let failed = ZrmIndex::parse("backup-status=Backup failed\n");
        assert!(unusable(&failed).unwrap().contains("Backup failed"));
        let inc = ZrmIndex::parse("backup-status=Backup succeeded\nbackup-level=1\n");
        assert!(missing_files(&inc, dir)
            .unwrap()
            .contains("without binary log files"));
    }
}
