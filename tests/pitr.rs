//! Point-in-time restore (`zrm restore` with archived binlogs) against real servers of both
//! flavors: the accident drill (every stop form), a broken chain, the source's time zone,
//! resuming a failed replay, a non-empty target, and replaying one database.

mod support;

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use support::{
    backup, checksums, config_for, json, run_zrm as zrm, zrm_ok, Flavor, Output, ServerOptions,
    TestServer,
};

/// Enough to put later commits in a later second (binlog times have second granularity).
const NEXT_SECOND: Duration = Duration::from_millis(1100);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// What the writer recorded right after one transaction, on the same connection.
#[derive(Debug, Clone)]
struct Mark {
    label: String,
    /// Its own GTID: MariaDB's `@@gtid_binlog_pos` after it (one domain, one server), or the
    /// last of MySQL's `@@gtid_executed` (one server).
    gtid: String,
    /// `UNIX_TIMESTAMP()` after its commit.
    time: i64,
    /// `SHOW MASTER STATUS` (MySQL: `SHOW BINARY LOG STATUS`) after it: the end of the
    /// transaction, a transaction boundary.
    file: String,
    pos: u64,
    /// The output of `state_sql` after it.
    state: String,
}

/// Runs `sql` (one transaction, or several statements forming one), then records its GTID,
/// the time, the binlog position and `state_sql`'s output, all in the same client call.
fn commit(server: &TestServer, label: &str, sql: &str, state_sql: &str) -> Mark {
    let out = server.sql(&format!(
        "{sql};\nSELECT {}, UNIX_TIMESTAMP();\n{};\n{state_sql}",
        server.gtid_variable(),
        server.binlog_status_sql()
    ));
    let mut lines = out.lines();
    let first: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let status: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let state = lines.collect::<Vec<_>>().join("\n");
    assert!(
        first.len() >= 2 && status.len() >= 2,
        "unexpected output after {label}: {out}"
    );
    assert!(
        !first[0].contains(','),
        "one GTID domain expected: {}",
        first[0]
    );
    Mark {
        label: label.to_string(),
        gtid: last_gtid(first[0]),
        time: first[1].parse().unwrap(),
        file: status[0].to_string(),
        pos: status[1].parse().unwrap(),
        state,
    }
}

/// The last GTID of a one-server GTID state: MariaDB's `0-100-37` as it is, MySQL's
/// `uuid:1-37` as `uuid:37`.
fn last_gtid(state: &str) -> String {
    match state.rsplit_once(':') {
        Some((uuid, range)) => {
            let n = range.rsplit('-').next().unwrap_or(range);
            format!("{uuid}:{n}")
        }
        None => state.to_string(),
    }
}

/// The full backup's consistent point (file, pos).
fn consistent_point(full: &Value) -> (String, u64) {
    let cp = &full["consistent_point"];
    let file = cp["binlog_file"]
        .as_str()
        .unwrap_or_else(|| panic!("no consistent point in {full:#}"));
    (file.to_string(), cp["binlog_pos"].as_u64().unwrap())
}

/// `zrm restore --set src --target dst --format json <extra>`.
fn restore(config: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "restore", "--set", "src", "--target", "dst", "--format", "json",
    ];
    args.extend_from_slice(extra);
    zrm(config, &args)
}

/// Like [`restore`], but the restore must succeed; returns its JSON result.
fn restore_ok(config: &Path, extra: &[&str]) -> (Output, Value) {
    let out = restore(config, extra);
    assert_eq!(out.code, 0, "restore {extra:?} failed:\n{out}");
    let v = json(&out);
    (out, v)
}

fn rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn database_exists(server: &TestServer, db: &str) -> bool {
    server.sql(&format!(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'"
    )) == "1"
}

fn table_exists(server: &TestServer, db: &str, table: &str) -> bool {
    server.sql(&format!(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
         AND TABLE_NAME = '{table}'"
    )) == "1"
}

