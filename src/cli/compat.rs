//! `mysql-zrm`: ZRM's command line (`mysql-zrm --action A --backup-set S …`) translated into
//! zrm's, so that existing cron lines and scripts keep working. The translation is a pure
//! function ([`translate`]) that builds a zrm argument vector; `main` parses that with the
//! normal clap definitions and runs it, so behaviour, output and exit codes are zrm's.
//!
//! It must never guess: a ZRM option that zrm does not take is refused by name, with what to do
//! instead (exit 2), never ignored. Where zrm's meaning differs from ZRM's (restore replays the
//! archived binary logs; the backup id is read from a ZRM backup directory), a note on stderr
//! says so.
//!
//! `--action parse-binlogs` runs the hidden `zrm binlog zrm-parse`, which prints ZRM's table
//! (`Log filename | Log Position | Timestamp | Event Type | Event`) from zrm's binlog scanner,
//! passwords in statements masked and control bytes escaped (`crate::redact`).

use std::ffi::OsString;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use clap::{Args, Parser};

use super::binlog::{resolve, scan_all, Sources};
use super::{Cli, Context};
use crate::binlog::decode::EventData;
use crate::binlog::event::RowsKind;
use crate::binlog::scan::{EventInfo, ScanOptions};
use crate::error::{Error, Result};
use crate::output::Format;

/// The name the binary answers to with ZRM's syntax (argv[0]'s file name).
pub const PROGRAM: &str = "mysql-zrm";

/// What a ZRM command line becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translated {
    /// Run zrm with `argv` (`argv[0]` is `zrm`), after printing `notes` on stderr (unless
    /// quiet): where zrm's meaning differs from ZRM's.
    Run {
        argv: Vec<String>,
        notes: Vec<String>,
    },
    /// `--help`: print [`USAGE`] and exit 0.
    Help,
}

pub const USAGE: &str = "\
Usage: mysql-zrm --action ACTION --backup-set SET [options]

The ZRM (Zmanda Recovery Manager) command line, run by zrm. Each action becomes a zrm
command; its output and exit codes are zrm's (0 ok, 1 failed, 2 bad usage or configuration).
Settings (connection, databases, method, compression, encryption, retention) are read from
zrm.toml, not from mysql-zrm.conf: see `zrm --help` and the README.

