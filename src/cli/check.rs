//! `zrm check --set S`: every fact a backup depends on, each with a verdict and the fix.

use clap::Args;
use serde::Serialize;

use super::Context;
use crate::config::{Method, SetConfig};
use crate::error::Result;
use crate::manifest::Flavor;
use crate::mysql::{self, privileges, tools, ServerFacts};
use crate::output::{emit, emit_json};
use crate::repo::Backend;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The backup set to check
    #[arg(long)]
    pub set: String,
    /// Check as if this method were configured
    #[arg(long, value_enum)]
    pub method: Option<Method>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Serialize)]
pub struct CheckItem {
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Default)]
struct Report {
    items: Vec<CheckItem>,
}

impl Report {
    fn add(
        &mut self,
        check: &str,
        verdict: Verdict,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.items.push(CheckItem {
            check: check.into(),
            verdict,
            detail: detail.into(),
            fix,
        });
    }
}

pub async fn run(ctx: &Context, args: CheckArgs) -> Result<i32> {
    let config = ctx.config()?;
    let set = config.resolve_set(&args.set, &super::method_override(args.method))?;
    let mut r = Report::default();
    r.add(
        "configuration",
        Verdict::Ok,
        config.source.display().to_string(),
        None,
    );

    match config.repository_location() {
        Ok(crate::config::RepoLocation::Local(dir)) => {
            let probe = crate::repo::local::LocalBackend::new(dir.clone(), false)
                .and_then(|b| b.probe_writable());
            match probe {
                Ok(()) if dir.exists() => r.add(
                    "repository",
                    Verdict::Ok,
                    format!("{} is writable", dir.display()),
                    None,
                ),
                Ok(()) => r.add(
                    "repository",
                    Verdict::Ok,
                    format!(
                        "{} does not exist yet; the first backup creates it",
                        dir.display()
                    ),
                    None,
                ),
                Err(e) => r.add(
                    "repository",
                    Verdict::Error,
                    e.to_string(),
                    Some(format!(
                        "create {} and make it writable for the user running zrm",
                        dir.display()
                    )),
                ),
            }
        }
        Ok(loc @ crate::config::RepoLocation::S3(_)) => {
            let probe = tokio::task::block_in_place(|| {
                crate::repo::backend_at(&loc, false).and_then(|b| b.probe_writable())
            });
            match probe {
                Ok(()) => r.add(
                    "repository",
                    Verdict::Ok,
                    format!("{} is writable", loc.describe()),
                    None,
                ),
                Err(e) => r.add("repository", Verdict::Error, e.to_string(), None),
            }
        }
        Err(e) => r.add("repository", Verdict::Error, e.to_string(), None),
    }

    r.add("method", Verdict::Ok, set.method.to_string(), None);

    let set = if set.servers.is_empty() {
        set
    } else {
        check_servers(&mut r, &set).await
    };
    check_server(&mut r, &config, &set).await;

    let failed = r.items.iter().any(|i| i.verdict == Verdict::Error);
    crate::logfile::result(if failed {
        format!(
            "FAILED: set '{}' has problems to fix: {}",
            set.name,
            r.items
                .iter()
                .filter(|i| i.verdict == Verdict::Error)
                .map(|i| format!("{}: {}", i.check, i.detail))
                .collect::<Vec<_>>()
                .join("; ")
        )
    } else {
        format!("OK: set '{}' is ready for backups", set.name)
    });
    if ctx.json() {
        emit_json(&serde_json::json!({ "set": set.name, "ok": !failed, "checks": r.items }));
    } else {
        let mut out = String::new();
        for i in &r.items {
            let tag = match i.verdict {
                Verdict::Ok => "ok     ",
                Verdict::Info => "info   ",
                Verdict::Warning => "WARNING",
                Verdict::Error => "ERROR  ",
            };
            out.push_str(&format!("{tag} {:<26} {}\n", i.check, i.detail));
            if let Some(fix) = &i.fix {
                out.push_str(&format!("        {:<26} fix: {fix}\n", ""));
            }
        }
        out.push_str(&format!(
            "{}: set '{}' {}\n",
            if failed { "FAILED" } else { "OK" },
            set.name,
            if failed {
                "has problems to fix (see ERROR lines)"
            } else {
                "is ready for backups"
            }
        ));
        emit(&out);
    }
    Ok(if failed { 1 } else { 0 })
}

