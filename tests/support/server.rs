//! Throwaway servers of either flavor for the integration tests: MariaDB 10.11 (Debian's
//! `mariadbd`) and Oracle MySQL 9.7 (the `mysqld` wrapper of `scripts/mysql-chroot.sh`), both
//! started the same way: a temp dir, a free port on 127.0.0.1, `--no-defaults`, binary logs on
//! (GTIDs on for MySQL), a datadir copied from a template initialised once per test process.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{quote, run, Flavor};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const START_ATTEMPTS: usize = 5;

// ---------------------------------------------------------------------------------------------
// Child processes that die with the test process
// ---------------------------------------------------------------------------------------------

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` so that it gets SIGKILL when the test process dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, and test threads end
/// with their test; so children are forked from one long-lived thread, which lets a server
/// outlive the test thread that started it (e.g. a server shared through a static).
pub(crate) fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let parent = std::process::id();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("test-server-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        tx
    });
    let (tx, rx) = mpsc::channel();
    spawner
        .send((cmd, tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

// ---------------------------------------------------------------------------------------------
// Data directory templates
// ---------------------------------------------------------------------------------------------

/// InnoDB sizes used both for the templates and for the servers, so startup never resizes logs.
fn innodb_args(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDB => &[
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
        ],
        Flavor::MySQL => &[
            "--innodb-buffer-pool-size=64M",
            "--innodb-redo-log-capacity=48M",
        ],
    }
}

/// A directory for temp dirs whose paths stay short enough for a Unix socket (108 bytes).
fn temp_root() -> PathBuf {
    let t = std::env::temp_dir();
    if t.as_os_str().len() <= 60 {
        t
    } else {
        PathBuf::from("/tmp")
    }
}

pub(crate) fn new_temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(temp_root())
        .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"))
}

/// Root of this process's templates; removed at process exit.
fn template_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        extern "C" fn remove_templates() {
            if let Some(root) = ROOT.get() {
                let _ = fs::remove_dir_all(root);
            }
        }
        let root = new_temp_dir("zrm-tpl-").keep();
        // SAFETY: registering a plain extern "C" fn.
        unsafe {
            libc::atexit(remove_templates);
        }
        root
    })
}

/// A freshly initialised datadir of `flavor` (`mariadb-install-db`, or `mysqld
/// --initialize-insecure`), built once per test process.
fn base_template(flavor: Flavor) -> &'static Path {
    static BASE: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    BASE[flavor.index()].get_or_init(|| {
        let name = flavor.tag();
        let data = template_root().join(format!("base-{name}"));
        let tmp = template_root().join(format!("base-tmp-{name}"));
        fs::create_dir_all(&tmp).unwrap();
        let mut cmd = match flavor {
            Flavor::MariaDB => {
                let mut cmd = Command::new(super::tool("mariadb-install-db"));
                cmd.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--tmpdir={}", tmp.display()))
                    .args([
                        "--user=root",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                    ]);
                cmd
            }
            Flavor::MySQL => {
                // As mariadb-install-db does: root may also come over TCP from 127.0.0.1/::1.
                let init = template_root().join("mysql-init.sql");
                fs::write(
                    &init,
                    "CREATE USER 'root'@'127.0.0.1', 'root'@'::1';\n\
                     GRANT ALL ON *.* TO 'root'@'127.0.0.1', 'root'@'::1' WITH GRANT OPTION;\n",
                )
                .unwrap();
                let mut cmd = Command::new(flavor.program("mysqld"));
                cmd.arg("--no-defaults")
                    .arg("--initialize-insecure")
                    .arg(format!("--init-file={}", init.display()))
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--tmpdir={}", tmp.display()))
                    .args(["--user=root", "--skip-log-bin"]);
                cmd
            }
        };
        cmd.args(innodb_args(flavor));
        let out = run(&mut cmd);
        assert!(
            out.success(),
            "initialising a {flavor} datadir failed: {out}"
        );
        // auto.cnf holds MySQL's server_uuid: without it each server makes its own, as
        // separate servers have (copies sharing one UUID share GTIDs).
        let _ = fs::remove_file(data.join("auto.cnf"));
        data
    })
}

