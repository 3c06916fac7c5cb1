//! Table restores (`restore --tables db.t`) and restores under another database name
//! (`--rename-database old=new`), on both flavors, with the accident drill: an application
//! writes to `app.t1` and `app.t2`, a bad `UPDATE app.t1` without a WHERE clause, more writes;
//! then `app.t1` comes back as `app_restored.t1`, to just before the bad UPDATE, into the live
//! source server itself while the application keeps writing, and nothing of `app` changes.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::{backup, checksums, config_for, run_zrm, wait_for, zrm_ok, TestServer};

const SETUP: &str = "CREATE DATABASE app; \
    CREATE TABLE app.t1 (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40)) ENGINE=InnoDB; \
    CREATE TABLE app.t2 (id INT PRIMARY KEY, w INT NOT NULL) ENGINE=InnoDB; \
    CREATE TABLE app.t3 (id INT PRIMARY KEY, x INT) ENGINE=InnoDB; \
    CREATE VIEW app.v1 AS SELECT id, v FROM app.t1; \
    INSERT INTO app.t1 VALUES (1, 10, 'one'), (2, 20, 'two'), (3, 30, 'three'); \
    INSERT INTO app.t2 VALUES (1, 100), (2, 200); \
    INSERT INTO app.t3 VALUES (1, 1)";

/// An application writing to `app.t1` and `app.t2` until told to stop; it can be paused.
struct App {
    stop: AtomicBool,
    pause: AtomicBool,
    paused: AtomicBool,
    rounds: AtomicU64,
}

impl App {
    fn new() -> App {
        App {
            stop: AtomicBool::new(false),
            pause: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            rounds: AtomicU64::new(0),
        }
    }

    fn run(&self, src: &TestServer) {
        let mut i = 100u64;
        while !self.stop.load(Ordering::SeqCst) {
            if self.pause.load(Ordering::SeqCst) {
                self.paused.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            self.paused.store(false, Ordering::SeqCst);
            i += 1;
            src.sql(&format!(
                "INSERT INTO app.t1 (id, v, note) VALUES ({i}, {i}, 'w{i}'); \
                 UPDATE app.t1 SET v = v + 1 WHERE id = {}; \
                 INSERT INTO app.t2 (id, w) VALUES ({i}, {i}); \
                 BEGIN; UPDATE app.t2 SET w = w + 1 WHERE id = 1; \
                 UPDATE app.t1 SET note = 'w{i}' WHERE id = 2; COMMIT",
                i % 3 + 1
            ));
            self.rounds.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Wait until it wrote `n` more rounds.
    fn wait_rounds(&self, n: u64) {
        let start = self.rounds.load(Ordering::SeqCst);
        wait_for("the application's writes", 60, || {
            self.rounds.load(Ordering::SeqCst) >= start + n
        });
    }

    fn hold(&self) {
        self.pause.store(true, Ordering::SeqCst);
        wait_for("the application to pause", 30, || {
            self.paused.load(Ordering::SeqCst)
        });
    }

    fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
    }
}

/// Stops the application however the test ends (a failed assertion must not leave the
/// writer running and the scope waiting for it).
struct StopOnDrop<'a>(&'a App);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
        self.0.pause.store(false, Ordering::SeqCst);
    }
}

fn t1_rows(src: &TestServer, db: &str) -> String {
    src.sql(&format!("SELECT id, v, note FROM `{db}`.t1 ORDER BY id"))
}

