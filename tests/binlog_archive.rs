//! `zrm binlog archive` (closed files and `--follow`), `binlog purge`, incremental backups and
//! the archive as the source of `binlog analyze` / `binlog find`, against real servers of both
//! flavors.
//!
//! Every archived file is checked byte for byte against the server's own copy of it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json as j, Value};
use sha2::{Digest, Sha256};
use support::{
    backup_ids, backup_out as backup, config_for, json, run_zrm as zrm, zrm_ok, Flavor, Output,
    TestServer,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// SHOW BINARY LOGS: (name, size), oldest first; the last one is the active file.
fn server_binlogs(server: &TestServer) -> Vec<(String, u64)> {
    server
        .sql("SHOW BINARY LOGS")
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap().to_string();
            let size = f
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("unexpected SHOW BINARY LOGS row {l:?}"));
            (name, size)
        })
        .collect()
}

fn names(files: &[(String, u64)]) -> Vec<String> {
    files.iter().map(|f| f.0.clone()).collect()
}

/// `mysql-bin.00000N`.
fn bin(n: u32) -> String {
    format!("mysql-bin.{n:06}")
}

fn bins(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(bin).collect()
}

/// `repo/sets/<set>/binlogs/<server_id>`.
fn archive_dir(dir: &Path, set: &str, server: &TestServer) -> PathBuf {
    dir.join("repo/sets")
        .join(set)
        .join("binlogs")
        .join(server.server_id().to_string())
}

/// Sorted names in a directory, without dot files (temp files, locks).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every file of a directory (no dot files) with its content.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    listing(dir)
        .into_iter()
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// The index `<file>.json` of an archived binlog, if present and readable.
fn try_index(adir: &Path, file: &str) -> Option<Value> {
    let bytes = fs::read(adir.join(format!("{file}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn index(adir: &Path, file: &str) -> Value {
    try_index(adir, file).unwrap_or_else(|| {
        panic!(
            "no readable index {file}.json in {}; it holds {:?}",
            adir.display(),
            listing(adir)
        )
    })
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// NDJSON lines of stdout.
fn ndjson(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l}\n{out}"))
        })
        .collect()
}

/// `zrm binlog analyze --set S --format json <extra>`: its output and its events/transactions.
fn analyze(config: &Path, set: &str, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec!["binlog", "analyze", "--set", set, "--format", "json"];
    args.extend_from_slice(extra);
    let out = zrm_ok(config, &args);
    let v = ndjson(&out);
    (out, v)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v:#}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not an unsigned integer in {v:#}"))
}

/// The transaction number of a GTID of this server.
fn gtid_seq(server: &TestServer, g: &str) -> u64 {
    server.gtid_seq(g)
}

/// What an index says the GTID state is after a file whose last GTID is `last`: MariaDB's
/// last GTID of the domain, MySQL's executed set (`uuid:1-N`, one source).
fn state_after(server: &TestServer, last: &str) -> String {
    match server.flavor() {
        Flavor::MariaDB => last.to_string(),
        Flavor::MySQL => format!(
            "{}:1-{}",
            server.server_uuid().unwrap(),
            server.gtid_seq(last)
        ),
    }
}

/// `zstd`-decompress a stored object.
fn decompress(path: &Path) -> Vec<u8> {
    let stored = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    zstd::stream::decode_all(&stored[..])
        .unwrap_or_else(|e| panic!("{} does not decompress: {e}", path.display()))
}

/// An archived, complete file is the server's file byte for byte, and its index says so.
fn assert_archived_identical(adir: &Path, server: &TestServer, file: &str, next: Option<&str>) {
    let idx = index(adir, file);
    let original = fs::read(server.binlog_dir().join(file)).unwrap();
    let object = adir.join(format!("{file}.zst"));
    let stored = fs::read(&object)
        .unwrap_or_else(|e| panic!("reading {}: {e}; index: {idx:#}", object.display()));
    let copy = decompress(&object);
    if copy != original {
        let first_diff = copy.iter().zip(&original).position(|(a, b)| a != b);
        panic!(
            "archived {file} differs from the server's: {} bytes archived, {} on the server, \
             first differing byte at {first_diff:?}\nindex: {idx:#}",
            copy.len(),
            original.len()
        );
    }
    let sha = sha256_hex(&original);
    assert_eq!(idx["file"], file, "{idx:#}");
    assert_eq!(idx["server_id"], server.server_id(), "{idx:#}");
    assert_eq!(idx["complete"], true, "{file} is not complete: {idx:#}");
    assert_eq!(idx["end_pos"], original.len() as u64, "{file}: {idx:#}");
    assert_eq!(idx["sha256"], sha.as_str(), "{file}: {idx:#}");
    if let Some(next) = next {
        assert_eq!(idx["next_file"], next, "{file}: {idx:#}");
    }
    let segments = idx["segments"].as_array().unwrap();
    assert_eq!(
        segments.len(),
        1,
        "{file}: a complete file is one object: {idx:#}"
    );
    let seg = &segments[0];
    assert_eq!(seg["object"], format!("{file}.zst"), "{idx:#}");
    assert_eq!(seg["start"], 0, "{idx:#}");
    assert_eq!(seg["end"], original.len() as u64, "{idx:#}");
    assert_eq!(seg["sha256"], sha.as_str(), "{idx:#}");
    assert_eq!(seg["stored_size"], stored.len() as u64, "{idx:#}");
    assert_eq!(seg["stored_sha256"], sha256_hex(&stored), "{idx:#}");
}

/// The counts and GTIDs an index holds for a complete file are those of its events (from
/// `binlog analyze --format json`); returns the file's GTIDs.
fn check_index_counts<'a>(
    adir: &Path,
    server: &TestServer,
    name: &str,
    events: &'a [Value],
) -> Vec<&'a str> {
    let idx = index(adir, name);
    let mine: Vec<&Value> = events.iter().filter(|e| e["file"] == name).collect();
    let gtids: Vec<&str> = mine
        .iter()
        .filter(|e| e["type"] == "Gtid")
        .map(|e| s(e, "gtid"))
        .collect();
    assert!(!gtids.is_empty(), "{name} has no Gtid event: {mine:?}");
    let summary = format!(
        "{name}: analyze reads {} events, {} GTIDs ({} .. {}); index: {idx:#}",
        mine.len(),
        gtids.len(),
        gtids[0],
        gtids.last().unwrap()
    );
    assert_eq!(idx["events"], mine.len() as u64, "{summary}");
    assert_eq!(idx["transactions"], gtids.len() as u64, "{summary}");
    assert_eq!(idx["first_gtid"], gtids[0], "{summary}");
    assert_eq!(idx["last_gtid"], *gtids.last().unwrap(), "{summary}");
    assert_eq!(
        idx["gtid_state_at_end"],
        state_after(server, gtids.last().unwrap()),
        "{summary}"
    );
    assert_eq!(
        mine.last().unwrap()["type"],
        "Rotate",
        "{name} ends with its ROTATE"
    );
    gtids
}

