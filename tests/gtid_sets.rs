//! GTID-set stop points (issue 18, item 3) on both flavors: `binlog find` prints the executed
//! set at its point; `restore --until-gtid SET` applies exactly the transactions of the set
//! (the base chosen by set containment), and refuses, before anything changes, a set that is
//! not a prefix of the binlog order or that holds transactions the archive lacks. MySQL sets
//! carry a tagged GTID; MariaDB sets span two replication domains.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{backup, checksums, config_for, json, run_zrm, zrm_ok, Flavor, TestServer};

/// A transaction on the source, and the state right after it.
struct Mark {
    gtid: String,
    /// The executed GTID set right after it, as the server prints it.
    executed: String,
    checksums: Vec<(String, String)>,
}

/// Commit `sql` as one transaction; on MariaDB in replication domain `domain`, on MySQL tagged
/// `tag` when given.
fn commit(src: &TestServer, sql: &str, domain: u32, tag: Option<&str>) -> Mark {
    let wrapped = match (src.flavor(), tag) {
        (Flavor::MariaDB, _) => format!(
            "SET SESSION gtid_domain_id = {domain}; BEGIN; {sql}; COMMIT; \
             SET SESSION gtid_domain_id = 0"
        ),
        (Flavor::MySQL, Some(t)) => {
            format!("SET GTID_NEXT = 'AUTOMATIC:{t}'; BEGIN; {sql}; COMMIT; SET GTID_NEXT = 'AUTOMATIC'")
        }
        (Flavor::MySQL, None) => format!("BEGIN; {sql}; COMMIT"),
    };
    src.sql(&wrapped);
    let gtid = match src.flavor() {
        Flavor::MariaDB => src
            .sql("SELECT @@gtid_binlog_pos")
            .split(',')
            .find(|g| g.starts_with(&format!("{domain}-")))
            .unwrap()
            .to_string(),
        Flavor::MySQL => {
            let uuid = src.server_uuid().unwrap();
            let set = src.gtid_executed();
            let part = match tag {
                Some(t) => set
                    .split(&format!(":{t}:"))
                    .nth(1)
                    .unwrap()
                    .split([':', ','])
                    .next()
                    .unwrap()
                    .to_string(),
                None => set
                    .strip_prefix(&format!("{uuid}:"))
                    .unwrap()
                    .split([':', ','])
                    .next()
                    .unwrap()
                    .to_string(),
            };
            let last = part.rsplit('-').next().unwrap().to_string();
            match tag {
                Some(t) => format!("{uuid}:{t}:{last}"),
                None => format!("{uuid}:{last}"),
            }
        }
    };
    Mark {
        gtid,
        executed: src.gtid_executed(),
        checksums: checksums(src, "app"),
    }
}