/// The base template plus the time zone tables (for named `--default-time-zone` values), built
/// once per test process and only when needed.
fn tz_template(flavor: Flavor) -> &'static Path {
    static TZ: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    TZ[flavor.index()].get_or_init(|| {
        let dir = template_root().join(format!("tz-{}", flavor.tag()));
        fs::create_dir_all(&dir).unwrap();
        let data = dir.join("data");
        copy_dir(base_template(flavor), &data);
        let sock = dir.join("s.sock");
        let err_log = dir.join("err.log");
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).unwrap();
        let mut cmd = Command::new(flavor.server_program());
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--log-error={}", err_log.display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .args(["--skip-networking", "--user=root", "--skip-name-resolve"])
            .args(innodb_args(flavor));
        if flavor == Flavor::MySQL {
            // MySQL logs by default: no binlog in the template's datadir.
            cmd.args(["--skip-log-bin", "--mysqlx=OFF"]);
        }
        let mut child = launch(cmd, flavor, &dir, &sock, &err_log, None)
            .unwrap_or_else(|e| panic!("cannot start the server for the time zone template: {e}"));
        let tzsql = Command::new(flavor.program(match flavor {
            Flavor::MariaDB => "mariadb-tzinfo-to-sql",
            Flavor::MySQL => "mysql_tzinfo_to_sql",
        }))
        .arg("/usr/share/zoneinfo")
        .stderr(Stdio::null())
        .output()
        .expect("cannot run the tzinfo-to-sql tool");
        let sql_path = dir.join("tz.sql");
        fs::write(&sql_path, &tzsql.stdout).unwrap();
        let mut load = Command::new(flavor.client_program());
        load.arg("--no-defaults")
            .arg(format!("--socket={}", sock.display()))
            .args(["-uroot", "mysql"])
            .stdin(File::open(&sql_path).unwrap());
        let out = run(&mut load);
        stop_child(&mut child);
        assert!(out.success(), "loading time zone tables failed: {out}");
        let _ = fs::remove_file(&sql_path);
        let _ = fs::remove_file(data.join("auto.cnf"));
        data
    })
}

fn copy_dir(from: &Path, to: &Path) {
    let out = run(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(
        out.success(),
        "cp -a {} {}: {out}",
        from.display(),
        to.display()
    );
}

fn is_named_time_zone(tz: &str) -> bool {
    !(tz.starts_with('+') || tz.starts_with('-') || tz.eq_ignore_ascii_case("SYSTEM"))
}

// ---------------------------------------------------------------------------------------------
// Starting and stopping servers
// ---------------------------------------------------------------------------------------------

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Last `n` lines of a file (or a note that it cannot be read).
fn tail(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn ping(flavor: Flavor, sock: &Path, defaults_file: Option<&Path>) -> bool {
    let mut cmd = Command::new(flavor.client_program());
    match defaults_file {
        Some(f) => cmd.arg(format!("--defaults-file={}", f.display())),
        None => cmd.arg("--no-defaults"),
    };
    cmd.arg(format!("--socket={}", sock.display()))
        .args(["-uroot", "-e", "select 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

enum LaunchError {
    /// The server exited early because its port was taken: worth another port.
    PortInUse(String),
    Failed(String),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::PortInUse(s) | LaunchError::Failed(s) => f.write_str(s),
        }
    }
}

/// Starts `cmd` (a server command line) and waits until `select 1` works on `sock`.
fn launch(
    mut cmd: Command,
    flavor: Flavor,
    dir: &Path,
    sock: &Path,
    err_log: &Path,
    defaults_file: Option<&Path>,
) -> Result<Child, LaunchError> {
    let server = flavor.server_name();
    let _ = fs::remove_file(err_log);
    let _ = fs::remove_file(sock);
    let out = File::create(dir.join("server.out")).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let mut child =
        spawn_tied(cmd).map_err(|e| LaunchError::Failed(format!("cannot start {server}: {e}")))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = tail(err_log, 30);
            let msg = format!(
                "{server} exited during startup ({status}); tail of {}:\n{log}\n--- server.out ---\n{}",
                err_log.display(),
                tail(&dir.join("server.out"), 10)
            );
            return Err(
                if log.contains("Address already in use") || log.contains("Bind on TCP/IP port") {
                    LaunchError::PortInUse(msg)
                } else {
                    LaunchError::Failed(msg)
                },
            );
        }
        if sock.exists() && ping(flavor, sock, defaults_file) {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LaunchError::Failed(format!(
                "{server} not ready after {}s; tail of {}:\n{}",
                READY_TIMEOUT.as_secs(),
                err_log.display(),
                tail(err_log, 30)
            )));
        }
        thread::sleep(POLL);
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a child we have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// SIGTERM, wait up to 30 s, then SIGKILL. Never panics.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signal(child, libc::SIGTERM);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => thread::sleep(POLL),
        }
    }
    eprintln!(
        "server (pid {}) ignored SIGTERM for 30s: SIGKILL",
        child.id()
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Options for [`TestServer::start_with`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// MariaDB (the default) or MySQL.
    pub flavor: Flavor,
    /// `--binlog-format`: "ROW" (default), "STATEMENT" or "MIXED".
    pub binlog_format: &'static str,
    /// `--server-id`; by default unique within the process (100, 101, …).
    pub server_id: u32,
    /// `--default-time-zone`, e.g. "+02:00" or "Europe/Paris" (named zones get a datadir with
    /// the time zone tables loaded).
    pub time_zone: Option<String>,
    /// More server arguments, appended last.
    pub extra_args: Vec<String>,
    /// Where the server's temp dir is made (default: the system temp dir); e.g. a btrfs mount.
    pub parent_dir: Option<PathBuf>,
}

static NEXT_SERVER_ID: AtomicU32 = AtomicU32::new(100);

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            flavor: Flavor::MariaDB,
            binlog_format: "ROW",
            server_id: NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed),
            time_zone: None,
            extra_args: Vec::new(),
            parent_dir: None,
        }
    }
}

