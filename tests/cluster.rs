//! Sharded clusters against three real shards of either flavor (and three restore targets): an
//! application-like writer commits cross-shard transactions, each carrying an increasing global
//! sequence number (GSN) written on every shard it touches, while backups run; then coordinated
//! backups, checkpoints, `binlog find --cluster --gsn` and `restore --cluster` to several GSNs
//! and to a checkpoint, each shard compared with the reference state recorded at that point.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use support::{checksums, json, run_zrm as zrm, zrm_ok, Flavor, TestServer};

const SHARDS: [&str; 3] = ["s1", "s2", "s3"];

struct Cluster {
    dir: tempfile::TempDir,
    config: PathBuf,
    shards: Vec<TestServer>,
    targets: Vec<TestServer>,
}

/// Three shards of `flavor`, and three restore targets when `with_targets`.
fn cluster(flavor: Flavor, with_targets: bool) -> Cluster {
    cluster_of(flavor, 3, with_targets)
}

/// `n` shards (s1…) of `flavor`, and as many restore targets (t1…) when `with_targets`.
fn cluster_of(flavor: Flavor, n: usize, with_targets: bool) -> Cluster {
    let start = |n: usize| -> Vec<TestServer> {
        let handles: Vec<_> = (0..n)
            .map(|_| thread::spawn(move || TestServer::of(flavor)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    let shards = start(n);
    let targets = start(if with_targets { n } else { 0 });
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nparallel = 2\nlock_timeout = 10\n",
    );
    for (i, s) in shards.iter().enumerate() {
        body.push_str(&format!(
            "\n[sets.s{}]\nsocket = \"{}\"\n",
            i + 1,
            s.socket().display()
        ));
    }
    for (i, t) in targets.iter().enumerate() {
        body.push_str(&format!(
            "\n[sets.t{}]\nsocket = \"{}\"\n",
            i + 1,
            t.socket().display()
        ));
    }
    let names = &SHARDS[..n];
    body.push_str(&format!(
        "\n[clusters.app]\nsets = [{}]\ngsn = {{ table = \"app.gsn\", column = \"seq\" }}\n\
         restore_targets = {{ {} }}\n",
        names
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", "),
        names
            .iter()
            .map(|s| format!("{s} = \"t{}\"", &s[1..]))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let config = support::write_config(dir.path(), &body);
    for s in &shards {
        s.sql(&format!(
            "CREATE DATABASE app;\n\
             CREATE TABLE app.gsn (seq BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB;\n\
             CREATE TABLE app.acct (id INT PRIMARY KEY, balance BIGINT NOT NULL, last_gsn BIGINT) ENGINE=InnoDB;\n\
             INSERT INTO app.acct SELECT seq, 1000, 0 FROM {};",
            s.seq(200)
        ));
    }
    Cluster {
        dir,
        config,
        shards,
        targets,
    }
}

/// The reference state of every shard after GSN g: checksums of its `app` tables.
type States = Arc<Mutex<BTreeMap<u64, Vec<Vec<(String, String)>>>>>;

/// Cross-shard transaction g: on each shard it touches (two or three of them), one local
/// transaction moving money and recording the GSN. Sequential: g completes everywhere before
/// g+1 starts, as an application's coordinator would make it.
fn transaction(shards: &[&TestServer], g: u64) {
    for (i, s) in shards.iter().enumerate() {
        if (g + i as u64) % 4 == 3 {
            continue; // this shard is not part of transaction g
        }
        let a = 1 + (g * 7 + i as u64) % 200;
        let b = 1 + (g * 13 + i as u64) % 200;
        s.sql(&format!(
            "BEGIN; UPDATE app.acct SET balance = balance - {g}, last_gsn = {g} WHERE id = {a};\n\
             UPDATE app.acct SET balance = balance + {g}, last_gsn = {g} WHERE id = {b};\n\
             INSERT INTO app.gsn VALUES ({g}, NOW(6)); COMMIT;"
        ));
    }
}

fn snapshot(shards: &[&TestServer]) -> Vec<Vec<(String, String)>> {
    shards.iter().map(|s| checksums(s, "app")).collect()
}

fn run_writer(
    shards: &[&TestServer],
    range: std::ops::RangeInclusive<u64>,
    keep: &[u64],
    states: &States,
) {
    for g in range {
        transaction(shards, g);
        if keep.contains(&g) {
            states.lock().unwrap().insert(g, snapshot(shards));
        }
    }
}

fn refs(servers: &[TestServer]) -> Vec<&TestServer> {
    servers.iter().collect()
}

fn archive_all(c: &Cluster) {
    for (i, s) in c.shards.iter().enumerate() {
        s.sql("FLUSH BINARY LOGS");
        zrm_ok(&c.config, &["binlog", "archive", "--set", SHARDS[i]]);
    }
}

fn assert_targets_at(c: &Cluster, want: &[Vec<(String, String)>], what: &str) {
    for (i, t) in c.targets.iter().enumerate() {
        assert_eq!(
            checksums(t, "app"),
            want[i],
            "{what}: shard {} differs from the reference",
            SHARDS[i]
        );
    }
}

fn cluster_records(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("repo/clusters/app/backups"))
        .map(|d| d.count())
        .unwrap_or(0)
}

flavor_tests! {
fn coordinated_backups_checkpoints_and_restores_to_one_gsn(flavor: Flavor) {
    let c = cluster(flavor, true);
    let states: States = Arc::default();
    run_writer(&refs(&c.shards), 1..=20, &[20], &states);

    // A parallel (not coordinated) cluster backup first: the base for early points.
    let out = zrm_ok(
        &c.config,
        &["backup", "--cluster", "app", "--format", "json"],
    );
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["record"]["coordinated"], false);

    // The coordinated backup while the application writes.
    let shards_for_writer: Vec<&TestServer> = c.shards.iter().collect();
    let coordinated = thread::scope(|scope| {
        let states = states.clone();
        let w = scope.spawn(move || {
            run_writer(&shards_for_writer, 21..=60, &[40, 55, 60], &states);
        });
        thread::sleep(std::time::Duration::from_millis(150));
        let out = zrm_ok(
            &c.config,
            &[
                "backup",
                "--cluster",
                "app",
                "--coordinated",
                "--format",
                "json",
            ],
        );
        w.join().unwrap();
        json(&out)
    });
    assert_eq!(coordinated["ok"], true, "{coordinated:#}");
    let rec = &coordinated["record"];
    assert_eq!(rec["coordinated"], true);
    let hold = rec["max_lock_hold_ms"]
        .as_u64()
        .expect("the longest hold is reported");
    assert!(hold < 5000, "coordinated lock held {hold} ms");
    for s in SHARDS {
        assert!(rec["shards"][s]["consistent_point"]["binlog_pos"]
            .as_u64()
            .is_some());
    }
    assert_eq!(cluster_records(c.dir.path()), 2);

    // The cron script for clusters: a coordinated full backup and a checkpoint, logged as JSON.
    let logs = c.dir.path().join("logs");
    for step in ["full", "checkpoint"] {
        let out = support::run(
            std::process::Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster-nightly.sh"))
                .args([step, "app"])
                .env("ZRM", env!("CARGO_BIN_EXE_zrm"))
                .env("ZRM_CONFIG", &c.config)
                .env("ZRM_LOG_DIR", &logs),
        );
        assert!(out.success(), "cluster-nightly.sh {step}: {out}");
    }
    let logged: Vec<_> = std::fs::read_dir(&logs).unwrap().collect();
    assert_eq!(logged.len(), 2);
    assert_eq!(cluster_records(c.dir.path()), 3);

    // A checkpoint after GSN 60, then more writes.
    let out = zrm_ok(
        &c.config,
        &[
            "checkpoint",
            "--cluster",
            "app",
            "--name",
            "after-60",
            "--format",
            "json",
        ],
    );
    let cp = json(&out)["checkpoint"].clone();
    assert_eq!(cp["shards"].as_object().unwrap().len(), 3, "{cp:#}");
    assert!(c
        .dir
        .path()
        .join("repo/clusters/app/points/after-60.json")
        .exists());
    // The marker is in every shard's binlog, right after the checkpoint.
    run_writer(&refs(&c.shards), 61..=80, &[70, 80], &states);
    // After the last write, before the archive's last event (the rotation of the flush).
    let end = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    archive_all(&c);
    let out = zrm_ok(
        &c.config,
        &["binlog", "analyze", "--set", "s2", "--grep", "zrm_meta"],
    );
    assert!(out.stdout.contains("zrm_meta"), "{out}");

    // Where GSN 40 ends on every shard.
    let out = zrm_ok(
        &c.config,
        &[
            "binlog",
            "find",
            "--cluster",
            "app",
            "--gsn",
            "40",
            "--format",
            "json",
        ],
    );
    let f = json(&out);
    for s in SHARDS {
        assert!(
            f["shards"][s]["matched"]
                .as_str()
                .unwrap_or("")
                .contains("receives GSN"),
            "{f:#}"
        );
    }

    let states = states.lock().unwrap().clone();
    for n in [20u64, 40, 55, 70] {
        let out = zrm(
            &c.config,
            &[
                "restore",
                "--cluster",
                "app",
                "--until-gsn",
                &n.to_string(),
                "--replace",
                "--format",
                "json",
            ],
        );
        assert_eq!(out.code, 0, "restore to GSN {n}: {out}");
        let v = json(&out);
        assert_eq!(v["ok"], true, "{v:#}");
        assert_targets_at(&c, &states[&n], &format!("GSN {n}"));
    }
    let out = zrm_ok(
        &c.config,
        &[
            "restore",
            "--cluster",
            "app",
            "--until-checkpoint",
            "after-60",
            "--replace",
        ],
    );
    assert!(out.stdout.contains("checkpoint 'after-60'"), "{out}");
    assert_targets_at(&c, &states[&60], "checkpoint after-60");

    // By time: the summary shows each shard's last commit and the skew. (The earlier restore
    // to GSN 70 replayed the checkpoint's marker into `zrm_meta`, which `--replace` does not
    // drop: it is not in the backup. A fresh target would not have it.)
    for t in &c.targets {
        t.sql("DROP DATABASE IF EXISTS zrm_meta");
    }
    let out = zrm_ok(
        &c.config,
        &[
            "restore",
            "--cluster",
            "app",
            "--until-time",
            &end,
            "--replace",
            "--format",
            "json",
        ],
    );
    let v = json(&out);
    for sh in v["shards"].as_array().unwrap() {
        assert!(sh["last_applied"]["time"].as_str().is_some(), "{sh:#}");
    }
    assert!(v["skew_s"].as_f64().is_some(), "{v:#}");
    assert_targets_at(&c, &states[&80], "the end");

    // A shard whose archive lags behind the point: refused, not replayed short.
    run_writer(&refs(&c.shards), 81..=90, &[], &Arc::default());
    for (i, s) in c.shards.iter().enumerate().take(2) {
        s.sql("FLUSH BINARY LOGS");
        zrm_ok(&c.config, &["binlog", "archive", "--set", SHARDS[i]]);
    }
    let out = zrm(
        &c.config,
        &[
            "restore",
            "--cluster",
            "app",
            "--until-gsn",
            "85",
            "--replace",
        ],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("s3: no transaction above GSN 85") && out.stderr.contains("may lag"),
        "{out}"
    );
}
}

flavor_tests! {
fn a_shard_down_fails_the_coordinated_backup_and_locks_nothing(flavor: Flavor) {
    let mut c = cluster(flavor, false);
    transaction(&refs(&c.shards), 1);
    c.shards[2].stop();
    let out = zrm(
        &c.config,
        &[
            "backup",
            "--cluster",
            "app",
            "--coordinated",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["ok"], false);
    let shards = v["shards"].as_array().unwrap();
    let s3 = shards.iter().find(|s| s["set"] == "s3").unwrap();
    assert_eq!(s3["status"], "failed");
    for s in shards.iter().filter(|s| s["set"] != "s3") {
        assert_eq!(s["status"], "failed", "{s}");
        assert!(
            s["error"].as_str().unwrap().contains("abandoned"),
            "the others give up because of s3: {s}"
        );
    }
    assert_eq!(cluster_records(c.dir.path()), 0, "no cluster record");
    // No shard is left locked: commits go through at once.
    for s in &c.shards[..2] {
        let r = s
            .try_sql("SET SESSION lock_wait_timeout = 2; INSERT INTO app.gsn VALUES (999, NOW(6))");
        assert!(r.is_ok(), "{r:?}");
    }
    // And no half backup stays in the repository.
    for set in ["s1", "s2"] {
        let out = zrm_ok(
            &c.config,
            &["list", "--set", set, "--all", "--format", "json"],
        );
        assert_eq!(json(&out)["backups"], serde_json::json!([]), "{out}");
    }
}
}

flavor_tests! {
fn plans_written_centrally_run_as_separate_processes(flavor: Flavor) {
    let c = cluster(flavor, true);
    let states: States = Arc::default();
    run_writer(&refs(&c.shards), 1..=15, &[], &states);
    zrm_ok(&c.config, &["backup", "--cluster", "app"]);
    run_writer(&refs(&c.shards), 16..=40, &[30], &states);
    archive_all(&c);

    // Resolved here, once; nothing is restored.
    let plans = c.dir.path().join("plans");
    let out = zrm_ok(
        &c.config,
        &[
            "restore",
            "--cluster",
            "app",
            "--until-gsn",
            "30",
            "--plan-out",
            plans.to_str().unwrap(),
        ],
    );
    assert!(out.stdout.contains("zrm restore --plan"), "{out}");
    for t in &c.targets {
        let dbs = t.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app'");
        assert_eq!(dbs.trim(), "0", "--plan-out restores nothing");
    }
    // Each plan runs as its own process, all at once, as each shard's host would run it.
    let children: Vec<_> = SHARDS
        .iter()
        .map(|s| {
            let file = plans.join(format!("app.{s}.json"));
            assert!(file.exists(), "{}", file.display());
            support::spawn_zrm(
                &c.config,
                &["restore", "--plan", file.to_str().unwrap(), "--format", "json"],
            )
        })
        .collect();
    for child in children {
        let out = support::finish(child);
        assert_eq!(out.code, 0, "{out}");
        assert!(json(&out)["restored"].is_string(), "{out}");
    }
    let states = states.lock().unwrap().clone();
    assert_targets_at(&c, &states[&30], "plans to GSN 30");

    // A plan is read like user input: a set name that walks out of the repository is refused.
    let bad = plans.join("bad.json");
    let text = std::fs::read_to_string(plans.join("app.s1.json")).unwrap();
    std::fs::write(&bad, text.replace("\"set\": \"s1\"", "\"set\": \"../s1\"")).unwrap();
    let out = zrm(&c.config, &["restore", "--plan", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("set name in the plan"), "{out}");
}
}

flavor_tests! {
fn cluster_incrementals_record_every_shard_and_restore_to_one_gsn(flavor: Flavor) {
    let c = cluster_of(flavor, 2, true);
    let shards = refs(&c.shards);
    let states: States = Default::default();
    let v = json(&zrm_ok(
        &c.config,
        &["backup", "--cluster", "app", "--format", "json"],
    ));
    assert_eq!(v["record"]["shards"]["s1"]["level"], 0, "{v:#}");
    run_writer(&shards, 1..=20, &[10, 20], &states);

    // Every shard's incremental, one cluster record listing both.
    let out = zrm_ok(
        &c.config,
        &["backup", "--cluster", "app", "--level", "1", "--format", "json"],
    );
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["level"], "1");
    for set in ["s1", "s2"] {
        let shard = &v["record"]["shards"][set];
        assert_eq!(shard["level"], 1, "{set}: {v:#}");
        assert!(shard["parent_id"].is_string(), "{set}: {v:#}");
        let s = v["shards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["set"] == set)
            .unwrap();
        assert_eq!((&s["status"], &s["level"]), (&"ok".into(), &1.into()), "{s}");
    }
    assert_eq!(cluster_records(c.dir.path()), 2);
    // The text report names each shard and its level.
    run_writer(&shards, 21..=30, &[25, 30], &states);
    let out = zrm_ok(&c.config, &["backup", "--cluster", "app", "--level", "auto"]);
    assert!(out.stdout.contains("level auto"), "{out}");
    for set in ["s1", "s2"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(set) && l.contains(" 2 ") && l.ends_with("ok")),
            "{set} as a level 2 incremental: {out}"
        );
    }
    assert_eq!(cluster_records(c.dir.path()), 3);
    run_writer(&shards, 31..=40, &[35], &states);
    // The cron script's nightly step: each shard's binlogs archived, then the cluster's
    // incrementals.
    let out = support::run(
        std::process::Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster-nightly.sh"))
            .args(["nightly", "app"])
            .env("ZRM", env!("CARGO_BIN_EXE_zrm"))
            .env("ZRM_CONFIG", &c.config)
            .env("ZRM_LOG_DIR", c.dir.path().join("logs")),
    );
    assert!(out.success(), "cluster-nightly.sh nightly: {out}");
    assert_eq!(cluster_records(c.dir.path()), 4);
    run_writer(&shards, 41..=45, &[], &states);
    archive_all(&c);

    // A GSN inside the first incremental's range, one after the last, one in the open archive.
    let states = states.lock().unwrap().clone();
    for n in [10u64, 25, 35] {
        let out = zrm(
            &c.config,
            &[
                "restore",
                "--cluster",
                "app",
                "--until-gsn",
                &n.to_string(),
                "--replace",
                "--format",
                "json",
            ],
        );
        assert_eq!(out.code, 0, "restore to GSN {n}: {out}");
        assert_targets_at(&c, &states[&n], &format!("GSN {n} after cluster incrementals"));
    }
    // --coordinated is a cut of full backups: with an incremental level it is refused.
    let out = zrm(
        &c.config,
        &["backup", "--cluster", "app", "--coordinated", "--level", "1"],
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("Leave --coordinated out"), "{out}");
}
}

flavor_tests! {
fn a_failed_shard_incremental_fails_the_cluster_backup_by_name(flavor: Flavor) {
    let mut c = cluster_of(flavor, 2, false);
    zrm_ok(&c.config, &["backup", "--cluster", "app"]);
    transaction(&refs(&c.shards), 1);
    c.shards[1].stop();
    let out = zrm(
        &c.config,
        &["backup", "--cluster", "app", "--level", "1"],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.contains("1 shard(s) failed (s2): no cluster backup was recorded"),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("s2") && l.contains("FAILED")),
        "{out}"
    );
    assert_eq!(cluster_records(c.dir.path()), 1, "only the full backup's record");
}
}

