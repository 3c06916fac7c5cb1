//! Servers in replication (issue 18): `check` reports each server's role (primary, replica of
//! HOST:PORT, standalone), the replica's threads, lag and last error, and `read_only`, against
//! a real primary → replica pair of throwaway servers of either flavor
//! (`TestServer::replicate_from`).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{config_for, json, run_zrm, wait_for, TestServer};

/// `zrm check --set SET --format json`: exit code and the checks by name (a name may repeat).
fn check(config: &Path, set: &str) -> (i32, Vec<Value>) {
    let out = run_zrm(config, &["check", "--set", set, "--format", "json"]);
    let v = json(&out);
    (out.code, v["checks"].as_array().unwrap().clone())
}

fn item<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check '{name}' in {checks:#?}"))
}

flavor_tests! {
fn check_reports_role_replication_state_and_read_only(flavor: Flavor) {
    let primary = TestServer::of(flavor);
    let replica = TestServer::of(flavor);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("p", &primary), ("r", &replica)]);

    // Before any replication: both standalone.
    let (_, checks) = check(&config, "r");
    let role = item(&checks, "replication role");
    assert!(role["detail"].as_str().unwrap().starts_with("standalone"), "{role}");
    assert_eq!(item(&checks, "read_only")["detail"], "OFF");

    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)");
    replica.replicate_from(&primary);
    replica.sql("SET GLOBAL read_only = ON");

    // The primary: its replica, by server_id.
    let (code, checks) = check(&config, "p");
    assert_eq!(code, 0, "{checks:#?}");
    let role = item(&checks, "replication role");
    let detail = role["detail"].as_str().unwrap();
    assert!(detail.starts_with("primary: 1 replica(s)"), "{role}");
    assert!(
        detail.contains(&format!("server_id {}", replica.server_id())),
        "{role}"
    );

    // The replica: whose replica, both threads running, the lag, read_only.
    let (code, checks) = check(&config, "r");
    assert_eq!(code, 0, "{checks:#?}");
    let role = item(&checks, "replication role");
    assert_eq!(
        role["detail"],
        format!("replica of 127.0.0.1:{}", primary.port()).as_str(),
        "{role}"
    );
    let state = item(&checks, "replication");
    assert_eq!(state["verdict"], "ok", "{state}");
    let detail = state["detail"].as_str().unwrap();
    // The lag is whatever the server says at that moment (MySQL may say 1 s while idle).
    assert!(
        regex::Regex::new(r"IO thread running, SQL thread running, \d+ s behind the source")
            .unwrap()
            .is_match(detail),
        "{state}"
    );
    assert!(item(&checks, "read_only")["detail"]
        .as_str()
        .unwrap()
        .starts_with("ON"));

    // The SQL thread stopped by hand: a warning that says so, with the fix.
    replica.sql("STOP REPLICA SQL_THREAD");
    let (code, checks) = check(&config, "r");
    assert_eq!(code, 0, "a warning does not fail check: {checks:#?}");
    let state = item(&checks, "replication");
    assert_eq!(state["verdict"], "warning", "{state}");
    assert!(state["detail"].as_str().unwrap().contains("SQL thread stopped"), "{state}");
    assert!(state["fix"].as_str().unwrap().contains("START"), "{state}");
    replica.sql("START REPLICA SQL_THREAD");

    // Broken: the replica already has the row the primary then inserts. An error naming it.
    replica.sql("SET SESSION sql_log_bin = 0; INSERT INTO app.t VALUES (4242)");
    primary.sql("INSERT INTO app.t VALUES (4242)");
    wait_for("the replica's SQL thread to stop on the error", 30, || {
        let (_, checks) = check(&config, "r");
        item(&checks, "replication")["verdict"] == "error"
    });
    let (code, checks) = check(&config, "r");
    assert_eq!(code, 1, "{checks:#?}");
    let state = item(&checks, "replication");
    let detail = state["detail"].as_str().unwrap();
    assert!(detail.contains("SQL thread stopped"), "{state}");
    assert!(detail.contains("last SQL error:"), "{state}");
    assert!(detail.contains("4242"), "the error names the row: {state}");

    // A writable replica is a warning; in text, with the role line.
    replica.sql("SET GLOBAL read_only = OFF");
    let out = run_zrm(&config, &["check", "--set", "r"]);
    assert!(
        out.stdout.contains(&format!("replica of 127.0.0.1:{}", primary.port())),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("WARNING") && l.contains("read_only") && l.contains("diverge")),
        "{out}"
    );
}
}
