//! Reading a binary log file event by event, verifying every checksum.
//!
//! Never trusts the file: a short read, an impossible size, a wrong end position or a CRC
//! mismatch is an error naming the file and the offset of the event. Memory is one event at a
//! time (the buffer grows only as bytes actually arrive, so a corrupt size cannot make it
//! allocate gigabytes up front).

use std::io::Read;

use super::event::{
    code, ChecksumAlg, EventHeader, FormatDescription, CHECKSUM_LEN, HEADER_LEN,
    LOG_EVENT_BINLOG_IN_USE_F, MAGIC,
};

/// No server writes an event larger than this (max_allowed_packet is at most 1 GiB).
const MAX_EVENT: u32 = (1 << 30) + (64 << 20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadErrorKind {
    NotBinlog,
    /// The file ends inside an event (normal at the live end of a binlog being written).
    Truncated,
    Corrupt,
    Io,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub file: String,
    pub offset: u64,
    pub kind: ReadErrorKind,
    pub detail: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ReadErrorKind::NotBinlog => "not a binary log",
            ReadErrorKind::Truncated => "truncated",
            ReadErrorKind::Corrupt => "corrupt",
            ReadErrorKind::Io => "read error",
        };
        write!(
            f,
            "{}: {what} at offset {}: {}",
            self.file, self.offset, self.detail
        )
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for crate::error::Error {
    fn from(e: ReadError) -> Self {
        crate::error::Error::Binlog(e.to_string())
    }
}

/// One event as read: its offset, header, and body (without the checksum).
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub pos: u64,
    pub header: EventHeader,
    /// Everything after the common header, checksum excluded.
    pub body: &'a [u8],
    /// The whole event as stored, checksum included.
    pub bytes: &'a [u8],
    /// The format description in force (`None` only before the first one).
    pub format: Option<&'a FormatDescription>,
}

impl RawEvent<'_> {
    pub fn end_pos(&self) -> u64 {
        self.pos + u64::from(self.header.event_size)
    }
}

pub struct BinlogReader<R: Read> {
    name: String,
    inner: R,
    pos: u64,
    /// A window on the input: bytes `win[lo..hi]` are read and not yet consumed. Events are
    /// handed out as slices of it, so bytes are copied once (from the input), not twice.
    win: Vec<u8>,
    lo: usize,
    hi: usize,
    eof: bool,
    /// The current event: `win[ev..ev + ev_len]`.
    ev: usize,
    ev_len: usize,
    fde: Option<FormatDescription>,
    verify_checksums: bool,
    /// The FDE said "no checksums" (a server older than them): the next event must not end
    /// with a valid CRC32 of itself, or the FDE's version was damaged.
    check_no_crc: bool,
}

/// How much is read from the input at a time.
const CHUNK: usize = 1 << 20;

impl<R: Read> BinlogReader<R> {
    fn with(inner: R, name: String, pos: u64, fde: Option<FormatDescription>) -> Self {
        BinlogReader {
            name,
            inner,
            pos,
            win: vec![0; 2 * CHUNK],
            lo: 0,
            hi: 0,
            eof: false,
            ev: 0,
            ev_len: 0,
            fde,
            verify_checksums: true,
            check_no_crc: false,
        }
    }