fn tables_of(src: &TestServer, db: &str) -> Vec<String> {
    src.sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' ORDER BY 1"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

flavor_tests! {
    fn accident_drill_one_table_renamed_into_the_live_source(flavor: Flavor) {
        let src = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), &[("src", &src)]);
        src.sql(SETUP);
        backup(&config, &["--set", "src"]);
        // DDL after the backup: on the restored table (replayed), on another table and a new
        // table (neither replayed).
        src.sql_db("app", "ALTER TABLE t1 ADD COLUMN extra INT NOT NULL DEFAULT 7");
        src.sql_db("app", "ALTER TABLE t2 ADD COLUMN y INT");
        src.sql_db("app", "CREATE TABLE t9 (id INT PRIMARY KEY)");
        let app = App::new();
        std::thread::scope(|scope| {
            scope.spawn(|| app.run(&src));
            let _stop = StopOnDrop(&app);
            app.wait_rounds(10);

            // The accident, recorded exactly: the application held for that moment.
            app.hold();
            let before = t1_rows(&src, "app");
            src.sql("UPDATE app.t1 SET v = 0, note = 'oops'");
            let bad = src.last_gtid();
            app.resume();
            app.wait_rounds(10);
            src.sql("FLUSH BINARY LOGS");
            zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
            app.wait_rounds(3);

            // Restoring into the source without a new name is refused, naming the way.
            let out = run_zrm(
                &config,
                &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                  "--until-gtid", &bad],
            );
            assert!(!out.success(), "{out}");
            assert!(out.stderr.contains("source server") && out.stderr.contains("--rename-database"), "{out}");

            // The restore, while the application keeps writing to app.
            let restore = |new: &str, applier: &str| {
                zrm_ok(
                    &config,
                    &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                      "--rename-database", &format!("app={new}"), "--until-gtid", &bad,
                      "--applier", applier],
                )
            };
            let out = restore("app_restored", "zrm");
            assert_eq!(t1_rows(&src, "app_restored"), before, "the state before the bad UPDATE\n{out}");
            assert_eq!(
                src.sql("SELECT COUNT(*) FROM app_restored.t1 WHERE extra = 7"),
                src.sql("SELECT COUNT(*) FROM app_restored.t1"),
                "the ALTER on t1 was replayed\n{out}"
            );
            assert_eq!(tables_of(&src, "app_restored"), vec!["t1".to_string()], "only t1\n{out}");
            assert!(out.stdout.contains("app.t1 as app_restored.t1"), "{out}");
            assert!(out.stdout.contains("applied by zrm"), "zrm's applier ran\n{out}");

            // The same through the client pipeline, with app itself still: it is not
            // touched by the restore.
            app.hold();
            let app_before = checksums(&src, "app");
            let app_tables = tables_of(&src, "app");
            let out = restore("app_restored2", "client");
            assert_eq!(checksums(&src, "app"), app_before, "app changed\n{out}");
            assert_eq!(tables_of(&src, "app"), app_tables, "{out}");
            assert_eq!(t1_rows(&src, "app_restored2"), before, "{out}");
            assert_eq!(tables_of(&src, "app_restored2"), vec!["t1".to_string()], "{out}");
            app.resume();
            app.wait_rounds(2);

            // MariaDB keeps the source's GTIDs in the replay: --log-bin into the source is
            // refused (its binary log would hold them twice).
            if src.flavor() == support::Flavor::MariaDB {
                let out = run_zrm(
                    &config,
                    &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                      "--rename-database", "app=app_lb", "--until-gtid", &bad, "--log-bin"],
                );
                assert!(!out.success() && out.stderr.contains("--log-bin"), "{out}");
                assert_eq!(tables_of(&src, "app_lb"), Vec::<String>::new(), "{out}");
            }

            // A new name that exists on the source is refused.
            let out = run_zrm(
                &config,
                &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                  "--rename-database", "app=app_restored", "--until-gtid", &bad],
            );
            assert!(!out.success(), "{out}");
            assert!(out.stderr.contains("app_restored exists"), "{out}");

            // A statement that names app itself cannot be renamed: refused before anything
            // changes, never applied to the live app.
            app.hold();
            src.sql("ALTER TABLE app.t1 COMMENT 'qualified'");
            src.sql("FLUSH BINARY LOGS");
            zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
            let app_before = checksums(&src, "app");
            let out = run_zrm(
                &config,
                &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                  "--rename-database", "app=app_r3"],
            );
            assert!(!out.success(), "{out}");
            assert!(out.stderr.contains("names database `app` itself"), "{out}");
            assert!(out.stderr.contains("nothing was changed"), "{out}");
            assert_eq!(src.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app_r3'"), "0");
            assert_eq!(checksums(&src, "app"), app_before);
        });
    }
}

