//! Backups taken from a replica (issue 18, item 1), with real replication between throwaway
//! servers of each flavor: an unfit replica (SQL thread stopped on an error, lagging beyond
//! `max_replica_lag`) is refused with the reason; a healthy one is backed up and the backup
//! records where in the source's history it is — exactly: a server restored from it and
//! then replicating from the source at the recorded point ends equal to the source.

mod support;

use support::{
    backup, checksums, config_with, run_zrm, wait_for, zrm_ok, Flavor, ServerOptions, TestServer,
};

const REPL_PASSWORD: &str = "repl-secret-1";

/// `replica` replicates from `primary` (which has the `repl` account), from the start of its
/// history (both are fresh), with the source's GTIDs.
fn replicate(primary: &TestServer, replica: &TestServer, extra: &str) {
    let sql = match primary.flavor() {
        Flavor::MySQL => format!(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = {}, \
             SOURCE_USER = 'repl', SOURCE_PASSWORD = '{REPL_PASSWORD}', SOURCE_AUTO_POSITION = 1, \
             GET_SOURCE_PUBLIC_KEY = 1{extra}; START REPLICA",
            primary.port()
        ),
        Flavor::MariaDB => format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'repl', \
             MASTER_PASSWORD = '{REPL_PASSWORD}', MASTER_USE_GTID = slave_pos{extra}; START SLAVE",
            primary.port()
        ),
    };
    replica.sql(&sql);
}

fn replica_options(flavor: Flavor) -> ServerOptions {
    let mut o = ServerOptions::of(flavor);
    if flavor == Flavor::MariaDB {
        // The replica's binary log holds the source's transactions (with their GTIDs).
        o.extra_args.push("--log-slave-updates".into());
    }
    o
}

fn caught_up(primary: &TestServer, replica: &TestServer, db: &str) {
    wait_for("the replica to catch up", 60, || {
        replica
            .try_sql(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"
            ))
            .is_ok_and(|n| n.trim() != "0")
            && replica.try_sql(&format!("CHECKSUM TABLE {db}.t")).ok()
                == primary.try_sql(&format!("CHECKSUM TABLE {db}.t")).ok()
    });
}

fn writes(primary: &TestServer, from: u32, to: u32) {
    let mut sql = String::new();
    for i in from..to {
        sql.push_str(&format!(
            "INSERT INTO app.t VALUES ({i}, {i}); UPDATE app.t SET v = v + 1 WHERE id = {};\n",
            from
        ));
    }
    primary.sql(&sql);
}

