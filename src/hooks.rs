//! `pre_backup` / `post_backup` commands of a set, run by `sh -c` with the backup's facts in the
//! environment:
//!
//! | variable | value |
//! |---|---|
//! | `ZRM_SET` | the set's name |
//! | `ZRM_LEVEL` | `0`, `1` or `auto`, as asked |
//! | `ZRM_METHOD` | the set's method |
//! | `ZRM_CONFIG` | the configuration file |
//! | `ZRM_BACKUP_ID` | (post) the new backup's id, empty if none was made |
//! | `ZRM_STATUS` | (post) `ok` or `failed` |
//! | `ZRM_ERROR` | (post) the error message when the backup failed |
//!
//! A pre hook that exits non-zero aborts the backup before anything is taken; a post hook's
//! failure is reported but does not undo the backup.

use std::process::{Command, Stdio};

use crate::config::SetConfig;
use crate::error::{Error, Result};

pub struct HookEnv<'a> {
    pub set: &'a SetConfig,
    pub level: &'a str,
    pub config: &'a std::path::Path,
}

fn run(which: &str, cmd: &str, env: &HookEnv, extra: &[(&str, String)]) -> Result<()> {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(cmd)
        .env("ZRM_SET", &env.set.name)
        .env("ZRM_LEVEL", env.level)
        .env("ZRM_METHOD", env.set.method.to_string())
        .env("ZRM_CONFIG", env.config)
        .envs(extra.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A hook does not outlive zrm either.
    let out = crate::command::spawn_tied(sh, libc::SIGTERM)
        .and_then(|c| c.wait_with_output())
        .map_err(|e| Error::io("run the hook", "sh", e))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(Error::Backup(format!(
        "the {which} hook of set '{}' (`{cmd}`) failed ({}){}",
        env.set.name,
        out.status
            .code()
            .map_or("killed by a signal".into(), |c| format!("exit code {c}")),
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        }
    )))
}

/// Run the set's pre hook, if it has one; an error means: do not back up.
pub fn pre_backup(env: &HookEnv) -> Result<()> {
    match &env.set.pre_backup {
        Some(cmd) => run("pre_backup", cmd, env, &[])
            .map_err(|e| Error::Backup(format!("{e}; the backup was not taken"))),
        None => Ok(()),
    }
}

/// Run the set's post hook, if it has one.
pub fn post_backup(env: &HookEnv, id: Option<&str>, error: Option<&str>) -> Result<()> {
    let Some(cmd) = &env.set.post_backup else {
        return Ok(());
    };
    let extra = [
        ("ZRM_BACKUP_ID", id.unwrap_or("").to_string()),
        (
            "ZRM_STATUS",
            if error.is_none() { "ok" } else { "failed" }.to_string(),
        ),
        ("ZRM_ERROR", error.unwrap_or("").to_string()),
    ];
    run("post_backup", cmd, env, &extra)
}
