//! EBS snapshot backups against `moto_server` (a real EC2 API on 127.0.0.1) and a real
//! throwaway MariaDB server (the lock and the binlog point are taken there): snapshot with
//! tags, waiting, a copy to a second region, restore as new volumes (attached or not),
//! deletion by retention, and the errors a DBA meets (unknown volume, refused credentials,
//! missing permission).

mod support;

use std::path::{Path, PathBuf};

use support::moto::Moto;
use support::{json, Flavor};
use support::{Output, TestServer};

fn config(dir: &Path, server: &TestServer, ebs: &str) -> PathBuf {
    support::write_config(
        dir,
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\nsocket = \"{}\"\nmethod = \"ebs\"\nebs = {{ {ebs} }}\n",
            server.socket().display()
        ),
    )
}

fn zrm_env(moto: &Moto, config: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = support::zrm();
    cmd.arg("--config").arg(config).args(args);
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::run(&mut cmd)
}

fn zrm_moto(moto: &Moto, config: &Path, args: &[&str]) -> Output {
    zrm_env(moto, config, args, &[])
}

/// `zrm restore --set s EXTRA… --format json`.
fn restore_ebs(moto: &Moto, config: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["restore", "--set", "s"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    zrm_moto(moto, config, &args)
}

fn create_volume(moto: &Moto, zone: &str) -> String {
    moto.python(&format!(
        "print(ec2().create_volume(AvailabilityZone='{zone}', Size=10)['VolumeId'])"
    ))
}

fn setup() -> Option<(Moto, TestServer)> {
    if !support::available(Flavor::MariaDB) {
        return None;
    }
    let moto = Moto::start(&[])?;
    Some((moto, TestServer::start()))
}

#[test]
fn ebs_backup_restore_copy_and_delete() {
    let Some((moto, server)) = setup() else {
        return;
    };
    server.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)");
    let vol = create_volume(&moto, "us-east-1a");
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &server,
        &format!(
            "volumes = [\"{vol}\"], region = \"us-east-1\", endpoint = \"{}\", copy_to_region = \"us-west-2\"",
            moto.url()
        ),
    );

    let check = zrm_moto(&moto, &config, &["check", "--set", "s"]);
    assert!(
        check.stdout.contains(&format!("EBS volume(s) {vol} found")),
        "{check}"
    );

    let out = zrm_moto(
        &moto,
        &config,
        &["backup", "--set", "s", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{out}");
    let m = json(&out)["backup"].clone();
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(m["method"], "ebs");
    let p = &m["physical"];
    assert!(p["lock_hold_ms"].as_u64().is_some(), "{p:#}");
    assert_eq!(p["lock"], "BACKUP STAGE BLOCK_COMMIT");
    let snap = p["ebs"]["snapshots"][0]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(p["ebs"]["snapshots"][0]["volume_id"], vol.as_str());
    assert_eq!(p["ebs"]["snapshots"][0]["availability_zone"], "us-east-1a");
    assert!(m["files"].as_array().unwrap().is_empty());
    assert!(m["consistent_point"]["binlog_pos"].as_u64().unwrap() > 0);

    // The snapshot exists, completed, tagged with the set and the backup id.
    let tags = moto.python(&format!(
        "s = ec2().describe_snapshots(SnapshotIds=['{snap}'])['Snapshots'][0]\n\
         print(s['State'], s['VolumeId'], sorted((t['Key'], t['Value']) for t in s.get('Tags', [])))"
    ));
    assert!(tags.starts_with(&format!("completed {vol}")), "{tags}");
    assert!(tags.contains("('zrm:set', 's')"), "{tags}");
    assert!(
        tags.contains(&format!("('zrm:backup-id', '{id}')")),
        "{tags}"
    );

    // Debris of a run killed after CreateSnapshot: tagged for this set and repository, no
    // manifest: the next backup deletes it. The same set name in another repository is not
    // ours, and stays.
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("repo/zrm-repo.json")).unwrap())
            .unwrap();
    let repo_id = info["repository_id"].as_str().unwrap();
    let tagged = |repo: &str| {
        moto.python(&format!(
            "print(ec2().create_snapshot(VolumeId='{vol}', TagSpecifications=[{{'ResourceType': 'snapshot', \
             'Tags': [{{'Key': 'zrm:set', 'Value': 's'}}, {{'Key': 'zrm:repository', 'Value': '{repo}'}}, \
             {{'Key': 'zrm:backup-id', 'Value': '20200101T000000Z'}}]}}])['SnapshotId'])"
        ))
    };
    let stale = tagged(repo_id);
    let foreign = tagged("another-repository");
    let out = zrm_moto(&moto, &config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains(&format!("EBS snapshot {stale} (backup 20200101T000000Z")),
        "{out}"
    );
    let exists = |id: &str| {
        moto.python(&format!(
            "print(len([s for s in ec2().describe_snapshots(OwnerIds=['self'])['Snapshots'] if s['SnapshotId'] == '{id}']))"
        ))
    };
    assert_eq!(exists(&stale), "0");
    assert_eq!(
        exists(&foreign),
        "1",
        "another repository's snapshot is not touched"
    );

    let show = zrm_moto(&moto, &config, &["show", "--set", "s", &id]);
    assert!(
        show.stdout.contains(&format!("ebs       {snap} of {vol}")),
        "{show}"
    );

    // The copy in the DR region.
    let copy = p["ebs"]["copies"][0].clone();
    assert_eq!(copy["region"], "us-west-2", "{p:#}");
    assert_eq!(copy["source_snapshot_id"], snap.as_str());
    let copy_id = copy["snapshot_id"].as_str().unwrap().to_string();
    let west = moto.python(&format!(
        "print(len(ec2('us-west-2').describe_snapshots(SnapshotIds=['{copy_id}'])['Snapshots']))"
    ));
    assert_eq!(west, "1");

    // Restore: a new volume from the snapshot, in the zone asked for.
    let out = restore_ebs(
        &moto,
        &config,
        &["--backup", &id, "--target", "ebs:us-east-1b"],
    );
    assert_eq!(out.code, 0, "{out}");
    let r = json(&out);
    let new_vol = r["volumes"][0]["volume_id"].as_str().unwrap().to_string();
    assert!(r["next"].as_str().unwrap().contains("--resume"), "{r:#}");
    let v = moto.python(&format!(
        "v = ec2().describe_volumes(VolumeIds=['{new_vol}'])['Volumes'][0]\n\
         print(v['SnapshotId'], v['AvailabilityZone'], v['State'])"
    ));
    assert_eq!(v, format!("{snap} us-east-1b available"));

    // Restore attached to an instance.
    let instance = moto.python(
        "print(ec2().run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, \
         Placement={'AvailabilityZone': 'us-east-1a'})['Instances'][0]['InstanceId'])",
    );
    let out = restore_ebs(
        &moto,
        &config,
        &[
            "--target",
            "ebs:",
            "--attach-to",
            &instance,
            "--device",
            "/dev/sdf",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let attached = json(&out)["volumes"][0]["volume_id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = moto.python(&format!(
        "v = ec2().describe_volumes(VolumeIds=['{attached}'])['Volumes'][0]\n\
         print(v['AvailabilityZone'], v['Attachments'][0]['InstanceId'], v['Attachments'][0]['Device'])"
    ));
    assert_eq!(a, format!("us-east-1a {instance} /dev/sdf"));

    // Retention deletes what the backup owns: the snapshot and its copy.
    let record: zrm::engine::snapshot::ebs::EbsRecord =
        serde_json::from_value(p["ebs"].clone()).unwrap();
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deleted = rt
        .block_on(zrm::engine::snapshot::ebs::delete_snapshots(&record))
        .unwrap();
    assert_eq!(deleted, vec![snap.clone(), copy_id.clone()]);
    let left = moto.python(&format!(
        "print(len([s for s in ec2().describe_snapshots(OwnerIds=['self'])['Snapshots'] if s['SnapshotId'] == '{snap}']), \
               len([s for s in ec2('us-west-2').describe_snapshots(OwnerIds=['self'])['Snapshots'] if s['SnapshotId'] == '{copy_id}']))"
    ));
    assert_eq!(left, "0 0");
    // Deleting again is not an error (already gone).
    rt.block_on(zrm::engine::snapshot::ebs::delete_snapshots(&record))
        .unwrap();
}

