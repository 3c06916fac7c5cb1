//! Rebuilding a data directory from a snapshot backup (lvm, btrfs).
//!
//! All or nothing: the files are extracted into a hidden sibling directory, checked against
//! the manifest as they stream, and renamed into place only when every part was whole. A
//! damaged backup, a full disk or an interrupted run leaves the target path untouched.

use std::path::{Path, PathBuf};

use crate::catalog::Manifest;
use crate::engine::snapshot::copy;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repo::Repository;

/// Refuse a target that holds anything: a restore never mixes with or replaces files.
pub fn check_target(path: &Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(Error::Usage(format!(
            "--target datadir:{}: give an absolute path",
            path.display()
        )));
    }
    let parent = path.parent().filter(|p| p.is_dir()).ok_or_else(|| {
        Error::Usage(format!(
            "--target datadir:{}: the parent directory does not exist; create it first",
            path.display()
        ))
    })?;
    let _ = parent;
    if path.exists() {
        let mut entries = std::fs::read_dir(path).map_err(|e| Error::io("list", path, e))?;
        if entries.next().is_some() {
            return Err(Error::Restore(format!(
                "refusing to restore into {}: the directory is not empty; give a new or empty \
                 directory (zrm never overwrites a data directory)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Extract the backup into `path`. Returns the bytes written.
pub fn rebuild_datadir(
    repo: &Repository,
    manifest: &Manifest,
    path: &Path,
    progress: &dyn Progress,
) -> Result<u64> {
    let layout = manifest.physical.as_ref().ok_or_else(|| {
        Error::Restore(format!(
            "backup {} has no snapshot record in its manifest",
            manifest.id
        ))
    })?;
    check_target(path)?;
    let staging = staging_dir(path, &manifest.id);
    if staging.exists() {
        // Left by an interrupted run: nothing in it was ever visible under the target name.
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io("remove", &staging, e))?;
    }
    std::fs::create_dir(&staging).map_err(|e| Error::io("create", &staging, e))?;
    let guard = {
        let s = staging.clone();
        crate::cleanup::Guard::register(format!("remove {}", s.display()), move || {
            let _ = std::fs::remove_dir_all(&s);
        })
    };
    let backup_dir = Repository::backup_dir(&manifest.set, &manifest.id);
    progress.set_total(Some(layout.bytes));
    let bytes = copy::extract_parts(
        repo,
        &backup_dir,
        &manifest.files,
        manifest.compression,
        &staging,
        progress,
    )?;
    if let Some((uid, gid, mode)) = layout.datadir_owner {
        use std::os::unix::fs::PermissionsExt;
        // Best effort as a non-root user: the owner may not be ours to give.
        let _ = std::os::unix::fs::chown(&staging, Some(uid), Some(gid));
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set the mode of", &staging, e))?;
    }
    if path.exists() {
        std::fs::remove_dir(path).map_err(|e| Error::io("replace the empty directory", path, e))?;
    }
    std::fs::rename(&staging, path).map_err(|e| Error::io("move into place", path, e))?;
    guard.disarm();
    Ok(bytes)
}

fn staging_dir(path: &Path, id: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "datadir".into());
    path.with_file_name(format!(".{name}.zrm-partial-{id}"))
}