/// The non-system databases of a server, sorted.
fn user_databases(server: &TestServer) -> Vec<String> {
    server
        .sql(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every non-system database with the checksums of its tables.
type Snapshot = Vec<(String, Vec<(String, String)>)>;

fn snapshot(server: &TestServer) -> Snapshot {
    user_databases(server)
        .into_iter()
        .map(|db| {
            let sums = checksums(server, &db);
            (db, sums)
        })
        .collect()
}

/// `repo/sets/<set>/binlogs/<server_id>`.
fn archive_dir(dir: &Path, set: &str, server: &TestServer) -> PathBuf {
    dir.join("repo/sets")
        .join(set)
        .join("binlogs")
        .join(server.server_id().to_string())
}

// ---------------------------------------------------------------------------------------------
// 1. The accident drill
// ---------------------------------------------------------------------------------------------

const BANK_STATE: &str = "CHECKSUM TABLE bank.acct, bank.keep";

/// The writer's transaction number `i` (before the accident).
fn bank_transaction(i: u32) -> String {
    let id = i % 20 + 1;
    if i % 10 == 0 {
        format!(
            "BEGIN; UPDATE bank.acct SET bal = bal - {i} WHERE id = {id}; \
             UPDATE bank.acct SET bal = bal + {i} WHERE id = {}; \
             INSERT INTO bank.keep VALUES ({}, 'transfer {i}'); COMMIT",
            (id + 7) % 20 + 1,
            1000 + i
        )
    } else if i % 3 == 0 {
        format!("INSERT INTO bank.acct VALUES ({}, {})", 100 + i, i * 11)
    } else if i % 7 == 0 {
        format!(
            "UPDATE bank.keep SET v = CONCAT(v, '+{i}') WHERE id = {}",
            i % 5 + 1
        )
    } else {
        format!("UPDATE bank.acct SET bal = bal * 2 + {i} WHERE id = {id}")
    }
}

fn accident_drill(flavor: Flavor, format: &'static str) {
    let src = TestServer::start_with(ServerOptions {
        flavor,
        binlog_format: format,
        ..Default::default()
    });
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);

    let mut setup = String::from(
        "CREATE DATABASE bank; \
         CREATE TABLE bank.acct (id INT PRIMARY KEY, bal INT); \
         CREATE TABLE bank.keep (id INT PRIMARY KEY, v VARCHAR(200));",
    );
    for id in 1..=20 {
        setup.push_str(&format!(
            "INSERT INTO bank.acct VALUES ({id}, {});",
            id * 100
        ));
    }
    for id in 1..=5 {
        setup.push_str(&format!("INSERT INTO bank.keep VALUES ({id}, 'k{id}');"));
    }
    src.sql(&setup);
    let full = backup(&config, &["--set", "src"]);
    let (cp_file, cp_pos) = consistent_point(&full);

    // The writer: 60 numbered transactions over 4 binlog files.
    let mut marks: Vec<Mark> = Vec::new();
    for i in 1..=60u32 {
        if [16, 31, 46].contains(&i) {
            src.sql("FLUSH BINARY LOGS");
        }
        if [12, 27, 52].contains(&i) {
            sleep(NEXT_SECOND);
        }
        marks.push(commit(
            &src,
            &format!("trx {i}"),
            &bank_transaction(i),
            BANK_STATE,
        ));
    }
    let before_drop = marks.last().unwrap().clone();
    sleep(NEXT_SECOND);
    let drop = commit(&src, "DROP TABLE acct", "DROP TABLE bank.acct", BANK_STATE);
    assert!(
        !table_exists(&src, "bank", "acct"),
        "the accident did not happen"
    );
    let mut after: Vec<Mark> = Vec::new();
    for i in 61..=70u32 {
        after.push(commit(
            &src,
            &format!("trx {i}"),
            &format!(
                "INSERT INTO bank.keep VALUES ({}, 'after {i}'); \
                 UPDATE bank.keep SET v = CONCAT(v, '!') WHERE id = 1",
                2000 + i
            ),
            BANK_STATE,
        ));
    }
    let final_keep = checksums(&src, "bank");
    backup(&config, &["--set", "src", "--level", "1"]);

    // The writer's bookkeeping must hold for what follows to mean anything.
    let files: Vec<&str> = {
        let mut f: Vec<&str> = marks.iter().map(|m| m.file.as_str()).collect();
        f.dedup();
        f
    };
    assert_eq!(files.len(), 4, "the writer spans 4 binlog files: {files:?}");
    assert_eq!(
        files[0], cp_file,
        "the writer starts in the backup's consistent point's file"
    );
    assert!(
        drop.time > before_drop.time,
        "the DROP is not in a later second than the last transaction before it: {before_drop:?} {drop:?}"
    );
    let distinct_states: std::collections::BTreeSet<&str> =
        marks.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(
        distinct_states.len(),
        marks.len(),
        "every transaction changes the state"
    );

    // a. The DROP's position, from `binlog find --match`.
    let out = zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "src",
            "--match",
            "DROP TABLE",
            "--format",
            "json",
        ],
    );
    let found = json(&out);
    assert_eq!(
        found["file"], before_drop.file,
        "the DROP is in the file where the last transaction before it ended:\n{out}"
    );
    let drop_pos = found["pos"].as_u64().unwrap();
    assert!(
        before_drop.pos <= drop_pos && drop_pos <= before_drop.pos + 64,
        "the DROP starts where the last transaction before it ended ({}):\n{out}",
        before_drop.pos
    );
    assert_eq!(found["gtid"], drop.gtid, "{out}");
    assert_eq!(found["last_applied"]["gtid"], before_drop.gtid, "{out}");
    let drop_point = format!("{}:{drop_pos}", before_drop.file);

    // The plan of that restore.
    let out = restore(&config, &["--until-position", &drop_point, "--dry-run"]);
    assert_eq!(out.code, 0, "dry run failed:\n{out}");
    let plan = &json(&out)["plan"];
    let pfiles = plan["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan.files:\n{out}"));
    assert!(pfiles.len() >= 3, "the replay spans >= 3 files:\n{out}");
    let names: Vec<&str> = pfiles.iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(names, files, "the files of the replay:\n{out}");
    assert_eq!(pfiles[0]["file"], cp_file.as_str(), "{out}");
    assert_eq!(
        pfiles[0]["start"], cp_pos,
        "the replay starts at the consistent point:\n{out}"
    );
    let last = pfiles.last().unwrap();
    assert_eq!(last["file"], before_drop.file.as_str(), "{out}");
    assert_eq!(
        last["stop"], drop_pos,
        "the replay stops at the asked position:\n{out}"
    );
    for f in &pfiles[1..] {
        assert_eq!(
            f["start"], 4,
            "later files are replayed from their start:\n{out}"
        );
    }
    assert_eq!(plan["stop"]["first_excluded"]["gtid"], drop.gtid, "{out}");
    assert_eq!(
        plan["stop"]["last_applied"]["gtid"], before_drop.gtid,
        "{out}"
    );
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'bank'"),
        "0",
        "a dry run changes nothing"
    );

    let (out, r) = restore_ok(&config, &["--until-position", &drop_point]);
    assert_eq!(
        dst.sql(BANK_STATE),
        before_drop.state,
        "--until-position {drop_point}: the state before the DROP\n{out}"
    );
    assert_eq!(r["last_applied"]["gtid"], before_drop.gtid, "{out}");
    assert_eq!(r["stop"]["first_excluded"]["gtid"], drop.gtid, "{out}");
    assert_eq!(
        r["replayed_files"].as_array().map(Vec::len),
        Some(4),
        "{out}"
    );

    // b. Before the DROP's GTID.
    let (out, r) = restore_ok(&config, &["--replace", "--until-gtid", &drop.gtid]);
    assert_eq!(
        dst.sql(BANK_STATE),
        before_drop.state,
        "--until-gtid {}: the state before the DROP\n{out}",
        drop.gtid
    );
    assert_eq!(r["last_applied"]["gtid"], before_drop.gtid, "{out}");

    // c. Until the commit time of the last transaction before the DROP.
    let t = rfc3339(before_drop.time);
    let (out, r) = restore_ok(&config, &["--replace", "--until-time", &t]);
    assert_eq!(
        dst.sql(BANK_STATE),
        before_drop.state,
        "--until-time {t}: the state before the DROP\n{out}"
    );
    assert_eq!(r["last_applied"]["gtid"], before_drop.gtid, "{out}");
    // The same instant written in another zone.
    let local = chrono::DateTime::from_timestamp(before_drop.time, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(-(3 * 3600 + 1800)).unwrap())
        .format("%Y-%m-%dT%H:%M:%S-03:30")
        .to_string();
    let (out, _) = restore_ok(&config, &["--replace", "--until-time", &local]);
    assert_eq!(
        dst.sql(BANK_STATE),
        before_drop.state,
        "--until-time {local}: the state before the DROP\n{out}"
    );
    // A time between two transactions that are a second apart: the earlier one is the last.
    let k = marks
        .iter()
        .position(|m| m.label == "trx 27")
        .expect("trx 27");
    assert!(marks[k].time > marks[k - 1].time, "{:?}", &marks[k - 1..=k]);
    let t = rfc3339(marks[k - 1].time);
    let (out, _) = restore_ok(&config, &["--replace", "--until-time", &t]);
    assert_eq!(
        dst.sql(BANK_STATE),
        marks[k - 1].state,
        "--until-time {t}: the state after {}\n{out}",
        marks[k - 1].label
    );

    // d. Earlier points: a GTID in the middle (inclusive, then not) and a boundary in the
    // middle of the second file.
    let k = 36; // trx 37, in the third file
    let (out, r) = restore_ok(
        &config,
        &["--replace", "--until-gtid", &marks[k].gtid, "--inclusive"],
    );
    assert_eq!(
        dst.sql(BANK_STATE),
        marks[k].state,
        "--until-gtid {} --inclusive: the state after {}\n{out}",
        marks[k].gtid,
        marks[k].label
    );
    assert_eq!(r["last_applied"]["gtid"], marks[k].gtid, "{out}");
    let (out, _) = restore_ok(&config, &["--replace", "--until-gtid", &marks[k].gtid]);
    assert_eq!(
        dst.sql(BANK_STATE),
        marks[k - 1].state,
        "--until-gtid {}: the state after {}\n{out}",
        marks[k].gtid,
        marks[k - 1].label
    );

    let in_second: Vec<usize> = (0..marks.len() - 1)
        .filter(|&i| marks[i].file == files[1] && marks[i + 1].file == files[1])
        .collect();
    let k = in_second[in_second.len() / 2];
    let point = format!("{}:{}", marks[k].file, marks[k].pos);
    let (out, r) = restore_ok(&config, &["--replace", "--until-position", &point]);
    assert_eq!(
        dst.sql(BANK_STATE),
        marks[k].state,
        "--until-position {point}: the state after {}\n{out}",
        marks[k].label
    );
    assert_eq!(r["last_applied"]["gtid"], marks[k].gtid, "{out}");
    assert_eq!(
        r["stop"]["first_excluded"]["gtid"],
        marks[k + 1].gtid,
        "{out}"
    );
    assert_eq!(
        r["replayed_files"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );

    // With --inclusive, the transaction starting there is applied too.
    let (out, r) = restore_ok(
        &config,
        &["--replace", "--until-position", &point, "--inclusive"],
    );
    assert_eq!(
        dst.sql(BANK_STATE),
        marks[k + 1].state,
        "--until-position {point} --inclusive: the state after {}\n{out}",
        marks[k + 1].label
    );
    assert_eq!(r["last_applied"]["gtid"], marks[k + 1].gtid, "{out}");

    // e. Everything archived: the source's final state.
    let (out, r) = restore_ok(&config, &["--replace"]);
    assert!(
        !table_exists(&dst, "bank", "acct"),
        "a full replay applies the DROP too:\n{out}"
    );
    assert_eq!(checksums(&dst, "bank"), final_keep, "{out}");
    assert_eq!(
        r["last_applied"]["gtid"],
        after.last().unwrap().gtid,
        "{out}"
    );

    // f. A position inside a transaction: refused, naming the transaction. Its span comes
    // from `binlog find` (MariaDB may write a Binlog_checkpoint event between two
    // transactions, so the end of one is not always the start of the next).
    let k = in_second[in_second.len() / 2];
    let out = zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "src",
            "--gtid",
            &marks[k + 1].gtid,
            "--format",
            "json",
        ],
    );
    let trx = &json(&out)["first_excluded"];
    assert_eq!(trx["gtid"], marks[k + 1].gtid, "{out}");
    let (start, end) = (
        trx["pos"].as_u64().unwrap(),
        trx["end_pos"].as_u64().unwrap(),
    );
    assert!(
        marks[k].pos <= start && end <= marks[k + 1].pos && start + 10 < end,
        "{out}"
    );
    let inside = format!("{}:{}", marks[k].file, start + 10);
    let out = restore(&config, &["--replace", "--until-position", &inside]);
    assert_eq!(out.code, 1, "--until-position {inside}:\n{out}");
    assert!(
        out.stderr.contains("inside a transaction"),
        "--until-position {inside}:\n{out}"
    );
    let span = format!("{}:{start}-{end}", marks[k].file);
    assert!(
        out.stderr.contains(&span),
        "the message names the transaction {span} ({}):\n{out}",
        marks[k + 1].label
    );
    assert!(
        !table_exists(&dst, "bank", "acct") && checksums(&dst, "bank") == final_keep,
        "a refused restore changes nothing on the target"
    );
}

