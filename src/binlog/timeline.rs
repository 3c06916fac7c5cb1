//! A set's timeline across servers: after a failover the set's binlog archive holds the old
//! primary's files (`binlogs/<old server_id>/`) and the new primary's
//! (`binlogs/<new server_id>/`). This module joins them by GTID continuity, never by file
//! name: a later server's archive continues an earlier one at the file whose starting GTID
//! state (MySQL `Previous_gtids`, MariaDB `Gtid_list`) is contained in what the earlier
//! archive applied, from its first transaction that was not applied yet. Transactions both
//! servers logged (a replica logs what it replicates) are applied once.
//!
//! It never joins what it cannot prove: a later server whose archive starts after a
//! transaction the earlier archive lacks (a gap), or that never had the earlier archive's
//! last transaction (the histories diverged), or that logs an already applied transaction
//! after a new one, is refused with the GTIDs named.

use std::ops::ControlFlow;

use super::archive_index::{self as idx, BinlogIndex};
use super::find::gtid_of;
use super::reader::BinlogReader;
use super::scan::{ScanOptions, Scanner};
use super::sources::Input;
use crate::error::Result;
use crate::mysql::gtid::GtidState;
use crate::repo::Repository;

/// How a later server's archive continues what was applied.
#[derive(Debug, Clone)]
pub enum Join {
    /// It holds no transaction that was not applied.
    NothingNew,
    /// Its file `files[k]` holds the first transaction not applied, at byte `start`; every
    /// transaction from there on is new.
    At { k: usize, start: u64 },
    /// It cannot continue: why, with the GTIDs named.
    Refused(String),
}

/// The name a later server's file has in a plan spanning servers (`mysql-bin.000002@102`):
/// two servers' files often share names, and `@` is never in a binlog name.
pub fn qualified_name(file: &str, server_id: u32) -> String {
    format!("{file}@{server_id}")
}

/// The GTID state a file starts with and the one at the end of what is archived of it.
fn states(i: &BinlogIndex, like: &GtidState) -> (Option<GtidState>, Option<GtidState>) {
    let parse = |t: Option<&str>| t.and_then(|t| like.parse_like(t).ok());
    let start = parse(i.gtid_state_at_start.as_deref());
    let end = parse(i.gtid_state_at_end.as_deref()).or_else(|| start.clone());
    (start, end)
}

/// The GTID state at the end of a server's archive (`files`, in order).
pub fn end_state(files: &[BinlogIndex], like: &GtidState) -> Option<GtidState> {
    files.iter().rev().find_map(|i| states(i, like).1)
}

