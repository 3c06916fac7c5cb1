//! Every external command zrm runs is built and started here: its argv is logged (argv never
//! holds a secret: passwords travel in a private option file), it dies with zrm, and its
//! failure is reported with the tail of its stderr.
//!
//! Dying with zrm: children are forked by one thread that lives as long as the process
//! ([`spawn_tied`]), with `PR_SET_PDEATHSIG` — the kernel signals the child when the thread
//! that forked it ends, so forking from a worker thread that may retire would kill tools in
//! mid-run, and a killed zrm (even kill -9) takes its tools down. On SIGINT/SIGTERM a running
//! tool is stopped (and waited for) before zrm removes the directories it writes into; a
//! [`RunningTool`] dropped without being waited for is stopped too.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cleanup::Guard;

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
        self.cmd.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
        let mut child = spawn_tied(self.cmd, libc::SIGTERM).map_err(|e| Error::Tool {
            tool: self.name.clone(),
            status: "could not start".into(),
            stderr: e.to_string(),
        })?;
        let stop = Some(stop_guard(
            &child,
            format!("stop {} (pid {})", self.name, child.id()),
            libc::SIGTERM,
            Duration::from_secs(5),
        ));
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
            stop,
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

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Start `cmd` so that it receives `death_signal` when zrm dies, however it dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, so every child is
/// forked by one thread that lives as long as the process.
pub fn spawn_tied(mut cmd: Command, death_signal: libc::c_int) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // zrm may have died before prctl took effect: then nobody would signal us.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("zrm-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// A process handle that cannot name another process once this one is gone (pid reuse):
/// signalling through it after the child was reaped does nothing.
pub struct ProcessHandle {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl ProcessHandle {
    pub fn of(child: &Child) -> ProcessHandle {
        Self::of_pid(child.id())
    }

    /// The handle of a child known by its pid (one not yet waited for).
    pub fn of_pid(pid: u32) -> ProcessHandle {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        let pidfd = (fd >= 0).then(|| {
            // SAFETY: a descriptor the kernel just gave us, owned by nobody else.
            unsafe { OwnedFd::from_raw_fd(fd as i32) }
        });
        ProcessHandle { pid, pidfd }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn signal(&self, sig: libc::c_int) {
        match &self.pidfd {
            // SAFETY: pidfd_send_signal on a descriptor we own; no siginfo.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            },
            // Kernels before 5.3: plain kill (our own child, normally not yet reaped).
            // SAFETY: kill(2) with a pid and a signal number.
            None => unsafe {
                libc::kill(self.pid as libc::pid_t, sig);
            },
        }
    }

    /// Wait up to `timeout` for the process to end; whether it did.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let Some(fd) = &self.pidfd else {
            std::thread::sleep(timeout.min(Duration::from_millis(500)));
            return false;
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll on one descriptor we own; a pidfd is readable once the process ended.
        unsafe { libc::poll(&mut p, 1, ms) > 0 }
    }

    /// `sig`, then up to `grace` for it to end, then SIGKILL (and a moment for it to die).
    pub fn stop(&self, sig: libc::c_int, grace: Duration) {
        self.signal(sig);
        if !self.wait_exit(grace) {
            self.signal(libc::SIGKILL);
            self.wait_exit(Duration::from_secs(5));
        }
    }
}

/// A guard that stops `child` on SIGINT/SIGTERM (see [`ProcessHandle::stop`]). Disarm it
/// once the child has been waited for: dropped, it stops the child.
pub fn stop_guard(child: &Child, what: String, sig: libc::c_int, grace: Duration) -> Guard {
    stop_pid_guard(child.id(), what, sig, grace)
}

/// [`stop_guard`] for a child known by its pid (a `tokio::process::Child`).
pub fn stop_pid_guard(pid: u32, what: String, sig: libc::c_int, grace: Duration) -> Guard {
    let handle = Arc::new(ProcessHandle::of_pid(pid));
    Guard::register(what, move || handle.stop(sig, grace))
}

pub struct RunningTool {
    pub name: String,
    child: Child,
    stderr: Option<JoinHandle<String>>,
    /// Stops the tool on SIGINT/SIGTERM; disarmed once it has been waited for.
    stop: Option<Guard>,
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
        self.reaped();
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
                self.reaped();
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
        self.reaped();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// The child has been waited for: nothing is left to stop.
    fn reaped(&mut self) {
        if let Some(g) = self.stop.take() {
            g.disarm();
        }
    }
}

impl Drop for RunningTool {
    fn drop(&mut self) {
        // Given up without a wait (an error elsewhere): stop it rather than leave it running.
        if let Some(g) = self.stop.take() {
            g.disarm();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
