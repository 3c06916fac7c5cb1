//! Byte streams into and out of the repository: compression, SHA-256 and sizes computed as the
//! bytes flow, never by a second pass.

use std::io::{self, Read, Write};

use crate::hash::Sha256;

use crate::config::Compression;
use crate::error::{Error, Result};
use crate::repo::ObjectWriter;

/// Counts and hashes what is written through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, self.hasher.finish_hex())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Counts and hashes what is read through it.
pub struct HashingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn finish(self) -> (u64, String) {
        (self.bytes, self.hasher.finish_hex())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The stored form of one file: compressing writer → hashing writer → repository object.
pub enum StoredFileWriter {
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<Box<dyn ObjectWriter>>>),
    Plain(HashingWriter<Box<dyn ObjectWriter>>),
}

/// What was stored: uncompressed size, stored size, SHA-256 of the stored bytes.
pub struct StoredFile {
    pub size: u64,
    pub stored_size: u64,
    pub sha256: String,
}

impl StoredFileWriter {
    pub fn new(obj: Box<dyn ObjectWriter>, compression: Compression, level: i32) -> Result<Self> {
        let hashing = HashingWriter::new(obj);
        Ok(match compression {
            Compression::None => StoredFileWriter::Plain(hashing),
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(hashing, level)
                    .map_err(|e| Error::Backup(format!("cannot start zstd: {e}")))?;
                // Checksummed frames let a restore detect corruption inside a frame too.
                enc.include_checksum(true)
                    .map_err(|e| Error::Backup(format!("cannot configure zstd: {e}")))?;
                StoredFileWriter::Zstd(enc)
            }
        })
    }

    /// Finish compression and make the file durable under its final name.
    pub fn commit(self, uncompressed: u64, what: &str) -> Result<StoredFile> {
        let (obj, file) = self.finish(uncompressed, what)?;
        obj.commit()?;
        Ok(file)
    }

    /// Finish compression; the caller commits the object (fsync and rename) when it suits,
    /// e.g. on another thread while the next file is being written.
    pub fn finish(
        self,
        uncompressed: u64,
        what: &str,
    ) -> Result<(Box<dyn ObjectWriter>, StoredFile)> {
        let hashing = match self {
            StoredFileWriter::Zstd(enc) => enc
                .finish()
                .map_err(|e| Error::io("finish writing", what, e))?,
            StoredFileWriter::Plain(h) => h,
        };
        let (obj, stored_size, sha256) = hashing.finish();
        Ok((
            obj,
            StoredFile {
                size: uncompressed,
                stored_size,
                sha256,
            },
        ))
    }
}

impl Write for StoredFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StoredFileWriter::Zstd(e) => e.write(buf),
            StoredFileWriter::Plain(h) => h.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            StoredFileWriter::Zstd(e) => e.flush(),
            StoredFileWriter::Plain(h) => h.flush(),
        }
    }
}

/// Filled with (stored bytes, SHA-256 of them) once a stored file has been read to its end.
pub type StoredDigest = std::sync::Arc<std::sync::Mutex<Option<(u64, String)>>>;

/// Open a stored file for reading its original bytes; the hash of the stored bytes is checked
/// by the caller through the returned handle when the stream ends.
pub fn open_stored(
    raw: Box<dyn Read + Send>,
    compression: Compression,
) -> Result<(Box<dyn Read + Send>, StoredDigest)> {
    let done = std::sync::Arc::new(std::sync::Mutex::new(None));
    let hashing = FinishingReader {
        inner: HashingReader::new(raw),
        done: done.clone(),
        finished: false,
    };
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(hashing),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(hashing)
                .map_err(|e| Error::Restore(format!("cannot start zstd: {e}")))?,
        ),
    };
    Ok((reader, done))
}

/// Publishes size and hash once the underlying stream reaches its end.
struct FinishingReader<R: Read> {
    inner: HashingReader<R>,
    done: StoredDigest,
    finished: bool,
}

impl<R: Read> Read for FinishingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.finished {
            self.finished = true;
            let h = std::mem::take(&mut self.inner.hasher);
            *self.done.lock().expect("not poisoned") = Some((self.inner.bytes, h.finish_hex()));
        }
        Ok(n)
    }
}
