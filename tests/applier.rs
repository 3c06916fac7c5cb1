//! zrm's own binlog applier (`restore::applier`) against real servers of both flavors: every
//! test restores a full backup, replays the binlogs written after it, and compares CHECKSUM
//! TABLE of every table with the source. Hot rows, foreign keys with cascades, tables without
//! a key, DDL in the middle, statements (temporary tables, LOAD DATA) in STATEMENT and MIXED
//! format, triggers, a transaction larger than the applier holds in memory, `kill -9` during
//! the replay then `--resume`, and a target that keeps GTIDs strictly.

mod support;

use std::path::Path;

use support::{
    backup, checksums, config_for, finish, spawn_zrm, wait_for, zrm_ok, Flavor, Output,
    ServerOptions, TestServer,
};

/// Every database of interest equal on both servers.
fn assert_same(src: &TestServer, dst: &TestServer, dbs: &[&str], out: &Output) {
    for db in dbs {
        assert_eq!(
            checksums(dst, db),
            checksums(src, db),
            "database {db} differs after the replay\n{out}"
        );
    }
}

/// A source and a target of `flavor`, a config naming them `src` and `dst`, and a full
/// backup taken after `setup`.
struct Drill {
    src: TestServer,
    dst: TestServer,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    full: serde_json::Value,
}

impl Drill {
    fn new(src: ServerOptions, dst: ServerOptions, setup: &str) -> Drill {
        let src = TestServer::start_with(src);
        let dst = TestServer::start_with(dst);
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
        src.sql(setup);
        let full = backup(&config, &["--set", "src"]);
        Drill {
            src,
            dst,
            dir,
            config,
            full,
        }
    }

    fn of(flavor: Flavor, setup: &str) -> Drill {
        Self::new(ServerOptions::of(flavor), ServerOptions::of(flavor), setup)
    }

    /// Archive what was written since the full backup (an incremental), then restore it all.
    fn replay(&self, extra: &[&str]) -> Output {
        backup(&self.config, &["--set", "src", "--level", "1"]);
        let mut args = vec!["restore", "--set", "src", "--target", "dst"];
        args.extend_from_slice(extra);
        zrm_ok(&self.config, &args)
    }

    fn config(&self) -> &Path {
        &self.config
    }

    /// The full backup's consistent point, `FILE:POS`: where the replay starts.
    fn replay_start(&self) -> String {
        let cp = &self.full["consistent_point"];
        format!(
            "{}:{}",
            cp["binlog_file"].as_str().unwrap(),
            cp["binlog_pos"].as_u64().unwrap()
        )
    }

    /// Run zrm with `args` and `kill -9` it once the target's `table` has more than `rows`
    /// rows; what the killed run printed.
    fn kill_during(&self, args: &[&str], table: &str, rows: u64) -> Output {
        let mut child = spawn_zrm(self.config(), args);
        wait_for("some of the replay committed", 120, || {
            self.dst
                .try_sql(&format!("SELECT COUNT(*) FROM {table}"))
                .is_ok_and(|n| n.trim().parse::<u64>().is_ok_and(|n| n > rows))
        });
        child.kill().unwrap();
        finish(child)
    }
}

/// Rows of a table (or any single number a query gives).
fn count(server: &TestServer, query: &str) -> u64 {
    server.sql(query).trim().parse().unwrap()
}

/// Many statements, fed on stdin (too long for an argument).
fn script(server: &TestServer, sql: &str) {
    let path = server.dir().join("script.sql");
    std::fs::write(&path, sql).unwrap();
    server.sql_file(&path);
}