/// Waits until the server's binlog checkpoint is in its active file: every older file is then
/// free to purge (MariaDB silently keeps a file its checkpoint has not passed; MySQL has no
/// such checkpoint).
fn wait_checkpoint(server: &TestServer) {
    if server.flavor() == Flavor::MySQL {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let active = server_binlogs(server).last().unwrap().0.clone();
        let events = server.sql(&format!("SHOW BINLOG EVENTS IN '{active}'"));
        let last = events
            .lines()
            .rfind(|l| l.split('\t').nth(2) == Some("Binlog_checkpoint"))
            .map(|l| l.rsplit('\t').next().unwrap_or("").to_string());
        if last.as_deref().is_some_and(|f| f.contains(&active)) {
            return;
        }
        if Instant::now() > deadline {
            panic!("the binlog checkpoint did not reach {active}:\n{events}");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// `PURGE BINARY LOGS TO file` on the server itself, retried until the older files are gone
/// (MariaDB keeps a file until its binlog checkpoint has passed it).
fn purge_to(server: &TestServer, file: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        server.sql(&format!("PURGE BINARY LOGS TO '{file}'"));
        let left = server_binlogs(server);
        if left.first().map(|f| f.0.as_str()) == Some(file) {
            return;
        }
        if Instant::now() > deadline {
            panic!("PURGE BINARY LOGS TO '{file}' left {left:?}");
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Inserts each id into `d.t` as its own transaction.
fn insert_ids(server: &TestServer, ids: std::ops::RangeInclusive<u32>) {
    let sql: String = ids
        .map(|i| format!("INSERT INTO d.t VALUES ({i});"))
        .collect();
    server.sql(&sql);
}

/// A `zrm binlog archive --follow` child, killed if the test ends while it runs.
struct Follower {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Follower {
    fn start(config: &Path, dir: &Path, set: &str, tag: &str) -> Follower {
        let out = dir.join(format!("follow-{tag}.out"));
        let err = dir.join(format!("follow-{tag}.err"));
        // Its spool directories go under `dir/tmp`, where the test can see them.
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).unwrap();
        let child = support::zrm()
            .env("TMPDIR", &tmp)
            .arg("--config")
            .arg(config)
            .args([
                "binlog",
                "archive",
                "--set",
                set,
                "--follow",
                "--interval",
                "1",
                "--format",
                "json",
            ])
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .expect("cannot start zrm binlog archive --follow");
        Follower { child, out, err }
    }

    fn output(&self) -> String {
        format!(
            "--- follower stdout ---\n{}\n--- follower stderr ---\n{}",
            fs::read_to_string(&self.out).unwrap_or_default(),
            fs::read_to_string(&self.err).unwrap_or_default()
        )
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sending a signal to our own child.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.child.id());
    }

    /// The exit code (128 + signal when killed), or None if still running.
    fn exited(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.child
            .try_wait()
            .unwrap()
            .map(|st| st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
    }

    fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            if Instant::now() > deadline {
                panic!(
                    "zrm binlog archive --follow did not exit within {timeout:?}\n{}",
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the archive of the server's active file reaches the file's size.
    fn wait_archived(&mut self, adir: &Path, server: &TestServer) -> String {
        let active = server_binlogs(server).last().unwrap().0.clone();
        let size = fs::metadata(server.binlog_dir().join(&active))
            .unwrap()
            .len();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let idx = try_index(adir, &active);
            if idx.as_ref().and_then(|i| i["end_pos"].as_u64()) >= Some(size) {
                return active;
            }
            if let Some(code) = self.exited() {
                panic!(
                    "the follower exited ({code}) before archiving {active} up to {size}\n{}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{active} was not archived up to {size} bytes within 20 s; index: {idx:#?}\n{}",
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!("{}", self.output());
        }
    }
}

/// A Write_rows event (MariaDB writes the v1 type, `Write_rows_v1`; MySQL v2, `Write_rows`).
fn is_write_rows(e: &Value) -> bool {
    e["type"] == "Write_rows_v1" || e["type"] == "Write_rows"
}

/// The row values (first column) that the Write_rows events of `db.table` insert.
fn inserted_ids(events: &[Value], db: &str, table: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    for e in events {
        if !is_write_rows(e) || e["database"] != db || e["table"] != table {
            continue;
        }
        let values = e["values"]
            .as_array()
            .unwrap_or_else(|| panic!("no values in {e}"));
        assert_eq!(values.len() as u64, u(e, "rows"), "{e}");
        for r in values {
            let id = r["after"][0]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no integer after-image in {e}"));
            ids.push(id);
        }
    }
    ids
}

/// The statement that resets the binary logs, as messages name it.
fn reset_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDB => "RESET MASTER",
        Flavor::MySQL => "RESET BINARY LOGS AND GTIDS",
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Closed files
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn archived_files_are_byte_identical_to_the_servers(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);
    let sid = server.server_id();

    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v LONGTEXT); \
         INSERT INTO d.t VALUES (1, 'a'), (2, 'b'); FLUSH BINARY LOGS;",
    );
    server.sql(
        "UPDATE d.t SET v = 'c' WHERE id = 1; \
         INSERT INTO d.t VALUES (3, REPEAT(SHA2(RAND(), 256), 32768)); FLUSH BINARY LOGS;",
    );
    server.sql(
        "DELETE FROM d.t WHERE id = 2; ALTER TABLE d.t ADD COLUMN w INT; \
         BEGIN; INSERT INTO d.t VALUES (5, 'e', 5); UPDATE d.t SET w = 1 WHERE id IN (1, 5); COMMIT; \
         FLUSH BINARY LOGS;",
    );
    let gtid_pos = server.last_gtid();
    server.sql("INSERT INTO d.t VALUES (4, 'd', 1)");

    let files = server_binlogs(&server);
    assert_eq!(names(&files), bins(1..=4), "{files:?}");
    let closed = &files[..3];
    let big = fs::metadata(server.binlog_dir().join(bin(2)))
        .unwrap()
        .len();
    assert!(big > 2 << 20, "the 2 MB row is not in {}: {big}", bin(2));

    let out = zrm_ok(
        &config,
        &["binlog", "archive", "--set", "s", "--format", "json"],
    );
    let v = json(&out);
    assert_eq!(v["set"], "s", "{out}");
    assert_eq!(v["server_id"], sid, "{out}");
    let reported = v["files"].as_array().unwrap();
    let reported_names: Vec<&str> = reported.iter().map(|f| s(f, "file")).collect();
    assert_eq!(reported_names, names(closed), "{out}");
    for (f, (name, size)) in reported.iter().zip(closed) {
        assert_eq!(f["complete"], true, "{name}: {out}");
        assert_eq!(f["end_pos"], *size, "{name}: {out}");
        assert_eq!(f["bytes"], *size, "{name}: {out}");
    }
    let total: u64 = closed.iter().map(|f| f.1).sum();
    assert_eq!(v["bytes"], total, "{out}");

    let adir = archive_dir(dir.path(), "s", &server);
    for (i, (name, _)) in closed.iter().enumerate() {
        assert_archived_identical(&adir, &server, name, Some(&files[i + 1].0));
    }
    let mut expected: Vec<String> = closed
        .iter()
        .flat_map(|(n, _)| [format!("{n}.json"), format!("{n}.zst")])
        .collect();
    expected.sort();
    assert_eq!(
        listing(&adir),
        expected,
        "only the closed files are archived"
    );

    // The events of the archive: real MariaDB GTID events, as the index counts them.
    let (aout, events) = analyze(&config, "s", &[]);
    assert!(
        !aout.stderr.contains("gap"),
        "no gap expected:\n{}",
        aout.stderr
    );
    let files_seen: BTreeSet<&str> = events.iter().map(|e| s(e, "file")).collect();
    assert_eq!(
        files_seen,
        closed.iter().map(|f| f.0.as_str()).collect::<BTreeSet<_>>(),
        "analyze reads exactly the archived files"
    );
    let mut all_gtids = Vec::new();
    for (name, _) in closed {
        all_gtids.extend(check_index_counts(&adir, &server, name, &events));
    }
    let seqs: Vec<u64> = all_gtids.iter().map(|g| gtid_seq(&server, g)).collect();
    let expected_seqs: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected_seqs, "GTIDs of the archive: {all_gtids:?}");
    assert_eq!(*all_gtids.last().unwrap(), gtid_pos);
    assert_eq!(
        index(&adir, &bin(3))["gtid_state_at_end"],
        state_after(&server, &gtid_pos)
    );
    // Old-slave compatibility would have replaced GTID events by BEGIN / dummy queries.
    for e in &events {
        let stmt = e["statement"].as_str().unwrap_or("");
        assert!(
            !stmt.contains("Dummy event"),
            "a dummy event was archived: {e}"
        );
    }
    if flavor == Flavor::MariaDB {
        let begins = events
            .iter()
            .filter(|e| e["type"] == "Query" && e["statement"] == "BEGIN")
            .count();
        assert_eq!(
            begins, 0,
            "MariaDB GTID groups have no BEGIN query event unless GTIDs were converted"
        );
    }
    // The multi-statement transaction is one transaction with one GTID.
    let (_, trx) = analyze(&config, "s", &["--by", "transaction"]);
    assert_eq!(trx.len(), all_gtids.len(), "{trx:?}");
    let multi: Vec<&Value> = trx.iter().filter(|t| t["rows"] == 3).collect();
    assert_eq!(
        multi.len(),
        1,
        "one transaction inserts 1 row and updates 2: {trx:?}"
    );

    // Nothing new: a second run stores nothing and changes nothing.
    let before = snapshot(&adir);
    let out = zrm_ok(
        &config,
        &["binlog", "archive", "--set", "s", "--format", "json"],
    );
    let v = json(&out);
    assert_eq!(v["files"], j!([]), "{out}");
    assert_eq!(v["bytes"], 0, "{out}");
    assert_eq!(snapshot(&adir), before, "a second run changed the archive");
}
}

// ---------------------------------------------------------------------------------------------
// 2. Following the live binlog through kill -9
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn follow_survives_kill_9_without_gap_or_duplicate(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);
    let adir = archive_dir(dir.path(), "s", &server);
    server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY)");
    let (_, full) = backup(&config, &["--set", "s"]);
    assert_eq!(full["consistent_point"]["binlog_file"], bin(1), "{full:#}");

    let mut first = Follower::start(&config, dir.path(), "s", "1");
    insert_ids(&server, 1..=60);
    thread::sleep(Duration::from_millis(1500));
    insert_ids(&server, 61..=120);
    thread::sleep(Duration::from_millis(1500));
    insert_ids(&server, 121..=150);
    let active = first.wait_archived(&adir, &server);
    assert_eq!(active, bin(1));

    // The live file is kept as durable segments, listed in its (incomplete) index.
    let idx = index(&adir, &active);
    assert_eq!(idx["complete"], false, "{idx:#}");
    assert_eq!(idx["sha256"], Value::Null, "{idx:#}");
    let segments = idx["segments"].as_array().unwrap();
    assert!(
        segments.len() >= 2,
        "several intervals went by: expected several segments: {idx:#}"
    );
    let mut live = fs::read(server.binlog_dir().join(&active)).unwrap();
    // The server flags the file it writes as in use (LOG_EVENT_BINLOG_IN_USE_F in the format
    // description's header flags, byte 21) and clears the flag on disk when it closes the file;
    // the replication stream sends the flag cleared, as in the closed file.
    assert_eq!(live[21] & 1, 1, "the server's live file is flagged in use");
    live[21] &= !1;
    let mut expect_start = 0;
    for seg in segments {
        let start = u(seg, "start");
        let end = u(seg, "end");
        assert_eq!(start, expect_start, "segments are contiguous: {idx:#}");
        assert_eq!(
            seg["object"],
            format!("{active}.seg-{start:012}.zst"),
            "{idx:#}"
        );
        let bytes = decompress(&adir.join(s(seg, "object")));
        let diffs: Vec<usize> = bytes
            .iter()
            .zip(&live[start as usize..end as usize])
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i + start as usize)
            .collect();
        assert!(
            bytes.len() as u64 == end - start && diffs.is_empty(),
            "segment {start}-{end} differs from the server's bytes at {diffs:?}"
        );
        assert_eq!(seg["sha256"], sha256_hex(&bytes), "{idx:#}");
        expect_start = end;
    }
    assert_eq!(expect_start, u(&idx, "end_pos"), "{idx:#}");

    first.signal(libc::SIGKILL);
    assert_eq!(first.wait(Duration::from_secs(10)), 128 + libc::SIGKILL);

    insert_ids(&server, 151..=200);
    server.sql("FLUSH BINARY LOGS");
    insert_ids(&server, 201..=230);

    let mut second = Follower::start(&config, dir.path(), "s", "2");
    insert_ids(&server, 231..=280);
    thread::sleep(Duration::from_millis(1500));
    insert_ids(&server, 281..=300);
    let active = second.wait_archived(&adir, &server);
    assert_eq!(active, bin(2));
    // The file closed while nobody followed was completed from where the segments ended.
    assert_archived_identical(&adir, &server, &bin(1), Some(&bin(2)));

    // An incremental backup while the follower holds the archive: its FLUSH BINARY LOGS
    // rotates the live file, the follower joins the segments, the backup waits for that.
    let (out, inc) = backup(&config, &["--set", "s", "--level", "1"]);
    let files = server_binlogs(&server);
    assert_eq!(names(&files), bins(1..=3), "{files:?}");
    assert_eq!(inc["level"], 1, "{out}");
    assert_eq!(inc["parent_id"], full["id"], "{out}");
    assert_eq!(
        inc["binlog_range"]["start"], full["consistent_point"],
        "{out}"
    );
    assert_eq!(inc["binlog_range"]["end"]["binlog_file"], bin(2), "{out}");
    assert_eq!(
        inc["binlog_range"]["end"]["binlog_pos"], files[1].1,
        "{out}"
    );
    assert!(
        out.stderr
            .contains("waiting for the running `binlog archive`"),
        "{out}"
    );
    assert_archived_identical(&adir, &server, &bin(2), Some(&bin(3)));
    check_incremental_files(dir.path(), "s", &server, &inc, &bins(1..=2));

    insert_ids(&server, 301..=320);
    assert_eq!(second.wait_archived(&adir, &server), bin(3));
    second.signal(libc::SIGTERM);
    let code = second.wait(Duration::from_secs(20));
    assert_eq!(
        code,
        0,
        "SIGTERM must stop the follower cleanly\n{}",
        second.output()
    );
    // The killed follower's spool was swept when the second one started (its option file was
    // never on disk); the one stopped by SIGTERM removed its own.
    let left = listing(&dir.path().join("tmp"));
    assert!(left.is_empty(), "temp files left: {left:?}");
    let stdout = fs::read_to_string(&second.out).unwrap();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("follower stdout is not JSON ({e})\n{}", second.output()));
    assert_eq!(report["set"], "s", "{report:#}");
    let reported: BTreeMap<String, bool> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (s(f, "file").to_string(), f["complete"] == true))
        .collect();
    let expected = BTreeMap::from([(bin(1), true), (bin(2), true), (bin(3), false)]);
    assert_eq!(reported, expected, "{report:#}");
    let idx3 = index(&adir, &bin(3));
    assert_eq!(idx3["complete"], false, "{idx3:#}");
    let size3 = fs::metadata(server.binlog_dir().join(bin(3)))
        .unwrap()
        .len();
    assert_eq!(idx3["end_pos"], size3, "{idx3:#}");

    server.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "s"]);

    let files = server_binlogs(&server);
    assert_eq!(names(&files), bins(1..=4), "{files:?}");
    for i in 0..files.len() - 1 {
        assert_archived_identical(&adir, &server, &files[i].0, Some(&files[i + 1].0));
    }
    let mut expected: Vec<String> = bins(1..=3)
        .into_iter()
        .flat_map(|n| [format!("{n}.json"), format!("{n}.zst")])
        .collect();
    expected.sort();
    assert_eq!(listing(&adir), expected, "segments are removed once joined");

    let (aout, events) = analyze(&config, "s", &["--values"]);
    assert!(!aout.stderr.contains("gap"), "{}", aout.stderr);
    let ids = inserted_ids(&events, "d", "t");
    let writes: Vec<&Value> = events
        .iter()
        .filter(|e| is_write_rows(e) && e["database"] == "d" && e["table"] == "t")
        .collect();
    assert_eq!(writes.len(), 320, "one Write_rows event per inserted id");
    let rows: u64 = writes.iter().map(|e| u(e, "rows")).sum();
    assert_eq!(rows, 320);
    let expected_ids: Vec<u64> = (1..=320).collect();
    assert_eq!(ids, expected_ids, "every id exactly once, in order");

    let (tout, trx) = analyze(&config, "s", &["--by", "transaction"]);
    assert!(!tout.stderr.contains("gap"), "{}", tout.stderr);
    let gtids: Vec<&str> = trx.iter().map(|t| s(t, "gtid")).collect();
    let unique: BTreeSet<&str> = gtids.iter().copied().collect();
    assert_eq!(unique.len(), gtids.len(), "duplicate GTIDs: {gtids:?}");
    let seqs: Vec<u64> = gtids.iter().map(|g| gtid_seq(&server, g)).collect();
    let expected_seqs: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected_seqs, "no GTID missing or repeated");
    assert_eq!(*gtids.last().unwrap(), server.last_gtid());
    assert_eq!(
        trx.iter().filter(|t| t["tables"] == j!(["d.t"])).count(),
        320,
        "{trx:?}"
    );

    // The indexes count each event once: file 1 was archived by two followers and completed by
    // the second, file 2 by one follower across its rotation, file 3 by a follower (segments)
    // and completed by `binlog archive`.
    let counts = |f: &str| {
        let mine: Vec<&Value> = events.iter().filter(|e| e["file"] == f).collect();
        let trx = mine.iter().filter(|e| e["type"] == "Gtid").count() as u64;
        (mine.len() as u64, trx)
    };
    let from_index: Vec<(String, u64, u64)> = bins(1..=3)
        .into_iter()
        .map(|f| {
            let i = index(&adir, &f);
            (f, u(&i, "events"), u(&i, "transactions"))
        })
        .collect();
    let from_events: Vec<(String, u64, u64)> = bins(1..=3)
        .into_iter()
        .map(|f| {
            let (e, t) = counts(&f);
            (f, e, t)
        })
        .collect();
    assert_eq!(
        from_index, from_events,
        "(file, events, transactions): the indexes (left) against the events read (right)"
    );
    for f in bins(1..=3) {
        check_index_counts(&adir, &server, &f, &events);
    }
}
}

