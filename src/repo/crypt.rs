//! Client-side encryption of repository files: authenticated, streaming, bounded memory.
//!
//! A repository key is 32 random bytes kept in a private key file (`zrm-key-v1:<64 hex>`).
//! Its id (`k1-` and 16 hex digits of a hash) is safe to store and print; the key itself is
//! never printed, logged or written into the repository.
//!
//! An encrypted file is a 48-byte header followed by chunks:
//!
//! ```text
//! header = "ZRMENC\x01\x00" (8) || key fingerprint (8) || random salt (32)
//! chunk  = AES-256-GCM(file key, nonce = counter (11, big-endian) || last-flag (1),
//!                      aad = header, plaintext of CHUNK_LEN bytes, or fewer for the last)
//!          || tag (16)
//! file key = HKDF-SHA256(ikm = key, salt = salt, info = "zrm file key v1")
//! ```
//!
//! Every file has its own key (random salt), so chunk nonces never repeat under one key. The
//! last chunk always holds fewer than [`CHUNK_LEN`] plaintext bytes (possibly none) and is
//! sealed with the last-flag set, so a file cut at a chunk boundary, chunks reordered or
//! dropped, data appended, a changed header or a wrong key are all detected.
//!
//! What this module must never do: hand out plaintext that failed authentication, or hold
//! more than one chunk of a file in memory.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest;
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Bytes of the header in front of every encrypted file.
pub const HEADER_LEN: usize = 48;
/// Plaintext bytes in every chunk but the last (which holds fewer).
pub const CHUNK_LEN: usize = 64 * 1024;
/// Bytes of the authentication tag after each chunk's ciphertext.
pub const TAG_LEN: usize = 16;

const MAGIC: &[u8; 8] = b"ZRMENC\x01\x00";
/// The magic without its version bytes: a file that has it is ours, in some format version.
const MAGIC_FAMILY: &[u8; 6] = b"ZRMENC";
const FINGERPRINT_LEN: usize = 8;
const SALT_LEN: usize = 32;
const KEY_LEN: usize = 32;
const KEY_FILE_PREFIX: &str = "zrm-key-v1:";
const KEY_ID_PREFIX: &str = "k1-";
const KEY_ID_CONTEXT: &[u8] = b"zrm key id v1";
const FILE_KEY_INFO: &[u8] = b"zrm file key v1";
/// Bytes of one full chunk on disk.
const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;

