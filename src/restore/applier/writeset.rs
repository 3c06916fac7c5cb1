//! What a transaction (or a batch of them) writes, as hashes: the keys of its rows, the
//! tables it touches, and the tables it takes whole (no usable key, a foreign-key family).
//! Two write sets that do not meet belong to transactions that change no common row.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    rows: HashSet<u64>,
    touched: HashSet<u64>,
    whole: HashSet<u64>,
}

fn hash_of(parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl WriteSet {
    /// The id of a table (or of a foreign-key family, named by one of its tables).
    pub fn table_id(db: &str, table: &str) -> u64 {
        hash_of((0u8, db, table))
    }

    /// The id of one key value of a row: (table, key index, the key's values as bytes).
    pub fn row_id(table: u64, key: usize, values: &[u8]) -> u64 {
        hash_of((1u8, table, key, values))
    }

    pub fn touch(&mut self, table: u64) {
        self.touched.insert(table);
    }

    pub fn whole(&mut self, table: u64) {
        self.whole.insert(table);
    }

    pub fn row(&mut self, id: u64) {
        self.rows.insert(id);
    }

    pub fn merge(&mut self, other: &WriteSet) {
        self.rows.extend(&other.rows);
        self.touched.extend(&other.touched);
        self.whole.extend(&other.whole);
    }

    /// Whether the two may change a common row.
    pub fn meets(&self, other: &WriteSet) -> bool {
        let (small, large) = if self.rows.len() <= other.rows.len() {
            (&self.rows, &other.rows)
        } else {
            (&other.rows, &self.rows)
        };
        small.iter().any(|r| large.contains(r))
            || self.whole.iter().any(|t| other.touched.contains(t))
            || other.whole.iter().any(|t| self.touched.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_meet_only_on_a_common_key_and_whole_tables_meet_every_row() {
        let t = WriteSet::table_id("db", "t");
        let u = WriteSet::table_id("db", "u");
        let mut a = WriteSet::default();
        a.touch(t);
        a.row(WriteSet::row_id(t, 0, b"1"));
        let mut b = WriteSet::default();
        b.touch(t);
        b.row(WriteSet::row_id(t, 0, b"2"));
        assert!(!a.meets(&b), "different rows of one table");
        b.row(WriteSet::row_id(t, 0, b"1"));
        assert!(a.meets(&b), "a common row");
        let mut c = WriteSet::default();
        c.touch(t);
        c.whole(t);
        assert!(a.meets(&c) && c.meets(&a), "a whole table meets its rows");
        let mut d = WriteSet::default();
        d.touch(u);
        d.whole(u);
        assert!(!a.meets(&d), "another table");
        assert!(!WriteSet::default().meets(&a));
    }
}
