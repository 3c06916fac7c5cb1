//! `metrics_file`: a Prometheus textfile-collector file (node_exporter's
//! `--collector.textfile.directory`), rewritten atomically after every backup from what the
//! repository holds, for every set of the configuration.

use std::io::Write;
use std::path::Path;

use crate::catalog::{self, CatalogEntry};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::repo::Repository;

/// The file's text for all sets; `last_run` = (set, succeeded) of the run just made.
pub fn render(config: &ConfigFile, repo: &Repository, last_run: (&str, bool)) -> Result<String> {
    let now = chrono::Utc::now();
    let mut out = String::new();
    let metric = |out: &mut String, name: &str, help: &str, rows: &[(String, f64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (set, v) in rows {
            out.push_str(&format!("{name}{{set=\"{}\"}} {v}\n", set.replace('"', "")));
        }
    };
    let mut success = Vec::new();
    let mut duration = Vec::new();
    let mut size = Vec::new();
    let mut lock = Vec::new();
    let mut lag = Vec::new();
    for set in config.sets.keys() {
        let latest = catalog::list_set(repo, set)?
            .into_iter()
            .filter_map(|e| match e {
                CatalogEntry::Complete(m) => Some(m),
                _ => None,
            })
            .max_by_key(|m| m.end_time);
        if let Some(m) = latest {
            success.push((set.clone(), m.end_time.timestamp() as f64));
            duration.push((
                set.clone(),
                (m.end_time - m.start_time).num_milliseconds() as f64 / 1000.0,
            ));
            size.push((set.clone(), m.total_stored_size() as f64));
            if let Some(l) = m.read_lock_ms {
                lock.push((set.clone(), l as f64));
            }
        }
        // A set without an archive has no lag to report.
        if let Some(t) = crate::binlog::sources::archive_end(repo, set) {
            lag.push((set.clone(), (now - t).num_seconds().max(0) as f64));
        }
    }
    metric(
        &mut out,
        "zrm_backup_last_success_timestamp_seconds",
        "End time of the newest complete backup.",
        &success,
    );
    metric(
        &mut out,
        "zrm_backup_last_duration_seconds",
        "Duration of the newest complete backup.",
        &duration,
    );
    metric(
        &mut out,
        "zrm_backup_last_size_bytes",
        "Stored size of the newest complete backup.",
        &size,
    );
    metric(
        &mut out,
        "zrm_backup_last_read_lock_milliseconds",
        "How long the newest backup blocked commits.",
        &lock,
    );
    metric(
        &mut out,
        "zrm_binlog_archive_lag_seconds",
        "Age of the newest archived binlog event.",
        &lag,
    );
    metric(
        &mut out,
        "zrm_backup_last_run_ok",
        "1 if the last zrm backup run of the set succeeded, 0 if it failed.",
        &[(last_run.0.to_string(), if last_run.1 { 1.0 } else { 0.0 })],
    );
    Ok(out)
}

/// Write atomically: a temporary file in the same directory, renamed over the old one, so the
/// collector never reads half a file.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".zrm-metrics")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        // Readable by the collector (it holds no secret).
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path)
        .map_err(|e| Error::io("rename into place", path, e.error))?;
    Ok(())
}