/// MySQL: the target holds exactly the source's GTIDs written after the full backup (the
/// load brings none of them), every replayed transaction's and nothing more of the source's.
fn assert_replayed_gtids(d: &Drill, out: &Output) {
    let at_backup = d.full["consistent_point"]["gtid_set"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let src_now = d.src.gtid_executed();
    let replayed = d
        .dst
        .sql(&format!("SELECT GTID_SUBTRACT('{src_now}', '{at_backup}')"))
        .replace("\\n", "")
        .replace('\n', "");
    assert!(
        !replayed.is_empty(),
        "the source wrote after its backup\n{out}"
    );
    let missing = d.dst.sql(&format!(
        "SELECT GTID_SUBTRACT('{replayed}', @@GLOBAL.gtid_executed)"
    ));
    assert_eq!(
        missing.trim(),
        "",
        "source GTIDs missing on the target\n{out}"
    );
    let uuid = d.src.server_uuid().unwrap();
    let extra = d.dst.sql(&format!(
        "SELECT GTID_SUBTRACT(@@GLOBAL.gtid_executed, '{replayed}')"
    ));
    assert!(
        !extra.contains(&uuid),
        "the target holds source GTIDs that were not replayed: {extra}\n{out}"
    );
}

/// The commits the applier reports.
fn commits(out: &Output) -> u64 {
    out.stdout
        .split(" commits")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no commit count in {out}"))
}

fn applied_by_zrm(out: &Output) {
    assert!(
        out.stdout.contains("applied by zrm"),
        "zrm's applier ran:\n{out}"
    );
}

flavor_tests! {
fn hot_rows_and_independent_rows_on_several_lanes(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE app; CREATE TABLE app.hot (id INT PRIMARY KEY, v BIGINT NOT NULL); \
         CREATE TABLE app.wide (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(40), \
         UNIQUE KEY (s)) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci; \
         INSERT INTO app.hot VALUES (1, 0), (2, 0), (3, 0);",
    );
    // Many transactions on three hot rows, interleaved with independent inserts and updates,
    // and a case-insensitive unique key whose value moves between rows.
    let mut sql = String::new();
    for i in 0..400 {
        sql.push_str(&format!(
            "BEGIN; UPDATE app.hot SET v = (v * 3 + {i}) % 1000003 WHERE id = {}; \
             INSERT INTO app.wide VALUES ({i}, {i} % 7, NULL); COMMIT;\n",
            i % 3 + 1
        ));
        if i % 10 == 0 {
            // The same unique value, spelled in another case, moves from row to row.
            sql.push_str(&format!(
                "BEGIN; UPDATE app.wide SET s = NULL WHERE s = 'Key'; \
                 UPDATE app.wide SET s = '{}' WHERE id = {i}; COMMIT;\n",
                if i % 20 == 0 { "key" } else { "KEY" }
            ));
        }
    }
    script(&d.src, &sql);
    let out = d.replay(&["--replay-lanes", "4"]);
    applied_by_zrm(&out);
    assert!(out.stdout.contains("on 4 lane(s)"), "{out}");
    assert_same(&d.src, &d.dst, &["app"], &out);
}
}

flavor_tests! {
fn foreign_keys_with_cascades(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE shop; \
         CREATE TABLE shop.customer (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB; \
         CREATE TABLE shop.orders (id INT PRIMARY KEY, customer INT NOT NULL, total INT, \
           FOREIGN KEY (customer) REFERENCES shop.customer (id) ON DELETE CASCADE \
           ON UPDATE CASCADE) ENGINE=InnoDB; \
         CREATE TABLE shop.line (id INT PRIMARY KEY, orders INT NOT NULL, qty INT, \
           FOREIGN KEY (orders) REFERENCES shop.orders (id) ON DELETE CASCADE) ENGINE=InnoDB;",
    );
    let mut sql = String::new();
    for c in 1..=30 {
        sql.push_str(&format!("INSERT INTO shop.customer VALUES ({c}, 'c{c}');\n"));
        for o in 0..3 {
            let id = c * 10 + o;
            sql.push_str(&format!(
                "BEGIN; INSERT INTO shop.orders VALUES ({id}, {c}, {o}); \
                 INSERT INTO shop.line VALUES ({id}, {id}, 1), ({}, {id}, 2); COMMIT;\n",
                id + 1000
            ));
        }
    }
    // Cascades: deleting customers removes their orders and lines; renumbering a customer
    // moves its orders.
    for c in (1..=30).step_by(4) {
        sql.push_str(&format!("DELETE FROM shop.customer WHERE id = {c};\n"));
    }
    sql.push_str("UPDATE shop.customer SET id = 500 WHERE id = 2;\n");
    sql.push_str("INSERT INTO shop.orders VALUES (9999, 500, 1);\n");
    script(&d.src, &sql);
    let out = d.replay(&[]);
    applied_by_zrm(&out);
    assert_same(&d.src, &d.dst, &["shop"], &out);
}
}

