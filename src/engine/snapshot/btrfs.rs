//! btrfs: a read-only snapshot of the subvolume holding the datadir, copied out, deleted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::runner::CommandRunner;
use super::{ServerPaths, VolumeSnapshot};
use crate::config::SetConfig;
use crate::error::{Error, Result};

const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;
/// Every btrfs subvolume's root directory has this inode number.
const BTRFS_SUBVOLUME_ROOT_INO: u64 = 256;

pub struct Btrfs {
    runner: Arc<dyn CommandRunner>,
    subvolume: PathBuf,
    snapshot: PathBuf,
    /// The datadir relative to the subvolume root.
    datadir_rel: PathBuf,
    cut: bool,
}

impl Btrfs {
    pub fn plan(
        runner: Arc<dyn CommandRunner>,
        paths: &ServerPaths,
        set: &SetConfig,
        backup_id: &str,
    ) -> Result<Btrfs> {
        let opts = set.btrfs.clone().unwrap_or_default();
        let datadir = super::normalize(&paths.datadir);
        if !datadir.is_dir() {
            return Err(Error::Backup(format!(
                "set '{}': the server's datadir {} is not a directory on this machine; a btrfs \
                 snapshot backup runs on the database host itself",
                set.name,
                datadir.display()
            )));
        }
        let subvolume = match opts.subvolume {
            Some(s) => {
                if !is_subvolume_root(&s) {
                    return Err(Error::Config(format!(
                        "set '{}': btrfs.subvolume = {} is not the root of a btrfs subvolume",
                        set.name,
                        s.display()
                    )));
                }
                s
            }
            None => find_subvolume(&datadir).ok_or_else(|| {
                Error::Backup(format!(
                    "set '{}': the datadir {} is not on a btrfs file system (method btrfs needs \
                     the datadir in a btrfs subvolume; `zrm check --set {}` tells what it is on)",
                    set.name,
                    datadir.display(),
                    set.name
                ))
            })?,
        };
        let datadir_rel = datadir
            .strip_prefix(&subvolume)
            .map_err(|_| {
                Error::Config(format!(
                    "set '{}': the datadir {} is not inside btrfs.subvolume {}",
                    set.name,
                    datadir.display(),
                    subvolume.display()
                ))
            })?
            .to_path_buf();
        let snapshot_dir = match opts.snapshot_dir {
            Some(d) => d,
            None => subvolume
                .parent()
                .filter(|p| is_btrfs(p))
                .map(Path::to_path_buf)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "set '{}': the parent of subvolume {} is not on btrfs, so zrm has no \
                         place for the snapshot; set btrfs.snapshot_dir to a directory on the \
                         same btrfs file system",
                        set.name,
                        subvolume.display()
                    ))
                })?,
        };
        Ok(Btrfs {
            runner,
            subvolume,
            snapshot: snapshot_dir.join(format!("{}{backup_id}", stale_prefix(&set.name))),
            datadir_rel,
            cut: false,
        })
    }

    pub fn subvolume(&self) -> &Path {
        &self.subvolume
    }
}

/// Snapshots of a set are named `.zrm-snapshot-<set>-<backup id>`.
fn stale_prefix(set: &str) -> String {
    format!(".zrm-snapshot-{set}-")
}

impl VolumeSnapshot for Btrfs {
    fn remove_stale(&mut self, _is_backup: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        let Some(dir) = self.snapshot.parent() else {
            return Ok(Vec::new());
        };
        let name = self
            .snapshot
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Called before `cut`: nothing of this run exists yet.
        debug_assert!(!self.cut);
        // The prefix up to and including the set name: everything before the backup id.
        let prefix = match name.rfind('-') {
            Some(i) => name[..=i].to_string(),
            None => return Ok(Vec::new()),
        };
        let mut removed = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            // The rest must be a backup id, so set "a" never takes set "a-b"'s snapshots.
            let is_ours = n
                .strip_prefix(&prefix)
                .is_some_and(crate::catalog::is_backup_id);
            // Our own name too: a killed run in the same second took this backup id.
            if is_ours && is_subvolume_root(&e.path()) {
                let p = e.path().display().to_string();
                self.runner
                    .run("btrfs", &["subvolume".into(), "delete".into(), p.clone()])?;
                removed.push(format!("btrfs snapshot {p}"));
            }
        }
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("btrfs subvolume {}", self.subvolume.display())
    }

    fn cut(&mut self) -> Result<()> {
        self.runner.run(
            "btrfs",
            &[
                "subvolume".into(),
                "snapshot".into(),
                "-r".into(),
                self.subvolume.display().to_string(),
                self.snapshot.display().to_string(),
            ],
        )?;
        self.cut = true;
        Ok(())
    }

    fn mount(&mut self, _progress: &dyn crate::progress::Progress) -> Result<Option<PathBuf>> {
        Ok(Some(self.snapshot.join(&self.datadir_rel)))
    }

    fn remove(&mut self) -> Result<()> {
        if !self.cut {
            return Ok(());
        }
        self.runner.run(
            "btrfs",
            &[
                "subvolume".into(),
                "delete".into(),
                self.snapshot.display().to_string(),
            ],
        )?;
        self.cut = false;
        Ok(())
    }
}

pub fn is_btrfs(p: &Path) -> bool {
    statfs_type(p) == Some(BTRFS_SUPER_MAGIC)
}

fn statfs_type(p: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and buf a properly sized out-parameter.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut buf) };
    (rc == 0).then_some(buf.f_type as i64)
}

fn is_subvolume_root(p: &Path) -> bool {
    is_btrfs(p)
        && std::fs::metadata(p)
            .map(|m| m.is_dir() && m.ino() == BTRFS_SUBVOLUME_ROOT_INO)
            .unwrap_or(false)
}

/// The nearest subvolume root at or above `dir`, if `dir` is on btrfs.
pub fn find_subvolume(dir: &Path) -> Option<PathBuf> {
    if !is_btrfs(dir) {
        return None;
    }
    let mut p = dir.to_path_buf();
    loop {
        if is_subvolume_root(&p) {
            return Some(p);
        }
        if !p.pop() {
            return None;
        }
    }
}
