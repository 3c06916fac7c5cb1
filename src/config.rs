//! Configuration: find the file, parse it strictly, and layer the options of one backup set.
//!
//! The order of precedence, lowest first, is fixed in one function, [`ConfigFile::resolve_set`]:
//! built-in defaults → `[defaults]` → `[sets.NAME]` → command line. An unknown key, a value of
//! the wrong type or an unknown set is an error naming the file, the line and the key: a typo in
//! a backup configuration must never be silently ignored.
//!
//! Relative paths in the file (repository path, password files) are relative to the directory
//! of the configuration file, so a configuration and its secrets can move together.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where the configuration is looked for when neither `--config` nor `$ZRM_CONFIG` is given.
pub const SYSTEM_CONFIG: &str = "/etc/zrm/zrm.toml";

/// The whole configuration file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub repository: RepositoryConfig,
    #[serde(default)]
    pub defaults: SetOptions,
    #[serde(default)]
    pub sets: BTreeMap<String, SetOptions>,
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterConfig>,
    #[serde(default)]
    pub tools: ToolsConfig,
    /// The file this was read from (not a key of the file).
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// A local directory.
    pub path: Option<PathBuf>,
    /// An object store URL (`s3://bucket/prefix`).
    pub url: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: Option<bool>,
    pub compression: Option<Compression>,
    /// zstd level (1–19); 1 by default: on two cores level 3 makes compression, not reading,
    /// the limit of a parallel dump, and on typical table data it saves little (see
    /// docs/BENCHMARKS.md).
    pub compression_level: Option<i32>,
    pub encryption_key_file: Option<PathBuf>,
    /// S3 storage class of new objects (`STANDARD_IA`, …).
    pub storage_class: Option<String>,
    /// A second repository every backup is replicated to (`replicate`, and after `backup`).
    pub replica: Option<ReplicaConfig>,
}

/// `[repository.replica]`: where `replicate` copies to by default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaConfig {
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: Option<bool>,
    pub storage_class: Option<String>,
}

/// `[tools]`: where each flavor's programs are, when not first on PATH (e.g. Oracle MySQL's
/// client tools on a Debian host, where `/usr/bin/mysqldump` is MariaDB's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    /// Directory of Oracle MySQL's `mysqldump`, `mysql`, `mysqlbinlog` (and `mysqld`).
    pub mysql_dir: Option<PathBuf>,
    /// Directory of MariaDB's `mariadb-dump`, `mariadb`, `mariadb-binlog` (and `mariadbd`).
    pub mariadb_dir: Option<PathBuf>,
}

pub use crate::location::{RepoLocation, S3Location};

/// `backup_from`: which of a set's `servers` a full backup is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupFrom {
    /// A healthy replica, or no backup.
    Replica,
    /// A healthy replica; the primary when none is fit.
    #[default]
    ReplicaOrPrimary,
    /// The primary.
    Primary,
}

impl fmt::Display for BackupFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackupFrom::Replica => "replica",
            BackupFrom::ReplicaOrPrimary => "replica-or-primary",
            BackupFrom::Primary => "primary",
        })
    }
}
pub use crate::manifest::{Compression, Method};

