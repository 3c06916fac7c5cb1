//! Snapshot backups on a real btrfs file system (a loop-mounted image): a server whose datadir
//! lives in a btrfs subvolume, a write load during the backup, the momentary lock measured,
//! the copy restored into a new datadir, a server started on it, binlogs replayed to a point.
//!
//! Needs root, `mkfs.btrfs`/`btrfs` (btrfs-progs) and loop devices. Without them the tests
//! print why and pass, except under CI (`CI=true`), where they fail.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::{checksums, json, run_zrm as zrm, zrm_ok, Flavor, ServerOptions, TestServer};

use support::btrfs::BtrfsMount;

const TOOLS: &[&str] = &["mkfs.btrfs", "btrfs"];

fn server_on(fs: &BtrfsMount, flavor: Flavor) -> TestServer {
    TestServer::start_with(ServerOptions {
        flavor,
        parent_dir: Some(fs.subvolume()),
        ..Default::default()
    })
}

fn config(dir: &Path, server: &TestServer, extra: &str) -> PathBuf {
    support::write_config(
        dir,
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\nsocket = \"{}\"\nmethod = \"btrfs\"\nparallel = 2\n{extra}",
            server.socket().display()
        ),
    )
}

/// Inserts rows in small transactions until stopped; counts commits.
struct Writer {
    stop: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Writer {
    fn start(server: &TestServer) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(AtomicU64::new(0));
        let mut child = server
            .mariadb()
            .args(["--batch", "--skip-column-names", "app"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (s, c) = (stop.clone(), commits.clone());
        let handle = thread::spawn(move || {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                let sql = format!(
                    "BEGIN; INSERT INTO t (v) VALUES ({i}), ({i}); UPDATE t SET v = v + 1 WHERE id = 1 + {i} % 100; COMMIT;\n\
                     INSERT INTO notes (v) VALUES ({i});\n"
                );
                if input.write_all(sql.as_bytes()).is_err() {
                    break;
                }
                c.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(2));
            }
            drop(input);
            let _ = child.wait();
        });
        Writer {
            stop,
            commits,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap();
        self.commits.load(Ordering::Relaxed)
    }
}

fn seed(server: &TestServer) {
    // A non-transactional table too: Aria on MariaDB, MyISAM on MySQL.
    let engine = match server.flavor() {
        Flavor::MariaDB => "Aria",
        Flavor::MySQL => "MyISAM",
    };
    server.sql(&format!(
        "CREATE DATABASE app;\n\
         USE app;\n\
         CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200) DEFAULT (REPEAT('x', 200))) ENGINE=InnoDB;\n\
         CREATE TABLE app.notes (id INT AUTO_INCREMENT PRIMARY KEY, v BIGINT) ENGINE={engine};\n\
         INSERT INTO app.t (v) SELECT seq FROM {};",
        server.seq(20_000)
    ));
}

/// The lock a snapshot backup takes: MariaDB's BACKUP STAGE, MySQL's FLUSH TABLES WITH READ
/// LOCK.
fn lock_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDB => "BACKUP STAGE BLOCK_COMMIT",
        Flavor::MySQL => "FLUSH TABLES WITH READ LOCK",
    }
}

fn backup(config: &Path) -> Value {
    let out = zrm_ok(config, &["backup", "--set", "s", "--format", "json"]);
    json(&out)["backup"].clone()
}

/// `zrm restore --set s --target datadir:TARGET EXTRA…`.
fn restore_into(config: &Path, target: &Path, extra: &[&str]) -> support::Output {
    let spec = format!("datadir:{}", target.display());
    let mut args = vec!["restore", "--set", "s", "--target", &spec];
    args.extend_from_slice(extra);
    zrm(config, &args)
}

/// The GTID of the last transaction (one source).
fn last_gtid(server: &TestServer) -> String {
    server.last_gtid()
}

