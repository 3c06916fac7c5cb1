//! Restores that meet other work on the same target or backup (issue 14, items 9 and 10): a
//! `--resume-load` that no longer matches the target refuses, two restores into one database do
//! not destroy each other, and a purge keeps the backup a restore is reading. Real MariaDB
//! servers.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::{
    backup_ids, finish, json, run_zrm as zrm, spawn_zrm, wait_for, zrm_ok, Flavor, TestServer,
};

/// `src` with 120,000 rows in 1 MiB chunks (a load of several seconds), `dst` empty.
fn setup(flavor: Flavor, defaults: &str) -> (tempfile::TempDir, TestServer, TestServer, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    src.sql(&format!(
        "CREATE DATABASE r; CREATE TABLE r.b (id INT PRIMARY KEY, pad VARCHAR(200)); \
         INSERT INTO r.b SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq, 224)) FROM {}",
        src.seq(120_000)
    ));
    let body = format!(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nchunk_size_mb = 1\n{defaults}\n\
         [sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
        src.socket().display(),
        dst.socket().display()
    );
    let config = support::write_config(dir.path(), &body);
    (dir, src, dst, config)
}

fn chunks_loaded(dst: &TestServer) -> usize {
    dst.try_sql("SELECT COUNT(*) FROM zrm.restore_progress WHERE item LIKE 'data/%'")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

flavor_tests! {
fn resume_load_after_another_backup_was_restored_in_between_refuses(flavor: Flavor) {
    let (_dir, src, dst, config) = setup(flavor, "");
    zrm_ok(&config, &["backup", "--set", "src"]);
    src.sql("DELETE FROM r.b WHERE id > 100000");
    std::thread::sleep(Duration::from_secs(1)); // a new backup id
    zrm_ok(&config, &["backup", "--set", "src"]);
    let ids = backup_ids(&config, "src");
    let (a, b) = (ids[0].clone(), ids[1].clone());

    let restore_a = [
        "restore",
        "--set",
        "src",
        "--target",
        "dst",
        "--backup",
        &a,
        "--no-binlogs",
        "--parallel",
        "1",
    ];
    let mut child = spawn_zrm(&config, &restore_a);
    wait_for("two chunks of backup A on the target", 90, || {
        chunks_loaded(&dst) >= 2
    });
    child.kill().unwrap();
    child.wait().unwrap();

    // Run again as it was: the hint is the way on (--resume-load), not --replace alone.
    let out = zrm(&config, &restore_a);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("interrupted load of backup") && out.stderr.contains("--resume-load"),
        "{out}"
    );

    // Backup B replaces the database in between.
    zrm_ok(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--backup",
            &b,
            "--no-binlogs",
            "--replace",
        ],
    );
    assert_eq!(dst.sql("SELECT COUNT(*) FROM r.b"), "100000");

    let mut resume = restore_a.to_vec();
    resume.push("--resume-load");
    let out = zrm(&config, &resume);
    assert_ne!(
        out.code, 0,
        "a resume that no longer matches the target must refuse:\n{out}"
    );
    assert!(
        out.stderr.contains(&a),
        "the refusal names the backup:\n{out}"
    );
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM r.b"),
        "100000",
        "backup B's data is untouched"
    );
}
}

flavor_tests! {
fn a_second_restore_into_the_same_database_refuses_while_the_first_runs(flavor: Flavor) {
    let (_dir, src, dst, config) = setup(flavor, "");
    zrm_ok(&config, &["backup", "--set", "src"]);
    let args = [
        "restore",
        "--set",
        "src",
        "--target",
        "dst",
        "--no-binlogs",
        "--parallel",
        "1",
    ];
    let first = spawn_zrm(&config, &args);
    wait_for("the first restore to load a chunk", 90, || {
        chunks_loaded(&dst) >= 1
    });
    let mut second = args.to_vec();
    second.push("--replace");
    let started = Instant::now();
    let out = zrm(&config, &second);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("another restore is writing database r"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it refuses at once"
    );
    let out = finish(first);
    assert_eq!(out.code, 0, "the first restore completes:\n{out}");
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM r.b"),
        src.sql("SELECT COUNT(*) FROM r.b")
    );
}
}

flavor_tests! {
fn purge_keeps_the_backup_a_restore_is_reading(flavor: Flavor) {
    let (_dir, src, dst, config) = setup(flavor, "keep_full = 1\n");
    zrm_ok(&config, &["backup", "--set", "src"]);
    src.sql("INSERT INTO r.b VALUES (200000, 'newer')");
    std::thread::sleep(Duration::from_secs(1));
    zrm_ok(&config, &["backup", "--set", "src"]);
    let old = backup_ids(&config, "src")[0].clone();
    let reader = spawn_zrm(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--backup",
            &old,
            "--no-binlogs",
            "--parallel",
            "1",
        ],
    );
    wait_for("the restore to read the old backup", 90, || {
        chunks_loaded(&dst) >= 1
    });
    let out = zrm_ok(&config, &["purge", "--set", "src", "--format", "json"]);
    let v = json(&out);
    let decision = v["sets"][0]["plan"]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == old.as_str())
        .cloned()
        .unwrap();
    assert_eq!(decision["keep"], true, "{v:#}");
    assert!(decision["reason"]
        .as_str()
        .unwrap()
        .contains("restore is reading"));
    let out = finish(reader);
    assert_eq!(out.code, 0, "the restore completes:\n{out}");
    assert_eq!(dst.sql("SELECT COUNT(*) FROM r.b"), "120000");
    // Once it is done, the next purge applies the policy.
    zrm_ok(&config, &["purge", "--set", "src"]);
    assert_eq!(backup_ids(&config, "src").len(), 1);
}
}
