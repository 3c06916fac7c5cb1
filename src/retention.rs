//! Retention: which backups and archived binlogs of a set may go, as a pure function of the
//! catalog, the policy and the time, so that it can be printed (`purge --dry-run`), tested over
//! many synthetic catalogs, and then carried out.
//!
//! What is kept (everything either rule demands, never less):
//! * with `retention = "30d"`: every backup that started inside the window, and the newest full
//!   backup that started before it — the point-in-time window's first days need that base;
//! * with `keep_full = N`: the N newest full backups;
//! * every pinned backup;
//! * a backup chain as a whole: a kept incremental keeps its parent, up to the full, and a full
//!   is deleted only with every incremental built on it; a full that `keep_full` keeps keeps
//!   the incrementals built on it too (as pgBackRest's `repo-retention-full`), so the newest
//!   restore point never leaves the catalog;
//! * archived binlogs from the oldest kept full's consistent point on (on that server; on other
//!   servers, those that end after that full started);
//! * without any policy for the set, everything.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::binlog::archive_index::file_order;

/// What the planner needs to know of one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupMeta {
    pub id: String,
    pub level: u32,
    pub parent: Option<String>,
    pub start: DateTime<Utc>,
    pub pinned: bool,
    /// A restore is reading it (a live lease in the repository): kept like a pin.
    pub leased: bool,
    /// Server and binlog file of the consistent point (fulls).
    pub server_id: u32,
    pub point_file: Option<String>,
}

/// One archived binlog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogMeta {
    pub server_id: u32,
    pub file: String,
    pub last_event: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub retention: Option<chrono::Duration>,
    pub keep_full: Option<u32>,
}

impl Policy {
    /// A set's policy, layered like every option, without reading any file.
    pub fn for_set(config: &crate::config::ConfigFile, set: &str) -> Policy {
        Policy {
            retention: config.retention_of(set).map(|r| r.as_duration()),
            keep_full: config.keep_full_of(set),
        }
    }
}

impl BackupMeta {
    pub fn of(m: &crate::catalog::Manifest, pinned: bool) -> BackupMeta {
        BackupMeta {
            id: m.id.clone(),
            level: m.level,
            parent: m.parent_id.clone(),
            start: m.start_time,
            pinned,
            leased: false,
            server_id: m.server.server_id,
            point_file: m.consistent_point.as_ref().map(|p| p.binlog_file.clone()),
        }
    }
}

/// The decision for one backup.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub level: u32,
    pub keep: bool,
    /// Why it is kept, or why it may go.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Plan {
    pub backups: Vec<Decision>,
    /// Binlog files that may go: (server id, file).
    pub binlogs: Vec<(u32, String)>,
    /// Set when no policy applies: nothing is deleted.
    pub no_policy: bool,
}

impl Plan {
    pub fn deleted_backups(&self) -> impl Iterator<Item = &Decision> {
        self.backups.iter().filter(|d| !d.keep)
    }
}

