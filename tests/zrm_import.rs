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
    }
}
