//! `zrm import --from-zrm DIR --set S`: ZRM's backup images, built here as ZRM 2.1's
//! mysql-zrm-backup wrote them (`<destination>/<set>/<YYYYMMDDHHMMSS>/` with `backup.sql` and
//! an `index` of `key=value` lines and md5 sums), become backups zrm lists and restores.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{checksums, config_for, Flavor, TestServer};

/// ZRM's mysqldump (MYSQLDUMP5 with --single-transaction and, with `replication`,
/// --master-data=2) of `dbs` into `file`.
fn zrm_dump(server: &TestServer, dbs: &[&str], file: &Path) {
    let tool: PathBuf = match server.flavor() {
        Flavor::MariaDB => PathBuf::from("mariadb-dump"),
        Flavor::MySQL => support::mysql_bin_dir().unwrap().join("mysqldump"),
    };
    let mut cmd = Command::new(tool);
    cmd.arg(format!("--socket={}", server.socket().display()))
        .args([
            "--user=root",
            "--opt",
            "--extended-insert",
            "--create-options",
        ])
        .args(["--single-transaction", "--master-data=2", "--routines"])
        .arg("--databases")
        .args(dbs)
        .stdout(std::fs::File::create(file).unwrap());
    if let Some(pw) = server.root_password() {
        cmd.env("MYSQL_PWD", pw);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "dump failed");
}

fn md5(file: &Path) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(std::fs::read(file).unwrap()))
}

/// A ZRM image directory with its index, as mysql-zrm-backup wrote it.
fn zrm_image(dest: &Path, set: &str, stamp: &str, epoch: i64, lines: &[String]) -> PathBuf {
    let dir = dest.join(set).join(stamp);
    std::fs::create_dir_all(&dir).unwrap();
    let mut index = format!(
        "backup-set={set}\nbackup-date={stamp}\nmysql-server-os=Linux/Unix\n\
         backup-type=regular\nhost=localhost\nbackup-date-epoch={epoch}\n\
         retention-policy=10D\nmysql-zrm-version=ZRM for MySQL Community Edition - version 2.1\n\
         backup-directory={}\n",
        dir.display()
    );
    for l in lines {
        index.push_str(l);
        index.push('\n');
    }
    std::fs::write(dir.join("index"), index).unwrap();
    dir
}

