//! `zrm binlog analyze --format json` against `mariadb-binlog -vv`, on binary logs written by
//! real MariaDB servers in ROW, STATEMENT and MIXED format and with compressed events; and
//! against MySQL's own `mysqlbinlog` on binary logs of MySQL 9.7 with its newer events (tagged
//! GTIDs, transaction payloads, partial JSON updates, minimal row images, XA).
//!
//! Every event zrm reports is compared with the event `mariadb-binlog` prints at the same
//! place: position, end position, type, server id, time, GTID, database/table, row count and
//! statement text. mariadb-binlog prints the rows of all the rows events of one statement after
//! the last of them, so row counts are compared per statement and table (exactly when the
//! statement has one rows event, which is most of them).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use regex::Regex;
use serde_json::Value;
use support::{Flavor, ServerOptions, TestServer};

const TOOLS: &[&str] = &[
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "mariadb-binlog",
];

/// Size of the literal in the big-row statement: more than 16 MiB (one protocol packet).
const BIG: usize = 17 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[test]
fn row_format_matches_mariadb_binlog() {
    if !support::require_tools(TOOLS) {
        return;
    }
    check_format(ServerOptions::default(), Format::Row);
}

#[test]
fn statement_format_matches_mariadb_binlog() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let opts = ServerOptions {
        binlog_format: "STATEMENT",
        ..ServerOptions::default()
    };
    check_format(opts, Format::Statement);
}

#[test]
fn mixed_format_matches_mariadb_binlog() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let opts = ServerOptions {
        binlog_format: "MIXED",
        ..ServerOptions::default()
    };
    check_format(opts, Format::Mixed);
}

#[test]
fn compressed_events_match_mariadb_binlog() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let opts = ServerOptions {
        extra_args: vec![
            "--log-bin-compress".into(),
            "--log-bin-compress-min-len=10".into(),
        ],
        ..ServerOptions::default()
    };
    check_format(opts, Format::Compressed);
}

