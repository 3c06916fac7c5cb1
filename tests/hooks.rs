//! Hooks (`pre_backup`, `post_backup`), the Prometheus `metrics_file` and `log_file`, around
//! real backups: what the hooks see, a failing pre hook aborting the backup, a failed backup
//! reported to the post hook and in the metrics.

mod support;

use support::TestServer;
use support::{run_zrm as zrm, zrm_ok, Flavor};

#[test]
fn hooks_metrics_and_log_file() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let source = TestServer::start();
    source.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks.log");
    let h = hooks.display();
    let config = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nmetrics_file = \"metrics/zrm.prom\"\nlog_file = \"zrm.log\"\n\n\
             [sets.src]\nsocket = \"{}\"\n\
             pre_backup = \"echo pre $ZRM_SET $ZRM_LEVEL $ZRM_METHOD >> {h}\"\n\
             post_backup = \"echo post $ZRM_SET $ZRM_STATUS $ZRM_BACKUP_ID >> {h}\"\n\n\
             [sets.down]\nsocket = \"{}\"\n\
             pre_backup = \"true\"\n\
             post_backup = \"echo post $ZRM_SET $ZRM_STATUS \\\"$ZRM_ERROR\\\" >> {h}\"\n\n\
             [sets.veto]\nsocket = \"{}\"\npre_backup = \"echo maintenance window >&2; exit 3\"\n",
            source.socket().display(),
            dir.path().join("nothing.sock").display(),
            source.socket().display()
        ),
    );
    std::fs::create_dir(dir.path().join("metrics")).unwrap();

    let out = zrm_ok(&config, &["backup", "--set", "src", "--format", "json"]);
    let id = support::json(&out)["backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = std::fs::read_to_string(&hooks).unwrap();
    assert!(log.contains("pre src 0 logical"), "{log}");
    assert!(log.contains(&format!("post src ok {id}")), "{log}");
    let prom = std::fs::read_to_string(dir.path().join("metrics/zrm.prom")).unwrap();
    assert!(
        prom.contains("# TYPE zrm_backup_last_success_timestamp_seconds gauge"),
        "{prom}"
    );
    assert!(
        prom.contains("zrm_backup_last_size_bytes{set=\"src\"}"),
        "{prom}"
    );
    assert!(
        prom.contains("zrm_backup_last_run_ok{set=\"src\"} 1"),
        "{prom}"
    );

    // A failed backup: the post hook hears of it, the metrics say so.
    let out = zrm(&config, &["backup", "--set", "down"]);
    assert_eq!(out.code, 1, "{out}");
    let log = std::fs::read_to_string(&hooks).unwrap();
    assert!(log.contains("post down failed"), "{log}");
    let prom = std::fs::read_to_string(dir.path().join("metrics/zrm.prom")).unwrap();
    assert!(
        prom.contains("zrm_backup_last_run_ok{set=\"down\"} 0"),
        "{prom}"
    );
    assert!(
        prom.contains("zrm_backup_last_success_timestamp_seconds{set=\"src\"}"),
        "{prom}"
    );

    // A pre hook that says no: no backup, the hook and its exit code named.
    let out = zrm(&config, &["backup", "--set", "veto"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("pre_backup hook of set 'veto'"),
        "{out}"
    );
    assert!(out.stderr.contains("exit code 3"), "{out}");
    assert!(out.stderr.contains("maintenance window"), "{out}");
    assert!(support::backup_ids(&config, "veto").is_empty());

    // The log file has the notes with timestamps, and no password ever.
    let zlog = std::fs::read_to_string(dir.path().join("zrm.log")).unwrap_or_default();
    assert!(!zlog.contains("password="), "{zlog}");

    // log_file in a set is refused: it covers every set.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let cfg = support::write_config(
        &bad,
        "[repository]\npath = \"repo\"\n[sets.a]\nlog_file = \"x.log\"\n",
    );
    let out = zrm(&cfg, &["list"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("move it to [defaults]"), "{out}");
}
