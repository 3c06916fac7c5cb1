//! The programs zrm drives (`mariadb-dump`/`mysqldump`, `mariadb`/`mysql`,
//! `mariadb-binlog`/`mysqlbinlog`, and `mariadbd`/`mysqld` for throwaway servers), found and
//! matched to the server's flavor.
//!
//! Never hands a server a program of the other flavor: MariaDB's `mysqlbinlog` cannot stream
//! from MySQL 9 ("unrecognized MariaDB version"), and MySQL's `mysqldump` lacks MariaDB's
//! options. Debian's MariaDB packages install `mysql`, `mysqldump`, `mysqlbinlog` and `mysqld`
//! as links to MariaDB's programs, so a name is not enough: each candidate is asked what it is
//! (its `--version`, then its `--help`), and one of the wrong flavor is passed over, and named
//! in the error when nothing else fits.
//!
//! Where programs are looked for, in order: the flavor's directory from the configuration
//! (`[tools] mysql_dir` / `mariadb_dir`, set once per process by [`configure`]), then `PATH`,
//! then `/usr/sbin` and `/sbin` (where server binaries live).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use crate::manifest::Flavor;

/// A tool found on this machine.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
}

impl Tool {
    /// The first line of `--version`, for manifests and `check`.
    pub fn version(&self) -> Option<String> {
        let text = probe(&self.path, "--version")?;
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
        flavor_of(&self.path) == Some(Flavor::MariaDB)
    }
}

/// Directories searched first for one flavor's programs (`[tools]` in the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolDirs {
    pub mysql: Option<PathBuf>,
    pub mariadb: Option<PathBuf>,
}

impl ToolDirs {
    /// The directory configured for `flavor`, if any.
    pub fn of_flavor(&self, flavor: Flavor) -> Option<&Path> {
        match flavor {
            Flavor::MySQL => self.mysql.as_deref(),
            Flavor::MariaDB => self.mariadb.as_deref(),
        }
    }
}

static DIRS: RwLock<ToolDirs> = RwLock::new(ToolDirs {
    mysql: None,
    mariadb: None,
});

/// Set the per-flavor directories for this process (from the configuration's `[tools]`).
pub fn configure(dirs: ToolDirs) {
    *DIRS.write().unwrap_or_else(|e| e.into_inner()) = dirs;
}

fn configured_dir(flavor: Flavor) -> Option<PathBuf> {
    DIRS.read()
        .unwrap_or_else(|e| e.into_inner())
        .of_flavor(flavor)
        .map(Path::to_path_buf)
}

/// Look for the first of `names` on PATH, whatever its flavor (for programs that have none,
/// such as `crontab`).
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

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What a search for one flavor's program found.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Tool),
    /// Only programs of the other flavor carry these names (e.g. Debian's `/usr/bin/mysqlbinlog`,
    /// a link to MariaDB's `mariadb-binlog`, for a MySQL server).
    WrongFlavor(Vec<PathBuf>),
    Missing,
}

/// Every directory searched for `flavor`'s programs, in order.
fn search_dirs(flavor: Flavor) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = configured_dir(flavor).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]);
    dirs
}

/// The first of `names` (preferred first) that is `flavor`'s own program.
pub fn locate(names: &[&'static str], flavor: Flavor) -> Lookup {
    let dirs = search_dirs(flavor);
    let mut wrong = Vec::new();
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if !is_executable(&candidate) {
                continue;
            }
            match flavor_of(&candidate) {
                Some(f) if f == flavor => {
                    return Lookup::Found(Tool {
                        name,
                        path: candidate,
                    })
                }
                _ => {
                    if !wrong.contains(&candidate) {
                        wrong.push(candidate)
                    }
                }
            }
        }
    }
    if wrong.is_empty() {
        Lookup::Missing
    } else {
        Lookup::WrongFlavor(wrong)
    }
}

/// Which flavor a program belongs to, asked once per path and remembered. MariaDB's programs
/// say "MariaDB" in their `--version` or `--help` (its `mysqlbinlog` only in `--help`); a
/// program named `mariadb…` (also behind a link) is MariaDB's. `None`: it does not run.
pub fn flavor_of(path: &Path) -> Option<Flavor> {
    static SEEN: Mutex<Option<HashMap<PathBuf, Option<Flavor>>>> = Mutex::new(None);
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(known) = SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&real)
    {
        return *known;
    }
    let named_mariadb = real
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("mariadb"));
    let flavor = if named_mariadb {
        Some(Flavor::MariaDB)
    } else {
        match probe(path, "--version") {
            None => None,
            Some(v) if v.contains("MariaDB") => Some(Flavor::MariaDB),
            Some(_) => match probe(path, "--help") {
                Some(h) if h.contains("MariaDB") => Some(Flavor::MariaDB),
                _ => Some(Flavor::MySQL),
            },
        }
    };
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(real, flavor);
    flavor
}

