//! Checks the real-server test harness in `tests/support`, for both flavors.

mod support;

use std::process::Stdio;
use std::thread;

use support::{Flavor, ServerOptions, TestServer};

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

flavor_tests! {
fn two_servers_start_concurrently_and_stop_on_drop(flavor: Flavor) {
    let handles: Vec<_> = (0..2)
        .map(|_| thread::spawn(move || TestServer::of(flavor)))
        .collect();
    let servers: Vec<TestServer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let (a, b) = (&servers[0], &servers[1]);

    assert_ne!(a.port(), b.port());
    assert_ne!(a.socket(), b.socket());
    assert_ne!(a.server_id(), b.server_id());

    for s in &servers {
        assert_eq!(s.sql("select 1"), "1");
        assert_eq!(s.sql("select @@log_bin"), "1");
        assert_eq!(s.sql("select @@binlog_format"), "ROW");
        assert_eq!(s.sql("select @@port"), s.port().to_string());
        assert_eq!(s.sql("select @@server_id"), s.server_id().to_string());
        match flavor {
            Flavor::MariaDB => assert_eq!(s.sql("select @@gtid_domain_id"), "0"),
            Flavor::MySQL => {
                assert_eq!(s.sql("select @@gtid_mode"), "ON");
                assert!(s.sql("select version()").starts_with("9."));
            }
        }
        assert_eq!(s.flavor(), flavor);
        assert_eq!(s.sql("select @@socket"), s.socket().display().to_string());
        let binlogs: Vec<_> = std::fs::read_dir(s.binlog_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("mysql-bin.0"))
            .collect();
        assert!(
            !binlogs.is_empty(),
            "no binlog in {}",
            s.binlog_dir().display()
        );
        assert!(s.datadir().join("mysql").is_dir());
        assert!(s.dir().join("err.log").is_file());
    }

    // Multi-statement SQL, multi-row output, sql_db, sql_file.
    a.sql("create database d; create table d.t (id int primary key, v varchar(10))");
    a.sql_db("d", "insert into t values (1, 'x'), (2, 'y')");
    assert_eq!(
        a.sql_db("d", "select id, v from t order by id"),
        "1\tx\n2\ty"
    );
    let f = a.dir().join("load.sql");
    std::fs::write(
        &f,
        "insert into d.t values (3, 'z');\nselect count(*) from d.t;\n",
    )
    .unwrap();
    assert_eq!(a.sql_file(&f), "3");
    // The other server is independent.
    assert_eq!(
        b.sql("select count(*) from information_schema.schemata where schema_name='d'"),
        "0"
    );
    // Errors come back with the server's message.
    let err = a.try_sql("select * from d.nope").unwrap_err();
    assert!(err.contains("doesn't exist"), "{err}");

    // Separate servers, separate GTID sources.
    if flavor == Flavor::MySQL {
        assert_ne!(a.server_uuid(), b.server_uuid());
    }

    let pids: Vec<u32> = servers.iter().map(|s| s.pid().unwrap()).collect();
    let dirs: Vec<_> = servers.iter().map(|s| s.dir().to_path_buf()).collect();
    assert!(pids.iter().all(|&p| alive(p)));
    drop(servers);
    for (pid, dir) in pids.into_iter().zip(dirs) {
        assert!(!alive(pid), "{flavor} server {pid} still alive after drop");
        assert!(!dir.exists(), "{} not removed", dir.display());
    }
}

fn root_password_and_users(flavor: Flavor) {
    let mut s = TestServer::of(flavor);
    s.set_root_password("s3cr'et\"\\pw");
    assert_eq!(s.sql("select current_user()"), "root@localhost");

    // Without the password, root is refused.
    let out = support::run(
        std::process::Command::new(flavor.client_program())
            .arg("--no-defaults")
            .arg(format!("--socket={}", s.socket().display()))
            .args(["-uroot", "-e", "select 1"])
            .stdin(Stdio::null()),
    );
    assert_ne!(out.code, 0, "root without password accepted: {out}");
    assert!(out.stderr.contains("Access denied"), "{out}");

    let cnf = std::fs::metadata(s.client_cnf()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(cnf.permissions().mode() & 0o777, 0o600);

    s.create_user("backup", "bk pw", "SELECT, RELOAD, REPLICATION CLIENT");
    let grants = s.sql("show grants for 'backup'@'%'");
    assert!(grants.contains("RELOAD"), "{grants}");
    assert!(!s.sql("show grants for 'backup'@'localhost'").is_empty());
    // The user can log in over TCP with its password (password through a file, not argv).
    let pwfile = support::write_password_file(s.dir(), "bk pw");
    assert_eq!(std::fs::read_to_string(&pwfile).unwrap(), "bk pw");
    let cnf = s.dir().join("backup.cnf");
    std::fs::write(&cnf, "[client]\nuser=backup\npassword=\"bk pw\"\n").unwrap();
    let out = support::run_ok(
        std::process::Command::new(flavor.client_program())
            .arg(format!("--defaults-file={}", cnf.display()))
            .args([
                "-h127.0.0.1",
                "--protocol=tcp",
                "--batch",
                "--skip-column-names",
            ])
            .arg(format!("-P{}", s.port()))
            .args(["-e", "select current_user()"]),
    );
    assert_eq!(out.stdout.trim(), "backup@%");

    // Still works after a restart.
    s.restart();
    assert_eq!(s.sql("select 1"), "1");
}

fn options_crash_and_restart(flavor: Flavor) {
    let mut s = TestServer::start_with(ServerOptions {
        flavor,
        binlog_format: "MIXED",
        server_id: 4242,
        time_zone: Some("+02:00".into()),
        ..Default::default()
    });
    assert_eq!(s.sql("select @@binlog_format"), "MIXED");
    assert_eq!(s.sql("select @@server_id"), "4242");
    assert_eq!(s.sql("select @@time_zone"), "+02:00");
    s.sql("create database d; create table d.t (id int primary key) engine=innodb; insert into d.t values (1)");
    let port = s.port();
    let pid = s.pid().unwrap();
    s.kill9();
    assert!(!alive(pid));
    assert!(s.try_sql("select 1").is_err());
    s.restart();
    assert_eq!(s.port(), port);
    assert_eq!(s.sql("select count(*) from d.t"), "1");
}

fn named_time_zone(flavor: Flavor) {
    if flavor == Flavor::MariaDB && !support::require_tools(&["mariadb-tzinfo-to-sql"]) {
        return;
    }
    let s = TestServer::start_with(ServerOptions {
        flavor,
        time_zone: Some("Europe/Paris".into()),
        extra_args: vec!["--max-connections=20".into()],
        ..Default::default()
    });
    assert_eq!(s.sql("select @@time_zone"), "Europe/Paris");
    assert_eq!(s.sql("select @@max_connections"), "20");
    assert_eq!(
        s.sql("select convert_tz('2026-07-01 12:00:00', 'UTC', 'Europe/Paris')"),
        "2026-07-01 14:00:00"
    );
}

fn binlog_helpers_speak_each_flavor(flavor: Flavor) {
    let s = TestServer::of(flavor);
    let (file, pos) = s.binlog_position();
    assert_eq!(file, "mysql-bin.000001");
    s.sql("create database d");
    let (file2, pos2) = s.binlog_position();
    assert_eq!(file2, file);
    assert!(pos2 > pos, "{pos2} <= {pos}");
    let gtid = s.gtid_executed();
    match flavor {
        Flavor::MariaDB => assert_eq!(gtid, format!("0-{}-1", s.server_id())),
        Flavor::MySQL => assert_eq!(gtid, format!("{}:1", s.server_uuid().unwrap())),
    }
    s.sql(s.reset_binlogs_sql());
    assert_eq!(s.gtid_executed(), "");
}
}

#[test]
fn helpers() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = support::write_config(tmp.path(), "[repository]\npath = \"/x\"\n");
    assert_eq!(cfg, tmp.path().join("zrm.toml"));
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[repository]"));
    if let Ok(bin) = support::mysql_bin_dir() {
        assert!(
            text.contains(&format!("mysql_dir = \"{}\"", bin.display())),
            "{text}"
        );
    }
    let pw = support::write_password_file(tmp.path(), "pw");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(support::quote("a'b\\c"), "'a\\'b\\\\c'");
    let out = support::run(support::zrm().arg("--help"));
    assert_eq!(out.code, 0, "{out}");
}