/// Regression (issue 14, item 12): `--values` showed negative TIME values with a fraction
/// wrongly (`-00:00:00.000001` as `-00:00:01.000001`, `-12:34:56.789` as `-12:34:56.734`).
/// Every precision 0 to 6, and the old TIME type, against what the server itself shows.
#[test]
fn negative_fractional_time_values_decode_as_the_server_shows_them() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let server = TestServer::start();
    let values = [
        "-00:00:00.000001",
        "-12:34:56.789",
        "-838:59:59.000000",
        "-00:00:01.5",
        "-00:00:00.01",
        "-00:00:01.01",
        "-00:00:00.999999",
        "-00:00:00.5",
        "-00:00:01",
        "-838:59:59.999999",
        "-01:00:00.000100",
        "00:00:00.000001",
        "12:34:56.789",
        "838:59:59.999999",
        "00:00:00",
    ];
    let cols: Vec<String> = (0..=6).map(|p| format!("t{p} TIME({p})")).collect();
    server.sql(&format!(
        "CREATE DATABASE zt; CREATE TABLE zt.tm (id INT PRIMARY KEY, {}) ENGINE=InnoDB",
        cols.join(", ")
    ));
    // The old TIME type (3 bytes, no fraction): what MariaDB creates without the MySQL 5.6
    // temporal format.
    server.sql(
        "SET GLOBAL mysql56_temporal_format = OFF; \
         CREATE TABLE zt.old (id INT PRIMARY KEY, t TIME) ENGINE=InnoDB; \
         SET GLOBAL mysql56_temporal_format = ON",
    );
    for (i, v) in values.iter().enumerate() {
        let lits = vec![format!("'{v}'"); 7].join(", ");
        server.sql(&format!("INSERT INTO zt.tm VALUES ({i}, {lits})"));
        server.sql(&format!(
            "INSERT INTO zt.old VALUES ({i}, '{}')",
            v.split('.').next().unwrap()
        ));
    }
    server.sql("FLUSH BINARY LOGS");

    // What the server shows for each row, column by column.
    let expected = |table: &str, columns: &str| -> BTreeMap<String, Vec<String>> {
        server
            .sql(&format!("SELECT id, {columns} FROM zt.{table} ORDER BY id"))
            .lines()
            .map(|l| {
                let mut f = l.split('\t').map(str::to_string);
                (f.next().unwrap(), f.collect())
            })
            .collect()
    };
    let all: Vec<String> = (0..=6).map(|p| format!("t{p}")).collect();
    let want_tm = expected("tm", &all.join(", "));
    let want_old = expected("old", "t");
    assert_eq!(want_tm.len(), values.len(), "{want_tm:?}");

    // What zrm decodes from the binlog.
    let mut cmd = support::zrm();
    cmd.args([
        "binlog",
        "analyze",
        "--values",
        "--format",
        "json",
        "--type",
        "write_rows",
    ])
    .args(binlog_files(&server.binlog_dir()));
    let out = support::run(&mut cmd);
    assert_no_panic(&out, "analyze --values");
    assert_eq!(out.code, 0, "{out}");
    let mut got: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in parse_ndjson(&out.stdout, Path::new("(all files)")) {
        let table = e["table"].as_str().unwrap_or("").to_string();
        for row in e["values"].as_array().into_iter().flatten() {
            let cells: Vec<String> = row["after"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().trim_matches('\'').to_string())
                .collect();
            got.insert((table.clone(), cells[0].clone()), cells[1..].to_vec());
        }
    }
    let mut errors = Vec::new();
    for (table, want) in [("tm", &want_tm), ("old", &want_old)] {
        for (id, cells) in want {
            match got.get(&(table.to_string(), id.clone())) {
                Some(g) if g == cells => {}
                other => errors.push(format!(
                    "zt.{table} id {id} (inserted as '{}'): server shows {cells:?}, zrm decoded \
                     {other:?}",
                    values[id.parse::<usize>().unwrap()]
                )),
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Runs zrm (or, with `mysql_zrm`, the `mysql-zrm` front end through a link in `dir`) and
/// requires exit code 0.
fn run_ok_in(dir: &Path, mysql_zrm: bool, args: &[&str]) -> support::Output {
    let mut cmd = if mysql_zrm {
        let link = dir.join("mysql-zrm");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
        }
        let mut c = Command::new(link);
        c.env("NO_COLOR", "1").env_remove("ZRM_CONFIG");
        c
    } else {
        support::zrm()
    };
    cmd.args(args);
    let out = support::run(&mut cmd);
    assert_no_panic(&out, &args.join(" "));
    assert_eq!(out.code, 0, "{args:?}: {out}");
    out
}

/// Regression (issue 14, item 11): `binlog analyze` printed `CREATE USER … IDENTIFIED BY
/// '<password>'` verbatim. Every output that shows statements from a binlog, with the
/// account statements MariaDB writes (it logs CREATE USER with the password as typed).
#[test]
fn passwords_in_binlog_statements_are_masked_in_every_output() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let server = TestServer::start();
    let hash = |pw: &str| server.sql(&format!("SELECT PASSWORD('{pw}')"));
    let (hash5, hash7) = (hash("Pw5-setpw"), hash("Pw7-as"));
    server.sql(
        r#"CREATE DATABASE za;
CREATE TABLE za.acct (id INT PRIMARY KEY, name VARCHAR(20), password VARCHAR(64)) ENGINE=InnoDB;
CREATE USER 'alice'@'%' IDENTIFIED BY 'Pw1-al\'ice"x', 'bob'@'localhost' IDENTIFIED BY "Pw2-bob";
ALTER USER 'alice'@'%' IDENTIFIED BY 'Pw3-alter';
GRANT SELECT ON za.* TO 'carol'@'%' IDENTIFIED BY 'Pw4-carol';
SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('Pw5-setpw');
CREATE USER erin IDENTIFIED VIA mysql_native_password USING PASSWORD('Pw6-erin');"#,
    );
    server.sql(&format!(
        "ALTER USER erin IDENTIFIED WITH mysql_native_password AS '{hash7}'"
    ));
    // Under NO_BACKSLASH_ESCAPES the first password ends with a backslash.
    server.sql(
        r#"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');
CREATE USER nb IDENTIFIED BY 'Pw8-nb\', dave IDENTIFIED BY 'Pw9-dave';"#,
    );
    // An application's password column, in a statement-format event and a row annotation.
    server.sql(
        "SET SESSION binlog_format = 'STATEMENT'; \
         INSERT INTO za.acct VALUES (1, 'app', 'x'); \
         UPDATE za.acct SET password = 'Pw10-app' WHERE id = 1; \
         SET SESSION binlog_format = 'ROW'; \
         UPDATE za.acct SET password = 'Pw11-app' WHERE id = 1",
    );
    server.sql("FLUSH BINARY LOGS");
    let secrets = [
        "Pw1-al",
        "Pw2-bob",
        "Pw3-alter",
        "Pw4-carol",
        "Pw5-setpw",
        hash5.trim_start_matches('*'),
        "Pw6-erin",
        hash7.trim_start_matches('*'),
        "Pw8-nb",
        "Pw9-dave",
        "Pw10-app",
        "Pw11-app",
    ];
    let files: Vec<String> = binlog_files(&server.binlog_dir())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let f: Vec<&str> = files.iter().map(String::as_str).collect();
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(files.iter().cloned());
        v
    };
    let dir = server.dir().to_path_buf();
    let mut outputs: Vec<(String, support::Output)> = Vec::new();
    for args in [
        with(&["binlog", "analyze"]),
        with(&["binlog", "analyze", "--format", "json"]),
        with(&["binlog", "analyze", "--format", "csv"]),
        with(&["binlog", "analyze", "--by", "transaction"]),
        with(&[
            "binlog",
            "analyze",
            "--by",
            "transaction",
            "--format",
            "json",
        ]),
        with(&[
            "binlog",
            "analyze",
            "--by",
            "transaction",
            "--format",
            "csv",
        ]),
        with(&["binlog", "analyze", "--summary"]),
        with(&["binlog", "analyze", "--summary", "--format", "json"]),
        // --grep and --match look at the statement as written.
        with(&["binlog", "analyze", "--grep", "Pw3-alter"]),
        with(&["binlog", "find", "--match", "Pw4-carol"]),
        with(&["binlog", "find", "--match", "Pw4-carol", "--format", "json"]),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_ok_in(&dir, false, &a);
        outputs.push((args[..args.len() - f.len()].join(" "), out));
    }
    let out = run_ok_in(
        &dir,
        true,
        &[
            "--action",
            "parse-binlogs",
            "--backup-set",
            "s",
            "--bin-logs",
            &files.join(","),
        ],
    );
    outputs.push(("mysql-zrm --action parse-binlogs".into(), out));

    let mut errors = Vec::new();
    for (what, out) in &outputs {
        for s in secrets {
            if out.stdout.contains(s) || out.stderr.contains(s) {
                errors.push(format!(
                    "`{what}` shows the secret {s}:\n{}",
                    clip(&out.stdout, 6000)
                ));
            }
        }
        if !out.stdout.contains("<secret>") {
            errors.push(format!(
                "`{what}` shows no <secret>:\n{}",
                clip(&out.stdout, 6000)
            ));
        }
    }
    // The statements are there, masked (the accounts and plugins are not secrets).
    let (_, text) = &outputs[0];
    for shown in [
        "CREATE USER 'alice'@'%' IDENTIFIED BY <secret>, 'bob'@'localhost' IDENTIFIED BY <secret>",
        "ALTER USER 'alice'@'%' IDENTIFIED BY <secret>",
        "TO 'carol'@'%' IDENTIFIED BY <secret>",
        "SET PASSWORD FOR 'bob'@'localhost'=<secret>",
        "IDENTIFIED VIA mysql_native_password USING PASSWORD(<secret>)",
        "IDENTIFIED WITH mysql_native_password AS <secret>",
        // The binlog does not say whether a backslash escapes: both readings are masked,
        // which here hides the second account too.
        "CREATE USER nb IDENTIFIED BY <secret>",
        "SET password = <secret> WHERE id = 1",
    ] {
        if !text.stdout.contains(shown) {
            errors.push(format!(
                "analyze does not show `{shown}`:\n{}",
                clip(&text.stdout, 6000)
            ));
        }
    }
    let (_, grep) = &outputs[8];
    let grep_lines: Vec<&str> = grep.stdout.lines().skip(1).collect();
    if grep_lines.len() != 1
        || !grep_lines[0].contains("ALTER USER 'alice'@'%' IDENTIFIED BY <secret>")
    {
        errors.push(format!(
            "--grep Pw3-alter should show the ALTER USER event only:\n{grep}"
        ));
    }
    let (_, find) = &outputs[9];
    if !find
        .stdout
        .contains("matched:        GRANT SELECT ON za.* TO 'carol'@'%' IDENTIFIED BY <secret>")
    {
        errors.push(format!("find --match shows no masked GRANT:\n{find}"));
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

/// Regression (issue 14, item 11): raw terminal escape bytes from row data and statements
/// reached the terminal. Text and CSV carry none (they are written `\xHH`, as
/// `mariadb-binlog -v` writes them in row values); JSON escapes them and keeps the value.
#[test]
fn control_bytes_from_binlogs_are_escaped_in_text_and_csv() {
    if !support::require_tools(TOOLS) {
        return;
    }
    let server = TestServer::start();
    server.sql(
        "SET NAMES utf8mb4; CREATE DATABASE za; \
         CREATE TABLE za.c (id INT PRIMARY KEY, s VARCHAR(50)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4; \
         INSERT INTO za.c VALUES (1, CONCAT('red', CHAR(27), '[31m', 'x', CHAR(7), CHAR(0), CHAR(127), 'end'))",
    );
    // Raw escape bytes in statements: a row annotation, a statement-format event, a DDL
    // naming a table, and a C1 control (U+009B, CSI).
    server.sql("SET NAMES utf8mb4; INSERT INTO za.c VALUES (2, '\x1b[31mROWSTMT\x1b[0m \u{9b}1m')");
    server.sql(
        "SET SESSION binlog_format = 'STATEMENT'; \
         INSERT INTO za.c VALUES (3, '\x1b[32mQUERYSTMT\x1b[0m\rspoof')",
    );
    server.sql("CREATE TABLE za.`t\x1b[1m` (a INT) ENGINE=InnoDB");
    server.sql("INSERT INTO za.`t\x1b[1m` VALUES (1)");
    server.sql("FLUSH BINARY LOGS");
    let files: Vec<String> = binlog_files(&server.binlog_dir())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let dir = server.dir().to_path_buf();

    // What mariadb-binlog does with the same binlog: row values with bytes below 0x20 as
    // \xHH; statements as they are (raw ESC).
    let reference = support::run(
        Command::new(support::which("mariadb-binlog").unwrap())
            .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
            .args(&files),
    );
    assert_eq!(reference.code, 0, "{reference}");
    assert!(
        reference.stdout.contains(r"@2='red\x1b[31mx\x07\x00"),
        "{reference}"
    );
    assert!(
        reference.stdout.contains("'\x1b[32mQUERYSTMT"),
        "{reference}"
    );

    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(files.iter().cloned());
        v
    };
    let raw_control = |s: &str| {
        s.chars()
            .find(|&c| (c < ' ' && c != '\n') || ('\u{7f}'..='\u{9f}').contains(&c))
    };
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for args in [
        with(&["binlog", "analyze", "--values"]),
        with(&["binlog", "analyze", "--format", "csv"]),
        with(&["binlog", "analyze", "--by", "transaction"]),
        with(&[
            "binlog",
            "analyze",
            "--by",
            "transaction",
            "--format",
            "csv",
        ]),
        with(&["binlog", "analyze", "--summary"]),
        with(&["binlog", "find", "--match", "QUERYSTMT"]),
        with(&["binlog", "analyze", "--values", "--format", "json"]),
        with(&["binlog", "analyze", "--summary", "--format", "json"]),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_ok_in(&dir, false, &a);
        if let Some(c) = raw_control(&out.stdout) {
            errors.push(format!(
                "`{}` writes the raw control character {:?}:\n{}",
                a[..a.len() - files.len()].join(" "),
                c,
                clip(&out.stdout, 6000)
            ));
        }
        texts.push(out.stdout);
    }
    let out = run_ok_in(
        &dir,
        true,
        &[
            "--action",
            "parse-binlogs",
            "--backup-set",
            "s",
            "--bin-logs",
            &files.join(","),
        ],
    );
    if let Some(c) = raw_control(&out.stdout) {
        errors.push(format!(
            "parse-binlogs writes the raw control character {c:?}:\n{out}"
        ));
    }
    let parse = out.stdout;

    // Escaped, not dropped.
    let text = &texts[0];
    for want in [
        r"after:  (1, 'red\x1b[31mx\x07\x00\x7fend')",
        r"'\x1b[31mROWSTMT\x1b[0m \xc2\x9b1m'",
        // (the text view puts a statement on one line: the carriage return is a space)
        r"'\x1b[32mQUERYSTMT\x1b[0m spoof'",
        r"za.t\x1b[1m",
    ] {
        if !text.contains(want) {
            errors.push(format!(
                "analyze --values does not show {want}:\n{}",
                clip(text, 6000)
            ));
        }
    }
    if !texts[1].contains(r"\x1b[32mQUERYSTMT\x1b[0m\x0dspoof") {
        errors.push(format!(
            "csv does not show the escaped statement:\n{}",
            texts[1]
        ));
    }
    if !texts[4].contains(r"CREATE TABLE za.`t\x1b[1m`") {
        errors.push(format!(
            "--summary's DDL timeline lacks the escaped name:\n{}",
            texts[4]
        ));
    }
    if !parse.contains(r"\x1b[32mQUERYSTMT") {
        errors.push(format!(
            "parse-binlogs does not show the escaped statement:\n{parse}"
        ));
    }
    // JSON keeps the exact text.
    let events = parse_ndjson(&texts[6], Path::new("(json)"));
    let has = |key: &str, want: &str| {
        events.iter().any(|e| match &e[key] {
            Value::String(s) => s.contains(want),
            Value::Array(rows) => rows.iter().any(|r| {
                r["after"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|c| c.as_str().is_some_and(|c| c.contains(want)))
                })
            }),
            _ => false,
        })
    };
    if !has("statement", "'\x1b[32mQUERYSTMT\x1b[0m\rspoof'") || !has("statement", "\u{9b}1m") {
        errors.push("JSON statements do not keep the control characters".into());
    }
    if !has("values", "'red\x1b[31mx\x07\x00\x7fend'") {
        errors.push(format!(
            "JSON values do not keep the control characters:\n{}",
            clip(&texts[6], 4000)
        ));
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Row,
    Statement,
    Mixed,
    Compressed,
}

