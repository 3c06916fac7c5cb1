//! Deferred secondary indexes: a table is created without its secondary indexes, loaded, then
//! the indexes are added in one `ALTER TABLE`, which builds each by sorting instead of
//! inserting into it row by row.
//!
//! SHOW CREATE TABLE prints one index per line, two spaces in (`  KEY`, `  UNIQUE KEY`), so the
//! cut works on lines. Tables are left as they are when deferring could change them: not
//! InnoDB, foreign keys (their indexes must exist), system versioning, or an index that starts
//! with the AUTO_INCREMENT column (the server requires one to exist).

/// The tables some foreign key points at, as (db, table), from every table's CREATE statement
/// (`REFERENCES \`t\`` in the same database, or `REFERENCES \`db\`.\`t\``). Their indexes
/// must exist when the referencing table is created, so they are not deferred.
pub fn referenced_tables<'a>(
    creates: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for (db, stmt) in creates {
        let text = String::from_utf8_lossy(stmt);
        for part in text.split(" REFERENCES ").skip(1) {
            let names = leading_identifiers(part);
            match names.as_slice() {
                [t] => out.insert((db.to_string(), t.clone())),
                [d, t, ..] => out.insert((d.clone(), t.clone())),
                [] => false,
            };
        }
    }
    out
}

/// `` `a`.`b` (…`` → ["a", "b"]; backquoted identifiers (with `` `` `` escapes) joined by dots.
fn leading_identifiers(s: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = s.chars().peekable();
    while chars.peek() == Some(&'`') {
        chars.next();
        let mut name = String::new();
        loop {
            match chars.next() {
                Some('`') if chars.peek() == Some(&'`') => {
                    chars.next();
                    name.push('`');
                }
                Some('`') | None => break,
                Some(c) => name.push(c),
            }
        }
        names.push(name);
        if chars.peek() != Some(&'.') {
            break;
        }
        chars.next();
    }
    names
}

/// The CREATE statement without secondary indexes, and the `ADD …` clauses that restore them.
pub struct Deferred {
    pub create: Vec<u8>,
    pub add: Vec<String>,
}

pub fn defer_indexes(create: &[u8]) -> Option<Deferred> {
    let text = std::str::from_utf8(create).ok()?;
    let lines: Vec<&str> = text.split('\n').collect();
    let tail = lines.last()?;
    if !tail.starts_with(')')
        || !tail.contains("ENGINE=InnoDB")
        || text.contains("WITH SYSTEM VERSIONING")
        || lines
            .iter()
            .any(|l| l.starts_with("  CONSTRAINT ") || l.contains(" FOREIGN KEY "))
    {
        return None;
    }
    let auto_inc: Option<&str> = lines
        .iter()
        .find(|l| l.starts_with("  `") && l.contains(" AUTO_INCREMENT"))
        .and_then(|l| l[2..].split('`').nth(1));
    let mut kept: Vec<String> = Vec::new();
    let mut add = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let inner = i > 0 && i + 1 < lines.len();
        let body = line.trim_end_matches(',');
        let secondary = body.starts_with("  KEY `") || body.starts_with("  UNIQUE KEY `");
        let on_auto_inc = auto_inc.is_some_and(|c| {
            body.split_once(" (`")
                .is_some_and(|(_, cols)| cols.starts_with(&format!("{c}`")))
        });
        if inner && secondary && !on_auto_inc {
            add.push(format!("ADD {}", body.trim_start()));
        } else {
            // Indexes added later come after the ones the table keeps (FULLTEXT always sorts
            // last): a kept index after a deferred one would change the table's index order.
            let kept_index = body.starts_with("  KEY `")
                || body.starts_with("  UNIQUE KEY `")
                || body.starts_with("  SPATIAL KEY `");
            if inner && kept_index && !add.is_empty() {
                return None;
            }
            kept.push(line.to_string());
        }
    }
    if add.is_empty() {
        return None;
    }
    // The element before the closing line must not end with a comma any more.
    let n = kept.len();
    if n >= 2 {
        let last = &mut kept[n - 2];
        if last.ends_with(',') {
            last.pop();
        }
    }
    Some(Deferred {
        create: kept.join("\n").into_bytes(),
        add,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SBTEST: &str = "CREATE TABLE `sbtest1` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `k` int(11) NOT NULL DEFAULT 0,\n  `c` char(120) NOT NULL DEFAULT '',\n  PRIMARY KEY (`id`),\n  KEY `k_1` (`k`),\n  UNIQUE KEY `c` (`c`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1";

    #[test]
    fn secondary_indexes_move_to_an_alter() {
        let d = defer_indexes(SBTEST.as_bytes()).unwrap();
        let create = String::from_utf8(d.create).unwrap();
        assert!(
            create.contains("  PRIMARY KEY (`id`)\n) ENGINE=InnoDB"),
            "{create}"
        );
        assert!(!create.contains("k_1"));
        assert_eq!(d.add, ["ADD KEY `k_1` (`k`)", "ADD UNIQUE KEY `c` (`c`)"]);
    }

    #[test]
    fn referenced_tables_are_found_in_and_across_databases() {
        let child = "CREATE TABLE `c` (\n  `p` int,\n  `q` int,\n  CONSTRAINT `f1` FOREIGN KEY (`p`) REFERENCES `par``ent` (`id`),\n  CONSTRAINT `f2` FOREIGN KEY (`q`) REFERENCES `other`.`t` (`id`)\n) ENGINE=InnoDB";
        let got = referenced_tables([("d", child.as_bytes())].into_iter());
        let want: std::collections::BTreeSet<(String, String)> = [
            ("d".to_string(), "par`ent".to_string()),
            ("other".to_string(), "t".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn tables_that_need_their_indexes_keep_them() {
        let fk = SBTEST.replace(
            "  UNIQUE KEY `c` (`c`)",
            "  UNIQUE KEY `c` (`c`),\n  CONSTRAINT `f` FOREIGN KEY (`k`) REFERENCES `t` (`id`)",
        );
        assert!(defer_indexes(fk.as_bytes()).is_none());
        assert!(defer_indexes(SBTEST.replace("InnoDB", "MyISAM").as_bytes()).is_none());
        let auto = "CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`),\n  KEY `id` (`id`)\n) ENGINE=InnoDB";
        assert!(
            defer_indexes(auto.as_bytes()).is_none(),
            "the auto-increment key stays"
        );
    }
}
