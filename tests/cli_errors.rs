//! Bad input gets a clear error, the right exit code, and loses nothing.

mod support;

use support::{config_for, run_zrm as zrm, Flavor, TestServer};

fn set_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    support::write_config(
        dir,
        &format!("[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.a]\nhost = \"127.0.0.1\"\nport = 1\n{extra}"),
    )
}

#[test]
fn help_lists_every_command_of_the_design() {
    let out = support::run(support::zrm().arg("--help"));
    assert_eq!(out.code, 0, "{out}");
    for cmd in [
        "check",
        "backup",
        "list",
        "show",
        "restore",
        "binlog",
        "checkpoint",
        "verify",
        "purge",
        "replicate",
        "key",
        "schedule",
        "report",
    ] {
        assert!(
            out.stdout.contains(&format!("\n  {cmd} ")),
            "--help lacks {cmd}:\n{out}"
        );
    }
}

#[test]
fn unknown_config_key_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = set_config(dir.path(), "databses = [\"app\"]\n");
    let out = zrm(&config, &["list"]);
    assert_eq!(out.code, 2, "{out}");
    let expected = format!("{}, line 10", config.display());
    assert!(out.stderr.contains(&expected), "want {expected}: {out}");
    assert!(out.stderr.contains("unknown field `databses`"), "{out}");
}

