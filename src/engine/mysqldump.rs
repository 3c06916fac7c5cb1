//! The `mysqldump` method: `mariadb-dump`/`mysqldump --single-transaction` streamed through
//! zstd into the repository, and its restore through `mariadb`/`mysql`.
//!
//! The consistent point is the one the dump tool prints from inside its snapshot
//! (`--master-data=2`), never one read before or after the dump (ZRM's flush-then-dump race
//! replayed events twice). The password reaches the tools only through a private option file.
//! No uncompressed copy of the dump is ever written.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::Stdio;

use crate::catalog::Manifest;
use crate::command::ToolCommand;
use crate::config::{Compression, ConnectionConfig};
use crate::engine::dump_filter::DumpFilter;
use crate::engine::dump_scan::{DumpFacts, DumpScanner};
use crate::engine::stream::{open_stored, StoredFile, StoredFileWriter};
use crate::error::{Error, Result};
use crate::manifest::Flavor;
use crate::mycnf::ClientOptionFile;
use crate::mysql::tools::{self, Tool};
use crate::progress::Progress;
use crate::repo::Repository;

/// The dump file's name inside a backup directory.
pub fn dump_file_name(compression: Compression) -> &'static str {
    match compression {
        Compression::Zstd => "dump.sql.zst",
        Compression::None => "dump.sql",
    }
}

pub struct DumpJob<'a> {
    pub conn: &'a ConnectionConfig,
    pub flavor: Flavor,
    pub log_bin: bool,
    /// MySQL with `gtid_mode=ON`: ask for the (commented) GTID_PURGED line.
    pub mysql_gtids: bool,
    pub databases: &'a [String],
    /// `db.table` names to leave out.
    pub ignore_tables: &'a [String],
    pub compression: Compression,
    pub level: i32,
    /// Repository path of the dump file.
    pub file_rel: String,
}

pub struct DumpOutcome {
    pub facts: DumpFacts,
    pub file: StoredFile,
    pub tool_version: Option<String>,
}

/// The dump tool's arguments, after the option file.
fn dump_args(job: &DumpJob, tool: &Tool) -> Vec<String> {
    let mut args = vec![
        "--single-transaction".to_string(),
        "--routines".into(),
        "--triggers".into(),
        "--events".into(),
        "--hex-blob".into(),
        "--default-character-set=utf8mb4".into(),
        "--max-allowed-packet=1G".into(),
    ];
    if job.log_bin {
        let source_data = job.flavor == Flavor::MySQL
            && tool
                .version()
                .and_then(|v| mysql_version_of(&v))
                .is_some_and(|v| v >= (8, 0, 26));
        args.push(
            if source_data {
                "--source-data=2"
            } else {
                "--master-data=2"
            }
            .into(),
        );
        if job.flavor == Flavor::MariaDB {
            args.push("--gtid".into());
        }
    }
    if job.flavor == Flavor::MySQL {
        args.push(
            if job.mysql_gtids {
                "--set-gtid-purged=COMMENTED"
            } else {
                "--set-gtid-purged=OFF"
            }
            .into(),
        );
    }
    for t in job.ignore_tables {
        args.push(format!("--ignore-table={t}"));
    }
    args.push("--databases".into());
    args.extend(job.databases.iter().cloned());
    args
}

/// `mysqldump  Ver 8.0.36 for Linux` → (8, 0, 36).
fn mysql_version_of(version_line: &str) -> Option<(u32, u32, u32)> {
    let re = regex::Regex::new(r"(?:Ver|Distrib) (\d+)\.(\d+)\.(\d+)").ok()?;
    let c = re.captures(version_line)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?))
}

/// Run the dump into the repository. Blocking: call from a blocking context.
pub fn dump(repo: &Repository, job: &DumpJob, progress: &dyn Progress) -> Result<DumpOutcome> {
    let tool = tools::require(tools::dump_names(job.flavor), job.flavor)?;
    let options = ClientOptionFile::write(job.conn)?;
    let cmd = ToolCommand::new(&tool)
        .arg(format!("--defaults-file={}", options.path().display()))
        .args(dump_args(job, &tool));
    let mut child = cmd.spawn(Stdio::null(), Stdio::piped())?;
    let mut stdout = child.take_stdout();

    let obj = repo.backend().create(&job.file_rel)?;
    let mut writer = StoredFileWriter::new(obj, job.compression, job.level)?;
    let mut scanner = DumpScanner::new();
    let mut buf = vec![0u8; 1 << 20];
    let copy: std::result::Result<(), Error> = loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Error::io("read the output of", &tool.path, e)),
        };
        scanner.feed(&buf[..n]);
        if let Err(e) = writer.write_all(&buf[..n]) {
            break Err(Error::Backup(format!(
                "writing {}/{} failed: {e}; check free space and permissions of the \
                 repository (nothing of this backup was kept)",
                repo.describe(),
                job.file_rel
            )));
        }
        progress.advance(n as u64);
    };
    if let Err(e) = copy {
        drop(stdout);
        child.kill();
        return Err(e);
    }
    drop(stdout);
    child.wait()?;
    let facts = scanner.finish();
    if facts.bytes == 0 {
        return Err(Error::Backup(format!("{} wrote nothing", tool.name)));
    }
    let file = writer.commit(facts.bytes, &job.file_rel)?;
    Ok(DumpOutcome {
        facts,
        file,
        tool_version: tool.version(),
    })
}

