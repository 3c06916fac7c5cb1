//! The local-directory backend.
//!
//! Writes go to `.<name>.tmp.<pid>` in the final directory, are fsynced, renamed into place,
//! and the directory is fsynced, so a crash leaves either the old state or the complete file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::lock::SetLock;
use super::{Backend, ObjectWriter};
use crate::error::{Error, IoContext, Result};

pub struct LocalBackend {
    root: PathBuf,
}

/// Backups hold the whole database: what zrm creates is private to its user (0700
/// directories, 0600 files), whatever the umask.
pub fn create_private_dirs(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .at("create directory", dir)
}

impl LocalBackend {
    pub fn new(root: PathBuf, create: bool) -> Result<Self> {
        if create {
            create_private_dirs(&root)?;
        }
        Ok(LocalBackend { root })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `rel` under the root, reached without a symbolic link: what zrm deletes must be the
    /// repository's own (write access to a repository is not root on the host). `rel` must be
    /// plain names joined by `/`.
    fn confined(&self, rel: &str) -> Result<PathBuf> {
        let mut p = self.root.clone();
        for c in rel.split('/') {
            if c.is_empty() || c == "." || c == ".." {
                return Err(Error::Repository(format!(
                    "refusing to touch '{}' in {}: not a plain path inside the repository",
                    rel.escape_default(),
                    self.root.display()
                )));
            }
            p.push(c);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::Repository(format!(
                        "refusing to delete through {}: it is a symbolic link, and zrm never \
                         deletes outside the repository. Replace the link by the directory \
                         itself (mount a disk there if the repository spans disks)",
                        p.display()
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io("inspect", &p, e)),
            }
        }
        Ok(self.root.join(rel))
    }

    fn lock_named(&self, set: &str, file: &str, what: &'static str) -> Result<SetLock> {
        let dir = self.path(&format!("sets/{set}"));
        create_private_dirs(&dir)?;
        SetLock::acquire(what, set, &dir.join(file))
    }
}

pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .at("fsync directory", dir)
}

struct LocalWriter {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<io::BufWriter<File>>,
    /// Bytes written since writeback was last started.
    unkicked: usize,
}

