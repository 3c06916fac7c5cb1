//! Every external command zrm runs is built and started here: its argv is logged (argv never
//! holds a secret: passwords travel in a private option file), it dies with zrm
//! (`PR_SET_PDEATHSIG`), and its failure is reported with the tail of its stderr.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::mysql::tools::Tool;

/// How much of a tool's stderr is kept for the error message.
const STDERR_TAIL: usize = 8 * 1024;

pub struct ToolCommand {
    name: String,
    cmd: Command,
    shown: Vec<String>,
}

impl ToolCommand {
    pub fn new(tool: &Tool) -> Self {
        ToolCommand {
            name: tool.name.to_string(),
            cmd: Command::new(&tool.path),
            shown: vec![tool.path.display().to_string()],
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        let a = a.into();
        self.shown.push(a.to_string_lossy().into_owned());
        self.cmd.arg(a);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// The command line as it will run (safe to show: it holds no secret).
    pub fn display(&self) -> String {
        self.shown.join(" ")
    }

    pub fn spawn(mut self, stdin: Stdio, stdout: Stdio) -> Result<RunningTool> {
        tracing::debug!("running: {}", self.display());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to signal the child
        // when the thread that spawned it exits, so no tool outlives a killed zrm.
        unsafe {
            self.cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Tool {
                tool: self.name.clone(),
                status: "could not start".into(),
                stderr: e.to_string(),
            })?;
        let mut err = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let start = tail.len().saturating_sub(STDERR_TAIL);
            readable(String::from_utf8_lossy(&tail[start..]).trim())
        });
        Ok(RunningTool {
            name: self.name,
            child,
            stderr: Some(stderr),
        })
    }
}

/// A tool's stderr made fit for an error message: a client echoes the statement that failed,
/// which for a binlog replay is kilobytes of base64; runs of such lines become one line saying
/// what was left out, and very long lines are cut, so the error itself (the `ERROR …` line)
/// stays readable.
fn readable(stderr: &str) -> String {
    let looks_encoded = |l: &str| {
        l.len() >= 60
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    let mut out: Vec<String> = Vec::new();
    let mut skipped = 0usize;
    for line in stderr.lines() {
        if looks_encoded(line) {
            skipped += line.len();
            continue;
        }
        if skipped > 0 {
            out.push(format!(
                "[… {skipped} bytes of an encoded statement left out …]"
            ));
            skipped = 0;
        }
        if line.len() > 400 {
            let cut = (0..=200)
                .rev()
                .find(|&i| line.is_char_boundary(i))
                .unwrap_or(0);
            out.push(format!(
                "{}[… {} more bytes]",
                &line[..cut],
                line.len() - cut
            ));
        } else {
            out.push(line.to_string());
        }
    }
    if skipped > 0 {
        out.push(format!(
            "[… {skipped} bytes of an encoded statement left out …]"
        ));
    }
    out.join("\n")
}

pub struct RunningTool {
    pub name: String,
    child: Child,
    stderr: Option<JoinHandle<String>>,
}

impl RunningTool {
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    /// Wait for the tool without giving it up (see [`wait`]).
    pub fn wait_for_exit(&mut self) -> Result<String> {
        loop {
            if let Some(r) = self.try_wait() {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Wait for the tool; a non-zero exit is an error carrying its stderr.
    pub fn wait(mut self) -> Result<String> {
        let status = self.child.wait().map_err(|e| Error::Tool {
            tool: self.name.clone(),
            status: "wait failed".into(),
            stderr: e.to_string(),
        })?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            return Ok(stderr);
        }
        let status = match status.code() {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".to_string(),
        };
        Err(Error::Tool {
            tool: self.name.clone(),
            status,
            stderr: if stderr.is_empty() {
                "(no message)".into()
            } else {
                stderr
            },
        })
    }

    /// If the tool has exited: `Some(Ok(stderr))` or `Some(Err(..))` as for [`wait`].
    pub fn try_wait(&mut self) -> Option<Result<String>> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => {
                let stderr = self
                    .stderr
                    .take()
                    .and_then(|h| h.join().ok())
                    .unwrap_or_default();
                if status.success() {
                    Some(Ok(stderr))
                } else {
                    Some(Err(Error::Tool {
                        tool: self.name.clone(),
                        status: status
                            .code()
                            .map_or("killed by a signal".into(), |c| format!("exit code {c}")),
                        stderr: if stderr.is_empty() {
                            "(no message)".into()
                        } else {
                            stderr
                        },
                    }))
                }
            }
            Err(e) => Some(Err(Error::Tool {
                tool: self.name.clone(),
                status: "wait failed".into(),
                stderr: e.to_string(),
            })),
        }
    }

    /// Stop the tool (after a failure elsewhere in the pipeline) and reap it.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod readable_tests {
    #[test]
    fn an_echoed_binlog_statement_is_left_out_and_the_error_kept() {
        let b64 = "QUJD".repeat(19);
        let stderr = format!("{b64}\n{b64}\nERROR 2006 (HY000) at line 12: Server has gone away");
        let r = super::readable(&stderr);
        assert_eq!(
            r,
            "[… 152 bytes of an encoded statement left out …]\nERROR 2006 (HY000) at line 12: Server has gone away"
        );
        let long = format!("INSERT INTO t VALUES ('{}')", "é".repeat(400));
        assert!(super::readable(&long).len() < 300);
    }
}
