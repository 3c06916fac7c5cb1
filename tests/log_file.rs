//! `log_file`: every command run, zrm's or the `mysql-zrm` front end's, leaves one outcome line
//! (time, command line, exit code, duration, and `ok`, its result or its error), never a
//! password: failures before the configuration is loaded (usage errors, an unknown key) and
//! commands that never load it included.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Flavor, Output, TestServer};

/// The server's root password and a wrong one: neither may ever reach the log.
const PASSWORD: &str = "Zq7#LogPw'x\"distinct";
const WRONG: &str = "WrongPw-Distinct9";

struct Run {
    what: String,
    out: Output,
}

fn zrm(args: &[&str], env_config: Option<&Path>) -> Output {
    let mut cmd = support::zrm();
    if let Some(c) = env_config {
        cmd.env("ZRM_CONFIG", c);
    }
    support::run(cmd.args(args))
}

fn mysql_zrm(link: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(link);
    cmd.env("NO_COLOR", "1").env_remove("ZRM_CONFIG").args(args);
    support::run(&mut cmd)
}

/// The message of the error a command printed on stderr (its first line).
fn stderr_error(out: &Output) -> Option<String> {
    out.stderr.lines().find_map(|l| {
        ["zrm: error: ", "mysql-zrm: error: ", "error: "]
            .iter()
            .find_map(|p| l.strip_prefix(p))
            .map(str::to_string)
    })
}

