//! EBS: `CreateSnapshot` of the set's volume under the lock (the point in time is the call;
//! the copy into S3 happens in the background), release, then wait for completion. With
//! several volumes one `CreateSnapshots` call for the instance makes them crash-consistent
//! together. Optionally each snapshot is copied to a second region. The snapshots are the
//! backup: the manifest records their ids and retention deletes them.
//!
//! Credentials and region come from the standard AWS chain (environment, profile, instance
//! role); `ebs.region` and `ebs.endpoint` override.

use std::time::{Duration, Instant};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    InstanceSpecification, ResourceType, SnapshotState, Tag, TagSpecification, VolumeState,
};
use aws_sdk_ec2::Client;
use serde::{Deserialize, Serialize};

use super::VolumeSnapshot;
use crate::config::{EbsOptions, SetConfig};
use crate::error::{Error, Result};
use crate::progress::Progress;

pub const DEFAULT_WAIT_TIMEOUT_S: u64 = 3600;
const POLL: Duration = Duration::from_millis(500);

/// The manifest's record of an EBS backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EbsRecord {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub snapshots: Vec<EbsSnapshot>,
    /// Copies in another region (disaster recovery).
    #[serde(default)]
    pub copies: Vec<EbsCopy>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EbsSnapshot {
    pub volume_id: String,
    pub snapshot_id: String,
    pub size_gib: Option<i32>,
    pub availability_zone: Option<String>,
    /// Where the volume was attached (`/dev/xvdf`), to attach the restored one the same way.
    pub device: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EbsCopy {
    pub region: String,
    pub source_snapshot_id: String,
    pub snapshot_id: String,
}

/// An EC2 client for a region and optional endpoint.
pub async fn client(region: Option<&str>, endpoint: Option<&str>) -> Result<(Client, String)> {
    let conf = crate::aws::sdk_config(region, endpoint).await;
    let region = conf.region().map(|r| r.to_string()).ok_or_else(|| {
        Error::Config(
            "no AWS region: set `ebs.region` for the set, or AWS_REGION in the environment".into(),
        )
    })?;
    Ok((Client::new(&conf), region))
}

/// An EC2 API error as a sentence: operation, subject, AWS's code and message, and a hint.
fn aws_error<E>(op: &str, subject: &str, e: &E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, detail) = crate::aws::error_detail(e);
    let hint = if code.contains("NotFound") || code.contains("Malformed") {
        "; check the id (`ebs.volumes` of the set, or the backup's manifest)"
    } else if code.contains("Unauthorized") || code.contains("AccessDenied") {
        "; the AWS identity zrm runs as lacks this permission: grant it in IAM (README, \
         \"Privileges\", lists what each method needs)"
    } else if code.contains("AuthFailure") || code.contains("InvalidClientTokenId") {
        "; the AWS credentials were refused: check the access key (environment, ~/.aws, \
         instance role)"
    } else if code.is_empty() {
        "; check the network, `ebs.endpoint` and the AWS credentials"
    } else {
        ""
    };
    Error::Backup(format!("EC2 {op} of {subject} failed: {detail}{hint}"))
}

/// A snapshot's tags: its set, backup and repository. Clean-up only ever touches snapshots of
/// this repository (another repository may use the same set names in the same account).
fn tags(set: &str, backup_id: &str, repository: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .tags(
            Tag::builder()
                .key("zrm:repository")
                .value(repository)
                .build(),
        )
        .tags(
            Tag::builder()
                .key("Name")
                .value(format!("zrm {set} {backup_id}"))
                .build(),
        )
        .tags(Tag::builder().key("zrm:set").value(set).build())
        .tags(Tag::builder().key("zrm:backup-id").value(backup_id).build())
        .build()
}

/// One volume as DescribeVolumes saw it.
#[derive(Debug, Clone)]
struct VolumeFacts {
    id: String,
    size_gib: Option<i32>,
    zone: Option<String>,
    device: Option<String>,
}

pub struct Ebs {
    client: Client,
    region: String,
    opts: EbsOptions,
    set: String,
    backup_id: String,
    /// The repository's id, tagged on every snapshot.
    repository: String,
    volumes: Vec<VolumeFacts>,
    snapshots: Vec<EbsSnapshot>,
    copies: Vec<EbsCopy>,
}