/// Declares the keys of a set (and of `[defaults]`, which has the same shape) once: the
/// [`SetOptions`] struct the TOML is read into, its layering ([`SetOptions::overlay`]: a key a
/// higher layer sets wins) and [`SET_KEYS`], the list the README's reference table and the
/// example `conf/zrm.toml` are tested against. Adding a key is adding one line here (and its
/// resolution in [`ConfigFile::resolve_set`], where it becomes a [`SetConfig`] field).
macro_rules! set_keys {
    ($( $(#[doc = $doc:literal])+ $key:ident: $ty:ty, )+) => {
        /// The options a set may carry; `[defaults]` has the same shape. Every field is
        /// optional so that layers can be merged; [`SetConfig`] is the resolved form.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct SetOptions {
            $( $(#[doc = $doc])+ pub $key: Option<$ty>, )+
        }

        impl SetOptions {
            /// `self` overlaid by `over`: every key `over` sets wins.
            pub fn overlay(self, over: &SetOptions) -> SetOptions {
                let o = over.clone();
                SetOptions { $( $key: o.$key.or(self.$key), )+ }
            }
        }

        /// Every key of `[defaults]` and `[sets.NAME]`, with its description.
        pub const SET_KEYS: &[(&str, &str)] = &[ $( (stringify!($key), concat!($($doc),+)), )+ ];
    };
}

set_keys! {
    /// TCP host of the server.
    host: String,
    /// TCP port.
    port: u16,
    /// Unix socket.
    socket: PathBuf,
    /// Several servers of one replication topology (`"host:port"`, or a socket path), instead
    /// of `host`/`port`/`socket`: a backup picks a healthy replica, binlog archiving follows
    /// the primary.
    servers: Vec<String>,
    /// With `servers`: where a full backup is taken, `replica`, `replica-or-primary` (the
    /// default: the primary only when no replica is fit) or `primary`.
    backup_from: BackupFrom,
    /// Account name.
    user: String,
    /// File holding the password (mode 0600).
    password_file: PathBuf,
    /// my.cnf-style file for user, password, host, port, socket (mode 0600).
    defaults_file: PathBuf,
    /// How full backups are taken.
    method: Method,
    /// Connections of the logical engine.
    parallel: usize,
    /// How long backups are kept.
    retention: RetentionPeriod,
    /// Full backups kept whatever their age.
    keep_full: u32,
    /// The databases backed up (default: all but the system schemas).
    databases: Vec<String>,
    /// `db` and `db.table` patterns left out.
    exclude: Vec<String>,
    /// `logical`: also back up accounts and their grants.
    include_users: bool,
    /// Seconds to wait for the momentary lock that lines up the snapshots.
    lock_timeout: u64,
    /// `logical`: target size of one data chunk, in MiB (uncompressed).
    chunk_size_mb: u64,
    /// `ebs`: the volumes and their region.
    ebs: EbsOptions,
    /// `lvm`: the volume and the snapshot's size.
    lvm: LvmOptions,
    /// `btrfs`: the subvolume and where its snapshot goes.
    btrfs: BtrfsOptions,
    /// A shell command run before each backup of the set; a non-zero exit aborts the backup.
    pre_backup: String,
    /// A shell command run after each backup of the set, whatever its outcome.
    post_backup: String,
    /// A Prometheus textfile-collector file, rewritten after every backup.
    metrics_file: PathBuf,
    /// Also write the log (with timestamps) to this file.
    log_file: PathBuf,
    /// When the server is a replica: the most seconds it may lag behind its source for a
    /// backup (default 300).
    max_replica_lag: u64,
    /// When the server is a replica: stop its SQL thread for the backup (exact source
    /// coordinates, no lag check; started again afterwards).
    replica_pause: bool,
    /// When the server is a replica: the set naming its primary. A coordinated cluster backup
    /// then takes its momentary cut on that primary and backs this replica up once its SQL
    /// thread has applied exactly up to the cut (`START REPLICA UNTIL`).
    primary: String,
    /// MiB per second a backup may read from the server (and so compress and upload), and a
    /// binlog archive may copy; default unlimited.
    max_rate: f64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EbsOptions {
    /// The volumes holding the datadir, InnoDB logs and binary logs.
    #[serde(default)]
    pub volumes: Vec<String>,
    pub region: Option<String>,
    /// An EC2-compatible endpoint instead of AWS's (tests: moto_server).
    pub endpoint: Option<String>,
    /// Also copy each snapshot to this region (disaster recovery).
    pub copy_to_region: Option<String>,
    /// The instance the volumes are attached to: required with several volumes, so that one
    /// multi-volume crash-consistent `CreateSnapshots` covers them all.
    pub instance_id: Option<String>,
    /// Seconds to wait for the snapshots to complete (default 3600).
    pub wait_timeout: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LvmOptions {
    /// `vg/lv` holding the datadir (default: found from the datadir's mount).
    pub volume: Option<String>,
    /// Copy-on-write space: a percent of the origin ("20%", the default) or a size ("8G").
    pub snapshot_size: Option<String>,
    /// Where the snapshot is mounted while it is copied (default: a private temp dir).
    pub mount_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BtrfsOptions {
    /// The subvolume holding the datadir (default: found by walking up from the datadir).
    pub subvolume: Option<PathBuf>,
    /// Where the read-only snapshot is created; on the same btrfs file system (default: next
    /// to the subvolume).
    pub snapshot_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    #[serde(default)]
    pub sets: Vec<String>,
    pub gsn: Option<GsnConfig>,
    pub parallel: Option<usize>,
    pub restore_targets: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GsnConfig {
    pub table: String,
    pub column: String,
}

/// A retention period such as `30d`: a number and one of h, d, w, m (30 days), y (365 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct RetentionPeriod {
    pub count: u32,
    pub unit: char,
}

impl RetentionPeriod {
    pub fn as_duration(&self) -> chrono::Duration {
        let n = i64::from(self.count);
        match self.unit {
            'h' => chrono::Duration::hours(n),
            'd' => chrono::Duration::days(n),
            'w' => chrono::Duration::weeks(n),
            'm' => chrono::Duration::days(30 * n),
            _ => chrono::Duration::days(365 * n),
        }
    }
}

impl FromStr for RetentionPeriod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "invalid retention '{s}': write a number and a unit h, d, w, m or y (e.g. \"30d\")"
            )
        };
        let unit = s.chars().last().ok_or_else(bad)?.to_ascii_lowercase();
        if !"hdwmy".contains(unit) {
            return Err(bad());
        }
        let count: u32 = s[..s.len() - 1].parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(bad());
        }
        Ok(RetentionPeriod { count, unit })
    }
}

impl From<RetentionPeriod> for String {
    fn from(r: RetentionPeriod) -> String {
        format!("{}{}", r.count, r.unit)
    }
}

impl fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit)
    }
}

