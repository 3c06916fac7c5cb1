//! Copying a data directory out of a read-only snapshot into the repository, and back out of
//! the repository into a new data directory.
//!
//! The stored form is N plain tar streams (`data/part-NN.tar.zst`), each compressed and
//! checksummed as it is written, filled in parallel (largest files first, each to the least
//! loaded part). Plain tar on purpose: with zrm gone, `zstd -d < part-00.tar.zst | tar x`
//! still gives the files back. Ownership, modes and times are kept, so a restored datadir is
//! ready for the server's own user.

use std::fs;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::FileEntry;
use crate::config::Compression;
use crate::engine::stream::{self, StoredFileWriter};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repo::Repository;

/// One regular file to copy, relative to the copied root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub rel: PathBuf,
    pub size: u64,
}

/// What is left out of the copy, and why (for the manifest and the report).
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    /// Paths relative to the root that are skipped, with the reason.
    pub paths: Vec<(PathBuf, &'static str)>,
    /// File-name prefixes skipped wherever they appear (binary and relay log basenames).
    pub prefixes: Vec<(String, &'static str)>,
}

impl Exclusions {
    fn reason(&self, rel: &Path) -> Option<&'static str> {
        if let Some((_, why)) = self.paths.iter().find(|(p, _)| rel == p) {
            return Some(why);
        }
        let name = rel.file_name()?.to_string_lossy();
        if let Some((_, why)) = self.prefixes.iter().find(|(p, _)| {
            name.strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        }) {
            return Some(why);
        }
        if name.ends_with(".pid") {
            return Some("the server's pid file");
        }
        None
    }
}

/// The files and directories under `root`, minus the exclusions and anything that is not a
/// regular file or directory (sockets, fifos). Returns (files, directories, skipped).
pub fn collect(
    root: &Path,
    excl: &Exclusions,
) -> Result<(Vec<SourceFile>, Vec<PathBuf>, Vec<String>)> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = root.join(&rel);
        let entries = fs::read_dir(&abs).map_err(|e| Error::io("list", &abs, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &abs, e))?;
            let child = rel.join(entry.file_name());
            let meta = entry
                .metadata()
                .map_err(|e| Error::io("stat", entry.path(), e))?;
            let ft = meta.file_type();
            if let Some(why) = excl.reason(&child) {
                skipped.push(format!("{} ({why})", child.display()));
            } else if ft.is_dir() {
                dirs.push(child.clone());
                stack.push(child);
            } else if ft.is_file() {
                files.push(SourceFile {
                    rel: child,
                    size: meta.len(),
                });
            } else if ft.is_socket() || ft.is_fifo() {
                skipped.push(format!("{} (a socket or fifo)", child.display()));
            } else {
                skipped.push(format!(
                    "{} (a symbolic link or device: what it points to is not in the snapshot)",
                    child.display()
                ));
            }
        }
    }
    dirs.sort();
    Ok((files, dirs, skipped))
}

/// Split files over `n` parts, largest first onto the lightest part.
pub fn assign(files: &[SourceFile], n: usize) -> Vec<Vec<SourceFile>> {
    let n = n.max(1);
    let mut order: Vec<&SourceFile> = files.iter().collect();
    order.sort_by(|a, b| b.size.cmp(&a.size).then(a.rel.cmp(&b.rel)));
    let mut parts: Vec<(u64, Vec<SourceFile>)> = vec![(0, Vec::new()); n];
    for f in order {
        let lightest = parts
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("n >= 1");
        lightest.0 += f.size;
        lightest.1.push(f.clone());
    }
    parts.into_iter().map(|(_, f)| f).collect()
}

pub fn part_name(i: usize, compression: Compression) -> String {
    match compression {
        Compression::Zstd => format!("data/part-{i:02}.tar.zst"),
        Compression::None => format!("data/part-{i:02}.tar"),
    }
}

