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
use std::path::{Path, PathBuf};

use clap::Parser;

use super::Cli;
use crate::error::{Error, Result};
use crate::notify::{Mail, MailPolicy};
use crate::zrmconf;

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
        /// Mail the outcome (ZRM's `mailto`, `mail-policy`).
        mail: Option<Mail>,
        /// Run with `TMPDIR` set to this (ZRM's `tmpdir`).
        tmpdir: Option<String>,
    },
    /// `--help`: print [`USAGE`] and exit 0.
    Help,
}

pub const USAGE: &str = "\
Usage: mysql-zrm --action ACTION --backup-set SET [options]

The ZRM (Zmanda Recovery Manager) command line, run by zrm. Each action becomes a zrm
command; its output and exit codes are zrm's (0 ok, 1 failed, 2 bad usage or configuration).
Settings (connection, databases, method, retention, …) come from ZRM's files when there is
no --config or $ZRM_CONFIG and the host has them: /etc/mysql-zrm/mysql-zrm.conf, then
/etc/mysql-zrm/SET/mysql-zrm.conf ($ZRM_ZRM_CONF_DIR instead of /etc/mysql-zrm), then
--options-file, then ZRM's options on the command line; the set defaults to BackupSet1.
Otherwise they come from zrm.toml. See the README, section Moving from ZRM.

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
  --backup-set SET   the backup set (ZRM's files: default BackupSet1; zrm.toml: a [sets.SET],
                     required)
  --options-file F   ZRM's options file, read after the set's mysql-zrm.conf
  --mailto ADDR      mail the outcome through the local sendmail (--mail-policy always,
                     only-on-error or never)
  --tmpdir DIR       run with TMPDIR=DIR
  --config FILE      zrm's configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)
  --verbose          more detail on stderr (zrm -v), and the zrm command line that runs
  --quiet            only errors on stderr (zrm -q)
  --help             this text