impl Ebs {
    pub async fn plan(set: &SetConfig, backup_id: &str, repository: &str) -> Result<Ebs> {
        let opts = set.ebs.clone().unwrap_or_default();
        if opts.volumes.is_empty() {
            return Err(Error::Config(format!(
                "set '{}' uses method ebs but lists no volume: set `ebs = {{ volumes = \
                 [\"vol-…\"], region = \"…\" }}` to the volume(s) holding the datadir, InnoDB \
                 logs and binary logs",
                set.name
            )));
        }
        if opts.volumes.len() > 1 && opts.instance_id.is_none() {
            return Err(Error::Config(format!(
                "set '{}' lists {} EBS volumes: snapshots of several volumes are consistent \
                 together only when taken in one call for their instance; set `ebs.instance_id`",
                set.name,
                opts.volumes.len()
            )));
        }
        let (client, region) = client(opts.region.as_deref(), opts.endpoint.as_deref()).await?;
        let subject = opts.volumes.join(", ");
        let out = client
            .describe_volumes()
            .set_volume_ids(Some(opts.volumes.clone()))
            .send()
            .await
            .map_err(|e| aws_error("DescribeVolumes", &subject, &e))?;
        let mut volumes = Vec::new();
        for id in &opts.volumes {
            let v = out
                .volumes()
                .iter()
                .find(|v| v.volume_id() == Some(id.as_str()))
                .ok_or_else(|| {
                    Error::Backup(format!(
                        "EBS volume {id} of set '{}' does not exist in region {region}; check \
                         `ebs.volumes` and `ebs.region`",
                        set.name
                    ))
                })?;
            volumes.push(VolumeFacts {
                id: id.clone(),
                size_gib: v.size(),
                zone: v.availability_zone().map(str::to_string),
                device: v
                    .attachments()
                    .first()
                    .and_then(|a| a.device())
                    .map(str::to_string),
            });
        }
        Ok(Ebs {
            client,
            region,
            opts,
            set: set.name.clone(),
            backup_id: backup_id.to_string(),
            repository: repository.to_string(),
            volumes,
            snapshots: Vec::new(),
            copies: Vec::new(),
        })
    }

    pub fn record(&self) -> EbsRecord {
        EbsRecord {
            region: self.region.clone(),
            endpoint: self.opts.endpoint.clone(),
            snapshots: self.snapshots.clone(),
            copies: self.copies.clone(),
        }
    }