flavor_tests! {
fn tables_without_a_key_and_ddl_in_the_middle(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE d; CREATE TABLE d.nokey (a INT, b VARCHAR(10)) ENGINE=InnoDB; \
         CREATE TABLE d.t (id INT PRIMARY KEY, v INT);",
    );
    let mut sql = String::new();
    for i in 0..50 {
        // Duplicate rows: a row-based update or delete of one of them must touch one only.
        sql.push_str(&format!(
            "INSERT INTO d.nokey VALUES ({}, 'x'), ({}, 'x'); INSERT INTO d.t VALUES ({i}, {i});\n",
            i % 5,
            i % 5
        ));
    }
    sql.push_str("DELETE FROM d.nokey WHERE a = 1 LIMIT 3; UPDATE d.nokey SET b = 'y' WHERE a = 2 LIMIT 1;\n");
    // DDL in the middle: a column added, then rows using it; a table created and filled.
    sql.push_str("ALTER TABLE d.t ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none';\n");
    for i in 50..80 {
        sql.push_str(&format!(
            "INSERT INTO d.t VALUES ({i}, {i}, 'n{i}'); UPDATE d.t SET note = 'changed' WHERE id = {};\n",
            i - 50
        ));
    }
    sql.push_str("CREATE TABLE d.later (id INT PRIMARY KEY); INSERT INTO d.later VALUES (1), (2);\n");
    script(&d.src, &sql);
    let out = d.replay(&[]);
    applied_by_zrm(&out);
    assert!(
        out.stdout.contains("through the client pipeline"),
        "the DDL went through the client pipeline:\n{out}"
    );
    assert_same(&d.src, &d.dst, &["d"], &out);
    // The plan shows the lanes and the barriers (the ALTER and the CREATE TABLE).
    let plan = zrm_ok(
        d.config(),
        &["restore", "--set", "src", "--target", "dst", "--replace", "--dry-run"],
    );
    assert!(plan.stdout.contains("applier: zrm, 4 lane(s)"), "{plan}");
    assert!(plan.stdout.contains("barrier mysql-bin."), "{plan}");
}
}

flavor_tests! {
fn statements_temporary_tables_load_data_and_triggers(flavor: Flavor) {
    for format in ["STATEMENT", "MIXED", "ROW"] {
        let opts = ServerOptions {
            binlog_format: format,
            ..ServerOptions::of(flavor)
        };
        let d = Drill::new(
            opts,
            ServerOptions::of(flavor),
            "CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY, v INT); \
             CREATE TABLE s.audit (id INT AUTO_INCREMENT PRIMARY KEY, t_id INT); \
             CREATE TRIGGER s.t_ai AFTER INSERT ON s.t FOR EACH ROW \
               INSERT INTO s.audit (t_id) VALUES (NEW.id);",
        );
        let data = d.src.dir().join("rows.txt");
        std::fs::write(&data, (1000..1100).map(|i| format!("{i}\t{i}\n")).collect::<String>())
            .unwrap();
        let load = format!(
            "CREATE TEMPORARY TABLE s.tmp (id INT PRIMARY KEY, v INT); \
             INSERT INTO s.tmp VALUES (1, 10), (2, 20), (3, 30); \
             INSERT INTO s.t SELECT * FROM s.tmp; \
             LOAD DATA LOCAL INFILE '{}' INTO TABLE s.t; \
             UPDATE s.t SET v = v + 1 WHERE id < 1050; \
             DROP TEMPORARY TABLE s.tmp;",
            data.display()
        );
        // One session (the temporary table lives in it), LOAD DATA LOCAL allowed.
        let out = support::run(d.src.client().arg("--local-infile=1").arg("-e").arg(&load));
        assert!(out.success(), "{out}");
        let out = d.replay(&[]);
        assert_same(&d.src, &d.dst, &["s"], &out);
        let audit = d.dst.sql("SELECT COUNT(*) FROM s.audit");
        assert_eq!(audit.trim(), "103", "the trigger's rows once, never twice ({format}):\n{out}");
        drop(d.dir);
    }
}
}

flavor_tests! {
fn a_transaction_larger_than_the_applier_holds(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB); \
         SET GLOBAL max_allowed_packet = 1073741824;",
    );
    // About 24 MiB in one transaction: streamed through the client pipeline.
    let mut sql = String::from("BEGIN;\n");
    for i in 0..24 {
        sql.push_str(&format!("INSERT INTO big.t VALUES ({i}, REPEAT(CHAR(65 + {i} % 26), 1048576));\n"));
    }
    sql.push_str("COMMIT; INSERT INTO big.t VALUES (1000, 'after');\n");
    script(&d.src, &sql);
    let out = d.replay(&[]);
    assert!(out.stdout.contains("larger than 16 MiB"), "{out}");
    assert_same(&d.src, &d.dst, &["big"], &out);
}
}

