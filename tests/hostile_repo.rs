//! A repository whose files lie (issue 14, items 3, 4, 5 and 8): write access to a repository is
//! not root on the host. Every id, name and path read from a repository file is checked as a
//! command-line one would be, deletion never follows a symbolic link nor leaves the set's own
//! directory, system schemas are never dropped, and an archive that disagrees with itself is an
//! error, never a shorter restore. Real MariaDB servers.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{backup_ids, config_with, json, run_zrm as zrm, zrm_ok, Flavor, TestServer};

fn manifest_path(dir: &Path, set: &str, id: &str) -> PathBuf {
    dir.join("repo/sets")
        .join(set)
        .join("backups")
        .join(id)
        .join("manifest.json")
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Every file under `dir` (relative paths), to compare before and after.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            }
            out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

struct Setup {
    dir: tempfile::TempDir,
    server: TestServer,
    config: PathBuf,
}

/// Sets `main` and `small` on one server, each with two full backups, and keep_full = 1.
fn setup(flavor: Flavor) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::of(flavor);
    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)",
    );
    let config = config_with(
        dir.path(),
        &[("main", &server), ("small", &server)],
        "keep_full = 1\n",
    );
    for set in ["main", "small"] {
        zrm_ok(&config, &["backup", "--set", set]);
        server.sql("INSERT INTO d.t SELECT m + 1 FROM (SELECT MAX(id) AS m FROM d.t) AS x; FLUSH BINARY LOGS");
        zrm_ok(&config, &["backup", "--set", set]);
    }
    Setup {
        dir,
        server,
        config,
    }
}

flavor_tests! {
fn purge_refuses_a_manifest_whose_id_is_a_path(flavor: Flavor) {
    let s = setup(flavor);
    let old = backup_ids(&s.config, "main")[0].clone();
    for lie in ["../../..", "../../small", "."] {
        let before = tree(&s.dir.path().join("repo"));
        edit_json(&manifest_path(s.dir.path(), "main", &old), |v| {
            v["id"] = Value::from(lie)
        });
        let out = zrm(&s.config, &["purge", "--set", "main"]);
        assert_eq!(out.code, 1, "purge with id {lie:?} must refuse:\n{out}");
        assert!(out.stderr.contains("cannot be read"), "{out}");
        assert_eq!(
            tree(&s.dir.path().join("repo")),
            before,
            "nothing deleted (id {lie:?})"
        );
    }
    // The lie shows in list and verify too, by name.
    let verify = zrm(&s.config, &["verify", "--set", "main", "--all"]);
    assert_eq!(verify.code, 1, "{verify}");
    assert!(
        verify.stdout.contains("is not its directory's name"),
        "{verify}"
    );
}
}

flavor_tests! {
fn purge_never_deletes_through_a_symlinked_backup_directory(flavor: Flavor) {
    let s = setup(flavor);
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("precious"), b"not zrm's").unwrap();
    // An "interrupted backup" (no manifest) that is a link out of the repository.
    let link = s.dir.path().join("repo/sets/main/backups/20200101T000000Z");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let out = zrm(&s.config, &["purge", "--set", "main"]);
    assert!(
        outside.path().join("precious").exists(),
        "a file outside the repository was deleted:\n{out}"
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("symbolic link"), "{out}");
}
}

