//! `zrm verify --set S [ID|--all] [--restore [--binlogs]]`: prove that backups are whole and
//! that they restore.
//!
//! Without `--restore`: every file of the backup is read back from the repository (local or
//! S3), decrypted, checked against the manifest's size and SHA-256, and decompressed to its end
//! (zstd frames carry their own checksums); EBS snapshots are checked to exist and be complete;
//! the archived binlogs from the backup's consistent point to the end of the archive are
//! checked for gaps and read back the same way.
//!
//! With `--restore`: the backup is also restored into a throwaway server zrm starts itself, and
//! what the manifest recorded at backup time is compared with what the server holds: per table
//! row counts, and for logical backups the per-table checksums (the restored tables are read
//! again by the same engine that computed them). `--binlogs` then replays the archived binlogs
//! onto it, to the end. The result of each verify is stored next to the backup
//! (`sets/<set>/verify/<id>.json`) for `report`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::Context;
use crate::catalog::{self, Manifest};
use crate::config::{Compression, Method};
use crate::engine::stream::HashingReader;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, human_bytes};
use crate::repo::Repository;
use crate::restore::plan::{self, Until};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// The backup to verify (default: the latest)
    #[arg(value_name = "ID", conflicts_with = "all")]
    pub id: Option<String>,
    /// Verify every backup of the set
    #[arg(long)]
    pub all: bool,
    /// Also restore into a throwaway server and compare row counts and checksums
    #[arg(long)]
    pub restore: bool,
    /// With --restore: then replay the archived binlogs to the end
    #[arg(long, requires = "restore")]
    pub binlogs: bool,
}

/// One checked item (a file, a snapshot, a table).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// The verify of one backup, as stored in the repository and printed.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VerifyRecord {
    pub set: String,
    pub backup: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub ok: bool,
    pub restored: bool,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub failures: Vec<String>,
    pub duration_s: f64,
}

pub fn verify_record_path(set: &str, id: &str) -> String {
    format!("sets/{set}/verify/{id}.json")
}