flavor_tests! {
    fn zrm_logical_full_images_are_imported_listed_and_restored(flavor: Flavor) {
        let source = TestServer::of(flavor);
        source.sql("CREATE DATABASE app");
        source.sql("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40))");
        source.sql("INSERT INTO app.t VALUES (1, 'zrm-era'), (2, 'second')");
        let version = source.sql("SELECT VERSION()");
        let target = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("mysql-zrm");

        // A full logical image with its md5 line (synchronous-checksum=1).
        let full = zrm_image(&dest, "dailyrun", "20261101020000", 1_793_498_400, &[]);
        zrm_dump(&source, &["app"], &full.join("backup.sql"));
        let sum = md5(&full.join("backup.sql"));
        let mut index = std::fs::read_to_string(full.join("index")).unwrap();
        index.push_str(&format!(
            "mysql-version={}\nbackup-level=0\nlogical-databases=app\nnext-binlog=mysql-bin.000002\n\
             {}/backup.sql={sum}\nbackup-size=0.01 MB\nread-locks-time=00:00:00\n\
             flush-logs-time=00:00:00\nbackup-time=00:00:01\nbackup-status=Backup succeeded\n",
            version.trim(),
            full.display()
        ));
        std::fs::write(full.join("index"), index).unwrap();
        // Images zrm cannot use, each listed with its reason.
        let enc = zrm_image(&dest, "dailyrun", "20261102020000", 1_793_584_800, &[
            "backup-level=0".into(),
            "encrypt=/usr/share/mysql-zrm/plugins/encrypt.pl".into(),
            "backup-status=Backup succeeded".into(),
        ]);
        std::fs::write(enc.join("backup-data"), b"gpg").unwrap();
        let failed = zrm_image(&dest, "dailyrun", "20261103020000", 1_793_671_200, &[
            "backup-level=0".into(),
            "backup-status=Backup failed".into(),
        ]);
        let damaged = zrm_image(&dest, "dailyrun", "20261104020000", 1_793_757_600, &[
            "backup-level=0".into(),
            "logical-databases=app".into(),
            format!("{}/backup.sql=00000000000000000000000000000000", dest.join("dailyrun/20261104020000").display()),
            "backup-status=Backup succeeded".into(),
        ]);
        std::fs::copy(full.join("backup.sql"), damaged.join("backup.sql")).unwrap();

        let config = config_for(dir.path(), &[("dailyrun", &source), ("dst", &target)]);
        let out = support::run_zrm(
            &config,
            &["import", "--from-zrm", dest.to_str().unwrap(), "--set", "dailyrun"],
        );
        // Not everything was imported: exit 1, every image accounted for.
        assert_eq!(out.code, 1, "{out}");
        assert!(out.stdout.contains("as backup 20261101T020000Z"), "{out}");
        assert!(
            out.stdout.contains(&format!("not imported {}: encrypted", enc.display())),
            "{out}"
        );
        assert!(out.stdout.contains("gpg"), "{out}");
        assert!(
            out.stdout.contains(&format!("not imported {}: ZRM recorded backup-status 'Backup failed'", failed.display())),
            "{out}"
        );
        assert!(
            out.stdout.contains(&format!("not imported {}: backup.sql: md5", damaged.display())),
            "{out}"
        );
        assert!(out.stdout.contains("is damaged"), "{out}");
        assert_eq!(support::backup_ids(&config, "dailyrun"), vec!["20261101T020000Z"]);

        // Again: nothing twice.
        let out = support::run_zrm(
            &config,
            &["import", "--from-zrm", dest.to_str().unwrap(), "--set", "dailyrun"],
        );
        assert!(out.stdout.contains("already imported"), "{out}");
        assert_eq!(support::backup_ids(&config, "dailyrun").len(), 1);

        // Verified and restored as zrm's own.
        support::zrm_ok(&config, &["verify", "--set", "dailyrun", "20261101T020000Z"]);
        let show = support::zrm_ok(&config, &["show", "--set", "dailyrun", "20261101T020000Z"]);
        assert!(show.stdout.contains("imported from ZRM image"), "{show}");
        support::zrm_ok(
            &config,
            &["restore", "--set", "dailyrun", "--target", "dst", "--backup", "20261101T020000Z"],
        );
        assert_eq!(checksums(&source, "app"), checksums(&target, "app"));
        assert!(target.sql("SELECT v FROM app.t WHERE id = 1").contains("zrm-era"));

        // Purged by the set's retention like zrm's own. A zrm full dated 20 days ago is the
        // base for points at the start of a 10-day window: the imported image (from
        // 2026-11-01), older than that base, goes; the two zrm fulls stay.
        let retained = config.with_file_name("retained.toml");
        std::fs::write(
            &retained,
            std::fs::read_to_string(&config)
                .unwrap()
                .replacen("[defaults]\n", "[defaults]\nretention = \"10d\"\n", 1),
        )
        .unwrap();
        let older = support::backup(&retained, &["--set", "dailyrun"])["id"]
            .as_str()
            .unwrap()
            .to_string();
        let manifest = dir.path().join(format!("repo/sets/dailyrun/backups/{older}/manifest.json"));
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        let t = chrono::Utc::now() - chrono::Duration::days(20);
        m["start_time"] = t.to_rfc3339().into();
        m["end_time"] = (t + chrono::Duration::seconds(1)).to_rfc3339().into();
        std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        support::backup(&retained, &["--set", "dailyrun"]);
        assert_eq!(support::backup_ids(&retained, "dailyrun").len(), 3);
        let out = support::zrm_ok(&retained, &["purge", "--set", "dailyrun"]);
        let left = support::backup_ids(&retained, "dailyrun");
        assert_eq!(left.len(), 2, "{out}");
        assert!(left.contains(&older), "{out}");
        assert!(
            !left.iter().any(|id| id == "20261101T020000Z"),
            "the imported image is purged\n{out}"
        );
    }
}

