//! The S3 repository against `moto_server` (a real S3 API on 127.0.0.1) and real MariaDB
//! servers: backups (logical and mysqldump), binlog archive and point-in-time restore through
//! S3, listing, the set lock, multipart uploads, and corruption found by zrm's own SHA-256.

mod support;

use std::path::{Path, PathBuf};

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

/// A config whose repository is `s3://backups/<prefix>` on this moto.
fn s3_config(
    dir: &Path,
    moto: &Moto,
    prefix: &str,
    source: &TestServer,
    target: &TestServer,
    extra_repo: &str,
) -> PathBuf {
    support::write_config(
        dir,
        &format!(
            "[repository]\nurl = \"s3://backups/{prefix}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\npath_style = true\n{extra_repo}\n[defaults]\nuser = \"root\"\n\n[sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
            moto.url(),
            source.socket().display(),
            target.socket().display()
        ),
    )
}

pub fn zrm_s3(moto: &Moto, config: &Path, args: &[&str]) -> Output {
    let mut cmd = support::zrm();
    cmd.arg("--config").arg(config).args(args);
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    support::run(&mut cmd)
}

fn ok(out: Output) -> Output {
    assert_eq!(out.code, 0, "{out}");
    out
}

fn keys(moto: &Moto, prefix: &str) -> Vec<String> {
    let out = moto.python(&format!(
        "r = boto3.client('s3', **_kw()).list_objects_v2(Bucket='backups', Prefix='{prefix}')\n\
         print('\\n'.join(o['Key'] for o in r.get('Contents', [])))"
    ));
    out.lines().map(str::to_string).collect()
}

fn seed(server: &TestServer) {
    server.sql(
        "CREATE DATABASE app; USE app;\n\
         CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100), b LONGBLOB);\n\
         INSERT INTO t SELECT seq, CONCAT('row ', seq), REPEAT(MD5(seq), 20) FROM seq_1_to_30000;",
    );
}

#[test]
fn s3_backup_archive_and_point_in_time_restore() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &moto, "prod", &source, &target, "");

    let check = zrm_s3(&moto, &config, &["check", "--set", "src"]);
    assert!(
        check.stdout.contains("s3://backups/prod is writable"),
        "{check}"
    );

    // logical and mysqldump backups into S3
    let out = ok(zrm_s3(
        &moto,
        &config,
        &["backup", "--set", "src", "--format", "json"],
    ));
    let m = json(&out)["backup"].clone();
    let id = m["id"].as_str().unwrap().to_string();
    let stored = keys(&moto, "prod/");
    assert!(
        stored.contains(&"prod/zrm-repo.json".to_string()),
        "{stored:?}"
    );
    assert!(
        stored.contains(&format!("prod/sets/src/backups/{id}/manifest.json")),
        "{stored:?}"
    );
    assert!(
        !stored.iter().any(|k| k.ends_with("/lock")),
        "the lock object is removed after the backup: {stored:?}"
    );
    ok(zrm_s3(
        &moto,
        &config,
        &["backup", "--set", "src", "--method", "mysqldump"],
    ));

    // writes after the backup, archived into S3, then a point-in-time restore from S3
    source.sql("INSERT INTO app.t (id, v) VALUES (100001, 'kept')");
    let wanted = checksums(&source, "app");
    source.sql("DELETE FROM app.t WHERE id < 100");
    let accident = source.sql("SELECT @@gtid_binlog_pos");
    source.sql("FLUSH BINARY LOGS");
    ok(zrm_s3(
        &moto,
        &config,
        &["binlog", "archive", "--set", "src"],
    ));
    let list = ok(zrm_s3(&moto, &config, &["list", "--set", "src"]));
    assert!(list.stdout.contains(&id), "{list}");

    ok(zrm_s3(
        &moto,
        &config,
        &[
            "restore",
            "--set",
            "src",
            "--backup",
            &id,
            "--target",
            "dst",
            "--until-gtid",
            &accident,
        ],
    ));
    assert_eq!(checksums(&target, "app"), wanted);

    // No multipart upload is left open.
    let open = moto.python(
        "print(len(boto3.client('s3', **_kw()).list_multipart_uploads(Bucket='backups').get('Uploads', [])))",
    );
    assert_eq!(open, "0");
}