impl ServerOptions {
    /// The default options for a server of `flavor`.
    pub fn of(flavor: Flavor) -> ServerOptions {
        ServerOptions {
            flavor,
            ..Default::default()
        }
    }
}

/// A throwaway server. Layout of [`dir`](TestServer::dir): `data/`, `binlog/`
/// (`mysql-bin.*`), `s.sock`, `err.log`, `pid`, `client.cnf`.
pub struct TestServer {
    dir: Option<TempDir>,
    path: PathBuf,
    opts: ServerOptions,
    port: u16,
    child: Option<Child>,
    password: Option<String>,
    /// MySQL's `@@server_uuid`, once asked.
    uuid: OnceLock<String>,
}

impl TestServer {
    /// Starts a MariaDB server with the default options; panics with a clear message on failure.
    pub fn start() -> TestServer {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server of `flavor` with the default options.
    pub fn of(flavor: Flavor) -> TestServer {
        Self::start_with(ServerOptions::of(flavor))
    }

    /// Starts a server with `opts`; panics with a clear message on failure.
    pub fn start_with(opts: ServerOptions) -> TestServer {
        let dir = match &opts.parent_dir {
            Some(p) => tempfile::Builder::new()
                .prefix("zrm-test-")
                .tempdir_in(p)
                .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", p.display())),
            None => new_temp_dir("zrm-test-"),
        };
        let template = Self::template(&opts);
        Self::start_in(dir, template, opts, true)
    }

    fn template(opts: &ServerOptions) -> &'static Path {
        match &opts.time_zone {
            Some(tz) if is_named_time_zone(tz) => tz_template(opts.flavor),
            _ => base_template(opts.flavor),
        }
    }

    /// A server in `dir` on a copy of `datadir`; `fresh`: a failed start may re-copy it.
    fn start_in(dir: TempDir, datadir: &Path, opts: ServerOptions, fresh: bool) -> TestServer {
        let path = dir.path().to_path_buf();
        copy_dir(datadir, &path.join("data"));
        fs::create_dir(path.join("binlog")).unwrap();
        let mut server = TestServer {
            dir: Some(dir),
            path,
            opts,
            port: 0,
            child: None,
            password: None,
            uuid: OnceLock::new(),
        };
        server.write_client_cnf();
        server.launch(fresh);
        server
    }