flavor_tests! {
/// On MySQL the throwaway server of `--start-server` is MySQL's own `mysqld` (with its share
/// and plugin directories), not Debian's `/usr/sbin/mysqld`, which is MariaDB's.
fn btrfs_backup_under_load_restores_and_replays_to_a_point(flavor: Flavor) {
    let Some(fs) = BtrfsMount::new() else { return };
    let source = server_on(&fs, flavor);
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &source, "");

    let check = zrm(&config, &["check", "--set", "s"]);
    assert!(
        check.stdout.contains("is in btrfs subvolume"),
        "check reports the subvolume:\n{check}"
    );

    let writer = Writer::start(&source);
    thread::sleep(Duration::from_millis(300));
    let m = backup(&config);
    let commits = writer.finish();
    assert!(commits > 10, "the writer ran during the backup ({commits})");

    // The manifest: a snapshot backup, its lock measured, its copy checksummed.
    assert_eq!(m["method"], "btrfs", "{m:#}");
    let p = &m["physical"];
    assert_eq!(p["lock"], lock_name(flavor), "{p:#}");
    let hold = p["lock_hold_ms"].as_u64().expect("hold time recorded");
    assert_eq!(m["read_lock_ms"], hold);
    assert!(
        hold < 5000,
        "commits were blocked {hold} ms under load (cut {} ms)",
        p["cut_ms"]
    );
    assert!(p["file_count"].as_u64().unwrap() > 10, "{p:#}");
    assert!(p["source"].as_str().unwrap().contains("btrfs subvolume"));
    let files = m["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        2,
        "one tar part per parallel stream: {files:?}"
    );
    assert!(
        p["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("pid") || s.as_str().unwrap().contains("sock"))
            || p["skipped"].as_array().unwrap().is_empty(),
        "{p:#}"
    );
    assert!(
        fs.leftover_snapshots().is_empty(),
        "the snapshot was deleted: {:?}",
        fs.leftover_snapshots()
    );
    let cp = &m["consistent_point"];
    assert!(cp["binlog_pos"].as_u64().unwrap() > 0, "{m:#}");

    // After the backup: a transaction to keep, then the accident.
    source.sql("INSERT INTO app.t (v) VALUES (-1), (-2); INSERT INTO app.notes (v) VALUES (-1)");
    let wanted = checksums(&source, "app");
    let wanted_rows = source.sql("SELECT COUNT(*) FROM app.t");
    source.sql("DELETE FROM app.t WHERE id % 2 = 0");
    let accident = last_gtid(&source);
    source.sql("FLUSH BINARY LOGS");
    zrm_ok(&config, &["binlog", "archive", "--set", "s"]);

    // Restore into a new datadir, replay to just before the accident.
    let target = dir.path().join("restored");
    let out = restore_into(
        &config,
        &target,
        &[
            "--start-server",
            "--until-gtid",
            &accident,
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let r = json(&out);
    assert_eq!(r["replayed"], true, "{r:#}");
    assert!(target.join("ibdata1").exists());
    assert!(
        !target.join("mysql-bin.index").exists(),
        "binary logs are not part of the copy"
    );

    // A server on the result: the data is the source's at that point.
    let restored = TestServer::start_on_copy_of(&target, ServerOptions::of(flavor));
    assert_eq!(restored.sql("SELECT COUNT(*) FROM app.t"), wanted_rows);
    assert_eq!(checksums(&restored, "app"), wanted);
    // The temporary account zrm used is gone.
    assert_eq!(
        restored.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'zrm_restore'"),
        "0"
    );

    // The same backup without replay: the data as of the consistent point, and a non-empty
    // target is refused.
    let again = restore_into(&config, &target, &[]);
    assert_eq!(again.code, 1, "{again}");
    assert!(again.stderr.contains("not empty"), "{again}");
}
}

#[test]
fn btrfs_restore_of_a_damaged_copy_leaves_nothing() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let Some(fs) = BtrfsMount::new() else { return };
    let source = server_on(&fs, Flavor::MariaDB);
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &source, "");
    let m = backup(&config);
    let id = m["id"].as_str().unwrap();
    let part = dir
        .path()
        .join(format!("repo/sets/s/backups/{id}"))
        .join(m["files"][1]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&part, bytes).unwrap();

    let target = dir.path().join("restored");
    let out = restore_into(&config, &target, &["--no-binlogs"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("damaged"), "{out}");
    assert!(!target.exists(), "no half-built datadir is left");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("zrm-partial"))
        .collect();
    assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");
}

flavor_tests! {
fn btrfs_lock_wait_times_out_naming_the_blocker(flavor: Flavor) {
    let Some(fs) = BtrfsMount::new() else { return };
    let source = server_on(&fs, flavor);
    seed(&source);
    source.sql("CREATE TABLE app.my (v INT) ENGINE=MyISAM; INSERT INTO app.my VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &source, "lock_timeout = 3\n");
    let mut slow = source
        .mariadb()
        .args(["-e", "UPDATE app.my SET v = SLEEP(30)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if source.sql(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE app.my%'",
        ) == "1"
        {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let out = zrm(&config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains(&format!("could not take {}", lock_name(flavor))),
        "{out}"
    );
    assert!(
        out.stderr.contains("UPDATE app.my SET v = SLEEP(30)"),
        "the message names the blocking statement:\n{out}"
    );
    assert!(fs.leftover_snapshots().is_empty());
    let backups = dir.path().join("repo/sets/s/backups");
    let n = std::fs::read_dir(&backups).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "no backup directory is left");
    let id = source
        .sql("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE app.my%'");
    source.sql(&format!("KILL QUERY {id}"));
    let _ = slow.wait();
    // Released: a backup goes through.
    let m = backup(&config);
    assert_eq!(m["method"], "btrfs");
}
}

/// Starts `zrm backup` in the background and waits until its snapshot exists (the copy runs).
fn backup_until_snapshot(fs: &BtrfsMount, config: &Path) -> std::process::Child {
    let mut child = support::zrm()
        .arg("--config")
        .arg(config)
        .args(["backup", "--set", "s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if !fs.leftover_snapshots().is_empty() {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("zrm backup ended ({status}) before its snapshot was seen");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("no snapshot appeared within 6 s");
}

#[test]
fn btrfs_interrupted_backups_leave_no_snapshot() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    let Some(fs) = BtrfsMount::new() else { return };
    let source = server_on(&fs, Flavor::MariaDB);
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    // zstd -19 makes the copy slow enough to interrupt it.
    let slow = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\ncompression_level = 19\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\nsocket = \"{}\"\nmethod = \"btrfs\"\nparallel = 1\n",
            source.socket().display()
        ),
    );

    // SIGTERM (cron's timeout, a shutdown) mid-copy: the snapshot is removed, no backup stays.
    let child = backup_until_snapshot(&fs, &slow);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cleaning up"),
        "{out:?}"
    );
    assert!(
        fs.leftover_snapshots().is_empty(),
        "{:?}",
        fs.leftover_snapshots()
    );
    assert!(support::backup_ids(&slow, "s").is_empty());

    // kill -9 cannot clean up: the next run of the set removes what it left.
    let mut child = backup_until_snapshot(&fs, &slow);
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(fs.leftover_snapshots().len(), 1);
    let config = config(dir.path(), &source, "");
    let out = zrm_ok(&config, &["backup", "--set", "s"]);
    assert!(
        out.stderr
            .contains("left by an earlier run of set 's' that was killed"),
        "{out}"
    );
    assert!(
        fs.leftover_snapshots().is_empty(),
        "{:?}",
        fs.leftover_snapshots()
    );
    assert_eq!(support::backup_ids(&config, "s").len(), 1);
}