ZRM's setting options (--user, --password, --host, --databases, --backup-mode, --compress,
--retention-policy, --destination, …) join ZRM's files; with a zrm.toml they are refused by
name, with the zrm.toml setting that replaces them. Settings zrm cannot carry out as ZRM did
(--encrypt with gpg, copy and backup plugins) are refused with the reason.
ZRM's program names run too: mysql-zrm-scheduler, mysql-zrm-reporter, zrm-pre-scheduler.
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
        name: "type",
        value: true,
        actions: &["report"],
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
        "latest" | "noheader" | "fields" | "output" => {
            "zrm's report prints the set's whole view on stdout (`zrm report --set SET --view \
             V`, `--since TIME` for the recent ones): redirect it to a file"
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
    /// ZRM's settings given as options (`--user u`, `--replication`: "1"), in order.
    settings: Vec<(String, String)>,
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
        if let Some((_, takes_value)) = SETTINGS.iter().find(|(n, _)| *n == name) {
            let value = match (inline, takes_value) {
                (Some(v), _) => v,
                (None, true) if i < args.len() && !args[i].starts_with("--") => {
                    i += 1;
                    args[i - 1].clone()
                }
                (None, true) => return Err(usage(format!("--{name} needs a value"))),
                (None, false) => "1".to_string(),
            };
            given.settings.push((name.to_string(), value));
            continue;
        }
        if let Some(flag) = name.strip_prefix("no") {
            // Getopt's negated flags: --noreplication, --nocompress, --noquiet.
            if let Some((_, false)) = SETTINGS.iter().find(|(n, _)| *n == flag) {
                if inline.is_some() {
                    return Err(usage(format!("--{name} takes no value")));
                }
                given.settings.push((flag.to_string(), "0".to_string()));
                continue;
            }
            if flag == "quiet" {
                continue;
            }
        }
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

/// ZRM's options that are settings (keys of mysql-zrm.conf), and whether each takes a value
/// (the others are flags: `1`, or `0` as `--noNAME`). With ZRM's files they join them (the
/// command line wins, as in ZRM); with zrm.toml those that are not options of the run are
/// refused by name with the zrm.toml key that replaces them.
const SETTINGS: &[(&str, bool)] = &[
    ("user", true),
    ("password", true),
    ("host", true),
    ("port", true),
    ("socket", true),
    ("passfile", true),
    ("ssl-options", true),
    ("mysql-binpath", true),
    ("mysql-binlog-path", true),
    ("all-databases", false),
    ("databases", true),
    ("database", true),
    ("tables", true),
    ("exclude-pattern", true),
    ("backup-mode", true),
    ("backup-type", true),
    ("snapshot-plugin", true),
    ("snapshot-size", true),
    ("snapshot-device", true),
    ("lvm-snapshot", true),
    ("single-transaction", false),
    ("routines", false),
    ("compress", false),
    ("compress-plugin", true),
    ("compress-mysqldump-onthefly", false),
    ("encrypt", false),
    ("encrypt-plugin", true),
    ("decrypt-option", true),
    ("copy-plugin", true),
    ("ssh-user", true),
    ("remote-mysql-binpath", true),
    ("socket-remote-port", true),
    ("pre-backup-plugin", true),
    ("pre-backup-plugin-options", true),
    ("post-backup-plugin", true),
    ("post-backup-plugin-options", true),
    ("destination", true),
    ("retention-policy", true),
    ("replication", false),
    ("default-character-set", true),
    ("extra-mysqldump-options", true),
    ("synchronous-checksum", false),
    ("check-innodb", false),
    ("mailto", true),
    ("mail-policy", true),
    ("tmpdir", true),
    ("options-file", true),
    ("html-reports", true),
    ("html-report-directory", true),
    ("webserver-url", true),
    ("rss-header-location", true),
    ("retry-count", true),
    ("retry-delay", true),
    ("backup-name", true),
];

/// Where mysql-zrm's settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// zrm.toml only (`--config`, `$ZRM_CONFIG`, /etc/zrm/zrm.toml).
    ZrmToml,
    /// ZRM's files in `root` when they are there for the set (or `--options-file` is given),
    /// unless a zrm.toml is named (`--config`, or `$ZRM_CONFIG` when `config_env`).
    Auto { root: PathBuf, config_env: bool },
}

/// Translate ZRM's command line (without argv[0]) into zrm's, with zrm.toml's settings.
pub fn translate(args: &[String]) -> Result<Translated> {
    translate_with(args, &Source::ZrmToml)
}