// ---------------------------------------------------------------------------------------------
// 3. Incremental backups
// ---------------------------------------------------------------------------------------------

/// The incremental's files are the archived objects of `files`, present and as recorded.
fn check_incremental_files(
    dir: &Path,
    set: &str,
    server: &TestServer,
    b: &Value,
    files: &[String],
) {
    let id = s(b, "id");
    let bdir = dir.join("repo/sets").join(set).join("backups").join(id);
    let listed: Vec<&str> = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(f, "path"))
        .collect();
    let sid = server.server_id();
    let expected: Vec<String> = files
        .iter()
        .map(|f| format!("../../binlogs/{sid}/{f}.zst"))
        .collect();
    assert_eq!(listed, expected, "{b:#}");
    for (f, name) in b["files"].as_array().unwrap().iter().zip(files) {
        let path = bdir.join(s(f, "path"));
        let stored = fs::read(&path)
            .unwrap_or_else(|e| panic!("{} ({}): {e}", s(f, "path"), path.display()));
        assert_eq!(f["stored_size"], stored.len() as u64, "{f}");
        assert_eq!(f["sha256"], sha256_hex(&stored), "{f}");
        let original = fs::read(server.binlog_dir().join(name)).unwrap();
        assert_eq!(f["size"], original.len() as u64, "{f}");
        assert!(
            decompress(&path) == original,
            "{name} differs from the server's"
        );
    }
    let manifest: Value =
        serde_json::from_slice(&fs::read(bdir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(&manifest, b, "the manifest on disk is the one printed");
}

flavor_tests! {
fn incremental_backups_chain_and_refuse_lost_binlogs(flavor: Flavor) {
    let a = TestServer::of(flavor);
    let b = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("a", &a), ("b", &b), ("c", &a)]);

    // No backup at all: nothing to build on.
    let out = zrm(&config, &["backup", "--set", "c", "--level", "1"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("take a full backup first"), "{out}");
    assert_eq!(
        listing(&dir.path().join("repo/sets/c/backups")),
        Vec::<String>::new()
    );

    a.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1), (2)",
    );
    let (_, full) = backup(&config, &["--set", "a"]);
    assert_eq!(full["level"], 0, "{full:#}");
    let cp0 = full["consistent_point"].clone();
    assert_eq!(cp0["binlog_file"], bin(1), "{full:#}");

    a.sql("INSERT INTO d.t VALUES (3); FLUSH BINARY LOGS; INSERT INTO d.t VALUES (4)");
    let gtid1 = a.gtid_executed();
    let (out1, inc1) = backup(&config, &["--set", "a", "--level", "1"]);
    let files = server_binlogs(&a);
    assert_eq!(
        names(&files),
        bins(1..=3),
        "FLUSH BINARY LOGS closed {}",
        bin(2)
    );
    assert_eq!(inc1["level"], 1, "{out1}");
    assert_eq!(inc1["parent_id"], full["id"], "{out1}");
    assert_eq!(inc1["binlog_range"]["start"], cp0, "{out1}");
    let end1 = j!({"binlog_file": bin(2), "binlog_pos": files[1].1, "gtid_set": gtid1});
    assert_eq!(inc1["binlog_range"]["end"], end1, "{out1}");
    assert_eq!(inc1["consistent_point"], end1, "{out1}");
    check_incremental_files(dir.path(), "a", &a, &inc1, &bins(1..=2));
    let (_, ev) = analyze(&config, "a", &["--backup", s(&inc1, "id"), "--values"]);
    assert_eq!(inserted_ids(&ev, "d", "t"), [3, 4], "the rows of level 1");

    a.sql("INSERT INTO d.t VALUES (5); FLUSH BINARY LOGS; INSERT INTO d.t VALUES (6)");
    let gtid2 = a.gtid_executed();
    let (out2, inc2) = backup(&config, &["--set", "a", "--level", "auto"]);
    let files = server_binlogs(&a);
    assert_eq!(names(&files), bins(1..=5), "{files:?}");
    assert_eq!(inc2["level"], 2, "{out2}");
    assert_eq!(inc2["parent_id"], inc1["id"], "{out2}");
    assert_eq!(inc2["binlog_range"]["start"], end1, "{out2}");
    let end2 = j!({"binlog_file": bin(4), "binlog_pos": files[3].1, "gtid_set": gtid2});
    assert_eq!(inc2["binlog_range"]["end"], end2, "{out2}");
    check_incremental_files(dir.path(), "a", &a, &inc2, &bins(2..=4));
    let (_, ev) = analyze(&config, "a", &["--backup", s(&inc2, "id"), "--values"]);
    assert_eq!(inserted_ids(&ev, "d", "t"), [5, 6], "the rows of level 2");
    assert_eq!(backup_ids(&config, "a").len(), 3);

    // Binlogs purged without being archived: no incremental can follow the full backup.
    b.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)");
    let (_, fullb) = backup(&config, &["--set", "b"]);
    assert_eq!(
        fullb["consistent_point"]["binlog_file"],
        bin(1),
        "{fullb:#}"
    );
    b.sql("INSERT INTO d.t VALUES (2); FLUSH BINARY LOGS; INSERT INTO d.t VALUES (3); FLUSH BINARY LOGS");
    let newest = server_binlogs(&b).last().unwrap().0.clone();
    assert_eq!(newest, bin(3));
    purge_to(&b, &newest);

    let out = zrm(&config, &["backup", "--set", "b", "--level", "1"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("neither on the server nor archived"),
        "{out}"
    );
    assert!(out.stderr.contains(&bin(1)), "names the lost file: {out}");
    assert_eq!(
        backup_ids(&config, "b"),
        [s(&fullb, "id")],
        "nothing was written"
    );

    let (out, fallback) = backup(&config, &["--set", "b", "--level", "auto"]);
    assert_eq!(fallback["level"], 0, "{out}");
    assert_eq!(fallback["parent_id"], Value::Null, "{out}");
    assert!(fallback["binlog_range"].is_null(), "{out}");
    assert!(out.stderr.contains("taking a full backup"), "{out}");
    assert_eq!(backup_ids(&config, "b").len(), 2);

    // `--level auto` without any backup: a full one.
    let (out, c_full) = backup(&config, &["--set", "c", "--level", "auto"]);
    assert_eq!(c_full["level"], 0, "{out}");
    assert!(out.stderr.contains("has no backup yet"), "{out}");
}
}

