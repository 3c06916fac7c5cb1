//! The repository: where backups, binary logs and the catalog live.
//!
//! The layout is the same for every backend (DESIGN.md): `zrm-repo.json`, then
//! `sets/<set>/backups/<id>/manifest.json` and its data files. Every path stored in it is
//! relative, so a repository copied elsewhere restores as it is.
//!
//! Rules this module keeps: a file appears under its final name only once it is complete and
//! durable (temporary name, fsync, rename, fsync of the directory); a backup's manifest is
//! written last; nothing here deletes a file that a manifest names.

pub mod crypt;
pub mod encrypted;
pub mod lease;
pub mod local;
pub mod lock;
pub mod s3;

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigFile, RepoLocation};
use crate::error::{Error, Result};

pub use lock::SetLock;

/// The repository's own description, `zrm-repo.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepoInfo {
    pub format_version: u32,
    pub repository_id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub created_by: String,
    /// The id of the encryption key (never the key), when the repository is encrypted.
    pub encryption_key_id: Option<String>,
}

pub const REPO_FORMAT_VERSION: u32 = 1;
pub const REPO_INFO_FILE: &str = "zrm-repo.json";
pub const MANIFEST_FILE: &str = "manifest.json";

/// A file being written into the repository. Nothing is visible under its final name until
/// [`ObjectWriter::commit`]; dropping an uncommitted writer removes what was written.
pub trait ObjectWriter: Write + Send {
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A storage backend: a tree of files addressed by relative, `/`-separated paths.
pub trait Backend: Send + Sync {
    /// For messages: the directory or URL.
    fn describe(&self) -> String;
    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>>;
    fn open(&self, rel: &str) -> Result<Box<dyn Read + Send>>;
    fn exists(&self, rel: &str) -> Result<bool>;
    /// The names of the entries directly under `rel` (empty when `rel` does not exist).
    fn list(&self, rel: &str) -> Result<Vec<String>>;
    fn size(&self, rel: &str) -> Result<u64>;
    /// Every file under `rel` (recursively), as (path relative to the repository, stored
    /// size), sorted. Names starting with `.` (temporary files) are left out.
    fn walk(&self, rel: &str) -> Result<Vec<(String, u64)>>;
    /// Take the exclusive lock of one set, or say who holds it.
    fn lock_set(&self, set: &str) -> Result<SetLock>;
    /// Take the lock of a set's binlog archive (held by `binlog archive`, which may run for
    /// days with --follow, so it is separate from the set's backup lock).
    fn lock_binlogs(&self, set: &str) -> Result<SetLock>;
    /// Check that a new file can be written (for `check`).
    fn probe_writable(&self) -> Result<()>;
    /// Best-effort clean-up after a failed backup: remove a file / an empty directory.
    fn remove_file(&self, rel: &str);
    fn remove_empty_dir(&self, rel: &str);
    /// Remove the directory `rel` with everything under it, hidden temporary files included
    /// (for purge, under the set's lock: nothing writes there). Never follows a symbolic link,
    /// so nothing outside the repository is ever touched.
    fn remove_tree(&self, rel: &str) -> Result<()> {
        let files = self.walk(rel)?;
        let mut dirs = std::collections::BTreeSet::new();
        for (f, _) in &files {
            self.remove_file(f);
            let mut p = f.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if parent.len() < rel.len() {
                    break;
                }
                dirs.insert(parent.to_string());
                p = parent;
            }
        }
        for d in dirs.iter().rev() {
            self.remove_empty_dir(d);
        }
        self.remove_empty_dir(rel);
        Ok(())
    }
}

/// A repository: a backend plus the layout on top of it.
pub struct Repository {
    backend: Box<dyn Backend>,
    pub info: RepoInfo,
}

impl Repository {
    /// Open the configured repository; with `create`, initialise it when it does not exist yet
    /// (the first backup does this), otherwise a missing repository is an error.
    pub fn open(config: &ConfigFile, create: bool) -> Result<Repository> {
        let key = config.encryption_key()?.map(std::sync::Arc::new);
        Self::open_at(&config.repository_location()?, key, create)
    }

