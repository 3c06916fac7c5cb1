//! A set's timeline across a failover (issue 18, item 2), with real replication between
//! throwaway servers of each flavor: a full backup of the primary, writes, the replica
//! promoted (the old primary stopped), writes on the new primary, the set pointed at it and
//! archived. `restore` joins the two servers' archives by GTIDs and reaches any point before
//! or after the switch from the backup taken before it, every table exact. A real gap
//! (transactions on the old primary never archived, and gone from the new one's binlogs), and
//! a new primary that never had the old one's last archived transactions, are refused by
//! restore and reported by check (and report and verify).

mod support;

use std::path::{Path, PathBuf};

use support::{
    backup, checksums, config_for, json, run_zrm, zrm_ok, Flavor, ServerOptions, TestServer,
};

fn replica_options(flavor: Flavor) -> ServerOptions {
    let mut o = ServerOptions::of(flavor);
    if flavor == Flavor::MariaDB {
        // The replica's binary log holds the source's transactions (with their GTIDs).
        o.extra_args.push("--log-slave-updates".into());
    }
    o
}

fn writes(server: &TestServer, from: u32, to: u32) {
    let mut sql = String::new();
    for i in from..to {
        sql.push_str(&format!(
            "INSERT INTO app.t VALUES ({i}, {i}); UPDATE app.u SET n = n + {i} WHERE id = {};\n",
            i % 3
        ));
    }
    server.sql(&sql);
}

/// The GTID the server gives its next transaction (it is the only source of its GTIDs).
fn next_gtid(server: &TestServer) -> String {
    let last = server.last_gtid();
    let (prefix, n) = last.rsplit_once([':', '-']).unwrap();
    let sep = &last[prefix.len()..prefix.len() + 1];
    format!("{prefix}{sep}{}", n.parse::<u64>().unwrap() + 1)
}

/// Promote a replica: replication stopped and forgotten, writable.
fn promote(replica: &TestServer) {
    replica.sql(match replica.flavor() {
        Flavor::MySQL => "STOP REPLICA; RESET REPLICA ALL; SET GLOBAL read_only = OFF",
        Flavor::MariaDB => "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF",
    });
}

/// The config: set `s` on `source`, set `tgt` on the restore target.
fn config(dir: &Path, source: &TestServer, target: &TestServer) -> PathBuf {
    config_for(dir, &[("s", source), ("tgt", target)])
}

fn restore(config: &Path, until: &[&str]) {
    let mut args = vec!["restore", "--set", "s", "--target", "tgt", "--replace"];
    args.extend_from_slice(until);
    zrm_ok(config, &args);
}

/// A primary and a replica of it with the schema; returns (primary, replica).
fn pair(flavor: Flavor) -> (TestServer, TestServer) {
    let primary = TestServer::of(flavor);
    let replica = TestServer::start_with(replica_options(flavor));
    primary.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT);\n\
         CREATE TABLE app.u (id INT PRIMARY KEY, n BIGINT);\n\
         INSERT INTO app.u VALUES (0, 0), (1, 0), (2, 0)",
    );
    replica.replicate_from(&primary);
    (primary, replica)
}

