//! Full backups with the mysqldump method and their restore, against real servers of both
//! flavors (MariaDB's `mariadb-dump`, MySQL's own `mysqldump`).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{backup_ids, checksums, json, run_zrm as zrm, zrm_ok, Flavor, TestServer};

/// These tests are about the `mysqldump` method (the `logical` one has tests/logical.rs).
fn config_for(dir: &std::path::Path, sets: &[(&str, &TestServer)]) -> std::path::PathBuf {
    support::config_with(dir, sets, "method = \"mysqldump\"\n")
}

/// A schema with every kind of column and object a dump must carry.
const SCHEMA: &str = r#"
SET NAMES utf8mb4;
CREATE DATABASE rt CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE rt;
CREATE TABLE types (
  id INT PRIMARY KEY AUTO_INCREMENT,
  ti TINYINT, si SMALLINT UNSIGNED, bi BIGINT,
  dc DECIMAL(30,10), fl FLOAT, db DOUBLE,
  bt BIT(13),
  d DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(4), yr YEAR,
  c CHAR(10), vc VARCHAR(200), tx TEXT CHARACTER SET latin1,
  bn BINARY(8), vb VARBINARY(64), bl BLOB, lb LONGBLOB,
  js JSON, en ENUM('a','b','c'), st SET('x','y','z'),
  g GEOMETRY NULL, pt POINT NULL
);
INSERT INTO types VALUES
 (1, -128, 65535, -9223372036854775808, 12345678901234567890.0123456789, 3.14159, 2.718281828459045,
  b'1010101010101', '2026-11-26', '2026-11-26 10:19:27.123456', '2026-11-26 10:19:27.123', '-838:59:59.0000', 2026,
  'trail  ', 'emoji 😀 ünïcödé', 'latin1 text',
  x'0001020300FF00AB', x'00', x'DEADBEEF00000000CAFE', REPEAT(x'00FF', 40000),
  '{"k": [1, 2.5, "x\\"y", null]}', 'b', 'x,z',
  ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), POINT(1.5, -2.25)),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 127, 0, 9223372036854775807, -0.0000000001, -0.0, 1e308,
  b'0', '1000-01-01', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000', '00:00:00', 1901,
  '', 'quotes '' " \\ ; ( ) , and a newline\nhere', '',
  x'0000000000000000', x'', x'', x'',
  '[]', 'a', '', NULL, NULL);