// ---------------------------------------------------------------------------------------------
// 4. Purge
// ---------------------------------------------------------------------------------------------

fn purge(config: &Path, dry_run: bool) -> (Output, Value) {
    let mut args = vec!["binlog", "purge", "--set", "s", "--format", "json"];
    if dry_run {
        args.push("--dry-run");
    }
    let out = zrm_ok(config, &args);
    let v = json(&out);
    assert_eq!(v["set"], "s", "{out}");
    assert_eq!(v["dry_run"], dry_run, "{out}");
    (out, v)
}

flavor_tests! {
fn purge_never_removes_unarchived_or_damaged_binlogs(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);
    let adir = archive_dir(dir.path(), "s", &server);

    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO d.t VALUES (1, REPEAT('a', 5000)); FLUSH BINARY LOGS; \
         INSERT INTO d.t VALUES (2, REPEAT(SHA2(2, 256), 150)); FLUSH BINARY LOGS;",
    );
    zrm_ok(&config, &["binlog", "archive", "--set", "s"]);
    server.sql(
        "INSERT INTO d.t VALUES (3, 'c'); FLUSH BINARY LOGS; \
         INSERT INTO d.t VALUES (4, 'd'); FLUSH BINARY LOGS; INSERT INTO d.t VALUES (5, 'e')",
    );
    let before = server_binlogs(&server);
    assert_eq!(names(&before), bins(1..=5));

    let (out, v) = purge(&config, true);
    assert_eq!(v["would_purge"], j!(bins(1..=2)), "{out}");
    assert_eq!(v["purged"], j!([]), "{out}");
    assert_eq!(v["kept_from"], bin(3), "{out}");
    assert_eq!(v["reason"], "it is not archived", "{out}");
    assert_eq!(server_binlogs(&server), before, "--dry-run changed nothing");

    wait_checkpoint(&server);
    let (out, v) = purge(&config, false);
    assert_eq!(v["purged"], j!(bins(1..=2)), "{out}");
    assert_eq!(v["would_purge"], j!([]), "{out}");
    assert_eq!(v["kept_from"], bin(3), "{out}");
    assert_eq!(
        server_binlogs(&server),
        before[2..],
        "only the archived files are gone"
    );
    for gone in bins(1..=2) {
        assert!(
            !server.binlog_dir().join(&gone).exists(),
            "{gone} is still on disk"
        );
    }
    for kept in bins(3..=5) {
        assert!(
            server.binlog_dir().join(&kept).exists(),
            "{kept} was removed"
        );
    }

    // Everything closed is archived now: purge would stop at the active file.
    zrm_ok(&config, &["binlog", "archive", "--set", "s"]);
    let (out, v) = purge(&config, true);
    assert_eq!(v["would_purge"], j!(bins(3..=4)), "{out}");
    assert_eq!(v["kept_from"], bin(5), "{out}");
    assert_eq!(v["reason"], "it is the file the server is writing", "{out}");

    // A damaged archived copy stops the purge at that file.
    let object = adir.join(format!("{}.zst", bin(4)));
    let mut bytes = fs::read(&object).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(&object, &bytes).unwrap();
    wait_checkpoint(&server);
    let (out, v) = purge(&config, false);
    assert_eq!(v["purged"], j!([bin(3)]), "{out}");
    assert_eq!(v["kept_from"], bin(4), "{out}");
    assert!(s(&v, "reason").contains("failed verification"), "{out}");
    assert_eq!(server_binlogs(&server), before[3..], "{out}");
    assert!(server.binlog_dir().join(bin(4)).exists());

    // Still refused on the next run; the server's file is untouched.
    let (out, v) = purge(&config, false);
    assert_eq!(v["purged"], j!([]), "{out}");
    assert_eq!(v["kept_from"], bin(4), "{out}");
    assert_eq!(server_binlogs(&server), before[3..], "{out}");
}
}

