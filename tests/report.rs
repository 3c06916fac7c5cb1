//! `zrm report`: every view in text, json and csv from a real repository (backups, archived
//! binlogs, a verify), and the html page loaded in headless Chromium with its charts.

mod support;

use std::path::Path;
use std::process::Command;

use support::TestServer;
use support::{json, run_zrm as zrm, zrm_ok, Flavor};

const VIEWS: [&str; 6] = [
    "status",
    "method",
    "retention",
    "performance",
    "restore-points",
    "verify",
];

fn report(config: &Path, view: &str, format: &str) -> support::Output {
    zrm_ok(config, &["report", "--view", view, "--format", format])
}

#[test]
fn every_view_in_every_format_and_the_html_page_in_chromium() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let source = TestServer::start();
    source.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let config = support::config_with(dir.path(), &[("src", &source)], "retention = \"7d\"\n");
    let full = json(&zrm_ok(
        &config,
        &["backup", "--set", "src", "--format", "json"],
    ))["backup"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    source.sql("INSERT INTO app.t VALUES (2)");
    zrm_ok(&config, &["backup", "--set", "src", "--level", "1"]);
    source.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "src"]);
    zrm_ok(&config, &["verify", "--set", "src", &full]);

    for view in VIEWS {
        let text = report(&config, view, "text");
        assert!(text.stdout.contains("src"), "{view} text:\n{text}");
        let j = json(&report(&config, view, "json"));
        let rows = j["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{view} json: {j:#}");
        let csv = report(&config, view, "csv").stdout;
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        assert_eq!(
            header.split(',').count(),
            rows[0].as_object().unwrap().len(),
            "{view} csv header: {header}"
        );
        assert_eq!(lines.count(), rows.len(), "{view} csv rows");
    }
    // Facts in the views.
    let status = json(&report(&config, "status", "json"));
    assert_eq!(status["rows"][0]["status"], "ok", "{status:#}");
    assert_eq!(status["rows"][0]["level"], "1");
    let verify = json(&report(&config, "verify", "json"));
    let v = verify["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["backup"] == full.as_str())
        .unwrap()
        .clone();
    assert_eq!(v["result"], "ok", "{v:#}");
    let perf = json(&report(&config, "performance", "json"));
    assert!(perf["rows"][0]["read lock ms"].is_string());
    let points = json(&report(&config, "restore-points", "json"));
    assert_ne!(points["rows"][0]["earliest point"], "-", "{points:#}");
    assert_eq!(points["rows"][0]["gaps"], "none");
    let since = zrm_ok(
        &config,
        &[
            "report",
            "--view",
            "method",
            "--since",
            "2999-01-01 00:00:00",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&since)["rows"], serde_json::json!([]));

    // The html page: self-contained, and Chromium renders its charts.
    let page = report(&config, "performance", "html").stdout;
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("http://") || page.contains("http://www.w3.org/2000/svg"));
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let Some(chromium) = support::which("chromium").or_else(|| support::which("chromium-browser"))
    else {
        assert!(!support::ci(), "CI=true but chromium is missing");
        eprintln!("SKIP: chromium not installed: the page was not rendered");
        return;
    };
    let out = support::run(
        Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
            .arg(format!("file://{}", file.display())),
    );
    assert!(out.success(), "chromium: {out}");
    let dom = out.stdout;
    assert!(dom.contains("id=\"size-chart\""), "{dom}");
    assert!(dom.contains("class=\"size\""), "the size line is drawn");
    assert!(
        dom.contains("class=\"window\""),
        "the restore window is drawn"
    );
    assert!(dom.contains(&full), "the table lists the backups");

    // An unknown set is a usage error.
    let out = zrm(&config, &["report", "--set", "nope"]);
    assert_eq!(out.code, 2, "{out}");
}
