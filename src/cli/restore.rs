//! `zrm restore`: a full logical backup into a target server.
//!
//! Binary-log replay (UNTIL) comes with the point-in-time issue; until then the UNTIL options
//! are refused with a clear message rather than ignored.

use std::collections::BTreeSet;
use std::time::Instant;

use clap::Args;

use super::Context;
use crate::catalog::{self, Manifest};
use crate::config::{ConnectionConfig, Method};
use crate::engine::mysqldump;
use crate::error::{Error, Result};
use crate::mysql::{self, ServerFacts};
use crate::output::{emit, emit_json, human_bytes};
use crate::repo::Repository;
use crate::restore::target::Target;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup set whose backups are restored
    #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
    pub set: Option<String>,
    /// Restore every shard of a cluster (not built yet)
    #[arg(long)]
    pub cluster: Option<String>,
    /// The backup id (default: the latest full backup)
    #[arg(long)]
    pub backup: Option<String>,
    /// Where to restore: a set name, mysql://user@host:port, or datadir:/path
    #[arg(long)]
    pub target: Option<String>,
    /// Restore only these databases (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub databases: Option<Vec<String>>,
    /// Allow replacing databases that exist on the target (they are dropped first)
    #[arg(long)]
    pub replace: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replay binary logs up to this time (not built yet)
    #[arg(long, value_name = "TIME")]
    pub until_time: Option<String>,
    /// Replay binary logs up to FILE:POS (not built yet)
    #[arg(long, value_name = "FILE:POS")]
    pub until_position: Option<String>,
    /// Replay binary logs up to this GTID (not built yet)
    #[arg(long, value_name = "GTID")]
    pub until_gtid: Option<String>,
    /// Replay up to a global sequence number (not built yet)
    #[arg(long, value_name = "N")]
    pub until_gsn: Option<u64>,
    /// Replay up to a named checkpoint (not built yet)
    #[arg(long, value_name = "NAME")]
    pub until_checkpoint: Option<String>,
    /// Include the transaction at the UNTIL point
    #[arg(long)]
    pub inclusive: bool,
}

