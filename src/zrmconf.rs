//! ZRM's configuration (`mysql-zrm.conf`), read as ZRM 2.1 read it, and the zrm.toml it becomes.
//!
//! ZRM read `/etc/mysql-zrm/mysql-zrm.conf`, then `/etc/mysql-zrm/<set>/mysql-zrm.conf`, then
//! `--options-file`, then the command line; a later value of a key wins ([`load`]). Lines are
//! `key=value`; a line starting with `#` is a comment; ZRM cut a line at its first `#` and took
//! one pair of double quotes off the value. One fix: a `#` inside a double-quoted value is kept
//! (ZRM cut passwords there).
//!
//! [`map_set`] says, for every ZRM key, what it becomes in zrm.toml or why it cannot become
//! anything: [`Effect::Refused`] keys change what is stored or how (encryption, plugins), so
//! `mysql-zrm` refuses to run with them rather than back up something else than asked.
//!
//! It must never write a password anywhere but a file of mode 0600, nor on any command line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::RetentionPeriod;
use crate::error::{Error, IoContext, Result};

/// Where ZRM's configuration lives; [`CONF_DIR_ENV`] overrides it (tests, a copied host).
pub const CONF_DIR: &str = "/etc/mysql-zrm";
/// The environment variable naming another directory than [`CONF_DIR`].
pub const CONF_DIR_ENV: &str = "ZRM_ZRM_CONF_DIR";
/// ZRM's set when `--backup-set` is not given.
pub const DEFAULT_SET: &str = "BackupSet1";
/// ZRM's `destination` when none is configured.
pub const DEFAULT_DESTINATION: &str = "/var/lib/mysql-zrm";
/// zrm's repository, inside ZRM's destination (next to ZRM's `<set>/` directories).
pub const REPOSITORY_DIR: &str = "zrm-repository";
/// The zrm.toml that `mysql-zrm` generates, in the set's directory of ZRM's configuration.
pub const GENERATED: &str = "zrm.toml";
/// The password file (mode 0600) a set's password moves into, in the set's directory.
pub const PASSWORD_FILE: &str = "zrm-password";
/// ZRM's file name, in [`CONF_DIR`] and in each set's directory.
pub const CONF_FILE: &str = "mysql-zrm.conf";

/// The directory of ZRM's configuration: `$ZRM_ZRM_CONF_DIR`, else `/etc/mysql-zrm`.
pub fn conf_dir() -> PathBuf {
    std::env::var_os(CONF_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CONF_DIR))
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    CommandLine,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::CommandLine => f.write_str("the command line"),
        }
    }
}

/// ZRM's settings of one set, every key with its value and where it came from.
#[derive(Debug, Clone, Default)]
pub struct ZrmSettings {
    pub values: BTreeMap<String, (String, Origin)>,
}

impl ZrmSettings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    pub fn set(&mut self, key: &str, value: &str, origin: Origin) {
        self.values
            .insert(key.to_string(), (value.to_string(), origin));
    }

    /// Whether a ZRM flag (`all-databases=1`, `replication=1`) is on.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| !matches!(v.trim(), "0" | "" | "no" | "false"))
    }
}

/// One `key=value` line of a ZRM file, as ZRM's `readOptionsFile` read it.
pub fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, value) = match line.split_once('=') {
        Some((k, v)) => (k.trim_end(), v.trim_start()),
        None => (line.split('#').next().unwrap_or("").trim_end(), ""),
    };
    let value = match value.strip_prefix('"').and_then(|v| v.split_once('"')) {
        // A double-quoted value: all of it, `#` included (ZRM cut it there).
        Some((quoted, _)) => quoted.to_string(),
        None => {
            let v = value.split('#').next().unwrap_or("").trim_end();
            let v = v.strip_prefix('"').unwrap_or(v);
            v.strip_suffix('"').unwrap_or(v).to_string()
        }
    };
    if key.is_empty() {
        return None;
    }
    Some((key.to_string(), value))
}

fn read_file(path: &Path, into: &mut ZrmSettings) -> Result<()> {
    let text = std::fs::read_to_string(path).at("read", path)?;
    for (i, line) in text.lines().enumerate() {
        if let Some((k, v)) = parse_line(line) {
            into.set(
                &k,
                &v,
                Origin::File {
                    path: path.to_path_buf(),
                    line: i + 1,
                },
            );
        }
    }
    Ok(())
}