/// A repository encryption key. `Debug` prints its id, never its bytes; the bytes are wiped
/// when the key is dropped.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    fingerprint: [u8; FINGERPRINT_LEN],
    id: String,
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Result<Key> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut bytes).map_err(|_| {
            Error::Repository(
                "cannot generate an encryption key: the operating system's random number \
                 generator failed"
                    .to_string(),
            )
        })?;
        Ok(Key::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(KEY_ID_CONTEXT);
        ctx.update(&bytes);
        let hash = ctx.finish();
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        fingerprint.copy_from_slice(&hash.as_ref()[..FINGERPRINT_LEN]);
        Key {
            bytes,
            fingerprint,
            id: key_id(&fingerprint),
        }
    }

    /// Read a key file. It must be private (no access for group or others) and hold one line
    /// `zrm-key-v1:<64 hex digits>`.
    pub fn load(path: &Path) -> Result<Key> {
        let shown = path.display();
        if let Err(e) = std::fs::metadata(path) {
            return Err(Error::Config(if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "encryption key file {shown} does not exist: set encryption_key_file to the \
                     key this repository was created with, or create a new key with \
                     `zrm key generate --out {shown}`"
                )
            } else {
                format!(
                    "cannot read encryption key file {shown}: {e}: check its path and \
                     permissions"
                )
            }));
        }
        crate::secret::check_private(path, "encryption key file")?;
        let malformed = || {
            Error::Config(format!(
                "encryption key file {shown} is not a zrm key (expected one line \
                 `{KEY_FILE_PREFIX}` followed by 64 hex digits): point encryption_key_file at \
                 the right file, or create a new key with `zrm key generate --out PATH`"
            ))
        };
        let file = std::fs::File::open(path).map_err(|e| {
            Error::Config(format!(
                "cannot read encryption key file {shown}: {e}: check its path and permissions"
            ))
        })?;
        // A key file is about 77 bytes; never read a big file into memory by mistake.
        let mut raw = Vec::with_capacity(128);
        file.take(1024).read_to_end(&mut raw).map_err(|e| {
            Error::Config(format!(
                "cannot read encryption key file {shown}: {e}: check its path and permissions"
            ))
        })?;
        let text = std::str::from_utf8(&raw).map_err(|_| malformed())?;
        let line = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        let hex_digits = line.strip_prefix(KEY_FILE_PREFIX).ok_or_else(malformed)?;
        if hex_digits.len() != 2 * KEY_LEN {
            return Err(malformed());
        }
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| malformed())?;
        Ok(Key::from_bytes(bytes))
    }

    /// Write the key to a new file with mode 0600, and make it durable. Refuses to replace an
    /// existing file: overwriting a key loses every backup encrypted with it.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let shown = path.display();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Error::Config(format!(
                        "encryption key file {shown} already exists: zrm never overwrites a \
                         key (the backups encrypted with it could no longer be read); choose \
                         another path, or remove the file yourself if nothing uses that key"
                    ))
                } else {
                    Error::io("create encryption key file", path, e)
                }
            })?;
        let line = format!("{KEY_FILE_PREFIX}{}\n", hex::encode(self.bytes));
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_all());
        drop(line);
        if let Err(e) = written {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(Error::io("write encryption key file", path, e));
        }
        drop(file);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync the directory of the key file", dir, e))?;
        Ok(())
    }

    /// The key's id, `k1-` and 16 hex digits: safe to store and print.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The AES-256-GCM key of one file, derived from this key and the file's salt.
    fn file_key(&self, salt: &[u8]) -> LessSafeKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&self.bytes);
        let okm = prk
            .expand(&[FILE_KEY_INFO], &AES_256_GCM)
            .expect("HKDF-SHA256 can expand to 32 bytes");
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        for b in self.bytes.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference to a byte of `self`.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

fn key_id(fingerprint: &[u8]) -> String {
    format!("{KEY_ID_PREFIX}{}", hex::encode(fingerprint))
}

fn nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    // 11-byte big-endian counter: its top three bytes stay zero for a u64.
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Plaintext length of a well-formed encrypted file of `ciphertext_len` bytes; `None` if no
/// well-formed file has that length.
pub fn plaintext_len(ciphertext_len: u64) -> Option<u64> {
    let body = ciphertext_len.checked_sub(HEADER_LEN as u64)?;
    let full_chunks = body / SEALED_CHUNK_LEN as u64;
    let last = body % SEALED_CHUNK_LEN as u64;
    let last_plain = last.checked_sub(TAG_LEN as u64)?;
    Some(full_chunks * CHUNK_LEN as u64 + last_plain)
}

/// Ciphertext length for `plaintext_len` bytes of plaintext.
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    let full_chunks = plaintext_len / CHUNK_LEN as u64;
    let last_plain = plaintext_len % CHUNK_LEN as u64;
    HEADER_LEN as u64 + full_chunks * SEALED_CHUNK_LEN as u64 + last_plain + TAG_LEN as u64
}

/// Encrypts everything written to it into `inner`. Call [`EncryptingWriter::finish`] at the
/// end: a writer dropped without it leaves a file that reads as truncated.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    key: LessSafeKey,
    header: [u8; HEADER_LEN],
    /// Plaintext of the current chunk; with room for its tag, sealed in place.
    buf: Vec<u8>,
    counter: u64,
    /// Set when writing a chunk to `inner` failed part-way: the output is unusable.
    broken: bool,
}