pub struct LoadJob<'a> {
    pub target: &'a ConnectionConfig,
    pub target_flavor: Flavor,
    pub manifest: &'a Manifest,
    pub backup_dir: String,
    /// Databases to load; `None` for all in the dump.
    pub databases: Option<BTreeSet<String>>,
}

/// Check a stored file against its manifest entry by reading it whole (size and SHA-256),
/// before anything is changed on the target.
pub fn verify_file(repo: &Repository, rel: &str, size: u64, sha256: &str) -> Result<()> {
    let mut r = crate::engine::stream::HashingReader::new(repo.backend().open(rel)?);
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| Error::io("read", rel, e))?;
    let (bytes, hash) = r.finish();
    if bytes != size || hash != sha256 {
        return Err(Error::Repository(format!(
            "backup file {}/{rel} is damaged: {bytes} bytes with SHA-256 {hash}, but the manifest \
             says {size} bytes with SHA-256 {sha256}; nothing was changed on the target; restore \
             another backup",
            repo.describe()
        )));
    }
    Ok(())
}

/// Stream the dump into the target server. Blocking: call from a blocking context.
pub fn load(repo: &Repository, job: &LoadJob, progress: &dyn Progress) -> Result<u64> {
    let entry =
        job.manifest.files.first().ok_or_else(|| {
            Error::Repository(format!("backup {} lists no files", job.manifest.id))
        })?;
    let rel = format!("{}/{}", job.backup_dir, entry.path);
    let tool = tools::require(tools::client_names(job.target_flavor), job.target_flavor)?;
    // Only MariaDB clients understand the sandbox-mode line that mariadb-dump writes first;
    // it is kept for them, since it stops a dump from running shell commands.
    let strip_sandbox = !tool.is_mariadb();
    let options = ClientOptionFile::write(job.target)?;
    let mut child = ToolCommand::new(&tool)
        .arg(format!("--defaults-file={}", options.path().display()))
        .args(["--binary-mode", "--batch", "--max-allowed-packet=1G"])
        .spawn(Stdio::piped(), Stdio::null())?;
    let stdin = child.take_stdin();

    let (mut reader, stored) = open_stored(repo.backend().open(&rel)?, job.manifest.compression)?;
    let mut filter = DumpFilter::new(
        std::io::BufWriter::with_capacity(1 << 20, stdin),
        job.databases.clone(),
        strip_sandbox,
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let copy: std::result::Result<(), String> = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(format!("reading {}/{rel} failed: {e}", repo.describe())),
        };
        if let Err(e) = filter.write_all(&buf[..n]) {
            break Err(format!("{} stopped reading its input: {e}", tool.name));
        }
        total += n as u64;
        progress.advance(n as u64);
    };
    let copy = copy.and_then(|_| {
        filter
            .finish()
            .and_then(|mut w| w.flush())
            .map_err(|e| format!("{} stopped reading its input: {e}", tool.name))
    });
    // The client's own error (a failed statement) explains more than our broken pipe.
    let waited = child.wait();
    waited?;
    if let Err(e) = copy {
        return Err(Error::Restore(format!(
            "{e}; the target is partly restored"
        )));
    }
    let (bytes, hash) = stored
        .lock()
        .expect("not poisoned")
        .clone()
        .unwrap_or_default();
    if bytes != entry.stored_size || hash != entry.sha256 {
        return Err(Error::Restore(format!(
            "backup file {}/{rel} changed while it was restored (SHA-256 {hash}, expected {}); \
             the target is partly restored",
            repo.describe(),
            entry.sha256
        )));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parsing() {
        assert_eq!(
            mysql_version_of("mysqldump  Ver 8.0.36 for Linux on x86_64"),
            Some((8, 0, 36))
        );
        assert_eq!(
            mysql_version_of(
                "mariadb-dump Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu"
            ),
            Some((10, 11, 19))
        );
    }
}