CREATE TABLE nokey (a INT, b VARCHAR(10));
INSERT INTO nokey VALUES (1, 'one'), (1, 'one'), (NULL, NULL);
CREATE TABLE empty_t (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE myisam_t (id INT PRIMARY KEY, v VARCHAR(5)) ENGINE=MyISAM;
INSERT INTO myisam_t VALUES (1, 'm');
CREATE VIEW v_types AS SELECT id, vc FROM types;
CREATE VIEW v_on_view AS SELECT id FROM v_types WHERE id > 1;
CREATE TRIGGER trg BEFORE INSERT ON nokey FOR EACH ROW SET NEW.b = UPPER(NEW.b);
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM nokey WHERE a < 0;
CREATE DATABASE other;
CREATE TABLE other.t (id INT PRIMARY KEY, v VARCHAR(10));
INSERT INTO other.t VALUES (1, 'x'), (2, 'y');
"#;

/// A procedure with a body of several statements needs its own delimiter.
const PROCEDURE: &str = "USE rt;\nDELIMITER //\nCREATE PROCEDURE count_types(OUT n INT)\nBEGIN\n  SELECT COUNT(*) INTO n FROM types;\n  SET n = n + 0;\nEND//\nDELIMITER ;\n";

fn load_schema(server: &TestServer, dir: &std::path::Path) {
    let f = dir.join("schema.sql");
    std::fs::write(&f, format!("{SCHEMA}\n{PROCEDURE}")).unwrap();
    server.sql_file(&f);
}

flavor_tests! {
fn round_trip_keeps_every_type_and_object(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    let target = TestServer::of(flavor);
    load_schema(&source, dir.path());
    let config = config_for(dir.path(), &[("src", &source), ("dst", &target)]);

    let out = zrm_ok(&config, &["backup", "--set", "src", "--format", "json"]);
    let manifest = &json(&out)["backup"];
    assert_eq!(manifest["level"], 0);
    assert_eq!(manifest["method"], "mysqldump");
    let file = &manifest["files"][0];
    assert_eq!(file["path"], "dump.sql.zst");
    assert!(file["stored_size"].as_u64().unwrap() < file["size"].as_u64().unwrap());

    // Row counts per table, counted from the dump stream; empty tables listed with 0.
    let rows = |db: &str, t: &str| -> u64 {
        manifest["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == db)
            .and_then(|d| {
                d["tables"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["name"] == t)
            })
            .and_then(|x| x["rows"].as_u64())
            .unwrap_or_else(|| panic!("no row count for {db}.{t} in {manifest}"))
    };
    assert_eq!(rows("rt", "types"), 3);
    assert_eq!(rows("rt", "nokey"), 3);
    assert_eq!(rows("rt", "empty_t"), 0);
    assert_eq!(rows("other", "t"), 2);

    // The stored file is what the manifest says.
    let id = manifest["id"].as_str().unwrap();
    let stored = dir
        .path()
        .join(format!("repo/sets/src/backups/{id}/dump.sql.zst"));
    // Backups hold the whole database: private to zrm's user whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(mode(&stored.with_file_name("manifest.json")), 0o600);
    assert_eq!(mode(stored.parent().unwrap()), 0o700);
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(bytes.len() as u64, file["stored_size"].as_u64().unwrap());
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        file["sha256"].as_str().unwrap()
    );

    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    for db in ["rt", "other"] {
        assert_eq!(
            checksums(&source, db),
            checksums(&target, db),
            "CHECKSUM TABLE of {db}"
        );
        assert_eq!(
            support::object_definitions(&source, db),
            support::object_definitions(&target, db),
            "objects of {db}"
        );
    }
    assert!(!checksums(&target, "rt").is_empty());
    assert_eq!(
        target.sql("SET NAMES utf8mb4; SELECT vc FROM rt.types WHERE id = 1"),
        "emoji 😀 ünïcödé",
        "4-byte UTF-8 survives"
    );
    assert_eq!(
        target.sql("SELECT HEX(bn) FROM rt.types WHERE id = 1"),
        "0001020300FF00AB"
    );
    assert_eq!(target.sql("SELECT rt.twice(21)"), "42");
}

fn restore_filters_databases_and_refuses_non_empty_targets(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    let target = TestServer::of(flavor);
    load_schema(&source, dir.path());
    let config = config_for(dir.path(), &[("src", &source), ("dst", &target)]);
    zrm_ok(&config, &["backup", "--set", "src"]);

    // Only `other`: `rt` never reaches the target.
    zrm_ok(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--databases",
            "other",
        ],
    );
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='rt'"),
        "0"
    );
    assert_eq!(checksums(&source, "other"), checksums(&target, "other"));

    // `other` now exists on the target with tables: refused, and nothing changes.
    target.sql("INSERT INTO other.t VALUES (3, 'local')");
    let out = zrm(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("exist and are not empty: other (1 table)"),
        "{out}"
    );
    assert!(out.stderr.contains("--replace"), "{out}");
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM other.t"),
        "3",
        "target untouched"
    );

    // A dry run with --replace says what it would drop, and changes nothing.
    let out = zrm_ok(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--replace",
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&out)["drop_first"], serde_json::json!(["other"]));
    assert_eq!(target.sql("SELECT COUNT(*) FROM other.t"), "3");

    // --replace: the database becomes exactly the backup's.
    zrm_ok(
        &config,
        &["restore", "--set", "src", "--target", "dst", "--replace"],
    );
    assert_eq!(target.sql("SELECT COUNT(*) FROM other.t"), "2");
    assert_eq!(checksums(&source, "rt"), checksums(&target, "rt"));

    // Restoring over the source itself needs --replace, and the message says why.
    let out = zrm(&config, &["restore", "--set", "src", "--target", "src"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is the source server of set 'src'"),
        "{out}"
    );
    // The same server over TCP instead of its socket is still the source.
    let url = format!("mysql://root@127.0.0.1:{}", source.port());
    let out = zrm(&config, &["restore", "--set", "src", "--target", &url]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("is the source server of set 'src'"),
        "{out}"
    );

    // A damaged backup file is refused before anything changes on the target.
    let id = &backup_ids(&config, "src")[0];
    let stored = dir
        .path()
        .join(format!("repo/sets/src/backups/{id}/dump.sql.zst"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&stored, &bytes).unwrap();
    target.sql("INSERT INTO other.t VALUES (9, 'keep me')");
    let out = zrm(
        &config,
        &["restore", "--set", "src", "--target", "dst", "--replace"],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("is damaged"), "{out}");
    assert!(
        out.stderr.contains("nothing was changed on the target"),
        "{out}"
    );
    assert_eq!(target.sql("SELECT v FROM other.t WHERE id = 9"), "keep me");
}
}

