//! A snapshot backup's record in its manifest (btrfs, LVM, EBS).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's record of a snapshot backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhysicalLayout {
    /// What was snapshotted (`btrfs subvolume /data/mysql`, `lvm vg0/mysql`, `ebs vol-…`).
    pub source: String,
    /// The lock held while the snapshot was cut.
    pub lock: String,
    pub lock_wait_ms: u64,
    pub lock_hold_ms: u64,
    /// How long the cut itself took (inside the hold).
    pub cut_ms: u64,
    /// The datadir on the source server.
    pub datadir: String,
    /// Owner and mode of the datadir, given to the restored one.
    pub datadir_owner: Option<(u32, u32, u32)>,
    pub file_count: u64,
    pub bytes: u64,
    /// Seconds spent copying out of the snapshot.
    pub copy_seconds: f64,
    /// Paths left out of the copy, with the reason.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Server settings a server started on the copy must share (`innodb_page_size`, …).
    #[serde(default)]
    pub server_options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs: Option<EbsRecord>,
}

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
