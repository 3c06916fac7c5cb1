//! zrm's temporary directories — binlog spools, replay spools, a test restore's scratch data,
//! throwaway servers' run directories, and the option-file fallback — and the sweep that
//! removes those a killed zrm left behind.
//!
//! Must never remove a directory whose owner still runs, nor anything zrm did not make.
//!
//! Each is `<tmp>/zrm-<kind>.<pid>.<random>` (mode 0700), holding [`OWNER_FILE`]: the owning
//! process keeps it `flock`ed for the directory's whole life and writes its pid into it once
//! locked. The kernel drops a flock when its holder dies, however it dies, so "the lock can be
//! taken" means "the owner is gone" whatever became of its pid since. The directory is removed
//! when dropped (success or error) and, through [`crate::cleanup::Guard`], on SIGINT/SIGTERM;
//! kill -9 leaves it, and [`sweep`] at the start of the next zrm run removes it — after
//! stopping a throwaway server left running in it, which it recognises by the pid recorded in
//! [`SERVER_PID_FILE`] and a command line that names the directory.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cleanup::Guard;
use crate::error::{Error, IoContext, Result};

/// The lock file inside every scratch directory.
pub const OWNER_FILE: &str = ".zrm-owner";
/// The pid of a server zrm started with its files in the directory.
pub const SERVER_PID_FILE: &str = "server.pid";

/// The kinds of directory zrm makes; the sweep looks at no other name.
const KINDS: &[&str] = &["client", "spool", "replay", "verify", "verify-dump", "srv"];
const RANDOM_LEN: usize = 6;
/// How long the sweep lets a left-over server shut down before it kills it.
const SERVER_STOP_WAIT: Duration = Duration::from_secs(30);

/// A private temporary directory of this process (see the module comment).
pub struct ScratchDir {
    path: PathBuf,
    remove: Option<Guard>,
    /// Held (flocked) as long as the directory exists.
    _owner: File,
}

impl ScratchDir {
    /// A new directory in the temporary directory (`$TMPDIR`, else `/tmp`).
    pub fn new(kind: &'static str) -> Result<ScratchDir> {
        Self::new_in(&std::env::temp_dir(), kind)
    }

    /// A new directory in `parent`.
    pub fn new_in(parent: &Path, kind: &'static str) -> Result<ScratchDir> {
        debug_assert!(KINDS.contains(&kind), "unknown scratch kind {kind}");
        let dir = tempfile::Builder::new()
            .prefix(&format!("zrm-{kind}.{}.", std::process::id()))
            .rand_bytes(RANDOM_LEN)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(|e| Error::io("create a private temporary directory in", parent, e))?;
        let path = dir.path().to_path_buf();
        // Whatever the umask: only zrm's user may enter (option files, row data).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .at("restrict", &path)?;
        let owner = take_ownership(&path)?;
        let _ = dir.keep();
        let gone = path.clone();
        let remove = Guard::register(format!("remove {}", path.display()), move || {
            remove_dir(&gone)
        });
        Ok(ScratchDir {
            path,
            remove: Some(remove),
            _owner: owner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Note the pid of a server whose files are in this directory, so that the sweep can stop
    /// it if this process is killed and the server outlives it.
    pub fn record_server(&self, pid: u32) -> Result<()> {
        let p = self.path.join(SERVER_PID_FILE);
        std::fs::write(&p, format!("{pid}\n")).at("write", &p)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Removed while still locked: a sweep never sees it half-removed and unlocked.
        drop(self.remove.take());
    }
}

/// Create and lock the owner file, then write our pid into it (an empty owner file is a
/// directory still being made).
fn take_ownership(dir: &Path) -> Result<File> {
    let p = dir.join(OWNER_FILE);
    let made = (|| -> std::io::Result<File> {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        writeln!(f, "{}", std::process::id())?;
        Ok(f)
    })();
    made.map_err(|e| {
        let _ = std::fs::remove_dir_all(dir);
        Error::io("create the owner file", &p, e)
    })
}

fn remove_dir(path: &Path) {
    // A child that was just stopped may still have created a file: try again briefly.
    for _ in 0..5 {
        match std::fs::remove_dir_all(path) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    if let Err(e) = std::fs::remove_dir_all(path) {
        tracing::warn!(
            "could not remove {}: {e}; the next zrm run removes it",
            path.display()
        );
    }
}

/// `zrm-<kind>.<pid>.<random>` → the owner's pid.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("zrm-")?;
    let mut parts = rest.split('.');
    let (kind, pid, random) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !KINDS.contains(&kind)
        || random.len() != RANDOM_LEN
        || !random.bytes().all(|b| b.is_ascii_alphanumeric())
        || pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    pid.parse().ok()
}

fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Whether the directory's owner is gone; `Some(lock)` (held) when it is.
fn abandoned(dir: &Path, pid: u32) -> Option<Option<File>> {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(OWNER_FILE));
    let mut f = match owner {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Killed between making the directory and its owner file, or making it right now.
            let ours = std::fs::symlink_metadata(dir).is_ok_and(|m| m.uid() == me);
            return (ours && !process_exists(pid)).then_some(None);
        }
        Err(_) => return None,
    };
    // Another user's zrm (a server's run directory may be handed over; its owner file not).
    if f.metadata().map_or(true, |m| m.uid() != me) {
        return None;
    }
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return None; // held: its owner runs
    }
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    if text.trim().is_empty() && process_exists(pid) {
        return None; // being made: the owner has not locked it yet
    }
    Some(Some(f))
}

