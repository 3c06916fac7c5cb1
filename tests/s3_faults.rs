//! The S3 repository through a faulty network: zrm talks to `moto_server` through
//! `support::faulty::FaultyProxy`, which drops connections, answers 503 SlowDown and
//! 500 InternalError, loses the answers of requests S3 executed, and cuts GET bodies midway.
//! Backups, binlog archiving and restores must succeed anyway (SDK retries, resumed reads); a
//! zrm killed in the middle of an upload must leave no backup behind, and the next run must
//! take the lock over and clean up. (The python helpers talk to moto directly.)

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use support::faulty::{Fault, FaultStats, Faults, FaultyProxy};
use support::moto::Moto;
use support::{checksums, json, Flavor};
use support::{Output, TestServer};

/// moto, a bucket, and two servers; `None` when a component is missing (outside CI).
fn setup() -> Option<(Moto, TestServer, TestServer)> {
    if !support::available(Flavor::MariaDB) {
        return None;
    }
    let moto = Moto::start(&[])?;
    moto.python("boto3.client('s3', **_kw()).create_bucket(Bucket='backups')");
    Some((moto, TestServer::start(), TestServer::start()))
}

fn moto_port(moto: &Moto) -> u16 {
    moto.url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("moto url ends with its port")
}

/// A config whose repository is `s3://backups/<prefix>` behind `endpoint` (the proxy). Data
/// chunks of 64 MiB: each table is one file of several 8 MiB parts.
fn s3_config(
    dir: &Path,
    endpoint: &str,
    prefix: &str,
    source: &TestServer,
    target: &TestServer,
) -> PathBuf {
    support::write_config(
        dir,
        &format!(
            "[repository]\nurl = \"s3://backups/{prefix}\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\npath_style = true\n\n[defaults]\nuser = \"root\"\nchunk_size_mb = 64\n\n[sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
            source.socket().display(),
            target.socket().display()
        ),
    )
}

fn zrm_cmd(moto: &Moto, config: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = support::zrm();
    cmd.arg("--config").arg(config).args(args);
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd
}

fn zrm_s3(moto: &Moto, config: &Path, args: &[&str]) -> Output {
    support::run(&mut zrm_cmd(moto, config, args))
}

/// Runs zrm and asserts success; on failure the proxy's recent decisions are shown too.
fn ok(moto: &Moto, config: &Path, proxy: &FaultyProxy, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = zrm_s3(moto, config, args);
    if out.code != 0 {
        let log = proxy.log();
        let tail = log[log.len().saturating_sub(60)..].join("\n");
        panic!(
            "zrm {args:?} failed: {out}\n--- proxy stats: {:?}\n--- last proxy decisions:\n{tail}",
            proxy.stats()
        );
    }
    eprintln!(
        "zrm {args:?}: {:.1} s, proxy so far {:?}",
        started.elapsed().as_secs_f64(),
        proxy.stats()
    );
    out
}

/// `big` tables of ~20 MiB of incompressible rows (each one logical data file of three 8 MiB
/// multipart parts) and a small table, in database `app`.
fn seed(server: &TestServer, big: usize) {
    let four_k =
        "CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024))";
    let mut sql = String::from(
        "CREATE DATABASE app; USE app;\n\
         CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(100));\n\
         INSERT INTO small SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000;\n",
    );
    for i in 1..=big {
        sql.push_str(&format!(
            "CREATE TABLE big{i} (id INT PRIMARY KEY, b LONGBLOB);\n\
             INSERT INTO big{i} SELECT seq, {four_k} FROM seq_1_to_5000;\n"
        ));
    }
    server.sql(&sql);
}

/// Keys under `prefix`, listed by python straight from moto (not through the proxy).
fn keys(moto: &Moto, prefix: &str) -> Vec<String> {
    let out = moto.python(&format!(
        "p = boto3.client('s3', **_kw()).get_paginator('list_objects_v2')\n\
         for page in p.paginate(Bucket='backups', Prefix='{prefix}'):\n\
         \x20   for o in page.get('Contents', []):\n\
         \x20       print(o['Key'])"
    ));
    out.lines().map(str::to_string).collect()
}

/// Keys of the multipart uploads that were started and neither completed nor aborted.
fn open_uploads(moto: &Moto) -> Vec<String> {
    let out = moto.python(
        "r = boto3.client('s3', **_kw()).list_multipart_uploads(Bucket='backups')\n\
         print('\\n'.join(u['Key'] for u in r.get('Uploads', [])))",
    );
    out.lines().map(str::to_string).collect()
}