/// The same set whatever the order of its comma-separated parts.
fn same_set(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let mut v: Vec<String> = s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

fn restore(config: &Path, extra: &[&str]) -> support::Output {
    let mut args = vec![
        "restore", "--set", "src", "--target", "dst", "--format", "json",
    ];
    args.extend_from_slice(extra);
    run_zrm(config, &args)
}

flavor_tests! {
fn a_gtid_set_stop_point_applies_exactly_the_set(flavor: Flavor) {
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    src.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;\n\
         INSERT INTO app.t VALUES (1, 0), (2, 0), (3, 0)",
    );
    let first = backup(&config, &["--set", "src"]);
    let first_id = first["id"].as_str().unwrap().to_string();
    // Domain 2 (MariaDB) or a tag (MySQL) for the second and fourth transactions.
    let t1 = commit(&src, "UPDATE app.t SET v = v + 1 WHERE id = 1", 0, None);
    let t2 = commit(&src, "UPDATE app.t SET v = v + 10 WHERE id = 2", 2, Some("audit"));
    let t3 = commit(&src, "UPDATE app.t SET v = v + 100 WHERE id = 3", 0, None);
    let t4 = commit(&src, "INSERT INTO app.t VALUES (4, 4)", 2, Some("audit"));
    let t5 = commit(&src, "UPDATE app.t SET v = v * 2", 0, None);
    assert_ne!(t3.checksums, t5.checksums);
    // A newer full backup holds t4 and t5: a set ending at t3 must start from the first one.
    backup(&config, &["--set", "src"]);
    src.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);

    // binlog find: the executed set at the point before t4 is the state right after t3.
    let found = json(&zrm_ok(
        &config,
        &["binlog", "find", "--set", "src", "--gtid", &t4.gtid, "--format", "json"],
    ));
    let at_t3 = found["gtid_set"].as_str().unwrap_or_default().to_string();
    assert!(
        same_set(&at_t3, &t3.executed),
        "binlog find --gtid {}: set {at_t3}, the server had {} after t3\n{found:#}",
        t4.gtid,
        t3.executed
    );
    // And with t4 itself: the state right after t4.
    let with_t4 = found["gtid_set_inclusive"].as_str().unwrap_or_default().to_string();
    assert!(same_set(&with_t4, &t4.executed), "{with_t4} vs {}\n{found:#}", t4.executed);
    let text = zrm_ok(&config, &["binlog", "find", "--set", "src", "--gtid", &t4.gtid]);
    assert!(text.stdout.contains("GTID set:"), "{text}");
    assert!(text.stdout.contains("--until-gtid '"), "{text}");

    // A set that is not a prefix: t5 in it, t4 (before t5) not. Refused before anything
    // changes, naming t4.
    dst.sql("CREATE DATABASE app; CREATE TABLE app.sentinel (id INT PRIMARY KEY); INSERT INTO app.sentinel VALUES (7)");
    let holey = match flavor {
        // Domain 0 up to t5, domain 2 only up to t2.
        Flavor::MariaDB => format!("{},{}", t5.gtid, t2.gtid),
        // Everything up to t5 but t4.
        Flavor::MySQL => {
            let uuid = src.server_uuid().unwrap();
            let n5: u64 = t5.gtid.rsplit(':').next().unwrap().parse().unwrap();
            format!("{uuid}:1-{n5}:audit:1")
        }
    };
    let out = restore(&config, &["--replace", "--until-gtid", &holey]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("is not a prefix of the binlog order"), "{out}");
    assert!(
        out.stderr.contains(&format!("(GTID {})", t4.gtid)),
        "the error names the first transaction outside the set, t4 ({}): {out}",
        t4.gtid
    );
    assert_eq!(dst.sql("SELECT id FROM app.sentinel"), "7", "nothing changed");

    // A set holding a transaction the archive does not have.
    let beyond = match flavor {
        Flavor::MariaDB => format!("0-{}-999,{}", src.server_id(), t4.gtid),
        Flavor::MySQL => format!("{}:1-999", src.server_uuid().unwrap()),
    };
    let out = restore(&config, &["--replace", "--until-gtid", &beyond]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("nothing was restored"), "{out}");
    assert_eq!(dst.sql("SELECT id FROM app.sentinel"), "7", "nothing changed");

    // --inclusive names one transaction: with a set it is a usage error.
    let out = restore(&config, &["--replace", "--until-gtid", &t3.executed, "--inclusive"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("a GTID set already names every transaction"), "{out}");

    // Nonsense is a usage error that says what a set looks like.
    let out = restore(&config, &["--replace", "--until-gtid", "0-1-2,zz"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--until-gtid 0-1-2,zz"), "{out}");

    // The set found at t3 (and the server's own set after t3): exactly the state after t3,
    // from the first full backup (the second holds t4 and t5).
    for set in [&at_t3, &t3.executed] {
        let out = restore(&config, &["--replace", "--until-gtid", set]);
        assert_eq!(out.code, 0, "--until-gtid {set}: {out}");
        let r: Value = json(&out);
        assert_eq!(r["restored"], first_id.as_str(), "base chosen by containment: {r:#}");
        assert!(
            same_set(r["stop"]["gtid_set"].as_str().unwrap_or_default(), &t3.executed),
            "the replay stops at the set: {r:#}"
        );
        assert_eq!(checksums(&dst, "app"), t3.checksums, "--until-gtid {set}\n{out}");
    }
    // The state after t1 and t2 (both domains / untagged and tagged).
    let out = restore(&config, &["--replace", "--until-gtid", &t2.executed]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(checksums(&dst, "app"), t2.checksums, "--until-gtid {}", t2.executed);
    // The set binlog find gave with t4 applied: the state after t4.
    let out = restore(&config, &["--replace", "--until-gtid", &with_t4]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(checksums(&dst, "app"), t4.checksums, "--until-gtid {with_t4}");
    // And the whole archive as a set.
    let out = restore(&config, &["--replace", "--until-gtid", &t5.executed]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(checksums(&dst, "app"), t5.checksums);
    let _ = t1;
}
}