/// Translate ZRM's command line into zrm's. With ZRM's files ([`Source::Auto`]), their
/// settings and the command line's become a generated zrm.toml (`crate::zrmconf`), written
/// (mode 0600, the password in a 0600 file of its own) before zrm runs with it.
pub fn translate_with(args: &[String], source: &Source) -> Result<Translated> {
    let Some(mut given) = read_options(args)? else {
        return Ok(Translated::Help);
    };
    let action = given.get("action").map(str::to_string).ok_or_else(|| {
        usage(format!(
            "--action is required: one of {} (`mysql-zrm --help`)",
            ACTIONS.join(", ")
        ))
    })?;
    let action = action.as_str();
    if !ACTIONS.contains(&action) {
        return Err(usage(match action_advice(action) {
            Some(a) => format!("--action {action} is not supported by zrm: {a}"),
            None => format!("unknown --action '{action}': one of {}", ACTIONS.join(", ")),
        }));
    }
    let mut notes = Vec::new();

    // A restore's --databases is the restore's, not the set's selection.
    let restore_databases = if action == "restore" {
        let d = given
            .settings
            .iter()
            .rev()
            .find(|(k, _)| k == "databases")
            .map(|(_, v)| v.clone());
        given.settings.retain(|(k, _)| k != "databases");
        d
    } else {
        None
    };
    let cli_password = given.settings.iter().any(|(k, _)| k == "password");
    let options_file = given
        .settings
        .iter()
        .rev()
        .find(|(k, _)| k == "options-file")
        .map(|(_, v)| PathBuf::from(v));
    given.settings.retain(|(k, _)| k != "options-file");

    // ZRM's files, when this host has them and no zrm.toml is named.
    let zrm_root = match source {
        Source::Auto { root, config_env } if !config_env && !given.has("config") => {
            let named = given.get("backup-set");
            let all = action == "purge" && named.is_none() && !zrmconf::sets_in(root).is_empty();
            let present = zrmconf::present(root, named.unwrap_or(zrmconf::DEFAULT_SET));
            (options_file.is_some() || present || all).then(|| root.clone())
        }
        _ => None,
    };
    if zrm_root.is_none() && options_file.is_some() {
        given.other.push("options-file".to_string());
    }

    let mut settings = zrmconf::ZrmSettings::default();
    let mut config: Option<PathBuf> = given.get("config").map(PathBuf::from);
    let mut purge_all = false;
    if let Some(root) = &zrm_root {
        let named = given.get("backup-set").map(str::to_string);
        let (sets, path) = if action == "purge" && named.is_none() {
            // ZRM's daily purge line names no set: it purged every set.
            purge_all = true;
            let mut sets = Vec::new();
            for s in zrmconf::sets_in(root) {
                let loaded = zrmconf::load(root, &s, options_file.as_deref(), &given.settings)?;
                sets.push((s, loaded));
            }
            (sets, root.join(zrmconf::GENERATED))
        } else {
            let set = named.unwrap_or_else(|| zrmconf::DEFAULT_SET.to_string());
            let loaded = zrmconf::load(root, &set, options_file.as_deref(), &given.settings)?;
            let path = root.join(&set).join(zrmconf::GENERATED);
            (vec![(set, loaded)], path)
        };
        let generated = zrmconf::generate(root, &sets);
        let refused: Vec<String> = generated
            .sets
            .iter()
            .flat_map(|m| {
                m.refused()
                    .map(|(k, why)| format!("`{}` ({}): {why}", k.key, k.origin))
            })
            .collect();
        if !refused.is_empty() {
            return Err(Error::Config(format!(
                "ZRM settings zrm cannot carry out as ZRM did:\n  {}\n(`zrm import-config` \
                 writes the equivalent zrm.toml, to edit and use with --config)",
                refused.join("\n  ")
            )));
        }
        zrmconf::write(&generated, &path)?;
        if cli_password {
            if let Some((p, _)) = generated.passwords.first() {
                notes.push(format!(
                    "--password: ZRM's command line showed the password to every user of this \
                     host (ps); it is now in {} (mode 0600), which zrm reads: take --password \
                     off the command line and change the password",
                    p.display()
                ));
            }
        }
        if let Some((_, s)) = sets.into_iter().next() {
            settings = s;
        }
        // Options of the run that ZRM's files may hold; the command line wins.
        for key in ["backup-level", "comment"] {
            if !given.has(key) {
                if let (Some(v), Some(o)) =
                    (settings.get(key), OPTIONS.iter().find(|o| o.name == key))
                {
                    given.values.insert(0, (o.name, Some(v.to_string())));
                }
            }
        }
        config = Some(path);
    } else {
        // zrm.toml: the options of the run are taken; settings are refused with their key.
        for (k, v) in &given.settings {
            if matches!(k.as_str(), "mailto" | "mail-policy" | "tmpdir") {
                settings.set(k, v, zrmconf::Origin::CommandLine);
            } else if !given.other.contains(k) {
                given.other.push(k.clone());
            }
        }
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
            Some(a) if SETTINGS.iter().any(|(n, _)| n == name) => format!(
                "--{name}: {a}{}",
                if name == "password" {
                    " (and change the password: ZRM's command line showed it to every user of \
                     this host)"
                } else {
                    ""
                }
            ),
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
            "zrm does not take {}{}:\n  {}",
            if refused.len() == 1 {
                "this mysql-zrm option"
            } else {
                "these mysql-zrm options"
            },
            if given.settings.is_empty() || zrm_root.is_some() {
                ""
            } else {
                " with a zrm.toml (without --config or $ZRM_CONFIG, and with ZRM's \
                 mysql-zrm.conf, mysql-zrm takes ZRM's settings)"
            },
            refused.join("\n  ")
        )));
    }

    let mail = match settings.get("mailto").filter(|m| !m.trim().is_empty()) {
        Some(to) => {
            let policy = MailPolicy::parse(settings.get("mail-policy").unwrap_or("always"))?;
            if policy != MailPolicy::Never && crate::notify::sendmail().is_none() {
                return Err(crate::notify::no_sendmail());
            }
            Some(Mail {
                to: to.to_string(),
                policy,
            })
        }
        None => None,
    };
    let tmpdir = settings
        .get("tmpdir")
        .filter(|t| !t.is_empty())
        .map(str::to_string);

    let mut argv = vec!["zrm".to_string()];
    if let Some(config) = &config {
        argv.extend([
            "--config".to_string(),
            config.to_string_lossy().into_owned(),
        ]);
    }
    if given.has("verbose") {
        argv.push("-v".into());
    }
    if given.has("quiet") {
        argv.push("-q".into());
    }
    let set = given
        .get("backup-set")
        .or(zrm_root.as_ref().map(|_| zrmconf::DEFAULT_SET));
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
            if let Some(dbs) = restore_databases.as_deref() {
                let list: Vec<&str> = dbs.split([' ', ',']).filter(|d| !d.is_empty()).collect();
                if list.is_empty() {
                    return Err(usage("--databases names no database"));
                }
                push(&["--databases", &list.join(",")]);
            }
        }
        "purge" if purge_all => push(&["purge", "--all"]),
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
            if let Some(t) = given.get("type") {
                let format = match t.trim() {
                    "text" => "text",
                    "html" => "html",
                    "csv" => "csv",
                    _ => return Err(usage(format!("--type '{t}': text, html or csv"))),
                };
                push(&["--format", format]);
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
    Ok(Translated::Run {
        argv,
        notes,
        mail,
        tmpdir,
    })
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

/// ZRM's other program names, and what each is of `mysql-zrm`: `mysql-zrm-ACTION` (ZRM 2.1's
/// per-action programs), `mysql-zrm-scheduler`, `mysql-zrm-reporter`, and `zrm-pre-scheduler`,
/// which ZRM's scheduler wrote into crontabs.
const PROGRAMS: &[&str] = &[
    "mysql-zrm-backup",
    "mysql-zrm-restore",
    "mysql-zrm-list",
    "mysql-zrm-purge",
    "mysql-zrm-check",
    "mysql-zrm-verify-backup",
    "mysql-zrm-parse-binlogs",
    "mysql-zrm-scheduler",
    "mysql-zrm-reporter",
    "zrm-pre-scheduler",
];

fn program_name(args: &[OsString]) -> Option<String> {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| *n == PROGRAM || PROGRAMS.contains(n))
        .map(str::to_string)
}

