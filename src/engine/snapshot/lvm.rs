//! LVM: a copy-on-write snapshot of the logical volume holding the datadir (`lvcreate -s`),
//! mounted read-only, copied out, unmounted and removed (`lvremove`).
//!
//! The snapshot's size is copy-on-write space: it must hold every block the server changes
//! while the copy runs. The default is 20% of the origin (ZRM used a fixed 10 MB, which filled
//! up and invalidated the snapshot mid-copy on any busy server).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::runner::CommandRunner;
use super::{ServerPaths, VolumeSnapshot};
use crate::config::SetConfig;
use crate::error::{Error, Result};

pub const DEFAULT_SNAPSHOT_SIZE: &str = "20%";

pub struct Lvm {
    runner: Arc<dyn CommandRunner>,
    /// `vg/lv` of the origin.
    origin: String,
    vg: String,
    fstype: String,
    snapshot_name: String,
    size_args: Vec<String>,
    mount_dir: PathBuf,
    /// A private temp dir zrm made for the mount, removed at the end.
    own_mount_dir: Option<tempfile::TempDir>,
    /// The datadir relative to the file system's mount point.
    datadir_rel: PathBuf,
    created: bool,
    mounted: bool,
}

impl Lvm {
    pub fn plan(
        runner: Arc<dyn CommandRunner>,
        paths: &ServerPaths,
        set: &SetConfig,
        backup_id: &str,
    ) -> Result<Lvm> {
        let opts = set.lvm.clone().unwrap_or_default();
        let datadir = super::normalize(&paths.datadir);
        // Which file system, mounted where, from which device.
        let found = runner.run(
            "findmnt",
            &[
                "--noheadings".into(),
                "--raw".into(),
                "--output".into(),
                "SOURCE,TARGET,FSTYPE".into(),
                "--target".into(),
                datadir.display().to_string(),
            ],
        )?;
        let mut fields = found.split_whitespace();
        let (Some(device), Some(target), Some(fstype)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(Error::Backup(format!(
                "set '{}': findmnt printed nothing usable for the datadir {} ({found:?})",
                set.name,
                datadir.display()
            )));
        };
        let datadir_rel = datadir
            .strip_prefix(unescape_findmnt(target))
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let origin = match opts.volume {
            Some(v) => v,
            None => {
                let lvs = runner
                    .run(
                        "lvs",
                        &[
                            "--noheadings".into(),
                            "--separator".into(),
                            "/".into(),
                            "-o".into(),
                            "vg_name,lv_name".into(),
                            device.to_string(),
                        ],
                    )
                    .map_err(|e| {
                        Error::Backup(format!(
                            "set '{}': the datadir {} is on {device}, which LVM does not know as \
                             a logical volume ({e}); method lvm needs the datadir on an LVM \
                             volume (`zrm check --set {}` tells what it is on)",
                            set.name,
                            datadir.display(),
                            set.name
                        ))
                    })?;
                lvs.trim().to_string()
            }
        };
        let Some((vg, _lv)) = origin
            .split_once('/')
            .filter(|(v, l)| !v.is_empty() && !l.is_empty() && !l.contains('/'))
        else {
            return Err(Error::Config(format!(
                "set '{}': the logical volume '{origin}' is not of the form vg/lv",
                set.name
            )));
        };
        let vg = vg.to_string();
        let size = opts
            .snapshot_size
            .unwrap_or_else(|| DEFAULT_SNAPSHOT_SIZE.to_string());
        let size_args = size_args(&size).ok_or_else(|| {
            Error::Config(format!(
                "set '{}': lvm.snapshot_size = \"{size}\": write a percent of the origin \
                 (\"20%\") or a size with a unit (\"8G\", \"512M\")",
                set.name
            ))
        })?;
        let (mount_dir, own_mount_dir) = match opts.mount_dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("zrm-lvm-")
                    .tempdir()
                    .map_err(|e| Error::io("create a mount point in", std::env::temp_dir(), e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        Ok(Lvm {
            runner,
            origin,
            vg,
            fstype: fstype.to_string(),
            snapshot_name: format!("zrm_{}_{backup_id}", sanitize(&set.name)),
            size_args,
            mount_dir,
            own_mount_dir,
            datadir_rel,
            created: false,
            mounted: false,
        })
    }

    fn snapshot_lv(&self) -> String {
        format!("{}/{}", self.vg, self.snapshot_name)
    }
}

/// `20%` → `-l 20%ORIGIN`; `8G` → `-L 8G`.
pub fn size_args(size: &str) -> Option<Vec<String>> {
    let size = size.trim();
    if let Some(p) = size.strip_suffix('%') {
        let n: u32 = p.parse().ok()?;
        return (1..=100)
            .contains(&n)
            .then(|| vec!["--extents".into(), format!("{n}%ORIGIN")]);
    }
    let unit = size.chars().last()?;
    let digits = &size[..size.len() - unit.len_utf8()];
    if "KMGTkmgt".contains(unit) && !digits.is_empty() && digits.parse::<f64>().is_ok() {
        return Some(vec!["--size".into(), size.to_string()]);
    }
    None
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// findmnt --raw escapes spaces and the like as `\x20`.
fn unescape_findmnt(s: &str) -> PathBuf {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

impl VolumeSnapshot for Lvm {
    fn remove_stale(&mut self, _is_backup: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        let listed = self.runner.run(
            "lvs",
            &[
                "--noheadings".into(),
                "-o".into(),
                "lv_name".into(),
                self.vg.clone(),
            ],
        )?;
        // `zrm_<set>_<backup id>`: the part before the id.
        let prefix = match self.snapshot_name.rfind('_') {
            Some(i) => self.snapshot_name[..=i].to_string(),
            None => return Ok(Vec::new()),
        };
        let mut removed = Vec::new();
        for name in listed.split_whitespace() {
            let is_ours = name
                .strip_prefix(&prefix)
                .is_some_and(crate::catalog::is_backup_id);
            // Our own name too: a killed run in the same second took this backup id.
            if is_ours {
                let lv = format!("{}/{name}", self.vg);
                // Still mounted by the killed run: unmount first (an error means it was not).
                let _ = self.runner.run("umount", &[format!("/dev/{lv}")]);
                self.runner
                    .run("lvremove", &["--force".into(), lv.clone()])?;
                removed.push(format!("LVM snapshot {lv}"));
            }
        }
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("LVM volume {}", self.origin)
    }

    fn cut(&mut self) -> Result<()> {
        let mut args = vec![
            "--snapshot".to_string(),
            "--name".into(),
            self.snapshot_name.clone(),
        ];
        args.extend(self.size_args.iter().cloned());
        args.push(self.origin.clone());
        self.runner.run("lvcreate", &args)?;
        self.created = true;
        Ok(())
    }

    fn mount(&mut self, _progress: &dyn crate::progress::Progress) -> Result<Option<PathBuf>> {
        // xfs refuses a second file system with the same UUID unless told `nouuid`.
        let options = if self.fstype == "xfs" {
            "ro,nouuid"
        } else {
            "ro"
        };
        self.runner.run(
            "mount",
            &[
                "-t".into(),
                self.fstype.clone(),
                "-o".into(),
                options.into(),
                format!("/dev/{}", self.snapshot_lv()),
                self.mount_dir.display().to_string(),
            ],
        )?;
        self.mounted = true;
        Ok(Some(self.mount_dir.join(&self.datadir_rel)))
    }

    fn remove(&mut self) -> Result<()> {
        let mut first_err = None;
        if self.mounted {
            match self
                .runner
                .run("umount", &[self.mount_dir.display().to_string()])
            {
                Ok(_) => self.mounted = false,
                Err(e) => first_err = Some(e),
            }
        }
        // Never remove a volume that is still mounted.
        if self.created && !self.mounted {
            match self
                .runner
                .run("lvremove", &["--force".into(), self.snapshot_lv()])
            {
                Ok(_) => self.created = false,
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        if !self.mounted {
            self.own_mount_dir.take();
        }
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::runner::ScriptedRunner;
    use super::*;
    use std::collections::BTreeMap;

    fn paths() -> ServerPaths {
        ServerPaths {
            datadir: "/srv/mysql/data".into(),
            innodb_dirs: vec![],
            log_basenames: vec![],
            server_options: BTreeMap::new(),
        }
    }

    fn set(mount_dir: &Path) -> SetConfig {
        let text = format!(
            "[repository]\npath = \"/tmp/r\"\n[sets.s]\nmethod = \"lvm\"\nlvm = {{ mount_dir = \"{}\" }}\n",
            mount_dir.display()
        );
        let cfg = crate::config::ConfigFile::parse(&text, Path::new("/tmp/zrm.toml")).unwrap();
        cfg.resolve_set("s", &Default::default()).unwrap()
    }

    /// Answers like a host whose datadir is on xfs on vg0/mysql; `fail` makes one command fail.
    fn host(fail: &'static str) -> Arc<ScriptedRunner> {
        Arc::new(ScriptedRunner::new(move |line: &str| {
            if !fail.is_empty() && line.starts_with(fail) {
                return Err(Error::Tool {
                    tool: line.into(),
                    status: "exit code 5".into(),
                    stderr: "simulated failure".into(),
                });
            }
            Ok(match line.split(' ').next().unwrap() {
                "findmnt" => "/dev/mapper/vg0-mysql /srv/mysql xfs\n".into(),
                "lvs" => "  vg0/mysql\n".into(),
                _ => String::new(),
            })
        }))
    }

    #[test]
    fn full_sequence() {
        let mnt = Path::new("/mnt/zrm");
        let r = host("");
        let mut lvm = Lvm::plan(r.clone(), &paths(), &set(mnt), "20261126T101927Z").unwrap();
        lvm.cut().unwrap();
        let root = lvm.mount(&crate::progress::Silent).unwrap().unwrap();
        assert_eq!(root, mnt.join("data"));
        lvm.remove().unwrap();
        lvm.remove().unwrap(); // idempotent
        assert_eq!(
            r.calls(),
            vec![
                "findmnt --noheadings --raw --output SOURCE,TARGET,FSTYPE --target /srv/mysql/data",
                "lvs --noheadings --separator / -o vg_name,lv_name /dev/mapper/vg0-mysql",
                "lvcreate --snapshot --name zrm_s_20261126T101927Z --extents 20%ORIGIN vg0/mysql",
                "mount -t xfs -o ro,nouuid /dev/vg0/zrm_s_20261126T101927Z /mnt/zrm",
                "umount /mnt/zrm",
                "lvremove --force vg0/zrm_s_20261126T101927Z",
            ]
        );
    }

    #[test]
    fn a_failed_mount_still_removes_the_snapshot() {
        let r = host("mount");
        let mut lvm = Lvm::plan(r.clone(), &paths(), &set(Path::new("/mnt/z")), "X").unwrap();
        lvm.cut().unwrap();
        assert!(lvm.mount(&crate::progress::Silent).is_err());
        lvm.remove().unwrap();
        let calls = r.calls();
        assert_eq!(calls.last().unwrap(), "lvremove --force vg0/zrm_s_X");
        assert!(!calls.iter().any(|c| c.starts_with("umount")));
    }

    #[test]
    fn a_failed_unmount_keeps_the_volume() {
        let r = host("umount");
        let mut lvm = Lvm::plan(r.clone(), &paths(), &set(Path::new("/mnt/z")), "X").unwrap();
        lvm.cut().unwrap();
        lvm.mount(&crate::progress::Silent).unwrap();
        assert!(lvm.remove().is_err());
        assert!(!r.calls().iter().any(|c| c.starts_with("lvremove")));
    }

    #[test]
    fn a_failed_create_removes_nothing() {
        let r = host("lvcreate");
        let mut lvm = Lvm::plan(r.clone(), &paths(), &set(Path::new("/mnt/z")), "X").unwrap();
        assert!(lvm.cut().is_err());
        lvm.remove().unwrap();
        assert_eq!(r.calls().len(), 3);
    }

    #[test]
    fn not_an_lv_is_a_clear_error() {
        let r = Arc::new(ScriptedRunner::new(|line: &str| {
            if line.starts_with("lvs") {
                Err(Error::Tool {
                    tool: "lvs".into(),
                    status: "exit code 5".into(),
                    stderr: "Failed to find logical volume".into(),
                })
            } else {
                Ok("/dev/sda1 / ext4\n".into())
            }
        }));
        let e = Lvm::plan(r, &paths(), &set(Path::new("/mnt/z")), "X")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("not know as a logical volume") || e.contains("does not know"),
            "{e}"
        );
    }

    #[test]
    fn stale_snapshots_of_the_set_are_removed() {
        let r = Arc::new(ScriptedRunner::new(|line: &str| {
            Ok(match line.split(' ').next().unwrap() {
                "findmnt" => "/dev/mapper/vg0-mysql /srv/mysql xfs\n".into(),
                "lvs" if line.ends_with("vg0") => {
                    "  mysql\n  zrm_s_20261101T000000Z\n  zrm_s_x_20261101T000000Z\n".into()
                }
                "lvs" => "  vg0/mysql\n".into(),
                _ => String::new(),
            })
        }));
        let mut lvm = Lvm::plan(r.clone(), &paths(), &set(Path::new("/mnt/z")), "X").unwrap();
        let removed = lvm.remove_stale(&|_| false).unwrap();
        assert_eq!(removed, vec!["LVM snapshot vg0/zrm_s_20261101T000000Z"]);
        let calls = r.calls();
        assert_eq!(
            &calls[3..],
            &[
                "umount /dev/vg0/zrm_s_20261101T000000Z",
                "lvremove --force vg0/zrm_s_20261101T000000Z"
            ]
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(size_args("20%").unwrap(), vec!["--extents", "20%ORIGIN"]);
        assert_eq!(size_args("8G").unwrap(), vec!["--size", "8G"]);
        assert!(size_args("10").is_none());
        assert!(size_args("0%").is_none());
        assert!(size_args("abcG").is_none());
    }
}