flavor_tests! {
fn restore_reaches_points_before_and_after_a_failover(flavor: Flavor) {
    let (mut primary, replica) = pair(flavor);
    let target = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &primary, &target);

    writes(&primary, 0, 50);
    backup(&cfg, &["--set", "s"]);
    // Before the switch: A, then B from the GTID `first_b` on.
    writes(&primary, 50, 100);
    let state_a = checksums(&primary, "app");
    let first_b = next_gtid(&primary);
    writes(&primary, 100, 150);
    primary.sql("FLUSH BINARY LOGS");
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    replica.wait_replicated(&primary);
    primary.stop();

    // The failover: the replica is the primary now, and the set points at it.
    promote(&replica);
    writes(&replica, 1000, 1050);
    let state_c1 = checksums(&replica, "app");
    // MySQL: both servers' GTIDs, a set (`old:1-N,new:1-M`); one MariaDB GTID means "stop
    // before it" instead.
    let set_c1 = replica.gtid_executed();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let t = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S+00:00").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    writes(&replica, 2000, 2050);
    let state_c2 = checksums(&replica, "app");
    let (file, pos) = replica.binlog_position();
    writes(&replica, 3000, 3050);
    let state_end = checksums(&replica, "app");
    replica.sql("FLUSH BINARY LOGS");
    let cfg = config(dir.path(), &replica, &target);
    let out = zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    assert!(out.stderr.contains("earlier part of the set's timeline"), "{out}");

    // The plan replays the old primary's files, then the new one's, named FILE@SERVER_ID.
    let out = zrm_ok(&cfg, &["restore", "--set", "s", "--target", "tgt", "--dry-run", "--format", "json"]);
    let plan = json(&out);
    let files: Vec<String> = plan["plan"]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan:#}"))
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    let suffix = format!("@{}", replica.server_id());
    assert!(files.first().is_some_and(|f| !f.contains('@')), "{files:?}");
    assert!(files.last().is_some_and(|f| f.ends_with(&suffix)), "{files:?}");

    // Before the switch, by GTID.
    restore(&cfg, &["--until-gtid", &first_b]);
    assert_eq!(checksums(&target, "app"), state_a, "--until-gtid {first_b}");
    // After it, by time, by position on the new primary's file, and everything.
    restore(&cfg, &["--until-time", &t]);
    assert_eq!(checksums(&target, "app"), state_c1, "--until-time {t}");
    if flavor == Flavor::MySQL {
        restore(&cfg, &["--until-gtid", &set_c1]);
        assert_eq!(checksums(&target, "app"), state_c1, "--until-gtid {set_c1}");
    }
    let at = format!("{file}{suffix}:{pos}");
    restore(&cfg, &["--until-position", &at]);
    assert_eq!(checksums(&target, "app"), state_c2, "--until-position {at}");
    restore(&cfg, &[]);
    assert_eq!(checksums(&target, "app"), state_end, "everything archived");

    // check sees one timeline, not a broken archive.
    let out = run_zrm(&cfg, &["check", "--set", "s", "--format", "json"]);
    let v = json(&out);
    let archive = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "binlog archive")
        .cloned()
        .unwrap();
    assert_ne!(archive["verdict"], "error", "{archive}");
}
}

flavor_tests! {
fn a_gap_across_a_failover_is_refused_loudly(flavor: Flavor) {
    let (mut primary, replica) = pair(flavor);
    let target = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &primary, &target);

    writes(&primary, 0, 50);
    backup(&cfg, &["--set", "s"]);
    writes(&primary, 50, 100);
    let state_a = checksums(&primary, "app");
    let last_a = primary.last_gtid();
    primary.sql("FLUSH BINARY LOGS");
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    // B: replicated, never archived from the old primary.
    writes(&primary, 100, 150);
    replica.wait_replicated(&primary);
    primary.stop();

    // The new primary's binlogs holding B are purged before it is archived.
    // (MariaDB keeps a file until its binlog checkpoint passes it: ask again until it goes.)
    support::wait_for("the replica's binlogs holding B to be purged", 30, || {
        replica.sql("FLUSH BINARY LOGS");
        let (current, _) = replica.binlog_position();
        replica.sql(&format!("PURGE BINARY LOGS TO '{current}'"));
        replica.sql("SHOW BINARY LOGS").lines().count() == 1
    });
    promote(&replica);
    writes(&replica, 1000, 1050);
    replica.sql("FLUSH BINARY LOGS");
    let cfg = config(dir.path(), &replica, &target);
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);

    // Restore past the switch: refused, naming the gap; the target untouched.
    let out = run_zrm(&cfg, &["restore", "--set", "s", "--target", "tgt"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("gap in the set's timeline"), "{out}");
    assert!(out.stderr.contains("nothing was restored"), "{out}");
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app'").trim(),
        "0"
    );
    // Before the switch, up to what is archived: exact.
    restore(&cfg, &["--until-gtid", &last_a, "--inclusive"]);
    assert_eq!(checksums(&target, "app"), state_a);

    // check and verify say so.
    let out = run_zrm(&cfg, &["check", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("gap in the set's timeline"), "{out}");
    let out = run_zrm(&cfg, &["report", "--set", "s"]);
    assert!(out.stdout.contains("BINLOG ARCHIVE BROKEN"), "{out}");
    let out = run_zrm(&cfg, &["verify", "--set", "s"]);
    assert_ne!(out.code, 0, "{out}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("gap in the set's timeline"),
        "{out}"
    );
}
}