fn check_format(opts: ServerOptions, flavor: Format) {
    let mut server = TestServer::start_with(opts);
    generate_workload(&mut server);

    let files = binlog_files(&server.binlog_dir());
    assert!(
        files.len() >= 3,
        "{flavor:?}: expected at least 3 binlog files, got {files:?}"
    );

    let mut errors: Vec<String> = Vec::new();
    let mut all_ref: Vec<RefEvent> = Vec::new();
    let mut all_zrm: Vec<Value> = Vec::new();
    let mut per_file_stdout: Vec<String> = Vec::new();
    // mariadb-binlog first: every event it prints must be one the mapping table knows.
    let references: Vec<Vec<RefEvent>> = files.iter().map(|f| mariadb_binlog_events(f)).collect();
    for e in references.iter().flatten() {
        expected_types(&e.kind);
    }
    for (file, reference) in files.iter().zip(references) {
        let (stdout, events) = zrm_events(file);
        if let Err(e) = compare_file(file, &reference, &events) {
            errors.push(e);
        }
        per_file_stdout.push(stdout);
        all_ref.extend(reference);
        all_zrm.extend(events);
    }

    // Several files in one call: the same events, file by file, in the order given.
    let mut cmd = support::zrm();
    cmd.args(["binlog", "analyze", "--format", "json"])
        .args(&files);
    let out = support::run(&mut cmd);
    assert_no_panic(&out, "analyze of all files");
    if out.code != 0 {
        errors.push(format!(
            "zrm binlog analyze of all files at once failed: {out}"
        ));
    } else {
        let expected: Vec<&str> = per_file_stdout
            .iter()
            .flat_map(|s| s.lines().filter(|l| !l.trim().is_empty()))
            .collect();
        let got: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if expected != got {
            let i = expected
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.len().min(got.len()));
            errors.push(format!(
                "analyzing all {} files at once differs from analyzing them one by one \
                 ({} vs {} lines); first difference at line {i}:\n  one by one: {}\n  all at once: {}",
                files.len(),
                expected.len(),
                got.len(),
                expected.get(i).map_or("(none)".into(), |l| clip(l, 600)),
                got.get(i).map_or("(none)".into(), |l| clip(l, 600)),
            ));
        }
    }

    // A zstd-compressed copy of the largest file gives the same events.
    let largest = files
        .iter()
        .max_by_key(|f| fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .unwrap()
        .clone();
    if let Err(e) = compare_zstd_copy(&server, &largest) {
        errors.push(e);
    }

    // Totals: the workload must have produced something worth comparing.
    let count = |t: &str| all_zrm.iter().filter(|e| e["type"] == t).count();
    let mut totals = String::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for e in &all_zrm {
        *types
            .entry(e["type"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let _ = write!(totals, "{types:?}");
    eprintln!(
        "{flavor:?}: {} files, {} events compared with mariadb-binlog: {totals}",
        files.len(),
        all_zrm.len()
    );
    // The rolled back InnoDB transaction left nothing in the binlog.
    if let Some(e) = all_zrm.iter().find(|e| {
        e["statement"]
            .as_str()
            .is_some_and(|s| s.contains("rolled back"))
    }) {
        errors.push(format!(
            "{flavor:?}: an event of the rolled back transaction: {}",
            show_zrm(e)
        ));
    }
    let mut need = |cond: bool, what: &str| {
        if !cond {
            errors.push(format!(
                "{flavor:?}: expected {what}; event types seen by zrm: {totals}"
            ));
        }
    };
    need(all_zrm.len() > 50, "more than 50 events");
    need(
        all_ref.len() > 50,
        "more than 50 events from mariadb-binlog",
    );
    for t in [
        "Format_desc",
        "Gtid_list",
        "Binlog_checkpoint",
        "Gtid",
        "Rotate",
        "Stop",
    ] {
        need(count(t) > 0, &format!("a {t} event"));
    }
    need(count("Xid") > 5, "more than 5 Xid events");
    need(count("XA_prepare") > 0, "an XA_prepare event");
    need(
        all_ref.iter().any(|e| !e.header.contains(" CRC32 0x")),
        "events without a checksum (binlog_checksum=NONE)",
    );
    need(
        all_zrm.iter().any(|e| e["time"] == "2001-09-09T01:46:40Z"),
        "an event at 2001-09-09T01:46:40Z (SET timestamp = 1000000000)",
    );
    if !all_ref
        .iter()
        .any(|e| e.kind.starts_with("GTID ") && e.kind.contains("cid="))
    {
        eprintln!(
            "{flavor:?}: note: no GTID event with a commit id (cid=): group commit did not happen"
        );
    }
    let big = all_zrm
        .iter()
        .filter(|e| {
            let size = e["end_pos"].as_u64().unwrap_or(0) - e["pos"].as_u64().unwrap_or(0);
            size > BIG as u64
        })
        .count();
    need(big > 0, "an event larger than 17 MiB (the big row)");
    let rows_types = |kind: &str| {
        all_zrm
            .iter()
            .filter(|e| e["type"].as_str().unwrap_or("").starts_with(kind))
            .count()
    };
    match flavor {
        Format::Row | Format::Compressed => {
            need(count("Table_map") > 5, "Table_map events");
            need(count("Annotate_rows") > 5, "Annotate_rows events");
            need(rows_types("Write_rows") > 0, "Write_rows events");
            need(rows_types("Update_rows") > 0, "Update_rows events");
            need(rows_types("Delete_rows") > 0, "Delete_rows events");
            // The big row: one rows event of the table `big` with exactly one row.
            let big_row = all_zrm.iter().any(|e| {
                e["table"] == "big"
                    && e["type"].as_str().unwrap_or("").starts_with("Write_rows")
                    && e["rows"] == 1
            });
            need(big_row, "a Write_rows event for table `big` with rows == 1");
            let many_rows = all_zrm.iter().any(|e| e["rows"].as_u64().unwrap_or(0) > 50);
            need(many_rows, "a rows event with more than 50 rows");
            if flavor == Format::Row {
                let big_rows_event = all_zrm.iter().any(|e| {
                    e["type"] == "Write_rows_v1"
                        && e["rows"] == 1
                        && e["end_pos"].as_u64().unwrap_or(0) - e["pos"].as_u64().unwrap_or(0)
                            > BIG as u64
                });
                need(
                    big_rows_event,
                    "a Write_rows_v1 event larger than 17 MiB with rows == 1",
                );
            }
        }
        Format::Statement => {
            need(count("Intvar") > 0, "an Intvar event");
            need(count("RAND") > 0, "a RAND event");
            need(count("User var") > 0, "a User var event");
            need(count("Begin_load_query") > 0, "a Begin_load_query event");
            need(
                count("Execute_load_query") > 0,
                "an Execute_load_query event",
            );
            need(count("Table_map") == 0, "no Table_map events");
        }
        Format::Mixed => {
            need(count("RAND") > 0, "a RAND event");
            need(count("User var") > 0, "a User var event");
            need(
                count("Table_map") > 0,
                "Table_map events (unsafe statements)",
            );
        }
    }
    if flavor == Format::Compressed {
        need(count("Query_compressed") > 0, "Query_compressed events");
        let compressed_rows = all_zrm
            .iter()
            .filter(|e| e["type"].as_str().unwrap_or("").contains("_compressed"))
            .filter(|e| e["type"] != "Query_compressed")
            .count();
        need(compressed_rows > 0, "compressed rows events");
        for t in ["Write_rows", "Update_rows", "Delete_rows"] {
            let n = all_zrm
                .iter()
                .filter(|e| {
                    let ty = e["type"].as_str().unwrap_or("");
                    ty.starts_with(t) && ty.contains("compressed")
                })
                .count();
            need(n > 0, &format!("a compressed {t} event"));
        }
    }

    assert!(
        errors.is_empty(),
        "{flavor:?}: {} problem(s):\n\n{}",
        errors.len(),
        errors.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// MySQL 9.7 against mysqlbinlog
// ---------------------------------------------------------------------------------------------

/// zrm's type for the way MySQL's mysqlbinlog names an event in its header.
fn mysql_expected_type(kind: &str) -> &'static str {
    const MAP: &[(&str, &str)] = &[
        ("Start: binlog", "Format_desc"),
        ("Previous-GTIDs", "Previous_gtids"),
        ("GTID", "Gtid"),
        ("Anonymous_GTID", "Anonymous_Gtid"),
        ("Query", "Query"),
        ("Table_map:", "Table_map"),
        ("Write_rows:", "Write_rows"),
        ("Update_rows_partial:", "Update_rows_partial"),
        ("Update_rows:", "Update_rows"),
        ("Delete_rows:", "Delete_rows"),
        ("Xid = ", "Xid"),
        ("XA PREPARE", "XA_prepare"),
        ("Rotate to", "Rotate"),
        ("Stop", "Stop"),
        ("Transaction_Payload", "Transaction_payload"),
        ("Rows_query", "Rows_query"),
        ("Intvar", "Intvar"),
        ("Rand", "RAND"),
        ("User_var", "User var"),
    ];
    MAP.iter()
        .find(|(prefix, _)| kind.starts_with(prefix))
        .map(|(_, name)| *name)
        .unwrap_or_else(|| panic!("the test's mapping table lacks mysqlbinlog's {kind:?}"))
}

/// MySQL 9.7's events, every one at the position, end position and with the type, server id,
/// time, GTID (tagged ones too) and row count that mysqlbinlog prints; the events inside a
/// compressed transaction payload where mysqlbinlog puts them (at the payload's end).
#[test]
fn mysql_events_match_mysqlbinlog() {
    if !support::available(Flavor::MySQL) {
        return;
    }
    let mut server = TestServer::of(Flavor::MySQL);
    let steps = [
        "CREATE DATABASE za",
        "CREATE TABLE za.t (id INT PRIMARY KEY AUTO_INCREMENT, n INT, s VARCHAR(100), j JSON)",
        "INSERT INTO za.t (n, s, j) VALUES (1, 'one', '{\"a\": 1, \"b\": \"xxxxxxxxxxxxxxxxxxxxxxxx\"}'), \
         (2, 'two', '[1, 2]'), (3, 'three', NULL)",
        "BEGIN; UPDATE za.t SET s = 'uno' WHERE id = 1; DELETE FROM za.t WHERE id = 3; \
         INSERT INTO za.t (n, s) VALUES (4, 'four'); COMMIT",
        // Partial JSON updates in minimal row images.
        "SET SESSION binlog_row_value_options = 'PARTIAL_JSON'; SET SESSION binlog_row_image = 'MINIMAL'; \
         UPDATE za.t SET j = JSON_SET(j, '$.a', 2) WHERE id = 1; \
         UPDATE za.t SET j = JSON_REPLACE(j, '$[0]', 7), n = 20 WHERE id = 2",
        "FLUSH BINARY LOGS",
        // Compressed transactions (TRANSACTION_PAYLOAD), one of them with a partial update.
        "SET SESSION binlog_transaction_compression = ON; \
         INSERT INTO za.t (n, s) SELECT n + 100, REPEAT('c', 90) FROM za.t; \
         SET SESSION binlog_row_value_options = 'PARTIAL_JSON'; \
         UPDATE za.t SET j = JSON_SET(j, '$.c', 'compressed') WHERE id = 1",
        // Tagged GTIDs (MySQL 8.3+), on a DML and a DDL transaction.
        "SET GTID_NEXT = 'AUTOMATIC:audit'; INSERT INTO za.t (n, s) VALUES (5, 'tagged'); \
         SET GTID_NEXT = 'AUTOMATIC'",
        "SET GTID_NEXT = 'AUTOMATIC:audit'; CREATE TABLE za.tagged (a INT PRIMARY KEY); \
         SET GTID_NEXT = 'AUTOMATIC'",
        // The next file's Previous_gtids holds a tag.
        "FLUSH BINARY LOGS",
        "XA START 'x1'; INSERT INTO za.t (n, s) VALUES (6, 'xa'); XA END 'x1'; XA PREPARE 'x1'; XA COMMIT 'x1'",
        "XA START 'x2'; INSERT INTO za.t (n, s) VALUES (7, 'xa'); XA END 'x2'; XA PREPARE 'x2'; XA ROLLBACK 'x2'",
        "SET SESSION binlog_rows_query_log_events = ON; INSERT INTO za.t (n, s) VALUES (8, 'with its query')",
        "SET timestamp = 1000000000; INSERT INTO za.t (n, s) VALUES (9, 'old time')",
        "CREATE TABLE za.m (a INT) ENGINE=MyISAM",
        "INSERT INTO za.m VALUES (1), (2)",
        "SET GLOBAL binlog_checksum = 'NONE'",
        "INSERT INTO za.t (n, s) VALUES (10, 'no checksum')",
        "SET GLOBAL binlog_checksum = 'CRC32'",
    ];
    for sql in steps {
        server.sql(sql);
    }
    // A clean restart writes a Stop event.
    server.restart();
    server.sql("INSERT INTO za.t (n, s) VALUES (11, 'after restart'); FLUSH BINARY LOGS");

    let mysqlbinlog = Flavor::MySQL.binlog_program();
    let files = binlog_files(&server.binlog_dir());
    assert!(files.len() >= 5, "{files:?}");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in &files {
        let out = support::run(
            Command::new(&mysqlbinlog)
                .env("TZ", "UTC")
                .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
                .arg(file)
                .stdin(Stdio::null()),
        );
        assert_eq!(out.code, 0, "mysqlbinlog {}: {out}", file.display());
        let reference = parse_mariadb_binlog(&out.stdout, file);
        let (_, events) = zrm_events(file);
        if reference.len() != events.len() {
            problems.push(format!(
                "{}: mysqlbinlog prints {} events, zrm {}",
                file.display(),
                reference.len(),
                events.len()
            ));
        }
        // The GTID mysqlbinlog sets for each transaction, by the position of its GTID event.
        let mut gtid = None;
        for (i, (r, z)) in reference.iter().zip(&events).enumerate() {
            let ty = mysql_expected_type(&r.kind);
            *seen.entry(ty.to_string()).or_default() += 1;
            if ty == "Gtid" {
                gtid = r.lines.iter().find_map(|l| {
                    l.strip_prefix("SET @@SESSION.GTID_NEXT= '")
                        .and_then(|g| g.split('\'').next())
                        .map(str::to_string)
                });
            }
            let mut differ = Vec::new();
            if z["pos"].as_u64() != Some(r.pos) {
                differ.push(format!("pos {} / {}", r.pos, z["pos"]));
            }
            if z["end_pos"].as_u64() != Some(r.end_pos) {
                differ.push(format!("end_pos {} / {}", r.end_pos, z["end_pos"]));
            }
            if z["type"] != ty {
                differ.push(format!("type {ty} / {}", z["type"]));
            }
            if z["server_id"].as_u64() != Some(r.server_id) {
                differ.push(format!("server_id {} / {}", r.server_id, z["server_id"]));
            }
            let hms = format!("{:02}:{:02}:{:02}", r.hms.0, r.hms.1, r.hms.2);
            if !z["time"].as_str().unwrap_or("").contains(&hms) {
                differ.push(format!("time {} {hms} / {}", r.date, z["time"]));
            }
            let in_trx = !["Format_desc", "Previous_gtids", "Rotate", "Stop"].contains(&ty);
            if in_trx && z["gtid"].as_str() != gtid.as_deref() {
                differ.push(format!("gtid {gtid:?} / {}", z["gtid"]));
            }
            if ty.contains("_rows") && z["rows"].as_u64() != Some(r.row_lines()) {
                differ.push(format!("rows {} / {}", r.row_lines(), z["rows"]));
            }
            if !differ.is_empty() && problems.len() < 10 {
                problems.push(format!(
                    "{} event #{i}: mysqlbinlog / zrm differ: {}\n{}\n{}",
                    file.display(),
                    differ.join(", "),
                    r.show(),
                    show_zrm(z)
                ));
            }
        }
    }
    for t in [
        "Format_desc",
        "Previous_gtids",
        "Gtid",
        "Transaction_payload",
        "Update_rows_partial",
        "XA_prepare",
        "Rows_query",
        "Xid",
        "Rotate",
        "Stop",
    ] {
        if !seen.contains_key(t) {
            problems.push(format!("no {t} event in the workload: {seen:?}"));
        }
    }
    // The tagged GTIDs are read as MySQL writes them.
    let all: Vec<Value> = files.iter().flat_map(|f| zrm_events(f).1).collect();
    let uuid = server.server_uuid().unwrap();
    let tagged: BTreeSet<&str> = all
        .iter()
        .filter_map(|e| e["gtid"].as_str())
        .filter(|g| g.contains(":audit:"))
        .collect();
    assert_eq!(
        tagged,
        [format!("{uuid}:audit:1"), format!("{uuid}:audit:2")]
            .iter()
            .map(String::as_str)
            .collect(),
        "{problems:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// Servers older than binlog checksums
// ---------------------------------------------------------------------------------------------

/// A binlog of `binlog_checksum = NONE` rewritten as a server older than checksums wrote it
/// (MySQL 5.0 to 5.6.0, MariaDB 5.1/5.2): its format description names `version` and ends
/// without the algorithm byte and CRC32, so every later event ends 5 bytes earlier.
fn as_pre_checksum(bytes: &[u8], version: &str) -> Vec<u8> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let mut out = bytes[..4].to_vec();
    let mut pos = 4;
    let mut first = true;
    while pos < bytes.len() {
        let size = u32_at(bytes, pos + 9) as usize;
        let mut ev = bytes[pos..pos + size].to_vec();
        if first {
            let mut v = version.as_bytes().to_vec();
            v.resize(50, 0);
            ev.splice(21..71, v);
            ev.truncate(ev.len() - 5);
            let len = ev.len() as u32;
            ev[9..13].copy_from_slice(&len.to_le_bytes());
            ev[13..17].copy_from_slice(&(4 + len).to_le_bytes());
            first = false;
        } else {
            let end = u32_at(&ev, 13);
            if end != 0 {
                ev[13..17].copy_from_slice(&(end - 5).to_le_bytes());
            }
        }
        out.extend(ev);
        pos += size;
    }
    out
}

flavor_tests! {
/// Binlogs of MySQL before 5.6.1 and MariaDB before 5.3 have no checksum algorithm in their
/// format description: zrm refused them as "corrupt at offset 4: CRC32 mismatch in a
/// Format_desc event", while the server's own binlog tool reads them. Every event at the
/// position the flavor's tool prints, and a damaged version is still caught.
fn pre_checksum_format_description_is_read(flavor: Flavor) {
    let server = TestServer::start_with(ServerOptions {
        flavor,
        extra_args: vec!["--binlog-checksum=NONE".into()],
        ..Default::default()
    });
    server.sql(
        "CREATE DATABASE old; CREATE TABLE old.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO old.t VALUES (1, 'a'), (2, 'b'); UPDATE old.t SET v = 'c' WHERE id = 1; \
         BEGIN; DELETE FROM old.t WHERE id = 2; INSERT INTO old.t VALUES (3, 'd'); COMMIT; \
         FLUSH BINARY LOGS",
    );
    let original = fs::read(server.binlog_dir().join("mysql-bin.000001")).unwrap();
    let version = match flavor {
        Flavor::MariaDB => "5.2.14-MariaDB-log",
        Flavor::MySQL => "5.5.62-log",
    };
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-bin.000001");
    fs::write(&old, as_pre_checksum(&original, version)).unwrap();

    let out = support::run(
        Command::new(flavor.binlog_program())
            .env("TZ", "UTC")
            .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
            .arg(&old)
            .stdin(Stdio::null()),
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains(version), "{out}");
    let reference = parse_mariadb_binlog(&out.stdout, &old);
    let (_, events) = zrm_events(&old);
    let (_, modern) = zrm_events(&server.binlog_dir().join("mysql-bin.000001"));
    assert!(reference.len() > 10, "{}", out.stdout);
    assert_eq!(events.len(), reference.len(), "{}", out.stdout);
    assert_eq!(events.len(), modern.len());
    for ((r, z), m) in reference.iter().zip(&events).zip(&modern) {
        let ty = match flavor {
            Flavor::MariaDB => expected_types(&r.kind)[0].to_string(),
            Flavor::MySQL => mysql_expected_type(&r.kind).to_string(),
        };
        let types_ok = match flavor {
            Flavor::MariaDB => expected_types(&r.kind).contains(&z["type"].as_str().unwrap_or("")),
            Flavor::MySQL => z["type"] == ty,
        };
        assert!(
            z["pos"].as_u64() == Some(r.pos) && z["end_pos"].as_u64() == Some(r.end_pos) && types_ok,
            "{}\n{}",
            r.show(),
            show_zrm(z)
        );
        if r.pos > 4 {
            // The same event as in the original, 5 bytes earlier.
            assert_eq!(m["pos"].as_u64(), Some(r.pos + 5), "{}", show_zrm(m));
            for k in ["type", "gtid", "database", "table", "rows", "statement"] {
                assert_eq!(z[k], m[k], "{k}: {}", show_zrm(z));
            }
        }
    }

    // A checksummed file whose version is damaged into an old one is refused, not misread.
    server.sql(
        "SET GLOBAL binlog_checksum = 'CRC32'; INSERT INTO old.t VALUES (4, 'e'); FLUSH BINARY LOGS",
    );
    let files = binlog_files(&server.binlog_dir());
    let mut damaged = fs::read(&files[files.len() - 2]).unwrap();
    let at = 4 + 19 + 2;
    damaged[at..at + 10].copy_from_slice(b"5.5.62-log");
    damaged[at + 10] = 0;
    let bad = dir.path().join("bad-bin.000001");
    fs::write(&bad, &damaged).unwrap();
    let mut cmd = support::zrm();
    cmd.args(["binlog", "analyze"]).arg(&bad);
    let out = support::run(&mut cmd);
    assert_no_panic(&out, "damaged version");
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("version is damaged"), "{out}");
}
}

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

const TYPES_TABLE: &str = "CREATE TABLE za.types (
  id INT PRIMARY KEY AUTO_INCREMENT,
  i INT, bu BIGINT UNSIGNED, dc DECIMAL(30,10), fl FLOAT, db DOUBLE,
  d DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR,
  c CHAR(10), vc VARCHAR(300) CHARACTER SET utf8mb4, bl BLOB, tx TEXT, js JSON,
  en ENUM('a','b','c'), st SET('x','y','z'), bt BIT(13), g GEOMETRY NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const TYPES_ROWS: &str = "SET NAMES utf8mb4;
INSERT INTO za.types (i, bu, dc, fl, db, d, dt, ts, tm, yr, c, vc, bl, tx, js, en, st, bt, g) VALUES
 (-2147483648, 18446744073709551615, -12345678901234567890.0123456789, 3.25, -2.718281828459045,
  '2026-11-26', '2026-11-26 10:19:27.123456', '2026-11-26 10:19:27.123', '-838:59:59.99', 2155,
  'char', 'héllo wörld 😀 ✓', x'00ff10', 'multi\\nline ''quoted'' text', '{\"a\": [1, 2.5, null, \"x\"]}',
  'b', 'x,z', b'1010101010101', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'));
INSERT INTO za.types (i) VALUES (NULL);
INSERT INTO za.types (i, bu, dc, fl, db, d, dt, ts, tm, yr, c, vc, bl, tx, js, en, st, bt, g) VALUES
 (0, 0, 0, 0, 0, '1000-01-01', '1000-01-01 00:00:00', '2000-01-01 00:00:00', '00:00:00', 1901,
  '', '', '', '', '[]', 'a', '', b'0', ST_GeomFromText('POINT(1 2)')),
 (2147483647, 1, 0.0000000001, -1.5e-10, 1e300, '9999-12-31', '9999-12-31 23:59:59.999999',
  '2038-01-19 03:14:07.999', '838:59:59.99', 2000, 'z', REPEAT('ü', 300), REPEAT(x'ab', 1000),
  REPEAT('t', 70000 DIV 2), '{\"nested\": {\"k\": true}}', 'c', 'x,y,z', b'1111111111111', NULL)";

/// Writes binlogs with every kind of event a DBA meets; leaves 7 files, the last one
/// still in use.
fn generate_workload(server: &mut TestServer) {
    let csv = server.dir().join("load.csv");
    fs::write(&csv, "1,alpha\n2,beta\n3,\"gamma, delta\"\n4,\\N\n").unwrap();

    let steps: Vec<String> = vec![
        // DDL
        "CREATE DATABASE za CHARACTER SET utf8mb4".into(),
        "CREATE TABLE za.t (id INT PRIMARY KEY AUTO_INCREMENT, n INT, s VARCHAR(100)) ENGINE=InnoDB"
            .into(),
        "ALTER TABLE za.t ADD COLUMN note VARCHAR(20) NULL".into(),
        // single and multi-row DML
        "INSERT INTO za.t (n, s) VALUES (1, 'one')".into(),
        "INSERT INTO za.t (n, s) VALUES (2, 'two'), (3, 'three'), (4, 'four'), (5, NULL)".into(),
        "UPDATE za.t SET s = 'uno' WHERE id = 1".into(),
        "UPDATE za.t\n   SET n = n * 10,\n       note = 'multi'\n WHERE id <= 3".into(),
        "DELETE FROM za.t WHERE id = 5".into(),
        "DELETE FROM za.t WHERE id IN (3, 4)".into(),
        // transactions
        "BEGIN; INSERT INTO za.t (n, s) VALUES (6, 'six'); UPDATE za.t SET n = 66 WHERE n = 6; \
         INSERT INTO za.t (n, s) VALUES (7, 'seven'), (8, 'eight'); DELETE FROM za.t WHERE n = 8; COMMIT"
            .into(),
        "BEGIN; INSERT INTO za.t (n, s) VALUES (99, 'rolled back'); ROLLBACK".into(),
        // MyISAM
        "CREATE TABLE za.m (a INT, b VARCHAR(20)) ENGINE=MyISAM".into(),
        "INSERT INTO za.m VALUES (1, 'm1'), (2, 'm2'), (3, 'm3')".into(),
        "UPDATE za.m SET b = 'mm' WHERE a >= 2".into(),
        // a rolled back transaction that also wrote to MyISAM (which cannot roll back)
        "BEGIN; INSERT INTO za.t (n, s) VALUES (100, 'mixed'); INSERT INTO za.m VALUES (4, 'kept'); \
         ROLLBACK"
            .into(),
        "FLUSH BINARY LOGS".into(),
        // many column types, with NULLs
        TYPES_TABLE.into(),
        TYPES_ROWS.into(),
        "UPDATE za.types SET vc = CONCAT(vc, '!'), js = '{\"u\": 1}', g = NULL WHERE id <= 2".into(),
        "DELETE FROM za.types WHERE id = 2".into(),
        // temporary tables
        "CREATE TEMPORARY TABLE za.tmp (a INT, b VARCHAR(20)); INSERT INTO za.tmp VALUES (10, 'tmp1'), (11, 'tmp2'); \
         INSERT INTO za.t (n, s) SELECT a, b FROM za.tmp; DROP TEMPORARY TABLE za.tmp"
            .into(),
        // user variables, RAND(), NOW(), LAST_INSERT_ID()
        "SET @x = 5, @s = 'user var'; INSERT INTO za.t (n, s) VALUES (@x, @s)".into(),
        "CREATE TABLE za.r (id INT PRIMARY KEY AUTO_INCREMENT, f DOUBLE, t DATETIME, u BIGINT) ENGINE=InnoDB"
            .into(),
        "INSERT INTO za.r (f, t) VALUES (RAND(), NOW()); INSERT INTO za.r (f, t, u) VALUES (RAND(7), NOW(), LAST_INSERT_ID())"
            .into(),
        // LOAD DATA INFILE
        "CREATE TABLE za.l (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB".into(),
        format!(
            "LOAD DATA INFILE {} INTO TABLE za.l FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'",
            support::quote(&csv.display().to_string())
        ),
        // statements that need several rows events, and a multi-table update
        "INSERT INTO za.t (n, s) SELECT seq, REPEAT('r', 40) FROM za.seq_1_to_1000".into(),
        "UPDATE za.t JOIN za.m ON za.t.n = za.m.a SET za.t.s = 'joined', za.m.b = 'joined'".into(),
        "UPDATE za.t SET s = REPEAT('u', 60) WHERE n BETWEEN 100 AND 400".into(),
        "DELETE FROM za.t WHERE n > 500 AND n <= 1000".into(),
        "CREATE TABLE za.gone (a INT) ENGINE=InnoDB".into(),
        "DROP TABLE za.gone".into(),
        // row images without all columns, and full Table_map metadata
        "SET SESSION binlog_row_image = 'MINIMAL'; \
         UPDATE za.types SET i = 7, vc = 'minimal' WHERE id IN (1, 3, 4); \
         DELETE FROM za.types WHERE id = 4"
            .into(),
        "SET SESSION binlog_row_image = 'NOBLOB'; UPDATE za.types SET bl = x'0102', i = 5 WHERE id IN (1, 3)"
            .into(),
        "SET GLOBAL binlog_row_metadata = 'FULL'".into(),
        "INSERT INTO za.types (i, vc, en, st, bt) VALUES (1, 'full metadata', 'a', 'y', b'1')".into(),
        wide_table(),
        wide_rows(),
        "UPDATE za.wide SET c2 = NULL, c69 = 69 WHERE c1 <= 2".into(),
        "DELETE FROM za.wide WHERE c1 = 3".into(),
        // a trigger: rows events of two tables in one statement
        "CREATE TABLE za.audit (id INT AUTO_INCREMENT PRIMARY KEY, tid INT, what VARCHAR(20)) ENGINE=InnoDB"
            .into(),
        "CREATE TRIGGER za.t_ai AFTER INSERT ON za.t FOR EACH ROW \
         INSERT INTO za.audit (tid, what) VALUES (NEW.id, 'insert')"
            .into(),
        "INSERT INTO za.t (n, s) VALUES (3000, 'trig'), (3001, 'trig')".into(),
        "DROP TRIGGER za.t_ai".into(),
        // an insert that also updates
        "INSERT INTO za.l VALUES (1, 'dup'), (100, 'new') ON DUPLICATE KEY UPDATE v = VALUES(v)".into(),
        // names beyond ASCII
        "SET NAMES utf8mb4; CREATE TABLE za.`café` (id INT PRIMARY KEY, `naïve` VARCHAR(10)) \
         DEFAULT CHARSET=utf8mb4; INSERT INTO za.`café` VALUES (1, 'crème'), (2, NULL)"
            .into(),
        // types from plugins, system versioning, sequences
        "CREATE TABLE za.nt (u UUID, i6 INET6, i4 INET4, v INT) ENGINE=InnoDB; \
         INSERT INTO za.nt VALUES ('123e4567-e89b-12d3-a456-426614174000', '2001:db8::1', '10.0.0.1', 1), \
         (NULL, NULL, NULL, 2); UPDATE za.nt SET i4 = '192.168.0.1' WHERE v = 1"
            .into(),
        "CREATE TABLE za.sv (a INT) ENGINE=InnoDB WITH SYSTEM VERSIONING; INSERT INTO za.sv VALUES (1), (2); \
         UPDATE za.sv SET a = a + 10; DELETE FROM za.sv WHERE a = 12"
            .into(),
        // (a sequence can only be logged in row format)
        if server.options().binlog_format == "STATEMENT" {
            "CREATE SEQUENCE za.sq".into()
        } else {
            "CREATE SEQUENCE za.sq; SELECT NEXTVAL(za.sq); SELECT NEXTVAL(za.sq)".into()
        },
        "SET GLOBAL binlog_row_metadata = 'NO_LOG'".into(),
        // XA transactions (XA PREPARE is an event of its own), committed and rolled back
        "XA START 'zx'; INSERT INTO za.t (n, s) VALUES (4000, 'xa'); XA END 'zx'; XA PREPARE 'zx'; \
         XA COMMIT 'zx'"
            .into(),
        "XA START 'zy'; INSERT INTO za.t (n, s) VALUES (4001, 'xa'); XA END 'zy'; XA PREPARE 'zy'; \
         XA ROLLBACK 'zy'"
            .into(),
        // savepoints
        "BEGIN; INSERT INTO za.t (n, s) VALUES (4100, 'sp'); SAVEPOINT s1; \
         INSERT INTO za.t (n, s) VALUES (4101, 'undone'); ROLLBACK TO SAVEPOINT s1; \
         INSERT INTO za.t (n, s) VALUES (4102, 'sp'); COMMIT"
            .into(),
        // an event time set by the client
        "SET timestamp = 1000000000; INSERT INTO za.t (n, s) VALUES (5000, 'old time')".into(),
        // events without checksums (each change of binlog_checksum starts a new file)
        "SET GLOBAL binlog_checksum = 'NONE'".into(),
        "INSERT INTO za.t (n, s) VALUES (6000, 'no checksum'), (6001, 'no checksum')".into(),
        "UPDATE za.t SET s = 'nocrc' WHERE n >= 6000".into(),
        "SET GLOBAL binlog_checksum = 'CRC32'".into(),
        "FLUSH BINARY LOGS".into(),
        // the big row (below)
        "SET GLOBAL max_allowed_packet = 64 * 1024 * 1024".into(),
        "CREATE TABLE za.big (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB".into(),
    ];
    for sql in &steps {
        server.sql(sql);
    }

    // Group commit: two transactions committed together get a commit id in their GTID event.
    server.sql("SET GLOBAL binlog_commit_wait_count = 2, binlog_commit_wait_usec = 3000000");
    std::thread::scope(|s| {
        for k in 0..2 {
            let server = &*server;
            s.spawn(move || {
                server.sql(&format!(
                    "INSERT INTO za.t (n, s) VALUES ({}, 'group commit')",
                    7000 + k
                ))
            });
        }
    });
    server.sql("SET GLOBAL binlog_commit_wait_count = 0, binlog_commit_wait_usec = 100000");

    // A row larger than 16 MiB, sent as a literal (so that a statement-format binlog holds a
    // big Query event too), over a new connection that sees the new max_allowed_packet.
    let big_sql = server.dir().join("big.sql");
    let mut body = String::with_capacity(BIG + 100);
    body.push_str("INSERT INTO za.big VALUES (1, '");
    body.push_str(&"x".repeat(BIG));
    body.push_str("');\n");
    fs::write(&big_sql, body).unwrap();
    let mut cmd = server.mariadb();
    cmd.arg("--max-allowed-packet=64M")
        .stdin(fs::File::open(&big_sql).unwrap());
    let out = support::run(&mut cmd);
    assert!(out.success(), "the big insert failed: {out}");
    fs::remove_file(&big_sql).unwrap();
    assert_eq!(
        server.sql("SELECT LENGTH(b) FROM za.big WHERE id = 1"),
        BIG.to_string()
    );
    server.sql("UPDATE za.big SET id = 2 WHERE id = 1");

    // A clean restart writes a Stop event; then a few events into a file left in use.
    server.restart();
    server.sql("INSERT INTO za.t (n, s) VALUES (2000, 'after restart')");
    server.sql("FLUSH BINARY LOGS");
    server.sql("DELETE FROM za.t WHERE n = 2000");
    server.sql("DROP DATABASE za");
}

/// A table of 70 columns (null bitmaps of several bytes).
fn wide_table() -> String {
    let cols: Vec<String> = (1..=70).map(|i| format!("c{i} INT")).collect();
    format!("CREATE TABLE za.wide ({}) ENGINE=InnoDB", cols.join(", "))
}

/// Rows of za.wide with different NULL patterns.
fn wide_rows() -> String {
    let rows: Vec<String> = (1..=4)
        .map(|r| {
            let vals: Vec<String> = (1..=70)
                .map(|c| {
                    if c > 1 && (c + r) % (r + 1) == 0 {
                        "NULL".to_string()
                    } else {
                        (c * 1000 + r).to_string()
                    }
                })
                .collect();
            let mut vals = vals;
            vals[0] = r.to_string();
            format!("({})", vals.join(", "))
        })
        .collect();
    format!("INSERT INTO za.wide VALUES {}", rows.join(", "))
}

/// The binlog files of a server (not the index), in order.
fn binlog_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("mysql-bin.") && !name.ends_with(".index")
        })
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// mariadb-binlog's side
// ---------------------------------------------------------------------------------------------

/// One event as `mariadb-binlog -vv --base64-output=decode-rows` prints it.
#[derive(Debug, Clone)]
struct RefEvent {
    pos: u64,
    end_pos: u64,
    server_id: u64,
    /// `yymmdd`, hour, minute, second (UTC: mariadb-binlog runs with TZ=UTC).
    date: String,
    hms: (u32, u32, u32),
    /// The header text after the checksum, e.g. "Query\tthread_id=…" or "Xid = 12".
    kind: String,
    /// The header line itself, for messages.
    header: String,
    /// Lines printed after the header, up to the next event.
    lines: Vec<String>,
}

impl RefEvent {
    fn show(&self) -> String {
        let mut s = format!("# at {}\n{}\n", self.pos, clip(&self.header, 300));
        for l in self.lines.iter().take(14) {
            s.push_str(&clip(l, 300));
            s.push('\n');
        }
        if self.lines.len() > 14 {
            let _ = writeln!(s, "… ({} more lines)", self.lines.len() - 14);
        }
        s
    }

    fn row_lines(&self) -> u64 {
        self.lines
            .iter()
            .filter(|l| {
                l.starts_with("### INSERT INTO ")
                    || l.starts_with("### UPDATE ")
                    || l.starts_with("### DELETE FROM ")
            })
            .count() as u64
    }

    /// The last line of a Query event's statement (the line before the closing `/*!*/;`).
    fn last_statement_line(&self) -> Option<&str> {
        let end = self.lines.iter().rposition(|l| l.trim() == "/*!*/;")?;
        self.lines[..end]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
    }
}

fn mariadb_binlog_events(file: &Path) -> Vec<RefEvent> {
    let out = support::run(
        Command::new(support::which("mariadb-binlog").unwrap())
            .env("TZ", "UTC")
            .args(["--no-defaults", "-vv", "--base64-output=decode-rows"])
            .arg(file)
            .stdin(Stdio::null()),
    );
    assert_eq!(
        out.code,
        0,
        "mariadb-binlog {} failed: {}",
        file.display(),
        clip(&out.stderr, 2000)
    );
    parse_mariadb_binlog(&out.stdout, file)
}

fn parse_mariadb_binlog(text: &str, file: &Path) -> Vec<RefEvent> {
    let header_re = Regex::new(
        r"^#(\d{6}) +(\d{1,2}):(\d\d):(\d\d) server id (\d+) +end_log_pos (\d+)(?: CRC32 0x[0-9a-fA-F]+)? ?\s*(.*)$",
    )
    .unwrap();
    let at_re = Regex::new(r"^# at (\d+)\s*$").unwrap();
    let mut events: Vec<RefEvent> = Vec::new();
    let mut pending: VecDeque<u64> = VecDeque::new();
    // Index of the event whose lines we are collecting.
    let mut current: Option<usize> = None;
    let mut kind_on_next_line = false;
    for line in text.lines() {
        if let Some(c) = at_re.captures(line) {
            pending.push_back(c[1].parse().unwrap());
            current = None;
            continue;
        }
        if let Some(c) = header_re.captures(line) {
            let pos = pending.pop_front().unwrap_or_else(|| {
                panic!(
                    "{}: mariadb-binlog printed an event header without `# at`: {line}",
                    file.display()
                )
            });
            let kind = c[7].trim().to_string();
            kind_on_next_line = kind.is_empty();
            events.push(RefEvent {
                pos,
                end_pos: c[6].parse().unwrap(),
                server_id: c[5].parse().unwrap(),
                date: c[1].to_string(),
                hms: (
                    c[2].parse().unwrap(),
                    c[3].parse().unwrap(),
                    c[4].parse().unwrap(),
                ),
                kind,
                header: line.to_string(),
                lines: Vec::new(),
            });
            current = Some(events.len() - 1);
            continue;
        }
        if let Some(i) = current {
            if kind_on_next_line {
                // e.g. "#Begin_load_query: file_id: 1  block_len: 32"
                kind_on_next_line = false;
                events[i].kind = line.trim_start_matches('#').trim().to_string();
                events[i].header.push('\n');
                events[i].header.push_str(line);
                continue;
            }
            events[i].lines.push(line.to_string());
        }
    }
    assert!(
        pending.is_empty(),
        "{}: `# at` lines without an event: {pending:?}",
        file.display()
    );
    // Sanity of this parser: mariadb-binlog's own row count agrees with the `###` lines.
    for e in &events {
        for l in &e.lines {
            if let Some(n) = l.strip_prefix("# Number of rows: ") {
                assert_eq!(
                    n.trim().parse::<u64>().unwrap(),
                    e.row_lines(),
                    "{}: parser miscounted the rows of\n{}",
                    file.display(),
                    e.show()
                );
            }
        }
    }
    events
}

/// zrm type names compatible with the way mariadb-binlog names an event in its header.
fn expected_types(kind: &str) -> &'static [&'static str] {
    const MAP: &[(&str, &[&str])] = &[
        ("Start: binlog", &["Format_desc"]),
        ("Gtid list", &["Gtid_list"]),
        ("Binlog checkpoint", &["Binlog_checkpoint"]),
        ("GTID ", &["Gtid"]),
        ("Query_compressed", &["Query_compressed"]),
        ("Query", &["Query"]),
        ("Xid", &["Xid"]),
        ("XID = ", &["XA_prepare"]),
        ("Annotate_rows", &["Annotate_rows"]),
        ("Table_map:", &["Table_map"]),
        ("Write_rows:", &["Write_rows_v1", "Write_rows"]),
        ("Update_rows:", &["Update_rows_v1", "Update_rows"]),
        ("Delete_rows:", &["Delete_rows_v1", "Delete_rows"]),
        (
            "Write_compressed_rows:",
            &["Write_rows_compressed_v1", "Write_rows_compressed"],
        ),
        (
            "Update_compressed_rows:",
            &["Update_rows_compressed_v1", "Update_rows_compressed"],
        ),
        (
            "Delete_compressed_rows:",
            &["Delete_rows_compressed_v1", "Delete_rows_compressed"],
        ),
        ("Rotate to", &["Rotate"]),
        ("Stop", &["Stop"]),
        ("Intvar", &["Intvar"]),
        ("Rand", &["RAND"]),
        ("User_var", &["User var"]),
        ("Begin_load_query", &["Begin_load_query"]),
        ("Execute_load_query", &["Execute_load_query"]),
    ];
    MAP.iter()
        .find(|(prefix, _)| kind.starts_with(prefix))
        .map(|(_, names)| *names)
        .unwrap_or_else(|| panic!("the test's mapping table lacks mariadb-binlog's {kind:?}"))
}

fn is_rows_kind(kind: &str) -> bool {
    [
        "Write_rows:",
        "Update_rows:",
        "Delete_rows:",
        "Write_compressed_rows:",
        "Update_compressed_rows:",
        "Delete_compressed_rows:",
    ]
    .iter()
    .any(|p| kind.starts_with(p))
}

fn is_query_kind(kind: &str) -> bool {
    kind.starts_with("Query\t") || kind.starts_with("Query_compressed") || kind == "Query"
}

/// Per event, the GTID of the transaction it belongs to, from mariadb-binlog's output.
fn expected_gtids(events: &[RefEvent]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(events.len());
    // (gtid, standalone)
    let mut current: Option<(String, bool)> = None;
    for e in events {
        if let Some(rest) = e.kind.strip_prefix("GTID ") {
            let gtid = rest.split_whitespace().next().unwrap().to_string();
            let standalone = !e
                .lines
                .iter()
                .any(|l| l.trim() == "START TRANSACTION" || l.starts_with("XA START"));
            out.push(Some(gtid.clone()));
            current = Some((gtid, standalone));
            continue;
        }
        match &current {
            None => out.push(None),
            Some((gtid, standalone)) => {
                out.push(Some(gtid.clone()));
                let is_query = is_query_kind(&e.kind) || e.kind.starts_with("Execute_load_query");
                let ends = if *standalone {
                    is_query
                } else {
                    e.kind.starts_with("Xid")
                        || e.kind.starts_with("XID = ")
                        || (is_query
                            && matches!(e.last_statement_line(), Some("COMMIT") | Some("ROLLBACK")))
                };
                if ends {
                    current = None;
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// zrm's side and the comparison
// ---------------------------------------------------------------------------------------------

fn assert_no_panic(out: &support::Output, what: &str) {
    assert!(
        out.code != 101 && !out.stderr.contains("panicked"),
        "zrm panicked ({what}): exit code {}, stderr:\n{}",
        out.code,
        clip(&out.stderr, 4000)
    );
}

/// Runs `zrm binlog analyze --format json FILE`; returns stdout and the parsed events.
fn zrm_events(file: &Path) -> (String, Vec<Value>) {
    let mut cmd = support::zrm();
    cmd.args(["binlog", "analyze", "--format", "json"])
        .arg(file);
    let out = support::run(&mut cmd);
    assert_no_panic(&out, &file.display().to_string());
    assert_eq!(
        out.code,
        0,
        "zrm binlog analyze --format json {} failed: exit code {}\nstderr: {}\nstdout (start): {}",
        file.display(),
        out.code,
        clip(&out.stderr, 4000),
        clip(&out.stdout, 2000)
    );
    let events = parse_ndjson(&out.stdout, file);
    (out.stdout, events)
}

fn parse_ndjson(stdout: &str, file: &Path) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "{}: line {} of zrm's output is not JSON ({e}): {}",
                    file.display(),
                    i + 1,
                    clip(l, 500)
                )
            });
            assert!(
                v.is_object(),
                "{}: line {} is not an object: {}",
                file.display(),
                i + 1,
                clip(l, 500)
            );
            v
        })
        .collect()
}

/// A zrm event for a message (long strings clipped).
fn show_zrm(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        for (_, val) in obj.iter_mut() {
            if let Value::String(s) = val {
                if s.len() > 300 {
                    *s = format!("{}… ({} bytes)", clip(s, 300), s.len());
                }
            }
        }
    }
    v.to_string()
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const KEYS: &[&str] = &[
    "file",
    "pos",
    "end_pos",
    "time",
    "type",
    "server_id",
    "gtid",
    "database",
    "table",
    "rows",
    "statement",
];

/// Compares one file's events. A difference in the event sequence (count, positions, types)
/// stops the comparison; other differences are collected (at most 8 per file). Each problem
/// shows the event of both sides.
fn compare_file(file: &Path, reference: &[RefEvent], zrm: &[Value]) -> Result<(), String> {
    let name = file.display().to_string();
    let base = file.file_name().unwrap().to_string_lossy().into_owned();
    let gtids = expected_gtids(reference);
    // table id -> (database, table), from the Table_map events seen so far.
    let table_map_re = Regex::new(r"^Table_map: `(.*)`\.`(.*)` mapped to number (\d+)").unwrap();
    let table_id_re = Regex::new(r"table id (\d+)").unwrap();
    let use_re = Regex::new(r"^use `(.*)`/\*!\*/;$").unwrap();
    let row_re = Regex::new(r"^### (?:INSERT INTO|UPDATE|DELETE FROM) `(.*)`\.`(.*)`$").unwrap();
    let mut tables: HashMap<u64, (String, String)> = HashMap::new();
    // The rows events of the current statement: (event index, db, table, zrm's rows).
    let mut group: Vec<(usize, String, String, u64)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();

    let show = |i: usize, what: String| -> String {
        format!(
            "{name}: event #{i} differs: {what}\n--- mariadb-binlog ---\n{}--- zrm ---\n{}",
            reference.get(i).map_or("(no event)\n".into(), |e| e.show()),
            zrm.get(i).map_or("(no event)".into(), show_zrm),
        )
    };
    let finish = |mut problems: Vec<String>, fatal: Option<String>| -> Result<(), String> {
        problems.extend(fatal);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n\n"))
        }
    };
    // A difference that makes the rest of the file meaningless to compare.
    macro_rules! fatal {
        ($i:expr, $($arg:tt)*) => {
            return finish(problems, Some(show($i, format!($($arg)*))))
        };
    }
    // A difference noted, the comparison of the event goes on.
    macro_rules! note {
        ($i:expr, $($arg:tt)*) => {{
            if problems.len() < 8 {
                problems.push(show($i, format!($($arg)*)));
            }
        }};
    }
    // A difference in one field: noted, and the next event is compared.
    macro_rules! soft {
        ($i:expr, $($arg:tt)*) => {{
            if problems.len() < 8 {
                problems.push(show($i, format!($($arg)*)));
            }
            continue;
        }};
    }

    let n = reference.len().max(zrm.len());
    // `i` indexes both sides and the messages; an iterator would hide the shorter side.
    #[allow(clippy::needless_range_loop)]
    for i in 0..n {
        let (Some(r), Some(z)) = (reference.get(i), zrm.get(i)) else {
            fatal!(
                i,
                "mariadb-binlog has {} events, zrm has {}",
                reference.len(),
                zrm.len()
            );
        };
        for k in KEYS {
            if z.get(*k).is_none() {
                fatal!(i, "zrm's event lacks the key `{k}`");
            }
        }
        if z["pos"].as_u64() != Some(r.pos) {
            fatal!(i, "pos: zrm {}, mariadb-binlog {}", z["pos"], r.pos);
        }
        if z["end_pos"].as_u64() != Some(r.end_pos) {
            fatal!(
                i,
                "end_pos: zrm {}, mariadb-binlog {}",
                z["end_pos"],
                r.end_pos
            );
        }
        let types = expected_types(&r.kind);
        let ztype = z["type"].as_str().unwrap_or("");
        if !types.contains(&ztype) {
            // Noted; the positions agree, so the rest of the event is still compared.
            note!(i, "type: zrm {:?}, expected one of {types:?}", z["type"]);
        }
        // Table ids are needed by later events: record them before any soft check.
        let table_map = table_map_re.captures(&r.kind).map(|c| {
            let (db, t, id) = (c[1].to_string(), c[2].to_string(), c[3].parse().unwrap());
            tables.insert(id, (db.clone(), t.clone()));
            (db, t)
        });
        // Rows: mariadb-binlog prints the rows of all the rows events of a statement after the
        // last one (the one flagged STMT_END_F), so row counts are compared per statement and
        // table; a statement with one rows event is compared exactly.
        if is_rows_kind(&r.kind) {
            let id: u64 = table_id_re.captures(&r.kind).unwrap()[1].parse().unwrap();
            let (db, t) = tables
                .get(&id)
                .unwrap_or_else(|| panic!("{name}: rows event for unmapped table id {id}"))
                .clone();
            let Some(rows) = z["rows"].as_u64() else {
                fatal!(i, "rows: zrm {}, expected a number", z["rows"]);
            };
            group.push((i, db.clone(), t.clone(), rows));
            if r.kind.contains("STMT_END_F") {
                let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
                for l in &r.lines {
                    if let Some(c) = row_re.captures(l) {
                        *want
                            .entry((c[1].to_string(), c[2].to_string()))
                            .or_default() += 1;
                    }
                }
                let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
                for (_, gdb, gt, n) in &group {
                    *got.entry((gdb.clone(), gt.clone())).or_default() += n;
                }
                let first = group[0].0;
                let count = group.len();
                let zero = group[..count - 1].iter().find(|g| g.3 == 0).map(|g| g.0);
                group.clear();
                if want != got {
                    fatal!(
                        i,
                        "rows of the statement's {count} rows event(s) #{first}..=#{i}, per table: \
                         zrm {got:?}, mariadb-binlog printed {want:?}"
                    );
                }
                if let Some(j) = zero {
                    fatal!(
                        j,
                        "rows: zrm 0 for a rows event that is not the statement's last"
                    );
                }
            } else if r.row_lines() != 0 {
                panic!(
                    "{name}: mariadb-binlog printed rows after a rows event without STMT_END_F:\n{}",
                    r.show()
                );
            }
            if z["database"].as_str() != Some(db.as_str())
                || z["table"].as_str() != Some(t.as_str())
            {
                soft!(
                    i,
                    "rows event database/table: zrm {}/{}, mariadb-binlog (table id {id}) {db}/{t}",
                    z["database"],
                    z["table"]
                );
            }
        } else {
            if !group.is_empty() {
                fatal!(
                    group[0].0,
                    "test bug: a statement's rows events #{}..#{} have no STMT_END_F",
                    group[0].0,
                    i - 1
                );
            }
            if !z["rows"].is_null() {
                soft!(
                    i,
                    "rows: zrm {}, expected null for a non-rows event",
                    z["rows"]
                );
            }
        }
        let file_key = z["file"].as_str().unwrap_or("");
        if file_key != name && file_key != base {
            soft!(
                i,
                "`file` is {:?}, expected {name:?} or {base:?}",
                z["file"]
            );
        }
        if z["server_id"].as_u64() != Some(r.server_id) {
            soft!(
                i,
                "server_id: zrm {}, mariadb-binlog {}",
                z["server_id"],
                r.server_id
            );
        }
        // time: RFC 3339, UTC, same second as the header.
        let time = z["time"].as_str().unwrap_or("");
        match chrono::DateTime::parse_from_rfc3339(time) {
            Ok(t) => {
                use chrono::Timelike;
                let utc_marker = time.ends_with('Z') || time.ends_with("+00:00");
                let u = t.with_timezone(&chrono::Utc);
                let same = u.format("%y%m%d").to_string() == r.date
                    && (u.hour(), u.minute(), u.second()) == r.hms;
                if !utc_marker || !same {
                    soft!(
                        i,
                        "time: zrm {time:?}, mariadb-binlog (TZ=UTC) {} {:02}:{:02}:{:02}",
                        r.date,
                        r.hms.0,
                        r.hms.1,
                        r.hms.2
                    );
                }
            }
            Err(e) => soft!(i, "time {time:?} is not RFC 3339: {e}"),
        }
        // gtid
        match &gtids[i] {
            Some(g) => {
                if z["gtid"].as_str() != Some(g.as_str()) {
                    soft!(
                        i,
                        "gtid: zrm {}, expected {g:?} (event of that transaction)",
                        z["gtid"]
                    );
                }
            }
            None => {
                if !z["gtid"].is_null() {
                    soft!(
                        i,
                        "gtid: zrm {}, expected null (the event is outside any transaction)",
                        z["gtid"]
                    );
                }
            }
        }
        // database / table of a Table_map
        if let Some((db, t)) = table_map {
            if z["database"].as_str() != Some(db.as_str())
                || z["table"].as_str() != Some(t.as_str())
            {
                soft!(
                    i,
                    "Table_map database/table: zrm {}/{}, mariadb-binlog {db}/{t}",
                    z["database"],
                    z["table"]
                );
            }
        }
        // statements
        if is_query_kind(&r.kind) {
            let Some(stmt) = z["statement"].as_str() else {
                soft!(i, "statement: zrm has none for a Query event");
            };
            let s = normalize(stmt);
            let block = normalize(&r.lines.join("\n"));
            if s.is_empty() || !block.contains(&s) {
                soft!(
                    i,
                    "statement: zrm's {:?} is not in mariadb-binlog's output of the event",
                    clip(&s, 300)
                );
            }
        }
        if is_query_kind(&r.kind) || r.kind.starts_with("Execute_load_query") {
            if let Some(db) = r.lines.iter().find_map(|l| use_re.captures(l)) {
                if z["database"].as_str() != Some(&db[1]) {
                    soft!(
                        i,
                        "database: zrm {}, mariadb-binlog says `use {}`",
                        z["database"],
                        &db[1]
                    );
                }
            }
        }
        if r.kind.starts_with("Execute_load_query") {
            // mariadb-binlog rewrites the file name (LOCAL INFILE '/tmp/SQL_LOAD…'): compare
            // what follows it.
            let Some(stmt) = z["statement"].as_str() else {
                soft!(
                    i,
                    "statement: zrm has none for Execute_load_query (the LOAD DATA statement)"
                );
            };
            let s = normalize(stmt);
            let tail = s
                .to_ascii_uppercase()
                .find("INTO TABLE")
                .map(|p| s[p..].to_string());
            let block = normalize(&r.lines.join("\n"));
            match tail {
                Some(t) if block.contains(&t) => {}
                _ => soft!(
                    i,
                    "statement: zrm's {:?} does not match the LOAD DATA statement",
                    clip(&s, 300)
                ),
            }
        }
        if r.kind.starts_with("Annotate_rows") {
            let annotated: Vec<&str> = r
                .lines
                .iter()
                .filter_map(|l| l.strip_prefix("#Q> ").or_else(|| l.strip_prefix("#Q>")))
                .collect();
            let want = normalize(&annotated.join("\n"));
            let got = normalize(z["statement"].as_str().unwrap_or(""));
            if want != got {
                soft!(
                    i,
                    "statement: zrm {:?}, mariadb-binlog {:?}",
                    clip(&got, 300),
                    clip(&want, 300)
                );
            }
        }
    }
    finish(problems, None)
}

