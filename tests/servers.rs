//! A set naming several servers (issue 18, item 1), with real replication between throwaway
//! servers of each flavor: a primary and two replicas, one stopped on an error. The backup
//! picks the healthy replica and says why; with every replica unfit, `backup_from =
//! "replica"` refuses naming each server, the default falls back to the primary. After the
//! healthy replica is promoted (the old primary stopped), `binlog archive` follows the new
//! primary without an edit of the configuration, and a restore past the switch is exact.

mod support;

use std::path::{Path, PathBuf};

use support::{
    backup, checksums, run_zrm, write_config, zrm_ok, Flavor, ServerOptions, TestServer,
};

fn replica_options(flavor: Flavor) -> ServerOptions {
    let mut o = ServerOptions::of(flavor);
    if flavor == Flavor::MariaDB {
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

fn status_sql(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MySQL => "SHOW REPLICA STATUS",
        Flavor::MariaDB => "SHOW SLAVE STATUS",
    }
}

/// Stop `replica`'s SQL thread on a duplicate key (error 1062): a row only it has, then the
/// same key written on the source.
fn break_replica(primary: &TestServer, replica: &TestServer, id: u32) {
    replica.sql(&format!(
        "SET SESSION sql_log_bin = 0; INSERT INTO app.t VALUES ({id}, 0)"
    ));
    primary.sql(&format!("INSERT INTO app.t VALUES ({id}, 1)"));
    let mut last = String::new();
    for _ in 0..120 {
        last = replica
            .try_sql(status_sql(replica.flavor()))
            .unwrap_or_default();
        if last.contains("1062") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the replica's SQL thread stops on the clash: {last}");
}

/// Set `s` names the three servers (`extra` lines added to it); set `tgt` is the target.
fn config(dir: &Path, servers: &[&TestServer], target: &TestServer, extra: &str) -> PathBuf {
    let list = servers
        .iter()
        .map(|s| format!("\"{}\"", s.socket().display()))
        .collect::<Vec<_>>()
        .join(", ");
    write_config(
        dir,
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\n\
             servers = [{list}]\n{extra}\n[sets.tgt]\nsocket = \"{}\"\n",
            target.socket().display()
        ),
    )
}

flavor_tests! {
fn a_set_of_several_servers_backs_up_a_healthy_replica_and_follows_the_primary(flavor: Flavor) {
    let mut primary = TestServer::of(flavor);
    let broken = TestServer::start_with(replica_options(flavor));
    let healthy = TestServer::start_with(replica_options(flavor));
    let target = TestServer::of(flavor);
    primary.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT);\n\
         CREATE TABLE app.u (id INT PRIMARY KEY, n BIGINT);\n\
         INSERT INTO app.u VALUES (0, 0), (1, 0), (2, 0)",
    );
    broken.replicate_from(&primary);
    healthy.replicate_from(&primary);
    writes(&primary, 0, 50);
    break_replica(&primary, &broken, 90000);
    healthy.wait_replicated(&primary);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[&primary, &broken, &healthy], &target, "");
    let sock = |s: &TestServer| s.socket().display().to_string();

    // check: each server with its role, and what the set will do.
    let out = run_zrm(&cfg, &["check", "--set", "s"]);
    let lines = |needle: &str| -> String {
        out.stdout.lines().filter(|l| l.contains(needle)).collect::<Vec<_>>().join("\n")
    };
    assert!(lines(&sock(&primary)).contains("primary"), "{out}");
    assert!(lines(&sock(&broken)).contains("unfit"), "{out}");
    assert!(lines(&sock(&broken)).contains("1062"), "{out}");
    assert!(lines("backup from").contains(&sock(&healthy)), "{out}");
    assert!(lines("binlog archive from").contains(&sock(&primary)), "{out}");

    // The backup is taken from the healthy replica, and says why.
    let full = backup(&cfg, &["--set", "s"]);
    assert_eq!(full["server"]["server_id"].as_u64(), Some(u64::from(healthy.server_id())), "{full:#}");
    let why = full["server_choice"].as_str().unwrap_or_else(|| panic!("{full:#}"));
    assert!(why.contains(&sock(&healthy)) && why.contains("healthy replica"), "{why}");
    assert!(full["replica"]["source"].as_str().is_some(), "{full:#}");

    // The archive follows the primary.
    primary.sql("FLUSH BINARY LOGS");
    let out = zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    assert!(out.stderr.contains(&format!("archiving root@{}", sock(&primary))), "{out}");
    writes(&primary, 50, 100);
    primary.sql("FLUSH BINARY LOGS");
    zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    healthy.wait_replicated(&primary);

    // Every replica unfit: `replica` refuses naming each server, the default takes the primary.
    let unfit = TestServer::start_with(replica_options(flavor));
    unfit.replicate_from(&primary);
    break_replica(&primary, &unfit, 90001);
    let strict = config(dir.path(), &[&primary, &broken, &unfit], &target, "backup_from = \"replica\"\n");
    let out = run_zrm(&strict, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    for (s, what) in [(&primary, "primary"), (&broken, "1062"), (&unfit, "1062")] {
        let named = format!("{}: ", sock(s));
        let at = out.stderr.find(&named).unwrap_or_else(|| panic!("{named} in {out}"));
        assert!(out.stderr[at..].contains(what), "{what} after {named}: {out}");
    }
    let lenient = config(dir.path(), &[&primary, &broken, &unfit], &target, "");
    let full_p = backup(&lenient, &["--set", "s"]);
    assert_eq!(full_p["server"]["server_id"].as_u64(), Some(u64::from(primary.server_id())), "{full_p:#}");
    assert!(full_p["server_choice"].as_str().unwrap().contains("no replica"), "{full_p:#}");
    // Back to the configuration naming the healthy replica (one set, one repository).
    let cfg = config(dir.path(), &[&primary, &broken, &healthy], &target, "");
    drop(unfit);

    // The failover: the healthy replica is promoted, the old primary stopped. No edit.
    primary.stop();
    healthy.sql(match flavor {
        Flavor::MySQL => "STOP REPLICA; RESET REPLICA ALL; SET GLOBAL read_only = OFF",
        Flavor::MariaDB => "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF",
    });
    writes(&healthy, 1000, 1050);
    let state_end = checksums(&healthy, "app");
    healthy.sql("FLUSH BINARY LOGS");
    let out = zrm_ok(&cfg, &["binlog", "archive", "--set", "s"]);
    assert!(out.stderr.contains(&format!("archiving root@{}", sock(&healthy))), "{out}");
    assert!(out.stderr.contains("earlier part of the set's timeline"), "{out}");

    // A restore past the switch, from the newest backup: exact.
    zrm_ok(&cfg, &["restore", "--set", "s", "--target", "tgt", "--replace"]);
    assert_eq!(checksums(&target, "app"), state_end);
    // And from the backup of the replica taken before the switch.
    let id = full["id"].as_str().unwrap();
    zrm_ok(&cfg, &["restore", "--set", "s", "--backup", id, "--target", "tgt", "--replace"]);
    assert_eq!(checksums(&target, "app"), state_end, "from {id}");
}
}
