//! GTID sets of both flavors: MySQL's (`uuid:1-5:7,uuid2:tag:1-3`, [`GtidSet`]) and MariaDB's
//! positions (`d-s-n,…`, one last transaction per replication domain, [`MariaGtidPos`]), and
//! [`GtidState`], either of them: parsing, membership, containment, for choosing a base backup
//! by set containment, stopping a replay at a set, and checking a replay against a target's
//! `gtid_executed`.
//!
//! Never guesses: text that is not a GTID set is an error naming it. Text is parsed once, where
//! it enters (a flag, a manifest, an event); inside, sets are these types.

use std::collections::BTreeMap;
use std::fmt;

/// One GTID: source UUID, optional tag (MySQL 8.3+ tagged GTIDs), transaction number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gtid {
    pub uuid: String,
    pub tag: String,
    pub n: u64,
}

impl Gtid {
    /// `uuid:n` or `uuid:tag:n`.
    pub fn parse(s: &str) -> Option<Gtid> {
        let mut parts = s.trim().split(':');
        let uuid = parts.next()?;
        let second = parts.next()?;
        let (tag, n) = match parts.next() {
            Some(n) => (second, n),
            None => ("", second),
        };
        if parts.next().is_some() || !is_uuid(uuid) || (!tag.is_empty() && !is_tag(tag)) {
            return None;
        }
        Some(Gtid {
            uuid: uuid.to_ascii_lowercase(),
            tag: tag.to_ascii_lowercase(),
            n: n.parse().ok().filter(|&n| n > 0)?,
        })
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag.is_empty() {
            write!(f, "{}:{}", self.uuid, self.n)
        } else {
            write!(f, "{}:{}:{}", self.uuid, self.tag, self.n)
        }
    }
}

/// A set of GTIDs: per (uuid, tag), sorted disjoint closed intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    streams: BTreeMap<(String, String), Vec<(u64, u64)>>,
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A tag: a letter or underscore, then letters, digits, underscores; at most 32.
fn is_tag(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl GtidSet {
    /// Parse MySQL's text form (as `@@gtid_executed` prints it; newlines and spaces allowed).
    pub fn parse(text: &str) -> Result<GtidSet, String> {
        let mut set = GtidSet::default();
        let bad = |why: &str| format!("'{}' is not a MySQL GTID set ({why})", text.trim());
        for entry in text.split(',') {
            let entry: String = entry.chars().filter(|c| !c.is_whitespace()).collect();
            if entry.is_empty() {
                continue;
            }
            let mut parts = entry.split(':');
            let uuid = parts.next().unwrap_or_default();
            if !is_uuid(uuid) {
                return Err(bad(&format!("'{uuid}' is not a UUID")));
            }
            let uuid = uuid.to_ascii_lowercase();
            let mut tag = String::new();
            let mut any = false;
            for p in parts {
                if p.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    let (a, b) = match p.split_once('-') {
                        Some((a, b)) => (a, b),
                        None => (p, p),
                    };
                    let (a, b): (u64, u64) = match (a.parse(), b.parse()) {
                        (Ok(a), Ok(b)) if a >= 1 && a <= b => (a, b),
                        _ => return Err(bad(&format!("'{p}' is not an interval"))),
                    };
                    set.insert_range(&uuid, &tag, a, b);
                    any = true;
                } else if is_tag(p) {
                    tag = p.to_ascii_lowercase();
                } else {
                    return Err(bad(&format!("'{p}' is neither an interval nor a tag")));
                }
            }
            if !any {
                return Err(bad(&format!("{uuid} has no interval")));
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    pub fn insert(&mut self, g: &Gtid) {
        self.insert_range(&g.uuid, &g.tag, g.n, g.n);
    }

    fn insert_range(&mut self, uuid: &str, tag: &str, a: u64, b: u64) {
        let v = self
            .streams
            .entry((uuid.to_string(), tag.to_string()))
            .or_default();
        v.push((a, b));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(x, y) in v.iter() {
            match merged.last_mut() {
                Some(last) if x <= last.1.saturating_add(1) => last.1 = last.1.max(y),
                _ => merged.push((x, y)),
            }
        }
        *v = merged;
    }

    pub fn contains(&self, g: &Gtid) -> bool {
        self.streams
            .get(&(g.uuid.clone(), g.tag.clone()))
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= g.n && g.n <= b))
    }

    /// Every GTID of `self` is in `other`.
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.streams.iter().all(|(k, v)| {
            let Some(o) = other.streams.get(k) else {
                return false;
            };
            v.iter()
                .all(|&(a, b)| o.iter().any(|&(x, y)| x <= a && b <= y))
        })
    }

    /// The GTIDs in both.
    pub fn intersection(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::default();
        for (k, v) in &self.streams {
            let Some(o) = other.streams.get(k) else {
                continue;
            };
            for &(a, b) in v {
                for &(x, y) in o {
                    let (lo, hi) = (a.max(x), b.min(y));
                    if lo <= hi {
                        out.insert_range(&k.0, &k.1, lo, hi);
                    }
                }
            }
        }
        out
    }

    /// The GTIDs of `self` that are not in `other`.
    pub fn difference(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::default();
        for (k, v) in &self.streams {
            let empty = Vec::new();
            let o = other.streams.get(k).unwrap_or(&empty);
            for &(a, b) in v {
                let mut lo = a;
                for &(x, y) in o {
                    if y < lo || x > b {
                        continue;
                    }
                    if x > lo {
                        out.insert_range(&k.0, &k.1, lo, x - 1);
                    }
                    lo = y.saturating_add(1);
                    if lo > b {
                        break;
                    }
                }
                if lo <= b {
                    out.insert_range(&k.0, &k.1, lo, b);
                }
            }
        }
        out
    }

    /// Every GTID of `other` added.
    pub fn union_with(&mut self, other: &GtidSet) {
        for (k, v) in &other.streams {
            for &(a, b) in v {
                self.insert_range(&k.0, &k.1, a, b);
            }
        }
    }

    /// How many GTIDs the set holds.
    pub fn count(&self) -> u64 {
        self.streams
            .values()
            .flat_map(|v| v.iter().map(|&(a, b)| b - a + 1))
            .sum()
    }
}

