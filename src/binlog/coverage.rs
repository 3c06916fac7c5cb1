//! How far a set's binlog archive reaches against its server's binary logs: the answer to
//! "would a restore to now miss a transaction?", for `check`, `report`, `verify` and `restore`.
//!
//! [`assess`] is pure: it compares the archive's indexes with the server's SHOW BINARY LOGS.
//! [`probe`] asks the server briefly (the source may be down; that is often why one restores)
//! and then says it could not tell. Nothing here lets a shortfall pass as ok: a file the server
//! closed that the archive lacks, a file purged before it was archived, a gap or an archive that
//! cannot be read are each named, with the fix.

use std::time::Duration;

use serde::Serialize;

use super::archive_index::{self as idx, BinlogIndex};
use crate::config::SetConfig;
use crate::repo::Repository;

/// How long [`probe`] waits for the server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Every file the server closed is archived.
    Ok,
    /// The server could not be asked: only the archive itself was judged.
    Unknown,
    /// Files the server closed are not archived (yet): a restore to now would miss them.
    Behind,
    /// Something is lost or unreadable: a restore cannot pass it.
    Broken,
}

/// One set's archive against its server.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub level: Level,
    /// Files the archive holds for the server.
    pub archived_files: usize,
    /// Where the archive ends: `file:pos`, and the time of its last event.
    pub archive_end: Option<String>,
    pub archive_end_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The binlog the server is writing, and its size.
    pub server_current: Option<String>,
    /// Files the server closed that the archive lacks or holds only in part, oldest first.
    pub unarchived: Vec<String>,
    /// The first file the archive needs that the server no longer has.
    pub lost: Option<String>,
    pub gaps: Vec<String>,
    /// Files that a server crash cut, and what that left out of them.
    pub crashed: Vec<String>,
    /// Why the server could not be asked, or the archive read.
    pub problem: Option<String>,
}

impl Coverage {
    fn new() -> Self {
        Coverage {
            level: Level::Ok,
            archived_files: 0,
            archive_end: None,
            archive_end_time: None,
            server_current: None,
            unarchived: Vec::new(),
            lost: None,
            gaps: Vec::new(),
            crashed: Vec::new(),
            problem: None,
        }
    }

    /// One line: how far the archive reaches.
    pub fn summary(&self) -> String {
        let end = match (&self.archive_end, self.archive_end_time) {
            (Some(p), Some(t)) => format!("up to {p} ({})", t.format("%Y-%m-%d %H:%M:%S UTC")),
            (Some(p), None) => format!("up to {p}"),
            _ => "nothing archived".to_string(),
        };
        format!("{} file(s) archived, {end}", self.archived_files)
    }

    /// What is wrong, said loudly with the fix; None when the archive reaches the server's
    /// current binlog.
    pub fn warning(&self, set: &str) -> Option<String> {
        let archive = format!("`zrm binlog archive --set {set}`");
        match self.level {
            Level::Ok => None,
            Level::Unknown => Some(format!(
                "cannot tell whether the binlog archive of set '{set}' is current ({}); it \
                 holds {}: transactions after that are not in it unless they were archived \
                 since",
                self.problem
                    .as_deref()
                    .unwrap_or("the server was not asked"),
                self.summary()
            )),
            Level::Behind => Some(format!(
                "the binlog archive of set '{set}' does not reach the server's current binlog \
                 {}: {} closed file(s) on the server are not archived ({}); it holds {}. A \
                 restore now would miss their transactions: run {archive}",
                self.server_current.as_deref().unwrap_or("?"),
                self.unarchived.len(),
                list(&self.unarchived),
                self.summary()
            )),
            Level::Broken => {
                let mut why = Vec::new();
                if let Some(p) = &self.problem {
                    why.push(p.clone());
                }
                if let Some(l) = &self.lost {
                    why.push(format!(
                        "{l} was removed from the server before it was archived: no restore \
                         can pass it; take a full backup to start a new chain"
                    ));
                }
                for g in &self.gaps {
                    why.push(format!("gap: {g}"));
                }
                Some(format!(
                    "the binlog archive of set '{set}' is broken: {}",
                    why.join("; ")
                ))
            }
        }
    }
}