pub fn plan(
    now: DateTime<Utc>,
    policy: Policy,
    backups: &[BackupMeta],
    binlogs: &[BinlogMeta],
) -> Plan {
    if policy.retention.is_none() && policy.keep_full.is_none() {
        return Plan {
            backups: backups
                .iter()
                .map(|b| Decision {
                    id: b.id.clone(),
                    level: b.level,
                    keep: true,
                    reason: "no retention or keep_full for this set".into(),
                })
                .collect(),
            binlogs: Vec::new(),
            no_policy: true,
        };
    }
    let by_id: BTreeMap<&str, &BackupMeta> = backups.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    let keep = |id: &str, why: String, reasons: &mut BTreeMap<String, String>| {
        if by_id.contains_key(id) {
            reasons.entry(id.to_string()).or_insert(why);
        }
    };

    let mut fulls: Vec<&BackupMeta> = backups.iter().filter(|b| b.level == 0).collect();
    fulls.sort_by(|a, b| b.start.cmp(&a.start).then(b.id.cmp(&a.id))); // newest first

    if let Some(n) = policy.keep_full {
        let newest: BTreeSet<&str> = fulls
            .iter()
            .take(n as usize)
            .map(|f| f.id.as_str())
            .collect();
        for f in fulls.iter().take(n as usize) {
            keep(
                &f.id,
                format!("one of the {n} newest full backups (keep_full)"),
                &mut reasons,
            );
        }
        // Their incrementals: the chain a kept full starts is kept whole.
        for b in backups.iter().filter(|b| b.level > 0) {
            if let Some(full) = root_full(b, &by_id).filter(|f| newest.contains(f)) {
                keep(
                    &b.id,
                    format!("built on {full}, which keep_full keeps"),
                    &mut reasons,
                );
            }
        }
    }
    if let Some(r) = policy.retention {
        let edge = now - r;
        for b in backups.iter().filter(|b| b.start >= edge) {
            keep(&b.id, "inside the retention window".into(), &mut reasons);
        }
        // The base of the window's earliest points: the newest full before the edge.
        if let Some(base) = fulls.iter().find(|f| f.start < edge) {
            keep(
                &base.id,
                "the base for points at the start of the retention window".into(),
                &mut reasons,
            );
        }
    }
    for b in backups.iter().filter(|b| b.pinned) {
        keep(&b.id, "pinned".into(), &mut reasons);
    }
    for b in backups.iter().filter(|b| b.leased) {
        keep(&b.id, "a restore is reading it".into(), &mut reasons);
    }
    // Chains: a kept backup keeps its ancestors.
    let mut stack: Vec<String> = reasons.keys().cloned().collect();
    while let Some(id) = stack.pop() {
        let Some(b) = by_id.get(id.as_str()) else {
            continue;
        };
        if let Some(p) = &b.parent {
            if by_id.contains_key(p.as_str()) && !reasons.contains_key(p.as_str()) {
                keep(
                    p,
                    format!("the parent of kept backup {}", b.id),
                    &mut reasons,
                );
                stack.push(p.clone());
            }
        }
    }

    let decisions: Vec<Decision> = backups
        .iter()
        .map(|b| match reasons.get(b.id.as_str()) {
            Some(r) => Decision {
                id: b.id.clone(),
                level: b.level,
                keep: true,
                reason: r.clone(),
            },
            None => Decision {
                id: b.id.clone(),
                level: b.level,
                keep: false,
                reason: if b.level == 0 {
                    "a full backup outside what the policy keeps".into()
                } else {
                    "an incremental whose chain is not kept".into()
                },
            },
        })
        .collect();

    // Binlogs: before the oldest kept full's consistent point may go. A file goes only when its
    // last event is known and older than that full's start; on the full's own server and binlog
    // name, also only when it comes before the point in name order (names are compared only
    // within one base name: a renamed or reset binlog numbering says nothing about age).
    let kept: BTreeSet<&str> = decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.as_str())
        .collect();
    let oldest_full = fulls
        .iter()
        .rev()
        .find(|f| kept.contains(f.id.as_str()) && f.point_file.is_some());
    let mut gone = Vec::new();
    if let Some(f) = oldest_full {
        let point = f.point_file.as_deref().expect("filtered");
        for b in binlogs {
            let old_enough = b.last_event.is_some_and(|t| t < f.start);
            let same_series =
                b.server_id == f.server_id && file_order(&b.file).0 == file_order(point).0;
            let before = old_enough && (!same_series || file_order(&b.file) < file_order(point));
            if before {
                gone.push((b.server_id, b.file.clone()));
            }
        }
    }
    Plan {
        backups: decisions,
        binlogs: gone,
        no_policy: false,
    }
}