impl<W: Write> EncryptingWriter<W> {
    /// Start an encrypted file in `inner`: writes its header at once.
    pub fn new(mut inner: W, key: &Key) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new().fill(&mut salt).map_err(|_| {
            io::Error::other("the operating system's random number generator failed")
        })?;
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..16].copy_from_slice(&key.fingerprint);
        header[16..].copy_from_slice(&salt);
        inner.write_all(&header)?;
        Ok(EncryptingWriter {
            inner,
            key: key.file_key(&salt),
            header,
            buf: Vec::with_capacity(SEALED_CHUNK_LEN),
            counter: 0,
            broken: false,
        })
    }

    /// Write the last chunk, flush, and hand back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.check_broken()?;
        if self.buf.len() == CHUNK_LEN {
            self.seal_and_write(false)?;
        }
        self.seal_and_write(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn check_broken(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write of this encrypted file failed; the file is incomplete",
            ));
        }
        Ok(())
    }

    /// Seal the buffered plaintext as the next chunk and write it out.
    fn seal_and_write(&mut self, last: bool) -> io::Result<()> {
        debug_assert!(if last {
            self.buf.len() < CHUNK_LEN
        } else {
            self.buf.len() == CHUNK_LEN
        });
        let counter = self.counter;
        self.counter = counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("encrypted file too large"))?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(counter, last),
                Aad::from(&self.header),
                &mut self.buf,
            )
            .map_err(|_| io::Error::other("AES-256-GCM encryption failed"))?;
        self.buf.extend_from_slice(tag.as_ref());
        // Any failure from here on leaves a partial chunk in `inner`: the file is lost.
        self.broken = true;
        self.inner.write_all(&self.buf)?;
        self.broken = false;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_broken()?;
        let mut consumed = 0;
        while consumed < data.len() {
            // A full chunk is sealed only when more data follows: the last chunk must be short.
            if self.buf.len() == CHUNK_LEN {
                if let Err(e) = self.seal_and_write(false) {
                    return if consumed > 0 { Ok(consumed) } else { Err(e) };
                }
            }
            let n = (data.len() - consumed).min(CHUNK_LEN - self.buf.len());
            self.buf.extend_from_slice(&data[consumed..consumed + n]);
            consumed += n;
        }
        Ok(consumed)
    }

    /// Flushes `inner` only: a partial chunk stays buffered until more data or `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts and authenticates a file written by [`EncryptingWriter`]. Only authenticated
/// plaintext is returned; any damage, truncation or a wrong key is an `InvalidData` error
/// naming the file.
pub struct DecryptingReader<R: Read> {
    inner: R,
    what: String,
    /// The caller's key until the header is read; then the file key.
    state: ReadState,
    header: [u8; HEADER_LEN],
    /// One sealed chunk, opened in place; `buf[pos..end]` is plaintext not yet returned.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    counter: u64,
    /// Ciphertext bytes read so far (for error messages).
    offset: u64,
}

enum ReadState {
    Start(Key),
    Body(LessSafeKey),
    /// The last chunk was authenticated and nothing follows it.
    Done,
    /// An error was reported; it is reported again on every read.
    Failed(String),
}

impl<R: Read> DecryptingReader<R> {
    /// `what` names the file in errors (e.g. "repository file sets/a/backups/X/manifest.json").
    pub fn new(inner: R, key: &Key, what: &str) -> Self {
        DecryptingReader {
            inner,
            what: what.to_string(),
            state: ReadState::Start(key.clone()),
            header: [0u8; HEADER_LEN],
            buf: Vec::new(),
            pos: 0,
            end: 0,
            counter: 0,
            offset: 0,
        }
    }