/// The files ZRM reads for `set`, in ZRM's order, that exist (the options file must).
pub fn files(root: &Path, set: &str, options_file: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [root.join(CONF_FILE), root.join(set).join(CONF_FILE)]
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    out.extend(options_file.map(Path::to_path_buf));
    out
}

/// Whether ZRM's configuration is present for `set` under `root`.
pub fn present(root: &Path, set: &str) -> bool {
    !files(root, set, None).is_empty()
}

/// ZRM's settings of `set`: the global file, the set's file, the options file, then the
/// command line's `(key, value)` pairs.
pub fn load(
    root: &Path,
    set: &str,
    options_file: Option<&Path>,
    command_line: &[(String, String)],
) -> Result<ZrmSettings> {
    let mut s = ZrmSettings::default();
    if let Some(f) = options_file {
        if !f.is_file() {
            return Err(Error::Config(format!(
                "--options-file {}: no such file",
                f.display()
            )));
        }
    }
    for f in files(root, set, options_file) {
        read_file(&f, &mut s)?;
    }
    for (k, v) in command_line {
        s.set(k, v, Origin::CommandLine);
    }
    Ok(s)
}

/// The sets of ZRM's configuration: the directories of `root` that hold a `mysql-zrm.conf`.
pub fn sets_in(root: &Path) -> Vec<String> {
    let mut sets: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(CONF_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    sets.sort();
    sets
}

/// What one ZRM key becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A zrm.toml key of the set, and its value (TOML).
    Set(&'static str, String),
    /// The repository: `[repository] path`.
    Repository(PathBuf),
    /// A key of `[tools]` (`mysql_dir` or `mariadb_dir`) and its directory.
    Tools(&'static str, PathBuf),
    /// The password: moves into a 0600 file that `password_file` names.
    Password,
    /// Used by `mysql-zrm` on each run (action options, mail, tmpdir): not a zrm.toml key.
    ForRun(&'static str),
    /// Accepted, nothing to do in zrm (why).
    NoOp(String),
    /// zrm cannot do it without storing something else than ZRM did (why, what to do).
    Refused(String),
}

/// One ZRM key, its origin and what it becomes.
#[derive(Debug, Clone)]
pub struct KeyMapping {
    pub key: String,
    pub origin: Origin,
    pub effect: Effect,
}

/// A set's mapping: every key of its ZRM settings.
#[derive(Debug, Clone, Default)]
pub struct SetMapping {
    pub name: String,
    pub keys: Vec<KeyMapping>,
}

impl SetMapping {
    pub fn refused(&self) -> impl Iterator<Item = (&KeyMapping, &str)> {
        self.keys.iter().filter_map(|k| match &k.effect {
            Effect::Refused(r) => Some((k, r.as_str())),
            _ => None,
        })
    }

    /// The repository directory this set's destination gives.
    pub fn repository(&self) -> Option<&Path> {
        self.keys.iter().find_map(|k| match &k.effect {
            Effect::Repository(p) => Some(p.as_path()),
            _ => None,
        })
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = items.map(toml_str).collect();
    format!("[{}]", v.join(", "))
}

fn words(v: &str) -> impl Iterator<Item = &str> {
    v.split([' ', ',', '\t']).filter(|w| !w.is_empty())
}

/// ZRM's `retention-policy` (`N`, `ND`, `NW`, `NM`, `NY`) as zrm's retention.
fn retention(v: &str) -> std::result::Result<RetentionPeriod, String> {
    let v = v.trim();
    let v = if v.bytes().all(|b| b.is_ascii_digit()) {
        format!("{v}d")
    } else {
        v.to_ascii_lowercase()
    };
    v.parse()
}

const REMOTE: &str = "zrm runs no copy plugins and copies nothing over ssh or sockets: run \
    zrm on the database host (a logical backup also works over TCP with `host`)";
const PLUGIN: &str = "ZRM plugins take ZRM's arguments (--backup-directory …); zrm runs \
    shell commands: wrap the plugin in a script and set `pre_backup`/`post_backup` in zrm.toml \
    (`zrm import-config` writes one to edit)";

/// What every key of `s` becomes in zrm.toml.
pub fn map_set(name: &str, s: &ZrmSettings) -> SetMapping {
    let snapshot = s.get("snapshot-plugin").unwrap_or("");
    let raw = s.get("backup-mode").is_some_and(|m| m.trim() == "raw");
    let lvm = raw && (snapshot.contains("lvm") || s.get("lvm-snapshot").is_some());
    let mut keys = Vec::new();
    for (key, (value, origin)) in &s.values {
        let v = value.trim();
        use Effect::*;
        let effect = match key.as_str() {
            "user" => Set("user", toml_str(v)),
            "host" => Set("host", toml_str(v)),
            "socket" => Set("socket", toml_str(v)),
            "port" => match v.parse::<u16>() {
                Ok(p) => Set("port", p.to_string()),
                Err(_) => Refused(format!("port '{v}' is not a TCP port")),
            },
            "password" => Password,
            "passfile" => Set("password_file", toml_str(v)),
            "databases" if s.flag("all-databases") => {
                NoOp("all-databases is also set: every database is backed up, as ZRM did".into())
            }
            "databases" => Set("databases", toml_list(words(v))),
            "all-databases" => NoOp(
                "zrm backs up every database but the system schemas when `databases` is not set"
                    .into(),
            ),
            "database" if s.get("databases").is_some() || s.flag("all-databases") => {
                NoOp("databases or all-databases is also set and wins".into())
            }
            "database" => Set("databases", toml_list(std::iter::once(v))),
            "tables" => NoOp(
                "zrm backs up whole databases: every table of `database` is taken; restore some \
                 tables with `zrm restore --tables db.t`"
                    .into(),
            ),
            "exclude-pattern" => Set(
                "exclude",
                toml_list(
                    words(v)
                        .map(|w| w.replace('%', "*"))
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str),
                ),
            ),
            "backup-mode" if v == "logical" => Set("method", toml_str("logical")),
            "backup-mode" if raw && lvm => Set("method", toml_str("lvm")),
            "backup-mode" if raw && snapshot.contains("zfs") => Refused(
                "zrm has no ZFS snapshots: use `method = \"logical\"`, \"lvm\" or \"btrfs\"".into(),
            ),
            "backup-mode" if raw && !snapshot.is_empty() => Refused(format!(
                "snapshot plugin '{snapshot}' is not LVM's: zrm takes LVM, btrfs and EBS \
                 snapshots (`method`)"
            )),
            "backup-mode" if raw => Set("method", toml_str("logical")),
            "backup-mode" => Refused(format!("backup-mode '{v}': raw or logical")),
            "snapshot-plugin" if lvm => NoOp("LVM: `method = \"lvm\"`".into()),
            "snapshot-plugin" => NoOp("used only with backup-mode=raw".into()),
            "snapshot-size" | "lvm-snapshot" if lvm => {
                Set("lvm", format!("{{ snapshot_size = {} }}", toml_str(v)))
            }
            "snapshot-size" | "lvm-snapshot" => {
                NoOp("used only with an LVM snapshot (backup-mode=raw)".into())
            }
            "backup-type" if v == "regular" => NoOp("every zrm backup is regular".into()),
            "backup-type" if v == "quick" => NoOp(
                "zrm copies every snapshot into its repository: a quick backup becomes a \
                 regular one"
                    .into(),
            ),
            "backup-type" => Refused(format!("backup-type '{v}': regular or quick")),
            "compress" | "compress-plugin" | "compress-mysqldump-onthefly" => NoOp(
                "zrm always compresses (zstd), while dumping: `compression` in [repository]".into(),
            ),
            "encrypt" | "encrypt-plugin" | "decrypt-option" if key != "encrypt" || s.flag(key) => {
                Refused(
                    "zrm encrypts with its own key, not gpg: make one with `zrm key generate \
                     --out PATH` and set `encryption_key_file` in [repository] of a zrm.toml \
                     (`zrm import-config` writes one); without it backups would be stored \
                     unencrypted"
                        .into(),
                )
            }
            "encrypt" => NoOp("encryption is off".into()),
            "retention-policy" => match retention(v) {
                Ok(r) => Set("retention", toml_str(&r.to_string())),
                Err(e) => Refused(format!("retention-policy: {e}")),
            },
            "destination" => Repository(Path::new(v).join(REPOSITORY_DIR)),
            "replication" => NoOp(
                "zrm records the binary log coordinates and GTIDs of every backup in its \
                 manifest: no replication files to copy"
                    .into(),
            ),
            "routines" | "single-transaction" | "check-innodb" | "synchronous-checksum" => NoOp(
                "zrm's backups are always consistent, with routines, triggers and events, and \
                 checksummed"
                    .into(),
            ),
            "default-character-set" => {
                NoOp("zrm's dumps keep every character set as stored".into())
            }
            // MariaDB's client directory has mariadb-dump (and mysqldump as a link to it).
            "mysql-binpath" if Path::new(v).join("mariadb-dump").exists() => {
                Tools("mariadb_dir", PathBuf::from(v))
            }
            "mysql-binpath" if Path::new(v).join("mysqldump").exists() => {
                Tools("mysql_dir", PathBuf::from(v))
            }
            "mysql-binpath" => NoOp(format!(
                "no mysqldump or mariadb-dump in {v}: zrm finds the client tools on PATH"
            )),
            "mysql-binlog-path" => NoOp(
                "zrm reads the binary logs through the server (SHOW BINARY LOGS), not from a \
                 directory"
                    .into(),
            ),
            "ssl-options" => Refused(
                "zrm.toml has no TLS options for the server connection: connect over the \
                 socket or a trusted network"
                    .into(),
            ),
            "copy-plugin"
            | "ssh-user"
            | "remote-mysql-binpath"
            | "socket-remote-port"
            | "snapshot-device" => Refused(REMOTE.into()),
            "pre-backup-plugin" | "post-backup-plugin" | "pre-scheduler" => Refused(PLUGIN.into()),
            "pre-backup-plugin-options" | "post-backup-plugin-options" => {
                NoOp("options of a plugin (see the plugin's key)".into())
            }
            "parse-binlogs-plugin" | "parse-binlogs-plugin-options" => {
                NoOp("zrm parses binary logs itself".into())
            }
            "extra-mysqldump-options" => Refused(
                "zrm builds its dump commands itself and takes no extra mysqldump options".into(),
            ),
            "html-reports" | "html-report-directory" | "webserver-url" | "rss-header-location" => {
                NoOp("zrm writes reports on demand: `zrm report --format html` (no RSS)".into())
            }
            "retry-count" | "retry-delay" => NoOp(
                "zrm does not retry a failed backup: it exits 1 and the next run takes a new one"
                    .into(),
            ),
            "mailto" | "mail-policy" => {
                ForRun("mysql-zrm mails through the local sendmail after each run")
            }
            "tmpdir" => ForRun("mysql-zrm runs zrm with TMPDIR set to it"),
            "verbose" | "quiet" | "help" | "global" | "remove-options" | "backup-name"
            | "index" => ForRun("an option of the run, not a setting"),
            "backup-level" | "comment" | "source-directory" | "bin-logs" | "start-position"
            | "stop-position" | "offset" | "start-datetime" | "stop-datetime"
            | "mysql-shutdown" | "all-backups" | "till-lastfull" => {
                ForRun("an option of the action, not a setting")
            }
            _ => NoOp(
                "not a ZRM option: ZRM handed it to its plugins, and zrm runs none".to_string(),
            ),
        };
        keys.push(KeyMapping {
            key: key.clone(),
            origin: origin.clone(),
            effect,
        });
    }
    SetMapping {
        name: name.to_string(),
        keys,
    }
}

/// What to write: a zrm.toml and the password files it names.
#[derive(Debug, Clone)]
pub struct Generated {
    pub toml: String,
    /// (path, password): written with mode 0600.
    pub passwords: Vec<(PathBuf, String)>,
    pub sets: Vec<SetMapping>,
}

/// The zrm.toml of `sets` (each with its ZRM settings). The repository is the first set's
/// destination (`<destination>/zrm-repository`); password files go to
/// `<root>/<set>/zrm-password`. Every key that is not a zrm.toml key is a comment saying why.
pub fn generate(root: &Path, sets: &[(String, ZrmSettings)]) -> Generated {
    let mappings: Vec<SetMapping> = sets.iter().map(|(n, s)| map_set(n, s)).collect();
    let repo = mappings
        .first()
        .and_then(|m| m.repository().map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(DEFAULT_DESTINATION).join(REPOSITORY_DIR));
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# zrm.toml generated by zrm from ZRM's configuration in {}.\n\
         # Every ZRM key that is not a zrm.toml key is a comment below, with the reason.\n",
        root.display()
    );
    let _ = writeln!(
        t,
        "[repository]\npath = {}",
        toml_str(&repo.to_string_lossy())
    );
    let mut tools: Vec<(&str, &Path)> = Vec::new();
    for k in mappings.iter().flat_map(|m| &m.keys) {
        if let Effect::Tools(key, dir) = &k.effect {
            if !tools.iter().any(|(t, _)| t == key) {
                tools.push((key, dir));
            }
        }
    }
    if !tools.is_empty() {
        t.push_str("\n[tools]\n");
        for (key, dir) in tools {
            let _ = writeln!(t, "{key} = {}", toml_str(&dir.to_string_lossy()));
        }
    }
    let mut passwords = Vec::new();
    for ((name, settings), m) in sets.iter().zip(&mappings) {
        let _ = writeln!(t, "\n[sets.{}]", toml_str(name));
        let mut notes = String::new();
        let mut seen_keys: Vec<&str> = Vec::new();
        for k in &m.keys {
            match &k.effect {
                Effect::Set(key, value) => {
                    if !seen_keys.contains(key) {
                        seen_keys.push(key);
                        let _ = writeln!(t, "{key} = {value}");
                    }
                }
                Effect::Password => {
                    let path = root.join(name).join(PASSWORD_FILE);
                    let _ = writeln!(t, "password_file = {}", toml_str(&path.to_string_lossy()));
                    let pw = settings.get("password").unwrap_or_default().to_string();
                    passwords.push((path, pw));
                }
                Effect::Repository(p) if Some(p.as_path()) != Some(repo.as_path()) => {
                    let _ = writeln!(
                        notes,
                        "# ZRM `{}` ({}): this file keeps every set in {}; back up this set with \
                         its own file (`zrm import-config --set {name}`)",
                        k.key,
                        k.origin,
                        repo.display()
                    );
                }
                Effect::Repository(_) | Effect::Tools(..) => {}
                Effect::ForRun(why) => {
                    let _ = writeln!(notes, "# ZRM `{}` ({}): {why}", k.key, k.origin);
                }
                Effect::NoOp(why) => {
                    let _ = writeln!(notes, "# ZRM `{}` ({}): not mapped: {why}", k.key, k.origin);
                }
                Effect::Refused(why) => {
                    let _ = writeln!(notes, "# ZRM `{}` ({}): NOT MAPPED: {why}", k.key, k.origin);
                }
            }
        }
        t.push_str(&notes);
    }
    Generated {
        toml: t,
        passwords,
        sets: mappings,
    }
}

/// Write `g`: the zrm.toml at `path` and each password file, all mode 0600 (replaced
/// atomically, so a reader never sees half a file).
pub fn write(g: &Generated, path: &Path) -> Result<()> {
    for (p, pw) in &g.passwords {
        write_private(p, pw.as_bytes())?;
    }
    write_private(path, g.toml.as_bytes())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at("create", dir)?;
    }
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    // Per process: two runs of one set may write the same file at once.
    let tmp = path.with_extension(format!("zrm-new.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    crate::secret::write_private_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path).at("rename", &tmp)
}

/// `zrm import-config`: which of ZRM's sets, from where, into which file.
#[derive(Debug, Clone)]
pub struct ImportConfigRequest {
    /// ZRM's configuration directory (`/etc/mysql-zrm`).
    pub root: PathBuf,
    /// The sets; empty: every set of `root` (or ZRM's `BackupSet1` when it has none).
    pub sets: Vec<String>,
    /// ZRM's `--options-file`, read after each set's file.
    pub options_file: Option<PathBuf>,
    /// The zrm.toml to write (its password files go next to it: `<set>.password`).
    pub out: PathBuf,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// What `import_config` wrote.
#[derive(Debug, Clone)]
pub struct ImportConfigReport {
    pub out: PathBuf,
    pub password_files: Vec<PathBuf>,
    /// Per set: (set, key, origin, why) of every key that is not a zrm.toml key.
    pub not_mapped: Vec<(String, String, String, String)>,
    /// Keys refused (among `not_mapped`): the zrm.toml does less than ZRM did until edited.
    pub refused: usize,
}

/// Write the zrm.toml equivalent of ZRM's configuration (`zrm import-config`).
pub fn import_config(req: &ImportConfigRequest) -> Result<ImportConfigReport> {
    if req.out.exists() && !req.force {
        return Err(Error::Usage(format!(
            "{} exists: give another --out, or --force to replace it",
            req.out.display()
        )));
    }
    let mut names = req.sets.clone();
    if names.is_empty() {
        names = sets_in(&req.root);
    }
    if names.is_empty() {
        names.push(DEFAULT_SET.to_string());
    }
    if !req.root.join(CONF_FILE).is_file()
        && !names.iter().any(|n| present(&req.root, n))
        && req.options_file.is_none()
    {
        return Err(Error::Config(format!(
            "no ZRM configuration in {} (neither {CONF_FILE} nor <set>/{CONF_FILE}): give              --zrm-conf-dir DIR or ${CONF_DIR_ENV}",
            req.root.display()
        )));
    }
    let mut sets = Vec::new();
    for n in &names {
        sets.push((
            n.clone(),
            load(&req.root, n, req.options_file.as_deref(), &[])?,
        ));
    }
    let mut g = generate(&req.root, &sets);
    // The password files go next to the written file, named after their set.
    let dir = req
        .out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut moved = Vec::new();
    for (path, pw) in &mut g.passwords {
        let set = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let new = dir.join(format!("{set}.password"));
        g.toml = g.toml.replace(
            &toml_str(&path.to_string_lossy()),
            &toml_str(&new.to_string_lossy()),
        );
        moved.push((new.clone(), std::mem::take(pw)));
        *path = new;
    }
    g.passwords = moved;
    write(&g, &req.out)?;
    let mut not_mapped = Vec::new();
    let mut refused = 0;
    for m in &g.sets {
        for k in &m.keys {
            let why = match &k.effect {
                Effect::NoOp(w) | Effect::Refused(w) => w.clone(),
                Effect::ForRun(w) => w.to_string(),
                _ => continue,
            };
            if matches!(k.effect, Effect::Refused(_)) {
                refused += 1;
            }
            not_mapped.push((m.name.clone(), k.key.clone(), k.origin.to_string(), why));
        }
    }
    Ok(ImportConfigReport {
        out: req.out.clone(),
        password_files: g.passwords.iter().map(|(p, _)| p.clone()).collect(),
        not_mapped,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_zrm_read_them() {
        assert_eq!(
            parse_line(" host=\"localhost\" "),
            Some(("host".into(), "localhost".into()))
        );
        assert_eq!(
            parse_line("retention-policy = 10D # ten days"),
            Some(("retention-policy".into(), "10D".into()))
        );
        assert_eq!(parse_line("# user=x"), None);
        assert_eq!(parse_line("   "), None);
        assert_eq!(
            parse_line("password=\"a#b=c\""),
            Some(("password".into(), "a#b=c".into()))
        );
        assert_eq!(
            parse_line("databases=a b"),
            Some(("databases".into(), "a b".into()))
        );
    }

    fn settings(pairs: &[(&str, &str)]) -> ZrmSettings {
        let mut s = ZrmSettings::default();
        for (k, v) in pairs {
            s.set(k, v, Origin::CommandLine);
        }
        s
    }

    #[test]
    fn keys_map_or_say_why() {
        let s = settings(&[
            ("user", "backup"),
            ("password", "s3cret"),
            ("databases", "app crm"),
            ("retention-policy", "2W"),
            ("destination", "/backups"),
            ("encrypt", "1"),
            ("mailto", "dba@example.com"),
            ("backup-mode", "raw"),
            (
                "snapshot-plugin",
                "/usr/share/mysql-zrm/plugins/lvm-snapshot.pl",
            ),
            ("snapshot-size", "20%"),
        ]);
        let g = generate(Path::new("/etc/mysql-zrm"), &[("daily".into(), s)]);
        let t = &g.toml;
        assert!(t.contains("path = \"/backups/zrm-repository\""), "{t}");
        assert!(t.contains("user = \"backup\""), "{t}");
        assert!(t.contains("databases = [\"app\", \"crm\"]"), "{t}");
        assert!(t.contains("retention = \"2w\""), "{t}");
        assert!(t.contains("method = \"lvm\""), "{t}");
        assert!(t.contains("lvm = { snapshot_size = \"20%\" }"), "{t}");
        assert!(
            t.contains("password_file = \"/etc/mysql-zrm/daily/zrm-password\""),
            "{t}"
        );
        assert!(!t.contains("s3cret"), "{t}");
        assert!(
            t.contains("# ZRM `encrypt` (the command line): NOT MAPPED"),
            "{t}"
        );
        assert!(t.contains("# ZRM `mailto`"), "{t}");
        assert_eq!(g.passwords[0].1, "s3cret");
        assert_eq!(g.sets[0].refused().count(), 1);
        // The generated file is a valid zrm configuration.
        let cfg = crate::config::ConfigFile::parse(t, Path::new("/x/zrm.toml")).unwrap();
        assert!(cfg.has_set("daily"));
    }

    #[test]
    fn retention_policies() {
        assert_eq!(retention("10").unwrap().to_string(), "10d");
        assert_eq!(retention("3M").unwrap().to_string(), "3m");
        assert_eq!(retention("1Y").unwrap().to_string(), "1y");
        assert!(retention("x").is_err());
    }
}