#[test]
fn s3_lock_refuses_a_second_run_and_takes_over_a_dead_one() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    let config = s3_config(dir.path(), &moto, "lk", &source, &target, "");
    ok(zrm_s3(&moto, &config, &["backup", "--set", "src"]));
    // A lock held by a live process of this host (our own pid) refuses.
    let me = std::process::id();
    let host = support::run(&mut std::process::Command::new("hostname")).stdout;
    let now = chrono::Utc::now().to_rfc3339();
    let put = |pid: u32| {
        moto.python(&format!(
            "boto3.client('s3', **_kw()).put_object(Bucket='backups', Key='lk/sets/src/lock', \
             Body=json.dumps({{'host': '{}', 'pid': {pid}, 'since': '{now}', 'heartbeat': '{now}'}}))",
            host.trim()
        ))
    };
    put(me);
    let out = zrm_s3(&moto, &config, &["backup", "--set", "src"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(&format!("pid {me} on")), "{out}");
    // A dead pid of this host: taken over.
    put(999_999);
    let out = ok(zrm_s3(&moto, &config, &["backup", "--set", "src"]));
    assert!(out.stderr.contains("999999"), "{out}");
}

#[test]
fn replicate_local_to_s3_and_back_then_verify_finds_a_corrupted_object() {
    let Some((moto, source, target)) = setup() else {
        return;
    };
    seed(&source);
    let dir = tempfile::tempdir().unwrap();
    // A local repository whose replica is in S3: every backup is copied there at once.
    let config = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\n\n[repository.replica]\nurl = \"s3://backups/dr\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\npath_style = true\n\n[defaults]\nuser = \"root\"\n\n[sets.src]\nsocket = \"{}\"\n\n[sets.dst]\nsocket = \"{}\"\n",
            moto.url(),
            source.socket().display(),
            target.socket().display()
        ),
    );
    let out = ok(zrm_s3(
        &moto,
        &config,
        &["backup", "--set", "src", "--format", "json"],
    ));
    assert!(
        out.stderr.contains("replicated to s3://backups/dr"),
        "{out}"
    );
    let id = json(&out)["backup"]["id"].as_str().unwrap().to_string();
    source.sql("INSERT INTO app.t (id, v) VALUES (200000, 'later'); FLUSH BINARY LOGS");
    ok(zrm_s3(
        &moto,
        &config,
        &["binlog", "archive", "--set", "src"],
    ));
    let out = ok(zrm_s3(
        &moto,
        &config,
        &["replicate", "--set", "src", "--format", "json"],
    ));
    let r = json(&out)["replicated"].clone();
    assert!(
        r["copied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("/binlogs/")),
        "the archived binlogs follow: {r:#}"
    );
    // Nothing left to copy the second time.
    let out = ok(zrm_s3(
        &moto,
        &config,
        &["replicate", "--set", "src", "--format", "json"],
    ));
    assert_eq!(json(&out)["replicated"]["copied"], serde_json::json!([]));

    // The replica is a repository of its own: restore from it.
    let replica_dir = dir.path().join("replica-view");
    std::fs::create_dir(&replica_dir).unwrap();
    let replica = s3_config(&replica_dir, &moto, "dr", &source, &target, "");
    ok(zrm_s3(
        &moto,
        &replica,
        &["restore", "--set", "src", "--target", "dst"],
    ));
    assert_eq!(checksums(&target, "app"), checksums(&source, "app"));

    // S3 → local, resumable: a backup missing a file is completed on the next run.
    let back = dir.path().join("back");
    ok(zrm_s3(
        &moto,
        &replica,
        &["replicate", "--set", "src", "--to", back.to_str().unwrap()],
    ));
    let chunk = std::fs::read_dir(back.join(format!("sets/src/backups/{id}/data")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&chunk).unwrap();
    std::fs::remove_file(back.join(format!("sets/src/backups/{id}/manifest.json"))).unwrap();
    let out = ok(zrm_s3(
        &moto,
        &replica,
        &[
            "replicate",
            "--set",
            "src",
            "--to",
            back.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    let copied = json(&out)["replicated"]["copied"].clone();
    assert_eq!(copied.as_array().unwrap().len(), 2, "{copied}");
    assert!(chunk.exists());

    // A corrupted object in S3 (moto never checks checksums): verify names it.
    ok(zrm_s3(&moto, &replica, &["verify", "--set", "src", &id]));
    let key = format!(
        "dr/sets/src/backups/{id}/data/{}",
        chunk.file_name().unwrap().to_str().unwrap()
    );
    moto.python(&format!(
        "c = boto3.client('s3', **_kw())\n\
         b = bytearray(c.get_object(Bucket='backups', Key='{key}')['Body'].read())\n\
         b[len(b) // 2] ^= 1\n\
         c.put_object(Bucket='backups', Key='{key}', Body=bytes(b))"
    ));
    let out = zrm_s3(&moto, &replica, &["verify", "--set", "src", &id]);
    assert_eq!(out.code, 1, "{out}");
    let name = chunk.file_name().unwrap().to_str().unwrap();
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("FAILED") && l.contains(name)),
        "{out}"
    );
}