fn list(files: &[String]) -> String {
    match files {
        [] => String::new(),
        [one] => one.clone(),
        [first, .., last] => format!("{first} … {last}"),
    }
}

/// The archive of one server (`indexes`, in file order) against that server's binary logs
/// (`server`: SHOW BINARY LOGS, oldest first, the last one being written), or against nothing
/// when the server could not be asked (`unreachable` says why).
pub fn assess(
    indexes: &[BinlogIndex],
    server: Option<&[(String, u64)]>,
    unreachable: Option<String>,
) -> Coverage {
    let mut c = Coverage::new();
    c.archived_files = indexes.len();
    if let Some(last) = indexes.last() {
        c.archive_end = Some(format!("{}:{}", last.file, last.end_pos));
        c.archive_end_time = indexes.iter().filter_map(|i| i.last_event_time).max();
    }
    c.gaps = idx::gaps(indexes).iter().map(|g| g.to_string()).collect();
    c.crashed = indexes
        .iter()
        .filter_map(|i| i.crash.as_ref().map(|k| format!("{} {k}", i.file)))
        .collect();
    let Some(server) = server.filter(|s| !s.is_empty()) else {
        c.problem = unreachable;
        c.level = if c.gaps.is_empty() {
            Level::Unknown
        } else {
            Level::Broken
        };
        return c;
    };
    let (active, _) = server.last().expect("not empty");
    c.server_current = Some(active.clone());
    let archived = |f: &str| indexes.iter().find(|i| i.file == f);
    // The first file the archive needs from the server: the one after its last complete file
    // (or the one it holds in part); with nothing archived, every closed file is needed.
    let needed = indexes.last().map(|last| {
        if last.complete {
            last.next_file
                .clone()
                .or_else(|| idx::next_name(&last.file))
                .unwrap_or_default()
        } else {
            last.file.clone()
        }
    });
    if let Some(n) = &needed {
        let first = &server[0].0;
        let on_server = server.iter().any(|(f, _)| f == n);
        if !on_server
            && idx::file_order(first).0 == idx::file_order(n).0
            && idx::file_order(first) > idx::file_order(n)
        {
            c.lost = Some(n.clone());
        }
    }
    let closed = &server[..server.len() - 1];
    c.unarchived = closed
        .iter()
        .filter(|(f, _)| {
            needed
                .as_ref()
                .is_none_or(|n| idx::file_order(f) >= idx::file_order(n))
        })
        .filter(|(f, _)| !archived(f).is_some_and(|i| i.complete))
        .map(|(f, _)| f.clone())
        .collect();
    c.level = if c.lost.is_some() || !c.gaps.is_empty() {
        Level::Broken
    } else if !c.unarchived.is_empty() {
        Level::Behind
    } else {
        Level::Ok
    };
    c
}

/// The archive a set keeps of its server, judged against the server itself when it answers
/// within a few seconds. Never fails: what could not be read is the answer's `problem`.
pub async fn probe(repo: &Repository, set: &SetConfig) -> Coverage {
    let asked = tokio::time::timeout(PROBE_TIMEOUT, async {
        let set = crate::servers::resolve(set, crate::servers::Want::Primary).await?;
        let mut s = crate::mysql::connect(&set.connection).await?;
        let facts = crate::mysql::ServerFacts::gather(&mut s).await?;
        let files = super::archive::server_binlogs(&mut s).await;
        s.close().await;
        Ok::<_, crate::error::Error>((facts.server_id, files?))
    })
    .await;
    let (server_id, server_files, unreachable) = match asked {
        Ok(Ok((id, files))) => (Some(id), Some(files), None),
        Ok(Err(e)) => (None, None, Some(format!("the server did not answer: {e}"))),
        Err(_) => (
            None,
            None,
            Some(format!(
                "the server did not answer within {}s",
                PROBE_TIMEOUT.as_secs()
            )),
        ),
    };
    // Without the server, the archive judged is the one of the newest server archived.
    let server_id = match server_id {
        Some(id) => Some(id),
        None => tokio::task::block_in_place(|| idx::servers(repo, &set.name))
            .ok()
            .and_then(|ids| ids.last().copied()),
    };
    let indexes = match server_id {
        Some(id) => tokio::task::block_in_place(|| idx::load_all(repo, &set.name, id)),
        None => Ok(Vec::new()),
    };
    let mut c = match indexes {
        Ok(indexes) => assess(&indexes, server_files.as_deref(), unreachable),
        Err(e) => {
            let mut c = assess(&[], server_files.as_deref(), unreachable);
            c.level = Level::Broken;
            c.problem = Some(format!("its indexes cannot be read: {e}"));
            c
        }
    };
    tokio::task::block_in_place(|| add_timeline(repo, &set.name, &mut c));
    c
}

