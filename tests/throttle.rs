//! `max_rate`: a backup reads (and so compresses and stores) at most that many MiB per
//! second, so that a backup during business hours leaves the server its I/O.

mod support;

use std::time::Instant;

use support::{backup, config_with, Flavor, TestServer};

/// Bytes of the backup's data files (stored without compression: what was read).
fn data_bytes(full: &serde_json::Value) -> u64 {
    full["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files in {full:#}"))
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.starts_with("data/")))
        .map(|f| f["size"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_backup_is_held_to_its_max_rate() {
    let src = TestServer::of(Flavor::MariaDB);
    src.sql(
        "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b VARCHAR(1000)); \
         INSERT INTO big.t SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM big.seq_1_to_30000",
    );
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("limited");
    let free = dir.path().join("free");
    std::fs::create_dir_all(&limited).unwrap();
    std::fs::create_dir_all(&free).unwrap();

    let rate = 4.0; // MiB/s
    let config = config_with(&limited, &[("src", &src)], &format!("max_rate = {rate}\n"));
    let body = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        body.replace("[repository]\n", "[repository]\ncompression = \"none\"\n"),
    )
    .unwrap();
    let t0 = Instant::now();
    let full = backup(&config, &["--set", "src"]);
    let secs = t0.elapsed().as_secs_f64();
    let mib = data_bytes(&full) as f64 / 1048576.0;
    let measured = mib / secs;
    assert!(mib > 25.0, "enough data to measure: {mib:.1} MiB");
    assert!(
        measured <= rate * 1.10,
        "{mib:.1} MiB in {secs:.2} s is {measured:.2} MiB/s, above max_rate = {rate}"
    );
    // Connecting, the schema and the manifest take a moment outside the data; the data itself
    // goes at the rate.
    assert!(
        measured >= rate * 0.75,
        "{mib:.1} MiB in {secs:.2} s is {measured:.2} MiB/s, far below max_rate = {rate}"
    );

    // Without the limit the same backup is much faster: the limit is what held it.
    let config = config_with(&free, &[("src", &src)], "");
    let body = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        body.replace("[repository]\n", "[repository]\ncompression = \"none\"\n"),
    )
    .unwrap();
    let t0 = Instant::now();
    backup(&config, &["--set", "src"]);
    let unlimited = mib / t0.elapsed().as_secs_f64();
    eprintln!(
        "max_rate {rate} MiB/s: {mib:.1} MiB in {secs:.2} s = {measured:.2} MiB/s; \
         unthrottled {unlimited:.1} MiB/s"
    );
    assert!(unlimited > rate * 1.3, "unthrottled {unlimited:.1} MiB/s");
}