/// A set with several servers: each one's role, and which of them a backup and the binlog
/// archive would use. Returns the set pointed at the backup's server (else the primary), for
/// the checks of one server that follow.
async fn check_servers(r: &mut Report, set: &SetConfig) -> SetConfig {
    use crate::servers::{self, Role};
    let probes = servers::probe(set).await;
    for (i, p) in probes.iter().enumerate() {
        let verdict = match &p.role {
            Role::Unreachable { .. } | Role::Replica { unfit: Some(_), .. } => Verdict::Warning,
            _ => Verdict::Info,
        };
        r.add(&format!("server {}", i + 1), verdict, p.describe(), None);
    }
    let mut pointed = set.clone();
    let primary = servers::choose_primary(&set.name, &probes);
    match servers::choose_backup(&set.name, set.backup_from, &probes) {
        Ok(c) => {
            r.add("backup from", Verdict::Ok, c.why.clone(), None);
            pointed.connection = c.conn;
        }
        Err(e) => {
            r.add(
                "backup from",
                Verdict::Error,
                e.to_string(),
                Some("fix replication of a replica, or change backup_from".into()),
            );
            if let Ok(p) = &primary {
                pointed.connection = p.conn.clone();
            }
        }
    }
    match primary {
        Ok(p) => r.add("binlog archive from", Verdict::Ok, p.why, None),
        Err(e) => r.add("binlog archive from", Verdict::Error, e.to_string(), None),
    }
    pointed
}

