//! Where the analyzer, `find` and restore read binlogs from: files on disk, or a set's archive
//! in the repository (in chain order, with gaps reported).

use std::io::Read;
use std::path::PathBuf;

use super::archive_index::{self as idx, BinlogIndex, Gap};
use super::input;
use crate::catalog::{ConsistentPoint, Manifest};
use crate::config::Compression;
use crate::error::{Error, Result};
use crate::repo::Repository;

#[derive(Debug, Clone)]
pub enum Origin {
    Path(PathBuf),
    /// Stored objects (relative repository paths), concatenated in order.
    Archived {
        objects: Vec<String>,
        compression: Compression,
    },
}

/// One binlog to read, optionally only from `start` and up to `end` (byte positions).
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub origin: Origin,
    pub start: Option<u64>,
    pub end: Option<u64>,
}

impl Input {
    /// An archived binlog of a set, as its index describes it.
    pub fn archived(set: &str, i: &BinlogIndex) -> Input {
        let dir = idx::server_dir(set, i.server_id);
        Input {
            name: i.file.clone(),
            origin: Origin::Archived {
                objects: i
                    .segments
                    .iter()
                    .map(|s| format!("{dir}/{}", s.object))
                    .collect(),
                compression: i.compression,
            },
            start: None,
            end: None,
        }
    }

    pub fn from_path(p: PathBuf) -> Input {
        Input {
            name: input::binlog_name(&p),
            origin: Origin::Path(p),
            start: None,
            end: None,
        }
    }

    /// For messages: the path, or `archive:<name>`.
    pub fn display(&self) -> String {
        match &self.origin {
            Origin::Path(p) => p.display().to_string(),
            Origin::Archived { .. } => format!("{} (archived)", self.name),
        }
    }

    pub fn open(&self, repo: Option<&Repository>) -> Result<Box<dyn Read + Send>> {
        match &self.origin {
            Origin::Path(p) => input::open_path(p),
            Origin::Archived {
                objects,
                compression,
            } => {
                let repo = repo.expect("archived inputs come with their repository");
                let mut chain: Box<dyn Read + Send> = Box::new(std::io::empty());
                for o in objects {
                    chain = Box::new(chain.chain(repo.backend().open(o)?));
                }
                // The binlog reader reads in large chunks itself: no second buffer.
                Ok(match compression {
                    Compression::None => chain,
                    Compression::Zstd => {
                        Box::new(zstd::stream::read::Decoder::new(chain).map_err(|e| {
                            Error::Binlog(format!("cannot decompress archived {}: {e}", self.name))
                        })?)
                    }
                })
            }
        }
    }
}

/// The archived binlogs of a set, for each server in turn, with the gaps between them.
pub struct ArchiveView {
    pub inputs: Vec<Input>,
    pub indexes: Vec<BinlogIndex>,
    pub gaps: Vec<Gap>,
}

impl ArchiveView {
    /// The newest archived event's time: where the archive ends.
    pub fn last_event(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.indexes.iter().filter_map(|i| i.last_event_time).max()
    }
}

/// Where a set's archive ends; `None` when it has no archive (or it cannot be read).
pub fn archive_end(repo: &Repository, set: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    archived(repo, set).ok().and_then(|v| v.last_event())
}

pub fn archived(repo: &Repository, set: &str) -> Result<ArchiveView> {
    let mut view = ArchiveView {
        inputs: Vec::new(),
        indexes: Vec::new(),
        gaps: Vec::new(),
    };
    for sid in idx::servers(repo, set)? {
        let files = idx::load_all(repo, set, sid)?;
        view.gaps.extend(idx::gaps(&files));
        for i in files {
            let mut input = Input::archived(set, &i);
            input.end = (!i.complete).then_some(i.end_pos);
            view.inputs.push(input);
            view.indexes.push(i);
        }
    }
    if view.inputs.is_empty() {
        return Err(Error::Binlog(format!(
            "set '{set}' has no archived binlogs in {}: run `zrm binlog archive --set {set}` first",
            repo.describe()
        )));
    }
    Ok(view)
}

/// Restrict inputs to `[from, to)` (file:pos points; `to` None = to the end).
pub fn restrict(
    inputs: Vec<Input>,
    from: &ConsistentPoint,
    to: Option<&ConsistentPoint>,
) -> Vec<Input> {
    let after = |a: &str, b: &str| idx::file_order(a) > idx::file_order(b);
    inputs
        .into_iter()
        .filter(|i| !after(&from.binlog_file, &i.name))
        .filter(|i| to.is_none_or(|t| !after(&i.name, &t.binlog_file)))
        .map(|mut i| {
            if i.name == from.binlog_file {
                i.start = Some(from.binlog_pos);
            }
            if let Some(t) = to.filter(|t| t.binlog_file == i.name) {
                i.end = Some(t.binlog_pos);
            }
            i
        })
        .collect()
}

/// The binlog range a backup covers: an incremental's own range; for a full, from its
/// consistent point on.
pub fn backup_range(m: &Manifest) -> Result<(ConsistentPoint, Option<ConsistentPoint>)> {
    if let Some(r) = &m.binlog_range {
        return Ok((r.start.clone(), Some(r.end.clone())));
    }
    m.consistent_point
        .clone()
        .map(|p| (p, None))
        .ok_or_else(|| {
            Error::Binlog(format!(
                "backup {} has no consistent point (binary logging was off): no binlog range",
                m.id
            ))
        })
}
