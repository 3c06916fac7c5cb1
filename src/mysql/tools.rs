//! The client tools zrm drives (`mariadb-dump`/`mysqldump`, `mariadb`/`mysql`), found on PATH
//! and matched to the server's flavor.

use std::path::PathBuf;

use crate::catalog::Flavor;

/// A tool found on this machine.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
}

impl Tool {
    /// The first line of `--version`, for manifests and `check`.
    pub fn version(&self) -> Option<String> {
        let out = std::process::Command::new(&self.path)
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().map(|l| {
            // "/usr/bin/mariadb-dump  Ver 10.19 …": drop the path.
            match l.find(" Ver ") {
                Some(i) => format!("{}{}", self.name, &l[i..])
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                None => l.trim().to_string(),
            }
        })
    }

    /// True for a MariaDB client (which understands MariaDB-only dump lines).
    pub fn is_mariadb(&self) -> bool {
        self.name.starts_with("mariadb") || self.version().is_some_and(|v| v.contains("MariaDB"))
    }
}

/// Look for the first of `names` on PATH.
pub fn find(names: &[&'static str]) -> Option<Tool> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(Tool {
                    name,
                    path: candidate,
                });
            }
        }
    }
    None
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Tool names, preferred first, for a server flavor.
pub fn dump_names(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDB => &["mariadb-dump", "mysqldump"],
        Flavor::MySQL => &["mysqldump"],
    }
}

pub fn client_names(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDB => &["mariadb", "mysql"],
        Flavor::MySQL => &["mysql"],
    }
}

pub fn binlog_names(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDB => &["mariadb-binlog", "mysqlbinlog"],
        Flavor::MySQL => &["mysqlbinlog"],
    }
}

/// Find a tool or say which to install.
pub fn require(names: &[&'static str], flavor: Flavor) -> crate::error::Result<Tool> {
    find(names).ok_or_else(|| {
        crate::error::Error::Backup(format!(
            "none of {} is on PATH; install the {} client tools (Debian: apt-get install {})",
            names.join(", "),
            flavor,
            match flavor {
                Flavor::MariaDB => "mariadb-client",
                Flavor::MySQL => "mysql-client",
            }
        ))
    })
}
