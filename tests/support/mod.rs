//! The one harness of zrm's integration tests: throwaway servers of both flavors, running the
//! `zrm` binary, configurations for test servers, and what tests compare.
//!
//! Include it from an integration test with `mod support;`.
//!
//! ```ignore
//! mod support;
//! use support::{Flavor, TestServer};
//!
//! // Runs as `round_trip::mariadb` and `round_trip::mysql` (each skipped with a printed reason,
//! // or failed under CI=true, when its flavor is not installed).
//! flavor_tests! {
//!     fn round_trip(flavor: Flavor) {
//!         let server = TestServer::of(flavor);
//!         server.sql("create database d; create table d.t (id int primary key)");
//!         let dir = tempfile::tempdir().unwrap();
//!         let config = support::config_for(dir.path(), &[("s", &server)]);
//!         support::backup(&config, &["--set", "s"]);
//!     }
//! }
//! ```
//!
//! Servers: MariaDB 10.11 (Debian's `mariadbd`, the default of [`TestServer::start`]) and
//! Oracle MySQL 9.7 (the wrappers `scripts/mysql-chroot.sh` builds once per machine, found
//! through `$ZRM_TEST_MYSQL_BIN`, default `/var/cache/zrm-test/mysql-bin`). Every server is
//! throwaway: its own temp dir (datadir, socket, binary logs, error log), a free TCP port on
//! 127.0.0.1, `--no-defaults` so the machine's `/etc/mysql` configuration and any instance
//! already running on 3306 are never touched. The server is stopped when the `TestServer` is
//! dropped (also when the test panics) and is SIGKILLed by the kernel if the test process dies.
//!
//! Each flavor is talked to with its own client (`mariadb`, or MySQL's `mysql`), and zrm finds
//! MySQL's client tools through the `[tools] mysql_dir` that [`write_config`] adds to every
//! test configuration (on a Debian host `/usr/bin/mysqldump` is MariaDB's).
//!
//! Set `ZRM_KEEP_TEST_DIRS=1` to keep the temp dir of a server whose test panicked (its path is
//! printed on stderr).

#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod btrfs;
pub mod faulty;
pub mod moto;
mod server;
pub mod types;

pub(crate) use server::{free_port, spawn_tied};
#[allow(unused_imports)]
pub use server::{write_private, ServerOptions, TestServer};

// ---------------------------------------------------------------------------------------------
// Flavors
// ---------------------------------------------------------------------------------------------

/// The two server flavors every server test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// MariaDB 10.11 from Debian 12.
    #[default]
    MariaDB,
    /// Oracle MySQL 9.7 from Debian sid, in a chroot.
    MySQL,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::MariaDB => "MariaDB",
            Flavor::MySQL => "MySQL",
        })
    }
}

impl Flavor {
    pub const ALL: [Flavor; 2] = [Flavor::MariaDB, Flavor::MySQL];

    pub(crate) fn index(self) -> usize {
        match self {
            Flavor::MariaDB => 0,
            Flavor::MySQL => 1,
        }
    }

    /// "mariadb" or "mysql", for file names.
    pub fn tag(self) -> &'static str {
        match self {
            Flavor::MariaDB => "mariadb",
            Flavor::MySQL => "mysql",
        }
    }

    /// The path of one of this flavor's programs (MySQL's come from its wrapper directory).
    pub fn program(self, name: &str) -> PathBuf {
        match self {
            Flavor::MariaDB => tool(name),
            Flavor::MySQL => {
                let dir = mysql_bin_dir().unwrap_or_else(|e| panic!("{e}"));
                dir.join(name)
            }
        }
    }

    /// `mariadbd` or `mysqld`, for messages.
    pub fn server_name(self) -> &'static str {
        match self {
            Flavor::MariaDB => "mariadbd",
            Flavor::MySQL => "mysqld",
        }
    }

    pub fn server_program(self) -> PathBuf {
        self.program(self.server_name())
    }

    /// `mariadb` or MySQL's `mysql`.
    pub fn client_program(self) -> PathBuf {
        self.program(match self {
            Flavor::MariaDB => "mariadb",
            Flavor::MySQL => "mysql",
        })
    }

    /// `mariadb-binlog` or MySQL's `mysqlbinlog`.
    pub fn binlog_program(self) -> PathBuf {
        self.program(match self {
            Flavor::MariaDB => "mariadb-binlog",
            Flavor::MySQL => "mysqlbinlog",
        })
    }

    /// `mariadb-dump` or MySQL's `mysqldump`.
    pub fn dump_program(self) -> PathBuf {
        self.program(match self {
            Flavor::MariaDB => "mariadb-dump",
            Flavor::MySQL => "mysqldump",
        })
    }

    /// The flavor name zrm writes in manifests (`"server": {"flavor": …}`).
    pub fn manifest_name(self) -> &'static str {
        match self {
            Flavor::MariaDB => "MariaDB",
            Flavor::MySQL => "MySQL",
        }
    }
}

