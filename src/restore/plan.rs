//! Planning a point-in-time restore: which full backup, which archived binlogs, and exactly
//! where replay starts and stops.
//!
//! The stop point is resolved by zrm's own reader to a transaction boundary (`file:pos`), never
//! left to `--stop-datetime`. The chain from the base's consistent point to the stop point
//! must be continuous: a missing file or range is refused by name, and nothing is replayed
//! past a gap. Planning reads the archive indexes and scans only the file holding the stop
//! point, so it stays fast however long the chain; a GTID-set stop point (apply exactly a set)
//! reads from the base's point to the stop, skipping whole files whose index shows every
//! transaction in the set, and refuses a set that is not a prefix of the binlog order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::binlog::archive_index::{self as idx, BinlogIndex};
use crate::binlog::coordinates::BinlogCoordinates;
use crate::binlog::find::{gtid_of, Finder, StopPoint, Target, TrxRef};
use crate::binlog::reader::BinlogReader;
use crate::binlog::scan::{ScanOptions, Scanner};
use crate::binlog::sources::Input;
use crate::binlog::timeline;
use crate::catalog::{self, CatalogEntry, ConsistentPoint, Manifest};
use crate::error::{Error, Result};
use crate::mysql::gtid::GtidState;
use crate::repo::Repository;

/// Where to stop.
#[derive(Debug, Clone)]
pub enum Until {
    /// Everything archived.
    All,
    Time(DateTime<Utc>),
    Position(BinlogCoordinates),
    /// Stop before this one transaction (`--inclusive`: after it).
    Gtid(String),
    /// Apply exactly the transactions of this set: stop before the first one not in it, which
    /// must come after every one in it (the set a prefix of the binlog order).
    GtidSet(GtidState),
}

impl Until {
    /// `--until-gtid TEXT`: one GTID (`uuid[:tag]:n`, `d-s-n`) keeps its meaning (stop before
    /// it); a set (`uuid[:tag]:1-N,…`, or several MariaDB domains `d-s-n,d-s-n`) means "apply
    /// exactly these transactions".
    pub fn from_gtid_text(text: &str) -> Result<Until> {
        let t = text.trim();
        if crate::mysql::gtid::Gtid::parse(t).is_some()
            || crate::mysql::gtid::parse_maria_gtid(t).is_some()
        {
            return Ok(Until::Gtid(t.to_string()));
        }
        let set = GtidState::parse(t).map_err(|e| {
            Error::Usage(format!(
                "--until-gtid {t}: {e}. Write one GTID (MySQL uuid:42 or uuid:tag:42, MariaDB \
                 0-1-42) to stop before it, or a set (MySQL uuid:1-42,uuid2:1-7; MariaDB \
                 0-1-42,2-1-7) to apply exactly its transactions"
            ))
        })?;
        if set.is_empty() {
            return Err(Error::Usage(format!(
                "--until-gtid '{text}' names no transaction: write a GTID or a GTID set"
            )));
        }
        Ok(Until::GtidSet(set))
    }
}

/// One binlog to replay, from `start` to `stop` (None: to its end).
#[derive(Debug, Clone, Serialize)]
pub struct ReplayFile {
    pub file: String,
    pub start: u64,
    pub stop: Option<u64>,
    pub bytes: u64,
    #[serde(skip)]
    pub input: Input,
    /// Its archive index (to verify the stored objects before anything changes).
    #[serde(skip)]
    pub index: BinlogIndex,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub base: String,
    #[serde(skip)]
    pub base_manifest: Manifest,
    /// Incremental backups whose ranges the replay covers (for information: their binlogs
    /// are the archive's).
    pub incrementals: Vec<String>,
    pub start: Option<ConsistentPoint>,
    pub stop: Option<StopPoint>,
    pub files: Vec<ReplayFile>,
    pub bytes: u64,
    /// Transactions to replay; approximate when the first file is only partly replayed.
    pub transactions: u64,
    pub transactions_exact: bool,
    /// Why there is nothing to replay, when there is nothing.
    pub note: Option<String>,
    /// What the user must know about the replayed range (files a server crash cut).
    pub warnings: Vec<String>,
}

fn order(file: &str, pos: u64) -> ((String, u64), u64) {
    (idx::file_order(file), pos)
}

/// Where each file of the replayed chain starts, and which server's segment of the set's
/// timeline it belongs to (0: the base backup's server). Files of later servers have
/// qualified names (`FILE@SERVER_ID`, see [`timeline::qualified_name`]), so every name in a
/// chain is unique.
#[derive(Debug, Default)]
struct Chain {
    starts: std::collections::BTreeMap<String, u64>,
    segment: std::collections::BTreeMap<String, usize>,
    /// Why the timeline cannot be followed past the chain's end (a gap or a divergence).
    broken: Option<String>,
}

impl Chain {
    fn start(&self, file: &str) -> u64 {
        self.starts.get(file).copied().unwrap_or(4)
    }