/// The server's binlog files, in order.
fn binlogs(server: &TestServer) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(server.binlog_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("mysql-bin.") && !n.ends_with(".index")
        })
        .collect();
    files.sort();
    files
}

/// ZRM's incremental image, as `mysql-zrm-backup` writes it: flush logs, copy the binlog files
/// from the last backup's next-binlog up to the new one, with md5 lines; compressed (gzip).
/// Its directory and its next-binlog.
fn zrm_incremental(
    source: &TestServer,
    dest: &Path,
    stamp: &str,
    epoch: i64,
    last: &Path,
    next: &Path,
    version: &str,
) -> (PathBuf, PathBuf) {
    source.sql("FLUSH BINARY LOGS");
    let all = binlogs(source);
    let new_next = all.last().unwrap().clone();
    let new_next_name = new_next.file_name().unwrap().to_string_lossy().into_owned();
    let inc_dir = dest.join("dailyrun").join(stamp);
    std::fs::create_dir_all(&inc_dir).unwrap();
    let mut lines = vec![
        format!("mysql-version={}", version.trim()),
        "backup-level=1".to_string(),
        format!("next-binlog={new_next_name}"),
        format!("last-backup={}", last.display()),
        "incremental=mysql-bin.[0-9]*".to_string(),
    ];
    for f in all.iter().filter(|f| *f >= next && **f != new_next) {
        let copy = inc_dir.join(f.file_name().unwrap());
        std::fs::copy(f, &copy).unwrap();
        lines.push(format!("{}={}", copy.display(), md5(&copy)));
    }
    // ZRM's compress (gzip, the default): `tar --same-owner -cpsC DIR --exclude=backup-data
    // --exclude=index . | gzip > DIR/backup-data`, then the files removed (today's GNU tar
    // refuses -s, --same-order, with -c: it changed nothing when creating).
    let tar = format!(
        "set -e; tar --same-owner -cpC {d} --exclude=backup-data --exclude=index . > {d}.tar; \
         gzip -c {d}.tar > {d}/backup-data; rm {d}.tar",
        d = inc_dir.display()
    );
    assert!(Command::new("sh")
        .arg("-c")
        .arg(&tar)
        .status()
        .unwrap()
        .success());
    for f in std::fs::read_dir(&inc_dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap() != "backup-data" {
            std::fs::remove_file(p).unwrap();
        }
    }
    lines.push("compress=".into());
    lines.push("backup-size-compressed=0.01 MB".into());
    lines.push("backup-status=Backup succeeded".into());
    zrm_image(dest, "dailyrun", stamp, epoch, &lines);
    (inc_dir, new_next)
}