/// Where server `server_id`'s archive (`files`, in file order, the whole chain) continues
/// after `applied` (the GTID state the earlier part of the timeline reaches).
pub fn join(
    repo: &Repository,
    set: &str,
    server_id: u32,
    files: &[BinlogIndex],
    applied: &GtidState,
) -> Result<Join> {
    let refuse = |why: String| Ok(Join::Refused(format!("server {server_id}: {why}")));
    if applied.is_empty() {
        return refuse(
            "the earlier archive records no GTID state, so continuity cannot be proven by GTIDs"
                .into(),
        );
    }
    let Some(last_end) = end_state(files, applied) else {
        return Ok(Join::NothingNew);
    };
    if last_end.is_subset(applied) {
        return Ok(Join::NothingNew);
    }
    // The last file that starts with nothing the earlier archive lacks.
    let Some(k) = files
        .iter()
        .rposition(|i| states(i, applied).0.is_some_and(|s| s.is_subset(applied)))
    else {
        let first = &files[0];
        let missing = states(first, applied)
            .0
            .map(|s| s.beyond(applied).to_string())
            .unwrap_or_else(|| "an unknown GTID state".into());
        return refuse(format!(
            "its archive starts at {} after transactions {missing}, which neither its archive \
             nor the earlier one holds: a gap in the set's timeline",
            first.file
        ));
    };
    let file = &files[k];
    let mut seen = states(file, applied)
        .0
        .unwrap_or_else(|| applied.empty_like());
    let mut reader = BinlogReader::new(
        Input::archived(set, file).open(Some(repo))?,
        file.file.clone(),
    )?;
    let mut trx: Option<(u64, Option<crate::mysql::gtid::AnyGtid>)> = None;
    let mut first_new: Option<u64> = None;
    let mut problem: Option<String> = None;
    let end = file.replay_end();
    Scanner::new(ScanOptions {
        skip_annotations: true,
        ..Default::default()
    })
    .scan(&mut reader, &mut |e| {
        if e.end_pos > end {
            return ControlFlow::Break(());
        }
        if e.trx_start {
            trx = Some((e.pos, gtid_of(&e)));
        }
        if e.trx_end {
            let (pos, g) = trx.take().unwrap_or((e.pos, gtid_of(&e)));
            let Some(g) = g else {
                problem = Some(format!(
                    "the transaction at {}:{pos} has no GTID, so continuity cannot be proven",
                    file.file
                ));
                return ControlFlow::Break(());
            };
            match (first_new, applied.contains(&g)) {
                (None, true) => seen.insert(&g),
                (None, false) => first_new = Some(pos),
                (Some(at), true) => {
                    problem = Some(format!(
                        "its transaction {g} at {}:{pos}, already applied from the earlier \
                         archive, comes after a new one at {}:{at}: replaying in order would \
                         apply it twice",
                        file.file, file.file
                    ));
                    return ControlFlow::Break(());
                }
                (Some(_), false) => {}
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Some(p) = problem {
        return refuse(p);
    }
    // It must have had the earlier archive's last transaction: else the histories diverged.
    if seen != *applied {
        return refuse(format!(
            "the earlier archive ends with {applied}, which its binlogs never reach (they \
             hold {seen} before their first new transaction): the histories diverged (the old \
             primary's last transactions never reached it)"
        ));
    }
    // Every later file holds only new transactions.
    for later in &files[k + 1..] {
        match states(later, applied).0 {
            Some(s) if applied.is_subset(&s) => {}
            _ => {
                return refuse(format!(
                    "{} does not start after every applied transaction ({applied}), so \
                     continuity cannot be proven",
                    later.file
                ))
            }
        }
    }
    let start = match first_new {
        Some(p) => p,
        // Nothing new in that file: the next one starts the continuation.
        None if k + 1 < files.len() => return Ok(Join::At { k: k + 1, start: 4 }),
        None => return Ok(Join::NothingNew),
    };
    Ok(Join::At { k, start })
}

/// One server's part of a set's timeline: its files from `start` in `files[0]` on.
#[derive(Debug, Clone)]
pub struct Segment {
    pub server_id: u32,
    pub files: Vec<BinlogIndex>,
    pub start: u64,
}

/// What follows a server's archive in the set's timeline: later servers' segments, in order,
/// and, when the timeline cannot be followed further, why (a gap or a divergence, named).
#[derive(Debug, Clone, Default)]
pub struct Continuation {
    pub segments: Vec<Segment>,
    pub broken: Option<String>,
}

/// The servers of a set's archive other than `exclude`, ordered by where their archives end
/// (the newest event archived), with their files.
fn later_servers(
    repo: &Repository,
    set: &str,
    exclude: u32,
    after: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<(u32, Vec<BinlogIndex>)>> {
    let mut out = Vec::new();
    for sid in idx::servers(repo, set)? {
        if sid == exclude {
            continue;
        }
        let files = idx::load_all(repo, set, sid)?;
        let last = files.iter().filter_map(|i| i.last_event_time).max();
        if files.is_empty() || after.is_some_and(|a| last.is_none_or(|l| l < a)) {
            continue;
        }
        out.push((last, sid, files));
    }
    out.sort_by_key(|(last, sid, _)| (*last, *sid));
    Ok(out.into_iter().map(|(_, s, f)| (s, f)).collect())
}

/// The segments that continue server `server_id`'s archive, whose last applied state is
/// `applied` and whose last event is at `last_time`.
pub fn continuation(
    repo: &Repository,
    set: &str,
    server_id: u32,
    applied: Option<GtidState>,
    last_time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Continuation> {
    let mut out = Continuation::default();
    let Some(mut applied) = applied else {
        return Ok(out);
    };
    for (sid, files) in later_servers(repo, set, server_id, last_time)? {
        match join(repo, set, sid, &files, &applied)? {
            Join::NothingNew => continue,
            Join::Refused(why) => {
                out.broken = Some(why);
                break;
            }
            Join::At { k, start } => {
                let files = files[k..].to_vec();
                if let Some(g) = idx::gaps(&files).first() {
                    out.segments.push(Segment {
                        server_id: sid,
                        files,
                        start,
                    });
                    out.broken = Some(format!("server {sid}: gap: {g}"));
                    break;
                }
                if let Some(e) = end_state(&files, &applied) {
                    applied.union_with(&e);
                }
                out.segments.push(Segment {
                    server_id: sid,
                    files,
                    start,
                });
            }
        }
    }
    Ok(out)
}

/// What is wrong with a set's timeline across servers, for `check`, `report` and `verify`:
/// each server's archive, in the order the archives end, must continue the one before by
/// GTIDs. Empty when the set's archive holds one server, or the servers join.
pub fn problems(repo: &Repository, set: &str) -> Result<Vec<String>> {
    let servers = later_servers(repo, set, u32::MAX, None)?;
    let mut out = Vec::new();
    let mut applied: Option<GtidState> = None;
    for (sid, files) in servers {
        let Some(before) = applied.clone() else {
            applied = files.iter().rev().find_map(|i| {
                let text = i
                    .gtid_state_at_end
                    .as_deref()
                    .or(i.gtid_state_at_start.as_deref())?;
                GtidState::parse(text).ok().filter(|s| !s.is_empty())
            });
            continue;
        };
        let like = &before;
        match join(repo, set, sid, &files, &before)? {
            Join::Refused(why) => out.push(format!(
                "the set's timeline breaks where server {sid}'s archive continues the one \
                 before: {why}; no restore replays past it"
            )),
            Join::NothingNew | Join::At { .. } => {}
        }
        let mut next = before.clone();
        if let Some(e) = end_state(&files, like) {
            next.union_with(&e);
        }
        applied = Some(next);
    }
    Ok(out)
}