pub async fn run(ctx: &Context, args: VerifyArgs) -> Result<i32> {
    let config = ctx.config()?;
    crate::repo::check_component("set name", &args.set)?;
    if !config.has_set(&args.set) {
        return Err(config.unknown_set(&args.set));
    }
    let repo = Arc::new(tokio::task::block_in_place(|| {
        Repository::open(&config, false)
    })?);
    // Manifests that cannot be read (damaged, tampered, wrong key) are failures too.
    let mut unreadable: Vec<(String, String)> = Vec::new();
    let manifests: Vec<Manifest> = tokio::task::block_in_place(|| -> Result<Vec<Manifest>> {
        if let Some(id) = &args.id {
            return Ok(vec![catalog::find_backup(&repo, &args.set, id)?]);
        }
        let mut all = Vec::new();
        for e in catalog::list_set(&repo, &args.set)? {
            match e {
                catalog::CatalogEntry::Complete(m) => all.push(*m),
                catalog::CatalogEntry::Unreadable { id, error } => unreadable.push((id, error)),
                catalog::CatalogEntry::Incomplete { .. } => {}
            }
        }
        if args.all {
            return Ok(all);
        }
        Ok(all.into_iter().last().into_iter().collect())
    })?;
    if manifests.is_empty() && unreadable.is_empty() {
        return Err(Error::Usage(format!(
            "set '{}' has no backup to verify in {}",
            args.set,
            repo.describe()
        )));
    }

    let mut records = Vec::new();
    let mut reports = Vec::new();
    let mut verified_binlogs = BTreeSet::new();
    for m in &manifests {
        let started = Instant::now();
        let mut checks = Vec::new();
        let (files, bytes) = tokio::task::block_in_place(|| check_files(&repo, m, &mut checks));
        if let Some(e) = m.physical.as_ref().and_then(|p| p.ebs.as_ref()) {
            check_snapshots(e, &mut checks).await;
        }
        tokio::task::block_in_place(|| check_binlogs(&repo, m, &mut verified_binlogs, &mut checks));
        let mut restored = false;
        if args.restore && checks.iter().all(|c| c.ok) {
            restored = test_restore(ctx, &config, &repo, m, args.binlogs, &mut checks).await;
        } else if args.restore {
            checks.push(Check {
                what: "test restore".into(),
                ok: false,
                detail: "not attempted: the files are not whole".into(),
            });
        }
        let failures: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.what, c.detail))
            .collect();
        let record = VerifyRecord {
            set: m.set.clone(),
            backup: m.id.clone(),
            time: chrono::Utc::now(),
            ok: failures.is_empty(),
            restored,
            files_checked: files,
            bytes_checked: bytes,
            failures,
            duration_s: started.elapsed().as_secs_f64(),
        };
        let json = serde_json::to_vec_pretty(&record).expect("serialises");
        if let Err(e) = tokio::task::block_in_place(|| {
            repo.write_small(&verify_record_path(&m.set, &m.id), &json)
        }) {
            ctx.note(&format!(
                "warning: the verify result could not be stored: {e}"
            ));
        }
        reports.push((m.id.clone(), checks));
        records.push(record);
    }

    for (id, error) in unreadable {
        records.push(VerifyRecord {
            set: args.set.clone(),
            backup: id.clone(),
            time: chrono::Utc::now(),
            ok: false,
            restored: false,
            files_checked: 0,
            bytes_checked: 0,
            failures: vec![format!("manifest: {error}")],
            duration_s: 0.0,
        });
        reports.push((
            id,
            vec![Check {
                what: "manifest.json".into(),
                ok: false,
                detail: error,
            }],
        ));
    }
    // The backups are whole; does the archive reach the server's current binlog? A broken
    // archive fails the verify, one that lags behind or cannot be judged is said loudly.
    let set_cfg = config.resolve_set(&args.set, &Default::default())?;
    let coverage = crate::binlog::coverage::probe(&repo, &set_cfg).await;
    let coverage_warning = coverage.warning(&args.set);
    let ok =
        records.iter().all(|r| r.ok) && coverage.level != crate::binlog::coverage::Level::Broken;
    crate::logfile::result(format!(
        "{}: {}{}",
        if ok { "OK" } else { "FAILED" },
        records
            .iter()
            .map(|r| {
                if r.ok {
                    format!("backup {} of set '{}' verified", r.backup, r.set)
                } else {
                    format!(
                        "backup {} of set '{}' FAILED ({})",
                        r.backup,
                        r.set,
                        r.failures.join("; ")
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        coverage_warning
            .as_deref()
            .map(|w| format!("; WARNING: {w}"))
            .unwrap_or_default()
    ));
    if ctx.json() {
        emit_json(&serde_json::json!({
            "set": args.set,
            "ok": ok,
            "coverage": coverage,
            "warnings": coverage_warning.iter().collect::<Vec<_>>(),
            "backups": records.iter().zip(&reports).map(|(r, (_, checks))| serde_json::json!({
                "record": r, "checks": checks,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let mut out = String::new();
        for (r, (id, checks)) in records.iter().zip(&reports) {
            out.push_str(&format!("backup {id} of set '{}':\n", r.set));
            let width = checks
                .iter()
                .map(|c| c.what.len())
                .max()
                .unwrap_or(10)
                .min(70);
            for c in checks {
                out.push_str(&format!(
                    "  {:<6} {:<width$}  {}\n",
                    if c.ok { "ok" } else { "FAILED" },
                    c.what,
                    c.detail
                ));
            }
            out.push_str(&format!(
                "  {}: {} file(s), {} read and checked{} in {:.1}s\n",
                if r.ok { "OK" } else { "FAILED" },
                r.files_checked,
                human_bytes(r.bytes_checked),
                if r.restored {
                    ", restored into a throwaway server"
                } else {
                    ""
                },
                r.duration_s
            ));
        }
        match &coverage_warning {
            Some(w) => out.push_str(&format!("WARNING: {w}\n")),
            None => out.push_str(&format!(
                "binlog archive: {}, up to the server's current binlog\n",
                coverage.summary()
            )),
        }
        emit(&out);
    }
    Ok(if ok { 0 } else { 1 })
}

/// `sets/a/backups/X/../../binlogs/f` → `sets/a/binlogs/f` (object stores know no `..`).
pub fn normalize_rel(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Read every file back: size and SHA-256 of the stored bytes, then decompression to the end.
fn check_files(repo: &Repository, m: &Manifest, checks: &mut Vec<Check>) -> (u64, u64) {
    let dir = Repository::backup_dir(&m.set, &m.id);
    let mut files = 0;
    let mut bytes = 0;
    for f in &m.files {
        let rel = normalize_rel(&format!("{dir}/{}", f.path));
        files += 1;
        let r = check_file(repo, &rel, m.compression, f.stored_size, &f.sha256);
        if r.is_ok() {
            bytes += f.stored_size;
        }
        checks.push(Check {
            what: f.path.clone(),
            ok: r.is_ok(),
            detail: match r {
                Ok(plain) => format!(
                    "{} stored, {} after decompression",
                    human_bytes(f.stored_size),
                    human_bytes(plain)
                ),
                Err(e) => e,
            },
        });
    }
    (files, bytes)
}

/// Returns the decompressed size, or what is wrong.
fn check_file(
    repo: &Repository,
    rel: &str,
    compression: Compression,
    size: u64,
    sha256: &str,
) -> std::result::Result<u64, String> {
    let raw = repo.backend().open(rel).map_err(|e| e.to_string())?;
    let mut stored = HashingReader::new(raw);
    let plain = match compression {
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(&mut stored)
                .map_err(|e| format!("cannot start zstd: {e}"))?;
            std::io::copy(&mut d, &mut std::io::sink())
                .map_err(|e| format!("cannot be read and decompressed to its end: {e}"))?
        }
        Compression::None => std::io::copy(&mut stored, &mut std::io::sink())
            .map_err(|e| format!("cannot be read to its end: {e}"))?,
    };
    // Whatever follows the last frame counts too (and must not be there).
    std::io::copy(&mut stored, &mut std::io::sink())
        .map_err(|e| format!("cannot be read to its end: {e}"))?;
    let (n, sha) = stored.finish();
    if n == size && sha == sha256 {
        Ok(plain)
    } else {
        Err(format!(
            "damaged: {n} bytes with SHA-256 {sha}, the manifest says {size} bytes with SHA-256 \
             {sha256}"
        ))
    }
}

async fn check_snapshots(
    record: &crate::engine::snapshot::ebs::EbsRecord,
    checks: &mut Vec<Check>,
) {
    match crate::engine::snapshot::ebs::snapshot_states(record).await {
        Ok(states) => {
            for (id, state) in states {
                checks.push(Check {
                    ok: state == "completed",
                    what: format!("EBS snapshot {id}"),
                    detail: state,
                });
            }
        }
        Err(e) => checks.push(Check {
            what: "EBS snapshots".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
}

/// The chain from the backup's point to the end of the archive: no gap, every file whole.
fn check_binlogs(
    repo: &Repository,
    m: &Manifest,
    done: &mut BTreeSet<(u32, String)>,
    checks: &mut Vec<Check>,
) {
    if m.consistent_point.is_none() {
        return;
    }
    // An incremental's binlogs continue its full backup's chain: check from that full.
    let mut base = m.clone();
    while base.level > 0 {
        let Some(parent) = base.parent_id.clone() else {
            break;
        };
        match catalog::find_backup(repo, &m.set, &parent) {
            Ok(p) => base = p,
            Err(e) => {
                checks.push(Check {
                    what: "backup chain".into(),
                    ok: false,
                    detail: e.to_string(),
                });
                return;
            }
        }
    }
    let p = match plan::plan(repo, &m.set, &Until::All, false, Some(&base.id)) {
        Ok(p) => p,
        Err(e) => {
            checks.push(Check {
                what: "binlog chain".into(),
                ok: false,
                detail: e.to_string(),
            });
            return;
        }
    };
    checks.push(Check {
        what: "binlog chain".into(),
        ok: true,
        detail: if p.files.is_empty() {
            p.note
                .clone()
                .unwrap_or_else(|| "nothing archived after the backup".into())
        } else {
            format!(
                "{} file(s) from {} to the end of the archive, no gap",
                p.files.len(),
                p.start.as_ref().map_or("?".into(), |s| s.to_string())
            )
        },
    });
    for f in &p.files {
        if !done.insert((f.index.server_id, f.file.clone())) {
            continue;
        }
        let r = crate::binlog::archive_index::verify_archived(repo, &m.set, &f.index);
        checks.push(Check {
            what: format!("binlog {}", f.file),
            ok: r.is_ok(),
            detail: match r {
                Ok(()) => format!("{} bytes, checksums match", f.index.end_pos),
                Err(e) => e.to_string(),
            },
        });
    }
}

/// Restore into a throwaway server and compare with what the manifest recorded.
async fn test_restore(
    ctx: &Context,
    config: &crate::config::ConfigFile,
    repo: &Arc<Repository>,
    m: &Manifest,
    binlogs: bool,
    checks: &mut Vec<Check>,
) -> bool {
    let mut fail = |what: &str, detail: String| {
        checks.push(Check {
            what: what.into(),
            ok: false,
            detail,
        });
        false
    };
    if m.method == Method::Ebs {
        return fail(
            "test restore",
            "an ebs backup restores as new EC2 volumes; restore it with --target ebs:ZONE \
             and check it there"
                .into(),
        );
    }
    let physical = m.physical.is_some();
    let scratch = match crate::scratch::ScratchDir::new("verify") {
        Ok(d) => d,
        Err(e) => {
            return fail(
                "test restore",
                format!("cannot make a scratch directory: {e}"),
            )
        }
    };
    let server = if physical {
        let datadir = scratch.path().join("data");
        let progress = ctx.progress.start(&format!("verify: rebuild {}", m.id));
        let r = tokio::task::block_in_place(|| {
            crate::restore::physical::rebuild_datadir(repo, m, &datadir, progress.as_ref())
        });
        progress.finish();
        if let Err(e) = r {
            return fail("test restore", e.to_string());
        }
        let options = m
            .physical
            .as_ref()
            .map(|p| p.server_options.clone())
            .unwrap_or_default();
        crate::restore::server::ThrowawayServer::start(m.server.flavor, &datadir, &options).await
    } else {
        crate::restore::server::ThrowawayServer::fresh(m.server.flavor).await
    };
    let server = match server {
        Ok(s) => s,
        Err(e) => return fail("test restore", format!("the throwaway server: {e}")),
    };
    let target = crate::restore::target::Target::Server {
        label: "zrm's throwaway server".into(),
        conn: server.conn().clone(),
    };
    let quiet = crate::progress::Prefixed {
        inner: ctx,
        prefix: "test restore: ".into(),
    };
    if !physical {
        let r = crate::restore::execute::execute(
            config,
            test_restore_request(m, &target, None),
            &quiet,
        )
        .await;
        if let Err(e) = r {
            let _ = server.shutdown().await;
            return fail("test restore", e.to_string());
        }
    }
    checks.push(Check {
        what: "test restore".into(),
        ok: true,
        detail: format!(
            "{} restored into a throwaway server",
            if physical { "data directory" } else { "backup" }
        ),
    });
    let compared = compare(config, m, server.conn(), checks).await;
    if binlogs && compared {
        if let Some(cp) = &m.consistent_point {
            let at = crate::binlog::coordinates::BinlogCoordinates::new(
                cp.binlog_file.clone(),
                cp.binlog_pos,
            );
            let req = test_restore_request(m, &target, Some(at));
            let r = crate::restore::execute::execute(config, req, &quiet).await;
            checks.push(Check {
                what: "binlog replay".into(),
                ok: r.is_ok(),
                detail: match r {
                    Ok(_) => "the archived binlogs replayed to the end".into(),
                    Err(e) => e.to_string(),
                },
            });
        }
    }
    if let Err(e) = server.shutdown().await {
        ctx.note(&format!(
            "warning: the throwaway server did not stop cleanly: {e}"
        ));
    }
    checks.iter().all(|c| c.ok)
}

/// The restore of backup `m` into verify's throwaway server; with `resume`, only the replay
/// of the archived binlogs from there.
fn test_restore_request(
    m: &Manifest,
    target: &crate::restore::target::Target,
    resume: Option<crate::binlog::coordinates::BinlogCoordinates>,
) -> crate::restore::execute::RestoreRequest {
    let mut req = crate::restore::execute::RestoreRequest::new(&m.set, target.clone(), "throwaway");
    req.backup = Some(m.id.clone());
    req.no_binlogs = resume.is_none();
    req.resume = resume;
    req
}

/// Row counts (every method that recorded them) and checksums (logical) against the server.
async fn compare(
    config: &crate::config::ConfigFile,
    m: &Manifest,
    conn: &crate::config::ConnectionConfig,
    checks: &mut Vec<Check>,
) -> bool {
    let mut ok = true;
    let sums = match &m.logical {
        Some(layout) => match recompute_checksums(config, m, layout, conn).await {
            Ok(s) => Some(s),
            Err(e) => {
                checks.push(Check {
                    what: "checksums".into(),
                    ok: false,
                    detail: format!("the restored tables could not be read again: {e}"),
                });
                return false;
            }
        },
        None => None,
    };
    let mut s = match crate::mysql::connect(conn).await {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check {
                what: "compare".into(),
                ok: false,
                detail: e.to_string(),
            });
            return false;
        }
    };
    for d in &m.databases {
        for t in &d.tables {
            let name = format!("{}.{}", d.name, t.name);
            let count = s
                .value(&format!(
                    "SELECT COUNT(*) FROM {}.{}",
                    crate::mysql::conn::quote_ident(&d.name),
                    crate::mysql::conn::quote_ident(&t.name)
                ))
                .await
                .ok()
                .flatten()
                .and_then(|v| v.parse::<u64>().ok());
            let Some(count) = count else {
                ok = false;
                checks.push(Check {
                    what: name,
                    ok: false,
                    detail: "missing or unreadable after the restore".into(),
                });
                continue;
            };
            let mut detail = match t.rows {
                Some(r) if r == count => format!("{count} rows, as recorded"),
                Some(r) => {
                    ok = false;
                    checks.push(Check {
                        what: name,
                        ok: false,
                        detail: format!("{count} rows, but the backup recorded {r}"),
                    });
                    continue;
                }
                None => format!("{count} rows (no count recorded at backup time)"),
            };
            if let (Some(sums), Some(want)) = (&sums, &t.checksum) {
                match sums.get(&(d.name.clone(), t.name.clone())) {
                    Some(got) if got == want => detail.push_str(", checksum matches"),
                    got => {
                        ok = false;
                        checks.push(Check {
                            what: name,
                            ok: false,
                            detail: format!(
                                "checksum {} after the restore, {want} at backup time",
                                got.map_or("none", |g| g.as_str())
                            ),
                        });
                        continue;
                    }
                }
            }
            checks.push(Check {
                what: name,
                ok: true,
                detail,
            });
        }
    }
    s.close().await;
    ok
}

/// The restored tables dumped again, by the same engine, into a scratch repository: its
/// per-table checksums are computed exactly as the backup's were.
async fn recompute_checksums(
    config: &crate::config::ConfigFile,
    m: &Manifest,
    layout: &crate::engine::logical::LogicalLayout,
    conn: &crate::config::ConnectionConfig,
) -> Result<BTreeMap<(String, String), String>> {
    let scratch = crate::scratch::ScratchDir::new("verify-dump")?;
    let repo = Arc::new(tokio::task::block_in_place(|| {
        Repository::open_at(
            &crate::config::RepoLocation::Local(scratch.path().to_path_buf()),
            None,
            true,
        )
    })?);
    let mut selection: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &layout.tables {
        selection
            .entry(t.database.clone())
            .or_default()
            .push(t.name.clone());
    }
    let mut s = crate::mysql::connect(conn).await?;
    let facts = crate::mysql::ServerFacts::gather(&mut s).await?;
    s.close().await;
    let set = config.resolve_set(&m.set, &Default::default()).ok();
    let job = crate::engine::logical::dump::DumpJob {
        conn,
        flavor: facts.flavor,
        server_version: &facts.version,
        log_bin: false,
        selection: &selection,
        excluded_tables: &[],
        parallel: set.as_ref().map_or(2, |s| s.parallel),
        compression: Compression::None,
        level: 1,
        dir: "dump".into(),
        chunk_bytes: crate::config::DEFAULT_CHUNK_SIZE_MB << 20,
        include_users: false,
        lock_timeout: std::time::Duration::from_secs(60),
        cut: None,
    };
    let out =
        crate::engine::logical::dump::dump(repo, &job, Arc::new(crate::progress::Silent)).await?;
    Ok(out
        .layout
        .tables
        .into_iter()
        .map(|t| ((t.database, t.name), t.checksum))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalizes_relative_paths() {
        assert_eq!(
            super::normalize_rel("sets/a/backups/X/../../binlogs/1/f.zst"),
            "sets/a/binlogs/1/f.zst"
        );
        assert_eq!(super::normalize_rel("a/./b//c"), "a/b/c");
    }
}