flavor_tests! {
    fn zrm_incremental_binlogs_replay_to_a_point_in_time(flavor: Flavor) {
        let source = TestServer::of(flavor);
        source.sql("CREATE DATABASE app");
        source.sql("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40))");
        source.sql("INSERT INTO app.t VALUES (1, 'in-the-full')");
        let version = source.sql("SELECT VERSION()");
        let target = TestServer::of(flavor);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("mysql-zrm");

        // ZRM's full: flush logs (next-binlog), then mysqldump --master-data=2.
        source.sql("FLUSH BINARY LOGS");
        let next = binlogs(&source).pop().unwrap();
        let next_name = next.file_name().unwrap().to_string_lossy().into_owned();
        let full = zrm_image(&dest, "dailyrun", "20261101020000", 1_793_498_400, &[
            format!("mysql-version={}", version.trim()),
            "backup-level=0".into(),
            "logical-databases=app".into(),
            format!("next-binlog={next_name}"),
            "backup-status=Backup succeeded".into(),
        ]);
        zrm_dump(&source, &["app"], &full.join("backup.sql"));

        // Changes after the full; the point in time is between the two rows.
        source.sql("INSERT INTO app.t VALUES (2, 'before-the-stop')");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let stop = source.sql("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')").trim().to_string();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        source.sql("INSERT INTO app.t VALUES (3, 'after-the-stop')");

        let (inc_dir, new_next) =
            zrm_incremental(&source, &dest, "20261101030000", 1_793_502_000, &full, &next, &version);
        // A second incremental: its files start with the one after the first's last.
        source.sql("INSERT INTO app.t VALUES (4, 'second-incremental')");
        let (inc2_dir, _) = zrm_incremental(
            &source,
            &dest,
            "20261101040000",
            1_793_505_600,
            &inc_dir,
            &new_next,
            &version,
        );

        let config = config_for(dir.path(), &[("dailyrun", &source), ("dst", &target)]);

        let out = support::zrm_ok(
            &config,
            &["import", "--from-zrm", dest.to_str().unwrap(), "--set", "dailyrun"],
        );
        assert!(out.stdout.contains("as backup 20261101T020000Z"), "{out}");
        // Both incrementals are zrm's incrementals now, each on the backup before it.
        assert!(
            out.stdout.contains(&format!(
                "imported incremental {} as backup 20261101T030000Z (level 1 on 20261101T020000Z)",
                inc_dir.display()
            )),
            "{out}"
        );
        assert!(
            out.stdout.contains(&format!(
                "imported incremental {} as backup 20261101T040000Z (level 2 on 20261101T030000Z)",
                inc2_dir.display()
            )),
            "{out}"
        );
        assert!(out.stdout.contains(&next_name), "{out}");
        assert_eq!(
            support::backup_ids(&config, "dailyrun"),
            vec!["20261101T020000Z", "20261101T030000Z", "20261101T040000Z"]
        );
        support::zrm_ok(&config, &["verify", "--set", "dailyrun", "20261101T040000Z"]);

        // The full, then the incremental's binlogs to the point in time, by zrm's planner.
        support::zrm_ok(
            &config,
            &["restore", "--set", "dailyrun", "--target", "dst", "--until-time", &stop],
        );
        let rows = target.sql("SELECT id FROM app.t ORDER BY id");
        assert_eq!(rows.split_whitespace().collect::<Vec<_>>(), vec!["1", "2"], "{rows}");
    }
}