/// End the server session whose running statement matches `pattern` (a LIKE pattern).
fn kill_session_running(server: &TestServer, pattern: &str) {
    let id = server.sql(&format!(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '{pattern}' LIMIT 1"
    ));
    assert!(!id.is_empty(), "no session runs {pattern}");
    server.sql(&format!("KILL {id}"));
}

/// Rows the binary log holds for `db`.`table` from `file:pos` on (that file and all later ones).
fn binlog_inserts_after(server: &TestServer, file: &str, pos: u64, db: &str, table: &str) -> usize {
    let mut files: Vec<String> = std::fs::read_dir(server.binlog_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("mysql-bin.") && !n.ends_with(".index") && n.as_str() >= file)
        .collect();
    files.sort();
    assert_eq!(
        files.first().map(String::as_str),
        Some(file),
        "binlog {file} exists"
    );
    let out = support::run(
        Command::new(server.flavor().binlog_program())
            .arg("--no-defaults")
            .arg("-v")
            .arg("--base64-output=decode-rows")
            .arg(format!("--start-position={pos}"))
            .args(files.iter().map(|f| server.binlog_dir().join(f))),
    );
    assert_eq!(out.code, 0, "{out}");
    let needle = format!("### INSERT INTO `{db}`.`{table}`");
    out.stdout
        .lines()
        .filter(|l| l.starts_with(&needle))
        .count()
}