    async fn create(&mut self) -> Result<()> {
        let description = format!("zrm backup {} of set {}", self.backup_id, self.set);
        let taken: Vec<(String, String)> = if let Some(instance) = &self.opts.instance_id {
            let out = self
                .client
                .create_snapshots()
                .instance_specification(
                    InstanceSpecification::builder()
                        .instance_id(instance)
                        .exclude_boot_volume(true)
                        .build(),
                )
                .description(&description)
                .tag_specifications(tags(&self.set, &self.backup_id, &self.repository))
                .send()
                .await
                .map_err(|e| aws_error("CreateSnapshots", &format!("instance {instance}"), &e))?;
            out.snapshots()
                .iter()
                .filter_map(|s| Some((s.volume_id()?.to_string(), s.snapshot_id()?.to_string())))
                .collect()
        } else {
            let v = &self.volumes[0].id;
            let out = self
                .client
                .create_snapshot()
                .volume_id(v)
                .description(&description)
                .tag_specifications(tags(&self.set, &self.backup_id, &self.repository))
                .send()
                .await
                .map_err(|e| aws_error("CreateSnapshot", &format!("volume {v}"), &e))?;
            let id = out.snapshot_id().ok_or_else(|| {
                Error::Backup(format!(
                    "EC2 CreateSnapshot of volume {v} returned no snapshot id"
                ))
            })?;
            vec![(v.clone(), id.to_string())]
        };
        let mut extra = Vec::new();
        for (volume, snapshot) in taken {
            match self.volumes.iter().find(|f| f.id == volume) {
                Some(f) => self.snapshots.push(EbsSnapshot {
                    volume_id: volume,
                    snapshot_id: snapshot,
                    size_gib: f.size_gib,
                    availability_zone: f.zone.clone(),
                    device: f.device.clone(),
                }),
                // CreateSnapshots covers every data volume of the instance: keep ours only.
                None => extra.push(snapshot),
            }
        }
        for s in extra {
            let _ = self.client.delete_snapshot().snapshot_id(&s).send().await;
        }
        let missing: Vec<&str> = self
            .volumes
            .iter()
            .filter(|v| !self.snapshots.iter().any(|s| s.volume_id == v.id))
            .map(|v| v.id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Backup(format!(
                "EC2 made no snapshot of volume(s) {} (are they attached to instance {}?)",
                missing.join(", "),
                self.opts.instance_id.as_deref().unwrap_or("?")
            )));
        }
        Ok(())
    }

    async fn wait(&self, progress: &dyn Progress) -> Result<()> {
        let ids: Vec<String> = self
            .snapshots
            .iter()
            .map(|s| s.snapshot_id.clone())
            .collect();
        let limit = Duration::from_secs(self.opts.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT_S));
        progress.set_total(Some(100 * ids.len() as u64));
        let started = Instant::now();
        let mut shown = 0u64;
        loop {
            let out = self
                .client
                .describe_snapshots()
                .set_snapshot_ids(Some(ids.clone()))
                .send()
                .await
                .map_err(|e| aws_error("DescribeSnapshots", &ids.join(", "), &e))?;
            let mut done = 0;
            let mut percent = 0u64;
            for s in out.snapshots() {
                match s.state() {
                    Some(SnapshotState::Completed) => {
                        done += 1;
                        percent += 100;
                    }
                    Some(SnapshotState::Error) => {
                        return Err(Error::Backup(format!(
                            "EBS snapshot {} failed: {}",
                            s.snapshot_id().unwrap_or("?"),
                            s.state_message().unwrap_or("no reason given")
                        )))
                    }
                    _ => {
                        percent += s
                            .progress()
                            .and_then(|p| p.trim_end_matches('%').parse::<u64>().ok())
                            .unwrap_or(0)
                    }
                }
            }
            if percent > shown {
                progress.advance(percent - shown);
                shown = percent;
            }
            if done == ids.len() {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(Error::Backup(format!(
                    "EBS snapshot(s) {} did not complete within {} s (`ebs.wait_timeout`); they \
                     go on in AWS and were deleted here so that no half-recorded backup stays",
                    ids.join(", "),
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn copy_to_region(&mut self) -> Result<()> {
        let Some(dest) = self.opts.copy_to_region.clone() else {
            return Ok(());
        };
        let (client, _) = client(Some(&dest), self.opts.endpoint.as_deref()).await?;
        for s in &self.snapshots {
            let out = client
                .copy_snapshot()
                .source_region(&self.region)
                .source_snapshot_id(&s.snapshot_id)
                .description(format!(
                    "zrm backup {} of set {} (copy of {} from {})",
                    self.backup_id, self.set, s.snapshot_id, self.region
                ))
                .tag_specifications(tags(&self.set, &self.backup_id, &self.repository))
                .send()
                .await
                .map_err(|e| {
                    aws_error("CopySnapshot", &format!("{} to {dest}", s.snapshot_id), &e)
                })?;
            self.copies.push(EbsCopy {
                region: dest.clone(),
                source_snapshot_id: s.snapshot_id.clone(),
                snapshot_id: out.snapshot_id().unwrap_or_default().to_string(),
            });
        }
        Ok(())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // Called from blocking code inside zrm's runtime — also from a clean-up guard dropped in
    // async code, where a bare `block_on` would panic: block_in_place makes it legal (and is a
    // no-op where the thread may already block).
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

impl VolumeSnapshot for Ebs {
    fn describe(&self) -> String {
        format!(
            "EBS volume(s) {}",
            self.volumes
                .iter()
                .map(|v| v.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    fn cut(&mut self) -> Result<()> {
        block_on(self.create())
    }

    /// Snapshots tagged for this set whose backup has no manifest: a run killed between
    /// CreateSnapshot and writing its manifest. (Copies in `copy_to_region` are not looked
    /// for.)
    fn remove_stale(&mut self, is_backup: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        block_on(async {
            let out = self
                .client
                .describe_snapshots()
                .owner_ids("self")
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("tag:zrm:set")
                        .values(&self.set)
                        .build(),
                )
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("tag:zrm:repository")
                        .values(&self.repository)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error("DescribeSnapshots", &format!("set {}", self.set), &e))?;
            let mut removed = Vec::new();
            for s in out.snapshots() {
                let id = s
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("zrm:backup-id"))
                    .and_then(|t| t.value());
                let (Some(id), Some(snap)) = (id, s.snapshot_id()) else {
                    continue;
                };
                if is_backup(id) {
                    continue;
                }
                self.client
                    .delete_snapshot()
                    .snapshot_id(snap)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeleteSnapshot", snap, &e))?;
                removed.push(format!(
                    "EBS snapshot {snap} (backup {id}, never completed)"
                ));
            }
            Ok(removed)
        })
    }

    /// Waits for the snapshots to complete, then copies them to the DR region if asked.
    fn mount(&mut self, progress: &dyn Progress) -> Result<Option<std::path::PathBuf>> {
        block_on(async {
            self.wait(progress).await?;
            self.copy_to_region().await
        })?;
        Ok(None)
    }

    fn remove(&mut self) -> Result<()> {
        let record = self.record();
        block_on(delete_snapshots(&record))?;
        self.snapshots.clear();
        self.copies.clear();
        Ok(())
    }

    fn cloud_record(&self) -> Option<EbsRecord> {
        Some(self.record())
    }
}

/// Delete every snapshot of a backup, copies included (retention, or a failed backup).
/// Snapshots already gone count as deleted. Returns the ids deleted.
pub async fn delete_snapshots(record: &EbsRecord) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    let mut todo: Vec<(String, String)> = record
        .snapshots
        .iter()
        .map(|s| (record.region.clone(), s.snapshot_id.clone()))
        .collect();
    todo.extend(
        record
            .copies
            .iter()
            .filter(|c| !c.snapshot_id.is_empty())
            .map(|c| (c.region.clone(), c.snapshot_id.clone())),
    );
    for (region, id) in todo {
        let (client, _) = client(Some(&region), record.endpoint.as_deref()).await?;
        match client.delete_snapshot().snapshot_id(&id).send().await {
            Ok(_) => deleted.push(id),
            Err(e) if e.code() == Some("InvalidSnapshot.NotFound") => deleted.push(id),
            Err(e) => return Err(aws_error("DeleteSnapshot", &id, &e)),
        }
    }
    Ok(deleted)
}

/// The snapshots of a backup that purge is deleting, whose record comes from a manifest in the
/// repository: only snapshots tagged as this repository's, this set's and this backup's are
/// deleted, through the endpoint of the set's configuration (never one a manifest names), so a
/// changed manifest cannot aim purge at another snapshot or send credentials elsewhere.
pub async fn delete_backup_snapshots(
    record: &EbsRecord,
    set: &str,
    backup_id: &str,
    repository: &str,
    endpoint: Option<&str>,
) -> Result<Vec<String>> {
    let mut checked = record.clone();
    checked.endpoint = endpoint.map(str::to_string);
    let mut refused = Vec::new();
    let owned = |tags: &[Tag]| {
        let tag = |k: &str| {
            tags.iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
        };
        tag("zrm:repository") == Some(repository)
            && tag("zrm:set") == Some(set)
            && tag("zrm:backup-id") == Some(backup_id)
    };
    let mut regions: Vec<(String, String)> = record
        .snapshots
        .iter()
        .map(|s| (record.region.clone(), s.snapshot_id.clone()))
        .collect();
    regions.extend(
        record
            .copies
            .iter()
            .filter(|c| !c.snapshot_id.is_empty())
            .map(|c| (c.region.clone(), c.snapshot_id.clone())),
    );
    for (region, id) in &regions {
        let (client, _) = client(Some(region), endpoint).await?;
        match client.describe_snapshots().snapshot_ids(id).send().await {
            Ok(o) => {
                if !o.snapshots().first().is_some_and(|s| owned(s.tags())) {
                    refused.push(id.clone());
                }
            }
            Err(e) if e.code() == Some("InvalidSnapshot.NotFound") => {}
            Err(e) => return Err(aws_error("DescribeSnapshots", id, &e)),
        }
    }
    if !refused.is_empty() {
        return Err(Error::Backup(format!(
            "backup {backup_id} of set '{set}' names EBS snapshot(s) {} that are not tagged as \
             this repository's snapshots of that backup: none of its snapshots was deleted. Its \
             manifest was changed or belongs elsewhere; check it before deleting anything",
            refused.join(", ")
        )));
    }
    delete_snapshots(&checked).await
}

/// The state of each snapshot of a backup (`completed`, `pending`, `error`, or `missing`).
pub async fn snapshot_states(record: &EbsRecord) -> Result<Vec<(String, String)>> {
    let (client, _) = client(Some(&record.region), record.endpoint.as_deref()).await?;
    let mut out = Vec::new();
    for s in &record.snapshots {
        let state = match client
            .describe_snapshots()
            .snapshot_ids(&s.snapshot_id)
            .send()
            .await
        {
            Ok(o) => o
                .snapshots()
                .first()
                .and_then(|x| x.state())
                .map_or("missing".to_string(), |st| st.as_str().to_string()),
            Err(e) if e.code() == Some("InvalidSnapshot.NotFound") => "missing".to_string(),
            Err(e) => return Err(aws_error("DescribeSnapshots", &s.snapshot_id, &e)),
        };
        out.push((s.snapshot_id.clone(), state));
    }
    Ok(out)
}

/// A volume created from a backup's snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct RestoredVolume {
    pub snapshot_id: String,
    pub volume_id: String,
    pub availability_zone: String,
    pub attached_to: Option<String>,
    pub device: Option<String>,
}

/// `CreateVolume` from each snapshot of the backup (in `zone`, default the source volume's),
/// wait until available, and attach to `instance` if given.
pub async fn restore_volumes(
    record: &EbsRecord,
    zone: Option<&str>,
    instance: Option<&str>,
    device: Option<&str>,
    progress: &dyn Progress,
) -> Result<Vec<RestoredVolume>> {
    let (client, _) = client(Some(&record.region), record.endpoint.as_deref()).await?;
    let restore_err = |e: Error| Error::Restore(e.to_string());
    let mut made = Vec::new();
    progress.set_total(Some(record.snapshots.len() as u64));
    for s in &record.snapshots {
        let az = zone
            .map(str::to_string)
            .or_else(|| s.availability_zone.clone())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "snapshot {} records no availability zone: name one with --target ebs:ZONE",
                    s.snapshot_id
                ))
            })?;
        let out = client
            .create_volume()
            .snapshot_id(&s.snapshot_id)
            .availability_zone(&az)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .tags(
                        Tag::builder()
                            .key("Name")
                            .value(format!("zrm restore of {}", s.snapshot_id))
                            .build(),
                    )
                    .tags(
                        Tag::builder()
                            .key("zrm:restored-from")
                            .value(&s.snapshot_id)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                restore_err(aws_error(
                    "CreateVolume",
                    &format!("snapshot {}", s.snapshot_id),
                    &e,
                ))
            })?;
        let volume_id = out.volume_id().unwrap_or_default().to_string();
        // Wait until the volume can be attached.
        let started = Instant::now();
        loop {
            let d = client
                .describe_volumes()
                .volume_ids(&volume_id)
                .send()
                .await
                .map_err(|e| restore_err(aws_error("DescribeVolumes", &volume_id, &e)))?;
            let state = d.volumes().first().and_then(|v| v.state().cloned());
            if state == Some(VolumeState::Available) {
                break;
            }
            if state == Some(VolumeState::Error) || started.elapsed() > Duration::from_secs(1800) {
                return Err(Error::Restore(format!(
                    "volume {volume_id} created from snapshot {} did not become available \
                     (state {state:?})",
                    s.snapshot_id
                )));
            }
            tokio::time::sleep(POLL).await;
        }
        let dev = device.map(str::to_string).or_else(|| s.device.clone());
        if let Some(i) = instance {
            let dev = dev.clone().ok_or_else(|| {
                Error::Usage(format!(
                    "attaching volume {volume_id} to {i} needs a device name: add --device \
                     /dev/sdf (the source volume's device was not recorded)"
                ))
            })?;
            client
                .attach_volume()
                .volume_id(&volume_id)
                .instance_id(i)
                .device(&dev)
                .send()
                .await
                .map_err(|e| {
                    restore_err(aws_error(
                        "AttachVolume",
                        &format!("{volume_id} to {i}"),
                        &e,
                    ))
                })?;
        }
        progress.advance(1);
        made.push(RestoredVolume {
            snapshot_id: s.snapshot_id.clone(),
            volume_id,
            availability_zone: az,
            attached_to: instance.map(str::to_string),
            device: dev,
        });
    }
    Ok(made)
}