Actions:
  backup           [--backup-level 0|1] [--comment TEXT]  -> zrm backup --set SET --level N
  restore          [--source-directory DIR] [--stop-datetime \"YYYY-MM-DD HH:MM:SS\"]
                   [--stop-position N --bin-logs FILE[,FILE]] [--databases \"a b\"]
                   -> zrm restore --set SET --target SET --replace [--backup ID] [--until-…]
                   (restores into the set's own server, as ZRM did, replaying the archived
                   binary logs to the stop point or to the end)
  list                                                    -> zrm list --set SET
  purge                                                   -> zrm purge --set SET
  verify-backup    [--source-directory DIR]               -> zrm verify --set SET [ID]
  check                                                   -> zrm check --set SET
  report           [--show VIEW]                          -> zrm report --set SET [--view V]
                   (backup-status-info, backup-method-info, backup-retention-info,
                   backup-performance-info, backup-app-performance-info, restore-info)
  schedule-backup  [--add] --interval daily|weekly|monthly --start HH:MM
                   [--day-of-week D | --day-of-month N] [--backup-level 0|1]
                   -> zrm schedule add --set SET --interval X --at HH:MM [--day D] [--level N]
                   --query -> zrm schedule list --set SET
                   --delete [--backup-level N] -> zrm schedule remove --set SET [--level N]
                   --now [--backup-level N] -> zrm backup --set SET [--level N]
  parse-binlogs    --source-directory DIR | --bin-logs FILE[,FILE]
                   prints: Log filename | Log Position | Timestamp | Event Type | Event

--source-directory DIR names a backup by its directory: the backup id is DIR's last component.

Options for every action:
  --backup-set SET   the backup set (a [sets.SET] of zrm.toml); required
  --config FILE      zrm's configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)
  --verbose          more detail on stderr (zrm -v), and the zrm command line that runs
  --quiet            only errors on stderr (zrm -q)
  --help             this text

Other ZRM options (--user, --password, --host, --backup-mode, --compress, --encrypt,
--retention-policy, --mailto, --destination, …) are refused by name, with the zrm.toml
setting or zrm command that replaces them.
";

/// One option mysql-zrm takes: its name, whether it takes a value, and the actions it goes with
/// (empty: every action).
struct Opt {
    name: &'static str,
    value: bool,
    actions: &'static [&'static str],
}

const OPTIONS: &[Opt] = &[
    Opt {
        name: "action",
        value: true,
        actions: &[],
    },
    Opt {
        name: "backup-set",
        value: true,
        actions: &[],
    },
    Opt {
        name: "config",
        value: true,
        actions: &[],
    },
    Opt {
        name: "verbose",
        value: false,
        actions: &[],
    },
    Opt {
        name: "quiet",
        value: false,
        actions: &[],
    },
    Opt {
        name: "backup-level",
        value: true,
        actions: &["backup", "schedule-backup"],
    },
    Opt {
        name: "comment",
        value: true,
        actions: &["backup"],
    },
    Opt {
        name: "source-directory",
        value: true,
        actions: &["restore", "verify-backup", "parse-binlogs"],
    },
    Opt {
        name: "stop-datetime",
        value: true,
        actions: &["restore"],
    },
    Opt {
        name: "stop-position",
        value: true,
        actions: &["restore"],
    },
    Opt {
        name: "bin-logs",
        value: true,
        actions: &["restore", "parse-binlogs"],
    },
    Opt {
        name: "databases",
        value: true,
        actions: &["restore"],
    },
    Opt {
        name: "interval",
        value: true,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "start",
        value: true,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "start-time",
        value: true,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "add",
        value: false,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "query",
        value: false,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "delete",
        value: false,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "show",
        value: true,
        actions: &["report"],
    },
    Opt {
        name: "day-of-week",
        value: true,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "day-of-month",
        value: true,
        actions: &["schedule-backup"],
    },
    Opt {
        name: "now",
        value: false,
        actions: &["schedule-backup"],
    },
];

const ACTIONS: &[&str] = &[
    "backup",
    "restore",
    "list",
    "purge",
    "parse-binlogs",
    "verify-backup",
    "check",
    "report",
    "schedule-backup",
];

const CONNECTION: &str = "zrm reads connection settings from zrm.toml: `host`, `port`, \
    `socket`, `user` and `password_file` (or `defaults_file`) in [sets.SET]";
const SELECTION: &str = "choose what is backed up in zrm.toml: `databases` and `exclude` \
    (`db` or `db.table` patterns) in [sets.SET]";
const PLUGINS: &str = "zrm runs no plugins: wrap the mysql-zrm or zrm command in a script";
const NOTIFY: &str = "zrm sends no mail and writes no HTML: cron mails a failing command's \
    output (exit code 1 or 2), and `zrm list`/`zrm verify` show the state";

/// What to do instead of a ZRM option that zrm does not take, for this action.
fn advice(name: &str, action: &str) -> Option<String> {
    let a = match name {
        "user" | "password" | "host" | "port" | "socket" | "ssl-options" | "mysql-binpath"
        | "mysql-binlog-path" => CONNECTION,
        "all-databases" | "databases" | "database" | "tables" | "exclude-pattern" => SELECTION,
        "backup-mode" => "set `method` in zrm.toml (logical, mysqldump, lvm, btrfs or ebs)",
        "lvm-snapshot" | "snapshot-plugin" | "snapshot-size" => {
            "set `method = \"lvm\"` (or \"btrfs\", \"ebs\") and its table (e.g. \
             `lvm = { snapshot_size = \"20%\" }`) in zrm.toml"
        }
        "backup-type" => {
            "zrm has no quick (unmounted snapshot) backups: every backup is copied into the \
             repository; choose the `method` in zrm.toml"
        }
        "single-transaction" | "routines" => {
            "zrm's backups are always consistent and always include routines, triggers and \
             events: nothing to ask for"
        }
        "compress" | "compress-plugin" => {
            "zrm always compresses (zstd): set `compression` and `compression_level` in \
             [repository] of zrm.toml"
        }
        "encrypt" | "encrypt-plugin" | "decrypt-option" => {
            "set `encryption_key_file` in [repository] of zrm.toml (`zrm key generate --out \
             PATH` makes a key) before the repository's first backup"
        }
        "copy-plugin"
        | "pre-backup-plugin"
        | "post-backup-plugin"
        | "pre-scheduler-plugin"
        | "post-scheduler-plugin" => PLUGINS,
        "destination" if action == "restore" => {
            "ZRM's --destination is where backups are stored, not where a restore goes: run \
             `zrm restore --set SET --target TARGET` (a set name, mysql://user@host:port or \
             datadir:/path)"
        }
        "destination" => "set [repository] `path` (or `url`) in zrm.toml",
        "retention-policy" => {
            "set `retention` (e.g. \"10d\") in [sets.SET] or [defaults] of zrm.toml"
        }
        "mailto"
        | "mail-policy"
        | "html-reports"
        | "html-report-directory"
        | "webserver-url"
        | "rss-header-location" => NOTIFY,
        "replication" => {
            "zrm copies no replication state files: every backup records its binary log \
             coordinates and GTID in its manifest (`zrm show --set SET ID`)"
        }
        "options-file" => {
            "zrm reads zrm.toml, not mysql-zrm.conf: give it with --config FILE (or $ZRM_CONFIG)"
        }
        "tmpdir" => "zrm uses $TMPDIR: set it in the environment",
        "start-position" | "start-datetime" => {
            "zrm always starts replaying at the backup's consistent point (ZRM's manual \
             replay from a position is automatic): give only the stop point \
             (--stop-datetime, or --stop-position with --bin-logs)"
        }
        "offset" => "zrm resolves the stop point to a transaction boundary itself",
        "mysql-shutdown" => {
            "zrm restores into a running server and leaves it running; stop it yourself if \
             you must"
        }
        "till-lastfull" | "all-backups" => {
            "`zrm list --set SET` lists every backup of the set (--all adds interrupted ones)"
        }
        _ => return None,
    };
    Some(a.to_string())
}

/// What zrm does instead of a ZRM action it does not have.
fn action_advice(action: &str) -> Option<&'static str> {
    Some(match action {
        "getconf" => "zrm's settings are in zrm.toml; `zrm check --set SET` checks them",
        "extract-backup" => {
            "zrm restores from its repository directly: there is nothing to extract first"
        }
        "abort-backup" => {
            "stop the running zrm backup with SIGTERM or Ctrl-C: an interrupted backup never \
             looks complete (`zrm list --set SET --all` shows it)"
        }
        "manage-backup" => "zrm has no quick (unmounted snapshot) backups to manage",
        _ => return None,
    })
}

