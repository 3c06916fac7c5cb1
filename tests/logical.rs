//! The `logical` method (zrm's own parallel dump and parallel load) against real servers of
//! both flavors: every type and object through a round trip, many tables, consistency under
//! concurrent writers (and exact binlog coordinates), kill -9 during the dump and during the
//! load (then `--resume-load`), a target without LOCAL INFILE, a damaged chunk, the snapshot
//! lock and its timeout, and accounts.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{backup_ids, checksums, json, run_zrm as zrm, zrm_ok, Flavor, Output, TestServer};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A scratch directory, a source and a target server of `flavor`.
fn two_servers(flavor: Flavor) -> (tempfile::TempDir, TestServer, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    (dir, TestServer::of(flavor), TestServer::of(flavor))
}

/// A config with the sets `src` (the source) and `dst` (the target) and extra `[defaults]`.
fn config(dir: &Path, source: &TestServer, target: &TestServer, defaults: &str) -> PathBuf {
    support::config_with(dir, &[("src", source), ("dst", target)], defaults)
}

/// `zrm backup --set src --format json`: the manifest (panics, showing the output, on failure).
fn backup(config: &Path) -> Value {
    let out = zrm_ok(config, &["backup", "--set", "src", "--format", "json"]);
    let b = json(&out)["backup"].clone();
    assert_eq!(
        b["method"], "logical",
        "the default method is logical:\n{out}"
    );
    assert!(b["logical"].is_object(), "no logical layout:\n{out}");
    b
}

/// `zrm restore --set src --target dst <extra>`.
fn restore(config: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["restore", "--set", "src", "--target", "dst"];
    args.extend_from_slice(extra);
    zrm(config, &args)
}

fn restore_ok(config: &Path, extra: &[&str]) -> Output {
    let out = restore(config, extra);
    assert_eq!(out.code, 0, "restore {extra:?} failed:\n{out}");
    out
}

/// The manifest's `logical.tables` entry of `db`.`table`.
fn logical_table<'a>(manifest: &'a Value, db: &str, table: &str) -> &'a Value {
    manifest["logical"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["database"] == db && t["name"] == table)
        .unwrap_or_else(|| panic!("no logical table {db}.{table} in {manifest:#}"))
}

/// The chunk files of `db`.`table` in the manifest.
fn chunks_of(manifest: &Value, db: &str, table: &str) -> Vec<Value> {
    logical_table(manifest, db, table)["chunks"]
        .as_array()
        .unwrap()
        .clone()
}

/// The backup directory of a backup in the repository under `dir`.
fn backup_dir(dir: &Path, manifest: &Value) -> PathBuf {
    dir.join("repo/sets/src/backups")
        .join(manifest["id"].as_str().unwrap())
}

/// Feeds `sql` (bytes: it may hold another charset than UTF-8) to the client, keeping the
/// comments (a procedure body holds some); panics on failure.
fn load_sql(server: &TestServer, dir: &Path, name: &str, sql: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, sql).unwrap();
    let out = support::run(
        server
            .mariadb()
            .args(["--batch", "--comments"])
            .stdin(std::fs::File::open(&path).unwrap()),
    );
    assert_eq!(out.code, 0, "loading {name} failed:\n{out}");
}