    fn segment(&self, file: &str) -> usize {
        self.segment.get(file).copied().unwrap_or(0)
    }

    /// The text added to an error about a point the chain does not reach.
    fn broken_note(&self) -> String {
        self.broken
            .as_deref()
            .map(|b| format!(" (the set's timeline cannot be followed further: {b})"))
            .unwrap_or_default()
    }
}

/// The chain a restore from `base` (consistent point `cp`) replays: the base server's files
/// after `cp`, then the later servers' segments that continue it by GTIDs.
fn chain_after(
    repo: &Repository,
    set: &str,
    base: &Manifest,
    cp: &ConsistentPoint,
    mut indexes: Vec<BinlogIndex>,
) -> Result<(Vec<BinlogIndex>, Chain)> {
    let mut chain = Chain::default();
    for i in &indexes {
        let start = if i.file == cp.binlog_file {
            cp.binlog_pos
        } else {
            4
        };
        chain.starts.insert(i.file.clone(), start);
        chain.segment.insert(i.file.clone(), 0);
    }
    let like = match base.server.flavor {
        crate::manifest::Flavor::MySQL => GtidState::MySql(Default::default()),
        crate::manifest::Flavor::MariaDB => GtidState::MariaDb(Default::default()),
    };
    let applied = timeline::end_state(&indexes, &like).or_else(|| {
        cp.gtid_set
            .as_deref()
            .and_then(|t| like.parse_like(t).ok())
            .filter(|s| !s.is_empty())
    });
    let last_time = indexes.iter().filter_map(|i| i.last_event_time).max();
    let cont = timeline::continuation(repo, set, base.server.server_id, applied, last_time)?;
    chain.broken = cont.broken;
    for (n, seg) in cont.segments.into_iter().enumerate() {
        for (k, mut i) in seg.files.into_iter().enumerate() {
            i.file = timeline::qualified_name(&i.file, seg.server_id);
            i.next_file = i
                .next_file
                .map(|f| timeline::qualified_name(&f, seg.server_id));
            chain
                .starts
                .insert(i.file.clone(), if k == 0 { seg.start } else { 4 });
            chain.segment.insert(i.file.clone(), n + 1);
            indexes.push(i);
        }
    }
    Ok((indexes, chain))
}

fn input_of(set: &str, i: &BinlogIndex) -> Input {
    Input::archived(set, i)
}

/// Scan one archived file from `from`, feeding a finder.
fn scan_file(repo: &Repository, input: &Input, from: u64, finder: &mut Finder) -> Result<()> {
    let mut reader = BinlogReader::new(input.open(Some(repo))?, input.name.clone())?;
    if from > 4 {
        reader.skip_to(from)?;
    }
    let mut scanner = Scanner::new(ScanOptions::default());
    scanner.scan(&mut reader, &mut |e| finder.push(&e))?;
    Ok(())
}

