//! `zrm list` (the catalog) and `zrm show` (one manifest).

use clap::Args;

use super::Context;
use crate::catalog::{self, CatalogEntry, Manifest};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, human_bytes, table};
use crate::repo::Repository;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this set
    #[arg(long)]
    pub set: Option<String>,
    /// Only the sets of this cluster
    #[arg(long, conflicts_with = "set")]
    pub cluster: Option<String>,
    /// Also list interrupted (incomplete) and unreadable backups
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// The backup id (as listed), or `latest`
    pub id: String,
}

/// Which sets to list: one, a cluster's, or every set the repository or the config knows.
fn sets_to_list(config: &ConfigFile, repo: &Repository, args: &ListArgs) -> Result<Vec<String>> {
    if let Some(s) = &args.set {
        crate::repo::check_component("set name", s)?;
        return Ok(vec![s.clone()]);
    }
    if let Some(c) = &args.cluster {
        let cluster = config.clusters.get(c).ok_or_else(|| {
            Error::Config(format!(
                "cluster '{c}' is not defined in {}",
                config.source.display()
            ))
        })?;
        return Ok(cluster.sets.clone());
    }
    let mut sets = catalog::sets_in_repo(repo)?;
    for s in config.sets.keys() {
        if !sets.contains(s) {
            sets.push(s.clone());
        }
    }
    sets.sort();
    Ok(sets)
}

/// When retention lets this backup go (`None`: kept until removed by hand). A set no longer
/// in the configuration has no retention.
fn expires(config: &ConfigFile, m: &Manifest) -> Option<chrono::DateTime<chrono::Utc>> {
    Some(m.end_time + config.retention_of(&m.set)?.as_duration())
}

