//! Interrupted runs leave no secret and none of zrm's scratch behind (issue 14, items 6 and 7):
//! SIGTERM, SIGINT and kill -9 of `backup` (mysqldump and the default logical method),
//! `binlog archive` and `verify --restore`, against real servers of both flavors (MariaDB
//! 10.11 and MySQL 9.7, with each one's own tools). Each zrm runs with
//! TMPDIR pointed at a directory the test owns, so everything zrm put there can be inspected:
//! after SIGTERM nothing is left; after kill -9 no file holds the password and the next zrm
//! run (any command) sweeps what the killed one left; a throwaway server dies with its zrm.

mod support;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{backup_ids, Flavor, TestServer};

/// The database password: no file under TMPDIR may ever hold it once zrm is gone.
const PASSWORD: &str = "Interrupt#pw-5d1c9e";

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// `(pid, argv joined by spaces)` of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(parent) {
            out.push((pid, cmdline(pid)));
        }
    }
    out
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Whether `pid` is a live process (not a zombie) whose command line contains `marker`.
fn alive(pid: u32, marker: &str) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next())
        .unwrap_or("X");
    !matches!(state, "Z" | "X") && cmdline(pid).contains(marker)
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: signalling our own child, not yet reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

/// Waits for `cond`, panicking with `what` (and `detail()`) after `timeout`.
fn wait_until(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}\n{}",
            detail()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A zrm running in the background with TMPDIR = `tmp`; its stderr goes to a file.
struct Zrm {
    child: Child,
    err: PathBuf,
    done: Option<i32>,
}

impl Zrm {
    fn start(config: &Path, tmp: &Path, args: &[&str]) -> Zrm {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let err = tmp.parent().unwrap().join(format!("zrm-{n}.err"));
        let child = support::zrm()
            .env("TMPDIR", tmp)
            .arg("--config")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .expect("cannot start zrm");
        Zrm {
            child,
            err,
            done: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The exit code (128 + signal when killed), if it has exited.
    fn exited(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        if self.done.is_none() {
            self.done = self
                .child
                .try_wait()
                .unwrap()
                .map(|st| st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        }
        self.done
    }

    /// Panics (with its stderr) if it has already ended: the state waited for never came.
    fn still_running(&mut self, what: &str) {
        if let Some(code) = self.exited() {
            panic!(
                "zrm ended ({code}) before {what}\n--- stderr ---\n{}",
                self.stderr()
            );
        }
    }

    fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "zrm did not exit within {timeout:?}\n--- stderr ---\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Zrm {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The temporary directory
// ---------------------------------------------------------------------------------------------

/// Every regular file under `dir`, with its size.
fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            out.extend(files_under(&e.path()));
        } else if t.is_file() {
            out.push((e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)));
        }
    }
    out
}

/// What is left in `dir` (names of its entries, recursively, with sizes).
fn describe(dir: &Path) -> String {
    let mut all: Vec<String> = Vec::new();
    fn walk(d: &Path, all: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                all.push(format!("{} ({len} bytes)", p.display()));
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&p, all);
                }
            }
        }
    }
    walk(dir, &mut all);
    all.sort();
    all.join("\n")
}

