//! Shared pieces of zrm's integration tests: a config for test servers, JSON helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::support::{self, Output, TestServer};

pub const SERVER_TOOLS: &[&str] = &["mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"];
/// Replaying binlogs needs `mariadb-binlog` too.
pub const BINLOG_TOOLS: &[&str] = &[
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "mariadb-dump",
    "mariadb-binlog",
];

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
            write_private(&pw_file, pw);
            body.push_str(&format!("password_file = \"{}\"\n", pw_file.display()));
        }
    }
    support::write_config(dir, &body)
}

pub fn write_private(path: &Path, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Run zrm with a config; returns the output (never panics on failure).
pub fn zrm(config: &Path, args: &[&str]) -> Output {
    let mut cmd = support::zrm();
    cmd.arg("--config").arg(config).args(args);
    support::run(&mut cmd)
}

pub fn zrm_ok(config: &Path, args: &[&str]) -> Output {
    let out = zrm(config, args);
    assert_eq!(out.code, 0, "zrm {args:?} failed:\n{out}");
    out
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
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

/// `CHECKSUM TABLE` of every base table of a database, sorted by table.
pub fn checksums(server: &TestServer, db: &str) -> Vec<(String, String)> {
    let tables = server.sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
         AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    ));
    tables
        .lines()
        .map(|t| {
            let row = server.sql(&format!("CHECKSUM TABLE `{db}`.`{t}`"));
            let sum = row.split('\t').nth(1).unwrap_or("").to_string();
            (t.to_string(), sum)
        })
        .collect()
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
    for t in list(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{db}' ORDER BY 1"
    )) {
        defs.push(server.sql(&format!("SHOW CREATE TABLE `{db}`.`{t}`")));
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