flavor_tests! {
fn accident_drill_row_format(flavor: Flavor) {
    accident_drill(flavor, "ROW");
}
}

flavor_tests! {
fn accident_drill_mixed_format(flavor: Flavor) {
    accident_drill(flavor, "MIXED");
}
}

/// Every base table of `db` compared by content (invisible columns too), and its objects.
fn drill_state(server: &TestServer, db: &str) -> (Vec<(String, String)>, Vec<String>) {
    let tables = server.sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
         AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    ));
    let sums = tables
        .lines()
        .map(|t| (t.to_string(), support::content_checksum(server, db, t)))
        .collect();
    (sums, support::object_definitions(server, db))
}

/// The accident drill on MySQL 9.7 through one backup method: a database with every MySQL
/// type and object (tests/support/types.rs), a full backup, writes after it (a partial JSON
/// update in a minimal row image, a compressed transaction, a tagged GTID, XA), an accidental
/// DROP TABLE, then a restore to just before it, found with `binlog find`: every table
/// (invisible columns included) and every object exactly as they were.
fn mysql_drill(method: &str) {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let fs = if method == "btrfs" {
        let Some(fs) = support::btrfs::BtrfsMount::new() else {
            return;
        };
        Some(fs)
    } else {
        None
    };
    let src = TestServer::start_with(ServerOptions {
        flavor: Flavor::MySQL,
        parent_dir: fs.as_ref().map(|f| f.subvolume()),
        ..Default::default()
    });
    let dst = TestServer::of(Flavor::MySQL);
    let dir = tempfile::tempdir().unwrap();
    let config = support::config_with(
        dir.path(),
        &[("src", &src), ("dst", &dst)],
        &format!("method = \"{method}\"\n"),
    );
    let types = dir.path().join("types.sql");
    std::fs::write(
        &types,
        format!(
            "CREATE DATABASE lt;\n{}",
            support::types::mysql_types_sql(&src, "lt")
        ),
    )
    .unwrap();
    src.sql_file(&types);
    let full = backup(&config, &["--set", "src"]);
    assert_eq!(full["method"], method, "{full:#}");

    for sql in [
        "INSERT INTO lt.js VALUES (6, '{\"after\": [1, 2, {\"x\": null}]}', 'true', '[9, 10]')",
        "SET SESSION binlog_row_value_options = 'PARTIAL_JSON'; \
         SET SESSION binlog_row_image = 'MINIMAL'; \
         UPDATE lt.js SET j = JSON_SET(j, '$.a', 99, '$.c.e', 'ü') WHERE id = 1",
        "SET SESSION binlog_transaction_compression = ON; BEGIN; \
         INSERT INTO lt.gipk VALUES (7, 'seven'); UPDATE lt.expr SET b = 'z2', h = 4 WHERE id = 3; \
         COMMIT",
        "SET GTID_NEXT = 'AUTOMATIC:drill'; \
         INSERT INTO lt.geo VALUES (3, ST_GeomFromText('POINT(10 20)', 4326), POINT(-1, -2)); \
         SET GTID_NEXT = 'AUTOMATIC'",
        "INSERT INTO lt.ft VALUES (3, '新しい行のテキスト')",
        "XA START 'drill'; INSERT INTO lt.gipk VALUES (9, 'xa'); XA END 'drill'; \
         XA PREPARE 'drill'; XA COMMIT 'drill'",
        "DELETE FROM lt.gipk WHERE a IS NULL",
    ] {
        src.sql(sql);
    }
    let before = drill_state(&src, "lt");
    src.sql("DROP TABLE lt.js");
    src.sql("INSERT INTO lt.gipk VALUES (8, 'after'); FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    let found = json(&zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "src",
            "--match",
            "DROP TABLE",
            "--format",
            "json",
        ],
    ));
    let point = format!("{}:{}", found["file"].as_str().unwrap(), found["pos"]);

    let restored = if method == "btrfs" {
        let target = dir.path().join("restored");
        let spec = format!("datadir:{}", target.display());
        zrm_ok(
            &config,
            &[
                "restore",
                "--set",
                "src",
                "--target",
                &spec,
                "--start-server",
                "--until-position",
                &point,
            ],
        );
        TestServer::start_on_copy_of(&target, ServerOptions::of(Flavor::MySQL))
    } else {
        zrm_ok(
            &config,
            &[
                "restore",
                "--set",
                "src",
                "--target",
                "dst",
                "--until-position",
                &point,
            ],
        );
        dst
    };
    let after = drill_state(&restored, "lt");
    assert_eq!(after.0, before.0, "{method}: the tables' content");
    assert_eq!(after.1, before.1, "{method}: the objects");
    assert_eq!(
        restored
            .sql("SELECT JSON_EXTRACT(j, '$.a'), JSON_EXTRACT(j, '$.c.e') FROM lt.js WHERE id = 1"),
        "99\t\"ü\"",
        "{method}: the partial JSON update is in"
    );
}