/// The full backup at the root of an incremental's chain, if the chain is whole.
fn root_full<'a>(b: &'a BackupMeta, by_id: &BTreeMap<&str, &'a BackupMeta>) -> Option<&'a str> {
    let mut at = b;
    for _ in 0..=by_id.len() {
        if at.level == 0 {
            return Some(at.id.as_str());
        }
        at = by_id.get(at.parent.as_deref()?)?;
    }
    None // a parent loop in a damaged catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(days_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(days_ago)
    }

    /// xorshift64*: reproducible random catalogs without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// A catalog: fulls every few days with incrementals after them; binlog files every day.
    fn catalog(rng: &mut Rng, now: DateTime<Utc>) -> (Vec<BackupMeta>, Vec<BinlogMeta>) {
        let mut backups = Vec::new();
        let mut binlogs = Vec::new();
        let days = 10 + rng.below(80) as i64;
        let mut parent: Option<String> = None;
        let mut level = 0;
        for d in (0..days).rev() {
            let file = format!("mysql-bin.{:06}", days - d);
            binlogs.push(BinlogMeta {
                server_id: 1,
                file: file.clone(),
                last_event: Some(t(d, now) + chrono::Duration::hours(23)),
            });
            if rng.below(3) == 0 {
                continue; // no backup that day
            }
            let full = parent.is_none() || rng.below(4) == 0;
            let id = format!("{:04}", days - d);
            level = if full { 0 } else { level + 1 };
            backups.push(BackupMeta {
                id: id.clone(),
                level,
                parent: if full { None } else { parent.clone() },
                start: t(d, now),
                pinned: rng.below(20) == 0,
                leased: false,
                server_id: 1,
                point_file: Some(file),
            });
            parent = Some(id);
        }
        (backups, binlogs)
    }

    /// The case purge --dry-run got wrong: keep_full = 1, two fulls each with an incremental.
    #[test]
    fn keep_full_keeps_the_incrementals_of_the_full_it_keeps() {
        let now = Utc::now();
        let b = |id: &str, level, parent: Option<&str>, days| BackupMeta {
            id: id.into(),
            level,
            parent: parent.map(str::to_string),
            start: t(days, now),
            pinned: false,
            leased: false,
            server_id: 1,
            point_file: Some("mysql-bin.000001".into()),
        };
        let backups = [
            b("f1", 0, None, 4),
            b("i1", 1, Some("f1"), 3),
            b("f2", 0, None, 2),
            b("i2", 1, Some("f2"), 1),
        ];
        let p = plan(
            now,
            Policy {
                retention: None,
                keep_full: Some(1),
            },
            &backups,
            &[],
        );
        let keep: Vec<(&str, bool)> = p.backups.iter().map(|d| (d.id.as_str(), d.keep)).collect();
        assert_eq!(
            keep,
            [("f1", false), ("i1", false), ("f2", true), ("i2", true)],
            "{p:#?}"
        );
    }

    #[test]
    fn nothing_needed_is_ever_deleted() {
        let now = Utc::now();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..500 {
            let (backups, binlogs) = catalog(&mut rng, now);
            let policy = Policy {
                retention: (rng.below(3) > 0)
                    .then(|| chrono::Duration::days(1 + rng.below(40) as i64)),
                keep_full: (rng.below(3) > 0).then(|| rng.below(5) as u32),
            };
            let p = plan(now, policy, &backups, &binlogs);
            let kept: BTreeSet<&str> = p
                .backups
                .iter()
                .filter(|d| d.keep)
                .map(|d| d.id.as_str())
                .collect();
            let ctx = format!("round {round}, policy {policy:?}");
            for b in &backups {
                // pinned, and inside the window
                if b.pinned {
                    assert!(
                        kept.contains(b.id.as_str()),
                        "{ctx}: pinned {} deleted",
                        b.id
                    );
                }
                if let Some(r) = policy.retention {
                    if b.start >= now - r {
                        assert!(
                            kept.contains(b.id.as_str()),
                            "{ctx}: {} in the window",
                            b.id
                        );
                    }
                }
                // a kept incremental's parent is kept
                if kept.contains(b.id.as_str()) {
                    if let Some(par) = &b.parent {
                        assert!(
                            kept.contains(par.as_str()),
                            "{ctx}: parent {par} of {}",
                            b.id
                        );
                    }
                }
            }
            // keep_full newest fulls, each with every incremental built on it
            if let Some(n) = policy.keep_full {
                let mut fulls: Vec<&BackupMeta> = backups.iter().filter(|b| b.level == 0).collect();
                fulls.sort_by_key(|f| std::cmp::Reverse(f.start));
                let by_id: BTreeMap<&str, &BackupMeta> =
                    backups.iter().map(|b| (b.id.as_str(), b)).collect();
                for f in fulls.iter().take(n as usize) {
                    assert!(kept.contains(f.id.as_str()), "{ctx}: newest full {}", f.id);
                    for b in backups.iter().filter(|b| b.level > 0) {
                        if root_full(b, &by_id) == Some(f.id.as_str()) {
                            assert!(
                                kept.contains(b.id.as_str()),
                                "{ctx}: incremental {} of kept full {}",
                                b.id,
                                f.id
                            );
                        }
                    }
                }
            }
            // the window's start is restorable: a kept full at or before the edge
            if let Some(r) = policy.retention {
                let edge = now - r;
                if backups.iter().any(|b| b.level == 0 && b.start < edge) {
                    assert!(
                        backups.iter().any(|b| b.level == 0
                            && b.start < edge
                            && kept.contains(b.id.as_str())),
                        "{ctx}: no base for the window's start"
                    );
                }
            }
            // binlogs needed from the oldest kept full on
            let oldest = backups
                .iter()
                .filter(|b| b.level == 0 && kept.contains(b.id.as_str()))
                .min_by_key(|b| b.start);
            for (_, f) in &p.binlogs {
                let o = oldest.expect("binlogs go only when a full is kept");
                assert!(
                    file_order(f) < file_order(o.point_file.as_deref().unwrap()),
                    "{ctx}: binlog {f} deleted, needed from {}",
                    o.id
                );
            }
        }
    }

    #[test]
    fn renamed_or_reset_binlogs_and_unknown_times_are_kept() {
        let now = Utc::now();
        let full = BackupMeta {
            id: "f".into(),
            level: 0,
            parent: None,
            start: t(1, now),
            pinned: false,
            leased: false,
            server_id: 1,
            point_file: Some("mysql-bin.000450".into()),
        };
        let after = Some(now);
        let binlogs = vec![
            // a new base name after the full: needed, though "binlog" < "mysql-bin"
            BinlogMeta {
                server_id: 1,
                file: "binlog.000002".into(),
                last_event: after,
            },
            // numbering restarted by RESET MASTER after the full: needed
            BinlogMeta {
                server_id: 1,
                file: "mysql-bin.000001".into(),
                last_event: after,
            },
            // no known time: kept
            BinlogMeta {
                server_id: 1,
                file: "mysql-bin.000100".into(),
                last_event: None,
            },
            // old, before the point: goes
            BinlogMeta {
                server_id: 1,
                file: "mysql-bin.000300".into(),
                last_event: Some(t(30, now)),
            },
        ];
        let policy = Policy {
            retention: None,
            keep_full: Some(1),
        };
        let p = plan(now, policy, &[full], &binlogs);
        assert_eq!(p.binlogs, vec![(1, "mysql-bin.000300".to_string())]);
    }

    #[test]
    fn no_policy_keeps_everything() {
        let now = Utc::now();
        let mut rng = Rng(7);
        let (backups, binlogs) = catalog(&mut rng, now);
        let p = plan(now, Policy::default(), &backups, &binlogs);
        assert!(p.no_policy);
        assert_eq!(p.deleted_backups().count(), 0);
        assert!(p.binlogs.is_empty());
    }

    #[test]
    fn old_chains_go_whole() {
        let now = Utc::now();
        let b = |id: &str, level, parent: Option<&str>, days| BackupMeta {
            id: id.into(),
            level,
            parent: parent.map(str::to_string),
            start: t(days, now),
            pinned: false,
            leased: false,
            server_id: 1,
            point_file: Some(format!("mysql-bin.{:06}", 100 - days)),
        };
        let backups = vec![
            b("a", 0, None, 40),
            b("a1", 1, Some("a"), 39),
            b("b", 0, None, 20),
            b("b1", 1, Some("b"), 19),
            b("c", 0, None, 5),
        ];
        let binlogs: Vec<BinlogMeta> = (55..100)
            .map(|n| BinlogMeta {
                server_id: 1,
                file: format!("mysql-bin.{n:06}"),
                last_event: Some(t(100 - n, now) + chrono::Duration::hours(1)),
            })
            .collect();
        let policy = Policy {
            retention: Some(chrono::Duration::days(10)),
            keep_full: None,
        };
        let p = plan(now, policy, &backups, &binlogs);
        let gone: Vec<&str> = p.deleted_backups().map(|d| d.id.as_str()).collect();
        // b is the base of the window's first days and stays; b1, before the window, may go
        // (its binlogs stay in the archive); a and a1 go together.
        assert_eq!(gone, vec!["a", "a1", "b1"], "{p:#?}");
        // binlogs before b's point (mysql-bin.000080) go
        assert!(p
            .binlogs
            .iter()
            .all(|(_, f)| file_order(f) < file_order("mysql-bin.000080")));
        assert_eq!(p.binlogs.len(), 80 - 55);
    }
}
