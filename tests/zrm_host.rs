//! An existing ZRM host: ZRM's configuration files (`mysql-zrm.conf`, global and per set) and no
//! zrm.toml. `mysql-zrm` reads them as ZRM did, the lines ZRM's scheduler wrote into crontabs
//! run unchanged, and `zrm import-config` writes the equivalent zrm.toml.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Flavor, Output, TestServer};

/// A ZRM host in a temp dir: `etc/` (ZRM's configuration), `dest/` (its destination), `bin/`
/// (ZRM's program names, linked to zrm).
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(server: &TestServer) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(etc.join("dailyrun")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        let mut global = format!(
            "# ZRM's global file\ndestination={}\nretention-policy=10D # ten days\n\
             compress=1\nverbose=1\n",
            dir.path().join("dest").display()
        );
        if let (Flavor::MySQL, Ok(bin)) = (server.flavor(), support::mysql_bin_dir()) {
            // ZRM's key for where the client tools are.
            global.push_str(&format!("mysql-binpath={}\n", bin.display()));
        }
        std::fs::write(etc.join("mysql-zrm.conf"), global).unwrap();
        let mut set = format!(
            "user=\"root\"\nsocket=\"{}\"\ndatabases=\"app\"\nbackup-mode=logical\n\
             replication=1\nroutines=1\nhtml-reports=daily\n",
            server.socket().display()
        );
        if let Some(pw) = server.root_password() {
            set.push_str(&format!("password=\"{pw}\"\n"));
        }
        std::fs::write(etc.join("dailyrun").join("mysql-zrm.conf"), set).unwrap();
        for name in [
            "mysql-zrm",
            "zrm-pre-scheduler",
            "mysql-zrm-scheduler",
            "mysql-zrm-reporter",
        ] {
            std::os::unix::fs::symlink(
                env!("CARGO_BIN_EXE_zrm"),
                dir.path().join("bin").join(name),
            )
            .unwrap();
        }
        Host { dir }
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.dir.path().join("bin").join(program));
        cmd.env("NO_COLOR", "1")
            .env_remove("ZRM_CONFIG")
            .env("ZRM_ZRM_CONF_DIR", self.etc())
            .args(args);
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        support::run(&mut self.command(program, args))
    }

    fn ok(&self, program: &str, args: &[&str]) -> Output {
        let out = self.run(program, args);
        assert_eq!(out.code, 0, "{program} {args:?}:\n{out}");
        out
    }

    /// A crontab line as ZRM's scheduler wrote it: its command, run as cron runs it (`sh -c`).
    fn cron(&self, line: &str) -> Output {
        let command: Vec<&str> = line.split_whitespace().skip(5).collect();
        let program = Path::new(command[0]).file_name().unwrap().to_str().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "{} {}",
                self.dir.path().join("bin").join(program).display(),
                line.splitn(7, ' ').nth(6).unwrap()
            ))
            .env("NO_COLOR", "1")
            .env_remove("ZRM_CONFIG")
            .env("ZRM_ZRM_CONF_DIR", self.etc());
        support::run(&mut cmd)
    }

    fn list(&self, set: &str) -> Vec<String> {
        let out = self.ok(
            "mysql-zrm",
            &["--action", "list", "--backup-set", set, "--quiet"],
        );
        let config = self.etc().join(set).join("zrm.toml");
        let json = support::zrm_ok(&config, &["list", "--set", set, "--format", "json"]);
        assert!(!out.stdout.is_empty(), "{out}");
        support::json(&json)["backups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

flavor_tests! {
    fn zrm_host_runs_its_cron_lines_with_zrm_configuration(flavor: Flavor) {
        let server = TestServer::of(flavor);
        server.sql("CREATE DATABASE app");
        server.sql("CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40))");
        server.sql("INSERT INTO app.t VALUES (1, 'before')");
        server.sql("CREATE DATABASE other");
        let host = Host::new(&server);

        // mysql-zrm with ZRM's files only.
        let out = host.ok(
            "mysql-zrm",
            &["--action", "backup", "--backup-set", "dailyrun", "--backup-level", "0"],
        );
        let generated = host.etc().join("dailyrun").join("zrm.toml");
        assert_eq!(mode(&generated), 0o600);
        let toml = std::fs::read_to_string(&generated).unwrap();
        assert!(toml.contains("databases = [\"app\"]"), "{toml}");
        assert!(toml.contains("retention = \"10d\""), "{toml}");
        assert!(toml.contains("zrm-repository"), "{toml}");
        assert!(toml.contains("# ZRM `html-reports`"), "{toml}");
        if let Some(pw) = server.root_password() {
            assert!(!toml.contains(pw), "{toml}");
            let pw_file = host.etc().join("dailyrun").join("zrm-password");
            assert_eq!(mode(&pw_file), 0o600);
            assert_eq!(std::fs::read_to_string(&pw_file).unwrap(), pw);
            assert!(!out.stderr.contains(pw), "{out}");
        }
        assert!(host.dir.path().join("dest/zrm-repository").is_dir());
        assert_eq!(host.list("dailyrun").len(), 1);

        // The lines ZRM's mysql-zrm-scheduler wrote into crontabs, unchanged.
        server.sql("INSERT INTO app.t VALUES (2, 'after')");
        let out = host.cron(
            "30 3 * * * /usr/bin/zrm-pre-scheduler --action backup --backup-set dailyrun \
             --backup-level 1 --interval daily",
        );
        assert_eq!(out.code, 0, "{out}");
        let ids = host.list("dailyrun");
        assert_eq!(ids.len(), 2, "{ids:?}");
        let out = host.cron("0 4 * * * /usr/bin/mysql-zrm --action purge");
        assert_eq!(out.code, 0, "{out}");
        assert_eq!(host.list("dailyrun"), ids, "nothing is 10 days old");
        // `mysql-zrm-scheduler --now`, as ZRM's how-tos ran it.
        host.ok(
            "mysql-zrm-scheduler",
            &["--now", "--backup-set", "dailyrun", "--backup-level", "1"],
        );
        assert_eq!(host.list("dailyrun").len(), 3);
        let out = host.ok(
            "mysql-zrm-reporter",
            &["--where", "backup-set=dailyrun", "--show", "backup-status-info"],
        );
        assert!(!out.stdout.trim().is_empty(), "{out}");

        // The selection came from ZRM's `databases`: `other` is not in the backup.
        let config = host.etc().join("dailyrun").join("zrm.toml");
        let show = support::zrm_ok(&config, &["show", "--set", "dailyrun", &ids[0]]);
        assert!(show.stdout.contains("app"), "{show}");
        assert!(!show.stdout.contains("other"), "{show}");

        // ZRM's default set is BackupSet1.
        let out = host.ok("mysql-zrm", &["--action", "list", "--verbose"]);
        assert!(out.stderr.contains("--set BackupSet1"), "{out}");

        // zrm import-config: the equivalent zrm.toml, every unmapped key commented.
        let out_file = host.dir.path().join("imported").join("zrm.toml");
        std::fs::create_dir_all(out_file.parent().unwrap()).unwrap();
        let out = support::run(
            Command::new(env!("CARGO_BIN_EXE_zrm"))
                .arg("import-config")
                .arg("--zrm-conf-dir")
                .arg(host.etc())
                .arg("--out")
                .arg(&out_file),
        );
        assert_eq!(out.code, 0, "{out}");
        let text = std::fs::read_to_string(&out_file).unwrap();
        assert!(text.contains("[sets.\"dailyrun\"]") || text.contains("[sets.dailyrun]"), "{text}");
        for key in ["compress", "replication", "routines", "html-reports", "verbose"] {
            assert!(text.contains(&format!("# ZRM `{key}`")), "{key} not commented:\n{text}");
        }
        if server.root_password().is_some() {
            assert_eq!(mode(&out_file.with_file_name("dailyrun.password")), 0o600);
        }
        // It names the same repository: the backups are there.
        let imported = support::backup_ids(&out_file, "dailyrun");
        assert_eq!(imported.len(), 3, "{imported:?}");
    }
}

#[test]
fn password_on_the_command_line_moves_into_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("s")).unwrap();
    std::fs::write(
        etc.join("s/mysql-zrm.conf"),
        format!(
            "host=127.0.0.1\nport=1\ndestination={}\n",
            dir.path().join("dest").display()
        ),
    )
    .unwrap();
    let link = dir.path().join("mysql-zrm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
    let out = support::run(
        Command::new(&link)
            .env("ZRM_ZRM_CONF_DIR", &etc)
            .env_remove("ZRM_CONFIG")
            .args([
                "--action",
                "check",
                "--backup-set",
                "s",
                "--user",
                "backup",
                "--password",
                "hunter2#x",
            ]),
    );
    // Nothing listens on port 1: the check fails, after the password moved.
    assert_eq!(out.code, 1, "{out}");
    let pw = etc.join("s/zrm-password");
    assert_eq!(mode(&pw), 0o600);
    assert_eq!(std::fs::read_to_string(&pw).unwrap(), "hunter2#x");
    assert!(out.stderr.contains("showed the password"), "{out}");
    assert!(!out.stderr.contains("hunter2"), "{out}");
    assert!(!out.stdout.contains("hunter2"), "{out}");
    let toml = std::fs::read_to_string(etc.join("s/zrm.toml")).unwrap();
    assert!(toml.contains("user = \"backup\""), "{toml}");
    assert!(!toml.contains("hunter2"), "{toml}");
}

#[test]
fn settings_zrm_cannot_carry_out_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("enc")).unwrap();
    std::fs::write(
        etc.join("enc/mysql-zrm.conf"),
        "encrypt=1\nencrypt-plugin=/usr/share/mysql-zrm/plugins/encrypt.pl\n\
         copy-plugin=/usr/share/mysql-zrm/plugins/ssh-copy.pl\n",
    )
    .unwrap();
    let link = dir.path().join("mysql-zrm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
    let out = support::run(
        Command::new(&link)
            .env("ZRM_ZRM_CONF_DIR", &etc)
            .env_remove("ZRM_CONFIG")
            .args(["--action", "backup", "--backup-set", "enc"]),
    );
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("`encrypt` ("), "{out}");
    assert!(out.stderr.contains("enc/mysql-zrm.conf:1"), "{out}");
    assert!(out.stderr.contains("not gpg"), "{out}");
    assert!(out.stderr.contains("`copy-plugin`"), "{out}");
    assert!(out.stderr.contains("zrm import-config"), "{out}");
    // On the command line too, and nothing was written.
    assert!(!etc.join("enc/zrm.toml").exists());
}