impl fmt::Display for GtidSet {
    /// MySQL's form: one entry per UUID, its untagged intervals first, then each tag's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first_uuid = true;
        let mut current: Option<&str> = None;
        for ((uuid, tag), v) in &self.streams {
            if current != Some(uuid.as_str()) {
                if !first_uuid {
                    f.write_str(",")?;
                }
                first_uuid = false;
                f.write_str(uuid)?;
                current = Some(uuid);
            }
            if !tag.is_empty() {
                write!(f, ":{tag}")?;
            }
            for &(a, b) in v {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

/// A MariaDB GTID position (`@@gtid_binlog_pos`): per replication domain, the last transaction
/// (server id, sequence number). Sequence numbers grow within a domain, so a transaction
/// `d-s-n` is in the position when the domain's last sequence number is at least `n` (the
/// server id does not decide).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariaGtidPos {
    domains: BTreeMap<u32, (u32, u64)>,
}

/// One MariaDB GTID `d-s-n`.
pub fn parse_maria_gtid(s: &str) -> Option<(u32, u32, u64)> {
    let mut parts = s.trim().split('-');
    let d = parts.next()?.parse().ok()?;
    let server = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((d, server, n))
}

impl MariaGtidPos {
    /// `d-s-n,d-s-n,…` (as `@@gtid_binlog_pos` or `@@gtid_binlog_state` print it; a domain
    /// named twice keeps its highest sequence number, as the binlog state means).
    pub fn parse(text: &str) -> Result<MariaGtidPos, String> {
        let mut pos = MariaGtidPos::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (d, s, n) = parse_maria_gtid(entry).ok_or_else(|| {
                format!(
                    "'{}' is not a MariaDB GTID position ('{entry}' is not domain-server-sequence,                      e.g. 0-1-42)",
                    text.trim()
                )
            })?;
            pos.insert(d, s, n);
        }
        Ok(pos)
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Record transaction `d-s-n` (the domain keeps its highest sequence number).
    pub fn insert(&mut self, domain: u32, server_id: u32, seq: u64) {
        let e = self.domains.entry(domain).or_insert((server_id, seq));
        if seq >= e.1 {
            *e = (server_id, seq);
        }
    }

    /// The domain's last sequence number (0: none).
    pub fn seq(&self, domain: u32) -> u64 {
        self.domains.get(&domain).map_or(0, |e| e.1)
    }

    pub fn contains(&self, domain: u32, seq: u64) -> bool {
        self.seq(domain) >= seq
    }

    /// Every domain of `self` is at or before its position in `other`.
    pub fn is_subset(&self, other: &MariaGtidPos) -> bool {
        self.domains
            .iter()
            .all(|(d, (_, n))| *n == 0 || other.contains(*d, *n))
    }

    pub fn union_with(&mut self, other: &MariaGtidPos) {
        for (d, (s, n)) in &other.domains {
            self.insert(*d, *s, *n);
        }
    }

    /// The domains where `self` is ahead of `other`, with `self`'s last transaction.
    pub fn ahead_of(&self, other: &MariaGtidPos) -> MariaGtidPos {
        MariaGtidPos {
            domains: self
                .domains
                .iter()
                .filter(|(d, (_, n))| !other.contains(**d, *n))
                .map(|(d, e)| (*d, *e))
                .collect(),
        }
    }
}

impl fmt::Display for MariaGtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (d, (s, n)) in &self.domains {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{d}-{s}-{n}")?;
        }
        Ok(())
    }
}

