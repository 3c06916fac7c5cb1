//! Two sets on one server (issue 14, items 2 and 10): what one set does must not take away what
//! the other still needs. Real MariaDB servers.

mod support;

use support::{json, run_zrm as zrm, zrm_ok, TestServer};

fn bin(n: u32) -> String {
    format!("mysql-bin.{n:06}")
}

/// `FLUSH BINARY LOGS` until the server writes file `n`, with a transaction in each file.
fn flush_to(server: &TestServer, n: u32) {
    loop {
        let active = server.sql("SHOW BINARY LOGS");
        let last = active
            .lines()
            .last()
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string();
        if last >= bin(n) {
            return;
        }
        server.sql("INSERT INTO d.t (v) VALUES ('x'); FLUSH BINARY LOGS");
    }
}

/// Two sets, `main` and `small`, on one server (as a DBA keeps a small set of one database
/// next to the whole server).
fn two_sets(dir: &std::path::Path, server: &TestServer) -> std::path::PathBuf {
    let body = format!(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n\
         [sets.main]\nsocket = \"{0}\"\n\n[sets.small]\nsocket = \"{0}\"\ndatabases = [\"d\"]\n",
        server.socket().display()
    );
    support::write_config(dir, &body)
}

flavor_tests! {
fn binlog_purge_for_one_set_keeps_what_another_set_on_the_server_has_not_archived(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::of(flavor);
    server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)");
    let config = two_sets(dir.path(), &server);
    flush_to(&server, 4);
    zrm_ok(&config, &["binlog", "archive", "--set", "main"]); // main: 1-3
    flush_to(&server, 10);
    zrm_ok(&config, &["binlog", "archive", "--set", "small"]); // small: 1-9

    let out = zrm_ok(
        &config,
        &["binlog", "purge", "--set", "small", "--format", "json"],
    );
    let v = json(&out);
    assert_eq!(v["kept_from"], bin(4), "{v:#}");
    assert!(
        v["reason"].as_str().unwrap().contains("set 'main'"),
        "{v:#}"
    );
    assert_eq!(v["purged"], serde_json::json!([bin(1), bin(2), bin(3)]));
    let on_server = server.sql("SHOW BINARY LOGS");
    assert!(
        on_server.contains(&bin(4)),
        "000004 must stay:\n{on_server}"
    );

    // main catches up, and the purge goes on; main's archive is whole.
    zrm_ok(&config, &["binlog", "archive", "--set", "main"]);
    let v = json(&zrm_ok(
        &config,
        &["binlog", "purge", "--set", "small", "--format", "json"],
    ));
    assert_eq!(v["kept_from"], bin(10), "{v:#}");
    let check = zrm_ok(&config, &["check", "--set", "main"]);
    assert!(!check.stdout.contains("gap"), "{check}");
}
}

flavor_tests! {
fn binlog_purge_refuses_when_another_sets_archive_cannot_be_read(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::of(flavor);
    server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)");
    let config = two_sets(dir.path(), &server);
    flush_to(&server, 3);
    zrm_ok(&config, &["binlog", "archive", "--set", "main"]);
    zrm_ok(&config, &["binlog", "archive", "--set", "small"]);
    let index = dir
        .path()
        .join("repo/sets/main/binlogs")
        .join(server.server_id().to_string())
        .join(format!("{}.json", bin(2)));
    std::fs::write(&index, b"{ damaged").unwrap();
    let before = server.sql("SHOW BINARY LOGS");
    let out = zrm(&config, &["binlog", "purge", "--set", "small"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("set 'main'") && out.stderr.contains("nothing was purged"),
        "{out}"
    );
    assert_eq!(server.sql("SHOW BINARY LOGS"), before, "nothing purged");
}
}