flavor_tests! {
fn a_binlog_index_naming_another_sets_file_is_refused(flavor: Flavor) {
    let s = setup(flavor);
    zrm_ok(&s.config, &["binlog", "archive", "--set", "main"]);
    let small_old = backup_ids(&s.config, "small")[0].clone();
    let adir = s
        .dir
        .path()
        .join("repo/sets/main/binlogs")
        .join(s.server.server_id().to_string());
    let first = fs::read_dir(&adir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .min()
        .unwrap();
    edit_json(&adir.join(&first), |v| {
        v["segments"][0]["object"] =
            Value::from(format!("../../../small/backups/{small_old}/manifest.json"))
    });
    let victim = manifest_path(s.dir.path(), "small", &small_old);
    let out = zrm(&s.config, &["purge", "--set", "main"]);
    assert!(
        victim.exists(),
        "another set's manifest was deleted:\n{out}"
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("inconsistent"), "{out}");
}
}

flavor_tests! {
fn an_index_that_describes_another_file_fails_the_restore_instead_of_shortening_it(flavor: Flavor) {
    let s = setup(flavor);
    s.server
        .sql("INSERT INTO d.t VALUES (100); FLUSH BINARY LOGS");
    zrm_ok(&s.config, &["binlog", "archive", "--set", "main"]);
    let adir = s
        .dir
        .path()
        .join("repo/sets/main/binlogs")
        .join(s.server.server_id().to_string());
    let last = fs::read_dir(&adir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .max()
        .unwrap();
    edit_json(&adir.join(&last), |v| {
        v["file"] = Value::from("mysql-bin.999999")
    });
    let out = zrm(
        &s.config,
        &["restore", "--set", "main", "--target", "small", "--dry-run"],
    );
    assert_eq!(out.code, 1, "a lying index must fail the restore:\n{out}");
    assert!(
        out.stderr.contains("inconsistent") && out.stderr.contains("mysql-bin.999999"),
        "{out}"
    );
}
}

flavor_tests! {
fn restore_never_drops_a_system_schema_a_manifest_lists(flavor: Flavor) {
    let s = setup(flavor);
    let target = TestServer::of(flavor);
    target.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (9)",
    );
    let tables_before =
        target.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql'");
    let id = backup_ids(&s.config, "main").last().unwrap().clone();
    edit_json(&manifest_path(s.dir.path(), "main", &id), |v| {
        v["databases"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "name": "mysql", "tables": [] }))
    });
    let body = fs::read_to_string(&s.config).unwrap()
        + &format!("\n[sets.dst]\nsocket = \"{}\"\n", target.socket().display());
    fs::write(&s.config, body).unwrap();
    let out = zrm(
        &s.config,
        &[
            "restore",
            "--set",
            "main",
            "--target",
            "dst",
            "--replace",
            "--no-binlogs",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("system schema"), "{out}");
    assert_eq!(json(&out)["databases"], serde_json::json!(["d"]));
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql'"),
        tables_before,
        "the mysql schema is untouched"
    );
    assert_eq!(target.sql("SELECT COUNT(*) FROM d.t"), "2");
    let asked = zrm(
        &s.config,
        &[
            "restore",
            "--set",
            "main",
            "--target",
            "dst",
            "--replace",
            "--databases",
            "mysql",
        ],
    );
    assert_eq!(asked.code, 2, "{asked}");
}
}

flavor_tests! {
fn purge_removes_an_interrupted_backup_whole_hidden_temporary_files_included(flavor: Flavor) {
    let s = setup(flavor);
    let dead = s.dir.path().join("repo/sets/main/backups/20200101T000000Z");
    fs::create_dir_all(dead.join("data")).unwrap();
    fs::write(dead.join("data/.chunk-0001.tsv.zst.tmp.4242.0"), b"half").unwrap();
    fs::write(dead.join(".schema.sql.zst.tmp.4242.1"), b"half").unwrap();
    let listed = zrm_ok(&s.config, &["list", "--set", "main", "--all"]);
    assert!(listed.stdout.contains("20200101T000000Z"), "{listed}");
    let out = zrm_ok(&s.config, &["purge", "--set", "main"]);
    assert!(out.stdout.contains("20200101T000000Z"), "{out}");
    assert!(!dead.exists(), "the interrupted backup's directory is gone");
    let listed = zrm_ok(&s.config, &["list", "--set", "main", "--all"]);
    assert!(!listed.stdout.contains("20200101T000000Z"), "{listed}");
}
}