fn backup_ids(moto: &Moto, config: &Path) -> Vec<String> {
    let out = zrm_s3(moto, config, &["list", "--set", "src", "--format", "json"]);
    assert_eq!(out.code, 0, "{out}");
    json(&out)["backups"]
        .as_array()
        .expect("backups is an array")
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_each_fault_happened(stats: FaultStats, cut: bool) {
    assert!(stats.dropped > 0, "no connection was dropped: {stats:?}");
    assert!(stats.e503 > 0, "no 503 was answered: {stats:?}");
    assert!(stats.e500 > 0, "no 500 was answered: {stats:?}");
    if cut {
        assert!(stats.cut > 0, "no GET body was cut: {stats:?}");
    }
}

#[test]
fn backup_and_restore_succeed_through_faults() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source, 2);
    let faults = Faults {
        drop_connection: 0.10,
        error_503: 0.10,
        error_500: 0.05,
        seed: 0x5eed_f00d,
        ..Faults::default()
    };
    let proxy = FaultyProxy::start(moto_port(&moto), faults);
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &proxy.url(), "flaky", &source, &target);

    // Logical and mysqldump backups through the faults.
    let out = ok(
        &moto,
        &config,
        &proxy,
        &["backup", "--set", "src", "--format", "json"],
    );
    let logical = json(&out)["backup"]["id"].as_str().unwrap().to_string();
    let out = ok(
        &moto,
        &config,
        &proxy,
        &[
            "backup",
            "--set",
            "src",
            "--method",
            "mysqldump",
            "--format",
            "json",
        ],
    );
    let dump = json(&out)["backup"]["id"].as_str().unwrap().to_string();

    // Writes after the backups, archived through the faults.
    source.sql(
        "INSERT INTO app.small VALUES (100001, 'after the backups');\n\
         UPDATE app.big1 SET b = RANDOM_BYTES(1000) WHERE id <= 100;\n\
         DELETE FROM app.big2 WHERE id > 4900;\n\
         FLUSH BINARY LOGS;",
    );
    let wanted = checksums(&source, "app");
    ok(
        &moto,
        &config,
        &proxy,
        &["binlog", "archive", "--set", "src"],
    );

    let stored = keys(&moto, "flaky/");
    for id in [&logical, &dump] {
        assert!(
            stored.contains(&format!("flaky/sets/src/backups/{id}/manifest.json")),
            "{stored:?}"
        );
    }
    let mut ids = backup_ids(&moto, &config);
    ids.sort();
    let mut both = vec![logical.clone(), dump.clone()];
    both.sort();
    assert_eq!(ids, both);
    assert!(open_uploads(&moto).is_empty(), "{:?}", open_uploads(&moto));

    // Restore the logical backup (and replay the archived binlogs) through the faults.
    ok(
        &moto,
        &config,
        &proxy,
        &[
            "restore", "--set", "src", "--backup", &logical, "--target", "dst",
        ],
    );
    assert_eq!(checksums(&target, "app"), wanted);
    let stats = proxy.stats();
    eprintln!("faults after backups, archive and restore: {stats:?}");
    assert_each_fault_happened(stats, false);

    // Restore the mysqldump backup with GET bodies cut midway too: the reads resume.
    // Every GET body of 1 MiB or more is cut: deterministic, whatever order the requests come
    // in (a random share was seen to cut nothing), and within the read's resume budget (each
    // resumed body is half the size of the one before).
    proxy.set_faults(Faults {
        cut_body: 1.0,
        cut_min_body: 1 << 20,
        ..faults
    });
    ok(
        &moto,
        &config,
        &proxy,
        &[
            "restore",
            "--set",
            "src",
            "--backup",
            &dump,
            "--target",
            "dst",
            "--replace",
        ],
    );
    assert_eq!(checksums(&target, "app"), wanted);
    let stats = proxy.stats();
    eprintln!("faults in all: {stats:?}");
    assert_each_fault_happened(stats, true);
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.starts_with("GET ") && l.contains(" -> 206")),
        "a cut read resumes with a ranged GET"
    );
    assert!(open_uploads(&moto).is_empty(), "{:?}", open_uploads(&moto));
}