impl<'de> Deserialize<'de> for RetentionPeriod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub use crate::connection::ConnectionConfig;

/// One backup set with every option resolved.
#[derive(Debug, Clone)]
pub struct SetConfig {
    pub name: String,
    /// The set's server; with `servers`, the first of them until a command picks one
    /// ([`crate::servers`]).
    pub connection: ConnectionConfig,
    /// `servers`: every server of the set (empty: only `connection`).
    pub servers: Vec<ConnectionConfig>,
    pub backup_from: BackupFrom,
    /// Which of `servers` `connection` is and why, once a command picked it (recorded in
    /// the backup's manifest).
    pub server_choice: Option<String>,
    pub method: Method,
    pub parallel: usize,
    pub retention: Option<RetentionPeriod>,
    pub keep_full: Option<u32>,
    /// `None`: every database but the system schemas.
    pub databases: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub include_users: bool,
    pub lock_timeout: std::time::Duration,
    /// Uncompressed bytes per data chunk (`logical`).
    pub chunk_bytes: u64,
    pub ebs: Option<EbsOptions>,
    pub lvm: Option<LvmOptions>,
    pub btrfs: Option<BtrfsOptions>,
    pub pre_backup: Option<String>,
    pub post_backup: Option<String>,
    pub metrics_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub max_replica_lag: u64,
    pub replica_pause: bool,
    /// The set of this replica's primary (coordinated cluster backups from replicas).
    pub primary: Option<String>,
    /// MiB/s; `None`: unlimited.
    pub max_rate: Option<f64>,
}

/// Built-in defaults, the lowest layer.
pub const DEFAULT_MAX_REPLICA_LAG_S: u64 = 300;
pub const DEFAULT_METHOD: Method = Method::Logical;
pub const DEFAULT_LOCK_TIMEOUT_S: u64 = 60;
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 1;
pub const DEFAULT_CHUNK_SIZE_MB: u64 = 64;
pub const DEFAULT_PARALLEL: usize = 4;
pub const DEFAULT_PORT: u16 = 3306;
pub const DEFAULT_USER: &str = "zrm";