/// MariaDB's programs the tests need.
pub const MARIADB_TOOLS: &[&str] = &[
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "mariadb-dump",
    "mariadb-binlog",
];

/// MySQL's programs the tests need (wrappers in [`mysql_bin_dir`]).
const MYSQL_TOOLS: &[&str] = &["mysqld", "mysql", "mysqldump", "mysqlbinlog"];

/// The directory of Oracle MySQL 9.7's wrappers (`scripts/mysql-chroot.sh`), or why there is
/// none: `$ZRM_TEST_MYSQL_BIN`, else `/var/cache/zrm-test/mysql-bin`.
pub fn mysql_bin_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("ZRM_TEST_MYSQL_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/cache/zrm-test/mysql-bin"));
        let build = "build it once with `sudo bash scripts/mysql-chroot.sh` (scripts/test.sh \
                     does), or point ZRM_TEST_MYSQL_BIN at its wrappers";
        for t in MYSQL_TOOLS {
            if !dir.join(t).is_file() {
                return Err(format!(
                    "Oracle MySQL 9.7 is not available: no {}: {build}",
                    dir.join(t).display()
                ));
            }
        }
        let wrapper = fs::read_to_string(dir.join("mysqld")).unwrap_or_default();
        if wrapper.starts_with("#!") && !wrapper.contains("--basedir") {
            return Err(format!(
                "the MySQL wrappers in {} predate the current scripts/mysql-chroot.sh (mysqld \
                 does not name its directories): rerun `sudo bash scripts/mysql-chroot.sh`",
                dir.display()
            ));
        }
        let out = run(Command::new(dir.join("mysqld")).arg("--version"));
        if !out.success() || !out.stdout.contains("Ver ") {
            return Err(format!(
                "{} --version does not run: {out}\n{build}",
                dir.join("mysqld").display()
            ));
        }
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// True when `flavor`'s server and tools are here. Otherwise: in CI, panics with the reason;
/// elsewhere, prints `SKIP: <reason>` on stderr and returns false (the test should return).
pub fn available(flavor: Flavor) -> bool {
    match flavor {
        Flavor::MariaDB => require_tools(MARIADB_TOOLS),
        Flavor::MySQL => match mysql_bin_dir() {
            Ok(_) => true,
            Err(reason) => skip(&reason),
        },
    }
}

/// Fails (CI) or skips (elsewhere) with `reason`; always false.
pub fn skip(reason: &str) -> bool {
    if ci() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    false
}

/// Turns each `fn name(flavor: Flavor) { … }` into that function plus two tests,
/// `name::mariadb` and `name::mysql`, which run it with each flavor once the flavor is
/// [`available`] (skipped with a printed reason, or failed under `CI=true`, when it is not).
#[macro_export]
macro_rules! flavor_tests {
    ($( $(#[$meta:meta])* fn $name:ident($flavor:ident: Flavor) $body:block )+) => {$(
        $(#[$meta])*
        fn $name($flavor: $crate::support::Flavor) $body

        mod $name {
            #[test]
            fn mariadb() {
                if $crate::support::available($crate::support::Flavor::MariaDB) {
                    super::$name($crate::support::Flavor::MariaDB);
                }
            }

            #[test]
            fn mysql() {
                if $crate::support::available($crate::support::Flavor::MySQL) {
                    super::$name($crate::support::Flavor::MySQL);
                }
            }
        }
    )+};
}

// ---------------------------------------------------------------------------------------------
// Environment helpers
// ---------------------------------------------------------------------------------------------

/// True when running in CI (`CI=true`): missing tools are then a failure, not a skip.
pub fn ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Locates an executable on `PATH`, then in the sbin directories (where Debian puts `mariadbd`
/// and which a non-root `PATH` often lacks).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(tool))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Returns true when every tool is found. Otherwise: in CI, panics naming the missing tools;
/// elsewhere, prints `SKIP: <reason>` on stderr and returns false (the test should return).
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!(
        "required tool(s) not found on PATH: {} (on Debian: apt-get install mariadb-server mariadb-client)",
        missing.join(", ")
    ))
}

/// Path of a tool, or a panic naming it.
pub(crate) fn tool(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| panic!("{name} not found on PATH (nor in /usr/sbin)"))
}