#[test]
fn kill_during_upload_leaves_no_manifest_and_next_run_succeeds() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source, 2);
    // No faults: the proxy only holds CompleteMultipartUpload back, so that the kill surely
    // lands while uploads are open.
    let proxy = FaultyProxy::start(moto_port(&moto), Faults::default());
    proxy.stall_when(|method, path| method == "POST" && path.contains("uploadId="));
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &proxy.url(), "killed", &source, &target);

    let mut child = zrm_cmd(&moto, &config, &["backup", "--set", "src"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zrm backup");
    let started = Instant::now();
    loop {
        if !open_uploads(&moto).is_empty() {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "zrm ended ({status}) before any multipart upload was seen:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no multipart upload within 60 s; proxy: {:?}",
            proxy.log()
        );
        thread::sleep(Duration::from_millis(100));
    }
    // Let it get a part or two in, then kill it hard: no cleanup of any kind runs.
    thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    proxy.release();

    let stored = keys(&moto, "killed/");
    assert!(
        !stored.iter().any(|k| k.ends_with("/manifest.json")),
        "a killed backup must not have a manifest: {stored:?}"
    );
    assert!(
        stored.contains(&"killed/sets/src/lock".to_string()),
        "the killed run's lock stays: {stored:?}"
    );
    let open = open_uploads(&moto);
    assert!(
        open.iter()
            .any(|k| k.starts_with("killed/sets/src/backups/")),
        "the killed run's uploads stay open: {open:?}"
    );
    assert!(backup_ids(&moto, &config).is_empty());

    // The next run takes the dead run's lock over, aborts its uploads and succeeds.
    let out = ok(&moto, &config, &proxy, &["backup", "--set", "src"]);
    assert!(
        out.stderr.contains(&format!("left by pid {}", child.id())),
        "{out}"
    );
    let open = open_uploads(&moto);
    assert!(open.is_empty(), "uploads left open: {open:?}");
    assert_eq!(backup_ids(&moto, &config).len(), 1);
    let stored = keys(&moto, "killed/");
    assert!(
        !stored.iter().any(|k| k.ends_with("/lock")),
        "the lock is released after the run: {stored:?}"
    );
}

/// Requests S3 executed but whose answer never arrived (the connection broke while S3
/// answered): the SDK sends them again. Repeating an UploadPart, a CompleteMultipartUpload, a
/// PutObject or a DeleteObject is harmless, and a GET is just read again.
#[test]
fn lost_responses_are_retried_harmlessly() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source, 1);
    let proxy = FaultyProxy::start(moto_port(&moto), Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &proxy.url(), "lost", &source, &target);
    let upload_part = |m: &str, p: &str| m == "PUT" && p.contains("x-id=UploadPart");
    let complete = |m: &str, p: &str| m == "POST" && p.contains("uploadId=");
    let create = |m: &str, p: &str| m == "POST" && p.ends_with("?uploads");
    let manifest = |m: &str, p: &str| m == "PUT" && p.contains("/manifest.json?");
    let unlock = |m: &str, p: &str| m == "DELETE" && p.contains("/sets/src/lock?");
    let data_get = |m: &str, p: &str| m == "GET" && p.contains("/data/app.big1.");

    proxy.once(Fault::LoseResponse, upload_part);
    proxy.once(Fault::LoseResponse, complete);
    proxy.once(Fault::LoseResponse, manifest);
    proxy.once(Fault::LoseResponse, unlock);
    ok(&moto, &config, &proxy, &["backup", "--set", "src"]);
    assert_eq!(proxy.stats().lost_response, 4, "{:?}", proxy.log());
    assert_eq!(backup_ids(&moto, &config).len(), 1);
    assert!(open_uploads(&moto).is_empty(), "{:?}", open_uploads(&moto));
    assert!(
        !keys(&moto, "lost/sets/src/")
            .iter()
            .any(|k| k.ends_with("/lock")),
        "the lock is released"
    );

    // A lost CreateMultipartUpload answer: the retry starts a second upload, and the first
    // one, whose id zrm never saw, stays open until the next run that takes the set's lock.
    proxy.once(Fault::LoseResponse, create);
    ok(&moto, &config, &proxy, &["backup", "--set", "src"]);
    eprintln!(
        "uploads left open by the run whose CreateMultipartUpload answer was lost: {:?}",
        open_uploads(&moto)
    );
    let wanted = checksums(&source, "app");
    proxy.once(Fault::LoseResponse, data_get);
    ok(
        &moto,
        &config,
        &proxy,
        &["restore", "--set", "src", "--target", "dst"],
    );
    assert_eq!(checksums(&target, "app"), wanted);
    ok(&moto, &config, &proxy, &["backup", "--set", "src"]);
    assert!(open_uploads(&moto).is_empty(), "{:?}", open_uploads(&moto));
    assert_eq!(backup_ids(&moto, &config).len(), 3);
    assert_eq!(proxy.stats().lost_response, 6, "{:?}", proxy.log());
}

/// The answer to the lock's conditional PutObject (`If-None-Match: *`) is lost: S3 created the
/// lock, the SDK's retry gets 412 PreconditionFailed, and zrm finds the lock held by... its own
/// pid, alive. It must recognise its own lock and go on.
#[test]
fn a_lost_answer_to_the_lock_put_does_not_lock_zrm_out() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    source.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let proxy = FaultyProxy::start(moto_port(&moto), Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &proxy.url(), "lk", &source, &target);
    proxy.once(Fault::LoseResponse, |m, p| {
        m == "PUT" && p.contains("/sets/src/lock?")
    });
    let child = zrm_cmd(&moto, &config, &["backup", "--set", "src"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zrm backup");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(proxy.stats().lost_response, 1, "{:?}", proxy.log());
    assert!(
        out.status.success(),
        "zrm (pid {pid}) refused its own lock:\n{stderr}\nproxy: {:#?}",
        proxy.log()
    );
    assert_eq!(backup_ids(&moto, &config).len(), 1);
    assert!(
        !keys(&moto, "lk/sets/src/")
            .iter()
            .any(|k| k.ends_with("/lock")),
        "the lock is released"
    );
}