impl ConfigFile {
    /// Where the configuration is: `--config`, then `$ZRM_CONFIG`, then `/etc/zrm/zrm.toml`;
    /// and which of them said so.
    pub fn locate(cli_path: Option<&Path>) -> (PathBuf, &'static str) {
        match (cli_path, std::env::var_os("ZRM_CONFIG")) {
            (Some(p), _) => (p.to_path_buf(), "--config"),
            (None, Some(p)) if !p.is_empty() => (PathBuf::from(p), "$ZRM_CONFIG"),
            _ => (PathBuf::from(SYSTEM_CONFIG), "the default location"),
        }
    }

    /// The `log_file` of `[defaults]` in the configuration zrm would load, read as far as
    /// that key and resolved as [`resolve_path`](Self::resolve_path) does: so that a command
    /// that failed before loading the configuration (an unknown key, a bad value, a usage
    /// error) or never loads it still has its outcome logged. `None` when the file cannot be
    /// read or is not TOML at all, or sets no `log_file`.
    pub fn log_file_leniently(cli_path: Option<&Path>) -> Option<PathBuf> {
        #[derive(Deserialize)]
        struct Only {
            defaults: Option<OnlyDefaults>,
        }
        #[derive(Deserialize)]
        struct OnlyDefaults {
            log_file: Option<PathBuf>,
        }
        let (path, _) = Self::locate(cli_path);
        let text = std::fs::read_to_string(&path).ok()?;
        let only: Only = toml::from_str(&text).ok()?;
        let log_file = only.defaults?.log_file?;
        let config = ConfigFile {
            source: path,
            ..Default::default()
        };
        Some(config.resolve_path(&log_file))
    }

