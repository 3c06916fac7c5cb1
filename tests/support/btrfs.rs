//! A real btrfs file system for snapshot tests: a loop-mounted image with a subvolume `vol`.
//!
//! Needs root, `mkfs.btrfs`/`btrfs` (btrfs-progs) and loop devices. Without them
//! [`BtrfsMount::new`] prints why and returns `None`, except under CI (`CI=true`), where it
//! panics.

use std::path::PathBuf;
use std::process::{Command, Stdio};

const TOOLS: &[&str] = &["mkfs.btrfs", "btrfs"];

/// A btrfs image loop-mounted in a temp dir, with a subvolume `vol`; unmounted on drop.
pub struct BtrfsMount {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl BtrfsMount {
    /// `None` (after printing why) when this machine cannot mount one; panics under CI.
    pub fn new() -> Option<BtrfsMount> {
        if !super::require_tools(TOOLS) {
            return None;
        }
        let why_not = if unsafe { libc::geteuid() } != 0 {
            Some("not running as root (mounting a loop device needs it)".to_string())
        } else {
            None
        };
        if let Some(why) = why_not {
            assert!(!super::ci(), "CI=true but btrfs tests cannot run: {why}");
            eprintln!("skipping: {why}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("zrm-btrfs-")
            .tempdir_in("/tmp")
            .unwrap();
        let img = dir.path().join("img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(1 << 30).unwrap();
        drop(f);
        let steps: Vec<Vec<String>> = vec![
            vec!["mkfs.btrfs".into(), "-q".into(), img.display().to_string()],
            vec![
                "mount".into(),
                "-o".into(),
                "loop".into(),
                img.display().to_string(),
                mnt.display().to_string(),
            ],
            vec![
                "btrfs".into(),
                "subvolume".into(),
                "create".into(),
                mnt.join("vol").display().to_string(),
            ],
        ];
        for s in steps {
            let out = super::run(Command::new(&s[0]).args(&s[1..]));
            if !out.success() {
                let why = format!("`{}` failed: {out}", s.join(" "));
                assert!(!super::ci(), "CI=true but btrfs tests cannot run: {why}");
                eprintln!("skipping: {why}");
                let _ = Command::new("umount").arg(&mnt).status();
                return None;
            }
        }
        Some(BtrfsMount { _dir: dir, mnt })
    }

    pub fn subvolume(&self) -> PathBuf {
        self.mnt.join("vol")
    }

    /// Snapshots zrm left on the file system (it must leave none).
    pub fn leftover_snapshots(&self) -> Vec<String> {
        std::fs::read_dir(&self.mnt)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".zrm-snapshot"))
            .collect()
    }
}

impl Drop for BtrfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(&self.mnt)
            .stderr(Stdio::null())
            .status();
    }
}