/// The options given, once read.
#[derive(Default)]
struct Given {
    /// (name, value) of the options mysql-zrm takes, in order (a later one wins).
    values: Vec<(&'static str, Option<String>)>,
    /// Option names mysql-zrm does not know (as typed, without the dashes).
    other: Vec<String>,
}

impl Given {
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| *n == name)
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Read `--name value`, `--name=value` (and Getopt's single-dash `-name`) into [`Given`].
/// `Ok(None)` means `--help`.
fn read_options(args: &[String]) -> Result<Option<Given>> {
    let mut given = Given::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--help" || arg == "-h" || arg == "-help" {
            return Ok(None);
        }
        let body = if let Some(b) = arg.strip_prefix("--") {
            b
        } else if let Some(b) = arg.strip_prefix('-').filter(|b| b.len() > 1) {
            b
        } else {
            return Err(usage(format!(
                "unexpected argument '{arg}': mysql-zrm takes only --options \
                 (`mysql-zrm --help` lists them)"
            )));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        match OPTIONS.iter().find(|o| o.name == name) {
            Some(o) if o.value => {
                let value = match inline {
                    Some(v) => v,
                    None if i < args.len() && !args[i].starts_with("--") => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(usage(format!("--{name} needs a value"))),
                };
                given.values.push((o.name, Some(value)));
            }
            Some(o) => {
                if inline.is_some() {
                    return Err(usage(format!("--{name} takes no value")));
                }
                given.values.push((o.name, None));
            }
            None => {
                // Refused anyway: its value (if it has one) goes with it, so that every
                // refused option is named at once.
                if inline.is_none() && i < args.len() && !args[i].starts_with('-') {
                    i += 1;
                }
                given.other.push(name.to_string());
            }
        }
    }
    Ok(Some(given))
}

/// Translate ZRM's command line (without argv[0]) into zrm's.
pub fn translate(args: &[String]) -> Result<Translated> {
    let Some(given) = read_options(args)? else {
        return Ok(Translated::Help);
    };
    let action = given.get("action").ok_or_else(|| {
        usage(format!(
            "--action is required: one of {} (`mysql-zrm --help`)",
            ACTIONS.join(", ")
        ))
    })?;
    if !ACTIONS.contains(&action) {
        return Err(usage(match action_advice(action) {
            Some(a) => format!("--action {action} is not supported by zrm: {a}"),
            None => format!("unknown --action '{action}': one of {}", ACTIONS.join(", ")),
        }));
    }

    // Every option that does not go with this action, each named with what to do instead.
    let mut refused: Vec<String> = Vec::new();
    for (name, _) in &given.values {
        let o = OPTIONS.iter().find(|o| o.name == *name).expect("known");
        if o.actions.is_empty() || o.actions.contains(&action) {
            continue;
        }
        let line = match advice(name, action) {
            Some(a) => format!("--{name}: {a}"),
            None => format!(
                "--{name}: goes with --action {}, not with --action {action}",
                o.actions.join(" or --action ")
            ),
        };
        if !refused.contains(&line) {
            refused.push(line);
        }
    }
    for name in &given.other {
        let line = match advice(name, action) {
            Some(a) => format!("--{name}: {a}"),
            None => format!(
                "--{name}: not a mysql-zrm option that zrm knows (`mysql-zrm --help` lists them)"
            ),
        };
        if !refused.contains(&line) {
            refused.push(line);
        }
    }
    if !refused.is_empty() {
        return Err(usage(format!(
            "zrm does not take {}:\n  {}",
            if refused.len() == 1 {
                "this mysql-zrm option"
            } else {
                "these mysql-zrm options"
            },
            refused.join("\n  ")
        )));
    }

    let mut argv = vec!["zrm".to_string()];
    if let Some(config) = given.get("config") {
        argv.extend(["--config".to_string(), config.to_string()]);
    }
    if given.has("verbose") {
        argv.push("-v".into());
    }
    if given.has("quiet") {
        argv.push("-q".into());
    }
    let mut notes = Vec::new();
    let set = given.get("backup-set");
    let need_set = || {
        set.ok_or_else(|| {
            usage(format!(
                "--backup-set SET is required with --action {action} (zrm has no default set: \
                 name a [sets.SET] of zrm.toml)"
            ))
        })
    };
    let mut push = |words: &[&str]| argv.extend(words.iter().map(|w| w.to_string()));

    match action {
        "backup" => {
            let set = need_set()?;
            push(&["backup", "--set", set]);
            if let Some(level) = given.get("backup-level") {
                push(&["--level", backup_level(level)?]);
            }
            if let Some(c) = given.get("comment") {
                push(&["--comment", c]);
            }
        }
        "restore" => {
            let set = need_set()?;
            push(&["restore", "--set", set, "--target", set, "--replace"]);
            notes.push(format!(
                "restoring into the set's own server ('{set}') and replacing its databases, as \
                 mysql-zrm did; zrm can restore elsewhere: `zrm restore --set {set} --target T`"
            ));
            if let Some(dir) = given.get("source-directory") {
                let id = backup_id(dir)?;
                push(&["--backup", &id]);
                notes.push(format!(
                    "using backup id {id} (the last component of --source-directory {dir})"
                ));
            }
            let files = given.get("bin-logs").map(bin_logs).transpose()?;
            match (
                given.get("stop-datetime"),
                given.get("stop-position"),
                files,
            ) {
                (Some(_), Some(_), _) => {
                    return Err(usage(
                        "give one stop point: --stop-datetime or --stop-position",
                    ))
                }
                (Some(t), None, _) => push(&["--until-time", &stop_datetime(t)]),
                (None, Some(p), Some(files)) => {
                    let pos: u64 = p.parse().map_err(|_| {
                        usage(format!(
                            "--stop-position '{p}' is not a binary log position"
                        ))
                    })?;
                    let last = files.last().expect("bin_logs is never empty");
                    let file = Path::new(last)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| last.clone());
                    push(&["--until-position", &format!("{file}:{pos}")]);
                }
                (None, Some(_), None) => {
                    return Err(usage(
                        "--stop-position needs --bin-logs FILE[,FILE]: the last binary log \
                         named is the file the position is in (e.g. --bin-logs \
                         /var/lib/mysql/mysql-bin.000003)",
                    ))
                }
                (None, None, Some(_)) => {
                    return Err(usage(
                        "--bin-logs goes with --stop-position only: zrm replays the set's \
                         archived binary logs itself (from the backup's consistent point to \
                         the stop point, or to the end)",
                    ))
                }
                (None, None, None) => notes.push(
                    "zrm replays the archived binary logs after the backup to the end of the \
                     archive; give --stop-datetime or --stop-position to stop earlier"
                        .to_string(),
                ),
            }
            if let Some(dbs) = given.get("databases") {
                let list: Vec<&str> = dbs.split([' ', ',']).filter(|d| !d.is_empty()).collect();
                if list.is_empty() {
                    return Err(usage("--databases names no database"));
                }
                push(&["--databases", &list.join(",")]);
            }
        }
        "list" | "purge" | "check" => {
            let set = need_set()?;
            push(&[action, "--set", set]);
        }
        "report" => {
            let set = need_set()?;
            push(&["report", "--set", set]);
            if let Some(v) = given.get("show") {
                push(&["--view", report_view(v)?]);
            }
        }
        "verify-backup" => {
            let set = need_set()?;
            push(&["verify", "--set", set]);
            if let Some(dir) = given.get("source-directory") {
                let id = backup_id(dir)?;
                push(&[&id]);
                notes.push(format!(
                    "verifying backup id {id} (the last component of --source-directory {dir})"
                ));
            }
        }
        "schedule-backup" => {
            let set = need_set()?;
            let modes: Vec<&str> = ["add", "query", "delete", "now"]
                .into_iter()
                .filter(|m| given.has(m))
                .collect();
            if modes.len() > 1 {
                return Err(usage(format!(
                    "give one of --add, --query, --delete, --now (not --{})",
                    modes.join(" and --")
                )));
            }
            let start = match (given.get("start"), given.get("start-time")) {
                (Some(_), Some(_)) => return Err(usage("give one of --start and --start-time")),
                (a, b) => a.or(b).map(start_time).transpose()?,
            };
            let interval = given.get("interval").map(interval).transpose()?;
            let level = given.get("backup-level").map(backup_level).transpose()?;
            let day = match (given.get("day-of-week"), given.get("day-of-month")) {
                (Some(_), Some(_)) => {
                    return Err(usage("give one of --day-of-week and --day-of-month"))
                }
                (Some(d), None) => Some(("--day-of-week", "weekly", d)),
                (None, Some(d)) => Some(("--day-of-month", "monthly", d)),
                (None, None) => None,
            };
            let mode = modes.first().copied().unwrap_or("add");
            if mode != "add" {
                let extra: Vec<&str> = [
                    ("--interval", interval.is_some()),
                    ("--start", start.is_some()),
                    (day.map_or("--day-of-week", |d| d.0), day.is_some()),
                    ("--backup-level", level.is_some() && mode == "query"),
                ]
                .into_iter()
                .filter_map(|(n, given)| given.then_some(n))
                .collect();
                if !extra.is_empty() {
                    return Err(usage(format!(
                        "{} go(es) with --add, not with --{mode}",
                        extra.join(", ")
                    )));
                }
            }
            match mode {
                "now" => {
                    push(&["backup", "--set", set]);
                    if let Some(l) = level {
                        push(&["--level", l]);
                    }
                }
                "query" => push(&["schedule", "list", "--set", set]),
                "delete" => {
                    push(&["schedule", "remove", "--set", set]);
                    if let Some(l) = level {
                        push(&["--level", l]);
                    }
                }
                _ => {
                    let (Some(i), Some(at)) = (interval, &start) else {
                        return Err(usage(
                            "--add needs --interval daily|weekly|monthly and --start HH:MM \
                             (local time)",
                        ));
                    };
                    push(&["schedule", "add", "--set", set, "--interval", i, "--at", at]);
                    if let Some((name, wants, d)) = day {
                        if i != wants {
                            return Err(usage(format!(
                                "{name} goes with --interval {wants}, not --interval {i}"
                            )));
                        }
                        push(&["--day", d.trim()]);
                    } else if i == "weekly" {
                        // ZRM's weekly backups ran on Sundays unless told otherwise.
                        push(&["--day", "sun"]);
                    } else if i == "monthly" {
                        push(&["--day", "1"]);
                    }
                    if let Some(l) = level {
                        push(&["--level", l]);
                    }
                }
            }
        }
        "parse-binlogs" => {
            push(&["binlog", "zrm-parse"]);
            match (given.get("source-directory"), given.get("bin-logs")) {
                (Some(_), Some(_)) => {
                    return Err(usage(
                        "give one of --source-directory (a backup) and --bin-logs (files)",
                    ))
                }
                (Some(dir), None) => {
                    let set = need_set()?;
                    let id = backup_id(dir)?;
                    push(&["--set", set, "--backup", &id]);
                    notes.push(format!(
                        "reading the binary logs of backup {id} (the last component of \
                         --source-directory {dir}) from the archive of set '{set}'"
                    ));
                }
                (None, Some(files)) => {
                    push(&["--"]);
                    for f in bin_logs(files)? {
                        push(&[&f]);
                    }
                }
                (None, None) => {
                    return Err(usage(
                        "name the binary logs: --source-directory DIR (a backup's) or \
                         --bin-logs FILE[,FILE]",
                    ))
                }
            }
        }
        _ => unreachable!("every action in ACTIONS is translated"),
    }
    Ok(Translated::Run { argv, notes })
}