flavor_tests! {
fn a_replica_backup_records_the_exact_source_point(flavor: Flavor) {
    let primary = TestServer::of(flavor);
    primary.create_user("repl", REPL_PASSWORD, "REPLICATION SLAVE");
    let replica = TestServer::start_with(replica_options(flavor));
    replicate(&primary, &replica, "");
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    writes(&primary, 0, 50);
    caught_up(&primary, &replica, "app");

    for (round, pause) in [false, true].into_iter().enumerate() {
        let base = 1000 * (round as u32 + 1) * 10;
        let target = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let config = config_with(
            dir.path(),
            &[("rep", &replica), ("tgt", &target)],
            &format!("replica_pause = {pause}\n"),
        );
        writes(&primary, base, base + 100);
        let full = backup(&config, &["--set", "rep"]);
        // The source keeps writing after the backup.
        writes(&primary, base + 1000, base + 1100);
        let rec = &full["replica"];
        assert_eq!(rec["paused"].as_bool(), Some(pause), "{full:#}");
        assert!(
            rec["source"].as_str().unwrap().ends_with(&format!(":{}", primary.port())),
            "{full:#}"
        );
        zrm_ok(&config, &["restore", "--set", "rep", "--target", "tgt", "--no-binlogs"]);
        // The restored server replicates from the recorded point: equal to the source iff
        // the point is exact (too early: duplicate rows stop it; too late: rows are missing).
        let point = if pause {
            let file = rec["source_binlog_file"].as_str().unwrap().to_string();
            let pos = rec["source_binlog_pos"].as_u64().unwrap();
            match flavor {
                Flavor::MySQL => format!(
                    ", SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = '{file}', SOURCE_LOG_POS = {pos}"
                ),
                Flavor::MariaDB => format!(
                    ", MASTER_USE_GTID = no, MASTER_LOG_FILE = '{file}', MASTER_LOG_POS = {pos}"
                ),
            }
        } else {
            let set = rec["source_gtid_set"].as_str().expect("a GTID set").to_string();
            match flavor {
                Flavor::MySQL => {
                    target.sql(&format!(
                        "RESET BINARY LOGS AND GTIDS; SET GLOBAL gtid_purged = '{set}'"
                    ));
                }
                Flavor::MariaDB => {
                    target.sql(&format!("SET GLOBAL gtid_slave_pos = '{set}'"));
                }
            }
            String::new()
        };
        let sql = match flavor {
            Flavor::MySQL => format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = {}, \
                 SOURCE_USER = 'repl', SOURCE_PASSWORD = '{REPL_PASSWORD}', \
                 GET_SOURCE_PUBLIC_KEY = 1{point}; START REPLICA",
                primary.port()
            ),
            Flavor::MariaDB if pause => format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = \
                 'repl', MASTER_PASSWORD = '{REPL_PASSWORD}'{point}; START SLAVE",
                primary.port()
            ),
            Flavor::MariaDB => format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = \
                 'repl', MASTER_PASSWORD = '{REPL_PASSWORD}', MASTER_USE_GTID = slave_pos; \
                 START SLAVE",
                primary.port()
            ),
        };
        target.sql(&sql);
        caught_up(&primary, &target, "app");
        assert_eq!(checksums(&target, "app"), checksums(&primary, "app"), "pause = {pause}");
        let status = match flavor {
            Flavor::MySQL => "SHOW REPLICA STATUS",
            Flavor::MariaDB => "SHOW SLAVE STATUS",
        };
        let st = target.sql(status);
        assert!(!st.contains("Duplicate entry"), "{st}");
        // With the pause, the replica's SQL thread runs again after the backup.
        let running = replica.sql(status);
        assert!(running.matches("Yes").count() >= 2, "{running}");
        drop(dir);
    }
}
}

flavor_tests! {
fn an_unfit_replica_is_refused_with_the_reason(flavor: Flavor) {
    let primary = TestServer::of(flavor);
    primary.create_user("repl", REPL_PASSWORD, "REPLICATION SLAVE");
    let replica = TestServer::start_with(replica_options(flavor));
    replicate(&primary, &replica, "");
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), &[("rep", &replica)], "max_replica_lag = 1\n");
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
    caught_up(&primary, &replica, "app");
    // Delayed by an hour from now on: the replica lags more and more.
    replica.sql(match flavor {
        Flavor::MySQL => "STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_DELAY = 3600; START REPLICA",
        Flavor::MariaDB => "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3600; START SLAVE",
    });
    writes(&primary, 0, 5);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = run_zrm(&config, &["backup", "--set", "rep"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("lags"), "{out}");
    assert!(out.stderr.contains("max_replica_lag"), "{out}");

    // A replica whose SQL thread stopped on an error.
    let (stop, start) = match flavor {
        Flavor::MySQL => ("STOP REPLICA; CHANGE REPLICATION SOURCE TO SOURCE_DELAY = 0", "START REPLICA"),
        Flavor::MariaDB => ("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE"),
    };
    replica.sql(stop);
    // A row only the replica has, then the same key written on the source (DDL would not
    // do: MariaDB replicas apply it idempotently by default).
    replica.sql("SET SESSION sql_log_bin = 0; INSERT INTO app.t VALUES (99999, 0)");
    replica.sql(start);
    primary.sql("INSERT INTO app.t VALUES (99999, 1)");
    let mut last = String::new();
    for _ in 0..120 {
        last = replica
            .try_sql(match flavor {
                Flavor::MySQL => "SHOW REPLICA STATUS",
                Flavor::MariaDB => "SHOW SLAVE STATUS",
            })
            .unwrap_or_default();
        if last.contains("1062") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(last.contains("1062"), "the replica's SQL thread stops on the clash: {last}");
    let out = run_zrm(&config, &["backup", "--set", "rep"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("SQL thread stopped on error"), "{out}");
    assert!(out.stderr.contains("1062"), "the server's error number: {out}");
}
}