/// Remove what killed zrm processes left in the temporary directories (`$TMPDIR` and `/tmp`):
/// stop a throwaway server still running there, then remove the directory. Returns a line
/// for the user per thing done. Cheap when there is nothing to do (one directory listing).
pub fn sweep() -> Vec<String> {
    let mut roots = vec![std::env::temp_dir()];
    let tmp = PathBuf::from("/tmp");
    let same = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => a == b,
    };
    if !same(&roots[0], &tmp) {
        roots.push(tmp);
    }
    sweep_in(&roots)
}

fn sweep_in(roots: &[PathBuf]) -> Vec<String> {
    let mut found: Vec<(PathBuf, u32)> = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(owner_pid) else {
                continue;
            };
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                found.push((e.path(), pid));
            }
        }
    }
    // Run directories first: their server is stopped before its data directory goes.
    found.sort_by_key(|(p, _)| {
        !p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("zrm-srv."))
    });
    let mut notes = Vec::new();
    for (dir, pid) in found {
        let Some(_lock) = abandoned(&dir, pid) else {
            continue;
        };
        if let Some(note) = stop_left_server(&dir, pid) {
            notes.push(note);
        }
        remove_dir(&dir);
        if !dir.exists() {
            notes.push(format!(
                "removed {}, left by zrm (pid {pid}) that was killed",
                dir.display()
            ));
        }
    }
    notes
}

