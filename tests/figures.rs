//! Figures that must not mislead (issue 14, item 13): the transactions and bytes a restore plan
//! and an incremental backup report are those of their own binlog range, counted, not the
//! whole files' nor a proportional guess. Real MariaDB servers.

mod support;

use support::{config_for, json, zrm_ok, TestServer};

flavor_tests! {
fn plan_and_incremental_count_the_transactions_of_their_own_range(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    // A big transaction before the backup, in the same binlog as the small ones after it: a
    // proportional estimate over the file says "about 0".
    src.sql(&format!(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO d.t SELECT seq, REPEAT('x', 500) FROM {}",
        src.seq(5000)
    ));
    let config = config_for(dir.path(), &[("src", &src), ("dst", &dst)]);
    zrm_ok(&config, &["backup", "--set", "src"]);
    for i in 1..=4 {
        src.sql(&format!("INSERT INTO d.t VALUES ({}, 'small')", 10_000 + i));
    }
    let inc = json(&zrm_ok(
        &config,
        &["backup", "--set", "src", "--level", "1", "--format", "json"],
    ));
    assert_eq!(inc["transactions"], 4, "{inc:#}");
    let bytes = inc["binlog_bytes"].as_u64().unwrap();
    assert!(
        bytes < 4096,
        "4 small transactions, not the whole file: {bytes}"
    );

    let plan = json(&zrm_ok(
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--target",
            "dst",
            "--dry-run",
            "--format",
            "json",
        ],
    ));
    assert_eq!(plan["plan"]["transactions"], 4, "{plan:#}");
    assert_eq!(plan["plan"]["transactions_exact"], true, "{plan:#}");
    let last = &plan["plan"]["stop"]["last_applied"];
    assert!(
        last["pos"].as_u64().unwrap() < last["end_pos"].as_u64().unwrap(),
        "the last transaction is a real range: {last:#}"
    );
    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(dst.sql("SELECT COUNT(*) FROM d.t"), "5004");
}
}