#[test]
fn ebs_several_volumes_are_snapshotted_together() {
    let Some((moto, server)) = setup() else {
        return;
    };
    let out = moto.python(
        "c = ec2()\n\
         i = c.run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, Placement={'AvailabilityZone': 'us-east-1a'})['Instances'][0]['InstanceId']\n\
         vols = []\n\
         for dev in ['/dev/sdf', '/dev/sdg', '/dev/sdh']:\n\
         \x20   v = c.create_volume(AvailabilityZone='us-east-1a', Size=5)['VolumeId']\n\
         \x20   c.attach_volume(VolumeId=v, InstanceId=i, Device=dev)\n\
         \x20   vols.append(v)\n\
         print(i, *vols)",
    );
    let ids: Vec<&str> = out.split(' ').collect();
    let (instance, vols) = (ids[0], &ids[1..]);
    let dir = tempfile::tempdir().unwrap();
    // Two of the three data volumes belong to the database.
    let config = config(
        dir.path(),
        &server,
        &format!(
            "volumes = [\"{}\", \"{}\"], instance_id = \"{instance}\", region = \"us-east-1\", endpoint = \"{}\"",
            vols[0],
            vols[1],
            moto.url()
        ),
    );
    let out = zrm_moto(
        &moto,
        &config,
        &["backup", "--set", "s", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{out}");
    let m = json(&out)["backup"].clone();
    let snaps = m["physical"]["ebs"]["snapshots"]
        .as_array()
        .unwrap()
        .clone();
    let mut got: Vec<&str> = snaps
        .iter()
        .map(|s| s["volume_id"].as_str().unwrap())
        .collect();
    got.sort();
    let mut want = vec![vols[0], vols[1]];
    want.sort();
    assert_eq!(got, want);
    // The third volume's snapshot (CreateSnapshots covers every data volume) was removed.
    let of_third = moto.python(&format!(
        "print(len([s for s in ec2().describe_snapshots(OwnerIds=['self'])['Snapshots'] if s['VolumeId'] == '{}']))",
        vols[2]
    ));
    assert_eq!(of_third, "0");

    // Without instance_id, several volumes are refused before anything happens.
    let config = volumes_config(dir.path(), &server, &moto, &vols[..2]);
    let out = zrm_moto(&moto, &config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("ebs.instance_id"), "{out}");
}

/// A set on `volumes` in us-east-1 of this moto, nothing else.
fn volumes_config(dir: &Path, server: &TestServer, moto: &Moto, volumes: &[&str]) -> PathBuf {
    let list = volumes
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    config(
        dir,
        server,
        &format!(
            "volumes = [{list}], region = \"us-east-1\", endpoint = \"{}\"",
            moto.url()
        ),
    )
}

#[test]
fn ebs_errors_name_the_volume_and_the_cause() {
    let Some((moto, server)) = setup() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = "vol-0123456789abcdef0";
    let config = volumes_config(dir.path(), &server, &moto, &[missing]);
    let out = zrm_moto(&moto, &config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(missing), "{out}");
    assert!(
        out.stderr.contains("NotFound") || out.stderr.contains("does not exist"),
        "{out}"
    );
    assert_eq!(
        count_backup_dirs(dir.path()),
        0,
        "nothing left in the repository"
    );
    let snaps = moto.python(
        "print(len(ec2().describe_snapshots(Filters=[{'Name': 'tag:zrm:set', 'Values': ['s']}])['Snapshots']))",
    );
    assert_eq!(snaps, "0", "no snapshot was made");

    // No region anywhere: a configuration error.
    let config = support::write_config(
        dir.path(),
        &format!(
            "[repository]\npath = \"repo\"\n\n[defaults]\nuser = \"root\"\n\n[sets.s]\nsocket = \"{}\"\nmethod = \"ebs\"\nebs = {{ volumes = [\"vol-1\"], endpoint = \"{}\" }}\n",
            server.socket().display(),
            moto.url()
        ),
    );
    let out = zrm_env(&moto, &config, &["backup", "--set", "s"], &[]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("ebs.region"), "{out}");
}

#[test]
fn ebs_refused_credentials_and_missing_permission_are_clear() {
    if !support::available(Flavor::MariaDB) {
        return;
    }
    // A moto that checks IAM after its first two (setup) requests.
    let Some(moto) = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]) else {
        return;
    };
    let server = TestServer::start();
    let key = moto.python(
        "iam().create_user(UserName='nobody')\n\
         k = iam().create_access_key(UserName='nobody')['AccessKey']\n\
         print(k['AccessKeyId'], k['SecretAccessKey'])",
    );
    let (id, secret) = key.split_once(' ').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = volumes_config(dir.path(), &server, &moto, &["vol-1"]);
    // Unknown to IAM: refused credentials.
    let out = zrm_moto(&moto, &config, &["backup", "--set", "s"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("AuthFailure"), "{out}");
    assert!(out.stderr.contains("credentials were refused"), "{out}");
    // A user without any policy: the missing permission is named.
    let out = zrm_env(
        &moto,
        &config,
        &["backup", "--set", "s"],
        &[
            ("AWS_ACCESS_KEY_ID", id.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
        ],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("ec2:DescribeVolumes"), "{out}");
    assert!(out.stderr.contains("lacks this permission"), "{out}");
    assert_eq!(count_backup_dirs(dir.path()), 0);
}

fn count_backup_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("repo/sets/s/backups"))
        .map(|d| d.count())
        .unwrap_or(0)
}