/// The zstd-compressed copy of `file` must give the same events (but for `file`).
fn compare_zstd_copy(server: &TestServer, file: &Path) -> Result<(), String> {
    let dir = server.dir().join("zst");
    fs::create_dir_all(&dir).unwrap();
    let zst = dir.join(format!(
        "{}.zst",
        file.file_name().unwrap().to_string_lossy()
    ));
    if support::which("zstd").is_some() {
        support::run_ok(
            Command::new("zstd")
                .arg("-q")
                .arg("-f")
                .arg(file)
                .arg("-o")
                .arg(&zst),
        );
    } else {
        let data = fs::read(file).unwrap();
        fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
    }
    let (_, plain) = zrm_events(file);
    let mut cmd = support::zrm();
    cmd.args(["binlog", "analyze", "--format", "json"])
        .arg(&zst);
    let out = support::run(&mut cmd);
    assert_no_panic(&out, &zst.display().to_string());
    if out.code != 0 {
        return Err(format!(
            "zrm binlog analyze of the zstd copy {} failed: exit code {}, stderr: {}",
            zst.display(),
            out.code,
            clip(&out.stderr, 2000)
        ));
    }
    let compressed = parse_ndjson(&out.stdout, &zst);
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("file");
        v
    };
    let files: BTreeSet<String> = compressed
        .iter()
        .map(|e| e["file"].as_str().unwrap_or("").to_string())
        .collect();
    let n = plain.len().max(compressed.len());
    for i in 0..n {
        let a = plain.get(i).map(strip);
        let b = compressed.get(i).map(strip);
        if a != b {
            return Err(format!(
                "{}: zstd copy differs from the plain file at event #{i} ({} vs {} events):\n  plain: {}\n  zstd:  {}",
                zst.display(),
                plain.len(),
                compressed.len(),
                a.map_or("(none)".into(), |v| show_zrm(&v)),
                b.map_or("(none)".into(), |v| show_zrm(&v)),
            ));
        }
    }
    if files.len() != 1 {
        return Err(format!(
            "{}: `file` of the zstd copy's events is not one value: {files:?}",
            zst.display()
        ));
    }
    Ok(())
}