/// The files under `dir` whose bytes contain the password.
fn holding_password(dir: &Path) -> Vec<PathBuf> {
    let needle = PASSWORD.as_bytes();
    files_under(dir)
        .into_iter()
        .filter(|(p, _)| {
            fs::read(p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .map(|(p, _)| p)
        .collect()
}

fn assert_no_password(tmp: &Path) {
    let found = holding_password(tmp);
    assert!(
        found.is_empty(),
        "files holding the database password remain: {found:?}\n{}",
        describe(tmp)
    );
}

fn assert_empty(tmp: &Path, why: &str) {
    let left: Vec<_> = fs::read_dir(tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{why}; left:\n{}", describe(tmp));
}

/// The next zrm run (a cheap command: the sweep runs at every command's start).
fn next_run_sweeps(config: &Path, tmp: &Path) {
    let out = support::run(
        support::zrm()
            .env("TMPDIR", tmp)
            .arg("--config")
            .arg(config)
            .args(["list", "--set", "s"]),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_empty(tmp, &format!("the next run did not sweep\n{out}"));
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
    config: PathBuf,
    tmp: PathBuf,
}

/// A server with `mb` MiB of hard-to-compress rows in `d.t`, an account `zrm` with
/// [`PASSWORD`] (created with the binlog off, so that only zrm's option file could ever hold
/// it), and a config for it (`extra` in `[defaults]`; `level`: zstd level of the repository,
/// 19 being slow enough to interrupt, 0 the default).
fn setup(flavor: Flavor, mb: u64, extra: &str, level: i32) -> Setup {
    let server = TestServer::of(flavor);
    let rows = mb * 2048; // 512 bytes a row
    server.sql(&format!(
        "SET sql_log_bin = 0;\n\
         CREATE USER zrm@localhost IDENTIFIED BY {pw};\n\
         GRANT ALL PRIVILEGES ON *.* TO zrm@localhost WITH GRANT OPTION;\n\
         SET sql_log_bin = 1;\n\
         CREATE DATABASE d; USE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(600));\n\
         INSERT INTO d.t SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1, 256), \
         SHA2(seq + 2, 256), SHA2(seq + 3, 256), SHA2(seq + 4, 256), SHA2(seq + 5, 256), \
         SHA2(seq + 6, 256), SHA2(seq + 7, 256)) FROM {seq};",
        pw = support::quote(PASSWORD),
        seq = server.seq(rows),
    ));
    let dir = tempfile::tempdir().unwrap();
    let pw_file = support::write_password_file(dir.path(), PASSWORD);
    let level = if level == 0 {
        String::new()
    } else {
        format!("compression_level = {level}\n")
    };
    let config = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\n{level}\n[defaults]\nuser = \"zrm\"\n\
             password_file = \"{}\"\n{extra}\n[sets.s]\nsocket = \"{}\"\n",
            pw_file.display(),
            server.socket().display()
        ),
    );
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    Setup {
        server,
        dir,
        config,
        tmp,
    }
}

/// Whether the backup is writing its data files: one exists, and no manifest yet.
fn backup_writing(dir: &Path) -> bool {
    let files = files_under(&dir.join("repo/sets/s/backups"));
    !files.is_empty() && !files.iter().any(|(p, _)| p.ends_with("manifest.json"))
}

// ---------------------------------------------------------------------------------------------
// backup
// ---------------------------------------------------------------------------------------------

/// Starts `backup` and returns once it writes its data files (and, for mysqldump, with the
/// dump tool's pid).
fn backup_mid_way(s: &Setup, tool: Option<&str>) -> (Zrm, Option<u32>) {
    let mut z = Zrm::start(&s.config, &s.tmp, &["backup", "--set", "s"]);
    let mut tool_pid = None;
    wait_until(
        Duration::from_secs(120),
        "the backup writing its data files",
        || {
            z.still_running("its data files grew");
            if let Some(t) = tool {
                if tool_pid.is_none() {
                    tool_pid = children_of(z.pid())
                        .into_iter()
                        .find(|(_, c)| c.contains(t))
                        .map(|(p, _)| p);
                }
                if tool_pid.is_none() {
                    return false;
                }
            }
            backup_writing(s.dir.path())
        },
        || describe(&s.dir.path().join("repo")),
    );
    (z, tool_pid)
}

fn interrupted_backup(flavor: Flavor, method: &str, tool: Option<&str>) {
    let s = setup(flavor, 24, &format!("method = \"{method}\"\n"), 19);

    // SIGTERM (cron's timeout, a shutdown): the tool is stopped, every temporary file removed,
    // and the message says what is left.
    let (mut z, tool_pid) = backup_mid_way(&s, tool);
    signal(&z.child, libc::SIGTERM);
    let code = z.wait(Duration::from_secs(60));
    let err = z.stderr();
    assert_eq!(code, 143, "{err}");
    assert!(err.contains("the backup was interrupted"), "{err}");
    assert!(err.contains("no manifest was written"), "{err}");
    if let (Some(pid), Some(t)) = (tool_pid, tool) {
        wait_until(
            Duration::from_secs(5),
            &format!("{t} (pid {pid}) gone"),
            || !alive(pid, t),
            || cmdline(pid),
        );
    }
    assert_no_password(&s.tmp);
    assert_empty(&s.tmp, &format!("SIGTERM left temporary files\n{err}"));
    assert!(backup_ids(&s.config, "s").is_empty());

    // kill -9: nothing can clean up, but no file holds the password, the tool dies with zrm,
    // and the next run (whatever the command) sweeps what was left.
    let (mut z, tool_pid) = backup_mid_way(&s, tool);
    signal(&z.child, libc::SIGKILL);
    assert_eq!(z.wait(Duration::from_secs(10)), 137);
    if let (Some(pid), Some(t)) = (tool_pid, tool) {
        wait_until(
            Duration::from_secs(5),
            &format!("{t} (pid {pid}) gone after kill -9 of zrm"),
            || !alive(pid, t),
            || cmdline(pid),
        );
    }
    assert_no_password(&s.tmp);
    next_run_sweeps(&s.config, &s.tmp);
    assert!(backup_ids(&s.config, "s").is_empty());
    drop(s.server);
}

flavor_tests! {
    fn interrupted_mysqldump_backup_leaves_no_password_file(flavor: Flavor) {
        let tool = match flavor {
            Flavor::MariaDB => "mariadb-dump",
            Flavor::MySQL => "mysqldump",
        };
        interrupted_backup(flavor, "mysqldump", Some(tool));
    }

    fn interrupted_logical_backup_cleans_up_and_says_what_is_left(flavor: Flavor) {
        interrupted_backup(flavor, "logical", None);
    }
}

// ---------------------------------------------------------------------------------------------
// binlog archive
// ---------------------------------------------------------------------------------------------

/// Starts `binlog archive` and returns once a file in its spool (under TMPDIR) holds data.
fn archive_mid_way(s: &Setup) -> Zrm {
    let mut z = Zrm::start(&s.config, &s.tmp, &["binlog", "archive", "--set", "s"]);
    wait_until(
        Duration::from_secs(60),
        "a spooled binlog under TMPDIR",
        || {
            z.still_running("its spool filled");
            files_under(&s.tmp).iter().any(|(_, n)| *n > 1 << 20)
        },
        || describe(&s.tmp),
    );
    z
}

flavor_tests! {
    fn interrupted_binlog_archive_leaves_no_password_and_no_spool(flavor: Flavor) {
        interrupted_archive(flavor);
    }
}

fn interrupted_archive(flavor: Flavor) {
    let s = setup(flavor, 48, "", 19);
    s.server.sql("FLUSH BINARY LOGS");

    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut z = archive_mid_way(&s);
        signal(&z.child, sig);
        let got = z.wait(Duration::from_secs(60));
        let err = z.stderr();
        assert_eq!(got, code, "{err}");
        assert!(err.contains("binlog archiving was interrupted"), "{err}");
        assert_no_password(&s.tmp);
        assert_empty(&s.tmp, &format!("signal {sig} left temporary files\n{err}"));
    }

    let mut z = archive_mid_way(&s);
    signal(&z.child, libc::SIGKILL);
    assert_eq!(z.wait(Duration::from_secs(10)), 137);
    assert_no_password(&s.tmp);
    next_run_sweeps(&s.config, &s.tmp);
}

// ---------------------------------------------------------------------------------------------
// verify --restore
// ---------------------------------------------------------------------------------------------

/// The throwaway server's program name.
fn server_program(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDB => "mariadbd",
        Flavor::MySQL => "mysqld",
    }
}

/// Kills a throwaway server the test saw if it outlived its zrm (so a failing test leaks no
/// server).
struct Reap(u32, &'static str);

impl Drop for Reap {
    fn drop(&mut self) {
        if alive(self.0, self.1) {
            // SAFETY: a server process the test identified by its command line.
            unsafe {
                libc::kill(self.0 as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Starts `verify --restore` and returns once its throwaway server accepts connections on its
/// socket, with the server's pid and socket.
fn verify_with_server_up(s: &Setup, program: &str) -> (Zrm, u32, PathBuf) {
    let mut z = Zrm::start(&s.config, &s.tmp, &["verify", "--set", "s", "--restore"]);
    let mut found: Option<(u32, PathBuf)> = None;
    wait_until(
        Duration::from_secs(120),
        "the throwaway server's socket",
        || {
            z.still_running("its throwaway server was up");
            found = children_of(z.pid())
                .into_iter()
                .filter(|(_, c)| c.contains(program))
                .find_map(|(pid, c)| {
                    let sock = c
                        .split(' ')
                        .find_map(|a| a.strip_prefix("--socket="))
                        .map(PathBuf::from)?;
                    sock.exists().then_some((pid, sock))
                });
            found.is_some()
        },
        || describe(&s.tmp),
    );
    let (pid, sock) = found.unwrap();
    (z, pid, sock)
}

flavor_tests! {
    fn killed_verify_restore_takes_its_throwaway_server_down(flavor: Flavor) {
        killed_verify(flavor);
    }
}

fn killed_verify(flavor: Flavor) {
    let program = server_program(flavor);
    let s = setup(flavor, 8, "", 0);
    support::zrm_ok(&s.config, &["backup", "--set", "s"]);

    // SIGTERM: the server is stopped, its data and run directory removed.
    let (mut z, pid, sock) = verify_with_server_up(&s, program);
    let _reap = Reap(pid, program);
    signal(&z.child, libc::SIGTERM);
    let code = z.wait(Duration::from_secs(60));
    let err = z.stderr();
    assert_eq!(code, 143, "{err}");
    assert!(err.contains("verify was interrupted"), "{err}");
    assert!(
        !alive(pid, program),
        "the throwaway server still runs\n{err}"
    );
    assert!(!sock.parent().unwrap().exists(), "{}", sock.display());
    assert_empty(&s.tmp, &format!("SIGTERM left temporary files\n{err}"));

    // kill -9: the server dies with zrm; the next run removes its scratch data.
    let (mut z, pid, sock) = verify_with_server_up(&s, program);
    let _reap = Reap(pid, program);
    signal(&z.child, libc::SIGKILL);
    assert_eq!(z.wait(Duration::from_secs(10)), 137);
    wait_until(
        Duration::from_secs(5),
        &format!("the throwaway server (pid {pid}) gone after kill -9 of zrm"),
        || !alive(pid, program),
        || cmdline(pid),
    );
    next_run_sweeps(&s.config, &s.tmp);
    assert!(!sock.parent().unwrap().exists(), "{}", sock.display());
}
