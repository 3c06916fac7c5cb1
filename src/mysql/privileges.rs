//! Which privileges the connected account has, from `SHOW GRANTS`, and which each method needs.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::conn::Session;
use crate::error::Result;
use crate::manifest::Flavor;

/// Privileges by scope: `*` for global (`*.*`), else the database name.
#[derive(Debug, Default, Clone)]
pub struct Grants {
    by_scope: BTreeMap<String, BTreeSet<String>>,
}

impl Grants {
    pub async fn of_current_user(s: &mut Session) -> Result<Grants> {
        let rows = s.rows("SHOW GRANTS").await?;
        Ok(Self::parse(
            rows.iter()
                .filter_map(|r| r.first().cloned().flatten())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        ))
    }

    pub fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Grants {
        let re = Regex::new(r"^GRANT (.+?) ON (\S+) TO ").expect("valid regex");
        let mut g = Grants::default();
        for line in lines {
            let Some(c) = re.captures(line) else { continue };
            let scope = c[2].to_string();
            let scope = if scope == "*.*" {
                "*".to_string()
            } else if let Some(db) = scope.strip_suffix(".*") {
                db.trim_matches('`').replace("``", "`")
            } else {
                continue; // table- or routine-level grants do not cover a whole backup
            };
            let privs = g.by_scope.entry(scope).or_default();
            for p in c[1].split(',') {
                let p = p.trim().to_ascii_uppercase();
                if p.starts_with("PROXY") {
                    continue;
                }
                privs.insert(if p == "ALL" {
                    "ALL PRIVILEGES".into()
                } else {
                    p
                });
            }
        }
        g
    }

    fn has_in(&self, scope: &str, privilege: &str) -> bool {
        self.by_scope
            .get(scope)
            .is_some_and(|s| s.contains("ALL PRIVILEGES") || s.contains(privilege))
    }

    /// True if `privilege` holds globally, or on every database in `dbs` (for privileges that
    /// can be granted per database).
    pub fn has(&self, privilege: &str, dbs: &[String]) -> bool {
        if self.has_in("*", privilege) {
            return true;
        }
        let db_level = matches!(
            privilege,
            "SELECT"
                | "SHOW VIEW"
                | "TRIGGER"
                | "LOCK TABLES"
                | "EVENT"
                | "INSERT"
                | "CREATE"
                | "DROP"
                | "ALTER"
                | "CREATE ROUTINE"
                | "ALTER ROUTINE"
                | "CREATE VIEW"
                | "INDEX"
                | "REFERENCES"
                | "DELETE"
                | "UPDATE"
        );
        db_level && !dbs.is_empty() && dbs.iter().all(|d| self.has_in(d, privilege))
    }
}

/// A privilege a method needs, with why, and alternatives any of which satisfies it.
pub struct Need {
    pub any_of: &'static [&'static str],
    pub why: &'static str,
}

/// What a `mysqldump` backup needs on the source.
pub fn needed_for_dump(flavor: Flavor) -> Vec<Need> {
    let binlog = match flavor {
        Flavor::MariaDB => &["BINLOG MONITOR", "REPLICATION CLIENT", "SUPER"][..],
        Flavor::MySQL => &["REPLICATION CLIENT", "SUPER"][..],
    };
    vec![
        Need { any_of: &["SELECT"], why: "read the tables" },
        Need { any_of: &["SHOW VIEW"], why: "dump views" },
        Need { any_of: &["TRIGGER"], why: "dump triggers" },
        Need { any_of: &["EVENT"], why: "dump events" },
        Need { any_of: &["LOCK TABLES"], why: "dump tables that are not transactional" },
        Need { any_of: &["RELOAD"], why: "take a momentary FLUSH TABLES WITH READ LOCK where the server cannot give the snapshot's binlog position without one" },
        Need { any_of: binlog, why: "read the binary log position of the snapshot" },
        Need { any_of: &["PROCESS"], why: "dump tablespaces (MySQL) and see which queries block a lock" },
    ]
}

/// What a `logical` backup needs on the source.
pub fn needed_for_logical(flavor: Flavor) -> Vec<Need> {
    let mut v = vec![
        Need {
            any_of: &["SELECT"],
            why: "read the tables",
        },
        Need {
            any_of: &["SHOW VIEW"],
            why: "back up views",
        },
        Need {
            any_of: &["TRIGGER"],
            why: "back up triggers",
        },
        Need {
            any_of: &["EVENT"],
            why: "back up events",
        },
        Need {
            any_of: &["PROCESS"],
            why: "name the queries that block the momentary lock",
        },
    ];
    v.push(match flavor {
        Flavor::MariaDB => Need {
            any_of: &["RELOAD"],
            why: "block commits (BACKUP STAGE BLOCK_COMMIT) for the milliseconds the parallel snapshots take to start; not needed with parallel = 1",
        },
        Flavor::MySQL => Need {
            any_of: &["RELOAD"],
            why: "take the momentary FLUSH TABLES WITH READ LOCK that lines up the snapshots and gives their binlog position",
        },
    });
    if flavor == Flavor::MySQL {
        v.push(Need {
            any_of: &["REPLICATION CLIENT", "SUPER"],
            why: "read the binary log position under that lock",
        });
    }
    v
}

/// What a snapshot backup (lvm, btrfs, ebs) needs on the source. (The file-system side —
/// root for `btrfs`/`lvcreate`/`mount`, or AWS permissions for ebs — is outside the server.)
pub fn needed_for_snapshot(flavor: Flavor) -> Vec<Need> {
    vec![
        Need {
            any_of: &["RELOAD"],
            why: match flavor {
                Flavor::MariaDB => {
                    "block commits (BACKUP STAGE BLOCK_COMMIT) while the snapshot is cut"
                }
                Flavor::MySQL => "take FLUSH TABLES WITH READ LOCK while the snapshot is cut",
            },
        },
        Need {
            any_of: match flavor {
                Flavor::MariaDB => &["BINLOG MONITOR", "REPLICATION CLIENT", "SUPER"],
                Flavor::MySQL => &["REPLICATION CLIENT", "SUPER"],
            },
            why: "read the binary log position under the lock",
        },
        Need {
            any_of: &["PROCESS"],
            why: "name the queries that block the lock",
        },
    ]
}

/// What binary-log archiving, incrementals and purging need.
pub fn needed_for_binlogs(flavor: Flavor) -> Vec<Need> {
    vec![
        Need {
            any_of: &["REPLICATION SLAVE", "REPLICATION REPLICA"],
            why: "stream binary logs (binlog archive, incremental backups)",
        },
        Need {
            any_of: match flavor {
                Flavor::MariaDB => &["BINLOG ADMIN", "SUPER"],
                Flavor::MySQL => &["BINLOG_ADMIN", "SUPER"],
            },
            why: "purge archived binary logs from the server (binlog purge)",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_database_grants() {
        let g = Grants::parse(
            [
                "GRANT RELOAD, PROCESS, BINLOG MONITOR ON *.* TO `zrm`@`%`",
                "GRANT SELECT, SHOW VIEW ON `app`.* TO `zrm`@`%`",
                "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
            ]
            .into_iter(),
        );
        assert!(g.has("RELOAD", &[]));
        assert!(g.has("SELECT", &["app".into()]));
        assert!(!g.has("SELECT", &["app".into(), "other".into()]));
        assert!(!g.has("EVENT", &["app".into()]));
        assert!(!g.has("SELECT", &[]), "no global SELECT");
        let all = Grants::parse(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"].into_iter());
        assert!(all.has("REPLICATION SLAVE", &[]));
    }
}
