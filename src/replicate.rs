//! Replication of a set to a second repository (local ↔ S3, S3 ↔ S3 across regions) for
//! disaster recovery.
//!
//! The copy is of the stored bytes (still compressed, still encrypted: the replica needs the
//! same key, and never sees a plain byte). Only what the target lacks is copied (a file whose
//! size differs, or a small index whose content differs, is copied again), each copy is read
//! back and its SHA-256 compared with the source's, and a backup's manifest is copied only
//! after all of its files: a replica interrupted at any point holds only complete backups, and
//! the next run goes on from there.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use serde::Serialize;

use crate::config::{ConfigFile, RepoLocation};
use crate::engine::stream::HashingReader;
use crate::error::{Error, Result};
use crate::repo::{self, Backend, RepoInfo, MANIFEST_FILE, REPO_INFO_FILE};

/// What one replication did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Replicated {
    pub from: String,
    pub to: String,
    pub set: String,
    pub copied: Vec<String>,
    pub copied_bytes: u64,
    pub already_there: usize,
    pub manifests_copied: usize,
    pub duration_s: f64,
}

/// Copy what `target` lacks of `set`. Blocking.
pub fn replicate_set(
    config: &ConfigFile,
    target: &RepoLocation,
    set: &str,
    dry_run: bool,
    note: &dyn Fn(&str),
) -> Result<Replicated> {
    let started = Instant::now();
    let source_loc = config.repository_location()?;
    if &source_loc == target {
        return Err(Error::Usage(format!(
            "the replica {} is the repository itself",
            target.describe()
        )));
    }
    let src = repo::backend_at(&source_loc, false)?;
    let dst = repo::backend_at(target, !dry_run)?;
    let info = same_repository(src.as_ref(), dst.as_ref(), dry_run)?;
    let _lock = if dry_run {
        None
    } else {
        Some(dst.lock_set(set)?)
    };

    let prefix = format!("sets/{set}");
    let have: BTreeMap<String, u64> = dst.walk(&prefix)?.into_iter().collect();
    type Files = Vec<(String, u64)>;
    let (manifests, files): (Files, Files) = src
        .walk(&prefix)?
        .into_iter()
        .filter(|(p, _)| !is_lock(p))
        .partition(|(p, _)| p.ends_with(&format!("/{MANIFEST_FILE}")));
    // A binlog index after its segments: a replica never holds an index whose data is missing.
    let mut files = files;
    files.sort_by_key(|(p, _)| (p.contains("/binlogs/") && p.ends_with(".json"), p.clone()));
    let mut out = Replicated {
        from: src.describe(),
        to: dst.describe(),
        set: set.to_string(),
        ..Default::default()
    };
    if let Some(info) = info {
        if !dry_run {
            copy_small(dst.as_ref(), REPO_INFO_FILE, &info)?;
            let id = serde_json::from_slice::<RepoInfo>(&info)
                .map(|i| i.repository_id)
                .unwrap_or_default();
            note(&format!(
                "created the replica repository {} (repository id {id})",
                dst.describe()
            ));
        }
    }
    let mut failed = Vec::new();
    for (path, size) in files.iter().chain(manifests.iter()) {
        let is_manifest = path.ends_with(&format!("/{MANIFEST_FILE}"));
        if is_manifest {
            // Only when every file of that backup is in the replica.
            let dir = path.trim_end_matches(MANIFEST_FILE);
            if failed.iter().any(|f: &String| f.starts_with(dir)) {
                continue;
            }
        }
        if !needs_copy(src.as_ref(), dst.as_ref(), path, *size, have.get(path))? {
            out.already_there += 1;
            continue;
        }
        if dry_run {
            out.copied.push(path.clone());
            out.copied_bytes += size;
            out.manifests_copied += usize::from(is_manifest);
            continue;
        }
        match copy_verified(src.as_ref(), dst.as_ref(), path) {
            Ok(n) => {
                out.copied.push(path.clone());
                out.copied_bytes += n;
                out.manifests_copied += usize::from(is_manifest);
            }
            Err(e) => {
                note(&format!("warning: {e}"));
                failed.push(path.clone());
            }
        }
    }
    out.duration_s = started.elapsed().as_secs_f64();
    if !failed.is_empty() {
        return Err(Error::Repository(format!(
            "replication of set '{set}' to {} copied {} file(s) but {} failed (first: {}); \
             the backups whose files are missing were not made visible there; run `zrm \
             replicate --set {set}` again to continue",
            dst.describe(),
            out.copied.len(),
            failed.len(),
            failed[0]
        )));
    }
    Ok(out)
}

