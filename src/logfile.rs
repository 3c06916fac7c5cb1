//! Where the log goes: stderr always, and also `log_file` (from `[defaults]`) once the
//! configuration is loaded. Lines carry timestamps; no secret is ever logged (passwords travel
//! in option files, never on command lines or in messages).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

static FILE: Mutex<Option<File>> = Mutex::new(None);

/// Also append the log to `path` from now on (created 0600 if missing).
pub fn set(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    *FILE.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    Ok(())
}

/// The writer for tracing: stderr, plus the log file when one is set.
pub struct Tee;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = io::stderr().write(buf)?;
        if let Some(f) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            // A failing log file must not fail the command.
            let _ = f.write_all(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

pub fn writer() -> Tee {
    Tee
}

/// A note for the human: on stderr, and with a timestamp in the log file.
pub fn note(msg: &str) {
    eprintln!("{msg}");
    if let Some(f) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let _ = writeln!(
            f,
            "{} {msg}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
        );
    }
}