/// Write the tar parts into `backup_dir`. Blocking; one thread per part. The directories go
/// into part 0 (first, so an extraction creates them with their modes).
#[allow(clippy::too_many_arguments)]
pub fn write_parts(
    repo: &Arc<Repository>,
    backup_dir: &str,
    root: &Path,
    files: &[SourceFile],
    dirs: &[PathBuf],
    parallel: usize,
    (compression, level): (Compression, i32),
    progress: &Arc<dyn Progress>,
) -> Result<Vec<FileEntry>> {
    let parts = assign(files, parallel.min(files.len().max(1)));
    let results: Vec<Result<FileEntry>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let repo = repo.clone();
                let progress = progress.clone();
                let dirs: &[PathBuf] = if i == 0 { dirs } else { &[] };
                scope.spawn(move || {
                    write_part(
                        &repo,
                        backup_dir,
                        root,
                        i,
                        &part,
                        dirs,
                        (compression, level),
                        progress.as_ref(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Backup("a copy thread panicked".into())))
            })
            .collect()
    });
    results.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn write_part(
    repo: &Repository,
    backup_dir: &str,
    root: &Path,
    index: usize,
    files: &[SourceFile],
    dirs: &[PathBuf],
    (compression, level): (Compression, i32),
    progress: &dyn Progress,
) -> Result<FileEntry> {
    let name = part_name(index, compression);
    let rel = format!("{backup_dir}/{name}");
    let obj = repo.backend().create(&rel)?;
    let writer = StoredFileWriter::new(obj, compression, level)?;
    let mut tar = tar::Builder::new(writer);
    tar.mode(tar::HeaderMode::Complete);
    let mut bytes = 0u64;
    for d in dirs {
        let abs = root.join(d);
        tar.append_path_with_name(&abs, d)
            .map_err(|e| Error::io("copy the directory", &abs, e))?;
    }
    for f in files {
        let abs = root.join(&f.rel);
        let file = fs::File::open(&abs).map_err(|e| Error::io("open", &abs, e))?;
        let meta = file.metadata().map_err(|e| Error::io("stat", &abs, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        // A file of a read-only snapshot cannot change size; a live source could, and tar
        // needs the exact length up front.
        let len = meta.len();
        header.set_size(len);
        let reader = Counting {
            inner: BufReader::with_capacity(1 << 20, file).take(len),
            progress,
        };
        tar.append_data(&mut header, &f.rel, reader)
            .map_err(|e| Error::io("copy", &abs, e))?;
        bytes += len;
    }
    let writer = tar
        .into_inner()
        .map_err(|e| Error::io("finish writing", &rel, e))?;
    let stored = writer.commit(bytes, &rel)?;
    Ok(FileEntry {
        path: name,
        size: stored.size,
        stored_size: stored.stored_size,
        sha256: stored.sha256,
    })
}

struct Counting<'a, R: Read> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Extract every part into `dest` (which must exist). Blocking; one thread per part. Each
/// part's SHA-256 is checked against the manifest when its stream ends: a damaged part is an
/// error naming it (the caller removes the half-built directory).
pub fn extract_parts(
    repo: &Repository,
    backup_dir: &str,
    parts: &[FileEntry],
    compression: Compression,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<u64> {
    // Part 0 holds the directories: extract it first so the others find them.
    let mut total = 0;
    if let Some(first) = parts.first() {
        total += extract_part(repo, backup_dir, first, compression, dest, progress)?;
    }
    let rest: Vec<Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .skip(1)
            .map(|p| {
                scope.spawn(move || extract_part(repo, backup_dir, p, compression, dest, progress))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Restore("an extract thread panicked".into())))
            })
            .collect()
    });
    for r in rest {
        total += r?;
    }
    Ok(total)
}

