//! The data format of a `logical` backup: one line per row, fields separated by a tab, in the
//! exact escaping `LOAD DATA ... FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY
//! '\n'` reads back (`\N` for NULL; `\\`, `\t` and `\n` escaped; every other byte as it is).
//!
//! Field bytes are the column's own bytes as the server sends them with `character_set_results
//! = binary`: no charset conversion on the way out, none on the way in (`CHARACTER SET binary`),
//! so every charset and every binary value round-trips bit for bit.
//!
//! The per-table checksum is the wrapping sum of a 64-bit hash of each encoded row: it does not
//! depend on row or chunk order, so a restored server re-read by the same code gives the same
//! value however its rows come back.

use xxhash_rust::xxh3::xxh3_64;

/// Append one field, escaped.
pub fn push_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(mut bytes) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    while let Some(i) = memchr::memchr3(b'\\', b'\t', b'\n', bytes) {
        out.extend_from_slice(&bytes[..i]);
        out.extend_from_slice(match bytes[i] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            _ => b"\\n",
        });
        bytes = &bytes[i + 1..];
    }
    out.extend_from_slice(bytes);
}

/// The hash of one encoded row (its bytes including the final newline).
pub fn row_hash(line: &[u8]) -> u64 {
    xxh3_64(line)
}

/// Row count and order-independent checksum of a table's rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    pub sum: u64,
}

impl TableSum {
    pub fn add_row(&mut self, line: &[u8]) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(row_hash(line));
    }

    pub fn merge(&mut self, other: TableSum) {
        self.rows += other.rows;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// As stored in the manifest: `xxh3sum:` and 16 hex digits.
    pub fn checksum_text(&self) -> String {
        format!("xxh3sum:{:016x}", self.sum)
    }
}

/// Split one encoded line (without its newline) back into fields: `None` for NULL, else the
/// unescaped bytes. Used by the INSERT fallback when the target refuses `LOAD DATA LOCAL`.
pub fn split_line(line: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut fields = Vec::new();
    for raw in line.split(|&b| b == b'\t') {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        let mut f = Vec::with_capacity(raw.len());
        let mut it = raw.iter();
        while let Some(&b) = it.next() {
            if b != b'\\' {
                f.push(b);
                continue;
            }
            match it.next() {
                Some(b't') => f.push(b'\t'),
                Some(b'n') => f.push(b'\n'),
                Some(b'0') => f.push(0),
                Some(b'r') => f.push(b'\r'),
                Some(b'b') => f.push(8),
                Some(b'Z') => f.push(26),
                Some(&c) => f.push(c),
                None => f.push(b'\\'),
            }
        }
        fields.push(Some(f));
    }
    fields
}

/// A file-name-safe form of a database or table name: ASCII letters, digits and `_` as they
/// are, every other byte as `@xx` (names may hold any character, including `/`).
pub fn file_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("@{b:02x}"));
        }
    }
    // A 64-character name of 4-byte characters would make 768: keep file names short (the
    // manifest maps chunks to tables; the name is for a human browsing the repository).
    if out.len() > MAX_COMPONENT {
        let hash = xxh3_64(name.as_bytes());
        out = format!("{}~{hash:016x}", &out[..MAX_COMPONENT - 17]);
    }
    out
}

const MAX_COMPONENT: usize = 80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_through_split() {
        let values: Vec<Option<&[u8]>> = vec![
            None,
            Some(b""),
            Some(b"\\N"),
            Some(b"a\tb\nc\\d\0e\r"),
            Some(&[0xf0, 0x9f, 0x90, 0xac, b' ', b' ']),
        ];
        let mut line = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                line.push(b'\t');
            }
            push_field(&mut line, *v);
        }
        assert!(!line.contains(&b'\n'), "a row stays on one line");
        let back = split_line(&line);
        let expect: Vec<Option<Vec<u8>>> = values.iter().map(|v| v.map(|b| b.to_vec())).collect();
        assert_eq!(back, expect);
    }

    #[test]
    fn checksum_ignores_order_but_not_content() {
        let (mut a, mut b, mut c) = (
            TableSum::default(),
            TableSum::default(),
            TableSum::default(),
        );
        a.add_row(b"1\tx\n");
        a.add_row(b"2\ty\n");
        b.add_row(b"2\ty\n");
        b.add_row(b"1\tx\n");
        c.add_row(b"1\tx\n");
        c.add_row(b"2\tz\n");
        assert_eq!(a, b);
        assert_ne!(a.sum, c.sum);
    }

    #[test]
    fn file_components_are_safe() {
        assert_eq!(file_component("sbtest1"), "sbtest1");
        assert_eq!(file_component("a/b.c"), "a@2fb@2ec");
        assert_eq!(file_component("é"), "@c3@a9");
        let long = "продажи".repeat(9);
        let (a, b) = (file_component(&long), file_component(&format!("{long}x")));
        assert!(a.len() <= 80 && b.len() <= 80, "{a}");
        assert_ne!(a, b, "long names stay distinct");
    }
}
