//! Where the log goes: stderr always, and also `log_file` (from `[defaults]`) once the
//! configuration is loaded. Lines carry timestamps; no secret is ever logged (passwords travel
//! in option files, never on command lines or in messages).
//!
//! Every command run (zrm or `mysql-zrm`) ends with one outcome line in the log file
//! ([`record_outcome`]): when it ran, the command line (password-bearing values masked), the
//! exit code, how long it took, and `ok` or its result, or the error. A command that failed
//! before loading the configuration (usage, an unknown key) or never loads it still finds
//! `log_file` in the configuration, read as far as that key; when the file cannot be read or
//! is not TOML, there is no log file to write to, and nothing is recorded.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::redact;

static FILE: Mutex<Option<File>> = Mutex::new(None);
/// The command's one-line result, when it gives one (see [`result`]).
static RESULT: Mutex<Option<String>> = Mutex::new(None);

fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Also append the log to `path` from now on (created 0600 if missing).
pub fn set(path: &Path) -> io::Result<()> {
    let f = open(path)?;
    *FILE.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    Ok(())
}

/// The writer for tracing: stderr, plus the log file when one is set.
pub struct Tee;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = io::stderr().write(buf)?;
        if let Some(f) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            // A failing log file must not fail the command.
            let _ = f.write_all(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

pub fn writer() -> Tee {
    Tee
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A note for the human: on stderr, and with a timestamp in the log file.
pub fn note(msg: &str) {
    eprintln!("{msg}");
    if let Some(f) = FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let _ = writeln!(f, "{} {msg}", now());
    }
}

/// The command's result in one line (e.g. `backup 20261126T101927Z of set 's1': full, …`),
/// for its outcome line; without one, a success is logged as `ok`. The last call wins.
pub fn result(line: impl Into<String>) {
    *RESULT.lock().unwrap_or_else(|p| p.into_inner()) = Some(line.into());
}

/// How a command ended, for [`outcome_line`].
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// The command line as typed (`argv[0]` first).
    pub argv: &'a [String],
    pub exit_code: i32,
    pub duration: Duration,
    /// The error the command failed with (as printed on stderr).
    pub error: Option<&'a str>,
    /// Its one-line result, if it gave one.
    pub result: Option<&'a str>,
}

/// A word of a command line as one would type it (single-quoted when needed).
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%<>".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Text on one line: its lines trimmed and joined with ` | `, passwords masked, control
/// characters escaped.
fn one_line(text: &str, secrets: &[String]) -> String {
    let scrubbed = redact::scrub(text, secrets);
    let masked = redact::mask_sql(&scrubbed);
    let joined = masked
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    redact::escape_controls(&joined).into_owned()
}

/// The outcome line (without timestamp and line end):
/// `zrm[PID] exit=CODE duration=SECS.mmms command=[WORDS…] ok|RESULT|error: MESSAGE`.
/// Values of password-bearing options are masked on the command line and wherever the
/// message quotes them; passwords in quoted SQL are masked too.
pub fn outcome_line(o: &Outcome) -> String {
    let mut argv: Vec<String> = o.argv.to_vec();
    if let Some(first) = argv.first_mut() {
        // The program's name, not where it was run from.
        if let Some(name) = Path::new(first.as_str()).file_name() {
            *first = name.to_string_lossy().into_owned();
        }
    }
    let (masked, secrets) = redact::mask_argv(&argv);
    let command = masked
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ");
    let what = match (o.error, o.result, o.exit_code) {
        (Some(e), _, _) => format!("error: {}", one_line(e, &secrets)),
        (None, Some(r), _) => one_line(r, &secrets),
        (None, None, 0) => "ok".to_string(),
        (None, None, _) => "failed (the failures are in the command's output)".to_string(),
    };
    format!(
        "{}[{}] exit={} duration={:.3}s command=[{}] {what}",
        masked.first().map_or("zrm", String::as_str),
        std::process::id(),
        o.exit_code,
        o.duration.as_secs_f64(),
        redact::escape_controls(&command),
    )
}