fn extract_part(
    repo: &Repository,
    backup_dir: &str,
    part: &FileEntry,
    compression: Compression,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<u64> {
    let rel = format!("{backup_dir}/{}", part.path);
    let (reader, digest) = stream::open_stored(repo.backend().open(&rel)?, compression)?;
    let damaged = |detail: String| {
        Error::Repository(format!(
            "backup file {}/{rel} is damaged: {detail}; restore another backup",
            repo.describe()
        ))
    };
    let mut archive = tar::Archive::new(Counting {
        inner: reader,
        progress,
    });
    archive.set_preserve_permissions(true);
    // Only root can give files away; anyone else restores them as their own.
    archive.set_preserve_ownerships(unsafe { libc::geteuid() } == 0);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut bytes = 0;
    let entries = archive
        .entries()
        .map_err(|e| damaged(format!("cannot read it as tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("cannot read it as tar: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| damaged(format!("an entry has a bad name: {e}")))?
            .into_owned();
        if path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(damaged(format!(
                "entry {} points outside the data directory",
                path.display()
            )));
        }
        bytes += entry.size();
        let ok = entry
            .unpack_in(dest)
            .map_err(|e| classify_unpack_error(e, dest, &path, &damaged))?;
        if !ok {
            return Err(damaged(format!("entry {} was refused", path.display())));
        }
    }
    // Read to the true end so the digest covers every stored byte (tar stops at its trailer).
    let mut inner = archive.into_inner();
    io::copy(&mut inner, &mut io::sink())
        .map_err(|e| damaged(format!("cannot read its end: {e}")))?;
    let got = digest.lock().expect("not poisoned").clone();
    match got {
        Some((n, sha)) if n == part.stored_size && sha == part.sha256 => Ok(bytes),
        Some((n, sha)) => Err(damaged(format!(
            "{n} bytes with SHA-256 {sha}, but the manifest says {} bytes with SHA-256 {}",
            part.stored_size, part.sha256
        ))),
        None => Err(damaged("it ended early".into())),
    }
}

fn classify_unpack_error(
    e: io::Error,
    dest: &Path,
    path: &Path,
    damaged: &dyn Fn(String) -> Error,
) -> Error {
    match e.kind() {
        // Writing failed on our side (full disk, permissions): say so, not "damaged".
        io::ErrorKind::StorageFull | io::ErrorKind::PermissionDenied => {
            Error::io("write", dest.join(path), e)
        }
        _ if e.raw_os_error() == Some(libc::ENOSPC) => Error::io("write", dest.join(path), e),
        _ => damaged(format!("cannot extract {}: {e}", path.display())),
    }
}

/// The owner and mode of a directory, to give the restored root the same.
pub fn owner_of(path: &Path) -> Result<(u32, u32, u32)> {
    let m = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
    Ok((m.uid(), m.gid(), m.permissions().mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rel: &str, size: u64) -> SourceFile {
        SourceFile {
            rel: rel.into(),
            size,
        }
    }

    #[test]
    fn balances_parts_largest_first() {
        let files = vec![f("a", 100), f("b", 60), f("c", 50), f("d", 10)];
        let parts = assign(&files, 2);
        let sums: Vec<u64> = parts
            .iter()
            .map(|p| p.iter().map(|f| f.size).sum())
            .collect();
        assert_eq!(sums, vec![110, 110]);
        assert_eq!(assign(&files, 1)[0].len(), 4);
    }

    #[test]
    fn excludes_binlogs_and_pid_files() {
        let excl = Exclusions {
            paths: vec![("mysql-bin.index".into(), "binary log index")],
            prefixes: vec![("mysql-bin".into(), "binary log")],
        };
        assert!(excl.reason(Path::new("mysql-bin.000001")).is_some());
        assert!(excl.reason(Path::new("mysql-bin.index")).is_some());
        assert!(excl.reason(Path::new("host.pid")).is_some());
        assert!(excl.reason(Path::new("mysql-binx.000001")).is_none());
        assert!(excl.reason(Path::new("app/t.ibd")).is_none());
    }
}