flavor_tests! {
/// Issue 18 item 4: shard s2 fails over after the cluster backup (its set names both of its
/// servers, so its archive follows the new primary without an edit and spans two servers);
/// `restore --cluster` to GSNs and a checkpoint before and after the switch is exact.
fn a_cluster_restore_crosses_a_failover_of_one_shard(flavor: Flavor) {
    let s1 = TestServer::of(flavor);
    let mut s2 = TestServer::of(flavor);
    let mut o = support::ServerOptions::of(flavor);
    if flavor == Flavor::MariaDB {
        o.extra_args.push("--log-slave-updates".into());
    }
    let s2b = TestServer::start_with(o);
    let targets = [TestServer::of(flavor), TestServer::of(flavor)];
    for s in [&s1, &s2] {
        s.sql(&format!(
            "CREATE DATABASE app;\n\
             CREATE TABLE app.gsn (seq BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB;\n\
             CREATE TABLE app.acct (id INT PRIMARY KEY, balance BIGINT NOT NULL, last_gsn BIGINT) ENGINE=InnoDB;\n\
             INSERT INTO app.acct SELECT seq, 1000, 0 FROM {};",
            s.seq(200)
        ));
    }
    s2b.replicate_from(&s2);
    let dir = tempfile::tempdir().unwrap();
    let sock = |s: &TestServer| s.socket().display().to_string();
    let config = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nlock_timeout = 10\n\n\
             [sets.s1]\nsocket = \"{}\"\n\n[sets.s2]\nservers = [\"{}\", \"{}\"]\n\n\
             [sets.t1]\nsocket = \"{}\"\n\n[sets.t2]\nsocket = \"{}\"\n\n\
             [clusters.app]\nsets = [\"s1\", \"s2\"]\ngsn = {{ table = \"app.gsn\", column = \"seq\" }}\n\
             restore_targets = {{ s1 = \"t1\", s2 = \"t2\" }}\n",
            sock(&s1),
            sock(&s2),
            sock(&s2b),
            sock(&targets[0]),
            sock(&targets[1])
        ),
    );
    let states: States = Arc::default();
    run_writer(&[&s1, &s2], 1..=20, &[], &states);
    let out = zrm_ok(&config, &["backup", "--cluster", "app", "--format", "json"]);
    assert_eq!(json(&out)["ok"], true, "{out}");
    run_writer(&[&s1, &s2], 21..=40, &[30, 40], &states);
    for (set, s) in [("s1", &s1), ("s2", &s2)] {
        s.sql("FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", set]);
    }
    s2b.wait_replicated(&s2);

    // The failover of shard s2: its replica is promoted, the old primary stopped.
    s2.stop();
    s2b.sql(match flavor {
        Flavor::MySQL => "STOP REPLICA; RESET REPLICA ALL; SET GLOBAL read_only = OFF",
        Flavor::MariaDB => "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF",
    });
    run_writer(&[&s1, &s2b], 41..=55, &[50, 55], &states);
    // A checkpoint after the switch: its marker goes to the new primary.
    let out = zrm_ok(
        &config,
        &["checkpoint", "--cluster", "app", "--name", "after-55", "--format", "json"],
    );
    let cp = json(&out)["checkpoint"].clone();
    assert_eq!(cp["shards"].as_object().map(|o| o.len()), Some(2), "{cp:#}");
    run_writer(&[&s1, &s2b], 56..=60, &[60], &states);
    for (set, s) in [("s1", &s1), ("s2", &s2b)] {
        s.sql("FLUSH BINARY LOGS");
        let out = zrm_ok(&config, &["binlog", "archive", "--set", set]);
        if set == "s2" {
            assert!(out.stderr.contains(&sock(&s2b)), "the new primary: {out}");
            assert!(out.stderr.contains("earlier part of the set's timeline"), "{out}");
        }
    }

    let states = states.lock().unwrap().clone();
    let check = |want: &Vec<Vec<(String, String)>>, what: &str| {
        for (i, t) in targets.iter().enumerate() {
            assert_eq!(checksums(t, "app"), want[i], "{what}: shard s{} differs", i + 1);
        }
    };
    for n in [30u64, 50, 60] {
        let out = zrm(
            &config,
            &["restore", "--cluster", "app", "--until-gsn", &n.to_string(), "--replace"],
        );
        assert_eq!(out.code, 0, "restore to GSN {n}: {out}");
        check(&states[&n], &format!("GSN {n}"));
    }
    let out = zrm_ok(
        &config,
        &["restore", "--cluster", "app", "--until-checkpoint", "after-55", "--replace"],
    );
    assert!(out.stdout.contains("checkpoint 'after-55'"), "{out}");
    check(&states[&55], "checkpoint after-55");
}
}

