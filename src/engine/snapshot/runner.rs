//! The seam through which snapshot providers run system commands (`btrfs`, `lvcreate`,
//! `mount`, …): the real runner executes them; tests can record the sequence where the kernel
//! lacks what the real command needs (device-mapper snapshots for LVM).

use std::process::Command;
use std::sync::Mutex;

use crate::error::{Error, Result};

pub trait CommandRunner: Send + Sync {
    /// Run `program args…` to completion; its stdout on success, an error with its stderr
    /// otherwise.
    fn run(&self, program: &str, args: &[String]) -> Result<String>;
}

/// Runs commands for real. Looks in /sbin and /usr/sbin too (cron's PATH often lacks them).
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, program: &str, args: &[String]) -> Result<String> {
        let path = find_program(program).ok_or_else(|| Error::Tool {
            tool: program.to_string(),
            status: "not found".into(),
            stderr: format!(
                "`{program}` is not installed or not on PATH (also looked in /usr/sbin and /sbin)"
            ),
        })?;
        tracing::debug!("running: {program} {}", args.join(" "));
        let out = Command::new(&path)
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| Error::io("run", &path, e))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(Error::Tool {
            tool: format!("{program} {}", args.join(" ")),
            status: out
                .status
                .code()
                .map_or("killed by a signal".into(), |c| format!("exit code {c}")),
            stderr: stderr.trim().chars().take(2000).collect(),
        })
    }
}

pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Answers a command line with its stdout or an error.
type Answer = Box<dyn Fn(&str) -> Result<String> + Send + Sync>;

/// Records every command and answers from a script: for testing command sequences.
pub struct ScriptedRunner {
    pub calls: Mutex<Vec<String>>,
    answer: Answer,
}

impl ScriptedRunner {
    /// `answer` gets the command line (`program arg arg…`) and returns its stdout or an error.
    pub fn new(answer: impl Fn(&str) -> Result<String> + Send + Sync + 'static) -> Self {
        ScriptedRunner {
            calls: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl CommandRunner for ScriptedRunner {
    fn run(&self, program: &str, args: &[String]) -> Result<String> {
        let line = std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        self.calls.lock().expect("not poisoned").push(line.clone());
        (self.answer)(&line)
    }
}