// ---------------------------------------------------------------------------------------------
// 5. Gaps and RESET MASTER
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn gaps_are_named_and_reset_master_is_refused(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);
    let adir = archive_dir(dir.path(), "s", &server);

    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)",
    );
    let (_, full) = backup(&config, &["--set", "s"]);
    assert_eq!(full["consistent_point"]["binlog_file"], bin(1), "{full:#}");
    for i in 2..=5 {
        server.sql(&format!("INSERT INTO d.t VALUES ({i}); FLUSH BINARY LOGS"));
    }
    server.sql("INSERT INTO d.t VALUES (6)");
    let out = zrm_ok(
        &config,
        &["binlog", "archive", "--set", "s", "--format", "json"],
    );
    let v = json(&out);
    let archived: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(f, "file"))
        .collect();
    assert_eq!(archived, bins(1..=4), "{out}");

    // Lose mysql-bin.000002 for good: gone from the archive and from the server.
    fs::remove_file(adir.join(format!("{}.zst", bin(2)))).unwrap();
    fs::remove_file(adir.join(format!("{}.json", bin(2)))).unwrap();
    purge_to(&server, &bin(3));
    let gap = format!("{} missing between {} and {}", bin(2), bin(1), bin(3));

    let (aout, events) = analyze(&config, "s", &[]);
    assert!(
        aout.stderr
            .contains(&format!("warning: gap in the archive of set 's': {gap}")),
        "{aout}"
    );
    let seen: BTreeSet<&str> = events.iter().map(|e| s(e, "file")).collect();
    assert_eq!(
        seen,
        [bin(1), bin(3), bin(4)]
            .iter()
            .map(String::as_str)
            .collect(),
    );

    let out = zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "s",
            "--time",
            "2100-01-01 00:00:00",
            "--format",
            "json",
        ],
    );
    let v = json(&out);
    assert_eq!(v["gaps"], j!([gap]), "{out}");
    let last4 = index(&adir, &bin(4));
    assert_eq!(v["file"], bin(4), "{out}");
    assert_eq!(v["last_applied"]["gtid"], last4["last_gtid"], "{out}");
    assert_eq!(v["first_excluded"], Value::Null, "{out}");

    let out = zrm(&config, &["backup", "--set", "s", "--level", "1"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("gap"), "{out}");
    assert!(out.stderr.contains(&gap), "names the missing file: {out}");
    assert_eq!(
        backup_ids(&config, "s"),
        [s(&full, "id")],
        "nothing was written"
    );

    // RESET MASTER under an archive: refused, and the archive stays as it was.
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("r", &server)]);
    let adir = archive_dir(dir.path(), "r", &server);
    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO d.t VALUES (1, 'one'); FLUSH BINARY LOGS; \
         INSERT INTO d.t VALUES (2, 'two'); FLUSH BINARY LOGS",
    );
    zrm_ok(&config, &["binlog", "archive", "--set", "r"]);
    let before = snapshot(&adir);
    assert_eq!(before.len(), 4, "{:?}", before.keys());
    let old_size = u(&index(&adir, &bin(1)), "end_pos");

    server.sql(&format!(
        "{}; CREATE DATABASE other; CREATE TABLE other.u (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO other.u VALUES (1, REPEAT('z', 3000)); FLUSH BINARY LOGS",
        server.reset_binlogs_sql()
    ));
    let files = server_binlogs(&server);
    assert_eq!(names(&files), bins(1..=2));
    assert_ne!(
        files[0].1,
        old_size,
        "the new {} must differ in size",
        bin(1)
    );

    let out = zrm(&config, &["binlog", "archive", "--set", "r"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(reset_name(flavor)), "{out}");
    assert!(snapshot(&adir) == before, "the archive changed");

    // --follow refuses too (and exits instead of waiting).
    let mut f = Follower::start(&config, dir.path(), "r", "reset");
    let code = f.wait(Duration::from_secs(30));
    assert_eq!(code, 1, "{}", f.output());
    assert!(f.output().contains(reset_name(flavor)), "{}", f.output());
    assert!(snapshot(&adir) == before, "the archive changed");
}
}