flavor_tests! {
    /// The done-when: a ZRM host (ZRM's configuration files and a destination of ZRM
    /// images) runs its old cron lines through mysql-zrm unchanged, lists its old backups and
    /// restores an old ZRM incremental to a point in time.
    fn a_zrm_host_moves_to_zrm(flavor: Flavor) {
        let server = TestServer::of(flavor);
        server.sql("CREATE DATABASE app");
        server.sql("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40))");
        server.sql("INSERT INTO app.t VALUES (1, 'zrm-full')");
        let version = server.sql("SELECT VERSION()");
        let dir = tempfile::tempdir().unwrap();
        let (etc, dest, bin) = (dir.path().join("etc"), dir.path().join("dest"), dir.path().join("bin"));
        std::fs::create_dir_all(etc.join("dailyrun")).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let mut global = format!("destination={}\nretention-policy=1Y\ncompress=1\n", dest.display());
        if let (Flavor::MySQL, Ok(b)) = (flavor, support::mysql_bin_dir()) {
            global.push_str(&format!("mysql-binpath={}\n", b.display()));
        }
        std::fs::write(etc.join("mysql-zrm.conf"), global).unwrap();
        let mut set = format!(
            "user=root\nsocket={}\ndatabases=app\nreplication=1\n",
            server.socket().display()
        );
        if let Some(pw) = server.root_password() {
            set.push_str(&format!("password=\"{pw}\"\n"));
        }
        std::fs::write(etc.join("dailyrun/mysql-zrm.conf"), set).unwrap();

        // The ZRM era: a full (flush logs, mysqldump --master-data=2) and an incremental.
        server.sql("FLUSH BINARY LOGS");
        let next = binlogs(&server).pop().unwrap();
        let next_name = next.file_name().unwrap().to_string_lossy().into_owned();
        let full = zrm_image(&dest, "dailyrun", "20261101020000", 1_793_498_400, &[
            format!("mysql-version={}", version.trim()),
            "backup-level=0".into(),
            "logical-databases=app".into(),
            format!("next-binlog={next_name}"),
            "backup-status=Backup succeeded".into(),
        ]);
        zrm_dump(&server, &["app"], &full.join("backup.sql"));
        server.sql("INSERT INTO app.t VALUES (2, 'zrm-incremental')");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let stop = server.sql("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')").trim().to_string();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        server.sql("INSERT INTO app.t VALUES (3, 'after-the-stop')");
        server.sql("FLUSH BINARY LOGS");
        let all = binlogs(&server);
        let new_next = all.last().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let inc = dest.join("dailyrun/20261101030000");
        std::fs::create_dir_all(&inc).unwrap();
        for f in all.iter().filter(|f| **f >= next && f.file_name().unwrap().to_string_lossy() != new_next) {
            std::fs::copy(f, inc.join(f.file_name().unwrap())).unwrap();
        }
        zrm_image(&dest, "dailyrun", "20261101030000", 1_793_502_000, &[
            format!("mysql-version={}", version.trim()),
            "backup-level=1".into(),
            format!("next-binlog={new_next}"),
            "incremental=mysql-bin.[0-9]*".into(),
            "backup-status=Backup succeeded".into(),
        ]);

        // zrm replaces ZRM's programs; the crontab's lines run unchanged.
        for name in ["mysql-zrm", "zrm-pre-scheduler"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), bin.join(name)).unwrap();
        }
        let run = |line: &str| {
            let command = line.splitn(6, ' ').nth(5).unwrap().replacen("/usr/bin/", &format!("{}/", bin.display()), 1);
            support::run(
                Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .env("ZRM_ZRM_CONF_DIR", &etc)
                    .env_remove("ZRM_CONFIG")
                    .env("NO_COLOR", "1"),
            )
        };
        let out = run("30 3 * * * /usr/bin/zrm-pre-scheduler --action backup --backup-set dailyrun --backup-level 0 --interval daily");
        assert_eq!(out.code, 0, "{out}");
        let out = run("0 4 * * * /usr/bin/mysql-zrm --action purge");
        assert_eq!(out.code, 0, "{out}");

        // ZRM's images, imported into the repository mysql-zrm now uses.
        let config = etc.join("dailyrun/zrm.toml");
        let out = support::zrm_ok(&config, &["import", "--from-zrm", dest.to_str().unwrap(), "--set", "dailyrun"]);
        assert!(out.stdout.contains("as backup 20261101T020000Z"), "{out}");
        let out = run("0 0 * * * /usr/bin/mysql-zrm --action list --backup-set dailyrun");
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stdout.contains("20261101T020000Z"), "{out}");
        assert!(out.stdout.contains("20261101T030000Z"), "the old incremental is listed\n{out}");
        // zrm's own full of the cron line, ZRM's full and its incremental.
        assert_eq!(support::backup_ids(&config, "dailyrun").len(), 3);

        // The old ZRM incremental, restored to a point in time by ZRM's restore command line.
        let out = run(&format!(
            "0 0 * * * /usr/bin/mysql-zrm --action restore --backup-set dailyrun --stop-datetime '{stop}'"
        ));
        assert_eq!(out.code, 0, "{out}");
        let rows = server.sql("SELECT id FROM app.t ORDER BY id");
        assert_eq!(rows.split_whitespace().collect::<Vec<_>>(), vec!["1", "2"], "{rows}");
    }
}