/// Start writing dirty pages back every this many bytes, so the fsync at commit finds little
/// left to do: a large file is then durable moments after its last byte instead of after a
/// flush of everything at once (which stalls whoever waits for it).
const WRITEBACK_EVERY: usize = 8 << 20;

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self.file.as_mut().expect("open until commit");
        let n = file.write(buf)?;
        self.unkicked += n;
        if self.unkicked >= WRITEBACK_EVERY {
            self.unkicked = 0;
            use std::os::unix::io::AsRawFd;
            // SAFETY: a valid open descriptor; SYNC_FILE_RANGE_WRITE only starts writeback
            // (offset 0, length 0: the whole file) and changes no data. A failure is harmless:
            // the fsync at commit still makes the file durable.
            unsafe {
                libc::sync_file_range(
                    file.get_ref().as_raw_fd(),
                    0,
                    0,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open until commit").flush()
    }
}

impl ObjectWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let file = self.file.take().expect("commit once");
        let file = file
            .into_inner()
            .map_err(|e| Error::io("write", &self.tmp, e.into_error()))?;
        file.sync_all().at("fsync", &self.tmp)?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).at("rename into place", &self.dest)?;
        fsync_dir(self.dest.parent().expect("files live in a directory"))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>> {
        let dest = self.path(rel);
        let dir = dest.parent().expect("relative file paths have a parent");
        create_private_dirs(dir)?;
        let name = dest
            .file_name()
            .expect("relative file paths have a name")
            .to_string_lossy();
        // pid and a counter: two writers of one process (cluster shards) never share a name.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .at("create", &tmp)?
        };
        Ok(Box::new(LocalWriter {
            tmp,
            dest,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            unkicked: 0,
        }))
    }

    fn open(&self, rel: &str) -> Result<Box<dyn Read + Send>> {
        let p = self.path(rel);
        Ok(Box::new(File::open(&p).at("open", &p)?))
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        Ok(self.path(rel).exists())
    }

    fn list(&self, rel: &str) -> Result<Vec<String>> {
        let p = self.path(rel);
        let entries = match fs::read_dir(&p) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &p, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.at("list", &p)?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn size(&self, rel: &str) -> Result<u64> {
        let p = self.path(rel);
        Ok(fs::metadata(&p).at("stat", &p)?.len())
    }

    fn walk(&self, rel: &str) -> Result<Vec<(String, u64)>> {
        // A walk names files to copy or delete: it starts nowhere a link leads (links inside
        // are neither files nor directories to lstat, so they are left out).
        if !rel.trim_end_matches('/').is_empty() {
            self.confined(rel.trim_end_matches('/'))?;
        }
        let mut out = Vec::new();
        let mut stack = vec![rel.trim_end_matches('/').to_string()];
        while let Some(dir) = stack.pop() {
            let p = self.path(&dir);
            let entries = match fs::read_dir(&p) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("list", &p, e)),
            };
            for entry in entries {
                let entry = entry.at("list", &p)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let child = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let meta = entry.metadata().at("stat", entry.path())?;
                if meta.is_dir() {
                    stack.push(child);
                } else if meta.is_file() {
                    out.push((child, meta.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn lock_set(&self, set: &str) -> Result<SetLock> {
        self.lock_named(set, "lock", "set")
    }

    fn lock_binlogs(&self, set: &str) -> Result<SetLock> {
        self.lock_named(set, "binlog.lock", "the binlog archive of set")
    }

    fn remove_file(&self, rel: &str) {
        match self.confined(rel) {
            Ok(p) => {
                let _ = fs::remove_file(p);
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    fn remove_empty_dir(&self, rel: &str) {
        match self.confined(rel) {
            Ok(p) => {
                let _ = fs::remove_dir(p);
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    fn remove_tree(&self, rel: &str) -> Result<()> {
        let top = self.confined(rel)?;
        // Depth first, by lstat: a link is removed as a link, never followed.
        fn remove(p: &Path) -> io::Result<()> {
            let m = fs::symlink_metadata(p)?;
            if m.is_dir() {
                for entry in fs::read_dir(p)? {
                    remove(&entry?.path())?;
                }
                fs::remove_dir(p)
            } else {
                fs::remove_file(p)
            }
        }
        match remove(&top) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("delete", &top, e)),
            _ => Ok(()),
        }
    }

    fn probe_writable(&self) -> Result<()> {
        if !self.root.exists() {
            // Do not create it here: `check` changes nothing. The first backup will create it
            // if the nearest existing parent is writable.
            let parent = self
                .root
                .ancestors()
                .find(|a| a.exists())
                .unwrap_or_else(|| Path::new("/"));
            let c = std::ffi::CString::new(parent.as_os_str().as_encoded_bytes())
                .map_err(|_| Error::Repository(format!("bad path {}", parent.display())))?;
            // SAFETY: access() reads a NUL-terminated path we own.
            if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
                return Err(Error::io(
                    "create the repository under",
                    parent,
                    std::io::Error::last_os_error(),
                ));
            }
            return Ok(());
        }
        let probe = self.root.join(format!(".zrm-probe.{}", std::process::id()));
        File::create(&probe)
            .and_then(|mut f| f.write_all(b"probe").and_then(|_| f.sync_all()))
            .at("write a test file in", &self.root)?;
        fs::remove_file(&probe).at("remove", &probe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().to_path_buf(), true).unwrap();
        {
            let mut w = b.create("a/b/file").unwrap();
            w.write_all(b"partial").unwrap();
        }
        assert!(
            b.list("a/b").unwrap().is_empty(),
            "temp file removed on drop"
        );
        let mut w = b.create("a/b/file").unwrap();
        w.write_all(b"whole").unwrap();
        w.commit().unwrap();
        assert_eq!(b.list("a/b").unwrap(), vec!["file".to_string()]);
        let mut s = String::new();
        b.open("a/b/file").unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "whole");
    }
}
