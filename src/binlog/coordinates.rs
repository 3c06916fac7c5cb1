//! A point in a server's binary logs: a file and a byte position in it. One type from the
//! command line (`FILE:POS`) through the planner to the report, never a string inside zrm.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BinlogCoordinates {
    pub file: String,
    pub pos: u64,
}

impl BinlogCoordinates {
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        BinlogCoordinates {
            file: file.into(),
            pos,
        }
    }

    /// `FILE:POS` as a user writes it (`what` names the flag, for the error).
    pub fn parse(what: &str, text: &str) -> Result<Self> {
        let (file, pos) = text.rsplit_once(':').ok_or_else(|| {
            Error::Usage(format!(
                "{what} {text}: write FILE:POS, e.g. mysql-bin.000042:1234"
            ))
        })?;
        let pos = pos
            .parse()
            .map_err(|_| Error::Usage(format!("{what} {text}: the position is not a number")))?;
        if file.is_empty() {
            return Err(Error::Usage(format!(
                "{what} {text}: the file name is missing"
            )));
        }
        Ok(BinlogCoordinates::new(file, pos))
    }

    /// In binlog order: by file number within one base name, then position.
    pub fn order(&self) -> ((String, u64), u64) {
        (super::archive_index::file_order(&self.file), self.pos)
    }
}

impl std::fmt::Display for BinlogCoordinates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_file_pos() {
        let c = BinlogCoordinates::parse("--until-position", "mysql-bin.000042:1234").unwrap();
        assert_eq!(c, BinlogCoordinates::new("mysql-bin.000042", 1234));
        assert_eq!(c.to_string(), "mysql-bin.000042:1234");
        assert!(BinlogCoordinates::parse("--resume", "nope").is_err());
        assert!(BinlogCoordinates::parse("--resume", "f:x").is_err());
        assert!(BinlogCoordinates::parse("--resume", ":4").is_err());
        assert!(
            BinlogCoordinates::new("b.000010", 4).order()
                > BinlogCoordinates::new("b.000009", 900).order()
        );
    }
}