    /// Find and load the configuration: `--config`, then `$ZRM_CONFIG`, then `/etc/zrm/zrm.toml`.
    pub fn locate_and_load(cli_path: Option<&Path>) -> Result<ConfigFile> {
        let (path, how) = Self::locate(cli_path);
        if !path.exists() {
            return Err(Error::Config(format!(
                "configuration file {} (from {how}) does not exist: create it (conf/zrm.toml \
                 in the zrm sources is a commented example) or pass --config FILE",
                path.display()
            )));
        }
        Self::load(&path)
    }

    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read configuration file {}: {e}",
                path.display()
            ))
        })?;
        let mut cfg = Self::parse(&text, path)?;
        cfg.source = path.to_path_buf();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse TOML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
        toml::from_str::<ConfigFile>(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("{}, line {line}", path.display())
                }
                None => path.display().to_string(),
            };
            Error::Config(format!(
                "invalid configuration in {location}: {}",
                e.message().trim()
            ))
        })
    }

    fn validate(&self) -> Result<()> {
        let file = self.source.display();
        if self.repository.path.is_some() && self.repository.url.is_some() {
            return Err(Error::Config(format!(
                "{file}: [repository] has both `path` and `url`: keep one"
            )));
        }
        if let Some(level) = self.repository.compression_level {
            if !(1..=19).contains(&level) {
                return Err(Error::Config(format!(
                    "{file}: [repository] compression_level = {level} is out of range: use 1 to 19"
                )));
            }
        }
        for (name, set) in &self.sets {
            for (key, given) in [
                ("log_file", set.log_file.is_some()),
                ("metrics_file", set.metrics_file.is_some()),
            ] {
                if given {
                    return Err(Error::Config(format!(
                        "{file}: [sets.{name}] sets `{key}`, which covers every set: move it to \
                         [defaults]"
                    )));
                }
            }
        }
        for (name, cluster) in &self.clusters {
            for set in &cluster.sets {
                if !self.sets.contains_key(set) {
                    return Err(Error::Config(format!(
                        "{file}: [clusters.{name}] names set '{set}', which is not defined \
                         (defined sets: {})",
                        self.set_names()
                    )));
                }
            }
        }
        Ok(())
    }

    fn set_names(&self) -> String {
        if self.sets.is_empty() {
            "none".to_string()
        } else {
            self.sets.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    /// The directory relative paths are resolved against.
    fn base_dir(&self) -> PathBuf {
        self.source
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Make a path from the file absolute: `~/` is the home directory, relative paths are
    /// relative to the configuration file.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        if let Ok(rest) = p.strip_prefix("~") {
            if let Some(home) = std::env::var_os("HOME") {
                return PathBuf::from(home).join(rest);
            }
        }
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }

    /// The `[tools]` directories, resolved like every path of the file.
    pub fn tool_dirs(&self) -> crate::mysql::tools::ToolDirs {
        crate::mysql::tools::ToolDirs {
            mysql: self
                .tools
                .mysql_dir
                .as_deref()
                .map(|p| self.resolve_path(p)),
            mariadb: self
                .tools
                .mariadb_dir
                .as_deref()
                .map(|p| self.resolve_path(p)),
        }
    }

    /// The local repository directory, or a clear error when none (or only S3) is configured.
    pub fn repository_location(&self) -> Result<RepoLocation> {
        let r = &self.repository;
        match (&r.path, &r.url) {
            (Some(p), _) => Ok(RepoLocation::Local(self.resolve_path(p))),
            (None, Some(url)) => self.s3_location(
                "[repository]",
                url,
                r.region.clone(),
                r.endpoint.clone(),
                r.path_style,
                r.storage_class.clone(),
            ),
            (None, None) => Err(Error::Config(format!(
                "{}: [repository] needs `path = \"/var/lib/zrm\"` (or `url = \"s3://bucket/prefix\"`)",
                self.source.display()
            ))),
        }
    }

    /// `[repository.replica]`, if configured.
    pub fn replica_location(&self) -> Result<Option<RepoLocation>> {
        let Some(r) = &self.repository.replica else {
            return Ok(None);
        };
        match (&r.path, &r.url) {
            (Some(p), None) => Ok(Some(RepoLocation::Local(self.resolve_path(p)))),
            (None, Some(url)) => self
                .s3_location(
                    "[repository.replica]",
                    url,
                    r.region.clone(),
                    r.endpoint.clone(),
                    r.path_style,
                    r.storage_class.clone(),
                )
                .map(Some),
            _ => Err(Error::Config(format!(
                "{}: [repository.replica] needs exactly one of `path` and `url`",
                self.source.display()
            ))),
        }
    }

    /// A `replicate --to` target: `s3://…` (region, endpoint and path style from
    /// `[repository.replica]`, else `[repository]`, unless given) or a local path.
    pub fn location_of(
        &self,
        target: &str,
        region: Option<String>,
        endpoint: Option<String>,
    ) -> Result<RepoLocation> {
        if target.starts_with("s3://") {
            let base = self.repository.replica.as_ref();
            let r = &self.repository;
            return self.s3_location(
                "--to",
                target,
                region
                    .or(base.and_then(|b| b.region.clone()))
                    .or(r.region.clone()),
                endpoint
                    .or(base.and_then(|b| b.endpoint.clone()))
                    .or(r.endpoint.clone()),
                base.and_then(|b| b.path_style).or(r.path_style),
                base.and_then(|b| b.storage_class.clone()),
            );
        }
        let path = target.strip_prefix("file://").unwrap_or(target);
        if path.contains("://") {
            return Err(Error::Usage(format!(
                "--to {target}: write s3://bucket/prefix or a local directory"
            )));
        }
        Ok(RepoLocation::Local(PathBuf::from(path)))
    }

    fn s3_location(
        &self,
        section: &str,
        url: &str,
        region: Option<String>,
        endpoint: Option<String>,
        path_style: Option<bool>,
        storage_class: Option<String>,
    ) -> Result<RepoLocation> {
        let (bucket, prefix) = S3Location::parse(url)
            .map_err(|e| Error::Config(format!("{}: {section}: {e}", self.source.display())))?;
        Ok(RepoLocation::S3(S3Location {
            bucket,
            prefix,
            region,
            endpoint,
            path_style: path_style.unwrap_or(false),
            storage_class,
        }))
    }

    /// The local repository directory (for messages and `check`), if the repository is local.
    pub fn repository_dir(&self) -> Result<PathBuf> {
        match self.repository_location()? {
            RepoLocation::Local(p) => Ok(p),
            RepoLocation::S3(l) => Err(Error::Usage(format!(
                "the repository is {}, not a local directory",
                l.url()
            ))),
        }
    }

    pub fn has_set(&self, name: &str) -> bool {
        self.sets.contains_key(name)
    }

    pub fn unknown_set(&self, name: &str) -> Error {
        Error::Config(format!(
            "set '{name}' is not defined in {} (defined sets: {}): add a [sets.{name}] section \
             or use one of those",
            self.source.display(),
            self.set_names()
        ))
    }

    /// The `servers` of a set, each with the set's account (and its port when an entry names
    /// none). `servers` replaces `host` and `socket`: both given is an error.
    fn servers_of(
        &self,
        name: &str,
        o: &SetOptions,
        base: &ConnectionConfig,
    ) -> Result<Vec<ConnectionConfig>> {
        let Some(list) = &o.servers else {
            return Ok(Vec::new());
        };
        let file = self.source.display();
        if o.host.is_some() || o.socket.is_some() {
            return Err(Error::Config(format!(
                "{file}: [sets.{name}] has both `servers` and `host`/`socket`: name every \
                 server in `servers` and leave `host` and `socket` out"
            )));
        }
        if list.is_empty() {
            return Err(Error::Config(format!(
                "{file}: [sets.{name}] servers = []: name at least one server (\"host:port\" \
                 or a socket path)"
            )));
        }
        let mut out: Vec<ConnectionConfig> = Vec::new();
        for entry in list {
            let mut c = base.clone();
            let e = entry.trim();
            if e.starts_with('/') || e.starts_with("~/") || e.starts_with("./") {
                c.host = None;
                c.socket = Some(self.resolve_path(Path::new(e)));
            } else {
                let (host, port) = match e.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
                        let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                            Error::Config(format!(
                                "{file}: [sets.{name}] servers: '{entry}' has no valid port: \
                                 write \"host:port\" (or a socket path)"
                            ))
                        })?;
                        (h.trim_matches(['[', ']']).to_string(), port)
                    }
                    _ => (e.to_string(), base.port),
                };
                if host.is_empty() {
                    return Err(Error::Config(format!(
                        "{file}: [sets.{name}] servers: '{entry}' names no host: write \
                         \"host:port\" (or a socket path)"
                    )));
                }
                c.host = Some(host);
                c.port = port;
                c.socket = None;
            }
            if out.iter().any(|o| o.same_endpoint(&c)) {
                return Err(Error::Config(format!(
                    "{file}: [sets.{name}] servers names '{entry}' twice"
                )));
            }
            out.push(c);
        }
        Ok(out)
    }

    /// Resolve one set: built-in defaults → `[defaults]` → `[sets.NAME]` → `cli`.
    /// Reads the password file or defaults file it names.
    pub fn resolve_set(&self, name: &str, cli: &SetOptions) -> Result<SetConfig> {
        let set = self.sets.get(name).ok_or_else(|| self.unknown_set(name))?;
        let merged = self.defaults.clone().overlay(set).overlay(cli);
        self.finish_set(name, merged)
    }

    fn finish_set(&self, name: &str, o: SetOptions) -> Result<SetConfig> {
        // A my.cnf-style defaults file supplies connection values that explicit keys override.
        let from_cnf = match &o.defaults_file {
            Some(p) => crate::mycnf::read_client_section(&self.resolve_path(p))?,
            None => crate::mycnf::ClientOptions::default(),
        };
        let password = match &o.password_file {
            Some(p) => Some(crate::secret::read_password_file(&self.resolve_path(p))?),
            None => from_cnf.password.clone(),
        };
        let socket = o
            .socket
            .as_deref()
            .map(|p| self.resolve_path(p))
            .or(from_cnf.socket.clone());
        let host = o.host.clone().or(from_cnf.host.clone());
        let connection = ConnectionConfig {
            // Neither host nor socket: the local server over TCP.
            host: if host.is_none() && socket.is_none() {
                Some("127.0.0.1".to_string())
            } else {
                host
            },
            port: o.port.or(from_cnf.port).unwrap_or(DEFAULT_PORT),
            socket,
            user: o
                .user
                .clone()
                .or(from_cnf.user.clone())
                .unwrap_or_else(|| DEFAULT_USER.to_string()),
            password,
        };
        let servers = self.servers_of(name, &o, &connection)?;
        let connection = servers.first().cloned().unwrap_or(connection);
        let parallel = o.parallel.unwrap_or(DEFAULT_PARALLEL);
        if parallel == 0 {
            return Err(Error::Config(format!(
                "{}: [sets.{name}] parallel = 0: use 1 or more",
                self.source.display()
            )));
        }
        Ok(SetConfig {
            name: name.to_string(),
            connection,
            servers,
            backup_from: o.backup_from.unwrap_or_default(),
            server_choice: None,
            method: o.method.unwrap_or(DEFAULT_METHOD),
            parallel,
            retention: o.retention,
            keep_full: o.keep_full,
            databases: o.databases,
            exclude: o.exclude.unwrap_or_default(),
            include_users: o.include_users.unwrap_or(false),
            lock_timeout: std::time::Duration::from_secs(
                o.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT_S).max(1),
            ),
            chunk_bytes: o.chunk_size_mb.unwrap_or(DEFAULT_CHUNK_SIZE_MB).max(1) << 20,
            ebs: o.ebs,
            lvm: o.lvm,
            btrfs: o.btrfs,
            pre_backup: o.pre_backup,
            post_backup: o.post_backup,
            metrics_file: o.metrics_file.map(|p| self.resolve_path(&p)),
            log_file: o.log_file.map(|p| self.resolve_path(&p)),
            max_replica_lag: o.max_replica_lag.unwrap_or(DEFAULT_MAX_REPLICA_LAG_S),
            replica_pause: o.replica_pause.unwrap_or(false),
            primary: o.primary,
            max_rate: match o.max_rate {
                Some(r) if !(r > 0.0 && r.is_finite()) => {
                    return Err(Error::Config(format!(
                        "{}: [sets.{name}] max_rate = {r}: give MiB per second, more than 0 \
                         (leave it out for no limit)",
                        self.source.display()
                    )))
                }
                r => r,
            },
        })
    }

    /// A set's retention, layered like every option but without reading any file (for
    /// listings, which must not depend on password files being readable).
    pub fn retention_of(&self, name: &str) -> Option<RetentionPeriod> {
        self.sets
            .get(name)
            .and_then(|s| s.retention)
            .or(self.defaults.retention)
    }

    /// A set's `keep_full`, layered like `retention_of` (no file is read: purge must not
    /// depend on a password file it does not need).
    pub fn keep_full_of(&self, name: &str) -> Option<u32> {
        self.sets
            .get(name)
            .and_then(|s| s.keep_full)
            .or(self.defaults.keep_full)
    }

    /// Connection defaults for an ad-hoc target (a `mysql://` URL): `[defaults]` only.
    pub fn default_credentials(&self) -> Result<SetConfig> {
        self.finish_set("(target)", self.defaults.clone())
    }

    pub fn repository_compression(&self) -> (Compression, i32) {
        (
            self.repository.compression.unwrap_or_default(),
            self.repository
                .compression_level
                .unwrap_or(DEFAULT_COMPRESSION_LEVEL),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile> {
        let mut c = ConfigFile::parse(text, Path::new("/etc/zrm/test.toml"))?;
        c.source = PathBuf::from("/etc/zrm/test.toml");
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn layering_defaults_then_set_then_cli() {
        let cfg = parse(
            r#"
[repository]
path = "/var/lib/zrm"
[defaults]
user = "backup"
method = "lvm"
parallel = 8
port = 3307
retention = "2w"
[sets.a]
host = "10.0.0.1"
method = "mysqldump"
[sets.b]
socket = "/run/mysqld/mysqld.sock"
"#,
        )
        .unwrap();
        let a = cfg.resolve_set("a", &SetOptions::default()).unwrap();
        assert_eq!(a.method, Method::Mysqldump, "set overrides defaults");
        assert_eq!(a.parallel, 8, "defaults fill what the set leaves out");
        assert_eq!(a.connection.port, 3307);
        assert_eq!(a.connection.user, "backup");
        assert_eq!(
            a.retention.unwrap().as_duration(),
            chrono::Duration::weeks(2)
        );
        let cli = SetOptions {
            method: Some(Method::Logical),
            ..Default::default()
        };
        let a = cfg.resolve_set("a", &cli).unwrap();
        assert_eq!(a.method, Method::Logical, "the command line wins");
        let b = cfg.resolve_set("b", &SetOptions::default()).unwrap();
        assert_eq!(b.method, Method::Lvm);
        assert_eq!(b.connection.host, None, "socket only: no host invented");
        assert_eq!(
            b.connection.display(),
            "backup@/run/mysqld/mysqld.sock",
            "display names the socket"
        );
    }

    #[test]
    fn servers_take_the_sets_account_and_port_and_exclude_host() {
        let cfg = parse(
            "[repository]\npath = \"r\"\n[sets.x]\nuser = \"b\"\nport = 3307\n\
             servers = [\"db1\", \"db2:3310\", \"/run/db3.sock\"]\nbackup_from = \"replica\"\n",
        )
        .unwrap();
        let x = cfg.resolve_set("x", &SetOptions::default()).unwrap();
        let shown: Vec<String> = x.servers.iter().map(|c| c.display()).collect();
        assert_eq!(shown, ["b@db1:3307", "b@db2:3310", "b@/run/db3.sock"]);
        assert_eq!(x.connection.display(), "b@db1:3307");
        assert_eq!(x.backup_from, BackupFrom::Replica);
        for (bad, says) in [
            (
                "servers = [\"a\"]\nhost = \"h\"",
                "both `servers` and `host`",
            ),
            ("servers = []", "at least one"),
            ("servers = [\"a:x\"]", "no valid port"),
            ("servers = [\"a\", \"a:3306\"]", "twice"),
        ] {
            let cfg = parse(&format!("[repository]\npath = \"r\"\n[sets.x]\n{bad}\n")).unwrap();
            let e = cfg
                .resolve_set("x", &SetOptions::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(says) && e.contains("[sets.x]"), "{bad}: {e}");
        }
        let e = parse("[sets.x]\nbackup_from = \"replicas\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn builtin_defaults_apply_when_nothing_is_set() {
        let cfg = parse("[repository]\npath = \"r\"\n[sets.x]\n").unwrap();
        let x = cfg.resolve_set("x", &SetOptions::default()).unwrap();
        assert_eq!(x.method, DEFAULT_METHOD);
        assert_eq!(x.parallel, DEFAULT_PARALLEL);
        assert_eq!(x.connection.port, 3306);
        assert_eq!(x.connection.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(cfg.repository_dir().unwrap(), PathBuf::from("/etc/zrm/r"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[repository]\npath = \"/x\"\n\n[sets.a]\nhost = \"h\"\nhots = \"h\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/zrm/test.toml, line 6"), "{err}");
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn wrong_type_names_line() {
        let err = parse("[defaults]\nport = \"3306\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn bad_retention_and_method_are_errors() {
        let err = parse("[defaults]\nretention = \"30x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid retention '30x'"), "{err}");
        let err = parse("[defaults]\nmethod = \"xtrabackup\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("xtrabackup"), "{err}");
    }

    #[test]
    fn unknown_set_lists_defined_sets() {
        let cfg = parse("[sets.one]\n[sets.two]\n").unwrap();
        let err = cfg
            .resolve_set("three", &SetOptions::default())
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        assert!(msg.contains("set 'three' is not defined"), "{msg}");
        assert!(msg.contains("one, two"), "{msg}");
    }

    #[test]
    fn cluster_naming_unknown_set_is_refused() {
        let err = parse("[sets.a]\n[clusters.c]\nsets = [\"a\", \"b\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[clusters.c] names set 'b'"), "{err}");
    }

    #[test]
    fn same_endpoint_normalises_localhost() {
        let mk = |host: &str, port| ConnectionConfig {
            host: Some(host.into()),
            port,
            socket: None,
            user: "u".into(),
            password: None,
        };
        assert!(mk("localhost", 3306).same_endpoint(&mk("127.0.0.1", 3306)));
        assert!(!mk("localhost", 3306).same_endpoint(&mk("127.0.0.1", 3307)));
    }
}