/// Regression (issue 14, item 14): after ten failed commands the log file held none of them.
#[test]
fn log_file_records_every_command_outcome_without_secrets() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let mut server = TestServer::start();
    server.set_root_password(PASSWORD);
    server.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_pw = support::write_password_file(d, PASSWORD);
    let wrong_pw = d.join("wrong.pass");
    support::write_private(&wrong_pw, WRONG.as_bytes());
    let log = d.join("zrm.log");
    let body = format!(
        "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\nlog_file = \"zrm.log\"\n\n\
         [sets.s]\nsocket = \"{sock}\"\npassword_file = \"{good}\"\n\n\
         [sets.badpw]\nsocket = \"{sock}\"\npassword_file = \"{wrong}\"\n\n\
         [sets.down]\nhost = \"127.0.0.1\"\nport = 1\npassword_file = \"{good}\"\n",
        sock = server.socket().display(),
        good = good_pw.display(),
        wrong = wrong_pw.display(),
    );
    let config = support::write_config(d, &body);
    // The same, with a misspelt key: a configuration error, before the file is loaded.
    let bad_dir = d.join("bad");
    std::fs::create_dir(&bad_dir).unwrap();
    let bad_config = support::write_config(
        &bad_dir,
        &format!(
            "{}databses = [\"app\"]\n",
            body.replace(
                "log_file = \"zrm.log\"",
                &format!("log_file = \"{}\"", log.display())
            )
        ),
    );
    let link = d.join("mysql-zrm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
    server.sql("FLUSH BINARY LOGS");
    let binlog = std::fs::read_dir(server.binlog_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".000001"))
        .unwrap();
    let c = config.to_str().unwrap();
    let bc = bad_config.to_str().unwrap();
    let b = binlog.to_str().unwrap();

    let mut runs: Vec<Run> = Vec::new();
    let mut zrm_run = |args: &[&str], env: Option<&Path>| {
        let out = zrm(args, env);
        runs.push(Run {
            what: format!("zrm {}", args.join(" ")),
            out,
        });
    };
    // Failures: unknown set, server down, wrong password, a restore without a target, a
    // missing file, an unknown
    // command and flag (clap, before anything is loaded), a configuration error, an unknown
    // backup, a key written where it cannot be, a check that finds problems.
    zrm_run(&["--config", c, "backup", "--set", "nope"], None);
    zrm_run(&["--config", c, "backup", "--set", "down"], None);
    zrm_run(&["--config", c, "backup", "--set", "badpw"], None);
    zrm_run(
        &[
            "--config",
            c,
            "restore",
            "--set",
            "s",
            "--until-time",
            "yesterday-ish",
        ],
        None,
    );
    zrm_run(
        &[
            "--config",
            c,
            "binlog",
            "analyze",
            "/nonexistent/mysql-bin.000001",
        ],
        None,
    );
    zrm_run(&["--config", c, "frobnicate"], None);
    zrm_run(&["-c", c, "list", "--set", "s", "--no-such-flag"], None);
    zrm_run(&["--config", bc, "list"], None);
    zrm_run(&["show", "--set", "s", "20200101T000000Z"], Some(&config));
    zrm_run(
        &[
            "--config",
            c,
            "key",
            "generate",
            "--out",
            "/nonexistent/dir/key",
        ],
        None,
    );
    zrm_run(&["--config", c, "check", "--set", "down"], None);
    // Successes, one of them a command that never loads the configuration.
    zrm_run(&["--config", c, "check", "--set", "s"], None);
    zrm_run(&["--config", c, "backup", "--set", "s"], None);
    zrm_run(&["--config", c, "list", "--set", "s"], None);
    zrm_run(&["--config", c, "binlog", "analyze", "--summary", b], None);
    // The mysql-zrm front end: a refused --password (its value must not be logged), an
    // unknown action, and a list.
    for args in [
        vec![
            "--action",
            "backup",
            "--backup-set",
            "s",
            "--config",
            c,
            "--password",
            PASSWORD,
        ],
        vec!["--action", "frobnicate", "--backup-set", "s", "--config", c],
        vec!["--action", "list", "--backup-set", "s", "--config", c],
    ] {
        let out = mysql_zrm(&link, &args);
        runs.push(Run {
            what: format!("mysql-zrm {}", args.join(" ")),
            out,
        });
    }

    let failures = runs.iter().filter(|r| r.out.code != 0).count();
    assert!(
        failures >= 10,
        "expected at least ten failing commands, got {failures}"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let outcomes: Vec<&str> = text.lines().filter(|l| l.contains(" command=[")).collect();
    let mut errors = Vec::new();
    if outcomes.len() != runs.len() {
        errors.push(format!(
            "{} commands ran, the log has {} outcome lines",
            runs.len(),
            outcomes.len()
        ));
    }
    let stamp = regex::Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (zrm|mysql-zrm)\[\d+\] exit=(\d+) duration=\d+\.\d{3}s command=\[(.*?)\] (.*)$",
    )
    .unwrap();
    for (i, run) in runs.iter().enumerate() {
        let Some(line) = outcomes.get(i) else {
            errors.push(format!(
                "no outcome line for `{}` ({})",
                run.what, run.out.code
            ));
            continue;
        };
        let Some(m) = stamp.captures(line) else {
            errors.push(format!(
                "outcome line of `{}` is not in the format: {line}",
                run.what
            ));
            continue;
        };
        let first_word = run.what.split(' ').next().unwrap();
        if &m[1] != first_word || m[2].parse::<i32>().unwrap() != run.out.code {
            errors.push(format!(
                "`{}` exited {}; its outcome line says: {line}",
                run.what, run.out.code
            ));
        }
        // The command line as run (the password masked).
        let shown = m[3].replace(
            &format!("'{}'", PASSWORD.replace('\'', "'\\''")),
            "<secret>",
        );
        let args: Vec<&str> = run.what.split(' ').skip(1).collect();
        if !args
            .iter()
            .filter(|a| !a.contains("Zq7"))
            .all(|a| shown.contains(a))
        {
            errors.push(format!(
                "outcome line of `{}` does not show its arguments: {line}",
                run.what
            ));
        }
        let result = &m[4];
        if run.out.code == 0 {
            let want = if run.what.contains(" check ") {
                "OK: set 's' is ready for backups".to_string()
            } else if run.what.contains(" backup ") {
                "backup ".to_string()
            } else {
                "ok".to_string()
            };
            if !result.starts_with(&want) {
                errors.push(format!("`{}` succeeded; the log says: {line}", run.what));
            }
        } else if let Some(e) = stderr_error(&run.out) {
            if !result.starts_with("error: ") || !result.contains(e.trim()) {
                errors.push(format!(
                    "`{}` failed with `{e}`; the log says: {line}",
                    run.what
                ));
            }
        } else if !result.starts_with("FAILED") {
            // A check that found problems says so on stdout, and in the log.
            errors.push(format!(
                "`{}` failed ({}); the log says: {line}",
                run.what, run.out
            ));
        }
    }
    // The check of the unreachable set names what failed.
    if let Some(line) = outcomes.get(10) {
        if !line.contains("FAILED: set 'down' has problems to fix: connection") {
            errors.push(format!("check --set down: {line}"));
        }
    }
    for secret in [PASSWORD, WRONG, "Zq7#LogPw"] {
        if text.contains(secret) {
            errors.push(format!("the log holds the password {secret}:\n{text}"));
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    if mode != 0o600 {
        errors.push(format!("the log file's mode is {mode:o}, not 600"));
    }
    assert!(
        errors.is_empty(),
        "{}\n\nlog file:\n{text}",
        errors.join("\n")
    );
}