flavor_tests! {
    fn table_restore_into_another_server_touches_only_its_tables(flavor: Flavor) {
        let src = TestServer::of(flavor);
        let dst = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
        src.sql(SETUP);
        backup(&config, &["--set", "src"]);
        src.sql("INSERT INTO app.t1 VALUES (4, 40, 'four'); UPDATE app.t2 SET w = 0; \
                 UPDATE app.t3 SET x = 9; FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
        // The target holds app already, with other tables and data of its own.
        dst.sql("CREATE DATABASE app; CREATE TABLE app.keep (a INT); INSERT INTO app.keep VALUES (5); \
                 CREATE TABLE app.t2 (id INT PRIMARY KEY, w INT NOT NULL); INSERT INTO app.t2 VALUES (9, 9)");
        let keep = checksums(&dst, "app");
        let restore = |extra: &[&str]| {
            let mut args = vec!["restore", "--set", "src", "--target", "dst", "--tables", "app.t1,app.t2"];
            args.extend_from_slice(extra);
            run_zrm(&config, &args)
        };
        // app.t2 exists there: refused, naming it; nothing changed.
        let out = restore(&[]);
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("these tables exist: app.t2"), "{out}");
        assert_eq!(checksums(&dst, "app"), keep);
        // Unknown tables and bad names are refused with the way on.
        let out = run_zrm(&config, &["restore", "--set", "src", "--target", "dst", "--tables", "app.nope"]);
        assert!(out.stderr.contains("holds no such table") && out.stderr.contains("t1, t2, t3"), "{out}");
        let out = run_zrm(&config, &["restore", "--set", "src", "--target", "dst", "--tables", "t1"]);
        assert!(out.stderr.contains("db.table"), "{out}");
        let before_trigger = src.binlog_position();
        let app_then = checksums(&src, "app");
        // A trigger on t1 writes t3 (not restored) in the same row block: the client pipeline
        // cannot split it and refuses before anything changes; zrm's applier takes t1's rows.
        src.sql("CREATE TRIGGER app.tr AFTER INSERT ON app.t1 FOR EACH ROW UPDATE app.t3 SET x = x + 1; \
                 INSERT INTO app.t1 VALUES (5, 50, 'five'); FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
        let out = restore(&["--replace", "--applier", "client"]);
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("cannot split") && out.stderr.contains("nothing was changed"), "{out}");
        assert_eq!(checksums(&dst, "app"), keep);
        let plan = run_zrm(&config, &["restore", "--set", "src", "--target", "dst", "--tables", "app.t1", "--dry-run"]);
        assert!(plan.stdout.contains("tables only: app.t1") && plan.stdout.contains("of 1 tables"), "{plan}");
        // With --replace only app.t2 is dropped, app.keep stays; t3 is not restored.
        let out = restore(&["--replace"]);
        assert!(!out.stderr.contains("dropping database"), "{out}");
        assert!(out.stderr.contains("dropping table app.t2"), "{out}");
        assert!(out.success(), "{out}");
        assert_eq!(dst.sql("SELECT a FROM app.keep"), "5", "{out}");
        assert_eq!(tables_of(&dst, "app"), vec!["keep", "t1", "t2"], "{out}");
        assert_eq!(
            dst.sql("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'"),
            "0",
            "a table restore brings back tables only\n{out}"
        );
        assert_eq!(
            checksums(&dst, "app").into_iter().filter(|(t, _)| t != "keep").collect::<Vec<_>>(),
            checksums(&src, "app").into_iter().filter(|(t, _)| t == "t1" || t == "t2").collect::<Vec<_>>(),
            "{out}"
        );

        // A whole database under another name: its tables and their changes, no view; the
        // trigger statement names app itself, so the range holding it is refused.
        let out = run_zrm(&config, &["restore", "--set", "src", "--target", "dst", "--rename-database", "app=app_copy"]);
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("names database `app` itself"), "{out}");
        assert_eq!(tables_of(&dst, "app_copy"), Vec::<String>::new(), "{out}");
        let until = format!("{}:{}", before_trigger.0, before_trigger.1);
        let out = zrm_ok(&config, &["restore", "--set", "src", "--target", "dst", "--rename-database", "app=app_copy", "--until-position", &until]);
        assert_eq!(checksums(&dst, "app_copy"), app_then, "{out}");
        assert_eq!(tables_of(&dst, "app_copy"), vec!["t1", "t2", "t3"], "no view\n{out}");
        assert!(out.stderr.contains("not restored"), "{out}");
        assert_eq!(dst.sql("SELECT a FROM app.keep"), "5", "{out}");

        // mysqldump backups: refused, with the reason.
        backup(&config, &["--set", "src", "--method", "mysqldump"]);
        let out = run_zrm(&config, &["restore", "--set", "src", "--target", "dst", "--tables", "app.t1", "--no-binlogs"]);
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("mysqldump backup"), "{out}");
    }
}

flavor_tests! {
    fn compressed_transactions_in_a_table_restore(flavor: Flavor) {
        if flavor != support::Flavor::MySQL {
            return; // MySQL's transaction payloads (binlog_transaction_compression)
        }
        let src = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), &[("src", &src)]);
        src.sql(SETUP);
        backup(&config, &["--set", "src"]);
        // Compressed, the last transaction of the file too: both appliers apply it.
        src.sql("SET SESSION binlog_transaction_compression = ON; \
                 INSERT INTO app.t1 VALUES (4, 40, 'four'); UPDATE app.t1 SET v = v + 1; \
                 FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
        let app_before = checksums(&src, "app");
        let expected = t1_rows(&src, "app");
        for (new, applier) in [("app_z", "zrm"), ("app_c", "client")] {
            let out = zrm_ok(
                &config,
                &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
                  "--rename-database", &format!("app={new}"), "--applier", applier],
            );
            assert_eq!(checksums(&src, "app"), app_before, "app changed\n{out}");
            assert_eq!(t1_rows(&src, new), expected, "{out}");
        }
        // A compressed transaction that also changes t2: the tool replays it whole, so a
        // table restore of t1 refuses it before anything changes.
        src.sql("SET SESSION binlog_transaction_compression = ON; \
                 BEGIN; UPDATE app.t1 SET v = 0; UPDATE app.t2 SET w = 0; COMMIT; FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
        let out = run_zrm(
            &config,
            &["restore", "--set", "src", "--target", "src", "--tables", "app.t1",
              "--rename-database", "app=app_x"],
        );
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains("compressed transaction") && out.stderr.contains("nothing was changed"), "{out}");
        assert_eq!(tables_of(&src, "app_x"), Vec::<String>::new());
    }
}