/// The server recorded in `dir`, if it still runs and really is that server (its command
/// line names `dir`: a pid reused since is left alone): SIGTERM, then SIGKILL if it has not
/// stopped in [`SERVER_STOP_WAIT`].
fn stop_left_server(dir: &Path, owner: u32) -> Option<String> {
    let pid: u32 = std::fs::read_to_string(dir.join(SERVER_PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let dir_text = dir.to_string_lossy();
    let names_dir = cmdline
        .split(|b| *b == 0)
        .any(|arg| String::from_utf8_lossy(arg).contains(dir_text.as_ref()));
    if !names_dir || !running(pid) {
        return None;
    }
    let program = cmdline
        .split(|b| *b == 0)
        .next()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_default();
    let signal = |sig| {
        // SAFETY: a process identified above by its command line.
        unsafe { libc::kill(pid as libc::pid_t, sig) };
    };
    signal(libc::SIGTERM);
    let started = Instant::now();
    while running(pid) && started.elapsed() < SERVER_STOP_WAIT {
        std::thread::sleep(Duration::from_millis(100));
    }
    let how = if running(pid) {
        signal(libc::SIGKILL);
        while running(pid) && started.elapsed() < SERVER_STOP_WAIT * 2 {
            std::thread::sleep(Duration::from_millis(50));
        }
        "killed"
    } else {
        "stopped"
    };
    Some(format!(
        "{how} the throwaway server {program} (pid {pid}) that zrm (pid {owner}) left running \
         in {}",
        dir.display()
    ))
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next())
        .unwrap_or("X");
    !matches!(state, "Z" | "X")
}

/// The directory for a server's run files (its socket among them): the temporary directory
/// when a socket path there fits the 108 bytes a unix socket allows, else `/tmp`.
pub fn short_root() -> PathBuf {
    let t = std::env::temp_dir();
    // "/zrm-srv.<pid>.<random>/s.sock" takes at most 36 more bytes.
    if t.as_os_str().len() <= 64 {
        t
    } else {
        PathBuf::from("/tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_parse_only_for_our_kinds() {
        assert_eq!(owner_pid("zrm-spool.123.AbC9zz"), Some(123));
        assert_eq!(owner_pid("zrm-verify-dump.7.abcdef"), Some(7));
        for other in [
            "zrm-lvm-AbC9zz",
            "zrm-test-AbC9zz",
            "zrm-spool.123.AbC9z",
            "zrm-spool.12x.AbC9zz",
            "zrm-other.1.AbC9zz",
            "zrm-spool.1.AbC9zz.x",
            "zrm-client-L2NApO",
        ] {
            assert_eq!(owner_pid(other), None, "{other}");
        }
    }

    #[test]
    fn removed_on_drop_and_swept_only_when_its_owner_is_gone() {
        let root = tempfile::tempdir().unwrap();
        // A live directory (this process holds its lock): never swept.
        let live = ScratchDir::new_in(root.path(), "spool").unwrap();
        assert_eq!(
            std::fs::metadata(live.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // One whose owner died: an unlocked owner file with a pid in it.
        let dead = root.path().join("zrm-spool.999999999.AAAAAA");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(OWNER_FILE), "999999999\n").unwrap();
        std::fs::write(dead.join("mysql-bin.000001"), "x").unwrap();
        // One being made by a live process (no owner file yet, our pid): left alone.
        let making = root
            .path()
            .join(format!("zrm-replay.{}.BBBBBB", std::process::id()));
        std::fs::create_dir(&making).unwrap();
        // One made by a process killed before its owner file existed: removed.
        let early = root.path().join("zrm-verify.999999999.CCCCCC");
        std::fs::create_dir(&early).unwrap();
        // Not ours by name: never touched.
        let other = root.path().join("zrm-lvm-DDDDDD");
        std::fs::create_dir(&other).unwrap();

        let mut found = Vec::new();
        for e in std::fs::read_dir(root.path()).unwrap().flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(owner_pid) {
                if let Some(_lock) = abandoned(&e.path(), pid) {
                    found.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        assert_eq!(
            found,
            ["zrm-spool.999999999.AAAAAA", "zrm-verify.999999999.CCCCCC"]
        );
        let live_name = live
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        drop(live);
        assert!(!names(root.path()).contains(&live_name), "removed on drop");
    }

    /// A run directory of a dead zrm.
    fn left_run_dir(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(OWNER_FILE), "999999995\n").unwrap();
        std::fs::write(dir.join("err.log"), "").unwrap();
        dir
    }

    fn record(dir: &Path, pid: u32) {
        std::fs::write(dir.join(SERVER_PID_FILE), format!("{pid}\n")).unwrap();
    }

    fn exits_within(child: &mut std::process::Child, t: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < t {
            if child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn sweep_stops_a_left_server_only_if_its_command_line_names_the_directory() {
        let root = tempfile::tempdir().unwrap();
        // Stand-ins for servers: processes whose command line does, or does not, name the
        // run directory recorded with their pid.
        let named = left_run_dir(root.path(), "zrm-srv.999999995.AAAAAA");
        let mut server = std::process::Command::new("tail")
            .arg("-f")
            .arg(named.join("err.log"))
            .spawn()
            .unwrap();
        record(&named, server.id());
        let reused = left_run_dir(root.path(), "zrm-srv.999999995.BBBBBB");
        let mut stranger = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap();
        record(&reused, stranger.id());

        let notes = sweep_in(&[root.path().to_path_buf()]);
        assert!(
            exits_within(&mut server, Duration::from_secs(5)),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("stopped the throwaway server tail")),
            "{notes:?}"
        );
        // A pid reused by another program is left alone; the directory goes all the same.
        assert!(!exits_within(&mut stranger, Duration::from_millis(300)));
        let _ = stranger.kill();
        let _ = stranger.wait();
        assert!(!named.exists() && !reused.exists(), "{notes:?}");
    }

    #[test]
    fn sweep_removes_a_dead_owners_directory_in_tmpdir() {
        // sweep() reads $TMPDIR; a directory under it named as a dead zrm's.
        let dead = std::env::temp_dir().join("zrm-spool.999999998.EEEEEE");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join(OWNER_FILE), "999999998\n").unwrap();
        let notes = sweep();
        assert!(!dead.exists());
        assert!(
            notes
                .iter()
                .any(|n| n.contains("zrm-spool.999999998.EEEEEE")),
            "{notes:?}"
        );
    }
}