/// One transaction's GTID, of either flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyGtid {
    MySql(Gtid),
    MariaDb {
        domain: u32,
        server_id: u32,
        seq: u64,
    },
}

impl AnyGtid {
    /// `uuid[:tag]:n` or `d-s-n`.
    pub fn parse(s: &str) -> Option<AnyGtid> {
        if let Some(g) = Gtid::parse(s) {
            return Some(AnyGtid::MySql(g));
        }
        parse_maria_gtid(s).map(|(domain, server_id, seq)| AnyGtid::MariaDb {
            domain,
            server_id,
            seq,
        })
    }
}

impl fmt::Display for AnyGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyGtid::MySql(g) => g.fmt(f),
            AnyGtid::MariaDb {
                domain,
                server_id,
                seq,
            } => write!(f, "{domain}-{server_id}-{seq}"),
        }
    }
}

/// The executed GTIDs of a server of either flavor: a MySQL GTID set or a MariaDB position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidState {
    MySql(GtidSet),
    MariaDb(MariaGtidPos),
}

impl GtidState {
    /// A set as a user writes it: MySQL (`uuid[:tag]:1-N,…`, told by its colons) or MariaDB
    /// (`d-s-n,…`).
    pub fn parse(text: &str) -> Result<GtidState, String> {
        if text.contains(':') {
            GtidSet::parse(text).map(GtidState::MySql)
        } else {
            MariaGtidPos::parse(text).map(GtidState::MariaDb)
        }
    }

    /// State text of the same flavor as `self` (a manifest's or an index's); empty text is the
    /// empty state.
    pub fn parse_like(&self, text: &str) -> Result<GtidState, String> {
        match self {
            GtidState::MySql(_) => GtidSet::parse(text).map(GtidState::MySql),
            GtidState::MariaDb(_) => MariaGtidPos::parse(text).map(GtidState::MariaDb),
        }
    }

    /// The empty state of the same flavor.
    pub fn empty_like(&self) -> GtidState {
        match self {
            GtidState::MySql(_) => GtidState::MySql(GtidSet::default()),
            GtidState::MariaDb(_) => GtidState::MariaDb(MariaGtidPos::default()),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            GtidState::MySql(s) => s.is_empty(),
            GtidState::MariaDb(p) => p.is_empty(),
        }
    }

    pub fn flavor_name(&self) -> &'static str {
        match self {
            GtidState::MySql(_) => "MySQL",
            GtidState::MariaDb(_) => "MariaDB",
        }
    }

    /// Whether the transaction `g` is in the state (a GTID of the other flavor never is).
    pub fn contains(&self, g: &AnyGtid) -> bool {
        match (self, g) {
            (GtidState::MySql(s), AnyGtid::MySql(g)) => s.contains(g),
            (GtidState::MariaDb(p), AnyGtid::MariaDb { domain, seq, .. }) => {
                p.contains(*domain, *seq)
            }
            _ => false,
        }
    }

    /// Add transaction `g` (ignored if of the other flavor).
    pub fn insert(&mut self, g: &AnyGtid) {
        match (self, g) {
            (GtidState::MySql(s), AnyGtid::MySql(g)) => s.insert(g),
            (
                GtidState::MariaDb(p),
                AnyGtid::MariaDb {
                    domain,
                    server_id,
                    seq,
                },
            ) => p.insert(*domain, *server_id, *seq),
            _ => {}
        }
    }

    /// Add every transaction of `other` (ignored if of the other flavor).
    pub fn union_with(&mut self, other: &GtidState) {
        match (self, other) {
            (GtidState::MySql(s), GtidState::MySql(o)) => s.union_with(o),
            (GtidState::MariaDb(p), GtidState::MariaDb(o)) => p.union_with(o),
            _ => {}
        }
    }

    /// Every transaction of `self` is in `other` (never, across flavors, unless `self` is
    /// empty).
    pub fn is_subset(&self, other: &GtidState) -> bool {
        match (self, other) {
            (GtidState::MySql(s), GtidState::MySql(o)) => s.is_subset(o),
            (GtidState::MariaDb(p), GtidState::MariaDb(o)) => p.is_subset(o),
            _ => self.is_empty(),
        }
    }

    /// What of `self` is not in `other` (MariaDB: the domains where `self` is ahead).
    pub fn beyond(&self, other: &GtidState) -> GtidState {
        match (self, other) {
            (GtidState::MySql(s), GtidState::MySql(o)) => GtidState::MySql(s.difference(o)),
            (GtidState::MariaDb(p), GtidState::MariaDb(o)) => GtidState::MariaDb(p.ahead_of(o)),
            _ => self.clone(),
        }
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::MySql(s) => s.fmt(f),
            GtidState::MariaDb(p) => p.fmt(f),
        }
    }
}