/// Why a real LVM snapshot cannot run here, if it cannot.
fn lvm_unavailable() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    for t in [
        "lvcreate",
        "vgcreate",
        "pvcreate",
        "losetup",
        "mkfs.ext4",
        "dmsetup",
    ] {
        if support::which(t).is_none() {
            return Some(format!("`{t}` is not installed (Debian: lvm2, e2fsprogs)"));
        }
    }
    let out = support::run(Command::new("dmsetup").arg("targets"));
    if !out.success() {
        return Some(format!(
            "the kernel has no device-mapper (`dmsetup targets` failed: {})",
            out.stderr.trim()
        ));
    }
    if !out.stdout.lines().any(|l| l.starts_with("snapshot")) {
        return Some("`dmsetup targets` lists no `snapshot` target".into());
    }
    None
}

/// A real LVM snapshot backup on a loop-device volume group, where the kernel allows it;
/// elsewhere it prints why it did not run (the command sequence is unit-tested in
/// src/engine/snapshot/lvm.rs either way).
#[test]
fn lvm_backup_and_restore_on_a_loop_volume_group() {
    if !support::available(Flavor::MariaDB) || !support::require_tools(TOOLS) {
        return;
    }
    if let Some(why) = lvm_unavailable() {
        eprintln!("SKIP: real LVM snapshot test: {why}");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("zrm-lvm-")
        .tempdir_in("/tmp")
        .unwrap();
    let img = dir.path().join("pv.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let sh = |cmd: &str| -> String {
        let out = support::run(Command::new("sh").arg("-c").arg(cmd));
        assert!(out.success(), "`{cmd}` failed: {out}");
        out.stdout.trim().to_string()
    };
    let loopdev = sh(&format!("losetup --find --show {}", img.display()));
    let vg = format!("zrmtest{}", std::process::id());
    struct Teardown(String, String, PathBuf);
    impl Drop for Teardown {
        fn drop(&mut self) {
            let (vg, loopdev, mnt) = (&self.0, &self.1, &self.2);
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "umount {m} 2>/dev/null; vgremove -f {vg} >/dev/null 2>&1; \
                     pvremove -f {loopdev} >/dev/null 2>&1; losetup -d {loopdev}",
                    m = mnt.display()
                ))
                .status();
        }
    }
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _teardown = Teardown(vg.clone(), loopdev.clone(), mnt.clone());
    sh(&format!(
        "pvcreate -q {loopdev} && vgcreate -q {vg} {loopdev}"
    ));
    sh(&format!(
        "lvcreate -q -y -L 600M -n data {vg} && mkfs.ext4 -q /dev/{vg}/data"
    ));
    sh(&format!("mount /dev/{vg}/data {}", mnt.display()));

    let source = TestServer::start_with(ServerOptions {
        parent_dir: Some(mnt.clone()),
        ..Default::default()
    });
    seed(&source);
    let work = tempfile::tempdir().unwrap();
    let config = support::write_config(
        work.path(),
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\nsocket = \"{}\"\nmethod = \"lvm\"\nlvm = {{ snapshot_size = \"50%\" }}\n",
            source.socket().display()
        ),
    );
    let m = backup(&config);
    assert_eq!(m["method"], "lvm");
    assert!(m["physical"]["source"]
        .as_str()
        .unwrap()
        .contains(&format!("{vg}/data")));
    let wanted = checksums(&source, "app");
    let lvs = sh(&format!("lvs --noheadings -o lv_name {vg}"));
    assert_eq!(lvs.trim(), "data", "the snapshot volume was removed");
    let target = work.path().join("restored");
    let out = restore_into(&config, &target, &["--no-binlogs"]);
    assert_eq!(out.code, 0, "{out}");
    let restored = TestServer::start_on_copy_of(&target, ServerOptions::default());
    assert_eq!(checksums(&restored, "app"), wanted);
}