/// Two shards, each a primary with a replica (real replication), for the replica-based
/// coordinated backup: sets p1, p2 (primaries), s1, s2 (their replicas, `primary = "pN"`), t1,
/// t2 (restore targets); cluster `app` = [s1, s2].
struct ReplicaCluster {
    dir: tempfile::TempDir,
    config: PathBuf,
    primaries: Vec<TestServer>,
    replicas: Vec<TestServer>,
    targets: Vec<TestServer>,
}

fn replica_cluster(flavor: Flavor) -> ReplicaCluster {
    let start = |n: usize| -> Vec<TestServer> {
        let handles: Vec<_> = (0..n)
            .map(|_| thread::spawn(move || TestServer::of(flavor)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    let primaries = start(2);
    // The replicas' binary logs hold the replicated transactions (MySQL's default), so that
    // their archives reach past the backup.
    let replicas: Vec<TestServer> = (0..2)
        .map(|_| {
            thread::spawn(move || {
                let mut o = support::ServerOptions::of(flavor);
                if flavor == Flavor::MariaDB {
                    o.extra_args.push("--log-slave-updates".into());
                }
                TestServer::start_with(o)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let targets = start(2);
    for (p, r) in primaries.iter().zip(&replicas) {
        r.replicate_from(p);
        p.sql(&format!(
            "CREATE DATABASE app;\n\
             CREATE TABLE app.gsn (seq BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL) ENGINE=InnoDB;\n\
             CREATE TABLE app.acct (id INT PRIMARY KEY, balance BIGINT NOT NULL, last_gsn BIGINT) ENGINE=InnoDB;\n\
             INSERT INTO app.acct SELECT seq, 1000, 0 FROM {};",
            p.seq(200)
        ));
        r.wait_replicated(p);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nlock_timeout = 10\nmax_replica_lag = 60\n",
    );
    for i in 0..2 {
        let n = i + 1;
        body.push_str(&format!(
            "\n[sets.p{n}]\nsocket = \"{}\"\n\n[sets.s{n}]\nsocket = \"{}\"\nprimary = \"p{n}\"\n\n\
             [sets.t{n}]\nsocket = \"{}\"\n",
            primaries[i].socket().display(),
            replicas[i].socket().display(),
            targets[i].socket().display()
        ));
    }
    body.push_str(
        "\n[clusters.app]\nsets = [\"s1\", \"s2\"]\ngsn = { table = \"app.gsn\", column = \"seq\" }\n\
         restore_targets = { s1 = \"t1\", s2 = \"t2\" }\n",
    );
    let config = support::write_config(dir.path(), &body);
    ReplicaCluster {
        dir,
        config,
        primaries,
        replicas,
        targets,
    }
}

/// A server's `app` tables and their CHECKSUM TABLE values.
type Checksums = Vec<(String, String)>;

fn max_gsn(s: &TestServer) -> u64 {
    s.sql("SELECT COALESCE(MAX(seq), 0) FROM app.gsn")
        .trim()
        .parse()
        .unwrap()
}

fn sql_thread_running(r: &TestServer) -> bool {
    let status = r.sql(match r.flavor() {
        Flavor::MySQL => "SELECT SERVICE_STATE FROM performance_schema.replication_applier_status",
        Flavor::MariaDB => {
            "SELECT IF(VARIABLE_VALUE = 'ON', 'ON', 'OFF') FROM \
                            information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'"
        }
    });
    status.trim() == "ON"
}

flavor_tests! {
fn a_replica_based_coordinated_backup_restores_every_shard_to_its_cut(flavor: Flavor) {
    let c = replica_cluster(flavor);
    let primaries: Vec<&TestServer> = c.primaries.iter().collect();
    // Per shard, its state after every GSN that touched it (the writer is sequential).
    let per_shard: Mutex<Vec<BTreeMap<u64, Checksums>>> =
        Mutex::new(vec![BTreeMap::new(), BTreeMap::new()]);
    for (i, p) in primaries.iter().enumerate() {
        per_shard.lock().unwrap()[i].insert(0, checksums(p, "app"));
    }
    let writer = |range: std::ops::RangeInclusive<u64>| {
        for g in range {
            transaction(&primaries, g);
            for (i, p) in primaries.iter().enumerate() {
                per_shard.lock().unwrap()[i].insert(g, checksums(p, "app"));
            }
        }
    };
    writer(1..=10);
    // The application writes until the backup is done (whatever the machine's speed, the cut
    // falls among its writes).
    let done = std::sync::atomic::AtomicBool::new(false);
    let (v, last) = thread::scope(|scope| {
        let w = scope.spawn(|| {
            let mut g = 10;
            while !done.load(std::sync::atomic::Ordering::SeqCst) || g < 20 {
                g += 1;
                writer(g..=g);
            }
            g
        });
        // The backup starts once the writer is under way (GSN 15 committed everywhere).
        support::wait_for("the writer to pass GSN 15", 60, || {
            per_shard.lock().unwrap()[1].contains_key(&15)
        });
        let out = zrm_ok(
            &c.config,
            &["backup", "--cluster", "app", "--coordinated", "--format", "json"],
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (json(&out), w.join().unwrap())
    });
    assert_eq!(v["ok"], true, "{v:#}");
    let rec = &v["record"];
    let hold = rec["max_lock_hold_ms"].as_u64().expect("the primaries' lock time");
    assert!(hold < 5000, "the primaries were locked {hold} ms");
    // More writes after the backup: the restore must not hold them.
    writer(last + 1..=last + 10);
    let until = last + 5;

    let mut restored_gsn = Vec::new();
    for i in 0..2 {
        let set = format!("s{}", i + 1);
        let sh = &rec["shards"][&set];
        let via = &sh["from_replica"];
        assert_eq!(via["primary"], format!("p{}", i + 1), "{rec:#}");
        assert!(via["primary_lock_hold_ms"].as_u64().unwrap() <= hold);
        // The replica was backed up at the primary's cut point, exactly.
        let point = &via["primary_point"];
        let id = sh["backup_id"].as_str().unwrap();
        let m = json(&zrm_ok(&c.config, &["show", "--set", &set, id, "--format", "json"]));
        let r = &m["replica"];
        assert_eq!(r["paused"], true, "{m:#}");
        assert_eq!(r["source_binlog_file"], point["binlog_file"], "{m:#}\n{point:#}");
        assert_eq!(r["source_binlog_pos"], point["binlog_pos"], "{m:#}\n{point:#}");
        // The replica's SQL thread runs again.
        assert!(sql_thread_running(&c.replicas[i]), "replica of {set} left stopped");

        zrm_ok(
            &c.config,
            &[
                "restore", "--set", &set, "--backup", id, "--target", &format!("t{}", i + 1),
                "--no-binlogs",
            ],
        );
        let g = max_gsn(&c.targets[i]);
        assert!(g >= 14 && g <= last, "shard {set} restored to GSN {g}");
        assert_eq!(
            checksums(&c.targets[i], "app"),
            per_shard.lock().unwrap()[i][&g],
            "shard {set}: the restore is not the primary's state after GSN {g}"
        );
        restored_gsn.push(g);
    }
    // One cut across the shards: shard 1 commits each GSN before shard 2, so shard 1 holds
    // every GSN shard 2 holds (those touching it), and at most the one in flight beyond.
    let (g1, g2) = (restored_gsn[0], restored_gsn[1]);
    assert!(g1 + 4 >= g2 && g2 + 4 >= g1, "GSNs {g1} and {g2} are not one cut");
    let present = |t: &TestServer, g: u64| {
        t.sql(&format!("SELECT COUNT(*) FROM app.gsn WHERE seq = {g}")).trim() == "1"
    };
    for g in 1..=g2 {
        if g % 4 != 3 {
            assert!(present(&c.targets[0], g), "GSN {g} is on shard 2 but not on shard 1");
        }
    }
    // And the replicas caught up afterwards.
    for (p, r) in c.primaries.iter().zip(&c.replicas) {
        r.wait_replicated(p);
    }

    // The replicas' binlogs archived: `restore --cluster --until-gsn` past the backup, from
    // the replica-based backup, brings every shard to its primary's state at that GSN.
    for (i, r) in c.replicas.iter().enumerate() {
        r.sql("FLUSH BINARY LOGS");
        zrm_ok(&c.config, &["binlog", "archive", "--set", &format!("s{}", i + 1)]);
    }
    zrm_ok(
        &c.config,
        &["restore", "--cluster", "app", "--until-gsn", &until.to_string(), "--replace"],
    );
    for (i, t) in c.targets.iter().enumerate() {
        let states = &per_shard.lock().unwrap()[i];
        let (g, want) = states.range(..=until).next_back().unwrap();
        let g = (1..=*g).rev().find(|g| (g + i as u64) % 4 != 3).unwrap_or(0);
        assert_eq!(max_gsn(t), g, "shard s{}", i + 1);
        assert_eq!(&checksums(t, "app"), want, "shard s{} at GSN {until}", i + 1);
    }
}
}

flavor_tests! {
fn a_replica_that_cannot_reach_the_cut_fails_the_cluster_backup_by_name(flavor: Flavor) {
    let c = replica_cluster(flavor);
    // The replica of shard 2 has its SQL thread stopped by hand (no error: fit to back up) and
    // holds a row its primary then inserts too: the primary's insert is received, not applied.
    // Run to the cut, its SQL thread stops on the duplicate key before reaching it.
    let stop = match flavor {
        Flavor::MySQL => "STOP REPLICA SQL_THREAD",
        Flavor::MariaDB => "STOP SLAVE SQL_THREAD",
    };
    c.replicas[1].sql(stop);
    c.replicas[1].sql("SET SESSION sql_log_bin = 0; INSERT INTO app.acct VALUES (9999, 0, 0)");
    c.primaries[1].sql("INSERT INTO app.acct VALUES (9999, 1, 1)");
    let out = zrm(
        &c.config,
        &["backup", "--cluster", "app", "--coordinated", "--format", "json"],
    );
    assert!(!out.success(), "{out}");
    let v = json(&out);
    assert_eq!(v["ok"], false, "{v:#}");
    assert!(v["record"].is_null(), "{v:#}");
    let failed: Vec<&str> = v["shards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["set"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"s2"), "{v:#}");
    let s2 = v["shards"].as_array().unwrap().iter().find(|s| s["set"] == "s2").unwrap();
    let e = s2["error"].as_str().unwrap();
    assert!(e.contains("SQL thread stopped on error 1062 before reaching the cut"), "{v:#}");
    assert_eq!(cluster_records(c.dir.path()), 0, "no half cluster record");
    // The healthy replica's SQL thread was started again, and it still follows its primary.
    assert!(sql_thread_running(&c.replicas[0]));
    c.primaries[0].sql("INSERT INTO app.acct VALUES (9999, 1, 1)");
    c.replicas[0].wait_replicated(&c.primaries[0]);
    assert_eq!(checksums(&c.replicas[0], "app"), checksums(&c.primaries[0], "app"));
}
}