pub async fn run(ctx: &Context, args: RestoreArgs) -> Result<i32> {
    if args.cluster.is_some() {
        return Err(Error::not_built(
            "`restore --cluster`",
            "restore each set with `zrm restore --set S`",
        ));
    }
    if args.until_time.is_some()
        || args.until_position.is_some()
        || args.until_gtid.is_some()
        || args.until_gsn.is_some()
        || args.until_checkpoint.is_some()
        || args.inclusive
    {
        return Err(Error::not_built(
            "binary log replay (--until-…)",
            "restore the full backup alone for now",
        ));
    }
    let config = ctx.config()?;
    let set_name = args
        .set
        .clone()
        .expect("clap requires --set without --cluster");
    crate::repo::check_component("set name", &set_name)?;
    if !config.has_set(&set_name) {
        return Err(config.unknown_set(&set_name));
    }
    let source = config.resolve_set(&set_name, &Default::default())?;
    let target_spec = args.target.as_deref().ok_or_else(|| {
        Error::Usage(format!(
            "restore needs --target (a set name, mysql://user@host:port, or datadir:/path); \
             zrm never picks the target for you, to keep a restore from landing on the source \
             (set '{set_name}' is {})",
            source.connection.display()
        ))
    })?;
    let target = Target::parse(target_spec, &config)?;

    let repo = Repository::open(&config, false)?;
    let manifest = match &args.backup {
        Some(id) => catalog::find_backup(&repo, &set_name, id)?,
        None => catalog::latest_full(&repo, &set_name)?.ok_or_else(|| {
            Error::Restore(format!(
                "set '{set_name}' has no complete full backup in {}: take one with \
                 `zrm backup --set {set_name}`",
                repo.describe()
            ))
        })?,
    };
    if manifest.level != 0 {
        return Err(Error::not_built(
            format!("restoring the incremental backup {}", manifest.id),
            "restore its full backup",
        ));
    }
    if manifest.method != Method::Mysqldump {
        return Err(Error::not_built(
            format!("restoring a '{}' backup", manifest.method),
            "only mysqldump backups restore in this version",
        ));
    }
    let (label, conn) = match target {
        Target::Server { label, conn } => (label, conn),
        Target::Datadir(p) => {
            return Err(Error::Usage(format!(
                "--target datadir:{} restores snapshot backups into a data directory; backup {} \
                 is a logical ({}) backup: restore it into a running server (a set name or \
                 mysql://user@host:port)",
                p.display(),
                manifest.id,
                manifest.method
            )))
        }
    };
    let databases = chosen_databases(&manifest, args.databases.as_deref())?;
    let mut session = mysql::connect(&conn).await?;
    let facts = ServerFacts::gather(&mut session).await?;
    if is_source_server(&conn, &facts, &source.connection).await && !args.replace {
        session.close().await;
        return Err(Error::Restore(format!(
            "the target {label} is the source server of set '{set_name}': restoring there \
             overwrites live data; if that is really what you want, add --replace"
        )));
    }
    let occupied = occupied_databases(&mut session, &databases).await?;
    if !occupied.is_empty() && !args.replace {
        session.close().await;
        let list = occupied
            .iter()
            .map(Occupied::describe)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Restore(format!(
            "refusing to restore into {label}: these databases exist and are not empty: {list}; \
             add --replace to drop and replace them, or restore elsewhere"
        )));
    }

    let backup_dir = Repository::backup_dir(&set_name, &manifest.id);
    if args.dry_run {
        session.close().await;
        return plan(ctx, &manifest, &label, &databases, &occupied, args.replace);
    }

    // Check every file before the first change on the target: a damaged backup must not cost
    // the user the databases that --replace would drop.
    for f in &manifest.files {
        let rel = format!("{backup_dir}/{}", f.path);
        tokio::task::block_in_place(|| {
            mysqldump::verify_file(&repo, &rel, f.stored_size, &f.sha256)
        })?;
    }
    if args.replace {
        for o in &occupied {
            ctx.note(&format!(
                "dropping database {} on {label} (--replace)",
                o.name
            ));
            session
                .exec(&format!(
                    "DROP DATABASE {}",
                    mysql::conn::quote_ident(&o.name)
                ))
                .await?;
        }
    }
    session.close().await;

    let started = Instant::now();
    let job = mysqldump::LoadJob {
        target: &conn,
        target_flavor: facts.flavor,
        manifest: &manifest,
        backup_dir,
        databases: args
            .databases
            .as_ref()
            .map(|_| databases.iter().cloned().collect::<BTreeSet<_>>()),
    };
    let progress = ctx.progress.start(&format!("restore {}", manifest.id));
    progress.set_total(Some(manifest.total_size()));
    let loaded = tokio::task::block_in_place(|| mysqldump::load(&repo, &job, progress.as_ref()));
    progress.finish();
    let loaded = loaded?;
    let secs = started.elapsed().as_secs_f64();
    if ctx.json() {
        emit_json(&serde_json::json!({
            "restored": manifest.id,
            "set": set_name,
            "target": label,
            "databases": databases,
            "bytes": loaded,
            "duration_s": secs,
            "consistent_point": manifest.consistent_point,
        }));
    } else {
        emit(&format!(
            "restored backup {} of set '{set_name}' into {label}: {} ({}) in {secs:.1}s\n\
             the data is as of the consistent point {}\n",
            manifest.id,
            databases.join(", "),
            human_bytes(loaded),
            manifest
                .consistent_point
                .as_ref()
                .map_or("(none recorded)".into(), |p| p.to_string())
        ));
    }
    Ok(0)
}

fn chosen_databases(m: &Manifest, wanted: Option<&[String]>) -> Result<Vec<String>> {
    let present: Vec<String> = m.databases.iter().map(|d| d.name.clone()).collect();
    match wanted {
        None => Ok(present),
        Some(w) => {
            let missing: Vec<_> = w.iter().filter(|d| !present.contains(d)).cloned().collect();
            if !missing.is_empty() {
                return Err(Error::Usage(format!(
                    "backup {} holds no database {}; it holds: {}",
                    m.id,
                    missing.join(", "),
                    present.join(", ")
                )));
            }
            Ok(w.to_vec())
        }
    }
}

