//! A server crash must never stop binlog archiving nor shorten a restore silently (issue 14,
//! item 1): a binlog that ends without ROTATE or STOP because its server was killed is archived
//! to its last complete event, the files after it are archived too, a torn last event and a
//! transaction the crash left unfinished are reported and never applied, and `check`, `report`,
//! `verify` and `restore` say loudly while the archive does not reach the server's current
//! binlog. Real MariaDB servers, killed with SIGKILL.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{config_for, json, run_zrm as zrm, zrm_ok, Flavor, TestServer};

fn rows(server: &TestServer) -> Vec<String> {
    server
        .sql("SELECT id FROM d.t ORDER BY id")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The binlog name after `name` (`mysql-bin.000007` → `mysql-bin.000008`).
fn binlog_after(name: &str) -> String {
    let (base, n) = name.rsplit_once('.').unwrap();
    format!("{base}.{:0w$}", n.parse::<u64>().unwrap() + 1, w = n.len())
}

fn active_binlog(server: &TestServer) -> String {
    let list = server.sql("SHOW BINARY LOGS");
    list.lines()
        .last()
        .and_then(|l| l.split('\t').next())
        .expect("a binlog")
        .to_string()
}

fn index(dir: &Path, server: &TestServer, file: &str) -> serde_json::Value {
    let p = dir
        .join("repo/sets/src/binlogs")
        .join(server.server_id().to_string())
        .join(format!("{file}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// A source with a table, a full backup of it, and a config with `src` and a target `dst`.
fn setup(
    flavor: Flavor,
) -> (
    tempfile::TempDir,
    TestServer,
    TestServer,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    src.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO d.t VALUES (1, 'before backup')");
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    zrm_ok(&config, &["backup", "--set", "src"]);
    (dir, src, dst, config)
}

flavor_tests! {
fn a_server_crash_does_not_stop_binlog_archiving_and_nothing_is_lost(flavor: Flavor) {
    let (dir, mut src, dst, config) = setup(flavor);
    src.sql("INSERT INTO d.t VALUES (2, 'before the crash')");
    let crashed = active_binlog(&src);
    src.kill9();
    src.restart();
    src.sql("INSERT INTO d.t VALUES (3, 'after the crash'); FLUSH BINARY LOGS");

    // Before archiving, every command that judges the archive says it is behind.
    let check = zrm(&config, &["check", "--set", "src"]);
    assert!(
        check.stdout.contains("binlog archive") && check.stdout.contains("WARNING"),
        "check must warn that the archive lags:\n{check}"
    );
    let dry = zrm(
        &config,
        &["restore", "--set", "src", "--target", "dst", "--dry-run"],
    );
    assert!(
        dry.stderr.contains("WARNING") && dry.stderr.contains("does not reach"),
        "restore must say the archive does not reach the server's binlog:\n{dry}"
    );
    let report = zrm_ok(&config, &["report", "--set", "src"]);
    assert!(
        report.stdout.contains("BEHIND") && report.stdout.contains("WARNING"),
        "report must not say ok:\n{report}"
    );

    // The crashed file is archived to its end, and the files after it.
    let out = zrm(&config, &["binlog", "archive", "--set", "src"]);
    assert_eq!(out.code, 0, "archive after a crash:\n{out}");
    assert!(
        out.stderr.contains(&crashed) && out.stderr.contains("without ROTATE or STOP"),
        "the crashed file is reported:\n{out}"
    );
    let i = index(dir.path(), &src, &crashed);
    assert_eq!(i["complete"], true, "{i:#}");
    assert_eq!(i["crash"]["torn_bytes"], 0, "{i:#}");
    assert!(i["crash"]["incomplete_trx_at"].is_null(), "{i:#}");
    let next = binlog_after(&crashed);
    assert_eq!(index(dir.path(), &src, &next)["complete"], true);

    // Now everything agrees: the archive is current, and the restore brings every row.
    let check = zrm_ok(&config, &["check", "--set", "src"]);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.contains("binlog archive") && l.starts_with("ok")),
        "{check}"
    );
    let verify = zrm_ok(&config, &["verify", "--set", "src"]);
    assert!(!verify.stdout.contains("WARNING"), "{verify}");
    let out = zrm_ok(
        &config,
        &[
            "restore", "--set", "src", "--target", "dst", "--format", "json",
        ],
    );
    let v = json(&out);
    let replayed: Vec<&str> = v["replayed_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(replayed.contains(&crashed.as_str()), "{v:#}");
    assert_eq!(rows(&dst), ["1", "2", "3"], "every row restored");
}
}

flavor_tests! {
fn a_torn_last_event_and_an_unfinished_transaction_are_reported_and_never_applied(flavor: Flavor) {
    let (dir, mut src, dst, config) = setup(flavor);
    src.sql("INSERT INTO d.t VALUES (2, 'whole')");
    src.sql("INSERT INTO d.t VALUES (4, 'torn')");
    let crashed = active_binlog(&src);
    src.kill9();
    // A crash in the middle of writing the last event (its XID): the file ends 10 bytes into
    // it. The transaction never committed as far as the binlog says.
    let path = src.binlog_dir().join(&crashed);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    src.restart();
    src.sql("INSERT INTO d.t VALUES (5, 'after'); FLUSH BINARY LOGS");

    let out = zrm(&config, &["binlog", "archive", "--set", "src"]);
    assert_eq!(out.code, 0, "archive of a torn file:\n{out}");
    let i = index(dir.path(), &src, &crashed);
    let end = i["end_pos"].as_u64().unwrap();
    assert!(i["crash"].is_object(), "the file is marked as cut by a crash: {i:#}");
    match flavor {
        // MariaDB keeps the file as the crash left it: a torn event the server cannot send,
        // after a transaction that never got its XID.
        Flavor::MariaDB => {
            let torn = i["crash"]["torn_bytes"].as_u64().unwrap();
            assert!(torn > 0 && torn < 40, "the torn event's bytes: {i:#}");
            assert_eq!(end + torn, len - 10);
            let open = i["crash"]["incomplete_trx_at"]
                .as_u64()
                .expect("an open transaction");
            assert!(open < end);
            assert!(out.stderr.contains("torn"), "{out}");
        }
        // MySQL's crash recovery cuts its binlog back to the last whole transaction itself
        // (and rolls the rest back): the archive holds what the server holds.
        Flavor::MySQL => {
            assert_eq!(i["crash"]["torn_bytes"], 0, "{i:#}");
            assert!(end < len - 10, "MySQL cut the file: {i:#}");
        }
    }

    // A second run is quiet: the torn file is archived, not a conflict with the server's.
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);

    let out = zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    if flavor == Flavor::MariaDB {
        assert!(
            out.stderr.contains("never committed"),
            "the unfinished transaction is named:\n{out}"
        );
    }
    assert_eq!(
        rows(&dst),
        ["1", "2", "5"],
        "the unfinished transaction (id 4) is not applied; the rest is"
    );
}
}

flavor_tests! {
fn follow_carries_on_across_a_server_crash(flavor: Flavor) {
    let (dir, mut src, dst, config) = setup(flavor);
    let mut follow = support::zrm()
        .arg("--config")
        .arg(&config)
        .args([
            "binlog",
            "archive",
            "--set",
            "src",
            "--follow",
            "--interval",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    src.sql("INSERT INTO d.t VALUES (2, 'streamed')");
    let crashed = active_binlog(&src);
    let adir = dir
        .path()
        .join("repo/sets/src/binlogs")
        .join(src.server_id().to_string());
    let wait_for = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("the first segment", &|| {
        adir.join(format!("{crashed}.json")).exists()
    });
    src.kill9();
    src.restart();
    src.sql("INSERT INTO d.t VALUES (3, 'after the crash')");
    let next = binlog_after(&crashed);
    wait_for(
        "the crashed file to be complete and the next one followed",
        &|| {
            let done = std::fs::read(adir.join(format!("{crashed}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v["complete"] == true);
            done && adir.join(format!("{next}.json")).exists()
        },
    );
    // Stop the follower as a service manager would.
    unsafe {
        libc::kill(follow.id() as i32, libc::SIGTERM);
    }
    let status = follow.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(follow.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "follow stopped with {status}:\n{err}");
    assert!(err.contains("without ROTATE or STOP"), "{err}");
    let i: serde_json::Value =
        serde_json::from_slice(&std::fs::read(adir.join(format!("{crashed}.json"))).unwrap())
            .unwrap();
    assert!(i["crash"].is_object(), "{i:#}");

    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(rows(&dst), ["1", "2", "3"]);
}
}