/// Whether argv[0]'s file name is `mysql-zrm` or one of ZRM's other program names.
pub fn invoked_as_mysql_zrm(args: &[OsString]) -> bool {
    program_name(args).is_some()
}

/// The `mysql-zrm` arguments that ZRM's program `name` given `args` stands for.
pub fn program_args(name: &str, args: &[String]) -> Result<Vec<String>> {
    let has_action = args
        .iter()
        .any(|a| a.trim_start_matches('-').starts_with("action"));
    let mut out: Vec<String> = Vec::new();
    match name {
        "zrm-pre-scheduler" => {
            // `--interval X` told ZRM's pre-scheduler plugin which schedule ran; the run is
            // the backup it names.
            let mut it = args.iter();
            while let Some(a) = it.next() {
                match a.trim_start_matches('-') {
                    "interval" | "pre-scheduler" | "html-report-directory" => {
                        it.next();
                    }
                    w if w.starts_with("interval=")
                        || w.starts_with("pre-scheduler=")
                        || w.starts_with("html-report-directory=") => {}
                    _ => out.push(a.clone()),
                }
            }
            if !has_action {
                out.splice(0..0, ["--action".to_string(), "backup".to_string()]);
            }
            return Ok(out);
        }
        "mysql-zrm-reporter" => {
            out.extend(["--action".to_string(), "report".to_string()]);
            let mut it = args.iter();
            while let Some(a) = it.next() {
                let body = a.trim_start_matches('-');
                let (key, inline) = match body.split_once('=') {
                    Some((k, v)) if k == "where" => (k, Some(v.to_string())),
                    _ => (body, None),
                };
                if key == "where" {
                    let cond = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| usage("--where needs a value"))?,
                    };
                    match cond.split_once('=') {
                        Some(("backup-set", set)) => {
                            out.extend(["--backup-set".to_string(), set.to_string()])
                        }
                        _ => {
                            return Err(usage(format!(
                                "--where {cond}: zrm's report selects by set only \
                                 (--where backup-set=SET); `zrm report --set SET --since TIME` \
                                 selects by time"
                            )))
                        }
                    }
                } else {
                    out.push(a.clone());
                }
            }
            return Ok(out);
        }
        _ => {}
    }
    if !has_action {
        let action = match name {
            "mysql-zrm-scheduler" => "schedule-backup",
            n => n.trim_start_matches("mysql-zrm-"),
        };
        out.extend(["--action".to_string(), action.to_string()]);
    }
    out.extend(args.iter().cloned());
    Ok(out)
}