/// stdout and stderr of `program ARG`, or `None` when it cannot run.
fn probe(path: &Path, arg: &str) -> Option<String> {
    let out = std::process::Command::new(path)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(text)
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

/// The server program (for throwaway servers).
pub fn server_names(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDB => &["mariadbd", "mysqld"],
        Flavor::MySQL => &["mysqld"],
    }
}

/// What to do when `flavor`'s program is missing or only the other flavor's is found.
pub fn remedy(flavor: Flavor) -> String {
    match flavor {
        Flavor::MariaDB => {
            "install MariaDB's client tools (Debian: apt-get install mariadb-client), \
             or name their directory in the configuration: [tools] mariadb_dir = \"/path/bin\""
                .to_string()
        }
        Flavor::MySQL => "install Oracle MySQL's client tools (the mysql-client package of \
             Oracle's repository, or the bin/ of a MySQL tarball) and name their directory in \
             the configuration: [tools] mysql_dir = \"/path/bin\" (or put it first on PATH)"
            .to_string(),
    }
}

/// Why `locate` found nothing usable, in one sentence with the fix.
pub fn explain(names: &[&'static str], flavor: Flavor, lookup: &Lookup) -> String {
    match lookup {
        Lookup::Found(t) => format!("{} is {flavor}'s", t.path.display()),
        Lookup::WrongFlavor(paths) => format!(
            "{} {} not {flavor}'s own ({} of the other flavor cannot serve a {flavor} \
             server); {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if paths.len() == 1 { "is" } else { "are" },
            if paths.len() == 1 {
                "a program"
            } else {
                "programs"
            },
            remedy(flavor)
        ),
        Lookup::Missing => format!(
            "none of {} was found (configured directory, PATH, /usr/sbin, /sbin); {}",
            names.join(", "),
            remedy(flavor)
        ),
    }
}

/// Find `flavor`'s own program or say what is wrong and how to fix it.
pub fn require(names: &[&'static str], flavor: Flavor) -> crate::error::Result<Tool> {
    match locate(names, flavor) {
        Lookup::Found(t) => Ok(t),
        other => Err(crate::error::Error::Backup(explain(names, flavor, &other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn flavor_is_read_from_version_then_help_then_name() {
        let d = tempfile::tempdir().unwrap();
        let my = script(
            d.path(),
            "mysqlbinlog",
            "echo 'mysqlbinlog  Ver 9.7.4 for Linux on x86_64'",
        );
        // MariaDB's mysqlbinlog says MariaDB only in its --help.
        let maria = script(
            d.path(),
            "mysqlbinlog-m",
            "case $1 in --version) echo 'mysqlbinlog Ver 3.5 for debian-linux-gnu';; \
             *) echo 'Dumps a MariaDB binary log';; esac",
        );
        let dump = script(
            d.path(),
            "mysqldump",
            "echo 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB'",
        );
        let named = script(d.path(), "mariadb-dump", "echo 'whatever'");
        let link = d.path().join("mysql");
        std::os::unix::fs::symlink(&named, &link).unwrap();
        assert_eq!(flavor_of(&my), Some(Flavor::MySQL));
        assert_eq!(flavor_of(&maria), Some(Flavor::MariaDB));
        assert_eq!(flavor_of(&dump), Some(Flavor::MariaDB));
        assert_eq!(flavor_of(&link), Some(Flavor::MariaDB));
        assert_eq!(flavor_of(&d.path().join("absent")), None);
    }

    #[test]
    fn mariadbs_mysqlbinlog_is_refused_for_mysql_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let l = Lookup::WrongFlavor(vec![d.path().join("mysqlbinlog")]);
        let msg = explain(binlog_names(Flavor::MySQL), Flavor::MySQL, &l);
        assert!(msg.contains("not MySQL's own"), "{msg}");
        assert!(msg.contains("[tools] mysql_dir"), "{msg}");
    }
}