    /// A repository at a location (the configured one, a replica, a `--to` target), read and
    /// written through `key` when it is encrypted. The key must be the repository's: a wrong
    /// or missing key is refused here, before anything else is read or written.
    pub fn open_at(
        location: &RepoLocation,
        key: Option<std::sync::Arc<crypt::Key>>,
        create: bool,
    ) -> Result<Repository> {
        let raw = backend_at(location, create)?;
        let repo = Self::with_backend(raw, key.as_deref(), create)?;
        let where_ = repo.describe();
        match (&repo.info.encryption_key_id, key) {
            (None, None) => Ok(repo),
            (Some(id), Some(k)) if id == k.id() => Ok(Repository {
                backend: Box::new(encrypted::EncryptedBackend::new(repo.backend, k)),
                info: repo.info,
            }),
            (Some(id), Some(k)) => Err(Error::Repository(format!(
                "repository {where_} is encrypted with key {id}, but encryption_key_file holds \
                 key {}: configure the key this repository was created with; nothing was read \
                 or written",
                k.id()
            ))),
            (Some(id), None) => Err(Error::Repository(format!(
                "repository {where_} is encrypted (key {id}): set `encryption_key_file` in \
                 [repository] to that key"
            ))),
            (None, Some(k)) => Err(Error::Repository(format!(
                "repository {where_} is not encrypted, but `encryption_key_file` is set (key \
                 {}): a repository is encrypted from its creation or never; remove the key \
                 from the configuration, or use a new repository",
                k.id()
            ))),
        }
    }

    fn with_backend(
        backend: Box<dyn Backend>,
        key: Option<&crypt::Key>,
        create: bool,
    ) -> Result<Repository> {
        let info = if backend.exists(REPO_INFO_FILE)? {
            let bytes = read_to_vec(backend.open(REPO_INFO_FILE)?, REPO_INFO_FILE)?;
            let info: RepoInfo = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Repository(format!(
                    "{}/{REPO_INFO_FILE} is not a valid repository description ({e}): the \
                     repository is damaged or this is not a zrm repository",
                    backend.describe()
                ))
            })?;
            if info.format_version > REPO_FORMAT_VERSION {
                return Err(Error::Repository(format!(
                    "repository {} has format version {}, newer than this zrm understands ({}): \
                     upgrade zrm",
                    backend.describe(),
                    info.format_version,
                    REPO_FORMAT_VERSION
                )));
            }
            info
        } else if create {
            let info = RepoInfo {
                format_version: REPO_FORMAT_VERSION,
                repository_id: uuid::Uuid::new_v4().to_string(),
                created: chrono::Utc::now(),
                created_by: format!("zrm {}", env!("CARGO_PKG_VERSION")),
                encryption_key_id: key.map(|k| k.id().to_string()),
            };
            let mut w = backend.create(REPO_INFO_FILE)?;
            let json = serde_json::to_vec_pretty(&info).expect("RepoInfo serialises");
            w.write_all(&json)
                .map_err(|e| Error::io("write", REPO_INFO_FILE, e))?;
            w.commit()?;
            info
        } else {
            return Err(Error::Repository(format!(
                "no zrm repository at {}: it is created by the first `zrm backup`; check \
                 [repository] in the configuration",
                backend.describe()
            )));
        };
        Ok(Repository { backend, info })
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    pub fn backups_dir(set: &str) -> String {
        format!("sets/{set}/backups")
    }

    pub fn backup_dir(set: &str, id: &str) -> String {
        format!("sets/{set}/backups/{id}")
    }

    pub fn backup_file(set: &str, id: &str, name: &str) -> String {
        format!("sets/{set}/backups/{id}/{name}")
    }

    /// Read a small file (a manifest, an index) whole.
    pub fn read_small(&self, rel: &str) -> Result<Vec<u8>> {
        read_to_vec(self.backend.open(rel)?, rel)
    }

    /// Write a small file atomically.
    pub fn write_small(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let mut w = self.backend.create(rel)?;
        w.write_all(bytes).map_err(|e| Error::io("write", rel, e))?;
        w.commit()
    }
}

/// The raw backend at a location.
pub fn backend_at(location: &RepoLocation, create: bool) -> Result<Box<dyn Backend>> {
    Ok(match location {
        RepoLocation::Local(dir) => Box::new(local::LocalBackend::new(dir.clone(), create)?),
        RepoLocation::S3(l) => Box::new(s3::S3Backend::new(l)?),
    })
}

fn read_to_vec(mut r: Box<dyn Read + Send>, rel: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)
        .map_err(|e| Error::io("read", rel, e))?;
    Ok(v)
}

/// Whether `e` says the repository does not exist yet (the first backup creates it), as
/// opposed to one that cannot be read.
pub fn is_missing_repository(e: &Error) -> bool {
    matches!(e, Error::Repository(m) if m.starts_with("no zrm repository"))
}

/// One component of a path read from a repository file (a manifest's file, an index's
/// object): any name that stays where it is put, i.e. not empty, not `.` or `..`, and without a
/// separator, NUL or control character.
pub fn is_plain_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.chars().any(|c| c == '/' || c.is_control())
}

/// Set names and backup ids become path components: refuse anything that could escape.
pub fn check_component(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{kind} '{name}' is not usable as a name: use letters, digits, '-', '_' and '.'"
        )))
    }
}