/// How the process ends without running a command: its exit code and, for a failure, the
/// error it printed (for the log file's outcome line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub code: i32,
    pub error: Option<String>,
}

/// What `main` does around the zrm command a ZRM command line became.
#[derive(Debug, Clone, Default)]
pub struct Around {
    /// Mail the outcome afterwards.
    pub mail: Option<Mail>,
    /// Set `TMPDIR` before running.
    pub tmpdir: Option<String>,
    /// The backup set, for the mail's subject.
    pub set: Option<String>,
    /// The ZRM command line, for the mail.
    pub command: String,
}

impl Around {
    /// After the run: mail its outcome when the policy says so. A mail that cannot be sent is
    /// reported on stderr; the run's exit code stays.
    pub fn finish(&self, code: i32, error: Option<&str>) {
        let Some(mail) = &self.mail else { return };
        if !mail.policy.mails(code) {
            return;
        }
        let set = self.set.as_deref().unwrap_or(zrmconf::DEFAULT_SET);
        let subject = if code == 0 {
            format!("[ZRM for MySQL Report] backup-set {set}")
        } else {
            format!("[ZRM for MySQL Report] ERROR during {PROGRAM} run of backup-set {set}")
        };
        let mut body = format!(
            "command: {}\nbackup-set={set}\nexit code: {code} ({})\n",
            self.command,
            if code == 0 { "succeeded" } else { "failed" }
        );
        if let Some(e) = error {
            body.push_str(&format!("error: {e}\n"));
        }
        if let Err(e) = crate::notify::send(&mail.to, &subject, &body) {
            eprintln!("{PROGRAM}: error: cannot mail {}: {e}", mail.to);
        }
    }
}

