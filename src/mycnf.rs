//! my.cnf option files: reading the `[client]` section of a user's `defaults_file`, and writing
//! the private option file through which client tools get their password.
//!
//! The option file handed to a tool lives in memory, not on disk: an anonymous `memfd` (0600)
//! that the tool opens as `/proc/<zrm's pid>/fd/<n>` (MariaDB's and MySQL's clients, dump and
//! binlog tools all read it there, checked with 10.11 and 9.7). It vanishes with zrm however
//! zrm ends — kill -9 included — so no password is ever left in a file. Where memfd or /proc
//! is missing, it is a file in a [`ScratchDir`], removed on exit and swept after a kill.
//!
//! Values follow the server's own rules (mysys `my_default.c`): surrounding quotes are removed,
//! `#` starts a comment only outside quotes, and `\n \t \r \b \s \\ \" \'` are escapes. ZRM cut
//! passwords at `#`; we quote and escape what we write so every byte survives.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::ConnectionConfig;
use crate::error::{Error, IoContext, Result};
use crate::scratch::ScratchDir;
use crate::secret::{check_private, Secret};

/// What a `[client]` section may say about a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub socket: Option<PathBuf>,
}

/// Read `[client]` (and `[mysql]`/`[mariadb]`/`[client-server]`, which clients also read) from
/// a my.cnf-style file.
pub fn read_client_section(path: &Path) -> Result<ClientOptions> {
    check_private(path, "defaults file")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read defaults file {}: {e}", path.display())))?;
    parse_client_section(&text, path)
}

fn parse_client_section(text: &str, path: &Path) -> Result<ClientOptions> {
    let mut opts = ClientOptions::default();
    let mut in_client = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            let group = group.trim_end_matches(']').trim().to_ascii_lowercase();
            in_client = matches!(
                group.as_str(),
                "client" | "mysql" | "mariadb" | "client-server" | "client-mariadb"
            );
            continue;
        }
        if !in_client {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), unquote(v.trim())),
            None => (line, String::new()),
        };
        let key = key.replace('_', "-").to_ascii_lowercase();
        match key.as_str() {
            "user" => opts.user = Some(value),
            "password" => opts.password = Some(Secret::new(value)),
            "host" => opts.host = Some(value),
            "socket" => opts.socket = Some(PathBuf::from(value)),
            "port" => {
                opts.port = Some(value.parse().map_err(|_| {
                    Error::Config(format!(
                        "{}, line {}: port = {value} is not a port number",
                        path.display(),
                        n + 1
                    ))
                })?)
            }
            _ => {}
        }
    }
    Ok(opts)
}

/// Strip a trailing comment and surrounding quotes, then apply escapes.
fn unquote(v: &str) -> String {
    let quote = v.chars().next().filter(|c| *c == '"' || *c == '\'');
    let body = match quote {
        Some(q) => {
            // The value ends at the matching unescaped quote; what follows is a comment.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in v.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    end = Some(i);
                    break;
                }
            }
            match end {
                Some(e) => &v[1..e],
                None => &v[1..],
            }
        }
        None => v.split(" #").next().unwrap_or(v).trim_end(),
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Quote a value so that the client's option parser reads back exactly `v`.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A private option file for client tools (see the module comment): in memory where it can
/// be, else a 0600 file in a private directory. Gone when dropped.
pub struct ClientOptionFile {
    _held: Held,
    path: PathBuf,
}

/// What keeps the option file alive.
enum Held {
    Memory { _file: File },
    Disk { _dir: ScratchDir },
}

impl ClientOptionFile {
    pub fn write(conn: &ConnectionConfig) -> Result<Self> {
        let mut body = String::from("[client]\n");
        body.push_str(&format!("user={}\n", quote(&conn.user)));
        if let Some(pw) = &conn.password {
            body.push_str(&format!("password={}\n", quote(pw.expose())));
        }
        match conn.local_socket() {
            Some(sock) => {
                body.push_str(&format!("socket={}\n", quote(&sock.to_string_lossy())));
                body.push_str("host=localhost\n");
            }
            None => {
                body.push_str(&format!("host={}\n", quote(conn.tcp_host())));
                body.push_str(&format!("port={}\n", conn.port));
                body.push_str("protocol=TCP\n");
            }
        }
        if let Some(f) = Self::in_memory(body.as_bytes()) {
            return Ok(f);
        }
        let dir = ScratchDir::new("client")?;
        let path = dir.path().join("client.cnf");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .at("create", &path)?;
        f.write_all(body.as_bytes()).at("write", &path)?;
        Ok(ClientOptionFile {
            _held: Held::Disk { _dir: dir },
            path,
        })
    }

    /// A memfd holding `body`, reachable by path while this process lives; `None` where the
    /// kernel or /proc cannot give one.
    fn in_memory(body: &[u8]) -> Option<Self> {
        // SAFETY: memfd_create with a NUL-terminated name; returns a new descriptor or -1.
        let fd = unsafe { libc::memfd_create(c"zrm-client-options".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: a descriptor the kernel just gave us, owned by nobody else.
        let mut f = unsafe { File::from_raw_fd(fd) };
        // A memfd is created 0777; clients ignore a world-writable option file.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .ok()?;
        f.write_all(body).ok()?;
        let path = PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), f.as_raw_fd()));
        // Readable back through /proc (mounted, and not hidden from us)?
        (std::fs::read(&path).ok()?.as_slice() == body).then_some(ClientOptionFile {
            _held: Held::Memory { _file: f },
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn quote_then_unquote_is_identity() {
        for v in [
            "plain",
            "a#b",
            "sp ace",
            "q\"uo'te",
            "back\\slash\\n",
            "tab\tnl\n",
            "#",
        ] {
            assert_eq!(unquote(&quote(v)), v, "value {v:?}");
        }
    }

    #[test]
    fn reads_client_section_only() {
        let text = "[mysqld]\nport=1\n[client]\nuser = backup\npassword = \"p#ss\" # comment\nport=3307\nsocket='/tmp/s.sock'\n[other]\nuser=x\n";
        let o = parse_client_section(text, Path::new("my.cnf")).unwrap();
        assert_eq!(o.user.as_deref(), Some("backup"));
        assert_eq!(o.password.unwrap().expose(), "p#ss");
        assert_eq!(o.port, Some(3307));
        assert_eq!(o.socket, Some(PathBuf::from("/tmp/s.sock")));
        let err = parse_client_section("[client]\nport=abc\n", Path::new("my.cnf"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("my.cnf, line 2"), "{err}");
    }

    #[test]
    fn option_file_is_private_and_never_on_disk() {
        let conn = ConnectionConfig {
            host: Some("db1".into()),
            port: 3310,
            socket: None,
            user: "zrm".into(),
            password: Some(Secret::new("s3#cr\"t")),
        };
        let f = ClientOptionFile::write(&conn).unwrap();
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back =
            parse_client_section(&std::fs::read_to_string(f.path()).unwrap(), f.path()).unwrap();
        assert_eq!(back.password.unwrap().expose(), "s3#cr\"t");
        assert_eq!(back.port, Some(3310));
        // In memory: the path is a descriptor of this process, with no name on any file system.
        assert!(f.path().starts_with("/proc/"), "{}", f.path().display());
        let target = std::fs::read_link(f.path()).unwrap();
        assert!(
            target.to_string_lossy().starts_with("/memfd:"),
            "{}",
            target.display()
        );
    }
}