/// Transactions that end in bytes `[from, to)` of an archived file (reads only that part).
pub fn transactions_in(
    repo: &Repository,
    set: &str,
    i: &BinlogIndex,
    from: u64,
    to: u64,
) -> Result<u64> {
    let mut reader = BinlogReader::new(input_of(set, i).open(Some(repo))?, i.file.clone())?;
    if from > 4 {
        reader.skip_to(from)?;
    }
    let mut n = 0;
    Scanner::new(ScanOptions {
        skip_annotations: true,
        ..Default::default()
    })
    .scan(&mut reader, &mut |e| {
        if e.end_pos > to {
            return std::ops::ControlFlow::Break(());
        }
        if e.trx_end {
            n += 1;
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(n)
}

/// What a binlog range from `start` over `files` (in order, the first holding `start`) holds:
/// its transactions and its bytes.
pub fn range_figures(
    repo: &Repository,
    set: &str,
    files: &[BinlogIndex],
    start: &ConsistentPoint,
) -> Result<(u64, u64)> {
    let (mut transactions, mut bytes) = (0, 0);
    for i in files {
        let from = if i.file == start.binlog_file {
            start.binlog_pos.max(4)
        } else {
            4
        };
        let end = i.replay_end();
        if end <= from {
            continue;
        }
        bytes += end - from;
        transactions += if from <= 4 {
            i.transactions
        } else {
            transactions_in(repo, set, i, from, end)?
        };
    }
    Ok((transactions, bytes))
}

/// The transaction that ends a file, from its index (for a point at a file's end).
fn last_of(i: &BinlogIndex) -> TrxRef {
    TrxRef {
        file: i.file.clone(),
        pos: i.tail_pos.unwrap_or(i.replay_end()).min(i.replay_end()),
        end_pos: i.replay_end(),
        gtid: i.last_gtid.clone(),
        time: i
            .last_event_time
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default(),
    }
}

/// A MariaDB `d-s-n` or MySQL `uuid:n` GTID as (stream, number), to place it in a file range.
fn gtid_key(g: &str) -> Option<(String, u64)> {
    if let Some((uuid, n)) = g.rsplit_once(':') {
        return Some((uuid.to_string(), n.parse().ok()?));
    }
    let mut parts = g.splitn(3, '-');
    let (d, s, n) = (parts.next()?, parts.next()?, parts.next()?);
    Some((format!("{d}-{s}"), n.parse().ok()?))
}

/// The zone of times given without an offset for a set: the source server's, as its latest
/// full backup recorded it (a UTC offset), else UTC. Used by restore, find and analyze alike.
pub fn source_zone(repo: &Repository, set: &str) -> chrono::FixedOffset {
    let zone = catalog::latest_full(repo, set)
        .ok()
        .flatten()
        .and_then(|m| m.server.session_time_zone);
    zone.as_deref()
        .and_then(|z| {
            chrono::DateTime::parse_from_str(
                &format!("2000-01-01 00:00:00 {z}"),
                "%Y-%m-%d %H:%M:%S %:z",
            )
            .ok()
        })
        .map(|d| *d.offset())
        .unwrap_or_else(crate::timeparse::utc)
}

/// A time as the user wrote it (`--until-time`), in the set's source zone unless it carries an
/// offset.
pub fn time_in_source_zone(
    config: &crate::config::ConfigFile,
    set: &str,
    text: &str,
) -> Result<DateTime<Utc>> {
    let repo = Repository::open(config, false)?;
    crate::timeparse::parse_time(text, source_zone(&repo, set))
}

/// The latest commit time of the transactions before `cp` in its (archived) file: what a
/// backup's data reaches in time.
fn last_commit_before(
    repo: &Repository,
    set: &str,
    i: &BinlogIndex,
    cp: &ConsistentPoint,
) -> Result<Option<i64>> {
    let mut reader = BinlogReader::new(input_of(set, i).open(Some(repo))?, i.file.clone())?;
    let mut scanner = Scanner::new(ScanOptions {
        skip_annotations: true,
        ..Default::default()
    });
    let mut latest = None;
    scanner.scan(&mut reader, &mut |e| {
        if e.pos >= cp.binlog_pos {
            return std::ops::ControlFlow::Break(());
        }
        if e.trx_end {
            latest = Some(latest.unwrap_or(0i64).max(i64::from(e.timestamp)));
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(latest)
}

/// The full backups of a set, newest first (or the one asked for).
fn candidate_bases(repo: &Repository, set: &str, backup: Option<&str>) -> Result<Vec<Manifest>> {
    if let Some(id) = backup {
        let m = catalog::find_backup(repo, set, id)?;
        if m.level != 0 {
            return Err(Error::Restore(format!(
                "backup {id} is a level {} incremental: name its full backup ({}) with --backup, \
                 or leave --backup out",
                m.level,
                m.parent_id.as_deref().unwrap_or("?")
            )));
        }
        return Ok(vec![m]);
    }
    let fulls: Vec<Manifest> = catalog::list_set(repo, set)?
        .into_iter()
        .rev()
        .filter_map(|e| match e {
            CatalogEntry::Complete(m) if m.level == 0 => Some(*m),
            _ => None,
        })
        .collect();
    if fulls.is_empty() {
        return Err(Error::Restore(format!(
            "set '{set}' has no complete full backup in {}: take one with `zrm backup --set {set}`",
            repo.describe()
        )));
    }
    Ok(fulls)
}

pub fn plan(
    repo: &Repository,
    set: &str,
    until: &Until,
    inclusive: bool,
    backup: Option<&str>,
) -> Result<Plan> {
    let bases = candidate_bases(repo, set, backup)?;
    let mut too_new = Vec::new();
    for base in bases {
        let until = &own_server_position(until, base.server.server_id);
        let Some(cp) = base.consistent_point.clone() else {
            if matches!(until, Until::All) {
                return Ok(base_only(base, "the backup has no consistent point (binary logging was off): it is restored alone"));
            }
            too_new.push(format!("{} has no consistent point", base.id));
            continue;
        };
        if let Some(why) = target_before(&base, &cp, until) {
            too_new.push(format!("{} ({why})", base.id));
            continue;
        }
        let indexes: Vec<BinlogIndex> = idx::load_all(repo, set, base.server.server_id)?
            .into_iter()
            .filter(|i| {
                order(&i.file, i.end_pos) > order(&cp.binlog_file, cp.binlog_pos)
                    || i.file == cp.binlog_file
            })
            .collect();
        let base_files = indexes.len();
        if base_files > 0 && indexes[0].file != cp.binlog_file {
            return Err(Error::Restore(format!(
                "{} (where backup {}'s consistent point is) is not in the binlog archive of set \
                 '{set}': archive the binlogs (`zrm binlog archive --set {set}`), or restore the \
                 backup alone with --no-binlogs",
                cp.binlog_file, base.id
            )));
        }
        let (indexes, chain) = chain_after(repo, set, &base, &cp, indexes)?;
        if indexes.is_empty() {
            if let Some(b) = &chain.broken {
                return Err(Error::Restore(format!(
                    "nothing of set '{set}' is archived after backup {}'s consistent point on \
                     its server, and the set's timeline cannot be followed to another server: \
                     {b}; nothing was restored",
                    base.id
                )));
            }
            if matches!(until, Until::All) {
                return Ok(base_only(
                    base,
                    "no binlog after the backup's consistent point is archived: the backup is restored alone",
                ));
            }
            return Err(Error::Restore(format!(
                "{} (where backup {}'s consistent point is) is not in the binlog archive of set \
                 '{set}': archive the binlogs (`zrm binlog archive --set {set}`), or restore the \
                 backup alone with --no-binlogs",
                cp.binlog_file, base.id
            )));
        }
        // A time while the backup was running: its snapshot may hold transactions committed
        // after T (the consistent point is taken after the start): check exactly.
        if let Until::Time(t) = until {
            if t.timestamp() < base.end_time.timestamp() {
                if let Some(cp_file) = indexes.iter().find(|i| i.file == cp.binlog_file) {
                    if let Some(latest) = last_commit_before(repo, set, cp_file, &cp)? {
                        if latest > t.timestamp() {
                            too_new.push(format!(
                                "{} (its snapshot holds transactions committed after the target time)",
                                base.id
                            ));
                            continue;
                        }
                    }
                }
            }
        }
        let stop = resolve_stop(repo, set, &cp, &indexes, &chain, until, inclusive)?;
        // Everything archived: not while the timeline goes on past a gap. (A named point
        // that was found is before the gap; one past the archive's end was refused above.)
        if let (Some(b), Until::All) = (&chain.broken, until) {
            return Err(Error::Restore(format!(
                "the set's binlog timeline after {}:{} cannot be followed: {b}; nothing was \
                 restored. Restore to a point before it (--until-time, --until-gtid, \
                 --until-position), or from a full backup taken after it",
                stop.0.file, stop.0.pos
            )));
        }
        if chain.segment(&stop.0.file) == 0
            && order(&stop.0.file, stop.0.pos) < order(&cp.binlog_file, cp.binlog_pos)
        {
            too_new.push(format!(
                "{} (consistent point {}:{})",
                base.id, cp.binlog_file, cp.binlog_pos
            ));
            continue;
        }
        let (stop, scanned) = stop;
        return build(repo, set, base, cp, stop, scanned, indexes, &chain);
    }
    Err(Error::Restore(format!(
        "no full backup of set '{set}' is older than the target point: {}",
        too_new.join("; ")
    )))
}

/// `--no-binlogs`: the newest full backup (or the one named), alone.
pub fn base_only_plan(repo: &Repository, set: &str, backup: Option<&str>) -> Result<Plan> {
    let base = candidate_bases(repo, set, backup)?.remove(0);
    Ok(base_only(base, "--no-binlogs"))
}

/// `FILE@SERVER_ID` of the base backup's own server is its plain `FILE` (a point found by
/// scanning a set's whole timeline names every server's files so).
fn own_server_position(until: &Until, server_id: u32) -> Until {
    match until {
        Until::Position(BinlogCoordinates { file, pos }) => {
            match file.strip_suffix(&format!("@{server_id}")) {
                Some(plain) => Until::Position(BinlogCoordinates::new(plain.to_string(), *pos)),
                None => until.clone(),
            }
        }
        _ => until.clone(),
    }
}

/// Why the target point lies before a full backup's consistent point (so an older base is
/// needed), if it does.
fn target_before(base: &Manifest, cp: &ConsistentPoint, until: &Until) -> Option<String> {
    match until {
        Until::All => None,
        // A file of a later server in the set's timeline (`FILE@SERVER_ID`) comes after it.
        Until::Position(BinlogCoordinates { file, .. }) if file.contains('@') => None,
        Until::Position(BinlogCoordinates { file, pos }) => {
            (order(file, *pos) < order(&cp.binlog_file, cp.binlog_pos)).then(|| {
                format!(
                    "its consistent point {}:{} is after {file}:{pos}",
                    cp.binlog_file, cp.binlog_pos
                )
            })
        }
        // The snapshot is taken after the backup starts: a time before the start is before it.
        // Binlog times have whole seconds: compare at that granularity.
        Until::Time(t) => (t.timestamp() < base.start_time.timestamp()).then(|| {
            format!(
                "it was taken at {}, after the target time",
                base.start_time.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }),
        Until::Gtid(g) => {
            // MySQL: the backup's GTID set contains the GTID.
            let mysql_set = cp
                .gtid_set
                .as_deref()
                .and_then(|s| crate::mysql::gtid::GtidSet::parse(s).ok());
            if let (Some(one), Some(set)) = (crate::mysql::gtid::Gtid::parse(g), mysql_set) {
                return set
                    .contains(&one)
                    .then(|| format!("it already holds GTID {g}"));
            }
            let (stream, n) = gtid_key(g)?;
            // MariaDB GTID state: one d-s-n per domain/server.
            let covered = cp
                .gtid_set
                .as_deref()?
                .split(',')
                .filter_map(|x| gtid_key(x.trim()))
                .any(|(s, m)| s == stream && m >= n);
            covered.then(|| format!("it already holds GTID {g}"))
        }
        Until::GtidSet(want) => {
            let text = cp.gtid_set.as_deref().unwrap_or_default();
            match want.parse_like(text) {
                Ok(state) if state.is_subset(want) => None,
                Ok(state) => Some(format!(
                    "its GTID state is not contained in the set: it also holds {}",
                    state.beyond(want)
                )),
                Err(_) => Some(format!(
                    "its GTID state '{text}' is not a {} GTID set",
                    want.flavor_name()
                )),
            }
        }
    }
}

fn base_only(base: Manifest, why: &str) -> Plan {
    Plan {
        base: base.id.clone(),
        base_manifest: base,
        incrementals: Vec::new(),
        start: None,
        stop: None,
        files: Vec::new(),
        bytes: 0,
        transactions: 0,
        transactions_exact: true,
        note: Some(why.to_string()),
        warnings: Vec::new(),
    }
}

/// Resolve the stop point in the archive after `cp`. Scans only the file that holds it, and
/// returns with the point how many transactions of that file's replayed part are applied.
#[allow(clippy::too_many_arguments)]
fn resolve_stop(
    repo: &Repository,
    set: &str,
    cp: &ConsistentPoint,
    indexes: &[BinlogIndex],
    chain: &Chain,
    until: &Until,
    inclusive: bool,
) -> Result<(StopPoint, u64)> {
    let from = |i: &BinlogIndex| chain.start(&i.file);
    let (pick, target) = match until {
        Until::GtidSet(want) => return resolve_set_stop(repo, set, cp, indexes, chain, want),
        Until::All => (indexes.len() - 1, Target::End),
        Until::Time(t) => {
            let ts = t.timestamp();
            // The first file with a transaction after T holds the point.
            let k = indexes
                .iter()
                .position(|i| i.last_event_time.is_some_and(|l| l.timestamp() > ts))
                .unwrap_or(indexes.len() - 1);
            (k, Target::Time(ts))
        }
        Until::Position(BinlogCoordinates { file, pos }) => {
            let k = indexes
                .iter()
                .position(|i| i.file == *file)
                .ok_or_else(|| {
                    Error::Restore(format!(
                        "{file} is not in the binlog archive after the base backup's consistent \
                     point ({}:{}){}",
                        cp.binlog_file,
                        cp.binlog_pos,
                        chain.broken_note()
                    ))
                })?;
            if *pos > indexes[k].end_pos {
                return Err(Error::Restore(format!(
                    "{file}:{pos} is beyond what the archive holds of {file} (up to {})",
                    indexes[k].end_pos
                )));
            }
            (
                k,
                Target::Position {
                    file: file.clone(),
                    pos: *pos,
                },
            )
        }
        Until::Gtid(g) => {
            let key = gtid_key(g).ok_or_else(|| {
                Error::Usage(format!(
                    "--until-gtid {g}: write a MariaDB GTID (0-1-42) or a MySQL one (uuid:42)"
                ))
            })?;
            let inside = |i: &BinlogIndex| {
                // MySQL: in the executed set at the file's end and not in its Previous_gtids
                // (a file may hold several streams: sources, tags).
                if let (Some(one), Some(end)) = (
                    crate::mysql::gtid::Gtid::parse(g),
                    i.gtid_state_at_end
                        .as_deref()
                        .and_then(|t| crate::mysql::gtid::GtidSet::parse(t).ok()),
                ) {
                    let before = i
                        .gtid_state_at_start
                        .as_deref()
                        .and_then(|t| crate::mysql::gtid::GtidSet::parse(t).ok())
                        .unwrap_or_default();
                    return end.contains(&one) && !before.contains(&one);
                }
                // MariaDB: sequence numbers grow within a domain, whichever server wrote them
                // (a file of a new primary holds the old one's transactions, then its own).
                let maria = crate::mysql::gtid::parse_maria_gtid;
                if let (Some(one), Some(a), Some(b)) = (
                    maria(g),
                    i.first_gtid.as_deref().and_then(maria),
                    i.last_gtid.as_deref().and_then(maria),
                ) {
                    return a.0 == one.0 && b.0 == one.0 && a.2 <= one.2 && one.2 <= b.2;
                }
                let a = i.first_gtid.as_deref().and_then(gtid_key);
                let b = i.last_gtid.as_deref().and_then(gtid_key);
                matches!((a, b), (Some(a), Some(b)) if a.0 == key.0 && b.0 == key.0 && a.1 <= key.1 && key.1 <= b.1)
            };
            let k = indexes.iter().position(inside).ok_or_else(|| {
                Error::Restore(format!(
                    "no archived binlog after the base backup holds GTID {g}{}",
                    chain.broken_note()
                ))
            })?;
            (k, Target::Gtid(g.clone()))
        }
    };
    let file = &indexes[pick];
    let mut finder = Finder::with_inclusive(target.clone(), inclusive);
    scan_file(repo, &input_of(set, file), from(file), &mut finder)?;
    if let Some(e) = finder.error.take() {
        return Err(Error::Restore(e));
    }
    let applied = finder.applied;
    if let Until::Time(t) = until {
        let archive_end = indexes.iter().filter_map(|i| i.last_event_time).max();
        let found_later = finder
            .found
            .as_ref()
            .is_some_and(|p| p.first_excluded.is_some());
        if !found_later && archive_end.is_some_and(|end| end < *t) {
            let last = indexes.last().expect("not empty");
            return Err(Error::Restore(format!(
                "the archive ends at {} ({}:{}), before {}{}: the binlogs up to that time are not \
                 archived, so zrm cannot know what happened in between. Archive them (`zrm \
                 binlog archive --set {set}`), or restore to the end of the archive by leaving \
                 --until-time out",
                archive_end
                    .expect("checked")
                    .format("%Y-%m-%d %H:%M:%S UTC"),
                last.file,
                last.end_pos,
                t.format("%Y-%m-%d %H:%M:%S UTC"),
                chain.broken_note()
            )));
        }
    }
    let mut stop = match finder.finish() {
        Some(p) => p,
        // No transaction completed in the scanned part: the point is where it starts.
        None => StopPoint {
            file: file.file.clone(),
            pos: from(file),
            gtid: None,
            time: None,
            last_applied: None,
            first_excluded: None,
            matched: None,
            gtid_set: None,
            gtid_set_inclusive: None,
        },
    };
    if stop.last_applied.is_none() && pick > 0 {
        let prev = last_of(&indexes[pick - 1]);
        stop.time = Some(prev.time.clone());
        stop.last_applied = Some(prev);
    }
    if let Until::Gtid(g) = until {
        let named = stop.first_excluded.as_ref().and_then(|t| t.gtid.as_deref())
            == Some(g.as_str())
            || stop.last_applied.as_ref().and_then(|t| t.gtid.as_deref()) == Some(g.as_str());
        if !named {
            return Err(Error::Restore(format!("GTID {g} is not in {}", file.file)));
        }
    }
    Ok((stop, applied))
}

/// The stop point of a GTID set: before the first transaction after `cp` that is not in
/// `want`. Refused, before anything changes, when the set is not a prefix of the binlog order
/// (a transaction outside it comes before one inside it) or holds transactions the archive
/// does not have. Reads the files from the base's point to the stop point, except whole files
/// whose index shows every transaction in the set.
fn resolve_set_stop(
    repo: &Repository,
    set: &str,
    cp: &ConsistentPoint,
    indexes: &[BinlogIndex],
    chain: &Chain,
    want: &GtidState,
) -> Result<(StopPoint, u64)> {
    let from = |i: &BinlogIndex| chain.start(&i.file);
    let base = want
        .parse_like(cp.gtid_set.as_deref().unwrap_or_default())
        .unwrap_or_else(|_| want.empty_like());
    let mut finder = Finder::new(Target::InSet(std::sync::Arc::new(want.clone())));
    finder.track_gtids(Some(base));
    let mut stop_file_applied = 0;
    let mut stop_k = indexes.len() - 1;
    for (k, i) in indexes.iter().enumerate() {
        if k + 1 < indexes.len() && from(i) <= 4 && whole_file_in(i, want) {
            let state = i.gtid_state_at_end.as_deref().map(|t| want.parse_like(t));
            finder.skip_file(
                last_of(i),
                i.transactions,
                state.and_then(|s| s.ok()).as_ref(),
            );
            continue;
        }
        let before = finder.applied;
        scan_file(repo, &input_of(set, i), from(i), &mut finder)?;
        if finder.found.is_some() {
            stop_file_applied = finder.applied - before;
            stop_k = k;
            break;
        }
        stop_file_applied = finder.applied - before;
    }
    let executed = finder
        .executed()
        .cloned()
        .unwrap_or_else(|| want.empty_like());
    let stop = finder.finish().unwrap_or_else(|| StopPoint {
        file: indexes[stop_k].file.clone(),
        pos: from(&indexes[stop_k]),
        gtid: None,
        time: None,
        last_applied: None,
        first_excluded: None,
        matched: None,
        gtid_set: Some(executed.clone()),
        gtid_set_inclusive: None,
    });
    let missing = want.beyond(&executed);
    if missing.is_empty() {
        return Ok((stop, stop_file_applied));
    }
    // Not every transaction of the set comes before the stop: find where the first one is.
    let Some(x) = stop.first_excluded.clone() else {
        return Err(Error::Restore(format!(
            "--until-gtid {want}: the archive after the base backup's consistent point ({}:{}) ends at \
             {}:{} without {missing}, which the set holds{}: nothing was restored. Archive the \
             binlogs (`zrm binlog archive --set {set}`), or leave those transactions out of \
             the set",
            cp.binlog_file, cp.binlog_pos, stop.file, stop.pos, chain.broken_note()
        )));
    };
    let after = first_in_set_after(repo, set, &indexes[stop_k..], &x, want)?;
    let x_name = format!(
        "{}:{}{}",
        x.file,
        x.pos,
        x.gtid
            .as_deref()
            .map(|g| format!(" (GTID {g})"))
            .unwrap_or_else(|| " (no GTID)".into())
    );
    Err(Error::Restore(match after {
        Some(y) => format!(
            "--until-gtid {want} is not a prefix of the binlog order: the transaction at \
             {x_name} is not in the set but comes before {}:{}{}, which is; zrm replays the \
             binlogs in order and never skips a transaction, so nothing was restored. Restore \
             to just before it with --until-position {}:{} (the set {} there), or add it to \
             the set",
            y.file,
            y.pos,
            y.gtid
                .as_deref()
                .map(|g| format!(" (GTID {g})"))
                .unwrap_or_default(),
            x.file,
            x.pos,
            stop.gtid_set
                .as_ref()
                .map(|s| format!("is {s}"))
                .unwrap_or_else(|| "ends".into()),
        ),
        None => format!(
            "--until-gtid {want}: the archive after the base backup has no transaction {missing} \
             of the set (the first transaction outside the set is at {x_name}): nothing was \
             restored. Archive the binlogs (`zrm binlog archive --set {set}`), or leave those \
             transactions out of the set"
        ),
    }))
}

/// Every transaction of a complete file is in `want`, by its index: the executed state at its
/// end is in the set and (MySQL) every one of its transactions has a GTID of its own.
fn whole_file_in(i: &BinlogIndex, want: &GtidState) -> bool {
    let parse = |t: Option<&str>| t.and_then(|t| want.parse_like(t).ok());
    let (Some(end), start) = (
        parse(i.gtid_state_at_end.as_deref()),
        parse(i.gtid_state_at_start.as_deref()),
    ) else {
        return false;
    };
    if !i.complete || i.crash.is_some() || !end.is_subset(want) {
        return false;
    }
    match (&end, start) {
        (GtidState::MySql(e), Some(GtidState::MySql(s))) => {
            e.difference(&s).count() == i.transactions
        }
        (GtidState::MariaDb(_), _) => true,
        _ => false,
    }
}

/// The first transaction in `want` after transaction `x` (in `files`, the first holding `x`).
fn first_in_set_after(
    repo: &Repository,
    set: &str,
    files: &[BinlogIndex],
    x: &TrxRef,
    want: &GtidState,
) -> Result<Option<TrxRef>> {
    for (k, i) in files.iter().enumerate() {
        let from = if k == 0 { x.end_pos } else { 4 };
        let mut found: Option<TrxRef> = None;
        let mut reader = BinlogReader::new(input_of(set, i).open(Some(repo))?, i.file.clone())?;
        if from > 4 {
            reader.skip_to(from)?;
        }
        let mut start: Option<(u64, Option<crate::mysql::gtid::AnyGtid>)> = None;
        Scanner::new(ScanOptions {
            skip_annotations: true,
            ..Default::default()
        })
        .scan(&mut reader, &mut |e| {
            if e.trx_start {
                start = Some((e.pos, gtid_of(&e)));
            }
            if e.trx_end {
                let (pos, g) = start.take().unwrap_or((e.pos, gtid_of(&e)));
                if g.as_ref().is_some_and(|g| want.contains(g)) {
                    found = Some(TrxRef {
                        file: i.file.clone(),
                        pos,
                        end_pos: e.end_pos,
                        gtid: g.map(|g| g.to_string()),
                        time: String::new(),
                    });
                    return std::ops::ControlFlow::Break(());
                }
            }
            std::ops::ControlFlow::Continue(())
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn build(
    repo: &Repository,
    set: &str,
    base: Manifest,
    cp: ConsistentPoint,
    stop: StopPoint,
    stop_file_applied: u64,
    indexes: Vec<BinlogIndex>,
    chain: &Chain,
) -> Result<Plan> {
    let stop_key = order(&stop.file, stop.pos);
    let stop_segment = chain.segment(&stop.file);
    let upto = indexes
        .iter()
        .position(|i| i.file == stop.file)
        .map_or(indexes.len(), |k| k + 1);
    let range: Vec<&BinlogIndex> = indexes[..upto].iter().collect();
    // Within the base server's files the chain is checked by name here; a later server's
    // segment was checked when the timeline was joined.
    let owned: Vec<BinlogIndex> = range
        .iter()
        .filter(|i| chain.segment(&i.file) == 0)
        .map(|i| (*i).clone())
        .collect();
    if let Some(g) = idx::gaps(&owned).first() {
        return Err(Error::Restore(format!(
            "the binlog chain from backup {} to {}:{} is broken: {g}; nothing was restored. \
             Restore to a point before the gap, or from a full backup taken after it",
            base.id, stop.file, stop.pos
        )));
    }
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut transactions = 0;
    for (k, i) in range.iter().enumerate() {
        let start = chain.start(&i.file);
        // A file a crash cut ends, for a replay, before the transaction it never finished.
        let end = if i.file == stop.file {
            stop.pos
        } else {
            i.replay_end()
        };
        if end <= start {
            continue;
        }
        // The last file of a server's segment may be archived in part (the server failed
        // while it was followed): the next server continues from its last transaction.
        let same_server_next = range
            .get(k + 1)
            .is_some_and(|n| chain.segment(&n.file) == chain.segment(&i.file));
        if i.file != stop.file && !i.complete && same_server_next {
            return Err(Error::Restore(format!(
                "{} is archived only up to {} but the chain continues after it: run `zrm binlog \
                 archive --set {set}`",
                i.file, i.end_pos
            )));
        }
        // Whole files: the index's count; the stop file: counted by the scan that found the
        // point; a partly replayed first file: counted by reading that part.
        if i.file == stop.file {
            transactions += stop_file_applied;
        } else if start <= 4 && end == i.replay_end() {
            transactions += i.transactions;
        } else {
            transactions += transactions_in(repo, set, i, start, end)?;
        }
        if let Some(c) = &i.crash {
            notes.push(format!("binlog {} {c}", i.file));
        }
        files.push(ReplayFile {
            file: i.file.clone(),
            start,
            stop: (end < i.end_pos).then_some(end),
            bytes: end - start,
            input: input_of(set, i),
            index: (*i).clone(),
        });
    }
    let incrementals = catalog::list_set(repo, set)?
        .into_iter()
        .filter_map(|e| match e {
            CatalogEntry::Complete(m) if m.level > 0 => Some(*m),
            _ => None,
        })
        .filter(|m| {
            m.binlog_range.as_ref().is_some_and(|r| {
                order(&r.start.binlog_file, r.start.binlog_pos)
                    >= order(&cp.binlog_file, cp.binlog_pos)
                    && (stop_segment > 0 || order(&r.end.binlog_file, r.end.binlog_pos) <= stop_key)
            })
        })
        .map(|m| m.id)
        .collect();
    let bytes = files.iter().map(|f| f.bytes).sum();
    Ok(Plan {
        base: base.id.clone(),
        base_manifest: base,
        incrementals,
        start: Some(cp),
        stop: Some(stop),
        files,
        bytes,
        transactions,
        transactions_exact: true,
        note: None,
        warnings: notes,
    })
}

/// Replay positions for `--resume FILE:POS`: the plan's files from that point on.
pub fn resume_from(repo: &Repository, plan: &mut Plan, at: &BinlogCoordinates) -> Result<()> {
    let (file, pos) = (at.file.as_str(), at.pos);
    let k = plan
        .files
        .iter()
        .position(|f| f.file == file)
        .ok_or_else(|| {
            Error::Restore(format!(
                "--resume {file}:{pos}: {file} is not part of this restore's replay"
            ))
        })?;
    plan.files.drain(..k);
    let f = &mut plan.files[0];
    let end = f.stop.unwrap_or(f.start + f.bytes);
    if pos < f.start || pos > end {
        return Err(Error::Restore(format!(
            "--resume {file}:{pos} is outside this restore's replay of {file} ({}-{end})",
            f.start
        )));
    }
    if pos > f.start && pos < end {
        // Must be a transaction boundary: starting inside one would commit half of it.
        let mut finder = Finder::new(Target::Position {
            file: file.to_string(),
            pos,
        });
        let mut reader = BinlogReader::new(f.input.open(Some(repo))?, f.file.clone())?;
        if f.start > 4 {
            reader.skip_to(f.start)?;
        }
        Scanner::new(ScanOptions {
            skip_annotations: true,
            ..Default::default()
        })
        .scan(&mut reader, &mut |e| finder.push(&e))?;
        if let Some(e) = finder.error {
            return Err(Error::Restore(format!("--resume: {e}")));
        }
    }
    f.bytes = end - pos;
    f.start = pos;
    plan.bytes = plan.files.iter().map(|f| f.bytes).sum();
    plan.transactions_exact = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gtid_key;

    #[test]
    fn gtid_keys() {
        assert_eq!(gtid_key("0-1-42"), Some(("0-1".into(), 42)));
        assert_eq!(
            gtid_key("3e11fa47-71ca-11e1-9e33-c80aa9429562:23"),
            Some(("3e11fa47-71ca-11e1-9e33-c80aa9429562".into(), 23))
        );
        assert_eq!(gtid_key("nonsense"), None);
    }
}