/// `main`'s parser when invoked as `mysql-zrm` (or another of ZRM's program names): the
/// translated zrm command line, with the notes printed on stderr. `Err(done)`: the process is
/// done (help printed, or an error reported on stderr) and exits with `done.code`.
pub fn command_line(args: &[OsString]) -> std::result::Result<(Cli, Around), Done> {
    let name = program_name(args).unwrap_or_else(|| PROGRAM.to_string());
    let fail = |e: Error| {
        eprintln!("{name}: error: {e}");
        Done {
            code: e.exit_code(),
            error: Some(e.to_string()),
        }
    };
    let Some(args) = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        return Err(fail(usage("an argument is not valid UTF-8")));
    };
    let args = if name == PROGRAM {
        args
    } else {
        program_args(&name, &args).map_err(fail)?
    };
    let source = Source::Auto {
        root: zrmconf::conf_dir(),
        config_env: std::env::var_os("ZRM_CONFIG").is_some_and(|v| !v.is_empty()),
    };
    match translate_with(&args, &source) {
        Err(e) => Err(fail(e)),
        Ok(Translated::Help) => {
            print!("{USAGE}");
            Err(Done {
                code: 0,
                error: None,
            })
        }
        Ok(Translated::Run {
            argv,
            notes,
            mail,
            tmpdir,
        }) => {
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
            let set = argv
                .iter()
                .position(|w| w == "--set")
                .and_then(|i| argv.get(i + 1))
                .cloned();
            let cli = Cli::try_parse_from(&argv).map_err(|e| {
                let _ = e.print();
                Done {
                    code: e.exit_code(),
                    error: (e.exit_code() != 0)
                        .then(|| e.to_string().trim_start_matches("error: ").to_string()),
                }
            })?;
            let around = Around {
                mail,
                tmpdir,
                set,
                command: format!("{name} {}", crate::redact::mask_argv(&args).0.join(" ")),
            };
            Ok((cli, around))
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
#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> (Vec<String>, Vec<String>) {
        let args: Vec<String> = shell_split(line);
        match translate(&args).unwrap_or_else(|e| panic!("{line}: {e}")) {
            Translated::Run { argv, notes, .. } => (argv, notes),
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
        // A password never shows in the message; the message says it was exposed.
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("change the password"), "{e}");
        assert!(e.contains("mysql-zrm takes ZRM's settings"), "{e}");
        let e = err("--action list --backup-set s --frobnicate");
        assert!(e.contains("--frobnicate: not a mysql-zrm option"), "{e}");
        let e = err("--action check --backup-set s --backup-level 0");
        assert!(
            e.contains("--backup-level: goes with --action backup or --action schedule-backup"),
            "{e}"
        );
    }

    fn program(name: &str, line: &str) -> String {
        shell_words(&program_args(name, &shell_split(line)).unwrap())
    }

    #[test]
    fn zrm_program_names() {
        // The line ZRM's mysql-zrm-scheduler wrote into crontabs (two spaces where no level).
        assert_eq!(
            program(
                "zrm-pre-scheduler",
                "--action backup --backup-set dailyrun --backup-level 0 --interval daily"
            ),
            "--action backup --backup-set dailyrun --backup-level 0"
        );
        assert_eq!(
            argv(&program(
                "zrm-pre-scheduler",
                "--action backup --backup-set dailyrun  --interval weekly"
            )),
            "zrm backup --set dailyrun"
        );
        assert_eq!(
            argv(&program(
                "mysql-zrm-scheduler",
                "--now --backup-set localhost --backup-level 1"
            )),
            "zrm backup --set localhost --level 1"
        );
        assert_eq!(
            argv(&program(
                "mysql-zrm-reporter",
                "--where backup-set=localhost --show backup-status-info --type html"
            )),
            "zrm report --set localhost --view status --format html"
        );
        assert!(program_args(
            "mysql-zrm-reporter",
            &shell_split("--where backup-level=0 --show backup-status-info")
        )
        .unwrap_err()
        .to_string()
        .contains("selects by set only"));
        assert_eq!(
            argv(&program("mysql-zrm-list", "--backup-set s")),
            "zrm list --set s"
        );
        assert!(err(&program(
            "mysql-zrm-reporter",
            "--where backup-set=s --latest"
        ))
        .contains("--latest: zrm's report prints"));
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
        assert!(invoked_as_mysql_zrm(&a("mysql-zrm-reporter")));
        assert!(invoked_as_mysql_zrm(&a("/usr/bin/zrm-pre-scheduler")));
        assert!(!invoked_as_mysql_zrm(&a("mysql-zrm-frobnicate")));
    }
}