#[test]
fn mysql_accident_drill_every_type_logical() {
    mysql_drill("logical");
}

#[test]
fn mysql_accident_drill_every_type_mysqldump() {
    mysql_drill("mysqldump");
}

#[test]
fn mysql_accident_drill_every_type_btrfs() {
    mysql_drill("btrfs");
}

/// MySQL 8.3+ tagged GTIDs (`uuid:tag:N`) as restore points, between untagged ones.
#[test]
fn mysql_until_a_tagged_gtid() {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let src = TestServer::of(Flavor::MySQL);
    let dst = TestServer::of(Flavor::MySQL);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    let state = "CHECKSUM TABLE g.t";
    src.sql("CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY, v VARCHAR(20))");
    backup(&config, &["--set", "src"]);
    let tagged = |n: u32| {
        commit(
            &src,
            &format!("tagged {n}"),
            &format!(
                "SET GTID_NEXT = 'AUTOMATIC:batch_7'; INSERT INTO g.t VALUES ({n}, 'tagged'); \
                 SET GTID_NEXT = 'AUTOMATIC'"
            ),
            state,
        )
    };
    let a = tagged(1);
    let b = commit(&src, "plain", "INSERT INTO g.t VALUES (2, 'plain')", state);
    let c = tagged(3);
    src.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    let uuid = src.server_uuid().unwrap();
    let (ta, tc) = (format!("{uuid}:batch_7:1"), format!("{uuid}:batch_7:2"));

    let found = json(&zrm_ok(
        &config,
        &[
            "binlog", "find", "--set", "src", "--gtid", &tc, "--format", "json",
        ],
    ));
    assert_eq!(found["gtid"], tc.as_str(), "{found:#}");
    assert_eq!(found["pos"], b.pos, "{found:#}");

    let (out, r) = restore_ok(&config, &["--until-gtid", &tc]);
    assert_eq!(dst.sql(state), b.state, "--until-gtid {tc}\n{out}");
    assert_eq!(r["stop"]["first_excluded"]["gtid"], tc.as_str(), "{out}");
    let (out, _) = restore_ok(&config, &["--replace", "--until-gtid", &ta, "--inclusive"]);
    assert_eq!(
        dst.sql(state),
        a.state,
        "--until-gtid {ta} --inclusive\n{out}"
    );
    let (out, _) = restore_ok(&config, &["--replace"]);
    assert_eq!(dst.sql(state), c.state, "everything\n{out}");
}

// ---------------------------------------------------------------------------------------------
// 2. A broken chain
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn gap_in_the_chain_is_refused(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    let state = "CHECKSUM TABLE g.t";

    src.sql(
        "CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO g.t VALUES (1, 1), (2, 2)",
    );
    let full = backup(&config, &["--set", "src"]);
    let (cp_file, _) = consistent_point(&full);
    let mut batches: Vec<Vec<Mark>> = Vec::new();
    for b in 0..4u32 {
        let mut marks = Vec::new();
        for i in 0..5u32 {
            let n = b * 10 + i;
            marks.push(commit(
                &src,
                &format!("batch {b} trx {i}"),
                &format!(
                    "INSERT INTO g.t VALUES ({}, {n}); UPDATE g.t SET v = v + {n} WHERE id = 1",
                    100 + n
                ),
                state,
            ));
        }
        src.sql("FLUSH BINARY LOGS");
        batches.push(marks);
    }
    let files: Vec<String> = batches.iter().map(|b| b[0].file.clone()).collect();
    assert_eq!(files[0], cp_file, "{batches:?}");
    for b in &batches {
        assert!(
            b.iter().all(|m| m.file == b[0].file),
            "one file per batch: {b:?}"
        );
    }
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);

    let adir = archive_dir(dir.path(), "src", &src);
    let missing = &files[2];
    for ext in ["zst", "json"] {
        let p = adir.join(format!("{missing}.{ext}"));
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("removing {}: {e}", p.display()));
    }

    let out = restore(&config, &[]);
    assert_eq!(out.code, 1, "a restore across a gap:\n{out}");
    assert!(
        out.stderr.contains("missing between") && out.stderr.contains(missing.as_str()),
        "the message names the missing file {missing}:\n{out}"
    );
    assert!(
        !database_exists(&dst, "g"),
        "a refused restore changes nothing on the target:\n{out}"
    );

    // A point after the gap is refused just the same.
    let after_gap = &batches[3][2];
    let point = format!("{}:{}", after_gap.file, after_gap.pos);
    let out = restore(&config, &["--until-position", &point]);
    assert_eq!(
        out.code, 1,
        "--until-position {point} (after the gap):\n{out}"
    );
    assert!(out.stderr.contains("missing between"), "{out}");
    assert!(!database_exists(&dst, "g"), "{out}");

    // A point before the gap works.
    let k = &batches[1][2];
    let point = format!("{}:{}", k.file, k.pos);
    let (out, r) = restore_ok(&config, &["--until-position", &point]);
    assert_eq!(
        dst.sql(state),
        k.state,
        "--until-position {point}: the state after {}\n{out}",
        k.label
    );
    assert_eq!(r["last_applied"]["gtid"], k.gtid, "{out}");
}
}

