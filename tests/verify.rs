//! `zrm verify` (files read back, binlog chain, and `--restore` into a throwaway server) and
//! client-side encryption (`zrm key generate`, `encryption_key_file`): round trips, a wrong or
//! missing key, and one flipped byte or a cut in each kind of file.

mod support;

use std::path::{Path, PathBuf};

use support::{json, run_zrm as zrm, zrm_ok, Flavor, TestServer};

fn config(dir: &Path, source: &TestServer, target: &TestServer, key: Option<&Path>) -> PathBuf {
    let key_line = key
        .map(|k| format!("encryption_key_file = \"{}\"\n", k.display()))
        .unwrap_or_default();
    support::write_config(
        dir,
        &format!(
            "[repository]\npath = \"repo\"\n{key_line}\n[defaults]\nuser = \"root\"\nparallel = 2\n\n[sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
            source.socket().display(),
            target.socket().display()
        ),
    )
}

fn seed(server: &TestServer) {
    server.sql(&format!(
        "CREATE DATABASE app; USE app;\n\
         CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100), d DATETIME, j JSON);\n\
         INSERT INTO t SELECT seq, CONCAT('row ', seq), '2026-11-26 10:00:00' + INTERVAL seq SECOND, JSON_OBJECT('n', seq) FROM {};\n\
         CREATE TABLE u (k VARCHAR(20) PRIMARY KEY, n BIGINT) ENGINE=InnoDB;\n\
         INSERT INTO u VALUES ('a', 1), ('b', 2);",
        server.seq(20_000)
    ));
}

