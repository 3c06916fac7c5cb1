//! MySQL GTID sets (`uuid:1-5:7,uuid2:tag:1-3`): parsing, membership, intersection, for
//! choosing a base backup by set containment and for checking a replay against a target's
//! `gtid_executed`.
//!
//! Never guesses: text that is not a GTID set is an error naming it. MariaDB GTID positions
//! (`d-s-n`) are not sets of this kind and are not handled here.

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

#[cfg(test)]
mod tests {
    use super::*;

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
