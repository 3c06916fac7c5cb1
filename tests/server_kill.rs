//! Fault injection on the server side (issue 14, "done when"): the server is killed with SIGKILL
//! in the middle of a backup, a binlog archive and a restore, and every later command either
//! succeeds or says what is missing. Real MariaDB servers.

mod support;

use std::path::{Path, PathBuf};

use support::{finish, json, run_zrm as zrm, signal, wait_for, zrm_ok, TestServer};

/// zrm in the background with its own TMPDIR (where it spools).
fn spawn_in(config: &Path, args: &[&str], tmpdir: &Path) -> std::process::Child {
    support::zrm()
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TMPDIR", tmpdir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `n` rows of about 250 bytes in `db.big`.
fn fill(server: &TestServer, db: &str, n: u32) {
    server.sql(&format!(
        "CREATE DATABASE IF NOT EXISTS {db}; \
         CREATE TABLE {db}.big (id INT PRIMARY KEY, pad VARCHAR(255)); \
         INSERT INTO {db}.big SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq, 512), SHA2(seq, 224)) \
         FROM {}",
        server.seq(u64::from(n))
    ));
}

fn config(dir: &Path, src: &TestServer, dst: &TestServer) -> PathBuf {
    let body = format!(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nparallel = 1\n\
         chunk_size_mb = 1\n\n[sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
        src.socket().display(),
        dst.socket().display()
    );
    support::write_config(dir, &body)
}

flavor_tests! {
fn the_source_killed_during_a_backup_then_everything_recovers(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    fill(&src, "d", 200_000);
    let config = config(dir.path(), &src, &dst);

    // Once the dump has written a chunk, zrm is frozen (SIGSTOP), the server killed, and zrm
    // let go: it meets a dead server in the middle of its dump, whatever the flavor's lock.
    let backup = spawn_in(&config, &["backup", "--set", "src"], tmp.path());
    let backups = dir.path().join("repo/sets/src/backups");
    wait_for("the first chunk of d.big", 90, || {
        walk(&backups)
            .iter()
            .any(|(name, _)| name.contains("d.big."))
    });
    signal(&backup, libc::SIGSTOP);
    src.kill9();
    signal(&backup, libc::SIGCONT);
    let out = finish(backup);
    assert_eq!(out.code, 1, "the backup fails when its server dies:\n{out}");
    assert!(
        out.stderr.contains(&src.socket().display().to_string())
            || out.stderr.to_lowercase().contains("connection")
            || out.stderr.contains("gone away")
            || out.stderr.contains("Lost"),
        "the error says what was lost:\n{out}"
    );
    // Nothing half-visible: a backup that fails (rather than being killed) removes its
    // directory; the next commands say what there is.
    let all = json(&zrm_ok(
        &config,
        &["list", "--set", "src", "--all", "--format", "json"],
    ));
    assert_eq!(all["backups"], serde_json::json!([]), "{all:#}");
    let out = zrm(&config, &["backup", "--set", "src"]);
    assert_eq!(out.code, 1, "the server is down: {out}");
    assert!(out.stderr.contains("cannot connect"), "{out}");

    src.restart();
    zrm_ok(&config, &["backup", "--set", "src"]);
    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(dst.sql("SELECT COUNT(*) FROM d.big"), "200000");
    let out = zrm_ok(&config, &["purge", "--set", "src"]);
    assert!(
        !out.stdout.contains("DELETE"),
        "no policy, nothing deleted: {out}"
    );
}
}

flavor_tests! {
fn the_source_killed_during_a_binlog_archive_then_the_next_archive_completes_it(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    src.sql("CREATE DATABASE d");
    let config = config(dir.path(), &src, &dst);
    zrm_ok(&config, &["backup", "--set", "src"]);
    // A binlog of some 60 MB, closed.
    fill(&src, "d", 200_000);
    src.sql("UPDATE d.big SET pad = REVERSE(pad); FLUSH BINARY LOGS");

    let archive = spawn_in(&config, &["binlog", "archive", "--set", "src"], tmp.path());
    let spool_growing = || {
        walk(tmp.path())
            .iter()
            .any(|(name, size)| name.starts_with("mysql-bin.") && *size > 1 << 20)
    };
    wait_for("the binlog to stream into the spool", 90, spool_growing);
    src.kill9();
    let out = finish(archive);
    assert_eq!(
        out.code, 1,
        "the archive fails when its server dies:\n{out}"
    );
    let check = zrm(&config, &["check", "--set", "src"]);
    assert_eq!(check.code, 1, "check says the server is down:\n{check}");

    src.restart();
    let out = zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    assert!(out.stdout.contains("archived"), "{out}");
    let check = zrm_ok(&config, &["check", "--set", "src"]);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("binlog archive")),
        "the archive reaches the server again:\n{check}"
    );
    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(
        dst.sql("SELECT COUNT(*), SUM(CRC32(pad)) FROM d.big"),
        src.sql("SELECT COUNT(*), SUM(CRC32(pad)) FROM d.big")
    );
}
}

flavor_tests! {
fn the_target_killed_during_a_restore_then_resume_load_completes_it(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = TestServer::of(flavor);
    let mut dst = TestServer::of(flavor);
    fill(&src, "d", 120_000);
    let config = config(dir.path(), &src, &dst);
    zrm_ok(&config, &["backup", "--set", "src"]);
    let restore = spawn_in(
        &config,
        &["restore", "--set", "src", "--target", "dst"],
        tmp.path(),
    );
    wait_for("two chunks on the target", 90, || {
        dst.try_sql("SELECT COUNT(*) FROM zrm.restore_progress WHERE item LIKE 'data/%'")
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 2)
    });
    dst.kill9();
    let out = finish(restore);
    assert_eq!(
        out.code, 1,
        "the restore fails when its target dies:\n{out}"
    );
    assert!(
        out.stderr.contains("--resume-load"),
        "it says how to go on:\n{out}"
    );

    dst.restart();
    let out = zrm(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("--resume-load"), "{out}");
    zrm_ok(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--resume-load",
        ],
    );
    assert_eq!(
        dst.sql("SELECT COUNT(*), SUM(CRC32(pad)) FROM d.big"),
        src.sql("SELECT COUNT(*), SUM(CRC32(pad)) FROM d.big")
    );
}
}

/// Every file under `dir`: (name, size).
fn walk(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.file_name().to_string_lossy().into_owned(), m.len()));
            }
        }
    }
    out
}