/// MySQL silently skips a transaction whose GTID its `gtid_executed` already holds. Restoring
/// twice into one target (the second time it holds every replayed GTID from the first) must
/// still apply every transaction; a target with `gtid_mode = OFF`, which refuses GTIDs, takes
/// them too. (The skip was seen: a second restore into the same target lost its replay.)
#[test]
fn mysql_replay_never_skips_a_transaction_the_target_has_a_gtid_for() {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let src = TestServer::of(Flavor::MySQL);
    let dst = TestServer::of(Flavor::MySQL);
    let off = TestServer::start_with(ServerOptions {
        flavor: Flavor::MySQL,
        extra_args: vec![
            "--gtid-mode=OFF".into(),
            "--enforce-gtid-consistency=OFF".into(),
        ],
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst), ("off", &off)]);
    let state = "CHECKSUM TABLE s.t";
    src.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, v INT); INSERT INTO s.t VALUES (1, 1)");
    backup(&config, &["--set", "src"]);
    let before = src.gtid_executed();
    for i in 2..=6 {
        src.sql(&format!(
            "INSERT INTO s.t VALUES ({i}, {i}); UPDATE s.t SET v = v + {i} WHERE id = 1"
        ));
    }
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = src.sql(state);
    let uuid = src.server_uuid().unwrap();

    let out = zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(dst.sql(state), expected, "{out}");
    assert!(!out.stderr.contains("without the source's GTIDs"), "{out}");
    // The first time, the transactions keep their identity on the target.
    let replayed = format!(
        "{uuid}:{}-13",
        before.rsplit('-').next().unwrap().parse::<u64>().unwrap() + 1
    );
    assert!(
        dst.gtid_executed().contains(&replayed),
        "{replayed} in {}\n{out}",
        dst.gtid_executed()
    );
    // Again, over the same target: every GTID is in its gtid_executed now.
    dst.sql("UPDATE s.t SET v = 0");
    let out = zrm_ok(
        &config,
        &["restore", "--set", "src", "--target", "dst", "--replace"],
    );
    assert_eq!(
        dst.sql(state),
        expected,
        "the second restore skipped transactions:\n{out}"
    );
    assert!(out.stderr.contains("would have skipped silently"), "{out}");

    let out = zrm_ok(&config, &["restore", "--set", "src", "--target", "off"]);
    assert_eq!(off.sql(state), expected, "{out}");
    assert!(out.stderr.contains("gtid_mode = OFF"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// 3. The source's time zone
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn time_zone_of_the_source_is_kept(flavor: Flavor) {
    let src = TestServer::start_with(ServerOptions {
        flavor,
        binlog_format: "MIXED",
        time_zone: Some("+05:30".into()),
        ..Default::default()
    });
    let dst = TestServer::start_with(ServerOptions {
        flavor,
        time_zone: Some("+00:00".into()),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);

    src.sql(
        "CREATE DATABASE tz; CREATE TABLE tz.t (id INT PRIMARY KEY, ts TIMESTAMP NULL, \
         dt DATETIME NULL, n TIMESTAMP NULL, dn DATETIME NULL); \
         INSERT INTO tz.t VALUES (1, '2026-01-15 08:00:00', '2026-01-15 08:00:00', NOW(), NOW())",
    );
    backup(&config, &["--set", "src"]);
    src.sql(
        "INSERT INTO tz.t VALUES (2, '2026-06-01 12:00:00', '2026-06-01 12:00:00', NOW(), NOW()); \
         INSERT INTO tz.t VALUES (3, '2026-12-31 23:45:00', '2026-12-31 23:45:00', NOW(), NOW()); \
         UPDATE tz.t SET ts = '2026-03-01 00:10:00', n = NOW() WHERE id = 1; \
         INSERT INTO tz.t (id, ts, dt) VALUES (4, FROM_UNIXTIME(1780000000), FROM_UNIXTIME(1780000000)); \
         INSERT INTO tz.t (id, dt, dn) SELECT 5, ts, CURRENT_TIMESTAMP FROM tz.t WHERE id = 2",
    );
    backup(&config, &["--set", "src", "--level", "1"]);
    let (out, _) = restore_ok(&config, &[]);

    let q = "SELECT id, UNIX_TIMESTAMP(ts), dt, UNIX_TIMESTAMP(n), dn FROM tz.t ORDER BY id";
    let expected = src.sql(q);
    assert_eq!(expected.lines().count(), 5, "{expected}");
    assert_eq!(
        src.sql("SELECT UNIX_TIMESTAMP(ts) FROM tz.t WHERE id = 2"),
        "1780295400",
        "'2026-06-01 12:00:00' at +05:30 is 06:30 UTC"
    );
    assert_eq!(
        dst.sql(q),
        expected,
        "restored values (id, ts, dt, n, dn) differ from the source's\n{out}"
    );
}
}

// ---------------------------------------------------------------------------------------------
// 4. Resuming a failed replay
// ---------------------------------------------------------------------------------------------

/// The `zrm restore ...` command printed in a message, as arguments (quotes removed).
fn printed_command(stderr: &str) -> Vec<String> {
    let at = stderr
        .find("zrm restore")
        .unwrap_or_else(|| panic!("no `zrm restore` command in:\n{stderr}"));
    let line = stderr[at..].lines().next().unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect()
}

flavor_tests! {
fn resume_after_a_failed_replay(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);

    src.sql(
        "CREATE DATABASE base; CREATE TABLE base.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO base.t VALUES (1, 1), (2, 2), (3, 3)",
    );
    backup(&config, &["--set", "src"]);
    for i in 4..=8 {
        src.sql(&format!(
            "INSERT INTO base.t VALUES ({i}, {i}); UPDATE base.t SET v = v + {i} WHERE id = 1"
        ));
    }
    let before_late = checksums(&src, "base");
    src.sql("CREATE DATABASE late");
    src.sql("CREATE TABLE late.t (id INT PRIMARY KEY, v VARCHAR(20))");
    src.sql("INSERT INTO late.t VALUES (1, 'one'), (2, 'two')");
    src.sql("FLUSH BINARY LOGS");
    for i in 9..=12 {
        src.sql(&format!(
            "INSERT INTO base.t VALUES ({i}, {i}); INSERT INTO late.t VALUES ({i}, 'n{i}'); \
             UPDATE base.t SET v = v * 2 WHERE id = 2"
        ));
    }
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = snapshot(&src);

    let out = zrm_ok(
        &config,
        &[
            "binlog",
            "find",
            "--set",
            "src",
            "--match",
            "CREATE DATABASE late",
            "--format",
            "json",
        ],
    );
    let found = json(&out);
    let create_at = format!(
        "{}:{}",
        found["file"].as_str().unwrap(),
        found["pos"].as_u64().unwrap()
    );

    // The target already has `late.t`: the replayed CREATE DATABASE fails.
    dst.sql("CREATE DATABASE late; CREATE TABLE late.t (id INT PRIMARY KEY); INSERT INTO late.t VALUES (7)");
    let out = zrm(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(
        out.code, 1,
        "the replay must fail on CREATE DATABASE late:\n{out}"
    );
    assert!(out.stderr.contains("--resume"), "{out}");
    assert!(
        out.stderr.contains(&format!("--resume {create_at}")),
        "the replay stopped at the CREATE DATABASE, which starts at {create_at}:\n{out}"
    );
    assert!(
        out.stderr.contains(&create_at),
        "the message names the stop point {create_at}:\n{out}"
    );
    assert_eq!(
        checksums(&dst, "base"),
        before_late,
        "every transaction before the failed one is applied:\n{out}"
    );

    dst.sql("DROP DATABASE late");
    let args = printed_command(&out.stderr);
    assert_eq!(args[0], "restore", "{args:?}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumed = zrm(&config, &args);
    assert_eq!(resumed.code, 0, "zrm {args:?}:\n{resumed}");
    assert_eq!(
        snapshot(&dst),
        expected,
        "after the resume the target equals the source\n{resumed}"
    );
}
}

// ---------------------------------------------------------------------------------------------
// 5. A non-empty target
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn non_empty_target_is_refused_and_replace_works(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);

    src.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO d.t VALUES (1, 1), (2, 2)",
    );
    backup(&config, &["--set", "src"]);
    src.sql("INSERT INTO d.t VALUES (3, 3); UPDATE d.t SET v = 20 WHERE id = 2");
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = checksums(&src, "d");

    dst.sql("CREATE DATABASE d; CREATE TABLE d.other (x INT); INSERT INTO d.other VALUES (42)");
    let out = restore(&config, &[]);
    assert_eq!(out.code, 1, "a restore onto a non-empty database:\n{out}");
    assert!(out.stderr.contains("not empty"), "{out}");
    assert!(
        out.stderr.contains("d (1 table)"),
        "the message names the database:\n{out}"
    );
    assert_eq!(
        dst.sql("SELECT x FROM d.other"),
        "42",
        "a refused restore changes nothing"
    );
    assert!(!table_exists(&dst, "d", "t"), "{out}");

    let (out, _) = restore_ok(&config, &["--replace"]);
    assert_eq!(checksums(&dst, "d"), expected, "{out}");
    assert!(
        !table_exists(&dst, "d", "other"),
        "--replace drops the database first:\n{out}"
    );

    // An existing but empty database is no obstacle.
    dst.sql("DROP DATABASE d; CREATE DATABASE d");
    let (out, _) = restore_ok(&config, &[]);
    assert_eq!(checksums(&dst, "d"), expected, "{out}");
}
}