#[test]
fn mailto_mails_through_sendmail_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("s")).unwrap();
    std::fs::write(
        etc.join("s/mysql-zrm.conf"),
        format!(
            "host=127.0.0.1\nport=1\ndestination={}\nmailto=dba@example.com\n",
            dir.path().join("dest").display()
        ),
    )
    .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("mysql-zrm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zrm"), &link).unwrap();
    let mailbox = dir.path().join("mailbox");
    let sendmail = bin.join("sendmail");
    std::fs::write(
        &sendmail,
        format!(
            "#!/bin/sh\necho \"ARGS: $*\" >> {m}\ncat >> {m}\n",
            m = mailbox.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = |extra: &[&str], path: &str| {
        let mut args = vec!["--action", "list", "--backup-set", "s"];
        args.extend_from_slice(extra);
        support::run(
            Command::new(&link)
                .env("ZRM_ZRM_CONF_DIR", &etc)
                .env_remove("ZRM_CONFIG")
                .env("PATH", path)
                .args(&args),
        )
    };
    // Always (ZRM's default): a successful list is mailed.
    let out = run(&[], &path);
    assert_eq!(out.code, 0, "{out}");
    let mail = std::fs::read_to_string(&mailbox).unwrap();
    assert!(mail.contains("ARGS: -t -oi"), "{mail}");
    assert!(mail.contains("To: dba@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: [ZRM for MySQL Report] backup-set s"),
        "{mail}"
    );
    assert!(mail.contains("exit code: 0"), "{mail}");
    std::fs::remove_file(&mailbox).unwrap();
    // only-on-error: a success is not mailed, a failure is.
    let out = run(&["--mail-policy", "only-on-error"], &path);
    assert_eq!(out.code, 0, "{out}");
    assert!(!mailbox.exists());
    let out = run(
        &[
            "--mail-policy",
            "only-on-error",
            "--mailto",
            "ops@example.com",
        ],
        &path,
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(!mailbox.exists());
    let mut cmd = Command::new(&link);
    cmd.env("ZRM_ZRM_CONF_DIR", &etc)
        .env_remove("ZRM_CONFIG")
        .env("PATH", &path)
        .args([
            "--action",
            "check",
            "--backup-set",
            "s",
            "--mail-policy",
            "only-on-error",
        ]);
    let out = support::run(&mut cmd);
    assert_eq!(out.code, 1, "{out}");
    let mail = std::fs::read_to_string(&mailbox).unwrap();
    assert!(mail.contains("ERROR"), "{mail}");
    assert!(mail.contains("exit code: 1"), "{mail}");
    // No sendmail: a clear error before anything runs.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    if !Path::new("/usr/sbin/sendmail").exists() && !Path::new("/usr/lib/sendmail").exists() {
        let out = run(&[], empty.to_str().unwrap());
        assert_eq!(out.code, 2, "{out}");
        assert!(out.stderr.contains("no sendmail"), "{out}");
    }
}
