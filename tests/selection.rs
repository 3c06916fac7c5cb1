//! One selection rule for what a backup takes and what a replay applies (issue 16): a database
//! left out by an `exclude` pattern is left out of the replay too. Before, the replay applied
//! only `db.table` patterns, so a write to an excluded database after the backup stopped the
//! restore (the database is not on the target). Real servers, both flavors.

mod support;

use support::{config_with, zrm_ok, TestServer};

flavor_tests! {
fn an_excluded_database_is_left_out_of_the_replay_as_of_the_backup(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let src = TestServer::of(flavor);
    let dst = TestServer::of(flavor);
    src.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); \
         CREATE DATABASE scratch_1; CREATE TABLE scratch_1.t (id INT PRIMARY KEY); \
         INSERT INTO app.t VALUES (1); INSERT INTO scratch_1.t VALUES (1)",
    );
    let config = config_with(
        dir.path(),
        &[("src", &src), ("dst", &dst)],
        "exclude = [\"scratch_*\", \"app.tmp_*\"]\n",
    );
    zrm_ok(&config, &["backup", "--set", "src"]);
    src.sql(
        "INSERT INTO app.t VALUES (2); INSERT INTO scratch_1.t VALUES (2); \
         CREATE TABLE app.tmp_x (id INT); INSERT INTO app.tmp_x VALUES (1); FLUSH BINARY LOGS",
    );
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    zrm_ok(&config, &["restore", "--set", "src", "--target", "dst"]);
    assert_eq!(dst.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM app.t"), "1,2");
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'scratch_1'"),
        "0",
        "the excluded database is neither restored nor replayed"
    );
}
}