impl serde::Serialize for GtidState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_positions() {
        let p = MariaGtidPos::parse("0-1-42, 2-1-7").unwrap();
        assert_eq!(p.to_string(), "0-1-42,2-1-7");
        assert!(p.contains(0, 42) && p.contains(2, 3) && !p.contains(2, 8) && !p.contains(1, 1));
        assert!(MariaGtidPos::parse("0-1-40").unwrap().is_subset(&p));
        assert!(!MariaGtidPos::parse("0-1-40,3-1-1").unwrap().is_subset(&p));
        assert_eq!(
            MariaGtidPos::parse("0-1-5,0-2-9").unwrap().to_string(),
            "0-2-9"
        );
        assert!(MariaGtidPos::parse("0-1").is_err());
        assert!(MariaGtidPos::parse("0-1-x").is_err());
        assert_eq!(
            p.ahead_of(&MariaGtidPos::parse("0-1-42,2-1-3").unwrap())
                .to_string(),
            "2-1-7"
        );
    }

    #[test]
    fn states_of_either_flavor() {
        let m = GtidState::parse(&format!("{U}:1-5")).unwrap();
        assert_eq!(m.flavor_name(), "MySQL");
        let g = AnyGtid::parse(&format!("{U}:5")).unwrap();
        assert!(m.contains(&g));
        assert!(!m.contains(&AnyGtid::parse("0-1-5").unwrap()));
        let mut e = m.empty_like();
        e.insert(&g);
        assert!(e.is_subset(&m) && !m.is_subset(&e));
        assert_eq!(m.beyond(&e).to_string(), format!("{U}:1-4"));
        let d = GtidState::parse("0-1-5,2-1-3").unwrap();
        assert_eq!(d.flavor_name(), "MariaDB");
        assert!(d.contains(&AnyGtid::parse("2-9-3").unwrap()));
        assert!(GtidState::parse(&format!("{U}:x")).is_err());
    }

    #[test]
    fn differences() {
        let a = GtidSet::parse(&format!("{U}:1-10:20-30,{V}:1-3")).unwrap();
        let b = GtidSet::parse(&format!("{U}:3-4:10-21:25")).unwrap();
        assert_eq!(
            a.difference(&b).to_string(),
            format!("{U}:1-2:5-9:22-24:26-30,{V}:1-3")
        );
        assert!(a.difference(&a).is_empty());
    }

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const V: &str = "4f22fb58-82db-22f2-af44-d91bb0530673";

    #[test]
    fn parses_what_mysql_prints() {
        let s = GtidSet::parse(&format!("{U}:1-5:7,\n{V}:1-3:audit:1-2:10")).unwrap();
        assert_eq!(s.to_string(), format!("{U}:1-5:7,{V}:1-3:audit:1-2:10"));
        assert!(s.contains(&Gtid::parse(&format!("{U}:4")).unwrap()));
        assert!(!s.contains(&Gtid::parse(&format!("{U}:6")).unwrap()));
        assert!(s.contains(&Gtid::parse(&format!("{V}:audit:10")).unwrap()));
        assert!(!s.contains(&Gtid::parse(&format!("{V}:10")).unwrap()));
        assert_eq!(s.count(), 6 + 3 + 3);
        assert!(GtidSet::parse("").unwrap().is_empty());
        assert!(GtidSet::parse("0-1-42").is_err());
        assert!(GtidSet::parse(&format!("{U}:5-3")).is_err());
        assert_eq!(
            GtidSet::parse(&format!("{U}:1-3,{U}:4-6:8"))
                .unwrap()
                .to_string(),
            format!("{U}:1-6:8")
        );
    }

    #[test]
    fn subsets_and_intersections() {
        let a = GtidSet::parse(&format!("{U}:1-10")).unwrap();
        let b = GtidSet::parse(&format!("{U}:3-4:9-12")).unwrap();
        assert!(!b.is_subset(&a));
        assert!(GtidSet::parse(&format!("{U}:3-4:9")).unwrap().is_subset(&a));
        assert_eq!(a.intersection(&b).to_string(), format!("{U}:3-4:9-10"));
        assert!(a
            .intersection(&GtidSet::parse(&format!("{V}:1-10")).unwrap())
            .is_empty());
    }

    #[test]
    fn single_gtids() {
        assert_eq!(
            Gtid::parse(&format!("{U}:tag_1:7")).unwrap().to_string(),
            format!("{U}:tag_1:7")
        );
        assert!(Gtid::parse(&format!("{U}:0")).is_none());
        assert!(Gtid::parse("0-1-42").is_none());
        assert!(Gtid::parse(&format!("{U}:1tag:7")).is_none());
    }
}