flavor_tests! {
fn consistent_point_matches_the_restored_data_under_concurrent_writes(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    let target = TestServer::of(flavor);
    // Enough data that the dump takes a moment while the writer commits.
    source.sql(&format!(
        "CREATE DATABASE cp; \
         CREATE TABLE cp.w (id INT PRIMARY KEY AUTO_INCREMENT, pad VARCHAR(200)); \
         INSERT INTO cp.w (pad) SELECT REPEAT('p', 200) FROM {}; \
         CREATE TABLE cp.who (id BIGINT) ENGINE=MyISAM;",
        source.seq(100_000)
    ));
    let f = dir.path().join("writer.sql");
    std::fs::write(
        &f,
        "USE cp;\nDELIMITER //\nCREATE PROCEDURE writer(n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  WHILE i < n DO\n    INSERT INTO w (pad) VALUES (CONCAT('w', i));\n    SET i = i + 1;\n  END WHILE;\nEND//\nDELIMITER ;\n",
    )
    .unwrap();
    source.sql_file(&f);
    let config = config_for(dir.path(), &[("src", &source), ("dst", &target)]);

    // Each INSERT in the procedure commits on its own (autocommit).
    let mut writer = source
        .mariadb()
        .args([
            "-e",
            "INSERT INTO cp.who VALUES (CONNECTION_ID()); CALL cp.writer(100000000)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wait_rows = |n: u64| {
        let start = Instant::now();
        while source
            .sql("SELECT COUNT(*) FROM cp.w")
            .parse::<u64>()
            .unwrap()
            < n
        {
            assert!(start.elapsed() < Duration::from_secs(30), "writer too slow");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_rows(100_200);
    let out = zrm_ok(&config, &["backup", "--set", "src", "--format", "json"]);
    let before = source
        .sql("SELECT COUNT(*) FROM cp.w")
        .parse::<u64>()
        .unwrap();
    wait_rows(before + 200);
    // The writer's session said who it is (sampling the process list can fall between two
    // statements of the procedure).
    let writer_id = source.sql("SELECT id FROM cp.who");
    source.sql(&format!("KILL {writer_id}"));
    let _ = writer.wait();
    let total: u64 = source.sql("SELECT COUNT(*) FROM cp.w").parse().unwrap();

    let point = &json(&out)["backup"]["consistent_point"];
    let file = point["binlog_file"].as_str().unwrap();
    let pos = point["binlog_pos"].as_u64().unwrap();
    let gtid_prefix = match flavor {
        Flavor::MariaDB => "0-".to_string(),
        Flavor::MySQL => format!("{}:", source.server_uuid().unwrap()),
    };
    assert!(
        point["gtid_set"].as_str().unwrap().starts_with(&gtid_prefix),
        "{point}"
    );
    let after = binlog_inserts_after(&source, file, pos, "cp", "w") as u64;
    assert!(
        after >= 200,
        "the writer kept writing after the backup ({after} rows)"
    );

    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    let restored: u64 = target.sql("SELECT COUNT(*) FROM cp.w").parse().unwrap();
    assert_eq!(
        restored,
        total - after,
        "restored rows = rows on the source minus rows the binlog holds after the recorded point"
    );
    // One writer, ids increasing in commit order: the restored rows are exactly the source's
    // rows up to the last restored id, i.e. the state at one commit point.
    let max_id = target.sql("SELECT MAX(id) FROM cp.w");
    assert_eq!(
        source.sql(&format!("SELECT COUNT(*) FROM cp.w WHERE id <= {max_id}")),
        restored.to_string()
    );
}
}

/// The pid of a process whose parent is `parent` and whose name is `name`.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let Ok(pid) = entry.ok()?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == parent && comm.ends_with(name) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn lock_refuses_a_second_backup_and_kill9_leaves_no_backup() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut source = TestServer::start();
    // A password with characters ZRM mangled: it must reach the dump tool intact.
    let password = "p#ss 'w\"rd\\";
    source.set_root_password(password);
    source.sql("CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY); INSERT INTO k.t VALUES (1),(2),(3);");
    let config = config_for(dir.path(), &[("src", &source)]);

    // Hold a write lock so that the dump blocks on reading k.t, mid-backup.
    let mut holder = source
        .mariadb()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut holder_in = holder.stdin.take().unwrap();
    writeln!(holder_in, "LOCK TABLES k.t WRITE; SELECT SLEEP(600);").unwrap();
    holder_in.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let mut first = support::zrm()
        .arg("--config")
        .arg(&config)
        .args(["backup", "--set", "src"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first_pid = first.id();
    let start = Instant::now();
    let dump_pid = loop {
        if let Some(p) = child_named(first_pid, "mariadb-dump") {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the dump tool never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Secrets: the password is not on the dump tool's command line; the option file is.
    // (Right after the fork the child may still show zrm's own command line: wait for exec.)
    let read_cmdline = || {
        let raw = std::fs::read(format!("/proc/{dump_pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&raw).replace('\0', " ")
    };
    let mut cmdline = read_cmdline();
    while !cmdline.contains("--defaults-file=") && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
        cmdline = read_cmdline();
    }
    assert!(cmdline.contains("--defaults-file="), "{cmdline}");
    assert!(!cmdline.contains("p#ss"), "password on argv: {cmdline}");
    // Wait until the dump is blocked inside the data (the backup directory exists).
    let backups = dir.path().join("repo/sets/src/backups");
    while std::fs::read_dir(&backups).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no backup directory appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let second = zrm(&config, &["backup", "--set", "src"]);
    assert_eq!(second.code, 1, "{second}");
    assert!(
        second.stderr.contains(&format!(
            "set 'src' is locked by another zrm process (pid {first_pid}"
        )),
        "{second}"
    );

    // kill -9 in the middle of the dump.
    unsafe { libc::kill(first_pid as i32, libc::SIGKILL) };
    let _ = first.wait();
    kill_session_running(&source, "SELECT SLEEP(600)%");
    drop(holder_in);
    let _ = holder.kill();
    let _ = holder.wait();

    assert!(
        backup_ids(&config, "src").is_empty(),
        "no complete backup after kill -9"
    );
    let all = zrm_ok(&config, &["list", "--all", "--format", "json"]);
    let entries = json(&all)["backups"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{all}");
    assert_eq!(entries[0]["status"], "incomplete");
    let broken = entries[0]["id"].as_str().unwrap().to_string();
    let text = zrm_ok(&config, &["list", "--all"]);
    assert!(text.stdout.contains("INCOMPLETE"), "{text}");

    let restore = zrm(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--backup",
            &broken,
            "--target",
            "src",
            "--replace",
        ],
    );
    assert_eq!(restore.code, 1, "{restore}");
    assert!(
        restore
            .stderr
            .contains(&format!("backup {broken} of set 'src' is incomplete")),
        "{restore}"
    );

    // The lock of the killed process is taken over, and the next backup succeeds.
    std::thread::sleep(Duration::from_millis(1100));
    let third = zrm_ok(&config, &["backup", "--set", "src"]);
    assert!(
        third.stderr.contains(&format!("left by pid {first_pid}")),
        "{third}"
    );
    assert_eq!(backup_ids(&config, "src").len(), 1);
}

/// A small tmpfs for a repository that fills up; `None` (with the reason) where mounting is
/// not possible (not root, no tmpfs).
fn small_tmpfs(dir: &std::path::Path, size: &str) -> Option<std::path::PathBuf> {
    let mnt = dir.join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let out = support::run(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt),
    );
    if out.code != 0 {
        let why = format!("cannot mount a tmpfs to fill up: {}", out.stderr.trim());
        assert!(!support::ci(), "{why}");
        eprintln!("SKIP: {why}");
        return None;
    }
    Some(mnt)
}

struct Unmount(std::path::PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_fails_cleanly_and_keeps_nothing() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(small) = small_tmpfs(dir.path(), "512k") else {
        return;
    };
    let _unmount = Unmount(small.clone());
    let source = TestServer::start();
    // Random bytes do not compress: about 4 MiB will not fit in 512 KiB.
    source.sql(
        "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b BLOB); \
         INSERT INTO big.t SELECT seq, RANDOM_BYTES(1024) FROM big.seq_1_to_4000;",
    );
    let body = format!(
        "[repository]\npath = \"{}\"\n[defaults]\nuser = \"root\"\nmethod = \"mysqldump\"\n[sets.s]\nsocket = \"{}\"\n",
        small.join("repo").display(),
        source.socket().display()
    );
    let config = support::write_config(dir.path(), &body);
    let out = zrm(&config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("No space left on device"), "{out}");
    assert!(out.stderr.contains("check free space"), "{out}");
    // Nothing half-written stays behind: no backup directory, no temporary file.
    let backups = small.join("repo/sets/s/backups");
    let left: Vec<_> = std::fs::read_dir(&backups)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    let all = zrm_ok(&config, &["list", "--all", "--format", "json"]);
    assert_eq!(json(&all)["backups"], serde_json::json!([]));
}