// ---------------------------------------------------------------------------------------------
// 6. One database
// ---------------------------------------------------------------------------------------------

flavor_tests! {
fn single_database_filter_replays_only_it(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);

    src.sql(
        "CREATE DATABASE one; CREATE TABLE one.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO one.t VALUES (1, 1); \
         CREATE DATABASE two; CREATE TABLE two.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO two.t VALUES (1, 1)",
    );
    backup(&config, &["--set", "src"]);
    src.sql_db(
        "one",
        "INSERT INTO t VALUES (2, 2); UPDATE t SET v = 10 WHERE id = 1; \
         CREATE TABLE n (id INT PRIMARY KEY); INSERT INTO n VALUES (1), (2)",
    );
    src.sql_db(
        "two",
        "INSERT INTO t VALUES (2, 2); DELETE FROM t WHERE id = 1; \
         CREATE TABLE n (id INT PRIMARY KEY); INSERT INTO n VALUES (5)",
    );
    src.sql_db(
        "one",
        "BEGIN; INSERT INTO t VALUES (3, 3); DELETE FROM n WHERE id = 2; COMMIT",
    );
    src.sql_db("two", "DROP TABLE t");
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = checksums(&src, "one");
    assert_eq!(expected.len(), 2, "{expected:?}");

    let (out, r) = restore_ok(&config, &["--databases", "one"]);
    assert_eq!(r["databases"], serde_json::json!(["one"]), "{out}");
    assert_eq!(checksums(&dst, "one"), expected, "{out}");
    assert!(
        !database_exists(&dst, "two"),
        "only `one` is restored and replayed:\n{out}"
    );
}
}

flavor_tests! {
/// `--databases one,three`: both replayed, interleaved in their original order (a statement in
/// `three` reads what `one` wrote just before), `two` left out.
fn several_databases_replay_in_order(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    src.sql(
        "CREATE DATABASE one; CREATE TABLE one.t (id INT PRIMARY KEY, v INT); \
         CREATE DATABASE two; CREATE TABLE two.t (id INT PRIMARY KEY, v INT); \
         CREATE DATABASE three; CREATE TABLE three.t (id INT PRIMARY KEY, v INT)",
    );
    backup(&config, &["--set", "src"]);
    for i in 1..=5 {
        src.sql(&format!(
            "INSERT INTO one.t VALUES ({i}, {i}); INSERT INTO two.t VALUES ({i}, {i}); \
             INSERT INTO three.t SELECT id, v * 10 FROM one.t WHERE id = {i}"
        ));
    }
    src.sql("CREATE TABLE three.late (id INT); INSERT INTO three.late VALUES (7)");
    backup(&config, &["--set", "src", "--level", "1"]);
    let (out, r) = restore_ok(&config, &["--databases", "one,three"]);
    assert_eq!(r["databases"], serde_json::json!(["one", "three"]), "{out}");
    assert_eq!(checksums(&dst, "one"), checksums(&src, "one"), "{out}");
    assert_eq!(checksums(&dst, "three"), checksums(&src, "three"), "{out}");
    assert_eq!(dst.sql("SELECT SUM(v) FROM three.t"), "150", "{out}");
    assert!(!database_exists(&dst, "two"), "`two` is left out:\n{out}");
}
}

// ---------------------------------------------------------------------------------------------
// 7. Beyond the brief: edge cases of choosing the base and reading times
// ---------------------------------------------------------------------------------------------

