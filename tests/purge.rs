//! `zrm purge` on a real repository: backups aged by rewriting their manifests' times, a pinned
//! backup, an incremental chain, archived binlogs, an interrupted backup; the dry run changes
//! nothing, the real run deletes exactly what the plan says, and what stays still verifies and
//! restores.

mod support;

use std::path::Path;

use support::TestServer;
use support::{json, zrm_ok, Flavor};

fn age(repo: &Path, id: &str, days: i64) {
    let p = repo.join(format!("sets/src/backups/{id}/manifest.json"));
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let t = chrono::Utc::now() - chrono::Duration::days(days);
    m["start_time"] = t.to_rfc3339().into();
    m["end_time"] = (t + chrono::Duration::seconds(1)).to_rfc3339().into();
    std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

fn ids(config: &Path) -> Vec<String> {
    support::backup_ids(config, "src")
}

#[test]
fn purge_keeps_the_window_the_pins_and_the_chains() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let (source, target) = (TestServer::start(), TestServer::start());
    source.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let config = support::config_with(
        dir.path(),
        &[("src", &source), ("dst", &target)],
        "retention = \"10d\"\n",
    );
    let repo = dir.path().join("repo");
    let mut made = Vec::new();
    for (i, level) in ["0", "0", "1", "0", "0"].iter().enumerate() {
        source.sql(&format!("INSERT INTO app.t VALUES ({})", 10 + i));
        let out = zrm_ok(
            &config,
            &[
                "backup", "--set", "src", "--level", level, "--format", "json",
            ],
        );
        made.push(json(&out)["backup"]["id"].as_str().unwrap().to_string());
        source.sql("FLUSH BINARY LOGS");
        zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    }
    let (b1, b2, b2i, b3, b4) = (&made[0], &made[1], &made[2], &made[3], &made[4]);
    age(&repo, b1, 40);
    age(&repo, b2, 20);
    age(&repo, b2i, 19);
    age(&repo, b3, 5);
    zrm_ok(&config, &["pin", "--set", "src", b1]);
    // An interrupted backup: a directory without a manifest.
    std::fs::create_dir_all(repo.join("sets/src/backups/20200101T000000Z/data")).unwrap();
    std::fs::write(
        repo.join("sets/src/backups/20200101T000000Z/data/x.zst"),
        b"partial",
    )
    .unwrap();

    // The plan: b1 pinned, b2 the window's base, b2i outside the window (its binlogs stay in
    // the archive), b3 and b4 inside.
    let out = zrm_ok(
        &config,
        &["purge", "--set", "src", "--dry-run", "--format", "json"],
    );
    let p = json(&out)["sets"][0]["plan"].clone();
    let decision = |id: &str| {
        p["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(decision(b1)["keep"], true);
    assert_eq!(decision(b1)["reason"], "pinned");
    assert_eq!(decision(b2)["keep"], true, "{p:#}");
    assert_eq!(decision(b2i)["keep"], false, "{p:#}");
    assert_eq!(decision(b3)["keep"], true);
    assert_eq!(decision(b4)["keep"], true);
    assert_eq!(ids(&config).len(), 5, "the dry run deleted nothing");

    zrm_ok(&config, &["purge", "--set", "src"]);
    let left = ids(&config);
    assert_eq!(left, vec![b1.clone(), b2.clone(), b3.clone(), b4.clone()]);
    assert!(!repo.join(format!("sets/src/backups/{b2i}")).exists());
    assert!(!repo.join("sets/src/backups/20200101T000000Z").exists());

    // Unpinned, b1 goes, and with it the binlogs before b2's consistent point.
    let binlogs_before = std::fs::read_dir(repo.join("sets/src/binlogs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The binlogs before b2's point are as old as the backups around them (purge goes by the
    // time of their last event, not by name alone).
    let b2_point = {
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo.join(format!("sets/src/backups/{b2}/manifest.json"))).unwrap(),
        )
        .unwrap();
        m["consistent_point"]["binlog_file"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for e in std::fs::read_dir(&binlogs_before).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(file) = name.strip_suffix(".json") {
            if file < b2_point.as_str() {
                let mut i: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let t = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
                i["first_event_time"] = t.clone().into();
                i["last_event_time"] = t.into();
                std::fs::write(&p, serde_json::to_vec_pretty(&i).unwrap()).unwrap();
            }
        }
    }
    let count = |d: &Path| std::fs::read_dir(d).unwrap().count();
    let n_before = count(&binlogs_before);
    zrm_ok(&config, &["unpin", "--set", "src", b1]);
    let out = zrm_ok(&config, &["purge", "--all", "--format", "json"]);
    let v = json(&out);
    let src = v["sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["set"] == "src")
        .unwrap()
        .clone();
    assert_eq!(src["deleted_backups"], serde_json::json!([b1]));
    assert!(
        !src["deleted_binlogs"].as_array().unwrap().is_empty(),
        "{src:#}"
    );
    assert!(count(&binlogs_before) < n_before);
    // Purged files are not archived again while the server still has them.
    let again = json(&zrm_ok(
        &config,
        &["binlog", "archive", "--set", "src", "--format", "json"],
    ));
    let n_after = count(&binlogs_before);
    assert!(n_after < n_before, "re-archived after purge: {again:#}");
    assert_eq!(ids(&config), vec![b2.clone(), b3.clone(), b4.clone()]);

    // What stays is whole and restores.
    zrm_ok(&config, &["verify", "--set", "src", "--all"]);
    zrm_ok(
        &config,
        &["restore", "--set", "src", "--backup", b2, "--target", "dst"],
    );
    assert_eq!(
        support::checksums(&target, "app"),
        support::checksums(&source, "app")
    );
}
