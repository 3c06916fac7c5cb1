//! A throwaway server started on a restored data directory (`restore --start-server`), so the
//! binary logs can be replayed into it; shut down cleanly afterwards, leaving a datadir the
//! real server can open.
//!
//! It listens on a private socket only (no TCP), writes no binary log, starts no replication,
//! runs no event, and is entered through a temporary account with a random password, created
//! at start-up by an `--init-file` (0600, removed once the server is up) and dropped before
//! shutdown: no password of the restored grant tables is needed, and nothing of zrm stays.
//!
//! It never outlives zrm: started with `PR_SET_PDEATHSIG` from zrm's spawner thread (SIGTERM,
//! a clean shutdown, for a datadir that is the restore's target; SIGKILL for a test restore's
//! throwaway data), stopped and waited for on SIGINT/SIGTERM before its directories go, and
//! its pid is recorded in its run directory so that the next zrm run stops it should it
//! survive anyway (a server that switched to another user loses the death signal).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::catalog::Flavor;
use crate::command::spawn_tied;
use crate::config::{ConnectionConfig, DEFAULT_PORT};
use crate::engine::snapshot::runner::find_program;
use crate::error::{Error, Result};
use crate::mysql;
use crate::mysql::tools;
use crate::scratch::ScratchDir;
use crate::secret::Secret;

const START_TIMEOUT: Duration = Duration::from_secs(600);
const STOP_TIMEOUT: Duration = Duration::from_secs(600);
const ACCOUNT: &str = "zrm_restore";

pub struct ThrowawayServer {
    child: Option<Child>,
    /// Stops the server on SIGINT/SIGTERM; disarmed once it has been stopped.
    stop: Option<crate::cleanup::Guard>,
    /// A datadir zrm made itself (`fresh`), removed with the server.
    _scratch: Option<ScratchDir>,
    run_dir: ScratchDir,
    datadir: PathBuf,
    conn: ConnectionConfig,
}

impl ThrowawayServer {
    /// Start `flavor`'s server (`mariadbd`, or MySQL's own `mysqld`) on `datadir` with the
    /// settings the source used.
    pub async fn start(
        flavor: Flavor,
        datadir: &Path,
        options: &BTreeMap<String, String>,
    ) -> Result<Self> {
        Self::start_on(flavor, datadir, options, None).await
    }

