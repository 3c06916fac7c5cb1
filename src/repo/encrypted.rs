//! Client-side encryption as a backend wrapper: every file written through it is encrypted
//! (streaming, authenticated; see [`super::crypt`]) before it reaches the store, and decrypted
//! and checked as it is read. Everything above sees plain bytes: sizes and SHA-256s in
//! manifests are of the plain (compressed) bytes, so verification works the same with and
//! without a key. Only `zrm-repo.json` stays plain: it records the key's id, which is how a
//! wrong key is refused before anything is read or written.

use std::io::{Read, Write};
use std::sync::Arc;

use super::crypt::{self, DecryptingReader, EncryptingWriter, Key};
use super::{Backend, ObjectWriter, SetLock, REPO_INFO_FILE};
use crate::error::{Error, Result};

pub struct EncryptedBackend {
    inner: Box<dyn Backend>,
    key: Arc<Key>,
}

impl EncryptedBackend {
    pub fn new(inner: Box<dyn Backend>, key: Arc<Key>) -> Self {
        EncryptedBackend { inner, key }
    }
}

struct EncryptedWriter {
    enc: Option<EncryptingWriter<Box<dyn ObjectWriter>>>,
    rel: String,
}

impl Write for EncryptedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.enc.as_mut().expect("open until commit").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.enc.as_mut().expect("open until commit").flush()
    }
}

impl ObjectWriter for EncryptedWriter {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let enc = self.enc.take().expect("commit once");
        let inner = enc
            .finish()
            .map_err(|e| Error::io("encrypt", &self.rel, e))?;
        inner.commit()
    }
}

impl Backend for EncryptedBackend {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>> {
        let w = self.inner.create(rel)?;
        if rel == REPO_INFO_FILE {
            return Ok(w);
        }
        let enc = EncryptingWriter::new(w, &self.key).map_err(|e| Error::io("encrypt", rel, e))?;
        Ok(Box::new(EncryptedWriter {
            enc: Some(enc),
            rel: rel.to_string(),
        }))
    }

    fn open(&self, rel: &str) -> Result<Box<dyn Read + Send>> {
        let r = self.inner.open(rel)?;
        if rel == REPO_INFO_FILE {
            return Ok(r);
        }
        let what = format!("repository file {}/{rel}", self.inner.describe());
        Ok(Box::new(DecryptingReader::new(r, &self.key, &what)))
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        self.inner.exists(rel)
    }

    fn list(&self, rel: &str) -> Result<Vec<String>> {
        self.inner.list(rel)
    }

    /// The plain size, computed from the stored one (encryption adds a fixed header and a tag
    /// per chunk).
    fn size(&self, rel: &str) -> Result<u64> {
        let stored = self.inner.size(rel)?;
        if rel == REPO_INFO_FILE {
            return Ok(stored);
        }
        crypt::plaintext_len(stored).ok_or_else(|| {
            Error::Repository(format!(
                "repository file {}/{rel} ({stored} bytes) is not a whole encrypted file: it \
                 was cut short or is not encrypted",
                self.inner.describe()
            ))
        })
    }

    /// Stored (encrypted) sizes: for copying the repository as it is.
    fn walk(&self, rel: &str) -> Result<Vec<(String, u64)>> {
        self.inner.walk(rel)
    }

    fn lock_set(&self, set: &str) -> Result<SetLock> {
        self.inner.lock_set(set)
    }

    fn lock_binlogs(&self, set: &str) -> Result<SetLock> {
        self.inner.lock_binlogs(set)
    }

    fn probe_writable(&self) -> Result<()> {
        self.inner.probe_writable()
    }

    fn remove_file(&self, rel: &str) {
        self.inner.remove_file(rel)
    }

    fn remove_empty_dir(&self, rel: &str) {
        self.inner.remove_empty_dir(rel)
    }

    fn remove_tree(&self, rel: &str) -> Result<()> {
        self.inner.remove_tree(rel)
    }
}