flavor_tests! {
fn a_new_primary_that_never_had_the_archived_last_transactions_is_refused(flavor: Flavor) {
    let (mut primary, replica) = pair(flavor);
    let target = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &primary, &target);

    writes(&primary, 0, 50);
    backup(&cfg, &["--set", "s"]);
    writes(&primary, 50, 100);
    replica.wait_replicated(&primary);
    let state_a = checksums(&primary, "app");
    let last_a = primary.last_gtid();
    // X: archived from the old primary, never replicated.
    replica.sql(match flavor {
        Flavor::MySQL => "STOP REPLICA",
        Flavor::MariaDB => "STOP SLAVE",
    });
    writes(&primary, 100, 110);
    primary.sql("FLUSH BINARY LOGS");
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    primary.stop();

    // The replica promoted without X; on MariaDB its own GTIDs reuse X's sequence numbers.
    promote(&replica);
    writes(&replica, 1000, 1050);
    replica.sql("FLUSH BINARY LOGS");
    let cfg = config(dir.path(), &replica, &target);
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);

    let out = run_zrm(&cfg, &["restore", "--set", "s", "--target", "tgt"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("diverged"), "{out}");
    assert!(out.stderr.contains("nothing was restored"), "{out}");
    // Up to the last transaction both servers had: exact.
    restore(&cfg, &["--until-gtid", &last_a, "--inclusive"]);
    assert_eq!(checksums(&target, "app"), state_a);
    let out = run_zrm(&cfg, &["check", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("diverged"), "{out}");
}
}

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
fn a_replay_that_fails_after_the_switch_resumes_in_the_new_primarys_file(flavor: Flavor) {
    let (mut primary, replica) = pair(flavor);
    let target = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &primary, &target);

    writes(&primary, 0, 50);
    backup(&cfg, &["--set", "s"]);
    writes(&primary, 50, 100);
    primary.sql("FLUSH BINARY LOGS");
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    replica.wait_replicated(&primary);
    primary.stop();
    promote(&replica);
    writes(&replica, 1000, 1020);
    replica.sql("CREATE DATABASE late");
    replica.sql("CREATE TABLE late.t (id INT PRIMARY KEY, v INT); INSERT INTO late.t VALUES (1, 1)");
    writes(&replica, 2000, 2020);
    replica.sql("INSERT INTO late.t VALUES (2, 2)");
    replica.sql("FLUSH BINARY LOGS");
    let cfg = config(dir.path(), &replica, &target);
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);

    // The target already has `late`: the replayed CREATE DATABASE fails, in the new primary's
    // file; the printed resume point names it as FILE@SERVER_ID.
    target.sql("CREATE DATABASE late; CREATE TABLE late.t (id INT PRIMARY KEY); INSERT INTO late.t VALUES (7)");
    let out = run_zrm(&cfg, &["restore", "--set", "s", "--target", "tgt"]);
    assert_eq!(out.code, 1, "the replay must fail on CREATE DATABASE late:\n{out}");
    let suffix = format!("@{}:", replica.server_id());
    assert!(
        out.stderr.contains("--resume") && out.stderr.contains(&suffix),
        "{out}"
    );
    target.sql("DROP DATABASE late");
    let args = printed_command(&out.stderr);
    assert_eq!(args[0], "restore", "{args:?}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumed = run_zrm(&cfg, &args);
    assert_eq!(resumed.code, 0, "zrm {args:?}:\n{resumed}");
    assert_eq!(checksums(&target, "app"), checksums(&replica, "app"), "{resumed}");
    assert_eq!(checksums(&target, "late"), checksums(&replica, "late"), "{resumed}");
}
}