flavor_tests! {
fn kill_9_during_the_replay_then_resume_applies_each_transaction_once(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY, v INT); \
         CREATE TABLE k.nokey (a INT);",
    );
    let mut sql = String::new();
    for i in 0..6000 {
        // Inserts into a key-less table: one applied twice would show in the checksum.
        sql.push_str(&format!(
            "BEGIN; INSERT INTO k.t VALUES ({i}, {i}); INSERT INTO k.nokey VALUES ({i}); COMMIT;\n"
        ));
    }
    script(&d.src, &sql);
    backup(d.config(), &["--set", "src", "--level", "1"]);
    let start = d.replay_start();
    let killed = d.kill_during(
        &["restore", "--set", "src", "--target", "dst", "--replay-lanes", "2"],
        "k.t",
        500,
    );
    let partial = count(&d.dst, "SELECT COUNT(*) FROM k.t");
    assert!(partial < 6000, "the kill came before the end ({partial} rows)\n{killed}");
    let nokey = count(&d.dst, "SELECT COUNT(*) FROM k.nokey");
    assert_eq!(partial, nokey, "whole transactions only");
    // Resume from the replay's start: the target's own record says where it got.
    let out = zrm_ok(
        d.config(),
        &["restore", "--set", "src", "--target", "dst", "--resume", &start],
    );
    assert!(out.stdout.contains("continued after"), "{out}");
    assert_same(&d.src, &d.dst, &["k"], &out);
    if flavor == Flavor::MySQL {
        // The batches' GTIDs are added after their commits: the kill may fall between the
        // two, and the resume adds what the target lacks.
        assert_replayed_gtids(&d, &out);
    }
    let left = d.dst.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'zrm_meta'");
    assert_eq!(left.trim(), "0", "the progress table goes once the replay is complete");
}
}

flavor_tests! {
fn kill_9_while_lanes_commit_side_by_side_then_resume(flavor: Flavor) {
    // Independent rows: four lanes apply and commit side by side. On MySQL each transaction
    // keeps its source GTID and commits as soon as it is applied (out of the source's
    // order); the target's gtid_executed tells the resume which ones it holds. A transaction
    // applied twice would fail on its primary key; one missed would show in the checksum.
    let d = Drill::of(
        flavor,
        "CREATE DATABASE u; CREATE TABLE u.t (id INT PRIMARY KEY, v VARCHAR(20));",
    );
    let mut sql = String::new();
    for i in 0..8000 {
        sql.push_str(&format!("INSERT INTO u.t VALUES ({i}, 'v{i}');\n"));
    }
    script(&d.src, &sql);
    backup(d.config(), &["--set", "src", "--level", "1"]);
    let start = d.replay_start();
    // On MySQL, --log-bin: the replay goes into the target's binary log, so each
    // transaction takes its source GTID with SET gtid_next and commits on its own.
    let mut args = vec!["restore", "--set", "src", "--target", "dst", "--replay-lanes", "4"];
    if flavor == Flavor::MySQL {
        args.push("--log-bin");
    }
    let killed = d.kill_during(&args, "u.t", 1000);
    let partial = count(&d.dst, "SELECT COUNT(*) FROM u.t");
    assert!(partial < 8000, "the kill came before the end ({partial} rows)\n{killed}");
    let lane_rows = count(&d.dst, "SELECT COUNT(*) FROM zrm_meta.replay_lanes");
    args.truncate(5);
    args.extend(["--resume", &start]);
    if flavor == Flavor::MySQL {
        args.push("--log-bin");
    }
    let out = zrm_ok(d.config(), &args);
    assert!(out.stdout.contains("continued after"), "{out}");
    assert_same(&d.src, &d.dst, &["u"], &out);
    if flavor == Flavor::MySQL {
        // Lanes committed out of order: each recorded its own progress, and the last
        // transaction committed is past the point before which all were, so the resume
        // found at least one already applied by its GTID.
        assert!(lane_rows > 1, "{lane_rows} lane rows\n{killed}");
        assert!(out.stdout.contains("already applied"), "{out}");
        assert_replayed_gtids(&d, &out);
    } else {
        assert_eq!(lane_rows, 0, "MariaDB commits in order\n{killed}");
    }
}
}

#[test]
fn mariadb_target_with_gtid_strict_mode() {
    let flavor = Flavor::MariaDB;
    let strict = ServerOptions {
        extra_args: vec!["--gtid-strict-mode=ON".into()],
        ..ServerOptions::of(flavor)
    };
    let d = Drill::new(
        ServerOptions::of(flavor),
        strict,
        "CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY, v INT);",
    );
    let mut sql = String::new();
    for i in 0..200 {
        sql.push_str(&format!("INSERT INTO g.t VALUES ({i}, {i});\n"));
    }
    script(&d.src, &sql);
    let last = d.src.last_gtid();
    let out = d.replay(&[]);
    applied_by_zrm(&out);
    assert_same(&d.src, &d.dst, &["g"], &out);
    // The replay is not in the target's binary log (no --log-bin), so strict mode has
    // nothing to object to; the target's own GTID state is untouched by the source's.
    let pos = d.dst.sql("SELECT @@gtid_binlog_pos");
    assert!(!pos.contains(&last), "{pos}\n{out}");
}