flavor_tests! {
/// A live file followed in part, then reset: the new copy does not match the stored prefix.
fn follow_refuses_a_reset_live_file(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);
    let adir = archive_dir(dir.path(), "s", &server);
    server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY)");
    let mut f = Follower::start(&config, dir.path(), "s", "1");
    insert_ids(&server, 1..=20);
    assert_eq!(f.wait_archived(&adir, &server), bin(1));
    f.signal(libc::SIGTERM);
    assert_eq!(f.wait(Duration::from_secs(20)), 0, "{}", f.output());
    let before = snapshot(&adir);
    let archived = u(&index(&adir, &bin(1)), "end_pos");

    server.sql(&format!(
        "{}; CREATE DATABASE other; CREATE TABLE other.u (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO other.u VALUES (1, REPEAT('z', 5000))",
        server.reset_binlogs_sql()
    ));
    let files = server_binlogs(&server);
    assert_eq!(names(&files), [bin(1)]);
    assert!(
        files[0].1 > archived,
        "the new file must be longer than the archived prefix"
    );

    let mut f = Follower::start(&config, dir.path(), "s", "2");
    let code = f.wait(Duration::from_secs(30));
    assert_eq!(code, 1, "{}", f.output());
    assert!(f.output().contains(reset_name(flavor)), "{}", f.output());
    assert!(snapshot(&adir) == before, "the archive changed");
}
}