/// ZRM's reporter views (`--show`) → zrm's `report --view`.
fn report_view(show: &str) -> Result<&'static str> {
    match show.trim() {
        "backup-status-info" => Ok("status"),
        "backup-method-info" => Ok("method"),
        "backup-retention-info" => Ok("retention"),
        "backup-performance-info" | "backup-app-performance-info" => Ok("performance"),
        "restore-info" => Ok("restore-points"),
        _ => Err(usage(format!(
            "--show '{show}': zrm reports backup-status-info, backup-method-info, \
             backup-retention-info, backup-performance-info, backup-app-performance-info and \
             restore-info (see `zrm report --help` for zrm's own views)"
        ))),
    }
}

fn backup_level(level: &str) -> Result<&'static str> {
    match level.trim() {
        "0" => Ok("0"),
        "1" => Ok("1"),
        _ => Err(usage(format!(
            "--backup-level '{level}': 0 (full) or 1 (incremental)"
        ))),
    }
}

/// ZRM's backup directory `<destination>/<set>/<YYYYMMDDHHMMSS>` → its last component.
fn backup_id(dir: &str) -> Result<String> {
    Path::new(dir)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            usage(format!(
                "--source-directory '{dir}' names no backup: give a backup's directory, whose \
                 last component is the backup id (`zrm list --set SET` shows the ids)"
            ))
        })
}

/// `--bin-logs a,b` (commas or spaces) → the files, never empty.
fn bin_logs(list: &str) -> Result<Vec<String>> {
    let files: Vec<String> = list
        .split([',', ' '])
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    if files.is_empty() {
        return Err(usage("--bin-logs names no file"));
    }
    Ok(files)
}

/// ZRM (mysqlbinlog) also took `YYYYMMDDHHMMSS`; zrm wants `YYYY-MM-DD HH:MM:SS`. Any other
/// form goes to zrm as it is (zrm's error explains what it reads).
fn stop_datetime(t: &str) -> String {
    let t = t.trim();
    if t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "{}-{}-{} {}:{}:{}",
            &t[0..4],
            &t[4..6],
            &t[6..8],
            &t[8..10],
            &t[10..12],
            &t[12..14]
        )
    } else {
        t.to_string()
    }
}

fn interval(i: &str) -> Result<&'static str> {
    match i.trim().to_ascii_lowercase().as_str() {
        "daily" => Ok("daily"),
        "weekly" => Ok("weekly"),
        "monthly" => Ok("monthly"),
        _ => Err(usage(format!("--interval '{i}': daily, weekly or monthly"))),
    }
}