    /// Start on `datadir`; `scratch`: zrm's own throwaway directory holding it (its data may
    /// be lost: the server is killed rather than shut down if zrm dies).
    async fn start_on(
        flavor: Flavor,
        datadir: &Path,
        options: &BTreeMap<String, String>,
        scratch: Option<ScratchDir>,
    ) -> Result<Self> {
        let binary = match tools::locate(tools::server_names(flavor), flavor) {
            tools::Lookup::Found(t) => t.path,
            other => {
                return Err(Error::Restore(format!(
                    "a {flavor} server is needed to start on the data directory: {}; or start \
                     one on the datadir yourself and replay with --resume",
                    tools::explain(tools::server_names(flavor), flavor, &other)
                )))
            }
        };
        // A short path: a unix socket path must fit in 108 bytes.
        let run_dir = ScratchDir::new_in(&crate::scratch::short_root(), "srv")?;
        let tmp = run_dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let socket = run_dir.path().join("s.sock");
        let err_log = run_dir.path().join("err.log");
        let user = owner_name(datadir)?;
        if user != "root" {
            // The server drops to the datadir's owner, which must reach its tmpdir and socket.
            let owner = std::fs::metadata(datadir).map_err(|e| Error::io("stat", datadir, e))?;
            for p in [run_dir.path(), tmp.as_path()] {
                std::os::unix::fs::chown(p, Some(owner.uid()), Some(owner.gid()))
                    .map_err(|e| Error::io("hand over", p, e))?;
            }
        }
        let mut cmd = Command::new(&binary);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                run_dir.path().join("pid").display()
            ))
            .arg(format!("--log-error={}", err_log.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--user={user}"))
            .args([
                "--skip-networking",
                match flavor {
                    Flavor::MariaDB => "--skip-slave-start",
                    Flavor::MySQL => "--skip-replica-start",
                },
                "--skip-log-bin",
                "--event-scheduler=OFF",
                // Any transaction still only "prepared" in the copy was not in the binlog before
                // the backup's point (the engine logs are flushed under the lock, so every
                // binlogged commit is durable in the copy): rolling it back is what the point
                // demands, and without this the server refuses to start.
                "--tc-heuristic-recover=ROLLBACK",
            ]);
        if flavor == Flavor::MySQL {
            // The X protocol would listen on 33060 even without networking for SQL.
            cmd.arg("--mysqlx=OFF");
        }
        let password = random_password();
        let init = run_dir.path().join("init.sql");
        crate::secret::write_private_file(
            &init,
            format!(
                "DROP USER IF EXISTS '{ACCOUNT}'@'localhost';\n\
                 CREATE USER '{ACCOUNT}'@'localhost' IDENTIFIED BY {};\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{ACCOUNT}'@'localhost' WITH GRANT OPTION;\n",
                mysql::conn::quote_str(&password)
            )
            .as_bytes(),
        )?;
        if user != "root" {
            let owner = std::fs::metadata(datadir).map_err(|e| Error::io("stat", datadir, e))?;
            std::os::unix::fs::chown(&init, Some(owner.uid()), Some(owner.gid()))
                .map_err(|e| Error::io("hand over", &init, e))?;
        }
        cmd.arg(format!("--init-file={}", init.display()));
        for (k, v) in options {
            cmd.arg(format!("--{}={v}", k.replace('_', "-")));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        tracing::debug!("starting {:?}", cmd);
        let disposable = scratch.is_some();
        let death = if disposable {
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        let child = spawn_tied(cmd, death).map_err(|e| Error::io("start", &binary, e))?;
        // Before anything can fail: a server the guard or a later sweep can find and stop.
        let stop = crate::command::stop_guard(
            &child,
            format!(
                "stop the server (pid {}) started on {}",
                child.id(),
                datadir.display()
            ),
            libc::SIGTERM,
            // Its own data: a clean shutdown, however long; throwaway data: not long.
            if disposable {
                Duration::from_secs(10)
            } else {
                STOP_TIMEOUT
            },
        );
        for dir in std::iter::once(&run_dir).chain(scratch.as_ref()) {
            dir.record_server(child.id())?;
        }
        let mut server = ThrowawayServer {
            child: Some(child),
            stop: Some(stop),
            _scratch: scratch,
            run_dir,
            datadir: datadir.to_path_buf(),
            conn: ConnectionConfig {
                host: Some("localhost".into()),
                port: DEFAULT_PORT,
                socket: Some(socket),
                user: ACCOUNT.into(),
                password: Some(Secret::new(password)),
            },
        };
        let ready = server.wait_ready(&err_log).await;
        let _ = std::fs::remove_file(&init);
        ready?;
        Ok(server)
    }

    /// A new, empty server of `flavor` in a temporary directory (removed when it is dropped),
    /// for a test restore (`verify --restore`).
    pub async fn fresh(flavor: Flavor) -> Result<Self> {
        let scratch = ScratchDir::new("verify")?;
        let data = scratch.path().join("data");
        let user = if unsafe { libc::geteuid() } == 0 {
            "root".to_string()
        } else {
            owner_name(scratch.path())?
        };
        let mut cmd = match flavor {
            Flavor::MariaDB => {
                let install = find_program("mariadb-install-db")
                    .or_else(|| find_program("mysql_install_db"))
                    .ok_or_else(|| {
                        Error::Restore(
                            "a test restore needs mariadb-install-db (the server package) on \
                             this machine to create its throwaway server"
                                .into(),
                        )
                    })?;
                let mut cmd = Command::new(install);
                cmd.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--user={user}"))
                    .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
                cmd
            }
            // MySQL creates a datadir with the server itself.
            Flavor::MySQL => {
                let mysqld = tools::require(tools::server_names(flavor), flavor).map_err(|e| {
                    Error::Restore(format!("a test restore of a MySQL backup: {e}"))
                })?;
                let mut cmd = Command::new(&mysqld.path);
                cmd.arg("--no-defaults")
                    .arg("--initialize-insecure")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--user={user}"))
                    .arg("--skip-log-bin");
                cmd
            }
        };
        let program = PathBuf::from(cmd.get_program());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Dies with zrm too; what it leaves in `scratch` goes with it (or at the next run).
        let out = spawn_tied(cmd, libc::SIGKILL)
            .and_then(|c| c.wait_with_output())
            .map_err(|e| Error::io("run", &program, e))?;
        if !out.status.success() {
            return Err(Error::Restore(format!(
                "{} failed ({}): {}",
                program.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Self::start_on(flavor, &data, &BTreeMap::new(), Some(scratch)).await
    }

    /// How to connect: the temporary account over the private socket.
    pub fn conn(&self) -> &ConnectionConfig {
        &self.conn
    }

    pub fn socket(&self) -> &Path {
        self.conn.socket.as_deref().expect("always a socket")
    }

    async fn wait_ready(&mut self, err_log: &Path) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(Error::Restore(format!(
                    "the server started on {} exited ({status}) before accepting connections; \
                     its error log ends with:\n{}",
                    self.datadir.display(),
                    tail(err_log, 15)
                )));
            }
            if self.socket().exists() {
                if let Ok(s) = mysql::connect(&self.conn).await {
                    s.close().await;
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::Restore(format!(
                    "the server started on {} did not accept connections within {} s; its \
                     error log ends with:\n{}",
                    self.datadir.display(),
                    START_TIMEOUT.as_secs(),
                    tail(err_log, 15)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Drop the temporary account and shut the server down cleanly.
    pub async fn shutdown(mut self) -> Result<()> {
        let mut s = mysql::connect(&self.conn).await?;
        // The account drops itself; the session keeps running until SHUTDOWN.
        s.exec(&format!("DROP USER '{ACCOUNT}'@'localhost'"))
            .await?;
        let _ = s.exec("SHUTDOWN").await;
        s.close().await;
        let started = Instant::now();
        if let Some(mut child) = self.child.take() {
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    self.stopped();
                    if !status.success() {
                        return Err(Error::Restore(format!(
                            "the server on {} stopped with {status}; its error log ends \
                             with:\n{}",
                            self.datadir.display(),
                            tail(&self.run_dir.path().join("err.log"), 15)
                        )));
                    }
                    break;
                }
                if started.elapsed() > STOP_TIMEOUT {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.stopped();
                    return Err(Error::Restore(format!(
                        "the server on {} did not stop within {} s and was killed; InnoDB \
                         recovers on the next start",
                        self.datadir.display(),
                        STOP_TIMEOUT.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }
}

impl ThrowawayServer {
    /// The server process has been waited for: nothing is left to stop.
    fn stopped(&mut self) {
        if let Some(g) = self.stop.take() {
            g.disarm();
        }
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child, not yet reaped; SIGTERM is a clean shutdown.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let _ = child.wait();
        }
        self.stopped();
        // Then `scratch` (a fresh server's datadir) and the run directory go.
    }
}

fn owner_name(p: &Path) -> Result<String> {
    let uid = std::fs::metadata(p)
        .map_err(|e| Error::io("stat", p, e))?
        .uid();
    // SAFETY: getpwuid returns a pointer into static storage or null; read it at once.
    let name = unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr((*pw).pw_name)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    };
    name.ok_or_else(|| {
        Error::Restore(format!(
            "the owner (uid {uid}) of {} has no user name on this machine: chown it to the \
             server's user",
            p.display()
        ))
    })
}

fn random_password() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("{a}{b}")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