flavor_tests! {
/// RESET MASTER, then the same statements with other values: the new files have the archived
/// files' names and sizes but other bytes. They must not pass for archived (nor be purged).
fn reset_master_with_same_sized_files_is_refused(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("r", &server)]);
    let adir = archive_dir(dir.path(), "r", &server);
    let workload = |v: &str| {
        server.sql(&format!(
            "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT); \
             INSERT INTO d.t VALUES (1, '{v}'); FLUSH BINARY LOGS"
        ))
    };
    // MariaDB writes a Binlog_checkpoint into the new file a moment after the rotation: wait
    // for it both times, so the active files compare at the same point.
    workload("aaaa");
    wait_checkpoint(&server);
    zrm_ok(&config, &["binlog", "archive", "--set", "r"]);
    let before = snapshot(&adir);
    let old_files = server_binlogs(&server);
    let old_bytes = fs::read(server.binlog_dir().join(bin(1))).unwrap();

    let reset = server.reset_binlogs_sql();
    server.sql(&format!("{reset}; DROP DATABASE d; {reset}"));
    workload("bbbb");
    wait_checkpoint(&server);
    let new_files = server_binlogs(&server);
    let new_bytes = fs::read(server.binlog_dir().join(bin(1))).unwrap();
    assert_eq!(
        new_files, old_files,
        "same names and sizes after RESET MASTER"
    );
    assert!(new_bytes != old_bytes, "{} has other bytes", bin(1));

    let archive = zrm(
        &config,
        &["binlog", "archive", "--set", "r", "--format", "json"],
    );
    let purge = zrm(
        &config,
        &[
            "binlog",
            "purge",
            "--set",
            "r",
            "--dry-run",
            "--format",
            "json",
        ],
    );
    let mut problems = Vec::new();
    if archive.code != 1 || !archive.stderr.contains(reset_name(flavor)) {
        problems.push(format!(
            "`binlog archive` must refuse the reset server (exit 1, RESET MASTER):\n{archive}"
        ));
    }
    if purge.code == 0 && json(&purge)["would_purge"] != j!([]) {
        problems.push(format!(
            "`binlog purge` would purge {}, which was never archived:\n{purge}",
            bin(1)
        ));
    }
    assert!(snapshot(&adir) == before, "the archive changed");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
}