/// The set's timeline across servers (after a failover) judged too: a gap or a divergence
/// between one server's archive and the next is a gap of the set's archive. Blocking.
pub fn add_timeline(repo: &Repository, set: &str, c: &mut Coverage) {
    match super::timeline::problems(repo, set) {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            c.gaps.extend(problems);
            c.level = Level::Broken;
        }
        Err(e) => {
            c.level = Level::Broken;
            c.problem = Some(format!(
                "the set's timeline across servers cannot be read: {e}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;

    fn index(file: &str, complete: bool, next: Option<&str>) -> BinlogIndex {
        let mut i: BinlogIndex = serde_json::from_value(serde_json::json!({
            "format_version": 1, "file": file, "server_id": 1, "complete": complete,
            "end_pos": 500, "sha256": null, "segments": [], "compression": Compression::Zstd,
            "events": 3, "transactions": 1, "first_event_time": null, "last_event_time": null,
            "first_gtid": null, "last_gtid": null, "gtid_state_at_start": null,
            "gtid_state_at_end": null, "next_file": next, "archived_at": "2026-12-06T00:00:00Z"
        }))
        .unwrap();
        i.complete = complete;
        i
    }

    fn server(files: &[&str]) -> Vec<(String, u64)> {
        files.iter().map(|f| (f.to_string(), 500)).collect()
    }

    #[test]
    fn an_archive_stuck_behind_the_server_is_behind_not_ok() {
        let archive = [index("b.000001", true, Some("b.000002"))];
        let c = assess(
            &archive,
            Some(&server(&["b.000001", "b.000002", "b.000003", "b.000004"])),
            None,
        );
        assert_eq!(c.level, Level::Behind);
        assert_eq!(c.unarchived, ["b.000002", "b.000003"]);
        assert!(c.warning("s").unwrap().contains("b.000002 … b.000003"));
    }

    #[test]
    fn nothing_archived_with_closed_files_on_the_server_is_behind() {
        let c = assess(&[], Some(&server(&["b.000001", "b.000002"])), None);
        assert_eq!(c.level, Level::Behind);
        assert_eq!(c.unarchived, ["b.000001"]);
    }

    #[test]
    fn an_archive_up_to_the_active_file_is_ok() {
        let archive = [
            index("b.000001", true, Some("b.000002")),
            index("b.000002", false, None),
        ];
        let c = assess(&archive, Some(&server(&["b.000001", "b.000002"])), None);
        assert_eq!(c.level, Level::Ok, "{c:?}");
        assert!(c.warning("s").is_none());
    }

    #[test]
    fn a_file_purged_before_it_was_archived_is_broken() {
        let archive = [index("b.000001", true, Some("b.000002"))];
        let c = assess(&archive, Some(&server(&["b.000003", "b.000004"])), None);
        assert_eq!(c.level, Level::Broken);
        assert_eq!(c.lost.as_deref(), Some("b.000002"));
    }

    #[test]
    fn an_unreachable_server_is_unknown_and_says_why() {
        let archive = [index("b.000001", true, Some("b.000002"))];
        let c = assess(&archive, None, Some("connection refused".into()));
        assert_eq!(c.level, Level::Unknown);
        assert!(c.warning("s").unwrap().contains("connection refused"));
    }
}