fn backup(config: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["backup", "--set", "src", "--format", "json"];
    args.extend_from_slice(extra);
    json(&zrm_ok(config, &args))["backup"].clone()
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn repo(dir: &Path) -> PathBuf {
    dir.join("repo")
}

/// The first data file of a backup (a logical chunk, the dump, …).
fn data_file(dir: &Path, m: &serde_json::Value) -> PathBuf {
    let id = m["id"].as_str().unwrap();
    let f = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .find(|p| p.starts_with("data/") || p.starts_with("dump"))
        .unwrap();
    repo(dir).join(format!("sets/src/backups/{id}/{f}"))
}

flavor_tests! {
/// `verify --restore` restores into a throwaway server of the backup's own flavor (MySQL's
/// `mysqld --initialize-insecure` for a MySQL backup).
fn encrypted_repository_round_trip_verify_and_test_restore(flavor: Flavor) {
    let (source, target) = (TestServer::of(flavor), TestServer::of(flavor));
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("repo.key");
    let out = zrm_ok(
        &support::write_config(dir.path(), "[repository]\npath = \"repo\"\n"),
        &["key", "generate", "--out", key.to_str().unwrap()],
    );
    assert!(out.stdout.contains("keep a copy") || out.stdout.contains("Keep a copy"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = config(dir.path(), &source, &target, Some(&key));

    let full = backup(&config, &[]);
    let key_id = full["encryption_key_id"].as_str().unwrap().to_string();
    assert!(key_id.starts_with("k1-"), "{full:#}");
    let info = std::fs::read_to_string(repo(dir.path()).join("zrm-repo.json")).unwrap();
    assert!(
        info.contains(&key_id),
        "zrm-repo.json records the key id: {info}"
    );
    // Nothing readable at rest: the manifest is ciphertext.
    let id = full["id"].as_str().unwrap();
    let raw = std::fs::read(repo(dir.path()).join(format!("sets/src/backups/{id}/manifest.json")))
        .unwrap();
    assert!(raw.starts_with(b"ZRMENC"));
    assert!(!String::from_utf8_lossy(&raw).contains("app"));

    backup(&config, &["--method", "mysqldump"]);
    source.sql("INSERT INTO app.u VALUES ('c', 3)");
    backup(&config, &["--level", "1"]);
    source.sql("INSERT INTO app.u VALUES ('d', 4)");
    source.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);

    let out = zrm_ok(&config, &["verify", "--set", "src", "--all"]);
    assert!(out.stdout.contains("binlog chain"), "{out}");
    assert_eq!(out.stdout.matches("\n  OK:").count(), 3, "{out}");

    // A test restore of the logical full backup: counts and checksums as recorded.
    let out = zrm_ok(
        &config,
        &[
            "verify",
            "--set",
            "src",
            id,
            "--restore",
            "--binlogs",
            "--format",
            "json",
        ],
    );
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v:#}");
    let checks = v["backups"][0]["checks"].as_array().unwrap();
    let t = checks.iter().find(|c| c["what"] == "app.t").unwrap();
    assert_eq!(
        t["detail"], "20000 rows, as recorded, checksum matches",
        "{t}"
    );
    assert!(checks
        .iter()
        .any(|c| c["what"] == "binlog replay" && c["ok"] == true));
    // The result is kept for `report`.
    assert!(repo(dir.path())
        .join(format!("sets/src/verify/{id}.json"))
        .exists());

    // Restore through the key: same data.
    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(
        support::checksums(&target, "app"),
        support::checksums(&source, "app")
    );
}
}

#[test]
fn wrong_or_missing_key_is_refused_before_anything_happens() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (source, target) = (TestServer::start(), TestServer::start());
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let plain = support::write_config(dir.path(), "[repository]\npath = \"repo\"\n");
    let key = dir.path().join("a.key");
    let other = dir.path().join("b.key");
    zrm_ok(&plain, &["key", "generate", "--out", key.to_str().unwrap()]);
    zrm_ok(
        &plain,
        &["key", "generate", "--out", other.to_str().unwrap()],
    );
    let config = config(dir.path(), &source, &target, Some(&key));
    backup(&config, &[]);

    let wrong = {
        let d = dir.path().join("wrong");
        std::fs::create_dir(&d).unwrap();
        std::fs::create_dir_all(d.join("repo")).unwrap();
        // The same repository through a symlink, with the other key.
        std::fs::remove_dir(d.join("repo")).unwrap();
        std::os::unix::fs::symlink(repo(dir.path()), d.join("repo")).unwrap();
        self::config(&d, &source, &target, Some(&other))
    };
    for args in [
        &["list", "--set", "src"][..],
        &["restore", "--set", "src", "--target", "dst"],
        &["verify", "--set", "src"],
    ] {
        let out = zrm(&wrong, args);
        assert_eq!(out.code, 1, "{args:?}: {out}");
        assert!(out.stderr.contains("is encrypted with key k1-"), "{out}");
        assert!(
            out.stderr.contains("but encryption_key_file holds key"),
            "{out}"
        );
    }
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app'"),
        "0",
        "nothing was written to the target"
    );

    let none = {
        let d = dir.path().join("nokey");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::symlink(repo(dir.path()), d.join("repo")).unwrap();
        self::config(&d, &source, &target, None)
    };
    let out = zrm(&none, &["list", "--set", "src"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("set `encryption_key_file`"), "{out}");
}

/// One flipped byte in each kind of file, and a cut file: verify fails naming it; with
/// encryption the authentication catches it.
fn damage_is_found(encrypted: bool) {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (source, target) = (TestServer::start(), TestServer::start());
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    if encrypted {
        zrm_ok(
            &support::write_config(dir.path(), "[repository]\npath = \"repo\"\n"),
            &["key", "generate", "--out", key.to_str().unwrap()],
        );
    }
    let config = config(
        dir.path(),
        &source,
        &target,
        encrypted.then_some(key.as_path()),
    );
    let full = backup(&config, &[]);
    let dump = backup(&config, &["--method", "mysqldump"]);
    source.sql("INSERT INTO app.u VALUES ('c', 3); FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    zrm_ok(&config, &["verify", "--set", "src", "--all"]);

    let expect_failure = |what: &str, needle: &str| {
        let out = zrm(&config, &["verify", "--set", "src", "--all"]);
        assert_eq!(out.code, 1, "{what}: {out}");
        assert!(out.stdout.contains("FAILED"), "{what}: {out}");
        assert!(
            out.stdout.contains(needle),
            "{what}: expected {needle:?} in\n{out}"
        );
        if encrypted {
            assert!(
                out.stdout.contains("tampered") || out.stdout.contains("truncated"),
                "{what}: {out}"
            );
        }
    };

    // a logical data chunk
    let chunk = data_file(dir.path(), &full);
    let saved = std::fs::read(&chunk).unwrap();
    flip_byte(&chunk, saved.len() / 2);
    expect_failure("chunk", chunk.file_name().unwrap().to_str().unwrap());
    std::fs::write(&chunk, &saved).unwrap();

    // the mysqldump file, cut short
    let file = data_file(dir.path(), &dump);
    let saved = std::fs::read(&file).unwrap();
    std::fs::write(&file, &saved[..saved.len() * 2 / 3]).unwrap();
    expect_failure("dump cut", file.file_name().unwrap().to_str().unwrap());
    std::fs::write(&file, &saved).unwrap();

    // an archived binlog segment
    let binlogs = repo(dir.path()).join("sets/src/binlogs");
    let server_dir = std::fs::read_dir(&binlogs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let seg = std::fs::read_dir(&server_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| !p.to_string_lossy().ends_with(".json"))
        .unwrap();
    let saved = std::fs::read(&seg).unwrap();
    flip_byte(&seg, saved.len() - 20);
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();
    let base = name.split(".zst").next().unwrap().to_string();
    expect_failure("binlog", &base);
    std::fs::write(&seg, &saved).unwrap();

    // a manifest
    let id = full["id"].as_str().unwrap();
    let manifest = repo(dir.path()).join(format!("sets/src/backups/{id}/manifest.json"));
    let saved = std::fs::read(&manifest).unwrap();
    flip_byte(&manifest, saved.len() / 2);
    let out = zrm(&config, &["verify", "--set", "src", "--all"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("manifest.json"), "{out}");
    std::fs::write(&manifest, &saved).unwrap();

    zrm_ok(&config, &["verify", "--set", "src", "--all"]);
}

#[test]
fn damage_is_found_in_a_plain_repository() {
    damage_is_found(false);
}

#[test]
fn damage_is_found_in_an_encrypted_repository() {
    damage_is_found(true);
}