// ---------------------------------------------------------------------------------------------
// 6. find
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn find_resolves_the_drop_table_point(flavor: Flavor) {
    let server = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("s", &server)]);

    server.sql(
        "CREATE DATABASE d; CREATE TABLE d.keep (id INT PRIMARY KEY); \
         CREATE TABLE d.x (id INT PRIMARY KEY); INSERT INTO d.x VALUES (1), (2), (3); \
         INSERT INTO d.keep VALUES (1); FLUSH BINARY LOGS; INSERT INTO d.keep VALUES (2)",
    );
    server.sql("DROP TABLE d.x");
    server.sql("INSERT INTO d.keep VALUES (3); INSERT INTO d.keep VALUES (4); FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "s"]);

    let (_, events) = analyze(&config, "s", &[]);
    let drops: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "Query" && s(e, "statement").contains("DROP TABLE"))
        .collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    let drop = drops[0];
    let gtid = s(drop, "gtid");
    assert_eq!(drop["file"], bin(2), "{drop}");
    let gtid_events: Vec<&Value> = events.iter().filter(|e| e["type"] == "Gtid").collect();
    let at = gtid_events
        .iter()
        .position(|e| e["gtid"] == gtid)
        .unwrap_or_else(|| panic!("no Gtid event for {gtid}"));
    let gtid_event = gtid_events[at];
    let previous = gtid_events[at - 1];
    assert_eq!(previous["file"], bin(2), "{previous}");
    let pos = u(gtid_event, "pos");

    let out = zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "s",
            "--match",
            "DROP TABLE",
            "--format",
            "json",
        ],
    );
    let v = json(&out);
    assert_eq!(v["file"], bin(2), "{out}");
    assert_eq!(v["pos"], pos, "{out}");
    assert_eq!(v["gtid"], gtid, "{out}");
    assert_eq!(v["first_excluded"]["gtid"], gtid, "{out}");
    assert_eq!(v["first_excluded"]["file"], bin(2), "{out}");
    assert_eq!(v["first_excluded"]["pos"], pos, "{out}");
    assert_eq!(v["first_excluded"]["end_pos"], drop["end_pos"], "{out}");
    assert_eq!(v["last_applied"]["gtid"], previous["gtid"], "{out}");
    // Between the two transactions, only events outside transactions (a binlog checkpoint).
    let applied_end = u(&v["last_applied"], "end_pos");
    let between: Vec<&Value> = events
        .iter()
        .filter(|e| e["file"] == bin(2) && u(e, "pos") >= applied_end && u(e, "pos") < pos)
        .collect();
    assert!(
        applied_end <= pos && between.iter().all(|e| e["type"] == "Binlog_checkpoint"),
        "between the last applied transaction and the DROP: {between:?}\n{out}"
    );
    assert!(s(&v, "matched").contains("DROP TABLE"), "{out}");
    assert_eq!(v["gaps"], j!([]), "{out}");

    // The same point by GTID.
    let out = zrm_ok(
        &config,
        &[
            "binlog", "find", "--set", "s", "--gtid", gtid, "--format", "json",
        ],
    );
    let g = json(&out);
    assert_eq!((&g["file"], &g["pos"]), (&v["file"], &v["pos"]), "{out}");
    assert_eq!(g["matched"], Value::Null, "{out}");
}
}