/// Quotes a string as an SQL string literal (`'...'`, with `\` and `'` escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Writes `body` to `dir/zrm.toml` and returns its path. Unless the body has its own `[tools]`,
/// a `[tools] mysql_dir` naming MySQL's wrappers is added when MySQL is available here, so zrm
/// uses MySQL's own client tools for MySQL servers (MariaDB servers never look at it).
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("zrm.toml");
    let mut text = body.to_string();
    if let (false, Ok(bin)) = (body.contains("[tools]"), mysql_bin_dir()) {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("\n[tools]\nmysql_dir = \"{}\"\n", bin.display()));
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Writes `pw` (no trailing newline) to `dir/mysql.pass` with mode 0600 and returns its path.
pub fn write_password_file(dir: &Path, pw: &str) -> PathBuf {
    let path = dir.join("mysql.pass");
    write_private(&path, pw.as_bytes());
    path
}

// ---------------------------------------------------------------------------------------------
// Running the zrm binary
// ---------------------------------------------------------------------------------------------

/// A `Command` for the `zrm` binary under test, with `NO_COLOR=1` and without `ZRM_CONFIG`
/// inherited from the environment.
pub fn zrm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zrm"));
    cmd.env("NO_COLOR", "1").env_remove("ZRM_CONFIG");
    cmd
}

/// What a finished command produced. `code` is the exit code, or 128 + signal if it was killed.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion (stdin is /dev/null unless the caller set it), capturing its output.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let code = out.status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + out.status.signal().unwrap_or(0)
    });
    Output {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`run`], but panics (showing both streams) unless the exit code is 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.success(), "{cmd:?} failed: {out}");
    out
}

// ---------------------------------------------------------------------------------------------
// zrm with a configuration for test servers
// ---------------------------------------------------------------------------------------------

/// A config with a repository in `dir/repo` and one set per (name, server), connecting as
/// root over the server's socket, with the password (if any) in a 0600 password file.
pub fn config_for(dir: &Path, sets: &[(&str, &TestServer)]) -> PathBuf {
    config_with(dir, sets, "")
}

/// Like [`config_for`], with extra `[defaults]` lines (e.g. `method = "mysqldump"\n`).
pub fn config_with(dir: &Path, sets: &[(&str, &TestServer)], defaults: &str) -> PathBuf {
    let mut body =
        format!("[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n{defaults}");
    for (name, server) in sets {
        body.push_str(&format!(
            "\n[sets.{name}]\nsocket = \"{}\"\n",
            server.socket().display()
        ));
        if let Some(pw) = server.root_password() {
            let pw_file = dir.join(format!("{name}.pass"));
            write_private(&pw_file, pw.as_bytes());
            body.push_str(&format!("password_file = \"{}\"\n", pw_file.display()));
        }
    }
    write_config(dir, &body)
}

/// `zrm --config CONFIG ARGS…` started in the background, stdout and stderr piped (collect them
/// with [`finish`]).
pub fn spawn_zrm(config: &Path, args: &[&str]) -> std::process::Child {
    zrm()
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start zrm {args:?}: {e}"))
}