    /// Starts a server on a copy of an existing data directory (e.g. one zrm restored).
    pub fn start_on_copy_of(datadir: &Path, opts: ServerOptions) -> TestServer {
        Self::start_in(new_temp_dir("zrm-test-"), datadir, opts, false)
    }

    /// Starts the server again on the same datadir (after [`stop`](Self::stop) or
    /// [`kill9`](Self::kill9), e.g. to exercise crash recovery); stops it first if running.
    /// Keeps the port if it is still free.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(false);
    }

    fn launch(&mut self, fresh: bool) {
        let server = self.opts.flavor.server_name();
        let mut last_err = String::new();
        for attempt in 0..START_ATTEMPTS {
            let port = if self.port != 0 && attempt == 0 && port_is_free(self.port) {
                self.port
            } else {
                free_port()
            };
            if fresh && attempt > 0 {
                // A failed start may have left InnoDB, Aria or binlog files behind.
                let _ = fs::remove_dir_all(self.datadir());
                let _ = fs::remove_dir_all(self.binlog_dir());
                copy_dir(Self::template(&self.opts), &self.datadir());
                fs::create_dir(self.binlog_dir()).unwrap();
            }
            let cmd = self.server_command(port);
            let cnf = self.client_cnf();
            match launch(
                cmd,
                self.opts.flavor,
                &self.path,
                &self.socket(),
                &self.err_log_path(),
                Some(&cnf),
            ) {
                Ok(child) => {
                    self.port = port;
                    self.child = Some(child);
                    return;
                }
                Err(LaunchError::PortInUse(msg)) => last_err = msg,
                Err(e) => panic!(
                    "TestServer: cannot start {server} in {}: {e}",
                    self.path.display()
                ),
            }
        }
        panic!(
            "TestServer: cannot start {server} in {} after {START_ATTEMPTS} attempts: {last_err}",
            self.path.display()
        );
    }

    fn server_command(&self, port: u16) -> Command {
        let d = &self.path;
        let flavor = self.opts.flavor;
        // Each server its own tmpdir: with every test server's internal (Aria) temporary tables
        // in one shared /tmp, mariadbd 10.11 was seen to crash in ha_maria::drop_table under a
        // parallel test run.
        let tmp = d.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        let mut cmd = Command::new(flavor.server_program());
        cmd.arg("--no-defaults")
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--datadir={}", self.datadir().display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--user=root")
            .arg(format!(
                "--log-bin={}",
                self.binlog_dir().join("mysql-bin").display()
            ))
            .arg(format!("--server-id={}", self.opts.server_id))
            .arg(format!("--binlog-format={}", self.opts.binlog_format))
            .arg(format!("--log-error={}", self.err_log_path().display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .args(innodb_args(flavor))
            .arg("--skip-name-resolve");
        match flavor {
            Flavor::MariaDB => {
                cmd.arg("--gtid-domain-id=0");
            }
            Flavor::MySQL => {
                // As MariaDB: GTIDs in every transaction, LOAD DATA LOCAL allowed; no X
                // protocol port (33060 would clash between servers).
                cmd.args([
                    "--gtid-mode=ON",
                    "--enforce-gtid-consistency=ON",
                    "--local-infile=ON",
                    "--mysqlx=OFF",
                    "--skip-replica-start",
                    // Recursive CTEs make test data on both flavors (see `seq`).
                    "--cte-max-recursion-depth=100000000",
                ]);
            }
        }
        if let Some(tz) = &self.opts.time_zone {
            cmd.arg(format!("--default-time-zone={tz}"));
        }
        cmd.args(&self.opts.extra_args);
        cmd
    }

    // --- accessors ---------------------------------------------------------------------------

    /// MariaDB or MySQL.
    pub fn flavor(&self) -> Flavor {
        self.opts.flavor
    }
    /// The server's temp dir (holds everything else).
    pub fn dir(&self) -> &Path {
        &self.path
    }
    pub fn socket(&self) -> PathBuf {
        self.path.join("s.sock")
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn datadir(&self) -> PathBuf {
        self.path.join("data")
    }
    /// Directory of the binary logs (`mysql-bin.000001`, …, `mysql-bin.index`).
    pub fn binlog_dir(&self) -> PathBuf {
        self.path.join("binlog")
    }
    pub fn err_log_path(&self) -> PathBuf {
        self.path.join("err.log")
    }
    /// Last `lines` lines of the error log.
    pub fn err_log_tail(&self, lines: usize) -> String {
        tail(&self.err_log_path(), lines)
    }
    pub fn server_id(&self) -> u32 {
        self.opts.server_id
    }
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }
    /// Pid of the running server, None once stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
    /// The root password set by [`set_root_password`](Self::set_root_password), if any.
    pub fn root_password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// A 0600 option file with `[client]` `user=root`, `socket=…` and (once set) `password=…`;
    /// usable as `--defaults-file` / `--defaults-extra-file` or as zrm's `defaults_file`.
    pub fn client_cnf(&self) -> PathBuf {
        self.path.join("client.cnf")
    }

    fn write_client_cnf(&self) {
        let mut body = format!("[client]\nuser=root\nsocket={}\n", self.socket().display());
        if let Some(pw) = &self.password {
            let escaped = pw.replace('\\', "\\\\").replace('"', "\\\"");
            body.push_str(&format!("password=\"{escaped}\"\n"));
        }
        write_private(&self.client_cnf(), body.as_bytes());
    }

    // --- SQL -----------------------------------------------------------------------------------

    /// This flavor's own command-line client (`mariadb`, or MySQL's `mysql`) connected as root
    /// over the socket (credentials come from [`client_cnf`](Self::client_cnf), never from
    /// argv). Add `-e`, a database, stdin, ….
    pub fn client(&self) -> Command {
        let mut cmd = Command::new(self.opts.flavor.client_program());
        cmd.arg(format!("--defaults-file={}", self.client_cnf().display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg("-uroot");
        cmd
    }

    /// The same as [`client`](Self::client) (the name predates MySQL servers in the harness).
    pub fn mariadb(&self) -> Command {
        self.client()
    }

    fn run_sql(
        &self,
        db: Option<&str>,
        sql: Option<&str>,
        stdin: Option<File>,
    ) -> Result<String, String> {
        let mut cmd = self.client();
        cmd.args(["--batch", "--skip-column-names"]);
        if let Some(db) = db {
            cmd.arg(format!("--database={db}"));
        }
        if let Some(sql) = sql {
            cmd.arg("-e").arg(sql);
        }
        match stdin {
            Some(f) => cmd.stdin(f),
            None => cmd.stdin(Stdio::null()),
        };
        let out = run(&mut cmd);
        if out.success() {
            let mut s = out.stdout;
            if s.ends_with('\n') {
                s.pop();
            }
            Ok(s)
        } else {
            Err(format!("exit code {}: {}", out.code, out.stderr.trim_end()))
        }
    }

    /// Runs SQL (several statements allowed) and returns stdout (tab-separated rows, no column
    /// names) without its final newline; `Err(stderr)` on failure.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        self.run_sql(None, Some(sql), None)
    }

    /// Like [`try_sql`](Self::try_sql) but panics on failure.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|e| {
            panic!(
                "SQL failed on {} ({}): {e}\nSQL: {sql}",
                self.path.display(),
                self.flavor()
            )
        })
    }

    /// [`sql`](Self::sql) with `db` as the default database.
    pub fn sql_db(&self, db: &str, sql: &str) -> String {
        self.run_sql(Some(db), Some(sql), None).unwrap_or_else(|e| {
            panic!(
                "SQL failed on {} (db {db}): {e}\nSQL: {sql}",
                self.path.display()
            )
        })
    }

    /// Feeds a file of SQL (e.g. a dump) to the client on stdin; panics on failure.
    pub fn sql_file(&self, path: &Path) -> String {
        let f = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        self.run_sql(None, None, Some(f))
            .unwrap_or_else(|e| panic!("loading {} failed: {e}", path.display()))
    }

    // --- what differs between the flavors ----------------------------------------------------

    /// The statement that shows the current binlog file and position: `SHOW MASTER STATUS` on
    /// MariaDB, `SHOW BINARY LOG STATUS` on MySQL 8.4+ (where the old one is gone).
    pub fn binlog_status_sql(&self) -> &'static str {
        match self.flavor() {
            Flavor::MariaDB => "SHOW MASTER STATUS",
            Flavor::MySQL => "SHOW BINARY LOG STATUS",
        }
    }

    /// The current binlog file and position.
    pub fn binlog_position(&self) -> (String, u64) {
        let row = self.sql(self.binlog_status_sql());
        let cols: Vec<&str> = row.split('\t').collect();
        (cols[0].to_string(), cols[1].parse().unwrap())
    }

    /// The variable holding the executed GTIDs: MariaDB `@@gtid_binlog_pos`, MySQL
    /// `@@gtid_executed`.
    pub fn gtid_variable(&self) -> &'static str {
        match self.flavor() {
            Flavor::MariaDB => "@@gtid_binlog_pos",
            Flavor::MySQL => "@@GLOBAL.gtid_executed",
        }
    }

    /// The executed GTIDs, as one line (MySQL prints long sets on several lines).
    pub fn gtid_executed(&self) -> String {
        self.sql(&format!("SELECT {}", self.gtid_variable()))
            .replace("\\n", "")
            .replace('\n', "")
    }

    /// The GTID of the last transaction, when this server is the only source of its GTIDs:
    /// MariaDB's `@@gtid_binlog_pos` (`0-100-37`, one domain), MySQL's `uuid:37` from
    /// `@@gtid_executed` = `uuid:1-37`.
    pub fn last_gtid(&self) -> String {
        let state = self.gtid_executed();
        match self.flavor() {
            Flavor::MariaDB => state,
            Flavor::MySQL => {
                let (uuid, range) = state
                    .rsplit_once(':')
                    .unwrap_or_else(|| panic!("no GTID executed yet: {state:?}"));
                assert!(!uuid.contains(','), "one GTID source expected: {state}");
                format!("{uuid}:{}", range.rsplit('-').next().unwrap_or(range))
            }
        }
    }

    /// The transaction number of a GTID of this server (`0-100-37` or `uuid:37` → 37); panics
    /// for another server's.
    pub fn gtid_seq(&self, gtid: &str) -> u64 {
        let prefix = match self.flavor() {
            Flavor::MariaDB => format!("0-{}-", self.server_id()),
            Flavor::MySQL => format!("{}:", self.server_uuid().unwrap()),
        };
        gtid.strip_prefix(&prefix)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("GTID {gtid:?} is not of the form {prefix}N"))
    }

    /// `RESET MASTER` on MariaDB, `RESET BINARY LOGS AND GTIDS` on MySQL 8.4+.
    pub fn reset_binlogs_sql(&self) -> &'static str {
        match self.flavor() {
            Flavor::MariaDB => "RESET MASTER",
            Flavor::MySQL => "RESET BINARY LOGS AND GTIDS",
        }
    }

    /// A derived table `seqs` with one column `seq` holding 1..=n, for making test data on
    /// both flavors (MariaDB's `seq_1_to_N` tables do not exist on MySQL):
    /// `INSERT INTO t SELECT seq, … FROM {seq}`.
    pub fn seq(&self, n: u64) -> String {
        match self.flavor() {
            Flavor::MariaDB => format!("(SELECT seq FROM mysql.seq_1_to_{n}) AS seqs"),
            Flavor::MySQL => format!(
                "(WITH RECURSIVE s (seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s \
                 WHERE seq < {n}) SELECT seq FROM s) AS seqs"
            ),
        }
    }

    /// Makes this server a replica of `primary`, with GTID auto-positioning from the primary's
    /// first binlog, and returns once both replication threads run and it has applied all the
    /// primary had executed. The primary gets an account `zrm_repl` (REPLICATION SLAVE); MySQL
    /// 9.7 replicates with `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION = 1,
    /// GET_SOURCE_PUBLIC_KEY = 1` (caching_sha2_password over plain TCP), MariaDB with `CHANGE
    /// MASTER TO … MASTER_USE_GTID = slave_pos`. Reusable by any test that needs a replica.
    pub fn replicate_from(&self, primary: &TestServer) {
        assert_eq!(
            self.flavor(),
            primary.flavor(),
            "a replica of the same flavor"
        );
        primary.sql(
            "CREATE USER IF NOT EXISTS 'zrm_repl'@'%' IDENTIFIED BY 'repl-pw';\n\
             GRANT REPLICATION SLAVE ON *.* TO 'zrm_repl'@'%'",
        );
        let port = primary.port();
        match self.flavor() {
            Flavor::MySQL => self.sql(&format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = {port}, \
                 SOURCE_USER = 'zrm_repl', SOURCE_PASSWORD = 'repl-pw', SOURCE_AUTO_POSITION = 1, \
                 GET_SOURCE_PUBLIC_KEY = 1;\nSTART REPLICA"
            )),
            Flavor::MariaDB => self.sql(&format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {port}, \
                 MASTER_USER = 'zrm_repl', MASTER_PASSWORD = 'repl-pw', \
                 MASTER_USE_GTID = slave_pos;\nSTART SLAVE"
            )),
        };
        self.wait_replicated(primary);
    }

    /// Waits (up to 60 s) until this replica has applied everything `primary` has executed;
    /// panics with the replica's status otherwise.
    pub fn wait_replicated(&self, primary: &TestServer) {
        let executed = primary.gtid_executed();
        let waited = match self.flavor() {
            Flavor::MySQL => self.sql(&format!(
                "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, 60)",
                quote(&executed)
            )),
            Flavor::MariaDB => self.sql(&format!(
                "SELECT MASTER_GTID_WAIT({}, 60)",
                quote(&executed)
            )),
        };
        if waited.trim() != "0" {
            panic!(
                "the replica on port {} did not catch up with {executed} (port {}):\n{}\n{}",
                self.port(),
                primary.port(),
                self.sql("SHOW REPLICA STATUS"),
                self.err_log_tail(20)
            );
        }
    }

    /// `@@server_uuid` (MySQL), or `None` on MariaDB.
    pub fn server_uuid(&self) -> Option<String> {
        match self.flavor() {
            Flavor::MariaDB => None,
            Flavor::MySQL => Some(
                self.uuid
                    .get_or_init(|| self.sql("SELECT @@server_uuid"))
                    .clone(),
            ),
        }
    }

    /// Sets root@localhost's password; later [`sql`](Self::sql) calls keep working (the
    /// password goes through [`client_cnf`](Self::client_cnf)).
    pub fn set_root_password(&mut self, pw: &str) {
        self.sql(&format!(
            "ALTER USER root@localhost IDENTIFIED BY {}",
            quote(pw)
        ));
        self.password = Some(pw.to_string());
        self.write_client_cnf();
    }

    /// Creates `user@'%'` and `user@localhost` with `password`, and grants them `grants`:
    /// a privilege list such as "SELECT, RELOAD, REPLICATION CLIENT" (granted ON *.*), or a
    /// full "… ON db.*" clause. Empty `grants` grants nothing.
    pub fn create_user(&self, user: &str, password: &str, grants: &str) {
        let mut sql = String::new();
        for host in ["%", "localhost"] {
            let account = format!("{}@{}", quote(user), quote(host));
            sql.push_str(&format!(
                "CREATE USER {account} IDENTIFIED BY {};\n",
                quote(password)
            ));
            let g = grants.trim();
            if !g.is_empty() {
                let on = if g.to_ascii_uppercase().contains(" ON ") {
                    ""
                } else {
                    " ON *.*"
                };
                sql.push_str(&format!("GRANT {g}{on} TO {account};\n"));
            }
        }
        self.sql(&sql);
    }

    // --- stopping ------------------------------------------------------------------------------

    /// SIGTERM, wait for exit up to 30 s, then SIGKILL. Does nothing if already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
    }

    /// SIGKILL, like a crash (no clean shutdown). [`restart`](Self::restart) recovers.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!(
                "TestServer {} ({}): tail of err.log:\n{}",
                self.path.display(),
                self.flavor(),
                self.err_log_tail(20)
            );
            if std::env::var_os("ZRM_KEEP_TEST_DIRS").is_some() {
                if let Some(dir) = self.dir.take() {
                    eprintln!("TestServer: keeping {}", dir.keep().display());
                }
            }
        }
    }
}

/// Creates or truncates `path` with mode 0600 (also fixing the mode of an existing file).
pub fn write_private(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    f.write_all(data)
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