    /// Make at least `need` unread bytes available, or all that remain. The window grows only
    /// as bytes arrive, so a corrupt size cannot make it allocate gigabytes up front.
    fn fill(&mut self, need: usize) -> std::io::Result<usize> {
        while self.hi - self.lo < need && !self.eof {
            if self.win.len() - self.hi < CHUNK {
                if self.lo > 0 {
                    self.win.copy_within(self.lo..self.hi, 0);
                    self.hi -= self.lo;
                    self.lo = 0;
                }
                if self.win.len() - self.hi < CHUNK {
                    let len = (self.win.len() * 2).max(self.hi + CHUNK);
                    self.win.resize(len, 0);
                }
            }
            match self.inner.read(&mut self.win[self.hi..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.hi += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.hi - self.lo)
    }

    /// Start reading: checks the magic number.
    pub fn new(inner: R, name: impl Into<String>) -> Result<Self, ReadError> {
        let mut r = Self::with(inner, name.into(), 0, None);
        let n = r
            .fill(4)
            .map_err(|e| r.err(0, ReadErrorKind::Io, e.to_string()))?;
        if n == 0 {
            return Err(r.err(0, ReadErrorKind::NotBinlog, "the file is empty"));
        }
        let magic = &r.win[..n.min(4)];
        if n < 4 || magic != MAGIC {
            let detail = format!(
                "starts with {}, a binary log starts with fe 62 69 6e",
                hex::encode(magic)
            );
            return Err(r.err(0, ReadErrorKind::NotBinlog, detail));
        }
        r.lo = 4;
        r.pos = 4;
        Ok(r)
    }

    /// Continue reading a file at `pos` (an event boundary), with the format description
    /// read earlier from its start. `inner` yields the bytes from `pos` on.
    pub fn resume(inner: R, name: impl Into<String>, pos: u64, fde: FormatDescription) -> Self {
        Self::with(inner, name.into(), pos, Some(fde))
    }

    fn event_bytes(&self) -> &[u8] {
        &self.win[self.ev..self.ev + self.ev_len]
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset of the next event.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn format(&self) -> Option<&FormatDescription> {
        self.fde.as_ref()
    }

    fn err(&self, offset: u64, kind: ReadErrorKind, detail: impl Into<String>) -> ReadError {
        ReadError {
            file: self.name.clone(),
            offset,
            kind,
            detail: detail.into(),
        }
    }

    /// The next event, `None` at a clean end of file (right after an event).
    pub fn next_event(&mut self) -> Result<Option<RawEvent<'_>>, ReadError> {
        let start = self.pos;
        let n = self
            .fill(HEADER_LEN)
            .map_err(|e| self.err(start, ReadErrorKind::Io, e.to_string()))?;
        if n == 0 {
            return Ok(None);
        }
        if n < HEADER_LEN {
            return Err(self.err(
                start,
                ReadErrorKind::Truncated,
                format!("the file ends {n} bytes into an event header"),
            ));
        }
        let head: [u8; HEADER_LEN] = self.win[self.lo..self.lo + HEADER_LEN]
            .try_into()
            .expect("19 bytes");
        let header = EventHeader::parse(&head);
        let alg = match (&self.fde, header.type_code) {
            (_, code::FORMAT_DESCRIPTION) | (None, _) => None,
            (Some(f), _) => Some(f.checksum),
        };
        let min = HEADER_LEN as u32
            + if alg == Some(ChecksumAlg::Crc32) {
                CHECKSUM_LEN as u32
            } else {
                0
            };
        if header.event_size < min || header.event_size > MAX_EVENT {
            return Err(self.err(
                start,
                ReadErrorKind::Corrupt,
                format!(
                    "event header declares an impossible size of {} bytes (type {})",
                    header.event_size, header.type_code
                ),
            ));
        }
        let end = start + u64::from(header.event_size);
        if header.log_pos != 0 && u64::from(header.log_pos) != end % (1 << 32) {
            return Err(self.err(
                start,
                ReadErrorKind::Corrupt,
                format!(
                    "event of {} bytes says the next one starts at {}, not {end}",
                    header.event_size, header.log_pos
                ),
            ));
        }
        let size = header.event_size as usize;
        let got = self
            .fill(size)
            .map_err(|e| self.err(start, ReadErrorKind::Io, e.to_string()))?;
        if got < size {
            return Err(self.err(
                start,
                ReadErrorKind::Truncated,
                format!(
                    "event of {} bytes (type {}), but the file ends {got} bytes into it",
                    header.event_size, header.type_code,
                ),
            ));
        }
        self.ev = self.lo;
        self.ev_len = size;
        self.lo += size;

        let body_end;
        if header.type_code == code::FORMAT_DESCRIPTION {
            // Servers since MySQL 5.6.1 / MariaDB 5.3 end the FDE with a CRC32 (even with
            // binlog_checksum NONE). Verify it before trusting the FDE: a damaged algorithm byte
            // or version must not switch checksums off for the rest of the file. Older servers
            // wrote no checksum at all (their version says so, strictly; and a newer FDE whose
            // version was damaged into an old one still ends with a matching CRC32).
            if self.ev_len < HEADER_LEN + CHECKSUM_LEN {
                return Err(self.err(
                    start,
                    ReadErrorKind::Corrupt,
                    "format description too short",
                ));
            }
            let old = FormatDescription::pre_checksum(&self.event_bytes()[HEADER_LEN..]);
            if !old {
                self.check_crc(start, header, true)?;
            } else if self.modern_fde_crc_matches(header) {
                return Err(self.err(
                    start,
                    ReadErrorKind::Corrupt,
                    "format description names a server older than binlog checksums, but ends \
                     with a valid checksum as newer servers write: its version is damaged",
                ));
            }
            let fde = FormatDescription::parse(&self.event_bytes()[HEADER_LEN..]).map_err(|e| {
                self.err(
                    start,
                    ReadErrorKind::Corrupt,
                    format!("format description: {e}"),
                )
            })?;
            body_end = if old {
                self.ev_len
            } else {
                self.ev_len - CHECKSUM_LEN
            };
            self.check_no_crc = old;
            self.fde = Some(fde);
        } else {
            if self.fde.is_none() && header.type_code != code::START_V3 {
                return Err(self.err(
                    start,
                    ReadErrorKind::Corrupt,
                    format!(
                        "a {} event before any format description event",
                        super::event::type_name(header.type_code)
                    ),
                ));
            }
            if alg == Some(ChecksumAlg::Crc32) {
                self.check_crc(start, header, false)?;
                body_end = self.ev_len - CHECKSUM_LEN;
            } else {
                body_end = self.ev_len;
            }
            if std::mem::take(&mut self.check_no_crc) && self.ev_len >= HEADER_LEN + CHECKSUM_LEN {
                let buf = self.event_bytes();
                let split = buf.len() - CHECKSUM_LEN;
                let stored = u32::from_le_bytes(buf[split..].try_into().expect("4 bytes"));
                if crc32fast::hash(&buf[..split]) == stored {
                    return Err(self.err(
                        start,
                        ReadErrorKind::Corrupt,
                        "the format description names a server older than binlog checksums, \
                         but the events carry checksums: its version is damaged",
                    ));
                }
            }
        }
        self.pos = end;
        let bytes = &self.win[self.ev..self.ev + self.ev_len];
        Ok(Some(RawEvent {
            pos: start,
            header,
            body: &bytes[HEADER_LEN..body_end],
            bytes,
            format: self.fde.as_ref(),
        }))
    }

    /// The FDE ends like a checksum-aware server's: an algorithm byte (0 or 1) and a CRC32 of
    /// the rest that matches.
    fn modern_fde_crc_matches(&self, header: EventHeader) -> bool {
        let buf = self.event_bytes();
        let split = buf.len() - CHECKSUM_LEN;
        if buf.len() < HEADER_LEN + 5 || buf[split - 1] > 1 {
            return false;
        }
        let stored = u32::from_le_bytes(buf[split..].try_into().expect("4 bytes"));
        let mut h = crc32fast::Hasher::new();
        h.update(&buf[..17]);
        h.update(&(header.flags & !LOG_EVENT_BINLOG_IN_USE_F).to_le_bytes());
        h.update(&buf[19..split]);
        crc32fast::hash(&buf[..split]) == stored || h.finalize() == stored
    }

    fn check_crc(&self, start: u64, header: EventHeader, is_fde: bool) -> Result<(), ReadError> {
        if !self.verify_checksums {
            return Ok(());
        }
        let buf = self.event_bytes();
        let split = buf.len() - CHECKSUM_LEN;
        let stored = u32::from_le_bytes(buf[split..].try_into().expect("4 bytes"));
        if crc32fast::hash(&buf[..split]) == stored {
            return Ok(());
        }
        // The server computes the FDE checksum with the in-use flag clear, and sets the flag
        // in the live file afterwards.
        if is_fde && header.flags & LOG_EVENT_BINLOG_IN_USE_F != 0 {
            let mut h = crc32fast::Hasher::new();
            h.update(&buf[..17]);
            h.update(&(header.flags & !LOG_EVENT_BINLOG_IN_USE_F).to_le_bytes());
            h.update(&buf[19..split]);
            if h.finalize() == stored {
                return Ok(());
            }
        }
        Err(self.err(
            start,
            ReadErrorKind::Corrupt,
            format!(
                "CRC32 mismatch in a {} event of {} bytes",
                super::event::type_name(header.type_code),
                header.event_size
            ),
        ))
    }

    /// Read and discard events until `pos` (which must be an event boundary).
    pub fn skip_to(&mut self, pos: u64) -> Result<(), ReadError> {
        while self.pos < pos {
            if self.next_event()?.is_none() {
                return Err(self.err(
                    self.pos,
                    ReadErrorKind::Truncated,
                    format!("the file ends before position {pos}"),
                ));
            }
        }
        if self.pos != pos {
            return Err(self.err(
                pos,
                ReadErrorKind::Corrupt,
                format!(
                    "position {pos} is not the start of an event (one ends at {})",
                    self.pos
                ),
            ));
        }
        Ok(())
    }
}
