//! Secrets (passwords) and the files they live in.
//!
//! A [`Secret`] never prints its value: `Debug` and `Display` show `***`, so a secret that ends
//! up in a log line or an error by mistake leaks nothing. Password files must be private
//! (mode 0600 or stricter): zrm refuses one that group or others can read, with the fix.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; only for handing it to a connection or a private option file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Refuse a secret file that group or others may read.
pub fn check_private(path: &Path, what: &str) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("cannot read {what} {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Config(format!(
            "{what} {} is readable by group or others (mode {mode:04o}): run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Read a password file: its whole content, less one trailing newline. Every other byte
/// (including `#`, quotes and spaces) is part of the password.
pub fn read_password_file(path: &Path) -> Result<Secret> {
    check_private(path, "password file")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read password file {}: {e}", path.display())))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(Secret::new(text))
}

/// Write a new file readable by its owner only (mode 0600 from creation, never wider).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    f.write_all(bytes).map_err(|e| Error::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
    }

    #[test]
    fn password_file_keeps_hash_and_spaces_and_refuses_wide_modes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(b"a #b 'c\"\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password_file(&p).unwrap().expose(), "a #b 'c\"");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_password_file(&p).unwrap_err().to_string();
        assert!(err.contains("mode 0644"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }
}