/// Append the outcome line of the command that is ending to the log file: the one the loaded
/// configuration opened, else the `log_file` of the configuration at `config` (or
/// `$ZRM_CONFIG`, or the default location) read leniently. Never fails the command: a log
/// file that cannot be written is reported on stderr.
pub fn record_outcome(
    argv: &[String],
    config: Option<&Path>,
    exit_code: i32,
    duration: Duration,
    error: Option<&str>,
) {
    let result = RESULT.lock().unwrap_or_else(|p| p.into_inner()).take();
    let line = format!(
        "{} {}\n",
        now(),
        outcome_line(&Outcome {
            argv,
            exit_code,
            duration,
            error,
            result: result.as_deref(),
        })
    );
    let mut guard = FILE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = guard.as_mut() {
        // One write: lines of zrm processes sharing the file do not interleave.
        let _ = f.write_all(line.as_bytes());
        return;
    }
    drop(guard);
    let Some(path) = crate::config::ConfigFile::log_file_leniently(config) else {
        return;
    };
    if let Err(e) = open(&path).and_then(|mut f| f.write_all(line.as_bytes())) {
        eprintln!(
            "zrm: warning: cannot write the log file {}: {e}",
            path.display()
        );
    }
}

/// The `--config`/`-c` value of a command line that could not be parsed (zrm's `-c F`,
/// `-cF`, `--config F`, `--config=F`; mysql-zrm's `--config F`, `-config F`, `=F`), for
/// finding the log file.
pub fn config_arg(argv: &[String]) -> Option<std::path::PathBuf> {
    let mut found = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        i += 1;
        if a == "--" {
            break;
        }
        if let Some(v) = a
            .strip_prefix("--config=")
            .or_else(|| a.strip_prefix("-config="))
        {
            found = Some(v.into());
        } else if matches!(a, "--config" | "-config" | "-c") {
            if let Some(v) = argv.get(i) {
                found = Some(v.into());
                i += 1;
            }
        } else if let Some(v) = a
            .strip_prefix("-c")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            // `-cFILE`, but not another single-dash word such as mysql-zrm's `-comment`.
            if !v.starts_with("omment") && !v.starts_with("onfig") {
                found = Some(v.into());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn outcome_lines_say_what_ran_and_how_it_ended_without_secrets() {
        let argv =
            words("/usr/local/bin/mysql-zrm --action backup --backup-set s --password Zq9-pw");
        let line = outcome_line(&Outcome {
            argv: &argv,
            exit_code: 2,
            duration: Duration::from_millis(1234),
            error: Some(
                "zrm does not take this mysql-zrm option:\n  --password: use Zq9-pw\x1b[0m",
            ),
            result: None,
        });
        let pid = std::process::id();
        assert_eq!(
            line,
            format!(
                "mysql-zrm[{pid}] exit=2 duration=1.234s command=[mysql-zrm --action backup \
                 --backup-set s --password <secret>] error: zrm does not take this mysql-zrm \
                 option: | --password: use <secret>\\x1b[0m"
            )
        );
        let argv = words("zrm list --set a");
        let ok = Outcome {
            argv: &argv,
            exit_code: 0,
            duration: Duration::from_millis(5),
            error: None,
            result: None,
        };
        assert!(outcome_line(&ok).ends_with("exit=0 duration=0.005s command=[zrm list --set a] ok"));
        let failed = Outcome {
            exit_code: 1,
            ..ok.clone()
        };
        assert!(
            outcome_line(&failed).ends_with("failed (the failures are in the command's output)")
        );
        let with_result = Outcome {
            result: Some("backup X of set 'a': full"),
            ..ok
        };
        assert!(outcome_line(&with_result).ends_with("] backup X of set 'a': full"));
        // Quoted SQL in a message: its password masked.
        let line = outcome_line(&Outcome {
            error: Some("replay failed at CREATE USER u IDENTIFIED BY 'hunter2'"),
            ..failed
        });
        assert!(
            line.ends_with("at CREATE USER u IDENTIFIED BY <secret>"),
            "{line}"
        );
    }

    #[test]
    fn config_is_found_on_a_command_line_that_did_not_parse() {
        let f = |s: &str| config_arg(&words(s)).map(|p| p.display().to_string());
        assert_eq!(f("zrm --config /a.toml bogus"), Some("/a.toml".into()));
        assert_eq!(f("zrm -c /b.toml list --bad"), Some("/b.toml".into()));
        assert_eq!(f("zrm -c/c.toml list"), Some("/c.toml".into()));
        assert_eq!(f("zrm list --config=/d.toml"), Some("/d.toml".into()));
        assert_eq!(
            f("mysql-zrm -action backup -config /e.toml"),
            Some("/e.toml".into())
        );
        assert_eq!(f("mysql-zrm --action backup -comment x"), None);
        assert_eq!(f("zrm list"), None);
    }
}