/// Wait for a child from [`spawn_zrm`] and collect what it printed.
pub fn finish(child: std::process::Child) -> Output {
    let out = child.wait_with_output().expect("waiting for zrm");
    use std::os::unix::process::ExitStatusExt;
    Output {
        code: out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Send `sig` to a child that has not been reaped.
pub fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: kill(2) on a child we have not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// Poll `ok` every 20 ms until it holds; panics naming `what` after `secs` seconds.
pub fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs zrm with a config; returns the output (never panics on failure).
pub fn run_zrm(config: &Path, args: &[&str]) -> Output {
    let mut cmd = zrm();
    cmd.arg("--config").arg(config).args(args);
    run(&mut cmd)
}

/// Like [`run_zrm`], but panics (showing the output) unless zrm exits 0.
pub fn zrm_ok(config: &Path, args: &[&str]) -> Output {
    let out = run_zrm(config, args);
    assert_eq!(out.code, 0, "zrm {args:?} failed:\n{out}");
    out
}

/// stdout parsed as one JSON document.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
}

/// `zrm backup ARGS --format json`, which must succeed: its output and the `backup` object.
pub fn backup_out(config: &Path, args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["backup"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = zrm_ok(config, &all);
    let b = json(&out)["backup"].clone();
    assert!(b.is_object(), "no backup object:\n{out}");
    (out, b)
}

/// `zrm backup ARGS --format json`, which must succeed: the `backup` object (its manifest).
pub fn backup(config: &Path, args: &[&str]) -> serde_json::Value {
    backup_out(config, args).1
}

/// The ids of complete backups of a set, from `list --format json`.
pub fn backup_ids(config: &Path, set: &str) -> Vec<String> {
    let out = zrm_ok(config, &["list", "--set", set, "--format", "json"]);
    json(&out)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Comparing servers
// ---------------------------------------------------------------------------------------------

/// A checksum of every base table of a database, sorted by table: `CHECKSUM TABLE`, except
/// for MySQL tables with a JSON column, which are compared by content (MySQL's `CHECKSUM
/// TABLE` hashes the stored binary JSON, which differs after in-place updates between a source
/// and a faithful copy): a SHA-256 of the rows as the client prints them, sorted.
pub fn checksums(server: &TestServer, db: &str) -> Vec<(String, String)> {
    let tables = server.sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
         AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    ));
    let json_tables: Vec<String> = match server.flavor() {
        Flavor::MariaDB => Vec::new(),
        Flavor::MySQL => server
            .sql(&format!(
                "SELECT DISTINCT TABLE_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = '{db}' AND DATA_TYPE = 'json'"
            ))
            .lines()
            .map(str::to_string)
            .collect(),
    };
    tables
        .lines()
        .map(|t| {
            let sum = if json_tables.iter().any(|j| j == t) {
                content_checksum(server, db, t)
            } else {
                let row = server.sql(&format!("CHECKSUM TABLE `{db}`.`{t}`"));
                row.split('\t').nth(1).unwrap_or("").to_string()
            };
            (t.to_string(), sum)
        })
        .collect()
}

/// SHA-256 (hex) of a table's rows as the client prints them, sorted: equal for equal content
/// whatever the storage layout.
pub fn content_checksum(server: &TestServer, db: &str, table: &str) -> String {
    use sha2::{Digest, Sha256};
    // Every column by name: `SELECT *` leaves out MySQL's invisible columns.
    let columns: Vec<String> = server
        .sql(&format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION"
        ))
        .lines()
        .map(|c| format!("`{}`", c.replace('`', "``")))
        .collect();
    let text = server.sql(&format!(
        "SELECT {} FROM `{db}`.`{table}`",
        columns.join(", ")
    ));
    let mut rows: Vec<&str> = text.lines().collect();
    rows.sort_unstable();
    let mut h = Sha256::new();
    for r in rows {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    format!("content:{:x}", h.finalize())
}

/// Every `SHOW CREATE` of the objects of a database (tables, sequences, views, routines,
/// triggers with their order, events), for comparison between servers.
pub fn object_definitions(server: &TestServer, db: &str) -> Vec<String> {
    let list = |sql: &str| -> Vec<String> {
        server
            .sql(sql)
            .lines()
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut defs = Vec::new();
    defs.push(server.sql(&format!("SHOW CREATE DATABASE `{db}`")));
    // MySQL 8.0.30+ shows a column's character set when it was named in CREATE TABLE, and a
    // dump names every column's collation; `CHARACTER SET cs COLLATE cs_x` says no more than
    // `COLLATE cs_x` (a collation belongs to one character set).
    let redundant_charset =
        regex::Regex::new(r" CHARACTER SET (\w+) COLLATE (\w+)").expect("valid regex");
    for t in list(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' ORDER BY 1"
    )) {
        let def = server.sql(&format!("SHOW CREATE TABLE `{db}`.`{t}`"));
        let def = redundant_charset.replace_all(&def, |c: &regex::Captures| {
            if c[2].starts_with(&format!("{}_", &c[1])) {
                format!(" COLLATE {}", &c[2])
            } else {
                c[0].to_string()
            }
        });
        defs.push(def.into_owned());
    }
    for t in list(&format!(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='{db}' ORDER BY 1"
    )) {
        // The last column of SHOW CREATE TRIGGER is its creation time.
        let row = server.sql(&format!("SHOW CREATE TRIGGER `{db}`.`{t}`"));
        let cols: Vec<&str> = row.split('\t').collect();
        defs.push(cols[..cols.len() - 1].join("\t"));
    }
    defs.push(server.sql(&format!(
        "SELECT EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, TRIGGER_NAME \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='{db}' ORDER BY 1, 2, 3, 4"
    )));
    for l in list(&format!(
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='{db}' ORDER BY 1, 2"
    )) {
        let (kind, name) = l.split_once('\t').unwrap();
        defs.push(server.sql(&format!("SHOW CREATE {kind} `{db}`.`{name}`")));
    }
    for e in list(&format!(
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA='{db}' ORDER BY 1"
    )) {
        defs.push(server.sql(&format!("SHOW CREATE EVENT `{db}`.`{e}`")));
    }
    defs
}