/// Whether the target is the set's source server: the same endpoint, or (a socket and a TCP
/// port can reach one server) the same host name, port, data directory and server id.
async fn is_source_server(
    target: &ConnectionConfig,
    target_facts: &ServerFacts,
    source: &ConnectionConfig,
) -> bool {
    if target.same_endpoint(source) {
        return true;
    }
    // The source may be down (that is often why one restores): then it is not the target.
    let probe = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut s = mysql::connect(source).await.ok()?;
        let f = ServerFacts::gather(&mut s).await.ok();
        s.close().await;
        f
    });
    matches!(probe.await, Ok(Some(f)) if f.same_server(target_facts))
}

/// A database on the target that a restore would overwrite.
struct Occupied {
    name: String,
    tables: u64,
    views: u64,
    routines: u64,
}

impl Occupied {
    fn describe(&self) -> String {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if self.tables > 0 {
            parts.push(plural(self.tables, "table"));
        }
        if self.views > 0 {
            parts.push(plural(self.views, "view"));
        }
        if self.routines > 0 {
            parts.push(plural(self.routines, "routine"));
        }
        format!("{} ({})", self.name, parts.join(", "))
    }
}

/// Databases among `dbs` that exist on the target and hold tables, views or routines.
async fn occupied_databases(s: &mut mysql::Session, dbs: &[String]) -> Result<Vec<Occupied>> {
    let mut out = Vec::new();
    for db in dbs {
        let q = mysql::conn::quote_str(db);
        let exists = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {q}"
            ))
            .await?;
        if exists.as_deref() != Some("1") {
            continue;
        }
        let mut o = Occupied {
            name: db.clone(),
            tables: 0,
            views: 0,
            routines: 0,
        };
        for row in s
            .rows(&format!(
                "SELECT TABLE_TYPE, COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {q} GROUP BY TABLE_TYPE"
            ))
            .await?
        {
            let n: u64 = row.get(1).cloned().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
            match row.first().cloned().flatten().as_deref() {
                Some("VIEW") => o.views += n,
                _ => o.tables += n,
            }
        }
        o.routines = s
            .value(&format!(
                "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {q}"
            ))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if o.tables + o.views + o.routines > 0 {
            out.push(o);
        }
    }
    Ok(out)
}

fn plan(
    ctx: &Context,
    m: &Manifest,
    label: &str,
    databases: &[String],
    occupied: &[Occupied],
    replace: bool,
) -> Result<i32> {
    let drops: Vec<&String> = occupied.iter().map(|o| &o.name).collect();
    if ctx.json() {
        emit_json(&serde_json::json!({
            "dry_run": true,
            "backup": m.id,
            "set": m.set,
            "method": m.method,
            "target": label,
            "databases": databases,
            "drop_first": if replace { drops.clone() } else { vec![] },
            "files": m.files,
            "bytes": m.total_size(),
            "consistent_point": m.consistent_point,
        }));
    } else {
        let mut out = format!(
            "would restore backup {} of set '{}' ({}, taken {}) into {label}\n  databases: {}\n",
            m.id,
            m.set,
            m.method,
            m.start_time.format("%Y-%m-%d %H:%M:%S UTC"),
            databases.join(", ")
        );
        if replace && !drops.is_empty() {
            out.push_str(&format!(
                "  would first DROP: {}\n",
                drops
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for f in &m.files {
            out.push_str(&format!(
                "  file {} ({} to load)\n",
                f.path,
                human_bytes(f.size)
            ));
        }
        out.push_str(&format!(
            "  data as of the consistent point {}\n",
            m.consistent_point
                .as_ref()
                .map_or("(none)".into(), |p| p.to_string())
        ));
        emit(&out);
    }
    Ok(0)
}
