//! The per-set lock: one backup (or other writer) of a set at a time.
//!
//! An advisory `flock` on `sets/<set>/lock`. The kernel drops it when the holder dies, so a
//! lock left by a killed process is simply taken over (and we say so); a live holder is named
//! by its pid in the refusal. The file keeps the holder's pid and start time for that message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

pub struct SetLock {
    /// A local lock: the flocked file. `None` for a remote lock.
    file: Option<File>,
    /// A remote lock (object store): released when dropped.
    _remote: Option<Box<dyn Send>>,
    /// The pid found in a lock file whose holder was gone, if any.
    pub took_over_from: Option<String>,
}

impl SetLock {
    pub fn acquire(what: &'static str, set: &str, path: &Path) -> Result<SetLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .at("open lock file", path)?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        let mut fields = previous.lines();
        let pid = fields.next().unwrap_or("").trim().to_string();
        let since = fields.next().unwrap_or("unknown time").trim().to_string();
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::Locked {
                    what,
                    set: set.to_string(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid
                    },
                    since,
                });
            }
            return Err(Error::io("lock", path, err));
        }
        let took_over_from =
            (!pid.is_empty() && pid != std::process::id().to_string()).then_some(pid);
        file.set_len(0).at("truncate lock file", path)?;
        file.seek(SeekFrom::Start(0)).at("rewind lock file", path)?;
        write!(
            file,
            "{}\n{}\n",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        )
        .at("write lock file", path)?;
        if let Some(old) = &took_over_from {
            tracing::info!(
                "set '{set}': took over the lock left by pid {old}, which is no longer running"
            );
        }
        Ok(SetLock {
            file: Some(file),
            _remote: None,
            took_over_from,
        })
    }

    /// A lock held elsewhere (an S3 object); `release` frees it when dropped.
    pub fn remote(release: Box<dyn Send>, took_over_from: Option<String>) -> SetLock {
        SetLock {
            file: None,
            _remote: Some(release),
            took_over_from,
        }
    }
}

impl Drop for SetLock {
    fn drop(&mut self) {
        // Leave the file (and the last pid) in place: removing it would race with a new holder.
        if let Some(f) = &self.file {
            let _ = f.set_len(0);
        }
    }
}

/// This machine's host name (for lock and lease records).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = SetLock::acquire("set", "s", &path).unwrap();
        let err = SetLock::acquire("set", "s", &path).err().expect("locked");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        SetLock::acquire("set", "s", &path).expect("free after drop");
    }
}
