//! The error policy of zrm.
//!
//! Every error a user can meet says three things: what happened, to what (a file, a set, a
//! server, a backup id), and what to do about it. The message is built where that context is
//! known; this module only classifies errors so the binary can map them to exit codes:
//!
//! * exit 2 — the command line or the configuration is wrong ([`Error::Config`], [`Error::Usage`]);
//! * exit 1 — the command ran and failed (everything else).
//!
//! Errors never carry a password: connection details are printed as `user@host:port`.
//! Every fallible function returns [`Error`]; `main.rs` maps it to an exit code.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is missing, unreadable or invalid. The message names the file,
    /// and the line and key where there is one.
    #[error("{0}")]
    Config(String),

    /// The command line asks for something impossible or contradictory.
    #[error("{0}")]
    Usage(String),

    /// A file system operation failed on a named path.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Talking to a MySQL/MariaDB server failed. `server` is `user@host:port` or a socket.
    #[error("{server}: {message}")]
    Mysql { server: String, message: String },

    /// An external tool (mariadb-dump, mariadb, …) failed. `stderr` is its last lines.
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: String,
        stderr: String,
    },

    /// Another zrm process holds the set's lock.
    #[error(
        "{what} '{set}' is locked by another zrm process (pid {pid}, since {since}): \
         wait for it to finish, or stop it if it hangs"
    )]
    Locked {
        what: &'static str,
        set: String,
        pid: String,
        since: String,
    },

    /// The repository or one of its files is missing, corrupt or inconsistent.
    #[error("{0}")]
    Repository(String),

    /// A backup could not be taken.
    #[error("{0}")]
    Backup(String),

    /// A restore could not be carried out (or was refused for safety).
    #[error("{0}")]
    Restore(String),

    /// A binary log could not be read, or its chain has a gap.
    #[error("{0}")]
    Binlog(String),
}

impl Error {
    /// The process exit code for this error: 2 for usage and configuration, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            _ => 1,
        }
    }

    pub fn io(action: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// Attach a path and an action to `std::io::Result`s.
pub trait IoContext<T> {
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}