async fn check_server(r: &mut Report, config: &crate::config::ConfigFile, set: &SetConfig) {
    let mut s = match mysql::connect(&set.connection).await {
        Ok(s) => {
            r.add("connection", Verdict::Ok, set.connection.display(), None);
            s
        }
        Err(e) => {
            r.add("connection", Verdict::Error, e.to_string(), None);
            return;
        }
    };
    let facts = match ServerFacts::gather(&mut s).await {
        Ok(f) => f,
        Err(e) => {
            r.add("server facts", Verdict::Error, e.to_string(), None);
            return;
        }
    };
    r.add(
        "server",
        Verdict::Info,
        format!(
            "{} {} ({})",
            facts.flavor, facts.version, facts.version_comment
        ),
        None,
    );
    if facts.server_id == 0 {
        r.add(
            "server_id",
            Verdict::Error,
            "0",
            Some("set a unique non-zero server_id in my.cnf and restart".into()),
        );
    } else {
        r.add("server_id", Verdict::Ok, facts.server_id.to_string(), None);
    }
    if facts.log_bin {
        r.add("log_bin", Verdict::Ok, "ON", None);
    } else {
        r.add(
            "log_bin",
            Verdict::Error,
            "OFF: without binary logs there is no point-in-time recovery and no consistent point",
            Some("add `log_bin = mysql-bin` and `server_id = N` under [mysqld] in my.cnf and restart".into()),
        );
    }
    match facts.binlog_format.as_str() {
        "ROW" => r.add("binlog_format", Verdict::Ok, "ROW", None),
        other => r.add(
            "binlog_format",
            Verdict::Warning,
            format!("{other}: replay works, but the analyzer and GSN search see rows only in ROW format"),
            Some("SET GLOBAL binlog_format = 'ROW' (and binlog_format = ROW in my.cnf)".into()),
        ),
    }
    match facts.flavor {
        Flavor::MariaDB => r.add(
            "gtid",
            Verdict::Ok,
            format!(
                "domain {} ({}), position {}",
                facts.gtid_domain_id.unwrap_or(0),
                facts.gtid_mode,
                facts.gtid_position.as_deref().unwrap_or("empty")
            ),
            None,
        ),
        Flavor::MySQL if facts.gtid_mode == "ON" => {
            r.add("gtid", Verdict::Ok, "gtid_mode ON", None)
        }
        Flavor::MySQL => r.add(
            "gtid",
            Verdict::Warning,
            format!(
                "gtid_mode {}: restores stop at file positions only",
                facts.gtid_mode
            ),
            Some("enable enforce_gtid_consistency and gtid_mode = ON".into()),
        ),
    }
    match crate::mysql::replication::ReplicationState::gather(&mut s, facts.flavor).await {
        Ok(state) => {
            use crate::mysql::replication::Severity;
            for f in state.findings(facts.flavor) {
                let verdict = match f.severity {
                    Severity::Ok => Verdict::Ok,
                    Severity::Info => Verdict::Info,
                    Severity::Warning => Verdict::Warning,
                    Severity::Error => Verdict::Error,
                };
                r.add(&f.check, verdict, f.detail, f.fix);
            }
        }
        Err(e) => r.add("replication", Verdict::Warning, e.to_string(), None),
    }
    r.add("datadir", Verdict::Info, facts.datadir.clone(), None);
    r.add(
        "time zone",
        Verdict::Info,
        facts.effective_time_zone(),
        None,
    );

    let dbs = match &set.databases {
        Some(d) => d.clone(),
        None => mysql::facts::user_databases(&mut s)
            .await
            .unwrap_or_default(),
    };
    if dbs.is_empty() {
        r.add(
            "databases",
            Verdict::Warning,
            "no application database to back up",
            None,
        );
    } else {
        r.add("databases", Verdict::Info, dbs.join(", "), None);
    }

    match privileges::Grants::of_current_user(&mut s).await {
        Ok(grants) => {
            let user = &set.connection.user;
            let needs = match set.method {
                crate::config::Method::Logical => privileges::needed_for_logical(facts.flavor),
                crate::config::Method::Mysqldump => privileges::needed_for_dump(facts.flavor),
                _ => privileges::needed_for_snapshot(facts.flavor),
            };
            for need in needs {
                let ok = need.any_of.iter().any(|p| grants.has(p, &dbs));
                if ok {
                    r.add(
                        &format!("privilege {}", need.any_of[0]),
                        Verdict::Ok,
                        need.why,
                        None,
                    );
                } else {
                    r.add(
                        &format!("privilege {}", need.any_of[0]),
                        Verdict::Error,
                        format!("missing: needed to {}", need.why),
                        Some(format!("GRANT {} ON *.* TO '{user}'@'…'", need.any_of[0])),
                    );
                }
            }
            for need in privileges::needed_for_binlogs(facts.flavor) {
                if !need.any_of.iter().any(|p| grants.has(p, &dbs)) {
                    r.add(
                        &format!("privilege {}", need.any_of[0]),
                        Verdict::Warning,
                        format!("missing: needed to {}", need.why),
                        Some(format!("GRANT {} ON *.* TO '{user}'@'…'", need.any_of[0])),
                    );
                }
            }
        }
        Err(e) => r.add(
            "privileges",
            Verdict::Warning,
            format!("cannot read grants: {e}"),
            None,
        ),
    }
    if matches!(
        set.method,
        crate::config::Method::Btrfs | crate::config::Method::Lvm | crate::config::Method::Ebs
    ) {
        check_volume(r, set, &mut s).await;
    }
    if facts.log_bin {
        check_archive(r, config, set, &facts, &mut s).await;
    }
    s.close().await;

    let tool_checks: [(&str, &[&'static str], Verdict); 3] = [
        ("dump tool", tools::dump_names(facts.flavor), Verdict::Error),
        (
            "client tool",
            tools::client_names(facts.flavor),
            Verdict::Error,
        ),
        (
            "binlog tool",
            tools::binlog_names(facts.flavor),
            Verdict::Warning,
        ),
    ];
    if let Some(dir) = config.tool_dirs().of_flavor(facts.flavor) {
        if !dir.is_dir() {
            r.add(
                "tools directory",
                Verdict::Error,
                format!(
                    "{} (configured for {}) is not a directory",
                    dir.display(),
                    facts.flavor
                ),
                Some(format!("fix [tools] in {}", config.source.display())),
            );
        }
    }
    for (what, names, missing) in tool_checks {
        let lookup = tools::locate(names, facts.flavor);
        match &lookup {
            tools::Lookup::Found(t) => r.add(
                what,
                Verdict::Ok,
                format!(
                    "{} ({}, {})",
                    t.path.display(),
                    t.version().unwrap_or_default(),
                    facts.flavor
                ),
                None,
            ),
            // A program of the other flavor fails half-way through a backup or an archive:
            // always an error.
            tools::Lookup::WrongFlavor(paths) => r.add(
                what,
                Verdict::Error,
                format!(
                    "{} is not {}'s own program and cannot serve this {} server",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    facts.flavor,
                    facts.flavor
                ),
                Some(tools::remedy(facts.flavor)),
            ),
            tools::Lookup::Missing => r.add(
                what,
                missing,
                format!("none of {} found", names.join(", ")),
                Some(tools::remedy(facts.flavor)),
            ),
        }
    }
}

/// The binlog archive against the server: how far it reaches, and any gap.
async fn check_archive(
    r: &mut Report,
    config: &crate::config::ConfigFile,
    set: &SetConfig,
    facts: &crate::mysql::ServerFacts,
    s: &mut crate::mysql::Session,
) {
    use crate::binlog::coverage::{self, Level};
    let server_files = match crate::binlog::archive::server_binlogs(s).await {
        Ok(f) => f,
        Err(e) => return r.add("binlog archive", Verdict::Error, e.to_string(), None),
    };
    let indexes = match crate::repo::Repository::open(config, false) {
        Ok(repo) => tokio::task::block_in_place(|| {
            crate::binlog::archive_index::load_all(&repo, &set.name, facts.server_id)
        }),
        // Before the first backup there is no repository: nothing is archived yet.
        Err(e) if crate::repo::is_missing_repository(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    let c = match indexes {
        Ok(indexes) => {
            let mut c = coverage::assess(&indexes, Some(&server_files), None);
            if let Ok(repo) = crate::repo::Repository::open(config, false) {
                tokio::task::block_in_place(|| coverage::add_timeline(&repo, &set.name, &mut c));
            }
            c
        }
        Err(e) => {
            return r.add(
                "binlog archive",
                Verdict::Error,
                format!("the archive's indexes cannot be read: {e}"),
                Some(format!(
                    "`zrm verify --set {}` checks the archive",
                    set.name
                )),
            )
        }
    };
    let fix = format!(
        "run `zrm binlog archive --set {0}` from cron, or `zrm binlog archive --set {0} --follow` as a service",
        set.name
    );
    for k in &c.crashed {
        r.add("binlog archive", Verdict::Info, k.clone(), None);
    }
    match c.level {
        Level::Ok | Level::Behind if c.archived_files == 0 => r.add(
            "binlog archive",
            Verdict::Warning,
            format!(
                "no binlog of this server is archived yet ({} closed file(s) on the server): \
                 point-in-time recovery needs them",
                c.unarchived.len()
            ),
            Some(fix),
        ),
        Level::Ok => r.add("binlog archive", Verdict::Ok, c.summary(), None),
        Level::Behind | Level::Unknown => r.add(
            "binlog archive",
            Verdict::Warning,
            c.warning(&set.name).unwrap_or_default(),
            Some(fix),
        ),
        Level::Broken => r.add(
            "binlog archive",
            Verdict::Error,
            c.warning(&set.name).unwrap_or_default(),
            Some("take a full backup to start a new chain, and keep the archive running".into()),
        ),
    }
}

/// Whether the datadir sits on a volume the set's snapshot method can snapshot.
async fn check_volume(r: &mut Report, set: &SetConfig, s: &mut mysql::Session) {
    use crate::engine::snapshot::{self, btrfs, ebs, lvm, runner};
    use std::sync::Arc;
    let paths = match snapshot::ServerPaths::read(s).await {
        Ok(p) => p,
        Err(e) => return r.add("snapshot volume", Verdict::Error, e.to_string(), None),
    };
    if set.method != crate::config::Method::Ebs {
        if let Err(e) = paths.check_innodb_inside_datadir(&set.name) {
            r.add("snapshot volume", Verdict::Error, e.to_string(), None);
        }
    }
    let planned: crate::error::Result<String> = match set.method {
        crate::config::Method::Btrfs => {
            btrfs::Btrfs::plan(Arc::new(runner::SystemRunner), &paths, set, "check").and_then(|b| {
                match runner::find_program("btrfs") {
                    Some(_) => Ok(format!(
                        "datadir {} is in btrfs subvolume {}",
                        paths.datadir.display(),
                        b.subvolume().display()
                    )),
                    None => Err(crate::error::Error::Backup(
                        "the `btrfs` command is missing: install btrfs-progs".into(),
                    )),
                }
            })
        }
        crate::config::Method::Lvm => {
            lvm::Lvm::plan(Arc::new(runner::SystemRunner), &paths, set, "check").map(|l| {
                use crate::engine::snapshot::VolumeSnapshot;
                format!("datadir {} is on {}", paths.datadir.display(), l.describe())
            })
        }
        _ => ebs::Ebs::plan(set, "check", "").await.map(|e| {
            use crate::engine::snapshot::VolumeSnapshot;
            format!("{} found in region {}", e.describe(), e.record().region)
        }),
    };
    match planned {
        Ok(detail) => r.add("snapshot volume", Verdict::Ok, detail, None),
        Err(e) => r.add("snapshot volume", Verdict::Error, e.to_string(), None),
    }
}