fn number(server: &TestServer, sql: &str) -> i64 {
    let v = server.sql(sql);
    v.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{sql}` returned {v:?}, not a number"))
}

fn database_exists(server: &TestServer, db: &str) -> bool {
    number(
        server,
        &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'"),
    ) == 1
}

/// The rows of a table as the client prints them, sorted (for messages when checksums differ).
fn sorted_rows(server: &TestServer, db: &str, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = server
        .sql(&format!("SELECT * FROM `{db}`.`{table}`"))
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

/// Panics unless every base table of `db` has the same `CHECKSUM TABLE` on both servers; the
/// message shows the differing rows of each differing table.
fn assert_same_data(source: &TestServer, target: &TestServer, db: &str) {
    let a = checksums(source, db);
    let b = checksums(target, db);
    if a == b {
        assert!(!a.is_empty(), "no table in {db}");
        return;
    }
    let mut msg = format!("CHECKSUM TABLE of {db} differ:\nsource {a:?}\ntarget {b:?}\n");
    for (table, sum) in &a {
        if b.iter().any(|(t, s)| t == table && s == sum) {
            continue;
        }
        let (x, y) = (
            sorted_rows(source, db, table),
            sorted_rows(target, db, table),
        );
        // At most 6 rows, each cut to 120 characters.
        let only = |p: &[String], q: &[String]| -> Vec<String> {
            p.iter()
                .filter(|r| q.binary_search(r).is_err())
                .take(6)
                .map(|r| r.chars().take(120).collect())
                .collect()
        };
        msg.push_str(&format!(
            "  {table}: {} rows on the source, {} on the target\n    only on the source: {:?}\n    only on the target: {:?}\n",
            x.len(),
            y.len(),
            only(&x, &y),
            only(&y, &x)
        ));
    }
    panic!("{msg}");
}

/// Panics, naming each differing object, unless both servers define the same objects in `db`.
fn assert_same_objects(source: &TestServer, target: &TestServer, db: &str) {
    let a = support::object_definitions(source, db);
    let b = support::object_definitions(target, db);
    if a == b {
        return;
    }
    let mut msg = format!("the objects of {db} differ ({} vs {}):\n", a.len(), b.len());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            msg.push_str(&format!("--- source:\n{x:?}\n--- target:\n{y:?}\n"));
        }
    }
    panic!("{msg}");
}

/// A `mariadb` client kept open: statements go in one by one, answers come back as they run.
/// For polling fast, and for holding a session (a lock) as long as the test needs it.
struct Client {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Client {
    fn new(server: &TestServer) -> Client {
        let mut child = server
            .mariadb()
            .args(["--batch", "--skip-column-names", "--unbuffered", "--force"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Client {
            child,
            input,
            output,
        }
    }

    /// Sends `sql` without waiting for it (it may block, e.g. on a lock).
    fn send(&mut self, sql: &str) {
        writeln!(self.input, "{sql};").unwrap();
        self.input.flush().unwrap();
    }

    /// Runs `sql` and returns its output lines (none if it failed: errors are not shown).
    fn query(&mut self, sql: &str) -> Vec<String> {
        writeln!(self.input, "{sql};\nSELECT '--end--';").unwrap();
        self.input.flush().unwrap();
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.output.read_line(&mut line).unwrap();
            assert!(n > 0, "the client exited");
            let line = line.trim_end_matches('\n');
            if line == "--end--" {
                return lines;
            }
            lines.push(line.to_string());
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `zrm --config C <args>` started in the background (output discarded).
fn spawn_zrm(config: &Path, args: &[&str]) -> Child {
    support::zrm()
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill9(child: &mut Child) {
    // SAFETY: kill(2) on our own child, not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "zrm had finished before the kill");
}

/// Waits up to `secs` for `cond`, polling every 5 ms; panics with `what` on timeout.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The decompressed content of a stored (zstd) chunk file.
fn chunk_text(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    zstd::Decoder::new(f)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The first field of every line of a chunk (the key, for tables whose first column is it).
fn chunk_keys(path: &Path) -> Vec<String> {
    chunk_text(path)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let end = l.iter().position(|&b| b == b'\t').unwrap_or(l.len());
            String::from_utf8(l[..end].to_vec()).unwrap()
        })
        .collect()
}

/// Flips one bit in the middle of a file.
fn damage(path: &Path, at_fraction: f64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = ((bytes.len() as f64) * at_fraction) as usize;
    bytes[at] ^= 0x10;
    std::fs::write(path, &bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. Every type and object
// ---------------------------------------------------------------------------------------------

/// Every kind of column at its edges, inserted under `sql_mode = ''` (zero dates).
const TYPES_SQL: &str = r#"
SET NAMES utf8mb4;
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
CREATE DATABASE lt CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE lt;

CREATE TABLE ints (id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED, z INT(6) UNSIGNED ZEROFILL, bo BOOLEAN);
INSERT INTO ints VALUES
 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0, 0),
 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
     9223372036854775807, 18446744073709551615, 4294967295, 1),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1, 42, -5);

CREATE TABLE nums (id INT PRIMARY KEY, f FLOAT, f74 FLOAT(7,4), d DOUBLE,
  dc DECIMAL(65,30), du DECIMAL(10,2) UNSIGNED);
INSERT INTO nums VALUES
 (1, 16777217, 3.14159, 1.7976931348623157e308,
     99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99),
 (2, 1.1, -999.9999, 4.9e-324,
     -99999999999999999999999999999999999.999999999999999999999999999999, 0),
 (3, 3.40282e38, 0.0001, -2.2250738585072014e-308, 0.000000000000000000000000000001, 0.01),
 (4, -1.17549e-38, NULL, 0.1, -0.000000000000000000000000000001, NULL),
 (5, 1.4e-45, 123.4567, -1.7976931348623157e308, 0, 1),
 (6, 0.1, 0, 1e-300, 12345678901234567890.123456789012345678901234567890, 5),
 (7, -0e0, -0.0001, -0e0, -0.5, 0.5),
 (8, 123456789, 999.9999, 3.141592653589793, 1, 2),
 (9, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE bits (id INT PRIMARY KEY, b1 BIT(1), b13 BIT(13), b64 BIT(64));
INSERT INTO bits VALUES (1, b'0', b'0', 0), (2, b'1', b'1111111111111', 0xFFFFFFFFFFFFFFFF),
 (3, NULL, b'1010101010101', 0x090A5C004E5C4E0D), (4, b'1', 8191, 9223372036854775808),
 (5, b'0', 9, 10), (6, NULL, NULL, NULL);

CREATE TABLE times (id INT PRIMARY KEY, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
  tm TIME(6), y YEAR, dt0 DATETIME, ts0 TIMESTAMP NULL DEFAULT NULL, tm0 TIME);
INSERT INTO times VALUES
 (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-838:59:59', 0,
     '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-838:59:59'),
 (2, '1000-01-01', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000001', '838:59:59',
     1901, '2020-00-15 00:00:00', '1970-01-01 00:00:01', '838:59:59'),
 (3, '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
     '-00:00:00.000001', 2155, '2020-02-00 10:00:00', '2038-01-19 03:14:07', '00:00:00'),
 (4, '2024-02-29', '2024-02-29 12:34:56.5', '2024-02-29 12:34:56.5', '12:34:56.123456', 2000,
     '2024-02-29 23:59:59', '2024-02-29 23:59:59', '-00:00:01'),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE strs (id INT PRIMARY KEY,
  c CHAR(10), bn BINARY(8), l1 VARCHAR(100) CHARACTER SET latin1,
  u8 VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  vb VARBINARY(300), bl BLOB, tx TEXT,
  lt LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
  de VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_german2_ci,
  u2 VARCHAR(20) CHARACTER SET ucs2, u16 VARCHAR(20) CHARACTER SET utf16,
  u32 VARCHAR(10) CHARACTER SET utf32, sj VARCHAR(20) CHARACTER SET sjis,
  cp VARCHAR(20) CHARACTER SET cp1251 COLLATE cp1251_bin);
INSERT INTO strs VALUES
 (1, 'ab  ', x'41000000', 'Grüße ½ ÿ', 'emoji 😀 𝄞 ünï', x'00FF5C095C4E0A0D', UNHEX('@ALLBYTES@'),
     'tab\there\nnew\\line \\N end\r', '\\N', 'Straße', 'उ尊', '😀उ', '尊', 'ソ表', 'Привет'),
 (2, '', x'', '', '', x'', x'', '', '', '', '', '', '', '', ''),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, '\\N', x'5C4E', '\\', '\t', x'5C4E', x'5C4E', 'N', '\\\\N', ' ', '\\N', '\t', '\n', '\\', '\\N'),
 (5, ' lead', x'0000000000000000', CONCAT('a', CHAR(0), 'b'), 'x\0y', x'00', x'0A', '\n',
     REPEAT('long ✓ ', 20000), 'ß', 'ñ', 'ñ', 'ñ', 'ｱ', 'ё');

CREATE TABLE misc (id INT PRIMARY KEY,
  js JSON, g GEOMETRY, p POINT, poly POLYGON, e ENUM('a','b','c d','é'), s SET('x','y','z'),
  gv INT AS (id * 2) VIRTUAL, gs VARCHAR(20) AS (CONCAT('s', id)) STORED,
  inv INT INVISIBLE DEFAULT 7, ck INT CHECK (ck >= 0), df VARCHAR(20) DEFAULT (CONCAT('d', 'f')),
  KEY kgv (gv));
INSERT INTO misc (id, js, g, p, poly, e, s, inv, ck) VALUES
 (1, '{"k": [1, 2.5, "x\\"y\\ttab", null], "emoji": "😀"}',
     ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'), POINT(1.5, -2.25),
     ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))'), 'é', 'x,z', 42, 0),
 (2, '[]', ST_GeomFromText('POINT(1 2)', 4326), POINT(0, 0),
     ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), 'c d', '', NULL, 5),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL),
 (4, '"\\\\N"', ST_GeomFromText('MULTIPOINT(1 1, 2 2)'), POINT(-1e300, 1e-300), NULL, 'a', 'x,y,z', -1, 1);

CREATE TABLE part_range (id INT NOT NULL, k INT NOT NULL, v VARCHAR(20), PRIMARY KEY (id, k))
  PARTITION BY RANGE (k) (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (100),
  PARTITION pmax VALUES LESS THAN MAXVALUE);
INSERT INTO part_range VALUES (1, 5, 'p0'), (2, 50, 'p1'), (3, 500, 'pmax'), (4, -3, 'neg');
CREATE TABLE part_hash (id INT PRIMARY KEY, v INT) PARTITION BY HASH (id) PARTITIONS 3;
INSERT INTO part_hash SELECT seq, seq * 3 FROM @SEQ20@;

CREATE TABLE my (id INT PRIMARY KEY, v VARCHAR(20), KEY kv (v)) ENGINE=MyISAM;
INSERT INTO my VALUES (1, 'm'), (2, NULL), (3, 'tab\tin');

CREATE TABLE nokey (a INT, b VARCHAR(10));
INSERT INTO nokey VALUES (1, 'one'), (1, 'one'), (NULL, NULL), (NULL, NULL), (2, '');
CREATE TABLE comp (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b));
INSERT INTO comp VALUES (1, 'x', 1), (1, 'y', 2), (-7, 'x', 3);
CREATE TABLE vpk (code VARCHAR(20) PRIMARY KEY, v INT);
INSERT INTO vpk VALUES ('a', 1), ('äb', 2), ('b ', 3), ('😀', 4), ('', 5);
CREATE TABLE uk_only (x INT NOT NULL, y INT, UNIQUE KEY ux (x));
INSERT INTO uk_only VALUES (3, NULL), (1, 1), (2, 2);
CREATE TABLE empty_t (id INT PRIMARY KEY, v INT, KEY kv (v));
CREATE TABLE `odd name.é-1` (`c``q` INT PRIMARY KEY, `sp ace` VARCHAR(10));
INSERT INTO `odd name.é-1` VALUES (1, 'odd'), (2, NULL);

CREATE TABLE parent (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL, n INT,
  UNIQUE KEY ucode (code), KEY kn (n));
INSERT INTO parent VALUES (1, 'one', 10), (2, 'two', 20);
CREATE TABLE child (id INT PRIMARY KEY AUTO_INCREMENT, pid INT, pcode VARCHAR(10), KEY kpid (pid),
  CONSTRAINT fk_id FOREIGN KEY (pid) REFERENCES parent (id) ON DELETE CASCADE,
  CONSTRAINT fk_code FOREIGN KEY (pcode) REFERENCES parent (code));
INSERT INTO child (pid, pcode) VALUES (1, 'one'), (2, 'two'), (2, NULL);
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
INSERT INTO child (id, pid, pcode) VALUES (0, 1, 'one');
SET SESSION sql_mode = '';
CREATE TABLE counters (name VARCHAR(10) PRIMARY KEY, n INT NOT NULL);
INSERT INTO counters VALUES ('child', 0);

-- Big enough for several key-range chunks at chunk_size_mb = 1; keys across the whole range.
CREATE TABLE big (id BIGINT PRIMARY KEY, n INT NOT NULL, pad VARCHAR(100), KEY kn (n));
INSERT INTO big SELECT (CAST(seq AS SIGNED) - 25000) * 368934881474191, seq % 1000,
  REPEAT(CHAR(65 + seq % 26), 60 + seq % 40) FROM @SEQ50000@;
INSERT INTO big VALUES (-9223372036854775808, -1, 'min'), (9223372036854775807, -2, 'max');
ANALYZE TABLE big;

-- Views on views, named so that the alphabetical order is the wrong one.
CREATE VIEW z_base AS SELECT id, u8 FROM strs;
CREATE VIEW m_mid AS SELECT id FROM z_base WHERE id > 1;
CREATE VIEW a_top AS SELECT COUNT(*) AS n FROM m_mid;

DELIMITER //
CREATE PROCEDURE p_count(OUT n INT)
BEGIN
  DECLARE s TEXT DEFAULT 'a;b
-- zrm {"object":"table","name":"trap","len":3}
c;';
-- zrm {"object":"view","name":"comment trap","len":1}
  SELECT COUNT(*) INTO n FROM ints; SET n = n + LENGTH(s) * 0;
END//
CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2//
CREATE TRIGGER nk_upper BEFORE INSERT ON nokey FOR EACH ROW SET NEW.b = UPPER(NEW.b)//
CREATE TRIGGER nk_second BEFORE INSERT ON nokey FOR EACH ROW FOLLOWS nk_upper
  SET NEW.a = COALESCE(NEW.a, 0) + 1000//
CREATE TRIGGER child_count AFTER INSERT ON child FOR EACH ROW
  UPDATE counters SET n = n + 1 WHERE name = 'child'//
CREATE EVENT ev ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'
  DO DELETE FROM nokey WHERE a < 0//
DELIMITER ;
"#;

/// What only MariaDB has: sequences, system-versioned tables, Aria.
const TYPES_MARIADB_SQL: &str = r#"
SET NAMES utf8mb4;
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
USE lt;

-- A MariaDB sequence (state carried over), with and without a cache.
CREATE SEQUENCE seq_nc START WITH 100 INCREMENT BY 5 NOCACHE;
CREATE SEQUENCE seq_c;
SELECT NEXTVAL(seq_nc), NEXTVAL(seq_nc), NEXTVAL(seq_nc), NEXTVAL(seq_c), NEXTVAL(seq_c);

-- System-versioned tables: current rows only (history is documented as not kept).
CREATE TABLE sv (id INT PRIMARY KEY, v VARCHAR(10)) WITH SYSTEM VERSIONING;
INSERT INTO sv VALUES (1, 'a'), (2, 'b');
UPDATE sv SET v = 'b2' WHERE id = 2;
DELETE FROM sv WHERE id = 1;
INSERT INTO sv VALUES (3, 'c');
CREATE TABLE sv2 (id INT PRIMARY KEY, v INT,
  rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END,
  PERIOD FOR SYSTEM_TIME(rs, re)) WITH SYSTEM VERSIONING;
INSERT INTO sv2 (id, v) VALUES (1, 10), (2, 20);
UPDATE sv2 SET v = 21 WHERE id = 2;

CREATE TABLE ar (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=Aria;
INSERT INTO ar VALUES (1, 'aria'), (2, '');
"#;

/// Objects created from a latin1 client with non-ASCII literals (their text is latin1 bytes).
const LATIN1_SQL: &[u8] = b"SET NAMES latin1;\nUSE lt;\nCREATE VIEW v_latin1 AS SELECT '\xe9t\xe9' AS c;\nCREATE PROCEDURE p_latin1() SELECT '\xe9t\xe9' AS c;\n";

fn all_bytes_hex() -> String {
    (0..=255u8).map(|b| format!("{b:02X}")).collect()
}

/// The types and objects of both flavors, then the flavor's own.
fn load_types(server: &TestServer, dir: &Path) {
    let sql = with_seqs(server, &TYPES_SQL.replace("@ALLBYTES@", &all_bytes_hex()));
    load_sql(server, dir, "types.sql", sql.as_bytes());
    load_sql(server, dir, "latin1.sql", LATIN1_SQL);
    let own = match server.flavor() {
        Flavor::MariaDB => with_seqs(server, TYPES_MARIADB_SQL),
        Flavor::MySQL => support::types::mysql_types_sql(server, "lt"),
    };
    load_sql(server, dir, "own.sql", own.as_bytes());
}

flavor_tests! {
fn round_trip_keeps_every_type_and_object(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    load_types(&source, dir.path());
    let config = config(dir.path(), &source, &target, "chunk_size_mb = 1\n");

    let manifest = backup(&config);
    let layout = &manifest["logical"];
    assert!(
        manifest["consistent_point"]["binlog_file"].is_string(),
        "{manifest:#}"
    );

    // Row counts: the manifest's table list against `SELECT COUNT(*)` on the source. Checked
    // at the end (so that a wrong count does not hide the rest).
    let mut wrong_rows = Vec::new();
    for db in manifest["databases"].as_array().unwrap() {
        let name = db["name"].as_str().unwrap();
        for t in db["tables"].as_array().unwrap() {
            let table = t["name"].as_str().unwrap();
            let rows = number(&source, &format!("SELECT COUNT(*) FROM `{name}`.`{table}`"));
            if t["rows"].as_i64() != Some(rows) {
                wrong_rows.push(format!(
                    "{name}.{table}: the manifest says {} rows, SELECT COUNT(*) says {rows}",
                    t["rows"]
                ));
            }
        }
    }
    // Every base table has its layout entry, with the same count.
    for table in source
        .sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lt' \
             AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')",
        )
        .lines()
    {
        let t = logical_table(&manifest, "lt", table);
        let rows = number(&source, &format!("SELECT COUNT(*) FROM `lt`.`{table}`"));
        assert_eq!(t["rows"].as_i64(), Some(rows), "logical rows of lt.{table}");
        assert!(
            t["checksum"].as_str().unwrap_or("").starts_with("xxh3sum:"),
            "{t}"
        );
    }
    // The big table is cut into several key ranges.
    let big = logical_table(&manifest, "lt", "big");
    assert_eq!(big["chunk_key"], "id", "{big}");
    let big_chunks = big["chunks"].as_array().unwrap();
    assert!(
        big_chunks.len() > 1,
        "big (several MiB at chunk_size_mb = 1) has several chunks: {big}"
    );
    assert_eq!(
        big_chunks
            .iter()
            .map(|c| c["rows"].as_u64().unwrap())
            .sum::<u64>(),
        50_002
    );
    if flavor == Flavor::MariaDB {
        assert_eq!(
            logical_table(&manifest, "lt", "sv")["system_versioned"],
            true
        );
    }
    assert_eq!(logical_table(&manifest, "lt", "empty_t")["rows"], 0);
    // Every file of the layout is in the manifest's file list, and exists with its size.
    let files: BTreeMap<String, u64> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["stored_size"].as_u64().unwrap(),
            )
        })
        .collect();
    let bdir = backup_dir(dir.path(), &manifest);
    for t in layout["tables"].as_array().unwrap() {
        for c in t["chunks"].as_array().unwrap() {
            let p = c["path"].as_str().unwrap();
            assert!(p.starts_with("data/") && p.ends_with(".tsv.zst"), "{p}");
            let size = files.get(p).unwrap_or_else(|| panic!("{p} not in files"));
            assert_eq!(std::fs::metadata(bdir.join(p)).unwrap().len(), *size, "{p}");
        }
    }
    for s in layout["schema_files"].as_array().unwrap() {
        let p = s["path"].as_str().unwrap();
        assert!(files.contains_key(p), "{p} not in files");
    }

    let out = restore_ok(&config, &[]);
    assert!(out.stdout.contains("no binlog replayed"), "{out}");
    assert_same_data(&source, &target, "lt");
    assert_same_objects(&source, &target, "lt");
    assert!(
        !database_exists(&target, "zrm"),
        "the progress database is dropped after a complete load"
    );

    match flavor {
        Flavor::MariaDB => {
            // System-versioned tables: the current rows.
            for t in ["sv", "sv2"] {
                let q = format!("SELECT id, v FROM lt.{t} ORDER BY id");
                assert_eq!(source.sql(&q), target.sql(&q), "current rows of {t}");
            }
        }
        Flavor::MySQL => support::types::assert_mysql_types(&source, &target, "lt"),
    }
    // Spot checks that say more than a checksum when they fail.
    let q = "SELECT id, HEX(f), f, HEX(d) FROM lt.nums ORDER BY id";
    assert_eq!(source.sql(q), target.sql(q), "FLOAT and DOUBLE exactly");
    assert_eq!(
        target.sql("SELECT HEX(bl) FROM lt.strs WHERE id = 1"),
        all_bytes_hex(),
        "every byte of the BLOB"
    );
    assert_eq!(
        target.sql("SELECT tx IS NULL, tx = '', lt FROM lt.strs WHERE id IN (2, 3) ORDER BY id"),
        "0\t1\t\n1\tNULL\tNULL",
        "empty string and NULL stay apart"
    );
    let q = "SELECT HEX(b1), HEX(b13), HEX(b64) FROM lt.bits ORDER BY id";
    assert_eq!(source.sql(q), target.sql(q), "BIT");

    if flavor == Flavor::MariaDB {
        // Sequences go on where the source's left off.
        assert_eq!(
            target.sql("SELECT NEXTVAL(lt.seq_nc)"),
            "115",
            "a NOCACHE sequence continues exactly"
        );
        let next: i64 = number(&target, "SELECT NEXTVAL(lt.seq_c)");
        assert!(
            next > 2,
            "a cached sequence never hands out a used value: {next}"
        );
    }

    // Routines work, and triggers fire on the target.
    assert_eq!(target.sql("CALL lt.p_count(@n); SELECT @n"), "4");
    assert_eq!(target.sql("SELECT lt.twice(21)"), "42");
    assert_eq!(target.sql("SELECT n FROM lt.a_top"), "4");
    target.sql("INSERT INTO lt.nokey VALUES (5, 'low')");
    assert_eq!(
        target.sql("SELECT a, b FROM lt.nokey WHERE b = 'LOW'"),
        "1005\tLOW",
        "both BEFORE INSERT triggers ran, in their order"
    );
    target.sql("INSERT INTO lt.child (pid, pcode) VALUES (1, 'one')");
    assert_eq!(
        target.sql("SELECT n FROM lt.counters WHERE name = 'child'"),
        "1"
    );
    // The restored foreign keys are enforced.
    assert!(target
        .try_sql("INSERT INTO lt.child (pid) VALUES (99)")
        .is_err());

    assert!(
        wrong_rows.is_empty(),
        "manifest row counts differ from the source:\n{}",
        wrong_rows.join("\n")
    );
}
}

flavor_tests! {
/// Data a lax source (sql_mode = '') accepted: an invalid ENUM value (stored as index 0,
/// shown as ''), and an invalid date stored under ALLOW_INVALID_DATES. The load must take back
/// whatever the source holds.
fn data_a_lax_source_accepted_loads_back(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "SET SESSION sql_mode = ''; CREATE DATABASE lax; \
         CREATE TABLE lax.t (id INT PRIMARY KEY, e ENUM('a','b'), d DATE, n INT NOT NULL); \
         INSERT INTO lax.t VALUES (1, 'a', '2024-01-01', 1), (2, 'not a member', '2024-01-02', 2); \
         SET SESSION sql_mode = 'ALLOW_INVALID_DATES'; \
         INSERT INTO lax.t VALUES (3, 'b', '2021-02-31', 3);",
    );
    assert_eq!(
        source.sql("SELECT id, e, e + 0, d FROM lax.t ORDER BY id"),
        "1\ta\t1\t2024-01-01\n2\t\t0\t2024-01-02\n3\tb\t2\t2021-02-31",
        "the source holds the lax values"
    );
    let config = config(dir.path(), &source, &target, "");
    backup(&config);
    restore_ok(&config, &[]);
    assert_same_data(&source, &target, "lax");
}
}

/// A column defaulting to NEXTVAL of a sequence (a common MariaDB pattern): the table can only
/// be created once the sequence exists.
#[test]
fn table_defaulting_to_a_sequence() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (dir, source, target) = two_servers(Flavor::MariaDB);
    source.sql(
        "CREATE DATABASE sq; CREATE SEQUENCE sq.ids START WITH 10; \
         CREATE TABLE sq.t (id INT PRIMARY KEY DEFAULT NEXTVAL(sq.ids), v INT); \
         INSERT INTO sq.t (v) VALUES (1), (2);",
    );
    let config = config(dir.path(), &source, &target, "");
    backup(&config);
    restore_ok(&config, &[]);
    assert_same_data(&source, &target, "sq");
    target.sql("INSERT INTO sq.t (v) VALUES (3)");
    assert!(
        number(&target, "SELECT id FROM sq.t WHERE v = 3") > 11,
        "the default takes the next value of the restored sequence"
    );
}

flavor_tests! {
/// Secondary indexes deferred to an ALTER after the data must come back in their order, also
/// when a SPATIAL or FULLTEXT index (created with the table) sits between them.
fn deferred_indexes_keep_the_key_order(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "CREATE DATABASE ix; \
         CREATE TABLE ix.t (id INT PRIMARY KEY AUTO_INCREMENT, a INT, b VARCHAR(50), tx TEXT, \
           g POINT NOT NULL, KEY ka (a), SPATIAL KEY sp (g), KEY kab (a, b), FULLTEXT KEY ft (tx), \
           UNIQUE KEY ub (b)); \
         INSERT INTO ix.t (a, b, tx, g) VALUES (1, 'x', 'some words', POINT(1, 1)), \
           (2, 'y', 'other words', POINT(2, 2));",
    );
    let show = "SHOW CREATE TABLE ix.t";
    let config = config(dir.path(), &source, &target, "");
    backup(&config);
    // Without deferring, the table is created as it was.
    restore_ok(&config, &["--no-defer-indexes"]);
    assert_eq!(source.sql(show), target.sql(show), "--no-defer-indexes");
    assert_same_data(&source, &target, "ix");
    // Deferred (the default): the same definition.
    restore_ok(&config, &["--replace"]);
    assert_same_data(&source, &target, "ix");
    assert_eq!(
        source.sql(show),
        target.sql(show),
        "the indexes added after the data are in the source's order"
    );
}
}

/// What a dump in text cannot carry exactly on MySQL, measured for both methods (the README
/// states it): `mysqldump` writes FLOAT with 6 significant digits, and -0 (FLOAT or DOUBLE)
/// comes back as 0; zrm's logical engine keeps every bit; neither can give back the JSON scalar types only SQL
/// can create (DATE, TIME, DATETIME, DECIMAL, opaque binary): the server prints them as text,
/// and text is read back as strings and doubles. (Replayed binlogs carry them exactly.)
#[test]
fn mysql_float_and_json_scalar_types_through_logical_and_mysqldump() {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let (dir, source, target) = two_servers(Flavor::MySQL);
    source.sql(
        "SET SESSION sql_mode = ''; CREATE DATABASE fj; \
         CREATE TABLE fj.f (id INT PRIMARY KEY, f FLOAT, d DOUBLE); \
         INSERT INTO fj.f VALUES (1, 16777217, 1.7976931348623157e308), (2, 123456789, 4.9e-324), \
           (3, -0e0, -0e0), (4, 3.3333333, 1/3); \
         CREATE TABLE fj.j (id INT PRIMARY KEY, j JSON); \
         INSERT INTO fj.j VALUES (1, JSON_OBJECT('date', CAST('2024-02-29' AS DATE), \
           'dec', CAST(1.50 AS DECIMAL(5,2)), 'bin', x'00ff', \
           'dt', CAST('2024-02-29 12:34:56.5' AS DATETIME(6))));",
    );
    let floats = "SELECT id, f, f = CAST(f AS DOUBLE), CONCAT(f * 1e0), d FROM fj.f ORDER BY id";
    let types = "SELECT JSON_TYPE(j->'$.date'), JSON_TYPE(j->'$.dec'), JSON_TYPE(j->'$.bin'), \
                 JSON_TYPE(j->'$.dt') FROM fj.j";
    assert_eq!(source.sql(types), "DATE\tDECIMAL\tBLOB\tDATETIME");
    let exact = "SELECT id, CAST(f AS DOUBLE), d FROM fj.f ORDER BY id";
    let config = config(dir.path(), &source, &target, "");

    // logical: every FLOAT bit; JSON scalar types as text.
    backup(&config);
    restore_ok(&config, &[]);
    assert_eq!(
        source.sql(exact),
        target.sql(exact),
        "logical: FLOAT exactly"
    );
    assert_eq!(source.sql(floats), target.sql(floats));
    assert_eq!(
        target.sql(types),
        "STRING\tDOUBLE\tSTRING\tSTRING",
        "logical: JSON types"
    );

    // mysqldump: FLOAT to 6 significant digits, -0 as 0; DOUBLE otherwise exact; JSON the same.
    let dump = support::backup(&config, &["--set", "src", "--method", "mysqldump"]);
    assert_eq!(dump["method"], "mysqldump");
    restore_ok(
        &config,
        &["--backup", dump["id"].as_str().unwrap(), "--replace"],
    );
    assert_eq!(
        target.sql("SELECT id, CAST(f AS DOUBLE), d FROM fj.f ORDER BY id"),
        "1\t16777200\t1.7976931348623157e308\n2\t123457000\t5e-324\n3\t0\t0\n4\t3.333329916000366\t0.3333",
        "mysqldump: FLOAT rounded to 6 digits, -0 as 0, DOUBLE otherwise exact"
    );
    assert_ne!(source.sql(exact), target.sql(exact));
    assert_eq!(
        target.sql(types),
        "STRING\tDOUBLE\tSTRING\tSTRING",
        "mysqldump: JSON types"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Many tables
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn a_thousand_tables(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    let mut sql = String::from("CREATE DATABASE many;\nUSE many;\n");
    for i in 0..1000 {
        let key = if i % 50 == 0 { ", KEY kn (n)" } else { "" };
        sql.push_str(&format!(
            "CREATE TABLE t{i:04} (id INT PRIMARY KEY, v VARCHAR(20), n INT{key});\n"
        ));
    }
    for i in (0..1000).filter(|i| i % 100 != 7) {
        sql.push_str(&format!(
            "INSERT INTO t{i:04} VALUES (1, 'a{i}', {i}), (2, NULL, NULL), (3, 'c{}', 3);\n",
            i * 7
        ));
    }
    let started = Instant::now();
    load_sql(&source, dir.path(), "many.sql", sql.as_bytes());
    eprintln!("created 1000 tables in {:?}", started.elapsed());
    let config = config(dir.path(), &source, &target, "");

    let started = Instant::now();
    let manifest = backup(&config);
    eprintln!("backup of 1000 tables: {:?}", started.elapsed());
    let tables = manifest["logical"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 1000);
    assert_eq!(
        tables.iter().filter(|t| t["rows"] == 0).count(),
        10,
        "the 10 empty tables are listed with 0 rows"
    );

    let started = Instant::now();
    restore_ok(&config, &[]);
    eprintln!("restore of 1000 tables: {:?}", started.elapsed());
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'many'"),
        "1000"
    );
    let all: Vec<String> = (0..1000).map(|i| format!("many.t{i:04}")).collect();
    let q = format!("CHECKSUM TABLE {}", all.join(", "));
    let (a, b) = (source.sql(&q), target.sql(&q));
    assert_eq!(a.lines().count(), 1000);
    assert_eq!(a, b, "CHECKSUM TABLE of the 1000 tables");
    let q = "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = 'many' ORDER BY 1, 2, 3";
    assert_eq!(source.sql(q), target.sql(q), "indexes");
}
}

// ---------------------------------------------------------------------------------------------
// 3. Consistency under concurrent writers, and exact coordinates
// ---------------------------------------------------------------------------------------------

/// 100 accounts of 1000 (30 KB of padding each, so they span several chunks) and a journal.
/// On MariaDB each transfer takes the counter row first: transactions commit in the order of
/// their journal ids, so the state at any commit point is "journal rows 1..K". MySQL's lock
/// (FLUSH TABLES WITH READ LOCK) cannot be had while writers queue on one hot row (see
/// `ftwrl_waits_briefly_behind_a_hot_row_and_says_why`), so there the writers share no row but
/// the accounts they happen to pick, and journal ids come from AUTO_INCREMENT.
const BANK_SQL: &str = r#"
CREATE DATABASE bank;
USE bank;
CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, pad BLOB);
INSERT INTO accounts SELECT seq, 1000, REPEAT(CHAR(97 + seq % 26), 30000) FROM @SEQ100@;
CREATE TABLE journal (id BIGINT PRIMARY KEY @AUTO@, src INT NOT NULL, dst INT NOT NULL,
  amount INT NOT NULL, writer INT NOT NULL, KEY ksrc (src));
CREATE TABLE ctr (id INT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO ctr VALUES (1, 0);
CREATE TABLE halt (id INT PRIMARY KEY, flag INT NOT NULL);
INSERT INTO halt VALUES (1, 0);
CREATE TABLE filler (id INT PRIMARY KEY, pad VARCHAR(200));
INSERT INTO filler SELECT seq, REPEAT('f', 200) FROM @SEQ20000@;
ANALYZE TABLE accounts, filler;
DELIMITER //
CREATE PROCEDURE writer(w INT)
BEGIN
  DECLARE a, b, amt INT;
  DECLARE k BIGINT;
  WHILE (SELECT flag FROM halt WHERE id = 1) = 0 DO
    SET a = 1 + FLOOR(RAND() * 100);
    SET b = 1 + (a + FLOOR(RAND() * 99)) % 100;
    SET amt = 1 + FLOOR(RAND() * 50);
    START TRANSACTION;
    @TAKE_ID@
    UPDATE accounts SET balance = balance - amt WHERE id = a;
    UPDATE accounts SET balance = balance + amt WHERE id = b;
    INSERT INTO journal VALUES (k, a, b, amt, w);
    COMMIT;
  END WHILE;
END//
DELIMITER ;
"#;

/// BANK_SQL for `flavor` (see there).
fn bank_sql(server: &TestServer) -> String {
    let (auto, take_id) = match server.flavor() {
        Flavor::MariaDB => (
            "",
            "UPDATE ctr SET n = n + 1 WHERE id = 1;\n    SELECT n INTO k FROM ctr WHERE id = 1;",
        ),
        Flavor::MySQL => ("AUTO_INCREMENT", "SET k = NULL;"),
    };
    with_seqs(
        server,
        &BANK_SQL
            .replace("@AUTO@", auto)
            .replace("@TAKE_ID@", take_id),
    )
}

/// The last sequence number of a one-domain MariaDB GTID position (`0-100-1234` → 1234) or of a
/// one-server MySQL GTID set (`uuid:1-1234` → 1234).
fn gtid_seq(gtid: &str) -> i64 {
    assert!(!gtid.contains(','), "one GTID domain expected: {gtid}");
    let tail = gtid.rsplit(':').next().unwrap_or(gtid);
    tail.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a GTID: {gtid:?}"))
}

/// The lock zrm's logical engine takes to line up its snapshots: MariaDB's BACKUP STAGE, or on
/// MySQL FLUSH TABLES WITH READ LOCK (the one lock that holds commits back there).
fn snapshot_lock(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDB => "BACKUP STAGE BLOCK_COMMIT",
        Flavor::MySQL => "FLUSH TABLES WITH READ LOCK",
    }
}

/// `sql` with `@SEQ<N>@` replaced by the server's table of the numbers 1..N.
fn with_seqs(server: &TestServer, sql: &str) -> String {
    let re = regex::Regex::new(r"@SEQ(\d+)@").unwrap();
    re.replace_all(sql, |c: &regex::Captures| server.seq(c[1].parse().unwrap()))
        .into_owned()
}

flavor_tests! {
fn consistent_under_concurrent_transfers_and_exact_coordinates(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    let target = TestServer::of(flavor);
    load_sql(&source, dir.path(), "bank.sql", bank_sql(&source).as_bytes());
    let config = config(
        dir.path(),
        &source,
        &target,
        "parallel = 4\nchunk_size_mb = 1\n",
    );
    let journal = |s: &TestServer| number(s, "SELECT COUNT(*) FROM bank.journal");

    let before_writers = gtid_seq(&source.gtid_executed());
    let mut writers: Vec<Child> = (1..=3)
        .map(|w| {
            source
                .mariadb()
                .args(["-e", &format!("CALL bank.writer({w})")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for(30, "the writers to commit 300 transfers", || {
        journal(&source) >= 300
    });
    let k_before = journal(&source);
    let manifest = backup(&config);
    let k_after = journal(&source);
    assert!(
        k_after > k_before,
        "the writers committed during the backup ({k_before} → {k_after})"
    );
    let snap = &manifest["logical"]["snapshot"];
    assert_eq!(snap["lock"], snapshot_lock(flavor), "{snap}");
    assert_eq!(snap["connections"], 4, "{snap}");
    assert!(
        chunks_of(&manifest, "bank", "accounts").len() > 1,
        "the accounts span several chunks"
    );
    let point = &manifest["consistent_point"];
    let point_seq = gtid_seq(point["gtid_set"].as_str().unwrap());
    // Some more transfers after the backup, then stop the writers.
    wait_for(30, "more transfers after the backup", || {
        journal(&source) >= k_after + 100
    });
    source.sql("UPDATE bank.halt SET flag = 1");
    for w in &mut writers {
        let start = Instant::now();
        while w.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(30), "a writer ran on");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // The backup alone: the state at one commit point.
    let out = restore_ok(&config, &["--no-binlogs"]);
    assert!(out.stdout.contains("no binlog replayed"), "{out}");
    assert_eq!(
        target.sql("SELECT SUM(balance) FROM bank.accounts"),
        "100000",
        "no money created or lost"
    );
    let k = journal(&target);
    assert!(
        (k_before..=k_after).contains(&k),
        "the restored journal ({k} rows) is between the counts before ({k_before}) and after \
         ({k_after}) the backup"
    );
    if flavor == Flavor::MariaDB {
        assert_eq!(
            target.sql("SELECT COALESCE(MAX(j.id), 0), COALESCE(SUM(j.id), 0), c.n FROM bank.ctr c LEFT JOIN bank.journal j ON TRUE GROUP BY c.n"),
            format!("{k}\t{}\t{k}", k * (k + 1) / 2),
            "the restored journal is exactly the transfers 1..{k}, and the counter says {k}"
        );
    }
    assert_eq!(
        target.sql(
            "SELECT COUNT(*) FROM bank.accounts a WHERE balance <> 1000 \
             + COALESCE((SELECT SUM(amount) FROM bank.journal WHERE dst = a.id), 0) \
             - COALESCE((SELECT SUM(amount) FROM bank.journal WHERE src = a.id), 0)"
        ),
        "0",
        "every balance is the effect of exactly the restored journal"
    );
    // The restored journal rows are source rows: the first k (MariaDB, in commit order), or
    // on MySQL those with the restored ids.
    let restored_ids = match flavor {
        Flavor::MariaDB => format!("id <= {k}"),
        Flavor::MySQL => format!(
            "id IN (0{})",
            target
                .sql("SELECT id FROM bank.journal")
                .lines()
                .map(|i| format!(", {i}"))
                .collect::<String>()
        ),
    };
    let digest = format!(
        "SELECT COUNT(*), SUM(CRC32(CONCAT_WS(',', id, src, dst, amount, writer))) \
         FROM bank.journal WHERE {restored_ids}"
    );
    assert_eq!(
        source.sql(&digest),
        target.sql(&digest),
        "the restored journal rows are the source's ({restored_ids})"
    );
    // The recorded GTID is the point of that state: one GTID per transfer since the writers
    // started.
    assert_eq!(
        point_seq - before_writers,
        k,
        "the consistent point's GTID ({}) is {k} transactions after {before_writers}",
        point["gtid_set"]
    );

    // Replay the archived binlogs from the recorded point to the end: exactly the source.
    // `binlog archive` takes the closed binlogs: close the one the writers wrote to.
    source.sql("FLUSH BINARY LOGS");
    let archived = zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    let out = restore(&config, &["--replace"]);
    assert_eq!(out.code, 0, "{out}\nafter binlog archive:\n{archived}");
    assert!(
        !out.stdout.contains("no binlog replayed") && out.stdout.contains("replayed"),
        "the archived binlogs are replayed:\n{out}\nafter binlog archive:\n{archived}"
    );
    assert_same_data(&source, &target, "bank");
    assert_eq!(journal(&target), journal(&source));
}
}

// ---------------------------------------------------------------------------------------------
// 4. kill -9 during the dump
// ---------------------------------------------------------------------------------------------

#[test]
fn kill9_during_the_dump_leaves_an_incomplete_backup() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::start();
    source.sql(
        "CREATE DATABASE k; CREATE TABLE k.big (id INT PRIMARY KEY, pad VARCHAR(200)); \
         INSERT INTO k.big SELECT seq, REPEAT('b', 200) FROM k.seq_1_to_20000; ANALYZE TABLE k.big; \
         CREATE TABLE k.zz_locked (id INT PRIMARY KEY); INSERT INTO k.zz_locked VALUES (1), (2);",
    );
    let config = support::config_with(
        dir.path(),
        &[("src", &source)],
        "parallel = 1\nchunk_size_mb = 1\n",
    );

    // The one dump connection reads the biggest table first, then blocks on the locked one.
    let mut holder = Client::new(&source);
    holder.send("LOCK TABLES k.zz_locked WRITE");
    assert_eq!(holder.query("SELECT 'locked'"), ["locked"]);
    let mut child = spawn_zrm(&config, &["backup", "--set", "src"]);
    wait_for(30, "the dump to block on k.zz_locked", || {
        source.sql(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE 'SELECT%zz_locked%' AND STATE LIKE '%metadata lock%'",
        ) == "1"
    });
    let backups = dir.path().join("repo/sets/src/backups");
    let ids: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let written: Vec<String> = std::fs::read_dir(backups.join(&ids[0]).join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        written.iter().filter(|f| f.starts_with("k.big.")).count() >= 2,
        "the dump is under way: chunks of k.big are written ({written:?})"
    );
    kill9(&mut child);
    drop(holder);

    assert!(
        !backups.join(&ids[0]).join("manifest.json").exists(),
        "no manifest for a killed backup"
    );
    assert!(backup_ids(&config, "src").is_empty(), "no complete backup");
    let all = zrm_ok(&config, &["list", "--all", "--format", "json"]);
    let entries = json(&all)["backups"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{all}");
    assert_eq!(entries[0]["status"], "incomplete", "{all}");
    assert_eq!(entries[0]["id"], ids[0].as_str(), "{all}");

    // The next backup succeeds (taking over the dead process's lock).
    let out = zrm_ok(&config, &["backup", "--set", "src", "--format", "json"]);
    assert!(out.stderr.contains("took over the lock"), "{out}");
    let m = &json(&out)["backup"];
    assert_eq!(logical_table(m, "k", "big")["rows"], 20000);
    assert_eq!(logical_table(m, "k", "zz_locked")["rows"], 2);
    assert_eq!(backup_ids(&config, "src").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 5. kill -9 during the load, then --resume-load
// ---------------------------------------------------------------------------------------------

#[test]
fn kill9_during_the_load_then_resume_load() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (dir, source, target) = two_servers(Flavor::MariaDB);
    source.sql(
        "CREATE DATABASE r; \
         CREATE TABLE r.a_my (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=MyISAM; \
         INSERT INTO r.a_my SELECT seq, SHA2(seq, 256) FROM r.seq_1_to_15000; \
         CREATE TABLE r.b_inno (id INT PRIMARY KEY, n INT, pad VARCHAR(200), KEY kn (n)); \
         INSERT INTO r.b_inno SELECT seq, seq % 97, CONCAT(SHA2(seq, 256), MD5(seq)) FROM r.seq_1_to_100000; \
         CREATE TABLE r.c_nokey (a INT, b VARCHAR(100)); \
         INSERT INTO r.c_nokey SELECT seq % 10, MD5(seq % 10) FROM r.seq_1_to_30000; \
         ANALYZE TABLE r.a_my, r.b_inno, r.c_nokey;",
    );
    let config = config(dir.path(), &source, &target, "chunk_size_mb = 1\n");
    let manifest = backup(&config);
    let total: usize = ["a_my", "b_inno", "c_nokey"]
        .iter()
        .map(|t| chunks_of(&manifest, "r", t).len())
        .sum();
    assert!(total >= 10, "many chunks: {total}");

    let args = [
        "restore",
        "--set",
        "src",
        "--target",
        "dst",
        "--parallel",
        "2",
    ];
    let mut poll = Client::new(&target);
    let mut child = spawn_zrm(&config, &args);
    let chunks_done = |c: &mut Client| -> usize {
        c.query("SELECT COUNT(*) FROM zrm.restore_progress WHERE item LIKE 'data/%'")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    wait_for(60, "two chunks committed on the target", || {
        chunks_done(&mut poll) >= 2
    });
    kill9(&mut child);
    let done = chunks_done(&mut poll);
    eprintln!("killed the load after {done} of {total} chunks");
    assert!(
        done < total,
        "the kill came before the end of the load ({done} of {total} chunks)"
    );
    assert!(database_exists(&target, "zrm"), "the progress is kept");

    // The same command without --resume-load is refused: the databases are not empty.
    let out = zrm(&config, &args);
    assert_eq!(out.code, 1, "{out}");
    // With --resume-load: the rest, and exactly the source.
    let mut resume = args.to_vec();
    resume.push("--resume-load");
    zrm_ok(&config, &resume);
    assert_same_data(&source, &target, "r");
    let q = "SHOW CREATE TABLE r.b_inno";
    assert_eq!(source.sql(q), target.sql(q), "the deferred index is built");
    assert!(
        !database_exists(&target, "zrm"),
        "the progress database is dropped after the load completes"
    );

    // Nothing to resume: refused, with the reason.
    let out = zrm(&config, &resume);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--resume-load"), "{out}");
    assert!(
        out.stderr.contains("no record of an interrupted load"),
        "{out}"
    );
    assert_same_data(&source, &target, "r");
    assert!(
        !database_exists(&target, "zrm"),
        "a refused --resume-load leaves no zrm database on the target"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. A target with local_infile = OFF
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn target_without_local_infile_loads_with_inserts(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    load_types(&source, dir.path());
    target.sql("SET GLOBAL local_infile = 0");
    let config = config(dir.path(), &source, &target, "chunk_size_mb = 1\n");
    backup(&config);
    let out = restore_ok(&config, &[]);
    assert!(
        out.stderr.contains("local_infile"),
        "a note says why the load is slower:\n{out}"
    );
    assert_same_data(&source, &target, "lt");
    assert_same_objects(&source, &target, "lt");
    match flavor {
        Flavor::MariaDB => {
            for t in ["sv", "sv2"] {
                let q = format!("SELECT id, v FROM lt.{t} ORDER BY id");
                assert_eq!(source.sql(&q), target.sql(&q), "current rows of {t}");
            }
        }
        Flavor::MySQL => support::types::assert_mysql_types(&source, &target, "lt"),
    }
    assert_eq!(
        target.sql("SELECT HEX(bl) FROM lt.strs WHERE id = 1"),
        all_bytes_hex()
    );
    assert!(!database_exists(&target, "zrm"));
}
}

// ---------------------------------------------------------------------------------------------
// 7. A damaged chunk
// ---------------------------------------------------------------------------------------------

#[test]
fn damaged_chunk_fails_the_restore_and_commits_nothing_of_it() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (dir, source, target) = two_servers(Flavor::MariaDB);
    // Hashes compress little: positions in the stored file map to positions in the data.
    source.sql(
        "CREATE DATABASE dmg; \
         CREATE TABLE dmg.t (id INT PRIMARY KEY, pad VARCHAR(200)); \
         INSERT INTO dmg.t SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1000000, 256)) FROM dmg.seq_1_to_80000; \
         CREATE TABLE dmg.m (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=MyISAM; \
         INSERT INTO dmg.m SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1000000, 256)) FROM dmg.seq_1_to_25000; \
         ANALYZE TABLE dmg.t, dmg.m;",
    );
    let config = config(dir.path(), &source, &target, "chunk_size_mb = 4\n");
    let manifest = backup(&config);
    let bdir = backup_dir(dir.path(), &manifest);
    let t_chunks = chunks_of(&manifest, "dmg", "t");
    assert!(t_chunks.len() >= 3, "{t_chunks:?}");
    let m_chunks = chunks_of(&manifest, "dmg", "m");
    assert_eq!(m_chunks.len(), 1, "{m_chunks:?}");

    // InnoDB: the second chunk of t is damaged in its middle.
    let victim = t_chunks[1]["path"].as_str().unwrap().to_string();
    let keys = chunk_keys(&bdir.join(&victim));
    assert_eq!(keys.len() as u64, t_chunks[1]["rows"].as_u64().unwrap());
    let (lo, hi) = (keys.first().unwrap(), keys.last().unwrap());
    let original = std::fs::read(bdir.join(&victim)).unwrap();
    damage(&bdir.join(&victim), 0.5);
    let out = restore(&config, &["--parallel", "1"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&victim),
        "the error names {victim}:\n{out}"
    );
    assert!(out.stderr.contains("damaged"), "{out}");
    assert_eq!(
        target.sql(&format!(
            "SELECT COUNT(*) FROM dmg.t WHERE id BETWEEN {lo} AND {hi}"
        )),
        "0",
        "nothing of the damaged chunk ({lo}..{hi}) is committed"
    );
    let loaded = number(&target, "SELECT COUNT(*) FROM dmg.t");
    assert!(
        loaded <= 80_000 - keys.len() as i64,
        "{loaded} rows of t loaded"
    );

    // MyISAM (no rollback): its one chunk (several MiB, streamed in blocks) damaged near its
    // end. Nothing of it may reach the table either.
    std::fs::write(bdir.join(&victim), &original).unwrap();
    target.sql("DROP DATABASE dmg; DROP DATABASE IF EXISTS zrm");
    let mvictim = m_chunks[0]["path"].as_str().unwrap().to_string();
    assert!(
        m_chunks[0]["bytes"].as_u64().unwrap() > 3 << 20,
        "{m_chunks:?}"
    );
    damage(&bdir.join(&mvictim), 0.9);
    let out = restore(&config, &["--parallel", "1"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(&mvictim),
        "the error names {mvictim}:\n{out}"
    );
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM dmg.m"),
        "0",
        "nothing of the damaged MyISAM chunk is in the table, as the error says:\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. The snapshot lock: none with one connection, short with several, and its timeout
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn snapshot_lock_is_reported_and_times_out_cleanly(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    source.sql(
        "CREATE DATABASE lk; \
         CREATE TABLE lk.a (id INT PRIMARY KEY); INSERT INTO lk.a VALUES (1), (2); \
         CREATE TABLE lk.b (id INT PRIMARY KEY); INSERT INTO lk.b VALUES (1); \
         CREATE TABLE lk.c (id INT PRIMARY KEY); CREATE TABLE lk.d (id INT PRIMARY KEY); \
         CREATE TABLE lk.my (id INT PRIMARY KEY, v INT) ENGINE=MyISAM; \
         INSERT INTO lk.my VALUES (1, 1);",
    );
    let set = |defaults: &str| support::config_with(dir.path(), &[("src", &source)], defaults);

    // One connection needs no lock on MariaDB (its snapshot has its own coordinates); MySQL
    // has none, so even one connection reads them under the lock.
    let config = set("parallel = 1\n");
    let m = backup(&config);
    let snap = &m["logical"]["snapshot"];
    let single = match flavor {
        Flavor::MariaDB => "none",
        Flavor::MySQL => "FLUSH TABLES WITH READ LOCK",
    };
    assert_eq!(snap["lock"], single, "{snap}");
    assert_eq!(snap["connections"], 1, "{snap}");
    assert_eq!(
        m["logical"]["non_transactional"],
        serde_json::json!(["lk.my"])
    );

    let config = set("parallel = 4\n");
    let m = backup(&config);
    let snap = &m["logical"]["snapshot"];
    assert_eq!(snap["lock"], snapshot_lock(flavor), "{snap}");
    assert_eq!(snap["connections"], 4, "{snap}");
    let hold = snap["lock_hold_ms"].as_u64().unwrap();
    assert!(hold < 1000, "commits blocked for {hold} ms");
    assert_eq!(m["read_lock_ms"], hold, "{m:#}");
    let complete = backup_ids(&config, "src").len();
    assert_eq!(complete, 2);

    let config = set("parallel = 4\nlock_timeout = 1\n");
    let backups = dir.path().join("repo/sets/src/backups");
    let dirs = || std::fs::read_dir(&backups).unwrap().count();
    let check_refused = |out: &Output, what: &str| {
        assert_eq!(out.code, 1, "{what}:\n{out}");
        assert!(
            out.stderr
                .contains(&format!("could not take {}", snapshot_lock(flavor))),
            "{what}:\n{out}"
        );
        assert!(out.stderr.contains("attempts of 1s each"), "{what}:\n{out}");
        assert_eq!(dirs(), complete, "{what}: nothing left in the repository");
        assert_eq!(backup_ids(&config, "src").len(), complete);
    };

    // a. Another session holds a lock the backup's lock waits for, idle: a backup stage on
    //    MariaDB, a table write lock on MySQL (FLUSH TABLES WITH READ LOCK waits for it).
    let (hold, what, release) = match flavor {
        Flavor::MariaDB => (
            "BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT",
            "an idle session in BACKUP STAGE BLOCK_COMMIT",
            "BACKUP STAGE END",
        ),
        Flavor::MySQL => (
            "LOCK TABLES lk.a WRITE",
            "an idle session holding LOCK TABLES … WRITE",
            "UNLOCK TABLES",
        ),
    };
    let mut blocker = Client::new(&source);
    for q in hold.split("; ") {
        blocker.send(q);
    }
    assert_eq!(blocker.query("SELECT 'held'"), ["held"]);
    let started = Instant::now();
    let out = zrm(&config, &["backup", "--set", "src"]);
    let took = started.elapsed();
    check_refused(&out, what);
    assert!(
        out.stderr.contains("no other statement was running"),
        "{out}"
    );
    assert!(took < Duration::from_secs(15), "refused after {took:?}");
    assert_eq!(
        blocker.query(&format!("{release}; SELECT 'released'")),
        ["released"]
    );
    drop(blocker);

    // b. A long write to a non-transactional table: the message names it.
    let mut writer = Client::new(&source);
    writer.send("UPDATE lk.my SET v = SLEEP(20)");
    wait_for(10, "the slow UPDATE to run", || {
        source.sql(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE lk.my%'",
        ) == "1"
    });
    let out = zrm(&config, &["backup", "--set", "src"]);
    check_refused(&out, "a running UPDATE of a MyISAM table");
    assert!(
        out.stderr.contains("UPDATE lk.my SET v = SLEEP(20)"),
        "the message names the running statement:\n{out}"
    );
    let id =
        source.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE lk.my%'");
    source.sql(&format!("KILL QUERY {id}"));
    drop(writer);

    // Released: the next backup works.
    let m = backup(&config);
    assert_eq!(m["logical"]["snapshot"]["lock"], snapshot_lock(flavor));
    assert_eq!(backup_ids(&config, "src").len(), complete + 1);
}
}

/// On MySQL the snapshots line up under FLUSH TABLES WITH READ LOCK, which cannot be had while
/// writers queue on one hot row (the waiting lock stops the next statement of the row's holder).
/// The backup must then fail with the reason, stalling the writers only for its short tries,
/// and leave nothing behind; the writers go on.
#[test]
fn ftwrl_waits_briefly_behind_a_hot_row_and_says_why() {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(Flavor::MySQL);
    load_sql(
        &source,
        dir.path(),
        "bank.sql",
        {
            // The MariaDB writer: every transfer takes the counter row first.
            let sql = BANK_SQL.replace("@AUTO@", "").replace(
            "@TAKE_ID@",
            "UPDATE ctr SET n = n + 1 WHERE id = 1;\n    SELECT n INTO k FROM ctr WHERE id = 1;",
        );
            with_seqs(&source, &sql)
        }
        .as_bytes(),
    );
    let config = support::config_with(dir.path(), &[("src", &source)], "lock_timeout = 6\n");
    let count = || number(&source, "SELECT COUNT(*) FROM bank.journal");
    let mut writers: Vec<Child> = (1..=3)
        .map(|w| {
            source
                .client()
                .args(["-e", &format!("CALL bank.writer({w})")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for(30, "the writers to commit 100 transfers", || count() >= 100);
    let started = Instant::now();
    let out = zrm(&config, &["backup", "--set", "src"]);
    let took = started.elapsed();
    let after = count();
    wait_for(10, "the writers to go on after the refused backup", || {
        count() > after + 50
    });
    source.sql("UPDATE bank.halt SET flag = 1");
    for w in &mut writers {
        let _ = w.wait();
    }
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("could not take FLUSH TABLES WITH READ LOCK")
            && out.stderr.contains("3 attempts of 2s each"),
        "{out}"
    );
    assert!(
        out.stderr.contains("UPDATE ctr SET n = n + 1"),
        "the message names the queued statements:\n{out}"
    );
    assert!(
        out.stderr.contains("row lock"),
        "the message says why:\n{out}"
    );
    assert!(took < Duration::from_secs(15), "refused after {took:?}");
    assert!(backup_ids(&config, "src").is_empty());
}

// ---------------------------------------------------------------------------------------------
// 9. Accounts
// ---------------------------------------------------------------------------------------------

fn grants(server: &TestServer, account: &str) -> String {
    server.sql(&format!(
        "SHOW CREATE USER {account}; SHOW GRANTS FOR {account}"
    ))
}

flavor_tests! {
fn include_users_restores_accounts_and_grants(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO app.t VALUES (1, 1); \
         CREATE USER 'appuser'@'%' IDENTIFIED BY 'S3cret pw!' WITH MAX_QUERIES_PER_HOUR 100; \
         GRANT SELECT, INSERT ON app.* TO 'appuser'@'%'; \
         GRANT UPDATE (v) ON app.t TO 'appuser'@'%'; \
         CREATE USER 'appuser'@'localhost' IDENTIFIED BY 'S3cret pw!'; \
         GRANT SELECT ON app.t TO 'appuser'@'localhost' WITH GRANT OPTION; \
         GRANT RELOAD, PROCESS ON *.* TO 'appuser'@'localhost'; \
         CREATE USER 'nopass'@'10.0.0.%';",
    );
    let accounts = [
        "'appuser'@'%'",
        "'appuser'@'localhost'",
        "'nopass'@'10.0.0.%'",
    ];
    let config = config(dir.path(), &source, &target, "include_users = true\n");
    backup(&config);
    restore_ok(&config, &[]);
    assert_same_data(&source, &target, "app");
    for a in accounts {
        assert_eq!(grants(&source, a), grants(&target, a), "account {a}");
    }
    // The password came along: the account logs in on the target.
    let out = support::run(
        std::process::Command::new(flavor.client_program())
            .arg("--no-defaults")
            .arg(format!("--socket={}", target.socket().display()))
            .args([
                "-uappuser",
                "-pS3cret pw!",
                "--batch",
                "--skip-column-names",
            ])
            .args(["-e", "SELECT CURRENT_USER(), COUNT(*) FROM app.t"]),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim(), "appuser@localhost\t1");
}
}

flavor_tests! {
/// Roles are rows of mysql.user too (Host ''), but SHOW CREATE USER does not know them.
fn include_users_with_a_role(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    let default_role = match flavor {
        Flavor::MariaDB => "SET DEFAULT ROLE reader FOR 'appuser'@'%'",
        Flavor::MySQL => "SET DEFAULT ROLE reader TO 'appuser'@'%'",
    };
    source.sql(&format!(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); \
         CREATE ROLE reader; GRANT SELECT ON app.* TO reader; \
         CREATE USER 'appuser'@'%' IDENTIFIED BY 'pw'; GRANT reader TO 'appuser'@'%'; \
         {default_role};",
    ));
    let config = config(dir.path(), &source, &target, "include_users = true\n");
    backup(&config);
    restore_ok(&config, &[]);
    for a in ["'appuser'@'%'", "reader"] {
        let q = format!("SHOW GRANTS FOR {a}");
        assert_eq!(source.sql(&q), target.sql(&q), "{a}");
    }
}
}

flavor_tests! {
/// The dump reads rows with zrm's own wire-protocol reader, or with the general driver when the
/// server wants an authentication the reader does not speak. Both must write the same bytes:
/// the same per-table checksums and chunk hashes, here through a password account over TCP
/// (mysql_native_password, the reader's path) and through the driver (forced).
fn both_row_readers_write_identical_chunks(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::of(flavor);
    load_types(&source, dir.path());
    source.sql(
        "CREATE USER dumper@'127.0.0.1' IDENTIFIED BY 'p#ss w0rd\\'\"x'; \
         GRANT ALL ON *.* TO dumper@'127.0.0.1';",
    );
    let pw = dir.path().join("dumper.pass");
    support::write_private(&pw, b"p#ss w0rd'\"x\n");
    let body = format!(
        "[repository]\npath = \"repo\"\n[defaults]\nparallel = 2\nchunk_size_mb = 1\n\
         [sets.src]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"dumper\"\npassword_file = \"{}\"\n",
        source.port(),
        pw.display()
    );
    let config = support::write_config(dir.path(), &body);
    let fast = backup(&config);
    let mut cmd = support::zrm();
    cmd.env("ZRM_DUMP_READER", "driver")
        .arg("--config")
        .arg(&config)
        .args(["backup", "--set", "src", "--format", "json"]);
    let out = support::run(&mut cmd);
    assert_eq!(out.code, 0, "{out}");
    let driver = json(&out)["backup"].clone();
    let sums = |m: &Value| -> BTreeMap<String, (Value, Value)> {
        m["logical"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    format!("{}.{}", t["database"], t["name"]),
                    (t["rows"].clone(), t["checksum"].clone()),
                )
            })
            .collect()
    };
    assert!(!sums(&fast).is_empty());
    assert_eq!(sums(&fast), sums(&driver), "per-table rows and checksums");
    // Chunk numbers are handed out as the workers get to the ranges, so compare each table's
    // chunk sizes as a sorted list.
    let chunk_sizes = |m: &Value| -> BTreeMap<String, Vec<u64>> {
        let mut by_table: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for t in m["logical"]["tables"].as_array().unwrap() {
            let mut sizes: Vec<u64> = t["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["bytes"].as_u64().unwrap())
                .collect();
            sizes.sort_unstable();
            by_table.insert(format!("{}.{}", t["database"], t["name"]), sizes);
        }
        by_table
    };
    assert_eq!(
        chunk_sizes(&fast),
        chunk_sizes(&driver),
        "chunk sizes per table"
    );
}
}

// ---------------------------------------------------------------------------------------------
// 10. Load regressions: a statement failing before it reads the file, changed data, foreign
//     keys to a unique index, MERGE tables, resuming without deferred indexes, long names,
//     ENUM '' through INSERTs
// ---------------------------------------------------------------------------------------------

/// `zrm --config C <args>` with its output captured, waiting at most `secs`: a zrm still
/// running then is killed and the test fails (a hang, not a slow run).
fn zrm_within(config: &Path, args: &[&str], secs: u64, dir: &Path) -> Output {
    let (out_path, err_path) = (dir.join("zrm.stdout"), dir.join("zrm.stderr"));
    let mut child = support::zrm()
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "zrm {args:?} still ran after {secs}s: it hangs; stderr so far:\n{}",
                String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    Output {
        code,
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
    }
}

/// The statement of `zrm.restore_progress` exactly as the load creates it.
const PROGRESS_DDL: &str = "CREATE DATABASE IF NOT EXISTS `zrm`; \
    CREATE TABLE IF NOT EXISTS `zrm`.`restore_progress` (\
      backup_id VARCHAR(64) CHARACTER SET ascii NOT NULL, \
      item VARBINARY(1024) NOT NULL, \
      done_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
      PRIMARY KEY (backup_id, item)) ENGINE=InnoDB \
      COMMENT='zrm: what an interrupted restore already loaded; dropped when it completes'";

/// Makes the target look like a load of `manifest` interrupted after `items` (e.g. "schema"
/// and some chunk paths): the progress table holds exactly these rows for the backup.
fn fake_progress(target: &TestServer, manifest: &Value, items: &[&str]) {
    let id = manifest["id"].as_str().unwrap();
    let mut sql = format!(
        "{PROGRESS_DDL}; DELETE FROM zrm.restore_progress WHERE backup_id = {};",
        support::quote(id)
    );
    // A real load first claims every database it writes (`database:<name>`).
    let claims: Vec<String> = manifest["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("database:{}", d["name"].as_str().unwrap()))
        .collect();
    for item in items
        .iter()
        .copied()
        .chain(claims.iter().map(String::as_str))
    {
        sql.push_str(&format!(
            "INSERT INTO zrm.restore_progress (backup_id, item) VALUES ({}, {});",
            support::quote(id),
            support::quote(item)
        ));
    }
    target.sql(&sql);
}

flavor_tests! {
/// A LOAD DATA the server refuses before it asks for the file (here: no INSERT privilege)
/// must fail the restore with that error, not leave the chunk's reader waiting for ever.
fn load_data_refused_before_reading_the_file_fails_without_hanging(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    // ~12 MiB of hashes (little to compress) in one chunk: many more 1 MiB blocks than the
    // reader can queue before someone takes them.
    source.sql(&format!(
        "CREATE DATABASE nopriv; \
         CREATE TABLE nopriv.t (id INT PRIMARY KEY, pad VARCHAR(700)); \
         INSERT INTO nopriv.t SELECT seq, CONCAT(SHA2(seq, 512), SHA2(seq + 1, 512), \
           SHA2(seq + 2, 512), SHA2(seq + 3, 512), SHA2(seq + 4, 512)) FROM {}; \
         ANALYZE TABLE nopriv.t;",
        source.seq(20_000)
    ));
    target.create_user(
        "loader",
        "l0ader pw",
        "CREATE, DROP, ALTER, INDEX, SELECT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, \
         ALTER ROUTINE, EVENT, TRIGGER, REFERENCES",
    );
    target.sql("GRANT ALL ON zrm.* TO 'loader'@'%'; GRANT ALL ON zrm.* TO 'loader'@'localhost';");
    let pw = support::write_password_file(dir.path(), "l0ader pw");
    let body = format!(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n\
         [sets.src]\nsocket = \"{}\"\n\n\
         [sets.dst]\nsocket = \"{}\"\nuser = \"loader\"\npassword_file = \"{}\"\n",
        source.socket().display(),
        target.socket().display(),
        pw.display()
    );
    let config = support::write_config(dir.path(), &body);
    let manifest = backup(&config);
    let chunks = chunks_of(&manifest, "nopriv", "t");
    assert_eq!(chunks.len(), 1, "one chunk at the default size: {chunks:?}");
    assert_eq!(logical_table(&manifest, "nopriv", "t")["rows"], 20000);
    let path = chunks[0]["path"].as_str().unwrap().to_string();
    assert!(
        chunk_text(&backup_dir(dir.path(), &manifest).join(&path)).len() > 10 << 20,
        "the chunk holds more than 10 MiB of data"
    );

    let args = [
        "restore",
        "--set",
        "src",
        "--target",
        "dst",
        "--log-bin",
        "--parallel",
        "1",
    ];
    let started = Instant::now();
    let out = zrm_within(&config, &args, 60, dir.path());
    eprintln!(
        "the refused load failed after {:?}:\n{}",
        started.elapsed(),
        out.stderr
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("INSERT") && out.stderr.contains("denied"),
        "the error says INSERT was denied:\n{out}"
    );
    assert!(out.stderr.contains(&path), "the error names {path}:\n{out}");
    assert_eq!(target.sql("SELECT COUNT(*) FROM nopriv.t"), "0");
}
}

flavor_tests! {
/// LOAD DATA LOCAL implies IGNORE: a value too long for the target's column is cut with a
/// warning, a duplicate key is skipped with one. A resumed load into such a table must fail
/// and roll the chunk back, not commit other data than the backup's.
fn changed_data_is_refused_not_silently_truncated(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "CREATE DATABASE chg; \
         CREATE TABLE chg.t (id INT PRIMARY KEY, v VARCHAR(10)); \
         INSERT INTO chg.t VALUES (1, 'abcdefgh'), (2, 'ijklmnop'), (3, 'qrstuvwx'); \
         CREATE TABLE chg.u (id INT PRIMARY KEY, k INT); \
         INSERT INTO chg.u VALUES (1, 5), (2, 5), (3, 6);",
    );
    let config = config(dir.path(), &source, &target, "");
    let manifest = backup(&config);
    let t_chunks = chunks_of(&manifest, "chg", "t");
    let u_chunks = chunks_of(&manifest, "chg", "u");
    assert_eq!((t_chunks.len(), u_chunks.len()), (1, 1), "{manifest:#}");
    let t_chunk = t_chunks[0]["path"].as_str().unwrap().to_string();
    let u_chunk = u_chunks[0]["path"].as_str().unwrap().to_string();
    restore_ok(&config, &[]);
    assert_same_data(&source, &target, "chg");

    // a. The column got shorter on the target: the values would be cut.
    target.sql("TRUNCATE TABLE chg.t; ALTER TABLE chg.t MODIFY v VARCHAR(3)");
    fake_progress(&target, &manifest, &["schema", &u_chunk]);
    let out = restore(&config, &["--resume-load"]);
    assert_eq!(out.code, 1, "a truncating load must fail:\n{out}");
    assert!(out.stderr.contains("changed the data"), "{out}");
    assert!(
        out.stderr.contains(&t_chunk),
        "the error names {t_chunk}:\n{out}"
    );
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM chg.t"),
        "0",
        "the chunk was rolled back: no cut values committed"
    );

    // b. A UNIQUE index on the target that the data violates: LOAD DATA LOCAL would skip
    //    the duplicate row. (A row of the target's own keeps the table non-empty, so that
    //    InnoDB checks row by row rather than in its bulk path for an empty table.)
    target.sql(
        "ALTER TABLE chg.t MODIFY v VARCHAR(10); TRUNCATE TABLE chg.u; \
         ALTER TABLE chg.u ADD UNIQUE KEY uk (k); INSERT INTO chg.u VALUES (100, 100)",
    );
    fake_progress(&target, &manifest, &["schema", &t_chunk]);
    let out = restore(&config, &["--resume-load"]);
    assert_eq!(
        out.code, 1,
        "a load that skips duplicate rows must fail:\n{out}"
    );
    assert!(out.stderr.contains("changed the data"), "{out}");
    assert!(
        out.stderr.contains(&u_chunk),
        "the error names {u_chunk}:\n{out}"
    );
    assert_eq!(
        target.sql("SELECT id FROM chg.u"),
        "100",
        "the chunk was rolled back: no partial table committed"
    );

    // c. The same into an empty table (InnoDB's bulk path finds the duplicate at the end of
    //    the statement): refused and rolled back as well.
    target.sql("TRUNCATE TABLE chg.u");
    fake_progress(&target, &manifest, &["schema", &t_chunk]);
    let out = restore(&config, &["--resume-load"]);
    assert_eq!(
        out.code, 1,
        "a load that skips duplicate rows must fail:\n{out}"
    );
    assert!(
        out.stderr.contains(&u_chunk),
        "the error names {u_chunk}:\n{out}"
    );
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM chg.u"),
        "0",
        "the chunk was rolled back: no partial table committed\n{out}"
    );
}
}

flavor_tests! {
/// A foreign key may reference a UNIQUE (not primary) key of its parent: that index must
/// exist when the child is created, so it cannot wait for the deferred ALTER.
fn foreign_key_to_a_unique_index_of_the_parent(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "CREATE DATABASE fku; \
         CREATE TABLE fku.a_parent (id INT PRIMARY KEY, code INT, UNIQUE KEY (code)); \
         INSERT INTO fku.a_parent VALUES (1, 100), (2, 200), (3, 300); \
         CREATE TABLE fku.b_child (id INT PRIMARY KEY, code INT, \
           FOREIGN KEY (code) REFERENCES fku.a_parent (code)); \
         INSERT INTO fku.b_child VALUES (1, 100), (2, 300), (3, NULL), (4, 100);",
    );
    let config = config(dir.path(), &source, &target, "");
    backup(&config);
    restore_ok(&config, &[]);
    assert_same_data(&source, &target, "fku");
    assert_same_objects(&source, &target, "fku");
    for t in ["a_parent", "b_child"] {
        let q = format!("SHOW CREATE TABLE fku.{t}");
        assert_eq!(source.sql(&q), target.sql(&q), "{t}");
    }
    assert!(
        target
            .try_sql("INSERT INTO fku.b_child VALUES (9, 999)")
            .is_err(),
        "the restored foreign key is enforced"
    );
}
}

/// Sakila's shape: 16 tables tied by foreign keys, one pair in a cycle (store ↔ staff).
const FK_WEB_SQL: &str = r#"
CREATE TABLE language (language_id INT PRIMARY KEY, name CHAR(20) NOT NULL);
CREATE TABLE actor (actor_id INT PRIMARY KEY, name VARCHAR(45) NOT NULL);
CREATE TABLE category (category_id INT PRIMARY KEY, name VARCHAR(25) NOT NULL);
CREATE TABLE country (country_id INT PRIMARY KEY, country VARCHAR(50) NOT NULL);
CREATE TABLE city (city_id INT PRIMARY KEY, city VARCHAR(50) NOT NULL, country_id INT NOT NULL,
  CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id));
CREATE TABLE address (address_id INT PRIMARY KEY, address VARCHAR(50) NOT NULL, city_id INT NOT NULL,
  CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id));
CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(128) NOT NULL, language_id INT NOT NULL,
  original_language_id INT NULL,
  CONSTRAINT fk_film_language FOREIGN KEY (language_id) REFERENCES language (language_id),
  CONSTRAINT fk_film_language_original FOREIGN KEY (original_language_id) REFERENCES language (language_id));
CREATE TABLE film_actor (actor_id INT NOT NULL, film_id INT NOT NULL, PRIMARY KEY (actor_id, film_id),
  CONSTRAINT fk_film_actor_actor FOREIGN KEY (actor_id) REFERENCES actor (actor_id),
  CONSTRAINT fk_film_actor_film FOREIGN KEY (film_id) REFERENCES film (film_id));
CREATE TABLE film_category (film_id INT NOT NULL, category_id INT NOT NULL, PRIMARY KEY (film_id, category_id),
  CONSTRAINT fk_film_category_film FOREIGN KEY (film_id) REFERENCES film (film_id),
  CONSTRAINT fk_film_category_category FOREIGN KEY (category_id) REFERENCES category (category_id));
CREATE TABLE staff (staff_id INT PRIMARY KEY, name VARCHAR(45) NOT NULL, address_id INT NOT NULL,
  store_id INT NOT NULL,
  CONSTRAINT fk_staff_address FOREIGN KEY (address_id) REFERENCES address (address_id));
CREATE TABLE store (store_id INT PRIMARY KEY, manager_staff_id INT NOT NULL, address_id INT NOT NULL,
  CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id),
  CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id));
ALTER TABLE staff ADD CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id);
CREATE TABLE customer (customer_id INT PRIMARY KEY, store_id INT NOT NULL, name VARCHAR(45) NOT NULL,
  address_id INT NOT NULL,
  CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id),
  CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id));
CREATE TABLE inventory (inventory_id INT PRIMARY KEY, film_id INT NOT NULL, store_id INT NOT NULL,
  CONSTRAINT fk_inventory_film FOREIGN KEY (film_id) REFERENCES film (film_id),
  CONSTRAINT fk_inventory_store FOREIGN KEY (store_id) REFERENCES store (store_id));
CREATE TABLE rental (rental_id INT PRIMARY KEY, inventory_id INT NOT NULL, customer_id INT NOT NULL,
  staff_id INT NOT NULL,
  CONSTRAINT fk_rental_inventory FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id),
  CONSTRAINT fk_rental_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id),
  CONSTRAINT fk_rental_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id));
CREATE TABLE payment (payment_id INT PRIMARY KEY, customer_id INT NOT NULL, staff_id INT NOT NULL,
  rental_id INT NULL, amount DECIMAL(5,2) NOT NULL,
  CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id),
  CONSTRAINT fk_payment_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id),
  CONSTRAINT fk_payment_rental FOREIGN KEY (rental_id) REFERENCES rental (rental_id));
SET FOREIGN_KEY_CHECKS = 0;
INSERT INTO language VALUES (1, 'English'), (2, 'Italian');
INSERT INTO actor VALUES (1, 'PENELOPE'), (2, 'NICK');
INSERT INTO category VALUES (1, 'Action');
INSERT INTO country VALUES (1, 'Japan');
INSERT INTO city VALUES (1, 'Tokyo', 1);
INSERT INTO address VALUES (1, '47 MySakila Drive', 1), (2, '28 MySQL Boulevard', 1);
INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR', 1, 2);
INSERT INTO film_actor VALUES (1, 1), (2, 1);
INSERT INTO film_category VALUES (1, 1);
INSERT INTO staff VALUES (1, 'Mike', 1, 1);
INSERT INTO store VALUES (1, 1, 2);
INSERT INTO customer VALUES (1, 1, 'MARY', 2);
INSERT INTO inventory VALUES (1, 1, 1);
INSERT INTO rental VALUES (1, 1, 1, 1);
INSERT INTO payment VALUES (1, 1, 1, 1, 2.99), (2, 1, 1, NULL, 0.99);
SET FOREIGN_KEY_CHECKS = 1;
"#;

flavor_tests! {
/// Restoring Sakila on MySQL failed: "creating table sakila.staff … ERROR 1213 (40001):
/// Deadlock found when trying to get lock" (creating a table with a foreign key takes
/// metadata locks on its parents, so tables of one foreign-key web created in parallel
/// deadlock). Eight databases of that web, restored with eight connections, twice.
fn foreign_key_webs_restore_in_parallel_without_deadlock(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    let mut sql = String::new();
    for i in 0..8 {
        sql.push_str(&format!("CREATE DATABASE fkweb{i};\nUSE fkweb{i};\n{FK_WEB_SQL}\n"));
    }
    load_sql(&source, dir.path(), "fkweb.sql", sql.as_bytes());
    let config = config(dir.path(), &source, &target, "parallel = 8\n");
    backup(&config);
    for round in 0..2 {
        let extra: &[&str] = if round == 0 { &[] } else { &["--replace"] };
        let out = restore(&config, extra);
        assert_eq!(out.code, 0, "round {round}:\n{out}");
    }
    for i in [0, 7] {
        let db = format!("fkweb{i}");
        assert_same_data(&source, &target, &db);
        assert_same_objects(&source, &target, &db);
    }
    assert!(
        target
            .try_sql("INSERT INTO fkweb3.rental VALUES (2, 99, 1, 1)")
            .is_err(),
        "the restored foreign keys are enforced"
    );
}
}

flavor_tests! {
/// A MERGE table shows the rows of its underlying tables: they are backed up once, with the
/// underlying tables, never again through the MERGE table.
fn merge_tables_are_not_loaded_twice(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "CREATE DATABASE mg; \
         CREATE TABLE mg.m1 (id INT NOT NULL, v VARCHAR(10), KEY (id)) ENGINE=MyISAM; \
         CREATE TABLE mg.m2 (id INT NOT NULL, v VARCHAR(10), KEY (id)) ENGINE=MyISAM; \
         INSERT INTO mg.m1 VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
         INSERT INTO mg.m2 VALUES (4, 'd'), (5, 'e'); \
         USE mg; \
         CREATE TABLE mall (id INT NOT NULL, v VARCHAR(10), KEY (id)) \
           ENGINE=MERGE UNION=(m1, m2) INSERT_METHOD=LAST;",
    );
    let config = config(dir.path(), &source, &target, "");
    let manifest = backup(&config);
    let mall = logical_table(&manifest, "mg", "mall");
    assert_eq!(
        mall["chunks"].as_array().map(Vec::len),
        Some(0),
        "the MERGE table has no chunks of its own: {mall}"
    );
    restore_ok(&config, &[]);
    for t in ["m1", "m2", "mall"] {
        let q = format!("SELECT COUNT(*) FROM mg.{t}");
        assert_eq!(source.sql(&q), target.sql(&q), "rows of {t}");
    }
    assert_eq!(target.sql("SELECT COUNT(*) FROM mg.mall"), "5");
    assert_same_data(&source, &target, "mg");
    assert_same_objects(&source, &target, "mg");
}
}

/// A load interrupted after its schema phase created the tables without their secondary
/// indexes; resuming it with --no-defer-indexes must still build them.
#[test]
fn resume_load_with_no_defer_indexes_keeps_the_indexes() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (dir, source, target) = two_servers(Flavor::MariaDB);
    source.sql(
        "CREATE DATABASE rn; \
         CREATE TABLE rn.t (id INT PRIMARY KEY, n INT, pad VARCHAR(200), KEY kn (n)); \
         INSERT INTO rn.t SELECT seq, seq % 97, CONCAT(SHA2(seq, 256), MD5(seq)) \
           FROM rn.seq_1_to_60000; \
         ANALYZE TABLE rn.t;",
    );
    let config = config(dir.path(), &source, &target, "chunk_size_mb = 1\n");
    let manifest = backup(&config);
    let total = chunks_of(&manifest, "rn", "t").len();
    assert!(total >= 4, "several chunks: {total}");

    let args = [
        "restore",
        "--set",
        "src",
        "--target",
        "dst",
        "--parallel",
        "1",
    ];
    let mut poll = Client::new(&target);
    let chunks_done = |c: &mut Client| -> usize {
        c.query("SELECT COUNT(*) FROM zrm.restore_progress WHERE item LIKE 'data/%'")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut child = spawn_zrm(&config, &args);
    wait_for(60, "a chunk committed on the target", || {
        chunks_done(&mut poll) >= 1
    });
    kill9(&mut child);
    let done = chunks_done(&mut poll);
    assert!(done < total, "killed before the end ({done} of {total})");
    assert_eq!(
        target.sql(
            "SELECT COUNT(*) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = 'rn' AND TABLE_NAME = 't' AND INDEX_NAME = 'kn'"
        ),
        "0",
        "the first run deferred the index (else this test proves nothing)"
    );

    let mut resume = args.to_vec();
    resume.extend(["--resume-load", "--no-defer-indexes"]);
    zrm_ok(&config, &resume);
    assert_eq!(
        target.sql(
            "SELECT COUNT(*) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = 'rn' AND TABLE_NAME = 't' AND INDEX_NAME = 'kn'"
        ),
        "1",
        "the secondary index is built"
    );
    assert_same_objects(&source, &target, "rn");
    assert_same_data(&source, &target, "rn");
    assert!(!database_exists(&target, "zrm"));
}

flavor_tests! {
/// Long names of multi-byte characters: chunk file names stay short (and distinct for names
/// that differ only at their end), and the data comes back.
fn long_non_ascii_names(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    let db = "продажи";
    let stem: String = "ежемесячныепродажипорегионам"
        .chars()
        .cycle()
        .take(59)
        .collect();
    let (a, b) = (format!("{stem}а"), format!("{stem}б"));
    assert_eq!(a.chars().count(), 60);
    source.sql(&format!(
        "SET NAMES utf8mb4; \
         CREATE DATABASE `{db}` CHARACTER SET utf8mb4; \
         CREATE TABLE `{db}`.`{a}` (id INT PRIMARY KEY, `имя` VARCHAR(50)) CHARACTER SET utf8mb4; \
         CREATE TABLE `{db}`.`{b}` (id INT PRIMARY KEY, `имя` VARCHAR(50)) CHARACTER SET utf8mb4; \
         INSERT INTO `{db}`.`{a}` VALUES (1, 'один'), (2, 'два'), (3, NULL); \
         INSERT INTO `{db}`.`{b}` VALUES (10, 'десять'), (20, 'двадцать');"
    ));
    let config = config(dir.path(), &source, &target, "");
    let manifest = backup(&config);
    let bdir = backup_dir(dir.path(), &manifest);
    let mut paths = Vec::new();
    for t in manifest["logical"]["tables"].as_array().unwrap() {
        for c in t["chunks"].as_array().unwrap() {
            let p = c["path"].as_str().unwrap().to_string();
            assert!(p.len() < 200, "chunk path of {} bytes: {p}", p.len());
            assert!(bdir.join(&p).is_file(), "{p}");
            paths.push(p);
        }
    }
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_ne!(paths[0], paths[1], "distinct tables, distinct files");
    assert_eq!(chunks_of(&manifest, db, &a).len(), 1);
    assert_eq!(chunks_of(&manifest, db, &b).len(), 1);

    restore_ok(&config, &[]);
    for t in [&a, &b] {
        let q = format!(
            "SET NAMES utf8mb4; CHECKSUM TABLE `{db}`.`{t}`; SELECT * FROM `{db}`.`{t}` ORDER BY id"
        );
        let (x, y) = (source.sql(&q), target.sql(&q));
        assert!(x.contains('\t'), "{x}");
        assert_eq!(x, y, "{db}.{t}");
    }
    let q = format!(
        "SET NAMES utf8mb4; SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = '{db}' ORDER BY 1"
    );
    assert_eq!(source.sql(&q), target.sql(&q));
    assert_eq!(target.sql(&q).lines().count(), 2);
}
}

flavor_tests! {
/// The ENUM '' that a lax source stored (a non-member value) loads back through the INSERT
/// fallback too (a target with local_infile = OFF), not only through LOAD DATA.
fn enum_empty_value_loads_with_the_insert_fallback(flavor: Flavor) {
    let (dir, source, target) = two_servers(flavor);
    source.sql(
        "SET SESSION sql_mode = ''; CREATE DATABASE en; \
         CREATE TABLE en.t (id INT PRIMARY KEY, e ENUM('a','b'), n INT NOT NULL); \
         INSERT INTO en.t VALUES (1, 'a', 1), (2, 'not a member', 2), (3, 'b', 3), (4, NULL, 4);",
    );
    assert_eq!(
        source.sql("SELECT id, e, e + 0 FROM en.t ORDER BY id"),
        "1\ta\t1\n2\t\t0\n3\tb\t2\n4\tNULL\tNULL",
        "the source holds the lax value"
    );
    target.sql("SET GLOBAL local_infile = 0");
    let config = config(dir.path(), &source, &target, "");
    backup(&config);
    let out = restore_ok(&config, &[]);
    assert!(
        out.stderr.contains("local_infile"),
        "the load used INSERTs:\n{out}"
    );
    assert_same_data(&source, &target, "en");
    let q = "SELECT id, e, e + 0 FROM en.t ORDER BY id";
    assert_eq!(source.sql(q), target.sql(q));
}
}