/// The source's `zrm-repo.json` when the target has none yet (to be written there); an error
/// when the target is another repository.
fn same_repository(src: &dyn Backend, dst: &dyn Backend, dry_run: bool) -> Result<Option<Vec<u8>>> {
    let src_info = read_all(src, REPO_INFO_FILE)?;
    let parse = |b: &[u8], where_: &str| -> Result<RepoInfo> {
        serde_json::from_slice(b).map_err(|e| {
            Error::Repository(format!(
                "{where_}/{REPO_INFO_FILE} is not a zrm repository description: {e}"
            ))
        })
    };
    let mine = parse(&src_info, &src.describe())?;
    if !dst.exists(REPO_INFO_FILE)? {
        return Ok((!dry_run).then_some(src_info));
    }
    let theirs = parse(&read_all(dst, REPO_INFO_FILE)?, &dst.describe())?;
    if theirs.repository_id != mine.repository_id {
        return Err(Error::Repository(format!(
            "{} holds another repository (id {}, this one is {}): replicate into an empty \
             location or into a replica of this repository",
            dst.describe(),
            theirs.repository_id,
            mine.repository_id
        )));
    }
    Ok(None)
}

fn is_lock(path: &str) -> bool {
    path.ends_with("/lock") || path.ends_with("/binlog.lock")
}

/// Size decides for data files; small JSON files (binlog indexes) are compared by content,
/// since they are rewritten in place as the archive grows.
fn needs_copy(
    src: &dyn Backend,
    dst: &dyn Backend,
    path: &str,
    size: u64,
    there: Option<&u64>,
) -> Result<bool> {
    match there {
        None => Ok(true),
        Some(&n) if n != size => Ok(true),
        Some(_) if path.ends_with(".json") && !path.ends_with(MANIFEST_FILE) => {
            Ok(read_all(src, path)? != read_all(dst, path)?)
        }
        Some(_) => Ok(false),
    }
}

/// Copy one file and read the copy back: its SHA-256 must equal the source's.
fn copy_verified(src: &dyn Backend, dst: &dyn Backend, path: &str) -> Result<u64> {
    let mut reader = HashingReader::new(src.open(path)?);
    let mut w = dst.create(path)?;
    std::io::copy(&mut reader, &mut w).map_err(|e| {
        Error::Repository(format!(
            "copying {path} from {} to {}: {e}",
            src.describe(),
            dst.describe()
        ))
    })?;
    w.commit()?;
    let (n, sha) = reader.finish();
    let mut back = HashingReader::new(dst.open(path)?);
    std::io::copy(&mut back, &mut std::io::sink()).map_err(|e| {
        Error::Repository(format!("reading back {path} from {}: {e}", dst.describe()))
    })?;
    let (m, sha2) = back.finish();
    if (m, &sha2) != (n, &sha) {
        dst.remove_file(path);
        return Err(Error::Repository(format!(
            "the copy of {path} in {} reads back as {m} bytes with SHA-256 {sha2}, not {n} bytes \
             with {sha}: removed",
            dst.describe()
        )));
    }
    Ok(n)
}

fn copy_small(dst: &dyn Backend, path: &str, bytes: &[u8]) -> Result<()> {
    let mut w = dst.create(path)?;
    w.write_all(bytes)
        .map_err(|e| Error::io("write", path, e))?;
    w.commit()
}

fn read_all(b: &dyn Backend, path: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut b.open(path)?, &mut v)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(v)
}