flavor_tests! {
fn the_client_pipeline_gives_the_same_result(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE c; CREATE TABLE c.t (id INT PRIMARY KEY, v INT);",
    );
    d.src.sql("INSERT INTO c.t VALUES (1, 1), (2, 2); UPDATE c.t SET v = 9 WHERE id = 1;");
    let out = d.replay(&["--applier", "client"]);
    assert!(!out.stdout.contains("applied by zrm"), "{out}");
    assert_same(&d.src, &d.dst, &["c"], &out);
}
}

flavor_tests! {
fn events_stay_disabled_during_the_replay(flavor: Flavor) {
    let d = Drill::of(
        flavor,
        "CREATE DATABASE ev; CREATE TABLE ev.t (id INT PRIMARY KEY); \
         CREATE EVENT ev.later ON SCHEDULE AT '2037-12-31 00:00:00' ON COMPLETION PRESERVE \
         ENABLE DO INSERT INTO ev.t VALUES (1);",
    );
    d.src.sql("INSERT INTO ev.t VALUES (2); CREATE DATABASE late; CREATE TABLE late.t (id INT)");
    backup(d.config(), &["--set", "src", "--level", "1"]);
    let status = |s: &TestServer| {
        s.sql("SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'ev'")
    };
    // A replay that stops (the target already has `late`) leaves the event disabled and
    // says so.
    d.dst.sql("CREATE DATABASE late");
    let out = support::run_zrm(d.config(), &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("`ev`.`later`"), "the event is named:\n{out}");
    assert_eq!(status(&d.dst), "DISABLED", "{out}");
    // A complete replay enables it again.
    d.dst.sql("DROP DATABASE late");
    let out = zrm_ok(
        d.config(),
        &["restore", "--set", "src", "--target", "dst", "--replace"],
    );
    assert_eq!(status(&d.dst), "ENABLED", "{out}");
    assert_same(&d.src, &d.dst, &["ev", "late"], &out);
}
}

#[test]
fn mysql_skip_gtids_shares_commits_and_keeps_no_source_gtid() {
    let d = Drill::of(
        Flavor::MySQL,
        "CREATE DATABASE sg; CREATE TABLE sg.t (id INT PRIMARY KEY, v INT);",
    );
    let mut sql = String::new();
    for i in 0..300 {
        sql.push_str(&format!("INSERT INTO sg.t VALUES ({i}, {i});\n"));
    }
    script(&d.src, &sql);
    let uuid = d.src.server_uuid().unwrap();
    let out = d.replay(&["--skip-gtids"]);
    applied_by_zrm(&out);
    assert_same(&d.src, &d.dst, &["sg"], &out);
    // 300 transactions in far fewer commits.
    let commits = commits(&out);
    assert!(commits < 50, "{commits} commits\n{out}");
    let executed = d.dst.gtid_executed();
    assert!(
        !executed.contains(&uuid),
        "no source GTID on the target: {executed}\n{out}"
    );
}

#[test]
fn mysql_keeps_every_source_gtid_in_shared_commits() {
    // Without --log-bin the replay is not in the target's binary log: transactions share
    // commits and their GTIDs are added to gtid_executed right after each commit. With
    // --log-bin each takes its GTID with SET gtid_next, one commit per transaction.
    let d = Drill::of(
        Flavor::MySQL,
        "CREATE DATABASE kg; CREATE TABLE kg.t (id INT PRIMARY KEY, v INT);",
    );
    let mut sql = String::new();
    for i in 0..300 {
        sql.push_str(&format!("INSERT INTO kg.t VALUES ({i}, {i});\n"));
    }
    script(&d.src, &sql);
    let out = d.replay(&[]);
    applied_by_zrm(&out);
    assert_same(&d.src, &d.dst, &["kg"], &out);
    assert_replayed_gtids(&d, &out);
    let shared = commits(&out);
    assert!(shared < 50, "{shared} commits for 300 transactions\n{out}");
    // The same replay into the target's binary log (its GTIDs forgotten first, or they
    // would be taken as already executed): one commit per transaction.
    d.dst.sql("RESET BINARY LOGS AND GTIDS");
    let out = zrm_ok(
        d.config(),
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--replace",
            "--log-bin",
        ],
    );
    assert_same(&d.src, &d.dst, &["kg"], &out);
    assert!(commits(&out) >= 300, "{out}");
}
