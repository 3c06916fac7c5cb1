//! How to reach one server: host and port or a socket, the account and its password. A leaf:
//! the configuration produces it, connections, option files and tools consume it.

use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// How to reach one server: what a `mysql_async` connection and the client tools need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    pub host: Option<String>,
    pub port: u16,
    pub socket: Option<PathBuf>,
    pub user: String,
    pub password: Option<Secret>,
}

impl ConnectionConfig {
    /// The socket to connect through, when there is one and no remote host is named
    /// (as the mysql client does, `localhost` means "the socket").
    pub fn local_socket(&self) -> Option<&Path> {
        match self.host.as_deref() {
            None | Some("localhost") => self.socket.as_deref(),
            Some(_) => None,
        }
    }

    /// The TCP host to connect to (when no socket is used).
    pub fn tcp_host(&self) -> &str {
        self.host.as_deref().unwrap_or("127.0.0.1")
    }

    /// `user@host:port` or `user@socket`, for messages. Never contains the password.
    pub fn display(&self) -> String {
        match self.local_socket() {
            Some(sock) => format!("{}@{}", self.user, sock.display()),
            None => format!("{}@{}:{}", self.user, self.tcp_host(), self.port),
        }
    }

    /// True when both describe the same server endpoint (used to refuse restoring over the
    /// source by accident).
    pub fn same_endpoint(&self, other: &ConnectionConfig) -> bool {
        match (self.local_socket(), other.local_socket()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                let norm = |h: &str| match h {
                    "localhost" | "127.0.0.1" | "::1" => "127.0.0.1".to_string(),
                    h => h.to_string(),
                };
                norm(self.tcp_host()) == norm(other.tcp_host()) && self.port == other.port
            }
            // A socket and a TCP port may be the same server; the caller compares server ids.
            _ => false,
        }
    }
}