/// `H:MM` or `HH:MM` → `HH:MM`.
fn start_time(s: &str) -> Result<String> {
    let bad = || usage(format!("--start '{s}': a time of day, HH:MM (e.g. 02:30)"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(format!("{h:02}:{m:02}"))
}

/// Whether argv[0]'s file name is `mysql-zrm`.
pub fn invoked_as_mysql_zrm(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == PROGRAM)
}

/// How the process ends without running a command: its exit code and, for a failure, the
/// error it printed (for the log file's outcome line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub code: i32,
    pub error: Option<String>,
}

/// `main`'s parser when invoked as `mysql-zrm`: the translated zrm command line, with the
/// notes printed on stderr. `Err(done)`: the process is done (help printed, or an error
/// reported on stderr) and exits with `done.code`.
pub fn command_line(args: &[OsString]) -> std::result::Result<Cli, Done> {
    let Some(args) = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        let error = "an argument is not valid UTF-8".to_string();
        eprintln!("{PROGRAM}: error: {error}");
        return Err(Done {
            code: 2,
            error: Some(error),
        });
    };
    match translate(&args) {
        Err(e) => {
            eprintln!("{PROGRAM}: error: {e}");
            Err(Done {
                code: e.exit_code(),
                error: Some(e.to_string()),
            })
        }
        Ok(Translated::Help) => {
            print!("{USAGE}");
            Err(Done {
                code: 0,
                error: None,
            })
        }
        Ok(Translated::Run { argv, notes }) => {
            // The global flags come first: `zrm [--config F] [-v] [-q] COMMAND …`.
            let mut globals: Vec<&str> = Vec::new();
            let mut words = argv[1..].iter().map(String::as_str);
            while let Some(w) = words.next() {
                match w {
                    "--config" => {
                        words.next();
                    }
                    "-v" | "-q" => globals.push(w),
                    _ => break,
                }
            }
            if !globals.contains(&"-q") {
                for n in &notes {
                    eprintln!("{PROGRAM}: note: {n}");
                }
            }
            if globals.contains(&"-v") {
                eprintln!("{PROGRAM}: running: {}", shell_words(&argv));
            }
            Cli::try_parse_from(&argv).map_err(|e| {
                let _ = e.print();
                Done {
                    code: e.exit_code(),
                    error: (e.exit_code() != 0)
                        .then(|| e.to_string().trim_start_matches("error: ").to_string()),
                }
            })
        }
    }
}

/// A command line as one would type it (words with spaces or quotes single-quoted).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// parse-binlogs: ZRM's table of events
// ---------------------------------------------------------------------------------------------

/// `zrm binlog zrm-parse` (hidden): what `mysql-zrm --action parse-binlogs` runs.
#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    pub sources: Sources,
}

const RULE: &str = "------------------------------------------------------------";
const HEADER: &str = "Log filename | Log Position | Timestamp | Event Type | Event";

/// Print every event of the binlogs as ZRM's parse-binlogs did. Blocking.
pub fn parse_binlogs(ctx: &Context, a: ParseArgs) -> Result<i32> {
    ctx.require_format("binlog zrm-parse", &[Format::Text])?;
    let files = resolve(ctx, &a.sources)?;
    ctx.note(&if a.sources.set.is_some() {
        format!(
            "times are in the server's zone ({}), as its latest full backup recorded it",
            files.zone
        )
    } else {
        "times are UTC (binlog files carry no zone)".to_string()
    });
    let stdout = std::io::stdout();
    let mut table = ZrmTable::new(
        std::io::BufWriter::with_capacity(1 << 16, stdout.lock()),
        files.zone,
    );
    let mut io_error: Option<std::io::Error> = None;
    let written = table.header();
    let result = match written {
        Err(e) => {
            io_error = Some(e);
            Ok(())
        }
        Ok(()) => scan_all(
            &files,
            ScanOptions::default(),
            &mut |e| match table.row(&e) {
                Ok(()) => ControlFlow::Continue(()),
                Err(err) => {
                    io_error = Some(err);
                    ControlFlow::Break(())
                }
            },
        ),
    };
    super::binlog::end_of_output(io_error, result, || table.finish().map(drop))
}

/// ZRM's parse-binlogs table: a header between rules, one row per event, a closing rule.
struct ZrmTable<W: Write> {
    out: W,
    zone: chrono::FixedOffset,
    /// The default database of the last Query event: a change is shown as `use db;`, as
    /// mysqlbinlog (and so ZRM) did.
    database: Option<String>,
}

impl<W: Write> ZrmTable<W> {
    fn new(out: W, zone: chrono::FixedOffset) -> Self {
        ZrmTable {
            out,
            zone,
            database: None,
        }
    }

    fn header(&mut self) -> std::io::Result<()> {
        writeln!(self.out, "{RULE}\n{HEADER}\n{RULE}")
    }

