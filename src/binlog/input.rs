//! Opening binlog inputs: plain files, zstd-compressed copies, repository objects.

use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// The binlog's own name for a path: the file name without a `.zst` suffix.
pub fn binlog_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    name.strip_suffix(".zst")
        .map(str::to_string)
        .unwrap_or(name)
}

/// A `BufReader` whose buffer was only peeked at: give back the file, positioned at the start.
trait IntoInnerAtStart {
    fn into_inner_at_start(self) -> Result<std::fs::File>;
}

impl IntoInnerAtStart for BufReader<std::fs::File> {
    fn into_inner_at_start(self) -> Result<std::fs::File> {
        use std::io::Seek;
        let mut f = self.into_inner();
        f.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::Binlog(format!("cannot read: {e}")))?;
        Ok(f)
    }
}

/// Open a file for reading as a binlog, decompressing `.zst` (detected by its magic number).
pub fn open_path(path: &Path) -> Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Binlog(format!("cannot open {}: {e}", path.display())))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let head = std::io::BufRead::fill_buf(&mut r)
        .map_err(|e| Error::Binlog(format!("cannot read {}: {e}", path.display())))?;
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(r)
            .map_err(|e| Error::Binlog(format!("cannot decompress {}: {e}", path.display())))?;
        Ok(Box::new(d))
    } else {
        // The binlog reader reads in large chunks itself: no second buffer.
        Ok(Box::new(r.into_inner_at_start()?))
    }
}