flavor_tests! {
/// A point between two full backups must be reached from the older one.
fn point_before_the_newest_full_backup_uses_the_older_one(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    let state = "CHECKSUM TABLE o.t";

    src.sql("CREATE DATABASE o; CREATE TABLE o.t (id INT PRIMARY KEY, v INT); INSERT INTO o.t VALUES (1, 1)");
    let full1 = backup(&config, &["--set", "src"]);
    let mut marks = Vec::new();
    for i in 2..=7u32 {
        if i == 5 {
            sleep(NEXT_SECOND);
        }
        marks.push(commit(
            &src,
            &format!("trx {i}"),
            &format!("BEGIN; INSERT INTO o.t VALUES ({i}, {i}); UPDATE o.t SET v = v + {i} WHERE id = 1; COMMIT"),
            state,
        ));
    }
    sleep(NEXT_SECOND);
    let full2 = backup(&config, &["--set", "src"]);
    for i in 8..=9u32 {
        src.sql(&format!("INSERT INTO o.t VALUES ({i}, {i})"));
    }
    backup(&config, &["--set", "src", "--level", "1"]);
    let full1_id = full1["id"].as_str().unwrap();
    assert_ne!(full1["id"], full2["id"]);

    // trx 4 is the last one applied; trx 5 committed a second later.
    let (a, b) = (&marks[2], &marks[3]);
    assert!(b.time > a.time, "{a:?} {b:?}");
    let cases = [
        vec!["--until-time".to_string(), rfc3339(a.time)],
        vec![
            "--until-position".to_string(),
            format!("{}:{}", a.file, a.pos),
        ],
        vec!["--until-gtid".to_string(), b.gtid.clone()],
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let mut args: Vec<&str> = vec!["--replace"];
        args.extend(case.iter().map(String::as_str));
        let out = restore(&config, &args);
        let got = if out.code == 0 {
            dst.sql(state)
        } else {
            String::new()
        };
        if out.code != 0 || got != a.state {
            failures.push(format!(
                "restore {args:?}: expected the state after {} from backup {full1_id}, got {}\n{out}",
                a.label,
                if out.code == 0 {
                    format!("{got} (restored {})", json(&out)["restored"])
                } else {
                    "a failure".to_string()
                }
            ));
        }
        // Naming the older backup works.
        args.extend(["--backup", full1_id]);
        let (out, _) = restore_ok(&config, &args);
        assert_eq!(dst.sql(state), a.state, "restore {args:?}\n{out}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
}

flavor_tests! {
/// `--until-time` without an offset is read in the source server's zone.
fn until_time_without_offset_is_in_the_sources_zone(flavor: Flavor) {
    let src = TestServer::start_with(ServerOptions {
        flavor,
        time_zone: Some("+05:30".into()),
        ..Default::default()
    });
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    let state = "CHECKSUM TABLE z.t";
    src.sql("CREATE DATABASE z; CREATE TABLE z.t (id INT PRIMARY KEY)");
    backup(&config, &["--set", "src"]);
    let a = commit(&src, "first", "INSERT INTO z.t VALUES (1)", state);
    sleep(NEXT_SECOND);
    commit(&src, "second", "INSERT INTO z.t VALUES (2)", state);
    backup(&config, &["--set", "src", "--level", "1"]);

    let local = chrono::DateTime::from_timestamp(a.time, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let (out, _) = restore_ok(&config, &["--until-time", &local]);
    assert_eq!(
        dst.sql(state),
        a.state,
        "--until-time '{local}' (+05:30, the source's zone): the state after the first insert\n{out}"
    );
}
}

flavor_tests! {
/// A source in a named zone (with the time zone tables): restored into a server without them,
/// and into one with them, where `--until-time` without an offset is the source's local time.
fn named_time_zone_source(flavor: Flavor) {
    if flavor == Flavor::MariaDB && !support::require_tools(&["mariadb-tzinfo-to-sql"]) {
        return;
    }
    let src = TestServer::start_with(ServerOptions {
        flavor,
        binlog_format: "MIXED",
        time_zone: Some("Asia/Kolkata".into()),
        ..Default::default()
    });
    let plain = TestServer::start_with(ServerOptions {
        flavor,
        time_zone: Some("+00:00".into()),
        ..Default::default()
    });
    let with_tz = TestServer::start_with(ServerOptions {
        flavor,
        time_zone: Some("UTC".into()),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(
        dir.path(),
        &[("src", &src), ("plain", &plain), ("with_tz", &with_tz)],
    );
    let state = "SELECT id, UNIX_TIMESTAMP(ts), dt FROM z.t ORDER BY id";
    src.sql("CREATE DATABASE z; CREATE TABLE z.t (id INT PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME NULL)");
    backup(&config, &["--set", "src"]);
    let a = commit(
        &src,
        "first",
        "INSERT INTO z.t VALUES (1, '2026-06-01 12:00:00', NOW())",
        state,
    );
    sleep(NEXT_SECOND);
    let b = commit(
        &src,
        "second",
        "INSERT INTO z.t VALUES (2, '2026-06-01 12:00:00', NOW())",
        state,
    );
    backup(&config, &["--set", "src", "--level", "1"]);
    assert!(a.state.contains("1780295400"), "{a:?}");
    let local = chrono::DateTime::from_timestamp(a.time, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();

    let mut failures = Vec::new();
    let mut check = |target: &str, server: &TestServer, extra: &[&str], expected: &Mark| {
        let mut args = vec!["restore", "--set", "src", "--target", target, "--replace"];
        args.extend_from_slice(extra);
        let out = zrm(&config, &args);
        let got = if out.code == 0 {
            server.sql(state)
        } else {
            "(failed)".into()
        };
        if got != expected.state {
            failures.push(format!(
                "zrm {args:?}: expected the state after the {} insert:\n{}\ngot:\n{got}\n{out}",
                expected.label, expected.state
            ));
        }
    };
    // A target without time zone tables cannot replay statements that name the zone: zrm
    // refuses before changing anything, and says how to load the tables.
    let out = zrm(
        &config,
        &["restore", "--set", "src", "--target", "plain", "--replace"],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("'Asia/Kolkata'") && out.stderr.contains("mariadb-tzinfo-to-sql"),
        "{out}"
    );
    assert!(out.stderr.contains("nothing was changed"), "{out}");
    assert_eq!(
        plain.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'z'"),
        "0"
    );
    check("with_tz", &with_tz, &[], &b);
    check("with_tz", &with_tz, &["--until-time", &local], &a);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
}

flavor_tests! {
/// `--databases one` with writes that name their tables `one.x` from a session with no
/// default database (or another one), in row format.
fn single_database_filter_with_qualified_names(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    src.sql(
        "CREATE DATABASE one; CREATE TABLE one.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO one.t VALUES (1, 1); \
         CREATE DATABASE two; CREATE TABLE two.t (id INT PRIMARY KEY, v INT)",
    );
    backup(&config, &["--set", "src"]);
    src.sql("INSERT INTO one.t VALUES (2, 2); UPDATE one.t SET v = 10 WHERE id = 1");
    src.sql_db(
        "two",
        "INSERT INTO one.t VALUES (3, 3); INSERT INTO t VALUES (1, 1)",
    );
    src.sql("CREATE TABLE one.n (id INT PRIMARY KEY); INSERT INTO one.n VALUES (1)");
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = checksums(&src, "one");

    let out = restore(&config, &["--databases", "one"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        checksums(&dst, "one"),
        expected,
        "one.t and one.n as on the source:\n{out}\nsource: {}\ntarget: {}",
        src.sql("SELECT * FROM one.t"),
        dst.sql("SELECT * FROM one.t")
    );
    assert!(!database_exists(&dst, "two"), "{out}");
}
}

flavor_tests! {
/// A `--databases one` replay that fails: the printed `--resume` command must keep replaying
/// `one` alone.
fn resume_keeps_the_database_filter(flavor: Flavor) {
    let src = TestServer::start_with(ServerOptions {
        flavor,
        binlog_format: "STATEMENT",
        ..Default::default()
    });
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    src.sql(
        "CREATE DATABASE one; CREATE TABLE one.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO one.t VALUES (1, 1); \
         CREATE DATABASE two; CREATE TABLE two.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO two.t VALUES (1, 1)",
    );
    backup(&config, &["--set", "src"]);
    src.sql_db("one", "INSERT INTO t VALUES (2, 2)");
    src.sql_db("two", "INSERT INTO t VALUES (5, 5)");
    // Reads `two`, which a `--databases one` restore does not bring: this fails there.
    src.sql_db("one", "INSERT INTO t SELECT id + 100, v FROM two.t");
    src.sql_db("one", "INSERT INTO t VALUES (3, 3)");
    src.sql_db(
        "two",
        "CREATE TABLE n (id INT PRIMARY KEY); INSERT INTO t VALUES (6, 6)",
    );
    backup(&config, &["--set", "src", "--level", "1"]);
    let expected = checksums(&src, "one");

    let out = zrm(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--databases",
            "one",
        ],
    );
    assert_eq!(
        out.code, 1,
        "the replay must fail on the INSERT ... SELECT:\n{out}"
    );
    assert!(out.stderr.contains("--resume"), "{out}");
    // The fix: `two.t` as it was on the source at that point.
    dst.sql(
        "CREATE DATABASE two; CREATE TABLE two.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO two.t VALUES (1, 1), (5, 5)",
    );
    let args = printed_command(&out.stderr);
    let mut failures = Vec::new();
    if !args
        .windows(2)
        .any(|w| w[0] == "--databases" && w[1] == "one")
    {
        failures.push(format!(
            "the printed resume command drops --databases one: {args:?}"
        ));
    }
    // Run it as printed: a user would.
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumed = zrm(&config, &args);
    if resumed.code != 0 {
        failures.push(format!("zrm {args:?} failed:\n{resumed}"));
    }
    if checksums(&dst, "one") != expected {
        failures.push("`one` differs from the source's after the resume".into());
    }
    if table_exists(&dst, "two", "n") {
        failures.push("the resumed replay applied `two`'s statements (two.n exists)".into());
    }
    assert!(
        failures.is_empty(),
        "{}\n--- first run ---\n{out}\n--- resume ---\n{resumed}",
        failures.join("\n")
    );
}
}

flavor_tests! {
/// A set that names its databases (`databases = ["app"]`, `exclude = ["app.tmp_*"]`): replay
/// covers only those, so changes to other databases and account statements on the source are
/// not applied to the target (the base holds neither).
fn replay_covers_only_what_the_backup_selected(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[repository]\npath = \"repo\"\n[defaults]\nuser = \"root\"\n\
         [sets.src]\nsocket = \"{}\"\ndatabases = [\"app\"]\nexclude = [\"app.tmp_*\"]\n\
         [sets.dst]\nsocket = \"{}\"\n",
        src.socket().display(),
        dst.socket().display()
    );
    let config = support::write_config(dir.path(), &body);
    src.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); \
         CREATE TABLE app.tmp_x (id INT); CREATE DATABASE other; CREATE TABLE other.t (id INT)",
    );
    backup(&config, &["--set", "src"]);
    src.sql(
        "INSERT INTO app.t VALUES (1), (2); INSERT INTO app.tmp_x VALUES (9); \
         ALTER TABLE app.tmp_x ADD COLUMN c INT; INSERT INTO other.t VALUES (7); \
         CREATE USER 'u'@'%' IDENTIFIED BY 'p1'; ALTER USER 'u'@'%' IDENTIFIED BY 'p2'; \
         GRANT SELECT ON app.* TO 'u'@'%'; DROP TABLE other.t; INSERT INTO app.t VALUES (3)",
    );
    backup(&config, &["--set", "src", "--level", "1"]);
    // The target has its own `other` database, which the restore must not touch.
    dst.sql(
        "CREATE DATABASE other; CREATE TABLE other.t (id INT); INSERT INTO other.t VALUES (42)",
    );
    let (out, _) = restore_ok(&config, &[]);
    assert_eq!(
        dst.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM app.t"),
        "1,2,3",
        "{out}"
    );
    assert!(
        !table_exists(&dst, "app", "tmp_x"),
        "excluded table not replayed:\n{out}"
    );
    assert_eq!(
        dst.sql("SELECT GROUP_CONCAT(id) FROM other.t"),
        "42",
        "other database untouched:\n{out}"
    );
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'u'"),
        "0",
        "no account replayed:\n{out}"
    );
}
}

flavor_tests! {
/// A time later than everything archived cannot be promised (the binlogs in between may
/// exist on the server only): refused, naming where the archive ends. And `--resume` must
/// name a transaction start: inside one, half a transaction would be committed.
fn until_time_past_the_archive_and_resume_inside_a_transaction_are_refused(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    src.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY)");
    backup(&config, &["--set", "src"]);
    src.sql("INSERT INTO d.t VALUES (1), (2); INSERT INTO d.t VALUES (3)");
    backup(&config, &["--set", "src", "--level", "1"]);

    let out = restore(&config, &["--until-time", "2099-01-01T00:00:00Z"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("the archive ends at"), "{out}");
    assert!(!database_exists(&dst, "d"), "nothing restored:\n{out}");

    // A rows event's position is inside its transaction.
    let events = zrm_ok(
        &config,
        &["binlog", "analyze", "--set", "src", "--format", "json"],
    );
    let rows_event = events
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"].as_str().unwrap_or("").starts_with("Write_rows"))
        .expect("a Write_rows event");
    let inside = format!(
        "{}:{}",
        rows_event["file"].as_str().unwrap(),
        rows_event["pos"]
    );
    let out = restore(&config, &["--resume", &inside]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("--resume") && out.stderr.contains("inside a transaction"),
        "{out}"
    );
}
}