    fn row(&mut self, e: &EventInfo) -> std::io::Result<()> {
        let time = chrono::DateTime::from_timestamp(i64::from(e.timestamp), 0)
            .map(|d| {
                d.with_timezone(&self.zone)
                    .format("%y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let mut event = event_text(e);
        if let EventData::Query(q) = &e.data {
            if !q.database.is_empty() && self.database.as_deref() != Some(q.database.as_str()) {
                self.database = Some(q.database.clone());
                event = format!("use `{}`; {event}", q.database.replace('`', "``"));
            }
        }
        let line = format!(
            "{} | {} | {} | {} | {}",
            e.file,
            e.pos,
            time,
            e.type_name(),
            event
        );
        // Statements and names come from the binlog: no control byte reaches the terminal.
        writeln!(self.out, "{}", crate::redact::escape_controls(&line))
    }

    /// The closing rule; gives the writer back.
    fn finish(mut self) -> std::io::Result<W> {
        writeln!(self.out, "{RULE}")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The Event column: the statement (on one line), or what a non-statement event does.
fn event_text(e: &EventInfo) -> String {
    let table = || match (&e.database, &e.table) {
        (Some(d), Some(t)) => format!("{d}.{t}"),
        (None, Some(t)) => t.to_string(),
        _ => "?".into(),
    };
    match &e.data {
        EventData::Rotate {
            next_file,
            position,
        } => format!("rotate to {next_file}:{position}"),
        EventData::Xid(x) => format!("COMMIT /* xid={x} */"),
        EventData::MariaGtid(g) => format!("GTID {g}"),
        EventData::MysqlGtid { gtid, .. } => {
            format!("GTID {}", gtid.as_deref().unwrap_or("(anonymous)"))
        }
        EventData::PreviousGtids(s) => format!("previous GTIDs {s}"),
        EventData::GtidList(l) => format!(
            "GTID list [{}]",
            l.iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        EventData::BinlogCheckpoint(f) => format!("checkpoint {f}"),
        EventData::Stop => "server stopped".into(),
        _ => match (e.rows_kind, &e.statement) {
            (Some(kind), _) => {
                let n = e.rows.unwrap_or(0);
                let rows = if n == 1 { "row" } else { "rows" };
                match kind {
                    RowsKind::Insert => format!("insert {n} {rows} into {}", table()),
                    RowsKind::Update => format!("update {n} {rows} of {}", table()),
                    RowsKind::Delete => format!("delete {n} {rows} from {}", table()),
                }
            }
            (None, Some(s)) => crate::redact::mask_sql(s)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            (None, None) if e.table.is_some() => format!("table {}", table()),
            (None, None) if e.type_code == crate::binlog::event::code::FORMAT_DESCRIPTION => {
                "start of binlog (format description)".into()
            }
            (None, None) => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> (Vec<String>, Vec<String>) {
        let args: Vec<String> = shell_split(line);
        match translate(&args).unwrap_or_else(|e| panic!("{line}: {e}")) {
            Translated::Run { argv, notes } => (argv, notes),
            Translated::Help => panic!("{line}: help"),
        }
    }

    fn argv(line: &str) -> String {
        shell_words(&run(line).0)
    }

    fn err(line: &str) -> String {
        match translate(&shell_split(line)) {
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{line}: {e}");
                e.to_string()
            }
            Ok(t) => panic!("{line}: translated to {t:?}"),
        }
    }

    /// Split on spaces, with "double quotes" grouping words.
    fn shell_split(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut any = false;
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    any = true;
                }
                ' ' if !quoted => {
                    if any {
                        out.push(std::mem::take(&mut cur));
                        any = false;
                    }
                }
                c => {
                    cur.push(c);
                    any = true;
                }
            }
        }
        if any {
            out.push(cur);
        }
        out
    }

    #[test]
    fn backup_full_and_incremental() {
        assert_eq!(
            argv("--action backup --backup-set dailyrun --backup-level 0"),
            "zrm backup --set dailyrun --level 0"
        );
        assert_eq!(
            argv("--action=backup --backup-set=dailyrun --backup-level=1 --comment \"after load\""),
            "zrm backup --set dailyrun --level 1 --comment 'after load'"
        );
        assert_eq!(argv("--action backup --backup-set s"), "zrm backup --set s");
        // Getopt::Long's single dash.
        assert_eq!(
            argv("-action backup -backup-set s -backup-level 1"),
            "zrm backup --set s --level 1"
        );
        assert!(err("--action backup --backup-set s --backup-level 2").contains("0 (full) or 1"));
    }

    #[test]
    fn common_options_become_global_flags() {
        assert_eq!(
            argv("--action check --backup-set s --verbose --config /etc/zrm/zrm.toml"),
            "zrm --config /etc/zrm/zrm.toml -v check --set s"
        );
        assert_eq!(
            argv("--quiet --action list --backup-set s"),
            "zrm -q list --set s"
        );
    }

    #[test]
    fn restore_from_a_backup_directory() {
        let (words, notes) = run("--action restore --backup-set dailyrun \
             --source-directory /var/lib/mysql-zrm/dailyrun/20061112115501");
        assert_eq!(
            shell_words(&words),
            "zrm restore --set dailyrun --target dailyrun --replace --backup 20061112115501"
        );
        assert!(notes.iter().any(|n| n.contains("--target T")), "{notes:?}");
        assert!(
            notes
                .iter()
                .any(|n| n.contains("using backup id 20061112115501")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("to the end")), "{notes:?}");
        // A trailing slash, a directory outside any repository: still the last component.
        assert_eq!(
            argv("--action restore --backup-set s --source-directory /elsewhere/20261126T020000Z/"),
            "zrm restore --set s --target s --replace --backup 20261126T020000Z"
        );
        assert!(
            err("--action restore --backup-set s --source-directory /").contains("names no backup")
        );
    }

    #[test]
    fn restore_to_a_time() {
        assert_eq!(
            argv(
                "--action restore --backup-set dailyrun --stop-datetime \"2006-11-12 14:45:00\" \
                 --source-directory /var/lib/mysql-zrm/dailyrun/20061112115501"
            ),
            "zrm restore --set dailyrun --target dailyrun --replace --backup 20061112115501 \
             --until-time '2006-11-12 14:45:00'"
        );
        // The compact form of ZRM's how-to.
        assert_eq!(
            argv("--action restore --backup-set dailyrun --stop-datetime 20061019144500"),
            "zrm restore --set dailyrun --target dailyrun --replace --until-time '2006-10-19 14:45:00'"
        );
        let (_, notes) = run("--action restore --backup-set s --stop-datetime 20061019144500");
        assert!(!notes.iter().any(|n| n.contains("to the end")), "{notes:?}");
    }

    #[test]
    fn restore_to_a_position() {
        assert_eq!(
            argv(
                "--action restore --backup-set dailyrun --stop-position 1234 \
                 --bin-logs /path/mysql-bin.000003"
            ),
            "zrm restore --set dailyrun --target dailyrun --replace \
             --until-position mysql-bin.000003:1234"
        );
        assert_eq!(
            argv(
                "--action restore --backup-set s --stop-position 98 \
                 --bin-logs /b/mysql-bin.000002,/b/mysql-bin.000003"
            ),
            "zrm restore --set s --target s --replace --until-position mysql-bin.000003:98"
        );
        assert!(err("--action restore --backup-set s --stop-position 1234").contains("--bin-logs"));
        assert!(
            err("--action restore --backup-set s --stop-position x --bin-logs f")
                .contains("not a binary log position")
        );
        assert!(
            err("--action restore --backup-set s --bin-logs /b/mysql-bin.000002")
                .contains("goes with --stop-position")
        );
        assert!(err(
            "--action restore --backup-set s --stop-position 4 --bin-logs f --stop-datetime 20061019144500"
        )
        .contains("one stop point"));
    }

    #[test]
    fn restore_refuses_start_points_and_destination() {
        let e = err(
            "--action restore --backup-set s --start-position 4 --stop-position 9 --bin-logs f",
        );
        assert!(e.contains("--start-position: zrm always starts"), "{e}");
        let e = err("--action restore --backup-set s --start-datetime \"2006-11-12 10:00:00\"");
        assert!(e.contains("--start-datetime: zrm always starts"), "{e}");
        let e = err("--action restore --backup-set s --destination /var/lib/mysql-zrm");
        assert!(e.contains("zrm restore --set SET --target"), "{e}");
        let e = err("--action restore --backup-set s --mysql-shutdown");
        assert!(e.contains("--mysql-shutdown"), "{e}");
    }

    #[test]
    fn restore_some_databases() {
        assert_eq!(
            argv("--action restore --backup-set s --databases \"app crm\""),
            "zrm restore --set s --target s --replace --databases app,crm"
        );
        // Elsewhere --databases is a selection, which zrm.toml holds.
        assert!(err("--action backup --backup-set s --databases app").contains("`databases`"));
    }

    #[test]
    fn simple_actions() {
        assert_eq!(argv("--action list --backup-set s"), "zrm list --set s");
        assert_eq!(argv("--action purge --backup-set s"), "zrm purge --set s");
        assert_eq!(argv("--action check --backup-set s"), "zrm check --set s");
        assert_eq!(argv("--action report --backup-set s"), "zrm report --set s");
        assert_eq!(
            argv("--action report --backup-set s --show restore-info"),
            "zrm report --set s --view restore-points"
        );
        assert!(err("--action report --backup-set s --show replication-info").contains("--show"));
        assert_eq!(
            argv("--action verify-backup --backup-set s"),
            "zrm verify --set s"
        );
        assert_eq!(
            argv("--action verify-backup --backup-set s --source-directory /r/s/20261126T020000Z"),
            "zrm verify --set s 20261126T020000Z"
        );
    }

    #[test]
    fn schedule_backup() {
        assert_eq!(
            argv("--action schedule-backup --backup-set s --interval daily --start 2:30 --backup-level 0"),
            "zrm schedule add --set s --interval daily --at 02:30 --level 0"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --add --interval Weekly --start-time 23:05"),
            "zrm schedule add --set s --interval weekly --at 23:05 --day sun"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --query"),
            "zrm schedule list --set s"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --delete"),
            "zrm schedule remove --set s"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --delete --backup-level 1"),
            "zrm schedule remove --set s --level 1"
        );
        assert_eq!(
            argv(
                "--action schedule-backup --backup-set s --interval weekly --day-of-week 0 \
                 --start 01:00 --backup-level 0"
            ),
            "zrm schedule add --set s --interval weekly --at 01:00 --day 0 --level 0"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --interval monthly --day-of-month 15 --start 3:00"),
            "zrm schedule add --set s --interval monthly --at 03:00 --day 15"
        );
        assert_eq!(
            argv("--action schedule-backup --backup-set s --now --backup-level 1"),
            "zrm backup --set s --level 1"
        );
        assert!(
            err("--action schedule-backup --backup-set s --interval hourly")
                .contains("daily, weekly")
        );
        assert!(err("--action schedule-backup --backup-set s --start 25:00").contains("HH:MM"));
        assert!(err("--action schedule-backup --backup-set s --query --delete").contains("one of"));
        assert!(
            err("--action schedule-backup --backup-set s --query --interval daily")
                .contains("--interval go(es) with --add")
        );
        assert!(err(
            "--action schedule-backup --backup-set s --interval daily --start 1:00 --day-of-week 1"
        )
        .contains("--day-of-week goes with --interval weekly"));
        assert!(
            err("--action schedule-backup --backup-set s --interval daily")
                .contains("--add needs --interval daily|weekly|monthly and --start HH:MM")
        );
        assert!(
            err("--action schedule-backup --backup-set s --query --day-of-month 2")
                .contains("--day-of-month go(es) with --add")
        );
    }

    #[test]
    fn parse_binlogs() {
        let (argv, notes) = run("--action parse-binlogs --backup-set dailyrun \
             --source-directory /var/lib/mysql-zrm/dailyrun/20061019151937");
        assert_eq!(
            shell_words(&argv),
            "zrm binlog zrm-parse --set dailyrun --backup 20061019151937"
        );
        assert!(notes[0].contains("backup 20061019151937"), "{notes:?}");
        assert_eq!(
            self::argv(
                "--action parse-binlogs --backup-set s --bin-logs /l/mysql-bin.000002,/l/mysql-bin.000003"
            ),
            "zrm binlog zrm-parse -- /l/mysql-bin.000002 /l/mysql-bin.000003"
        );
        // Files need no set.
        assert_eq!(
            self::argv("--action parse-binlogs --bin-logs f"),
            "zrm binlog zrm-parse -- f"
        );
        assert!(err("--action parse-binlogs --backup-set s").contains("name the binary logs"));
        assert!(err("--action parse-binlogs --source-directory /r/s/1").contains("--backup-set"));
        assert!(
            err("--action parse-binlogs --backup-set s --source-directory /a/1 --bin-logs f")
                .contains("give one of")
        );
    }

    #[test]
    fn translations_parse_as_zrm_command_lines() {
        for line in [
            "--action backup --backup-set s --backup-level 1 --comment c",
            "--action restore --backup-set s --source-directory /a/b --stop-datetime 20061019144500 --databases a",
            "--action restore --backup-set s --stop-position 4 --bin-logs f",
            "--action list --backup-set s --verbose --quiet --config c.toml",
            "--action purge --backup-set s",
            "--action check --backup-set s",
            "--action report --backup-set s",
            "--action report --backup-set s --show backup-performance-info",
            "--action verify-backup --backup-set s --source-directory /a/b",
            "--action schedule-backup --backup-set s --interval daily --start 01:00 --backup-level 0",
            "--action schedule-backup --backup-set s --delete --backup-level 1",
            "--action schedule-backup --backup-set s --query",
            "--action schedule-backup --backup-set s --now --backup-level 1",
            "--action schedule-backup --backup-set s --interval weekly --start 1:00 --day-of-week 6",
            "--action parse-binlogs --backup-set s --source-directory /a/b",
            "--action parse-binlogs --bin-logs -odd-name,f2",
        ] {
            let (argv, _) = run(line);
            if let Err(e) = Cli::try_parse_from(&argv) {
                panic!("{line} → {argv:?}: {e}");
            }
        }
    }

    #[test]
    fn set_and_action_are_required() {
        assert!(err("--backup-set s").contains("--action is required"));
        assert!(err("--action backup").contains("--backup-set SET is required"));
        assert!(err("--action backup --backup-set").contains("--backup-set needs a value"));
        assert!(err("--action frobnicate --backup-set s").contains("unknown --action"));
        assert!(err("--action getconf --backup-set s").contains("zrm.toml"));
        assert!(err("--action abort-backup --backup-set s").contains("SIGTERM"));
        assert!(err("--action list --backup-set s stray").contains("unexpected argument 'stray'"));
        assert!(err("--action list --backup-set s --verbose=2").contains("takes no value"));
    }

    #[test]
    fn unsupported_options_are_named_with_what_to_do() {
        let e = err(
            "--action backup --backup-set s --user backup-user --password secret --host db1 \
             --port 3306 --socket /tmp/s --backup-mode raw --replication --mailto dba@x \
             --compress --encrypt --exclude-pattern \"*.tmp\" --lvm-snapshot 10M \
             --retention-policy 10D --all-databases --tables t1 --destination /var/lib/mysql-zrm",
        );
        for (opt, hint) in [
            ("--user", "connection settings from zrm.toml"),
            ("--password", "connection settings"),
            ("--host", "connection settings"),
            ("--port", "connection settings"),
            ("--socket", "connection settings"),
            ("--backup-mode", "`method`"),
            ("--replication", "coordinates"),
            ("--mailto", "no mail"),
            ("--compress", "`compression`"),
            ("--encrypt", "`encryption_key_file`"),
            ("--exclude-pattern", "`exclude`"),
            ("--lvm-snapshot", "lvm"),
            ("--retention-policy", "set `retention`"),
            ("--all-databases", "`databases`"),
            ("--tables", "`databases`"),
            ("--destination", "[repository] `path`"),
        ] {
            assert!(
                e.lines()
                    .any(|l| l.contains(&format!("{opt}:")) && l.contains(hint)),
                "{opt} ({hint}) not in:\n{e}"
            );
        }
        // A password never shows in the message.
        assert!(!e.contains("secret"), "{e}");
        let e = err("--action list --backup-set s --frobnicate");
        assert!(e.contains("--frobnicate: not a mysql-zrm option"), "{e}");
        let e = err("--action check --backup-set s --backup-level 0");
        assert!(
            e.contains("--backup-level: goes with --action backup or --action schedule-backup"),
            "{e}"
        );
    }

    #[test]
    fn help() {
        assert_eq!(
            translate(&["--help".to_string()]).unwrap(),
            Translated::Help
        );
        assert_eq!(
            translate(&shell_split("--action backup --user x --help")).unwrap(),
            Translated::Help
        );
        assert!(USAGE.contains("--action ACTION"));
    }

    #[test]
    fn invoked_as() {
        let a = |s: &str| vec![OsString::from(s), OsString::from("--help")];
        assert!(invoked_as_mysql_zrm(&a("/usr/local/bin/mysql-zrm")));
        assert!(invoked_as_mysql_zrm(&a("mysql-zrm")));
        assert!(!invoked_as_mysql_zrm(&a("/usr/bin/zrm")));
        assert!(!invoked_as_mysql_zrm(&a("mysql-zrm-reporter")));
    }

    fn event(data: EventData) -> EventInfo {
        EventInfo {
            file: "mysql-bin.000002".into(),
            pos: 98,
            end_pos: 272,
            timestamp: 1_161_266_067, // 2006-10-19 13:54:27 UTC
            type_code: crate::binlog::event::code::QUERY,
            server_id: 1,
            gtid: None,
            database: None,
            table: None,
            rows: None,
            rows_kind: None,
            statement: None,
            data,
            values: None,
            trx_start: false,
            trx_end: false,
            rolled_back: false,
            stmt_end: false,
        }
    }

    #[test]
    fn zrm_table_rows() {
        let zone = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let mut t = ZrmTable::new(Vec::new(), zone);
        t.header().unwrap();
        let q = crate::binlog::decode::Query {
            database: "movies".into(),
            statement: "INSERT INTO `MovieID`\n  VALUES ('17786')".into(),
            error_code: 0,
            exec_time: 0,
        };
        let mut e = event(EventData::Query(q.clone()));
        e.statement = Some(q.statement.clone());
        t.row(&e).unwrap();
        // The same database again: no `use`.
        t.row(&e).unwrap();
        let mut x = event(EventData::Xid(42));
        x.type_code = crate::binlog::event::code::XID;
        t.row(&x).unwrap();
        let mut w = event(EventData::Other);
        w.type_code = crate::binlog::event::code::WRITE_ROWS_V1;
        w.database = Some("app".into());
        w.table = Some("t".into());
        w.rows = Some(2);
        w.rows_kind = Some(RowsKind::Insert);
        t.row(&w).unwrap();
        let mut r = event(EventData::Rotate {
            position: 4,
            next_file: "mysql-bin.000003".into(),
        });
        r.type_code = crate::binlog::event::code::ROTATE;
        t.row(&r).unwrap();
        let text = String::from_utf8(t.finish().unwrap()).unwrap();
        let expected = "\
------------------------------------------------------------
Log filename | Log Position | Timestamp | Event Type | Event
------------------------------------------------------------
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Query | use `movies`; INSERT INTO `MovieID` VALUES ('17786')
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Query | INSERT INTO `MovieID` VALUES ('17786')
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Xid | COMMIT /* xid=42 */
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Write_rows_v1 | insert 2 rows into app.t
mysql-bin.000002 | 98 | 06-10-19 15:54:27 | Rotate | rotate to mysql-bin.000003:4
------------------------------------------------------------
";
        assert_eq!(text, expected);
    }
}
