//! A streaming filter over mysqldump output for restore: keep only chosen databases, and drop
//! the MariaDB "sandbox mode" first line for clients that do not understand it.
//!
//! A dump made with `--databases` is a header, then one section per database that starts at a
//! `-- Current Database: `name`` line, then a footer starting at the
//! `SET TIME_ZONE=@OLD_TIME_ZONE` line. The filter decides at the start of each line: only the
//! first bytes of lines that begin with `-` or `/` are examined; data lines stream straight
//! through, so memory stays bounded whatever the line length. Order is never changed.

use std::collections::BTreeSet;
use std::io::{self, Write};

/// How many bytes of a line are enough to recognise a marker (a database name is at most 64
/// characters of up to 4 bytes, doubled backticks included).
const PEEK: usize = 600;

enum Mode {
    LineStart,
    Peeking,
    Pass { keep_line: bool },
}

pub struct DumpFilter<W: Write> {
    out: W,
    /// `None`: every database is kept.
    keep_dbs: Option<BTreeSet<String>>,
    strip_sandbox: bool,
    /// Whether the current section (header, a database, footer) is kept.
    keeping: bool,
    first_line: bool,
    mode: Mode,
    peek: Vec<u8>,
}

impl<W: Write> DumpFilter<W> {
    pub fn new(out: W, keep_dbs: Option<BTreeSet<String>>, strip_sandbox: bool) -> Self {
        DumpFilter {
            out,
            keep_dbs,
            strip_sandbox,
            keeping: true,
            first_line: true,
            mode: Mode::LineStart,
            peek: Vec::with_capacity(PEEK),
        }
    }

    /// Flush a pending line start and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if matches!(self.mode, Mode::Peeking) {
            self.decide()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Decide on the line whose first bytes are in `peek`; emit them if it is kept.
    fn decide(&mut self) -> io::Result<bool> {
        let first = std::mem::replace(&mut self.first_line, false);
        let text = String::from_utf8_lossy(&self.peek);
        let keep_line = if first && self.strip_sandbox && text.starts_with("/*M!999999") {
            false
        } else {
            if let Some(rest) = text.strip_prefix("-- Current Database: `") {
                if let Some(keep) = &self.keep_dbs {
                    let rest = rest.trim_end();
                    // One closing backtick; a backtick in the name is doubled.
                    let name = rest.strip_suffix('`').unwrap_or(rest).replace("``", "`");
                    self.keeping = keep.contains(&name);
                }
            } else if text.starts_with("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE") {
                self.keeping = true;
            }
            self.keeping
        };
        if keep_line {
            self.out.write_all(&self.peek)?;
        }
        self.peek.clear();
        Ok(keep_line)
    }
}

impl<W: Write> Write for DumpFilter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut i = 0;
        while i < buf.len() {
            match self.mode {
                Mode::LineStart => {
                    if buf[i] == b'-' || buf[i] == b'/' {
                        self.mode = Mode::Peeking;
                    } else {
                        self.first_line = false;
                        self.mode = Mode::Pass {
                            keep_line: self.keeping,
                        };
                    }
                }
                Mode::Peeking => {
                    let b = buf[i];
                    self.peek.push(b);
                    i += 1;
                    if b == b'\n' {
                        self.decide()?;
                        self.mode = Mode::LineStart;
                    } else if self.peek.len() >= PEEK {
                        let keep_line = self.decide()?;
                        self.mode = Mode::Pass { keep_line };
                    }
                }
                Mode::Pass { keep_line } => {
                    // Copy up to and including the next newline in one call.
                    let end = buf[i..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(buf.len(), |p| i + p + 1);
                    if keep_line {
                        self.out.write_all(&buf[i..end])?;
                    }
                    if buf[end - 1] == b'\n' {
                        self.mode = Mode::LineStart;
                    }
                    i = end;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "/*M!999999\\- enable the sandbox mode */ \n\
/*!40101 SET NAMES utf8mb4 */;\n\
--\n\
-- Current Database: `a`\n\
--\n\
CREATE DATABASE `a`;\nUSE `a`;\nINSERT INTO `t` VALUES (1,'-- Current Database: `b`');\n\
--\n\
-- Current Database: `b`\n\
--\n\
CREATE DATABASE `b`;\nUSE `b`;\nINSERT INTO `t` VALUES (2);\n\
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\
-- Dump completed\n";

    fn run(keep: Option<&[&str]>, strip: bool, chunk: usize) -> String {
        let keep = keep.map(|k| k.iter().map(|s| s.to_string()).collect());
        let mut f = DumpFilter::new(Vec::new(), keep, strip);
        for c in DUMP.as_bytes().chunks(chunk) {
            f.write_all(c).unwrap();
        }
        String::from_utf8(f.finish().unwrap()).unwrap()
    }

    #[test]
    fn keeps_everything_without_a_filter() {
        for chunk in [1, 5, 4096] {
            assert_eq!(run(None, false, chunk), DUMP);
        }
    }

    #[test]
    fn keeps_only_chosen_databases_header_and_footer() {
        for chunk in [1, 3, 4096] {
            let out = run(Some(&["b"]), true, chunk);
            assert!(!out.contains("sandbox"), "{out}");
            assert!(out.starts_with("/*!40101 SET NAMES"), "{out}");
            assert!(!out.contains("CREATE DATABASE `a`"), "{out}");
            assert!(out.contains("CREATE DATABASE `b`;\nUSE `b`;\nINSERT INTO `t` VALUES (2);\n"));
            assert!(out.ends_with("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n-- Dump completed\n"));
        }
        let out = run(Some(&["a"]), false, 7);
        assert!(
            out.contains("(1,'-- Current Database: `b`')"),
            "data lines are never markers"
        );
        assert!(!out.contains("VALUES (2)"));
    }
}