    /// Read into `buf` until it is full or the input ends; returns the bytes read.
    fn read_full(inner: &mut R, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    fn fail(&mut self, message: String) -> io::Error {
        self.state = ReadState::Failed(message.clone());
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    /// Pass on an error of the underlying reader; later reads fail too, since the position in
    /// the file is no longer known.
    fn inner_failed(&mut self, e: io::Error) -> io::Error {
        self.state = ReadState::Failed(format!("an earlier read of {} failed: {e}", self.what));
        e
    }

    fn truncated(&mut self) -> io::Error {
        let message = format!(
            "{} is truncated: it ends after {} bytes, before its last chunk",
            self.what, self.offset
        );
        self.fail(message)
    }

    fn read_header(&mut self, key: &Key) -> io::Result<LessSafeKey> {
        let mut header = [0u8; HEADER_LEN];
        let n = Self::read_full(&mut self.inner, &mut header).map_err(|e| self.inner_failed(e))?;
        self.offset = n as u64;
        if n < MAGIC_FAMILY.len() || header[..MAGIC_FAMILY.len()] != MAGIC_FAMILY[..] {
            let message = format!(
                "{} is not an encrypted zrm file (no zrm encryption header): the repository \
                 mixes encrypted and plain files, or the file is damaged",
                self.what
            );
            return Err(self.fail(message));
        }
        if n >= MAGIC.len() && header[..MAGIC.len()] != MAGIC[..] {
            let message = format!(
                "{} is encrypted in a format this zrm does not know (version {}.{}): read it \
                 with the zrm version that wrote it, or a newer one",
                self.what,
                header[MAGIC_FAMILY.len()],
                header[MAGIC_FAMILY.len() + 1]
            );
            return Err(self.fail(message));
        }
        if n < HEADER_LEN {
            return Err(self.truncated());
        }
        let fingerprint = &header[8..16];
        if fingerprint != key.fingerprint {
            let message = format!(
                "{} was encrypted with key {}, not with the configured key {}: set \
                 encryption_key_file to the key this repository was created with",
                self.what,
                key_id(fingerprint),
                key.id()
            );
            return Err(self.fail(message));
        }
        self.header = header;
        Ok(key.file_key(&header[16..]))
    }

    /// Read, authenticate and decrypt the next chunk into `buf[pos..end]`.
    fn next_chunk(&mut self) -> io::Result<()> {
        if self.buf.len() != SEALED_CHUNK_LEN {
            self.buf = vec![0u8; SEALED_CHUNK_LEN];
        }
        let n =
            Self::read_full(&mut self.inner, &mut self.buf).map_err(|e| self.inner_failed(e))?;
        let start = self.offset;
        self.offset += n as u64;
        if n < TAG_LEN {
            return Err(self.truncated());
        }
        let last = n < SEALED_CHUNK_LEN;
        let counter = self.counter;
        let ReadState::Body(file_key) = &self.state else {
            unreachable!("next_chunk is only called while reading the body")
        };
        let opened = file_key
            .open_in_place(
                nonce(counter, last),
                Aad::from(&self.header),
                &mut self.buf[..n],
            )
            .map(|plain| plain.len());
        let plain_len = match opened {
            Ok(len) => len,
            Err(_) => {
                let message = if last {
                    format!(
                        "{} is truncated, damaged or was tampered with: its last chunk {counter} \
                         (bytes {start}..{}) fails authentication; restore another backup or \
                         a replica",
                        self.what, self.offset
                    )
                } else {
                    format!(
                        "{} is damaged or was tampered with: chunk {counter} (bytes \
                         {start}..{}) fails authentication; restore another backup or a replica",
                        self.what, self.offset
                    )
                };
                return Err(self.fail(message));
            }
        };
        self.counter += 1;
        if last {
            let mut probe = [0u8; 1];
            let extra =
                Self::read_full(&mut self.inner, &mut probe).map_err(|e| self.inner_failed(e))?;
            if extra != 0 {
                let message = format!("{} is damaged: data after its last chunk", self.what);
                return Err(self.fail(message));
            }
            self.state = ReadState::Done;
        }
        self.pos = 0;
        self.end = plain_len;
        Ok(())
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.end {
                let n = out.len().min(self.end - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match &self.state {
                ReadState::Start(key) => {
                    let key = key.clone();
                    let file_key = self.read_header(&key)?;
                    self.state = ReadState::Body(file_key);
                }
                ReadState::Body(_) => self.next_chunk()?,
                ReadState::Done => return Ok(0),
                ReadState::Failed(message) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        SystemRandom::new().fill(&mut v).unwrap();
        v
    }

    /// Encrypt through many small writes of odd sizes.
    fn encrypt(key: &Key, plain: &[u8]) -> Vec<u8> {
        let mut w = EncryptingWriter::new(Vec::new(), key).unwrap();
        let sizes = [1usize, 7, 4093, 13, 65_537, 300, 8191];
        let mut rest = plain;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            if i % 5 == 0 {
                w.flush().unwrap();
            }
            rest = &rest[n..];
            i += 1;
        }
        w.finish().unwrap()
    }

    /// Decrypt through small reads of odd sizes.
    fn decrypt(key: &Key, sealed: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = DecryptingReader::new(sealed, key, "repository file test/x");
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        let sizes = [1usize, 999, 17, 512, 3];
        let mut i = 0;
        loop {
            let n = r.read(&mut buf[..sizes[i % sizes.len()]])?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            i += 1;
        }
    }

    fn decrypt_err(key: &Key, sealed: &[u8]) -> String {
        let err = decrypt(key, sealed).expect_err("decryption must fail");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        err.to_string()
    }

    #[test]
    fn round_trips_and_lengths() {
        let key = Key::generate().unwrap();
        for n in [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            3 * CHUNK_LEN,
            1024 * 1024 + 12_345,
        ] {
            let plain = random_bytes(n);
            let sealed = encrypt(&key, &plain);
            assert_eq!(sealed.len() as u64, ciphertext_len(n as u64), "length {n}");
            assert_eq!(plaintext_len(ciphertext_len(n as u64)), Some(n as u64));
            assert_eq!(decrypt(&key, &sealed).unwrap(), plain, "length {n}");
            // And through one big read_to_end.
            let mut all = Vec::new();
            DecryptingReader::new(&sealed[..], &key, "x")
                .read_to_end(&mut all)
                .unwrap();
            assert_eq!(all, plain);
        }
    }

    #[test]
    fn plaintext_len_rejects_impossible_lengths() {
        assert_eq!(plaintext_len(0), None);
        assert_eq!(plaintext_len(HEADER_LEN as u64 + TAG_LEN as u64 - 1), None);
        assert_eq!(plaintext_len(HEADER_LEN as u64 + TAG_LEN as u64), Some(0));
        // A file ending exactly after a full chunk has no last chunk.
        assert_eq!(plaintext_len((HEADER_LEN + SEALED_CHUNK_LEN) as u64), None);
        assert_eq!(
            plaintext_len((HEADER_LEN + SEALED_CHUNK_LEN + 5) as u64),
            None
        );
    }

    #[test]
    fn writer_input_in_one_big_write() {
        let key = Key::generate().unwrap();
        let plain = random_bytes(5 * CHUNK_LEN + 3);
        let mut w = EncryptingWriter::new(Vec::new(), &key).unwrap();
        w.write_all(&plain).unwrap();
        let sealed = w.finish().unwrap();
        assert_eq!(sealed.len() as u64, ciphertext_len(plain.len() as u64));
        assert_eq!(decrypt(&key, &sealed).unwrap(), plain);
    }

    #[test]
    fn same_plaintext_encrypts_differently() {
        let key = Key::generate().unwrap();
        let plain = b"the same bytes twice".to_vec();
        let a = encrypt(&key, &plain);
        let b = encrypt(&key, &plain);
        assert_ne!(a, b);
        assert_ne!(a[16..48], b[16..48], "salts differ");
        assert_ne!(a[48..], b[48..]);
    }

    #[test]
    fn wrong_key_names_both_ids() {
        let key = Key::generate().unwrap();
        let other = Key::generate().unwrap();
        let sealed = encrypt(&key, b"secret");
        let err = decrypt_err(&other, &sealed);
        assert!(err.contains("repository file test/x"), "{err}");
        assert!(
            err.contains(&format!("encrypted with key {}", key.id())),
            "{err}"
        );
        assert!(
            err.contains(&format!("not with the configured key {}", other.id())),
            "{err}"
        );
        assert!(err.contains("encryption_key_file"), "{err}");
    }

    #[test]
    fn plain_file_is_refused() {
        let key = Key::generate().unwrap();
        let err = decrypt_err(&key, b"{\"format_version\": 1}");
        assert!(err.contains("is not an encrypted zrm file"), "{err}");
        let err = decrypt_err(&key, b"");
        assert!(err.contains("is not an encrypted zrm file"), "{err}");
        let mut future = encrypt(&key, b"x");
        future[6] = 2;
        let err = decrypt_err(&key, &future);
        assert!(err.contains("format this zrm does not know"), "{err}");
    }

    #[test]
    fn tampering_anywhere_is_detected() {
        let key = Key::generate().unwrap();
        let plain = random_bytes(2 * CHUNK_LEN + 100);
        let sealed = encrypt(&key, &plain);
        let first_tag = HEADER_LEN + CHUNK_LEN;
        let positions = [
            (20, "chunk 0 "),                // salt: AAD and key derivation input
            (HEADER_LEN - 1, "chunk 0 "),    // last salt byte
            (HEADER_LEN, "chunk 0 "),        // first ciphertext byte
            (HEADER_LEN + 1000, "chunk 0 "), // inside the first chunk
            (first_tag + 3, "chunk 0 "),     // in the first tag
            (HEADER_LEN + SEALED_CHUNK_LEN + 5, "chunk 1 "), // second chunk
            (sealed.len() - TAG_LEN - 50, "last chunk 2 "), // last chunk's ciphertext
            (sealed.len() - 1, "last chunk 2 "), // last chunk's tag
        ];
        for (pos, which) in positions {
            for bit in [0u8, 7] {
                let mut bad = sealed.clone();
                bad[pos] ^= 1 << bit;
                let err = decrypt_err(&key, &bad);
                assert!(err.contains("fails authentication"), "{pos}: {err}");
                assert!(err.contains(which), "{pos}: {err}");
                assert!(err.contains("repository file test/x"), "{err}");
            }
        }
        // A flipped fingerprint byte reads as another key.
        let mut bad = sealed.clone();
        bad[9] ^= 1;
        assert!(decrypt_err(&key, &bad).contains("was encrypted with key k1-"));
        // Error messages give byte ranges.
        let mut bad = sealed.clone();
        bad[HEADER_LEN + SEALED_CHUNK_LEN + 5] ^= 1;
        let err = decrypt_err(&key, &bad);
        let a = HEADER_LEN + SEALED_CHUNK_LEN;
        assert!(
            err.contains(&format!("bytes {a}..{}", a + SEALED_CHUNK_LEN)),
            "{err}"
        );
    }

    #[test]
    fn no_plaintext_before_a_failed_chunk_is_complete() {
        // Reading stops at the damaged chunk; what was returned before is the good prefix.
        let key = Key::generate().unwrap();
        let plain = random_bytes(3 * CHUNK_LEN);
        let mut bad = encrypt(&key, &plain);
        bad[HEADER_LEN + SEALED_CHUNK_LEN + 10] ^= 0x80;
        let mut r = DecryptingReader::new(&bad[..], &key, "f");
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, plain[..CHUNK_LEN]);
        assert!(err.to_string().contains("chunk 1 "), "{err}");
        // The error sticks.
        let err2 = r.read(&mut [0u8; 10]).unwrap_err();
        assert_eq!(err.to_string(), err2.to_string());
    }

    #[test]
    fn truncation_is_detected() {
        let key = Key::generate().unwrap();
        let plain = random_bytes(2 * CHUNK_LEN + 100);
        let sealed = encrypt(&key, &plain);
        // At a chunk boundary: two full chunks, no last chunk.
        let boundary = HEADER_LEN + 2 * SEALED_CHUNK_LEN;
        let err = decrypt_err(&key, &sealed[..boundary]);
        assert!(
            err.contains(&format!("is truncated: it ends after {boundary} bytes")),
            "{err}"
        );
        // Right after the header.
        let err = decrypt_err(&key, &sealed[..HEADER_LEN]);
        assert!(
            err.contains("is truncated: it ends after 48 bytes"),
            "{err}"
        );
        // Inside the header.
        let err = decrypt_err(&key, &sealed[..30]);
        assert!(err.contains("is truncated"), "{err}");
        // In the middle of a chunk: it reads as a short last chunk that fails.
        let err = decrypt_err(&key, &sealed[..HEADER_LEN + SEALED_CHUNK_LEN + 500]);
        assert!(
            err.contains("truncated, damaged or was tampered with"),
            "{err}"
        );
        // Fewer than a tag's bytes after a boundary.
        let err = decrypt_err(&key, &sealed[..HEADER_LEN + SEALED_CHUNK_LEN + 5]);
        assert!(err.contains("is truncated"), "{err}");
        // Cutting off the whole last chunk of an exactly-chunk-sized file.
        let sealed = encrypt(&key, &random_bytes(CHUNK_LEN));
        let err = decrypt_err(&key, &sealed[..sealed.len() - TAG_LEN]);
        assert!(err.contains("is truncated"), "{err}");
    }

    #[test]
    fn trailing_data_is_detected() {
        // Appended bytes land in the buffer of the last chunk, which then fails
        // authentication (as a short last chunk, or as a full chunk that is not the last).
        let key = Key::generate().unwrap();
        for n in [0, 10, CHUNK_LEN - 1, CHUNK_LEN, 2 * CHUNK_LEN + 5] {
            for extra in [1, TAG_LEN, SEALED_CHUNK_LEN + 3] {
                let mut sealed = encrypt(&key, &random_bytes(n));
                sealed.extend(std::iter::repeat_n(0u8, extra));
                let err = decrypt_err(&key, &sealed);
                assert!(err.contains("fails authentication"), "{n}+{extra}: {err}");
            }
        }
        // A whole appended copy of the last chunk.
        let mut sealed = encrypt(&key, b"abc");
        let last = sealed[HEADER_LEN..].to_vec();
        sealed.extend_from_slice(&last);
        let err = decrypt_err(&key, &sealed);
        assert!(err.contains("fails authentication"), "{err}");

        // A source that reports the end of the file and then has more (a file that grows
        // while it is read): the bytes after the last chunk are reported as such.
        struct Hiccup<'a> {
            parts: Vec<&'a [u8]>,
        }
        impl Read for Hiccup<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let Some(part) = self.parts.first_mut() else {
                    return Ok(0);
                };
                let n = out.len().min(part.len());
                out[..n].copy_from_slice(&part[..n]);
                *part = &part[n..];
                if n == 0 {
                    self.parts.remove(0);
                }
                Ok(n)
            }
        }
        let sealed = encrypt(&key, b"abc");
        let r = Hiccup {
            parts: vec![&sealed[..], b"more"],
        };
        let err = DecryptingReader::new(r, &key, "f")
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "f is damaged: data after its last chunk");
    }

    #[test]
    fn dropped_writer_leaves_a_truncated_file() {
        let key = Key::generate().unwrap();
        let mut out = Vec::new();
        {
            let mut w = EncryptingWriter::new(&mut out, &key).unwrap();
            w.write_all(&random_bytes(2 * CHUNK_LEN + 7)).unwrap();
        }
        assert!(decrypt_err(&key, &out).contains("is truncated"));
    }

    #[test]
    fn writer_and_reader_are_send() {
        fn is_send<T: Send>() {}
        is_send::<EncryptingWriter<std::fs::File>>();
        is_send::<DecryptingReader<std::fs::File>>();
        is_send::<Key>();
    }

    #[test]
    fn key_file_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zrm.key");
        let key = Key::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("zrm-key-v1:") && text.ends_with('\n'));
        assert_eq!(text.len(), "zrm-key-v1:".len() + 64 + 1);
        let loaded = Key::load(&path).unwrap();
        assert_eq!(loaded.id(), key.id());
        assert_eq!(loaded.bytes, key.bytes);
        assert!(key.id().starts_with("k1-") && key.id().len() == 3 + 16);

        // Never overwrites.
        let other = Key::generate().unwrap();
        let err = other.write_new(&path).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(Key::load(&path).unwrap().id(), key.id());

        // Refuses a file others can read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Key::load(&path).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        // Missing.
        let missing = dir.path().join("nope.key");
        let err = Key::load(&missing).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("zrm key generate --out"), "{msg}");
    }

    #[test]
    fn key_file_formats() {
        let dir = tempfile::tempdir().unwrap();
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let write = |name: &str, content: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, content).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            p
        };
        let a = Key::load(&write("a", &format!("zrm-key-v1:{hex64}"))).unwrap();
        let b = Key::load(&write("b", &format!("zrm-key-v1:{hex64}\n"))).unwrap();
        let c = Key::load(&write("c", &format!("zrm-key-v1:{hex64}\r\n"))).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id(), c.id());
        // The id is SHA-256("zrm key id v1" || key), first 8 bytes.
        let mut input = KEY_ID_CONTEXT.to_vec();
        input.extend_from_slice(&hex::decode(hex64).unwrap());
        let hash = digest::digest(&digest::SHA256, &input);
        assert_eq!(a.id(), format!("k1-{}", hex::encode(&hash.as_ref()[..8])));

        for (name, content) in [
            ("empty", String::new()),
            ("noprefix", hex64.to_string()),
            ("short", format!("zrm-key-v1:{}", &hex64[..62])),
            ("long", format!("zrm-key-v1:{hex64}00")),
            ("nothex", format!("zrm-key-v1:{}zz", &hex64[..62])),
            ("twolines", format!("zrm-key-v1:{hex64}\n\n")),
            ("space", format!("zrm-key-v1: {hex64}")),
        ] {
            let p = write(name, &content);
            let err = Key::load(&p).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{name}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&p.display().to_string()), "{name}: {msg}");
            assert!(msg.contains("is not a zrm key"), "{name}: {msg}");
            assert!(
                !msg.contains("8899aabb"),
                "{name}: leaks key material: {msg}"
            );
        }
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = Key::generate().unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("Key({})", key.id()));
        assert!(!shown.contains(&hex::encode(key.bytes)));
        assert!(!shown.contains(&hex::encode(&key.bytes[..4])));
    }

    /// Throughput of encrypting and then decrypting 256 MiB through a file.
    /// `cargo test --release --lib crypt -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput_256_mib() {
        const TOTAL: usize = 256 * 1024 * 1024;
        let key = Key::generate().unwrap();
        let block = random_bytes(1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.enc");

        let started = std::time::Instant::now();
        let file = std::fs::File::create(&path).unwrap();
        let mut w = EncryptingWriter::new(io::BufWriter::new(file), &key).unwrap();
        for _ in 0..TOTAL / block.len() {
            w.write_all(&block).unwrap();
        }
        w.finish()
            .unwrap()
            .into_inner()
            .unwrap()
            .sync_all()
            .unwrap();
        let encrypt_secs = started.elapsed().as_secs_f64();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            ciphertext_len(TOTAL as u64)
        );

        let started = std::time::Instant::now();
        let file = std::fs::File::open(&path).unwrap();
        let mut r = DecryptingReader::new(io::BufReader::new(file), &key, "big.enc");
        let copied = io::copy(&mut r, &mut io::sink()).unwrap();
        let decrypt_secs = started.elapsed().as_secs_f64();
        assert_eq!(copied, TOTAL as u64);

        let mib = (TOTAL / (1024 * 1024)) as f64;
        println!(
            "encrypt {mib} MiB: {encrypt_secs:.2}s ({:.0} MiB/s); decrypt: {decrypt_secs:.2}s \
             ({:.0} MiB/s)",
            mib / encrypt_secs,
            mib / decrypt_secs
        );
    }
}