#[test]
fn wrong_type_and_missing_file_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = set_config(dir.path(), "parallel = \"four\"\n");
    let out = zrm(&config, &["list"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("line 10") && out.stderr.contains("invalid type"),
        "{out}"
    );

    let out = zrm(&dir.path().join("nope.toml"), &["list"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("nope.toml (from --config) does not exist"),
        "{out}"
    );

    // $ZRM_CONFIG is the second place looked at.
    let good = set_config(dir.path(), "");
    let out = support::run(
        support::zrm()
            .env("ZRM_CONFIG", &good)
            .args(["check", "--set", "nope"]),
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("set 'nope' is not defined"), "{out}");
    assert!(out.stderr.contains("(defined sets: a)"), "{out}");
}

#[test]
fn world_readable_password_file_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = set_config(
        dir.path(),
        &format!("password_file = \"{}\"\n", pw.display()),
    );
    let out = zrm(&config, &["backup", "--set", "a"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("readable by group or others (mode 0644)"),
        "{out}"
    );
    assert!(
        out.stderr.contains(&format!("chmod 600 {}", pw.display())),
        "{out}"
    );
    assert!(!out.stderr.contains("secret"), "{out}");
}

#[test]
fn server_down_is_a_clear_error_and_json_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on localhost: nothing listens there.
    let config = set_config(dir.path(), "");
    let out = zrm(&config, &["backup", "--set", "a", "--format", "json"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("root@127.0.0.1:1: cannot connect"),
        "{out}"
    );
    assert!(out.stderr.contains("is the server running"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("a JSON error document");
    assert_eq!(v["exit_code"], 1);
    assert!(
        !dir.path().join("repo/sets/a/backups").exists()
            || std::fs::read_dir(dir.path().join("repo/sets/a/backups"))
                .unwrap()
                .count()
                == 0
    );

    let out = zrm(&config, &["check", "--set", "a"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.contains("ERROR") && out.stdout.contains("connection"),
        "{out}"
    );
}

flavor_tests! {
fn wrong_password_names_the_account_and_the_fix(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::of(flavor);
    server.set_root_password("right");
    let config = config_for(dir.path(), &[("s", &server)]);
    support::write_private(&dir.path().join("s.pass"), b"wrong");
    let out = zrm(&config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("access denied"), "{out}");
    assert!(out.stderr.contains("password_file"), "{out}");
    assert!(
        !out.stderr.contains("wrong"),
        "never print the password: {out}"
    );
    let out = zrm(&config, &["check", "--set", "s", "--format", "json"]);
    assert_eq!(out.code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let conn = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "connection")
        .unwrap();
    assert_eq!(conn["verdict"], "error");
}

fn check_reports_a_healthy_server_and_a_missing_privilege(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::of(flavor);
    server.sql("CREATE DATABASE app");
    let config = config_for(dir.path(), &[("s", &server)]);
    let out = zrm(&config, &["check", "--set", "s"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("OK: set 's' is ready for backups"),
        "{out}"
    );
    assert!(out.stdout.contains("log_bin"), "{out}");

    // The client tools are the server's own flavor's.
    for tool in ["dump tool", "client tool", "binlog tool"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(tool))
            .unwrap_or_else(|| panic!("no {tool} line:\n{out}"));
        assert!(line.contains(&format!(", {flavor})")), "{line}\n{out}");
    }

    // An account without RELOAD and BINLOG MONITOR: check says which grant is missing.
    server.create_user(
        "weak",
        "pw",
        "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, PROCESS",
    );
    let pw = dir.path().join("weak.pass");
    support::write_private(&pw, b"pw");
    let body = format!(
        "[repository]\npath = \"repo\"\n[sets.w]\nuser = \"weak\"\npassword_file = \"{}\"\nsocket = \"{}\"\n",
        pw.display(),
        server.socket().display()
    );
    let weak = support::write_config(dir.path(), &body);
    // The logical method (the default) needs RELOAD for its momentary lock, and no BINLOG
    // MONITOR (its snapshot gives the coordinates).
    let out = zrm(&weak, &["check", "--set", "w"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.contains("GRANT RELOAD ON *.* TO 'weak'"),
        "{out}"
    );
    assert!(!out.stdout.contains("BINLOG MONITOR ON"), "{out}");
    // mysqldump reads the position with SHOW MASTER STATUS (MySQL: SHOW BINARY LOG STATUS):
    // BINLOG MONITOR (MySQL: REPLICATION CLIENT) too.
    let out = zrm(&weak, &["check", "--set", "w", "--method", "mysqldump"]);
    assert_eq!(out.code, 1, "{out}");
    let grant = match flavor {
        Flavor::MariaDB => "GRANT BINLOG MONITOR ON *.* TO 'weak'",
        Flavor::MySQL => "GRANT REPLICATION CLIENT ON *.* TO 'weak'",
    };
    assert!(out.stdout.contains(grant), "{out}");
}
}

/// Debian's MariaDB packages put `mysql`, `mysqldump` and `mysqlbinlog` in /usr/bin as links to
/// MariaDB's programs; zrm once reported "ok binlog tool /usr/bin/mysqlbinlog" for a MySQL 9.7
/// server and `binlog archive` then failed with "Master reported unrecognized MariaDB version".
#[test]
fn mariadbs_mysqlbinlog_is_refused_for_a_mysql_server() {
    if !support::available(Flavor::MySQL) || !support::require_tools(&["mariadb-binlog"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::of(Flavor::MySQL);
    server.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); FLUSH BINARY LOGS");
    // No [tools] and a PATH where the mysql* names are MariaDB's.
    let body = format!(
        "[repository]\npath = \"repo\"\n[defaults]\nuser = \"root\"\n[sets.s]\nsocket = \"{}\"\n[tools]\n",
        server.socket().display()
    );
    let config = support::write_config(dir.path(), &body);
    let mariadb_path = "/usr/bin:/bin:/usr/sbin:/sbin";
    let run = |path: &str, args: &[&str]| {
        support::run(
            support::zrm()
                .env("PATH", path)
                .arg("--config")
                .arg(&config)
                .args(args),
        )
    };
    let out = run(mariadb_path, &["check", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("binlog tool"))
        .unwrap_or_else(|| panic!("no binlog tool line:\n{out}"));
    assert!(line.contains("ERROR"), "{line}\n{out}");
    assert!(line.contains("mysqlbinlog is not MySQL's own"), "{line}");
    assert!(out.stdout.contains("[tools] mysql_dir"), "{out}");
    // The archive stops before it starts, with the same diagnosis, not half-way.
    let out = run(mariadb_path, &["binlog", "archive", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("not MySQL's own"), "{out}");
    assert!(
        !out.stderr.contains("unrecognized MariaDB version"),
        "{out}"
    );

    // MySQL's tools first on PATH (as on a MySQL host) are found without [tools].
    let bin = support::mysql_bin_dir().unwrap();
    let mysql_path = format!("{}:{mariadb_path}", bin.display());
    let out = run(&mysql_path, &["check", "--set", "s"]);
    assert_eq!(out.code, 0, "{out}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("binlog tool"))
        .unwrap();
    assert!(
        line.contains(&bin.join("mysqlbinlog").display().to_string()),
        "{line}"
    );
    let out = run(&mysql_path, &["binlog", "archive", "--set", "s"]);
    assert_eq!(out.code, 0, "{out}");
}
