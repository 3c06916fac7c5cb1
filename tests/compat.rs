//! `mysql-zrm`: the zrm binary invoked through a symlink of that name takes ZRM's command line
//! (`--action … --backup-set …`) and runs the matching zrm command against a real server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{backup_ids, config_for, Flavor};
use support::{Output, TestServer};

const HEADER: &str = "Log filename | Log Position | Timestamp | Event Type | Event";

/// A `mysql-zrm` symlink to the zrm binary under test, in `dir`.
fn mysql_zrm_link(dir: &Path) -> PathBuf {
    let link = dir.join("mysql-zrm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
    link
}

fn mysql_zrm(link: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(link);
    cmd.env("NO_COLOR", "1")
        .env_remove("ZRM_CONFIG")
        // No ZRM configuration: these tests use zrm.toml.
        .env("ZRM_ZRM_CONF_DIR", link.with_file_name("no-mysql-zrm-conf"))
        .args(args);
    support::run(&mut cmd)
}

/// The closed binlog files of a server (all but the one it writes), in order.
fn closed_binlogs(server: &TestServer) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(server.binlog_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("mysql-bin.") && !name.ends_with(".index")
        })
        .collect();
    files.sort();
    files.pop();
    files
}

#[test]
fn mysql_zrm_actions_run_zrm_commands() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = mysql_zrm_link(dir.path());
    let server = TestServer::start();
    server.sql("CREATE DATABASE app");
    server.sql("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40))");
    server.sql("INSERT INTO app.t VALUES (1, 'compat-marker')");
    let config = config_for(dir.path(), &[("s", &server)]);
    let cfg = config.to_str().unwrap();

    let out = mysql_zrm(
        &link,
        &["--action", "check", "--backup-set", "s", "--config", cfg],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("OK: set 's' is ready for backups"),
        "{out}"
    );

    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "backup",
            "--backup-set",
            "s",
            "--backup-level",
            "0",
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let ids = backup_ids(&config, "s");
    assert_eq!(ids.len(), 1, "{ids:?}");

    // The configuration from $ZRM_CONFIG, as for zrm.
    let out = support::run(
        Command::new(&link)
            .env("NO_COLOR", "1")
            .env("ZRM_CONFIG", &config)
            .args(["--action", "list", "--backup-set", "s"]),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains(&ids[0]), "{out}");

    // A ZRM backup directory names the backup by its last component.
    let source_dir = format!("/var/lib/mysql-zrm/s/{}", ids[0]);
    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "verify-backup",
            "--backup-set",
            "s",
            "--source-directory",
            &source_dir,
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains(&format!("backup id {}", ids[0])),
        "{out}"
    );

    // An incremental, and parse-binlogs of its directory: its own binlog range, from the
    // archive.
    server.sql("INSERT INTO app.t VALUES (2, 'incremental-marker')");
    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "backup",
            "--backup-set",
            "s",
            "--backup-level",
            "1",
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let ids = backup_ids(&config, "s");
    assert_eq!(ids.len(), 2, "{ids:?}");
    let incremental_dir = format!("/var/lib/mysql-zrm/s/{}", ids[1]);
    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "parse-binlogs",
            "--backup-set",
            "s",
            "--source-directory",
            &incremental_dir,
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains(HEADER), "{out}");
    assert!(out.stdout.contains("incremental-marker"), "{out}");
    assert!(
        !out.stdout.contains("compat-marker"),
        "the incremental's range starts after the full backup:\n{out}"
    );

    // parse-binlogs on the server's own binlog files.
    server.sql("FLUSH BINARY LOGS");
    let files: Vec<String> = closed_binlogs(&server)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(!files.is_empty());
    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "parse-binlogs",
            "--backup-set",
            "s",
            "--bin-logs",
            &files.join(","),
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[1], HEADER, "{out}");
    let create = lines
        .iter()
        .find(|l| l.contains("CREATE TABLE app.t"))
        .unwrap_or_else(|| panic!("no CREATE TABLE row:\n{out}"));
    let cols: Vec<&str> = create.split(" | ").collect();
    assert_eq!(cols.len(), 5, "{create}");
    assert!(cols[0].starts_with("mysql-bin."), "{create}");
    assert!(cols[1].parse::<u64>().is_ok(), "{create}");
    assert!(
        regex::Regex::new(r"^\d\d-\d\d-\d\d \d\d:\d\d:\d\d$")
            .unwrap()
            .is_match(cols[2]),
        "{create}"
    );
    assert_eq!(cols[3], "Query", "{create}");
    assert!(
        out.stdout.contains("insert 1 row into app.t"),
        "no rows event for the insert:\n{out}"
    );
    assert!(out.stdout.contains("compat-marker"), "{out}");
}

#[test]
fn unsupported_options_exit_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let link = mysql_zrm_link(dir.path());
    let out = mysql_zrm(
        &link,
        &[
            "--action",
            "backup",
            "--backup-set",
            "s",
            "--compress",
            "--user",
            "backup-user",
            "--password",
            "hunter2",
        ],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--compress: "), "{out}");
    assert!(out.stderr.contains("`compression`"), "{out}");
    assert!(out.stderr.contains("--user: "), "{out}");
    assert!(out.stderr.contains("--password: "), "{out}");
    assert!(!out.stderr.contains("hunter2"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");

    let out = mysql_zrm(&link, &["--backup-set", "s"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--action is required"), "{out}");
}

#[test]
fn help_shows_zrm_usage() {
    let dir = tempfile::tempdir().unwrap();
    let link = mysql_zrm_link(dir.path());
    let out = mysql_zrm(&link, &["--help"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("mysql-zrm --action ACTION"), "{out}");
    assert!(out.stdout.contains("parse-binlogs"), "{out}");
}