pub fn run_list(ctx: &Context, args: ListArgs) -> Result<i32> {
    let config = ctx.config()?;
    let repo = match Repository::open(&config, false) {
        Ok(r) => r,
        // An empty catalog is not a failure: nothing has been backed up yet.
        Err(Error::Repository(msg)) if msg.starts_with("no zrm repository") => {
            if ctx.json() {
                emit_json(&serde_json::json!({ "backups": [] }));
            } else {
                ctx.note(&msg);
            }
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    let sets = sets_to_list(&config, &repo, &args)?;
    for set in sets.clone() {
        entries.extend(
            catalog::list_set(&repo, &set)?
                .into_iter()
                .map(|e| (set.clone(), e)),
        );
    }
    if ctx.json() {
        let backups: Vec<serde_json::Value> = entries
            .iter()
            .filter_map(|(set, e)| match e {
                CatalogEntry::Complete(m) => {
                    let mut v = serde_json::to_value(m.as_ref()).expect("manifest serialises");
                    v["expires"] = serde_json::to_value(expires(&config, m)).expect("time serialises");
                    v["pinned"] = super::purge::is_pinned(&repo, set, &m.id).into();
                    Some(v)
                }
                CatalogEntry::Incomplete { id } if args.all => {
                    Some(serde_json::json!({ "id": id, "set": set, "status": "incomplete" }))
                }
                CatalogEntry::Unreadable { id, error } if args.all => Some(
                    serde_json::json!({ "id": id, "set": set, "status": "unreadable", "error": error }),
                ),
                _ => None,
            })
            .collect();
        emit_json(&serde_json::json!({ "sets": sets, "backups": backups }));
        return Ok(0);
    }
    let mut rows = Vec::new();
    for (set, e) in &entries {
        match e {
            CatalogEntry::Complete(m) => rows.push(vec![
                set.clone(),
                m.id.clone(),
                m.level.to_string(),
                m.method.to_string(),
                m.start_time.format("%Y-%m-%d %H:%M:%S").to_string(),
                format!(
                    "{:.0}s",
                    (m.end_time - m.start_time).num_milliseconds() as f64 / 1000.0
                ),
                m.consistent_point.as_ref().map_or("-".into(), |p| {
                    format!("{}:{}", p.binlog_file, p.binlog_pos)
                }),
                human_bytes(m.total_stored_size()),
                "complete".into(),
                if super::purge::is_pinned(&repo, set, &m.id) {
                    "pinned".into()
                } else {
                    expires(&config, m).map_or("never".into(), |t| t.format("%Y-%m-%d").to_string())
                },
            ]),
            CatalogEntry::Incomplete { id } if args.all => rows.push(vec![
                set.clone(),
                id.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "INCOMPLETE (interrupted; not restorable)".into(),
                "-".into(),
            ]),
            CatalogEntry::Unreadable { id, error } if args.all => rows.push(vec![
                set.clone(),
                id.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("UNREADABLE: {error}"),
                "-".into(),
            ]),
            _ => {}
        }
    }
    if rows.is_empty() {
        ctx.note("no backups");
        return Ok(0);
    }
    emit(&table(
        &[
            "SET",
            "ID",
            "LEVEL",
            "METHOD",
            "START (UTC)",
            "TOOK",
            "CONSISTENT POINT",
            "SIZE",
            "STATUS",
            "EXPIRES",
        ],
        &rows,
    ));
    let hidden = entries
        .iter()
        .filter(|(_, e)| !matches!(e, CatalogEntry::Complete(_)))
        .count();
    if hidden > 0 && !args.all {
        ctx.note(&format!(
            "({hidden} incomplete or unreadable backup directories not shown: use --all)"
        ));
    }
    Ok(0)
}

pub fn run_show(ctx: &Context, args: ShowArgs) -> Result<i32> {
    let config = ctx.config()?;
    crate::repo::check_component("set name", &args.set)?;
    let repo = Repository::open(&config, false)?;
    let m = if args.id == "latest" {
        catalog::list_set(&repo, &args.set)?
            .into_iter()
            .rev()
            .find_map(|e| match e {
                CatalogEntry::Complete(m) => Some(*m),
                _ => None,
            })
            .ok_or_else(|| {
                Error::Repository(format!("set '{}' has no complete backup", args.set))
            })?
    } else {
        catalog::find_backup(&repo, &args.set, &args.id)?
    };
    if ctx.json() {
        emit_json(&m);
        return Ok(0);
    }
    let mut out = format!(
        "backup {}  set {}  level {}  method {}\n",
        m.id, m.set, m.level, m.method
    );
    out.push_str(&format!(
        "started   {}\nfinished  {}\n",
        m.start_time.to_rfc3339(),
        m.end_time.to_rfc3339()
    ));
    out.push_str(&format!(
        "server    {} {} on {}{} (server_id {}, gtid {}, binlog {} {})\n",
        m.server.flavor,
        m.server.version,
        m.server.host,
        match (&m.server.socket, m.server.port) {
            (Some(sock), _) => format!(" (socket {sock})"),
            (None, Some(p)) => format!(":{p}"),
            (None, None) => String::new(),
        },
        m.server.server_id,
        m.server.gtid_mode,
        if m.server.log_bin { "on" } else { "off" },
        m.server.binlog_format
    ));
    out.push_str(&format!(
        "consistent point  {}\n",
        m.consistent_point
            .as_ref()
            .map_or("none".into(), |p| p.to_string())
    ));
    out.push_str(&format!(
        "read lock  {}\n",
        m.read_lock_ms.map_or(
            "not measured (taken inside the dump tool)".into(),
            |ms| format!("{ms} ms")
        )
    ));
    if let Some(l) = &m.logical {
        out.push_str(&format!(
            "snapshot  {} connection(s), lock {} (waited {} ms, held {} ms)\n",
            l.snapshot.connections,
            l.snapshot.lock,
            l.snapshot.lock_wait_ms,
            l.snapshot.lock_hold_ms
        ));
        if !l.non_transactional.is_empty() {
            out.push_str(&format!(
                "not in the snapshot (no transactions): {}\n",
                l.non_transactional.join(", ")
            ));
        }
    }
    if let Some(p) = &m.physical {
        out.push_str(&format!(
            "snapshot  {}, lock {} (waited {} ms, held {} ms, cut {} ms)\n",
            p.source, p.lock, p.lock_wait_ms, p.lock_hold_ms, p.cut_ms
        ));
        if p.file_count > 0 {
            out.push_str(&format!(
                "copy      {} files of datadir {}, {} in {:.1}s\n",
                p.file_count,
                p.datadir,
                human_bytes(p.bytes),
                p.copy_seconds
            ));
        }
        if let Some(e) = &p.ebs {
            for s in &e.snapshots {
                out.push_str(&format!(
                    "ebs       {} of {} ({} GiB, {}) in {}\n",
                    s.snapshot_id,
                    s.volume_id,
                    s.size_gib.map_or("?".into(), |g| g.to_string()),
                    s.availability_zone.as_deref().unwrap_or("?"),
                    e.region
                ));
            }
            for c in &e.copies {
                out.push_str(&format!(
                    "ebs copy  {} in {} (of {})\n",
                    c.snapshot_id, c.region, c.source_snapshot_id
                ));
            }
        }
    }
    if let Some(t) = &m.tool.dump_tool {
        out.push_str(&format!("tool      {} / {t}\n", m.tool.zrm));
    }
    if let Some(c) = &m.comment {
        out.push_str(&format!("comment   {c}\n"));
    }
    out.push_str("files:\n");
    for f in &m.files {
        out.push_str(&format!(
            "  {}  {} ({} stored, {})  sha256 {}\n",
            f.path,
            human_bytes(f.size),
            human_bytes(f.stored_size),
            m.compression,
            f.sha256
        ));
    }
    out.push_str("databases:\n");
    for d in &m.databases {
        let rows: u64 = d.tables.iter().filter_map(|t| t.rows).sum();
        out.push_str(&format!(
            "  {}  {} tables with rows, {rows} rows\n",
            d.name,
            d.tables.len()
        ));
        for t in &d.tables {
            out.push_str(&format!(
                "    {}  {}{}\n",
                t.name,
                t.rows.map_or("-".into(), |r| format!("{r} rows")),
                t.checksum
                    .as_ref()
                    .map(|c| format!("  {c}"))
                    .unwrap_or_default()
            ));
        }
    }
    emit(&out);
    Ok(0)
}
