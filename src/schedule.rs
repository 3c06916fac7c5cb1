//! Scheduled backups as entries in the invoking user's crontab: zrm's marked block, its entries,
//! cron expressions validated field by field, and their next run times.
//!
//! zrm owns one marked block of the crontab, between [`BEGIN`] and [`END`]. Every byte outside
//! it is written back exactly as it was read (comments, `MAILTO=` lines, a last line without a
//! newline); a crontab is never written when nothing changed; and a block zrm cannot read back
//! is never rewritten (the error names the line; removing all entries still drops it whole).
//!
//! The block, as written:
//! ```text
//! # BEGIN zrm (managed by zrm schedule; do not edit this block)
//! # zrm set=shard1 level=0 spec=daily@02:30
//! 30 2 * * * /usr/bin/zrm --config /etc/zrm/zrm.toml --quiet backup --set shard1 --level 0
//! # zrm purge
//! 30 4 * * * /usr/bin/zrm --config /etc/zrm/zrm.toml --quiet purge --all
//! # END zrm
//! ```
//! Entries are keyed by (set, level): a set can have a weekly full and daily incrementals.
//! Two runs of one set never overlap: `backup` takes the set's lock, and a run that finds it
//! held refuses (exit 1, and cron mails that one line).
//!
//! Next runs are computed here, in local time, with cron's rules (including the one that
//! fires on the day of month OR the day of week when both are restricted).

use std::io::{Read, Write};
use std::path::Path;
use std::path::PathBuf;
use std::process::Stdio;

use chrono::{DateTime, Datelike, Duration, Local, LocalResult, NaiveDateTime, TimeZone, Timelike};

use crate::command::ToolCommand;
use crate::error::{Error, Result};
use crate::mysql::tools::Tool;

/// How often a backup runs, for `schedule add --interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Daily,
    Weekly,
    Monthly,
}

/// First line of zrm's block in a crontab.
pub const BEGIN: &str = "# BEGIN zrm (managed by zrm schedule; do not edit this block)";
/// Last line of zrm's block.
pub const END: &str = "# END zrm";
/// The comment before a backup entry's cron line: `# zrm set=S level=L spec=…`.
pub const ENTRY_TAG: &str = "# zrm set=";
/// The comment before the purge line.
pub const PURGE_TAG: &str = "# zrm purge";
/// When the daily purge runs: after the usual night's backups.
pub const PURGE_SCHEDULE: &str = "30 4 * * *";
/// How far ahead next runs are looked for: four years and a day, so that a schedule on
/// 29 February is found too (and one that never fires, like 30 February, is refused).
pub const HORIZON_DAYS: u32 = 4 * 366 + 1;

// ---------------------------------------------------------------------------------------------
// The crontab command
// ---------------------------------------------------------------------------------------------

/// `crontab`: `$ZRM_CRONTAB` if set (tests point it at a fake), else the one on PATH.
pub struct CrontabTool {
    path: PathBuf,
}

impl CrontabTool {
    pub fn locate() -> Result<CrontabTool> {
        if let Some(p) = std::env::var_os("ZRM_CRONTAB").filter(|p| !p.is_empty()) {
            return Ok(CrontabTool { path: p.into() });
        }
        match crate::mysql::tools::find(&["crontab"]) {
            Some(t) => Ok(CrontabTool { path: t.path }),
            None => Err(Error::Tool {
                tool: "crontab".into(),
                status: "not installed".into(),
                stderr: "there is no `crontab` command on PATH, and zrm schedules backups with \
                         it: install cron (Debian/Ubuntu: apt-get install cron; RHEL/Fedora: \
                         dnf install cronie) and make sure its service runs"
                    .into(),
            }),
        }
    }

    pub fn tool(&self, name: &'static str) -> Tool {
        Tool {
            name,
            path: self.path.clone(),
        }
    }

    /// The current crontab; empty when the user has none.
    pub fn read(&self) -> Result<Vec<u8>> {
        let mut running = ToolCommand::new(&self.tool("crontab -l"))
            .arg("-l")
            .spawn(Stdio::null(), Stdio::piped())?;
        let mut text = Vec::new();
        let read = running.take_stdout().read_to_end(&mut text);
        match running.wait() {
            Ok(_) => {}
            Err(Error::Tool { stderr, .. }) if stderr.contains("no crontab for") => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e),
        }
        read.map_err(|e| Error::io("read the output of", "crontab -l", e))?;
        Ok(text)
    }

    /// Install `text` as the crontab (`crontab -` reads it from stdin).
    pub fn write(&self, text: &[u8]) -> Result<()> {
        let mut running = ToolCommand::new(&self.tool("crontab -"))
            .arg("-")
            .spawn(Stdio::piped(), Stdio::null())?;
        let mut stdin = running.take_stdin();
        let written = stdin.write_all(text);
        drop(stdin);
        running.wait()?;
        written.map_err(|e| Error::io("write the new crontab to", "crontab -", e))
    }
}

// ---------------------------------------------------------------------------------------------
// The crontab text and zrm's block in it
// ---------------------------------------------------------------------------------------------

/// A crontab cut around zrm's block: `before` and `after` are given back byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab {
    before: Vec<u8>,
    /// The lines between the markers (without their newlines); `None` when there is no block.
    block: Option<Vec<String>>,
    after: Vec<u8>,
}

impl Crontab {
    /// Find zrm's block. With none, a new one goes at the end (after any `MAILTO=`, so it
    /// applies), or before a last line that has no newline, so that line stays as it was.
    pub fn split(text: &[u8]) -> Result<Crontab> {
        let mut offset = 0;
        let mut begin: Option<usize> = None;
        let mut inner: Vec<String> = Vec::new();
        for raw in text.split_inclusive(|&b| b == b'\n') {
            let start = offset;
            offset += raw.len();
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_end_matches(['\n', '\r']);
            match begin {
                None if line.trim_end() == BEGIN => begin = Some(start),
                None => {}
                Some(_) if line.trim_end() == END => {
                    let rest = &text[offset..];
                    if rest
                        .split(|&b| b == b'\n')
                        .any(|l| String::from_utf8_lossy(l).trim_end() == BEGIN)
                    {
                        return Err(block_error(
                            "has two zrm blocks: remove one with `crontab -e`",
                        ));
                    }
                    return Ok(Crontab {
                        before: text[..begin.expect("inside the block")].to_vec(),
                        block: Some(inner),
                        after: rest.to_vec(),
                    });
                }
                Some(_) if line.trim_end() == BEGIN => {
                    return Err(block_error(&format!(
                        "has a second '{BEGIN}' line before '{END}': fix the block with \
                         `crontab -e`, or drop it with `zrm schedule remove --all`"
                    )))
                }
                Some(_) => {
                    if std::str::from_utf8(raw).is_err() {
                        return Err(block_error(
                            "has a line in zrm's block that is not UTF-8 text: fix it with \
                             `crontab -e`",
                        ));
                    }
                    inner.push(line.to_string());
                }
            }
        }
        if begin.is_some() {
            return Err(block_error(&format!(
                "has the line '{BEGIN}' but no '{END}' after it: fix the block with \
                 `crontab -e` (or delete its lines) and run the command again"
            )));
        }
        let cut = if text.is_empty() || text.ends_with(b"\n") {
            text.len()
        } else {
            text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        };
        Ok(Crontab {
            before: text[..cut].to_vec(),
            block: None,
            after: text[cut..].to_vec(),
        })
    }

    /// zrm's entries in the block (none when there is no block).
    /// Whether the crontab has zrm's block at all (readable or not).
    pub fn has_block(&self) -> bool {
        self.block.is_some()
    }

    pub fn block(&self) -> Result<Block> {
        match &self.block {
            None => Ok(Block::default()),
            Some(lines) => Block::parse(lines),
        }
    }

    /// The whole crontab with `block` in place of the old one (no block when it is empty).
    pub fn with_block(&self, block: &Block) -> Vec<u8> {
        let mut out = self.before.clone();
        if let Some(text) = block.render() {
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.after);
        out
    }
}

pub fn block_error(what: &str) -> Error {
    Error::Usage(format!("your crontab (crontab -l) {what}"))
}

/// One scheduled backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub set: String,
    /// `0`, `1` or `auto`.
    pub level: String,
    /// `daily@02:30`, `weekly@sun@02:30`, `monthly@15@02:30` or `cron`.
    pub spec: String,
    /// The five cron fields (single spaces) or a macro like `@daily`.
    pub schedule: String,
    /// The rest of the cron line, as written to the crontab (quoted, `%` escaped).
    pub command: String,
}

/// What zrm's block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    pub entries: Vec<Entry>,
    /// The purge line, whole.
    pub purge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Unchanged,
    /// The set's entry of that level, as it was.
    Replaced(Entry),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub outcome: AddOutcome,
    pub purge_added: bool,
}

impl Block {
    pub fn parse(lines: &[String]) -> Result<Block> {
        let mut block = Block::default();
        let mut lines = lines.iter().filter(|l| !l.trim().is_empty());
        let bad = |line: &str, why: &str| {
            block_error(&format!(
                "has the line '{line}' in zrm's block, {why}: fix it with `crontab -e`, or \
                 drop the block with `zrm schedule remove --all` and add the schedules again"
            ))
        };
        while let Some(tag) = lines.next() {
            let tag = tag.trim();
            let mut cron_line = || {
                lines
                    .next()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.starts_with('#'))
                    .ok_or_else(|| bad(tag, "with no cron line after it"))
            };
            if let Some(rest) = tag
                .strip_prefix("# zrm ")
                .filter(|_| tag.starts_with(ENTRY_TAG))
            {
                let mut set = None;
                let mut level = None;
                let mut spec = None;
                for word in rest.split_whitespace() {
                    match word.split_once('=') {
                        Some(("set", v)) => set = Some(v.to_string()),
                        Some(("level", v)) => level = Some(v.to_string()),
                        Some(("spec", v)) => spec = Some(v.to_string()),
                        _ => {}
                    }
                }
                let (Some(set), Some(level), Some(spec)) = (set, level, spec) else {
                    return Err(bad(tag, "which lacks set=, level= or spec="));
                };
                let (schedule, command) = split_cron_line(&cron_line()?);
                block.entries.push(Entry {
                    set,
                    level,
                    spec,
                    schedule,
                    command,
                });
            } else if tag == PURGE_TAG {
                block.purge = Some(cron_line()?);
            } else {
                return Err(bad(tag, "which zrm did not write"));
            }
        }
        Ok(block)
    }

    /// The block's text with its markers, or `None` when it holds nothing.
    pub fn render(&self) -> Option<String> {
        if self.entries.is_empty() && self.purge.is_none() {
            return None;
        }
        let mut s = format!("{BEGIN}\n");
        for e in &self.entries {
            s.push_str(&format!(
                "{ENTRY_TAG}{} level={} spec={}\n{} {}\n",
                e.set, e.level, e.spec, e.schedule, e.command
            ));
        }
        if let Some(p) = &self.purge {
            s.push_str(&format!("{PURGE_TAG}\n{p}\n"));
        }
        s.push_str(&format!("{END}\n"));
        Some(s)
    }

    /// Add `entry`, replacing the set's entry of the same level; with the first entry comes
    /// the purge line.
    pub fn add(&mut self, entry: Entry, purge_line: String) -> Added {
        let outcome = match self
            .entries
            .iter_mut()
            .find(|e| e.set == entry.set && e.level == entry.level)
        {
            Some(e) if *e == entry => AddOutcome::Unchanged,
            Some(e) => AddOutcome::Replaced(std::mem::replace(e, entry)),
            None => {
                self.entries.push(entry);
                AddOutcome::Added
            }
        };
        let purge_added = self.purge.is_none();
        if purge_added {
            self.purge = Some(purge_line);
        }
        Added {
            outcome,
            purge_added,
        }
    }

    /// Remove the set's entries (of one level, if given); the purge line goes with the last.
    pub fn remove(&mut self, set: &str, level: Option<&str>) -> Vec<Entry> {
        let (removed, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| e.set == set && level.is_none_or(|l| e.level == l));
        self.entries = kept;
        if self.entries.is_empty() {
            self.purge = None;
        }
        removed
    }
}

/// A cron line → (schedule, command): the first five fields, or one `@macro`.
pub fn split_cron_line(line: &str) -> (String, String) {
    let n = if line.trim_start().starts_with('@') {
        1
    } else {
        5
    };
    let mut rest = line.trim();
    let mut fields = Vec::new();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (fields.join(" "), rest.to_string())
}

// ---------------------------------------------------------------------------------------------
// The command lines zrm writes, and reads back for `run`
// ---------------------------------------------------------------------------------------------

pub fn backup_command(zrm: &Path, config: &Path, set: &str, level: &str) -> Result<String> {
    Ok(cron_escape(&format!(
        "{} --config {} --quiet backup --set {} --level {}",
        shell_word(&path_text(zrm)?),
        shell_word(&path_text(config)?),
        shell_word(set),
        shell_word(level)
    )))
}

pub fn purge_line(zrm: &Path, config: &Path) -> Result<String> {
    Ok(format!(
        "{PURGE_SCHEDULE} {}",
        cron_escape(&format!(
            "{} --config {} --quiet purge --all",
            shell_word(&path_text(zrm)?),
            shell_word(&path_text(config)?)
        ))
    ))
}

pub fn path_text(p: &Path) -> Result<String> {
    let s = p.to_str().ok_or_else(|| {
        Error::Usage(format!(
            "the path {} is not UTF-8 text and cannot go into a crontab line: move it",
            p.display()
        ))
    })?;
    if s.contains(['\n', '\r']) {
        return Err(Error::Usage(format!(
            "the path {s:?} holds a line break, which a crontab line cannot: rename it"
        )));
    }
    Ok(s.to_string())
}

/// A word for /bin/sh: as it is when it is plain, else in single quotes.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// cron turns an unescaped `%` of the command into a newline.
pub fn cron_escape(cmd: &str) -> String {
    cmd.replace('%', r"\%")
}

/// The words of a command zrm wrote (quotes and cron's `\%` undone). Refuses anything the
/// shell would do more with than split words: variables, pipes, redirections.
pub fn command_words(cmd: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                chars.next();
                word.get_or_insert_with(String::new).push('%');
            }
            '%' => return Err("an unescaped '%', which cron turns into a line break".into()),
            '\\' => match chars.next() {
                Some(n) => word.get_or_insert_with(String::new).push(n),
                None => return Err("a '\\' at the end".into()),
            },
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        // `\%` stays an escape inside quotes too: cron removes the backslash.
                        Some('\\') if chars.peek() == Some(&'%') => {
                            chars.next();
                            w.push('%');
                        }
                        Some(ch) => w.push(ch),
                        None => return Err("an unclosed quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\')
                            if matches!(chars.peek(), Some('"' | '\\' | '$' | '`' | '%')) =>
                        {
                            w.push(chars.next().expect("peeked"))
                        }
                        Some('$' | '`') => return Err("a shell expansion".into()),
                        Some(ch) => w.push(ch),
                        None => return Err("an unclosed quote".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '$' | '`' | ';' | '|' | '&' | '<' | '>' | '(' | ')' | '*' | '?' | '[' | '#' | '~' => {
                return Err(format!("the shell character '{c}'"))
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    if words.is_empty() {
        return Err("no command".into());
    }
    Ok(words)
}

// ---------------------------------------------------------------------------------------------
// When: --interval/--at/--day, cron expressions, next runs
// ---------------------------------------------------------------------------------------------

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `--interval`, `--at`, `--day` → (spec, cron schedule).
pub fn interval_schedule(
    interval: Interval,
    at: &str,
    day: Option<&str>,
) -> Result<(String, String)> {
    let (hour, minute) = parse_at(at)?;
    let at = format!("{hour:02}:{minute:02}");
    match (interval, day) {
        (Interval::Daily, None) => Ok((format!("daily@{at}"), format!("{minute} {hour} * * *"))),
        (Interval::Daily, Some(d)) => Err(Error::Usage(format!(
            "--day {d} is for --interval weekly or monthly; a daily backup runs every day"
        ))),
        (Interval::Weekly, None) => Err(Error::Usage(
            "--interval weekly needs --day: mon, tue, wed, thu, fri, sat or sun (or 0-7, 0 and \
             7 being sunday)"
                .into(),
        )),
        (Interval::Weekly, Some(d)) => {
            let n = weekday(d).ok_or_else(|| {
                Error::Usage(format!(
                    "--day '{d}' is not a day of the week: use mon, tue, wed, thu, fri, sat or \
                     sun (or 0-7, 0 and 7 being sunday)"
                ))
            })?;
            Ok((
                format!("weekly@{}@{at}", WEEKDAYS[n]),
                format!("{minute} {hour} * * {n}"),
            ))
        }
        (Interval::Monthly, None) => Err(Error::Usage(
            "--interval monthly needs --day: a day of the month from 1 to 28".into(),
        )),
        (Interval::Monthly, Some(d)) => {
            let n: u32 = d.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "--day '{d}' is not a day of the month: use a number from 1 to 28"
                ))
            })?;
            match n {
                1..=28 => Ok((
                    format!("monthly@{n}@{at}"),
                    format!("{minute} {hour} {n} * *"),
                )),
                29..=31 => Err(Error::Usage(format!(
                    "--day {n}: not every month has a day {n} (February has 28 or 29 days), \
                     and cron skips a month that lacks it, so the backup would silently not \
                     run that month; use a day from 1 to 28, or --cron if skipping is what \
                     you want"
                ))),
                _ => Err(Error::Usage(format!(
                    "--day {n} is not a day of the month: use a number from 1 to 28"
                ))),
            }
        }
    }
}

/// `HH:MM` (the hour may have one digit) → (hour, minute).
pub fn parse_at(at: &str) -> Result<(u32, u32)> {
    let bad = || {
        Error::Usage(format!(
            "--at '{at}' is not a time of day: use HH:MM from 00:00 to 23:59 (local time)"
        ))
    };
    let (h, m) = at.trim().split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok((h, m))
}

/// `mon`/`monday`/`1` → 1; `sun`, `0` and `7` → 0.
pub fn weekday(d: &str) -> Option<usize> {
    let d = d.trim().to_ascii_lowercase();
    if let Ok(n) = d.parse::<usize>() {
        return (n <= 7).then_some(n % 7);
    }
    let full = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    (0..7).find(|&i| d == WEEKDAYS[i] || d == full[i])
}

/// Whitespace collapsed to single spaces, as the expression is written to the crontab.
pub fn normalize_cron(expr: &str) -> String {
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One field of a cron expression.
pub struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for the values from `min` on (months, weekdays).
    names: &'static [&'static str],
}

const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &WEEKDAYS,
    },
];

/// A parsed cron schedule: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Bit 0 = sunday (a 7 in the expression is folded into it).
    days_of_week: u64,
    /// The day-of-month field starts with `*` (cron's test, so `*/2` counts as one).
    dom_star: bool,
    dow_star: bool,
}

impl CronSchedule {
    /// Parse five fields or a macro (`@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
    /// `@yearly`/`@annually`). Errors name the field and the bad value.
    pub fn parse(expr: &str) -> Result<CronSchedule> {
        let expr = normalize_cron(expr);
        let fields_text =
            if let Some(name) = expr.strip_prefix('@') {
                match name.to_ascii_lowercase().as_str() {
                    "hourly" => "0 * * * *",
                    "daily" | "midnight" => "0 0 * * *",
                    "weekly" => "0 0 * * 0",
                    "monthly" => "0 0 1 * *",
                    "yearly" | "annually" => "0 0 1 1 *",
                    "reboot" => return Err(Error::Usage(
                        "cron expression '@reboot' runs only when the machine starts: it is not \
                         a backup schedule; use --interval or five cron fields"
                            .into(),
                    )),
                    _ => {
                        return Err(Error::Usage(format!(
                            "cron expression '{expr}' is not a known macro: use @hourly, @daily, \
                         @weekly, @monthly, @yearly or @annually, or five fields \
                         \"M H DOM MON DOW\""
                        )))
                    }
                }
            } else {
                expr.as_str()
            };
        let fields: Vec<&str> = fields_text.split(' ').filter(|f| !f.is_empty()).collect();
        if fields.len() != 5 {
            return Err(Error::Usage(format!(
                "cron expression '{expr}' has {} field(s), not 5: write \"M H DOM MON DOW\" \
                 (minute hour day-of-month month day-of-week), e.g. \"30 2 * * *\"; zrm writes \
                 the command itself",
                fields.len()
            )));
        }
        let mut bits = [0u64; 5];
        for (i, (field, text)) in CRON_FIELDS.iter().zip(&fields).enumerate() {
            bits[i] = parse_field(field, text).map_err(|why| {
                Error::Usage(format!(
                    "cron expression '{expr}': the {} field '{text}' {why}",
                    field.name
                ))
            })?;
        }
        let mut days_of_week = bits[4];
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        Ok(CronSchedule {
            minutes: bits[0],
            hours: bits[1],
            days_of_month: bits[2],
            months: bits[3],
            days_of_week,
            dom_star: fields[2].starts_with('*'),
            dow_star: fields[4].starts_with('*'),
        })
    }

    pub fn day_matches(&self, d: chrono::NaiveDate) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << d.day()) != 0;
        let dow = self.days_of_week & (1 << d.weekday().num_days_from_sunday()) != 0;
        // cron: when both day fields are restricted, either one matching is enough.
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first time strictly after `after` (to the minute) this schedule fires, looking up
    /// to `horizon_days` days ahead. Times are wall-clock times, without a zone.
    pub fn next_after(&self, after: NaiveDateTime, horizon_days: u32) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut day = start.date();
        for _ in 0..=horizon_days {
            if self.day_matches(day) {
                for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let t = day.and_hms_opt(hour, minute, 0)?;
                        if t >= start {
                            return Some(t);
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// One field (`*`, `5`, `1-5`, `*/15`, `1-31/2`, `mon-fri`, lists of these) → its bits.
pub fn parse_field(field: &CronField, text: &str) -> std::result::Result<u64, String> {
    let value = |s: &str| -> std::result::Result<u32, String> {
        let n = if let Ok(n) = s.parse::<u32>() {
            n
        } else if let Some(i) = field
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(s))
        {
            field.min + i as u32
        } else if field.names.is_empty() {
            return Err(format!("has '{s}', which is not a number"));
        } else {
            return Err(format!(
                "has '{s}', which is neither a number nor one of {}",
                field.names.join(", ")
            ));
        };
        if n < field.min || n > field.max {
            return Err(format!("has {n}, outside {}-{}", field.min, field.max));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err("has an empty element in its list".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("has the step '{s}', which is not a number"))?;
                if step == 0 || step > field.max {
                    return Err(format!("has the step {step}, outside 1-{}", field.max));
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("has the range {range}, which runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            if step.is_some() {
                return Err(format!(
                    "has '{item}': a step needs a range, e.g. {range}-{}/{} or */{}",
                    field.max,
                    step.unwrap_or(1),
                    step.unwrap_or(1)
                ));
            }
            (a, a)
        };
        for v in (lo..=hi).step_by(step.unwrap_or(1) as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

/// The next run after `now` in local time. A wall-clock time that a daylight-saving change
/// skips is passed over; one it repeats is taken at its first occurrence still ahead.
pub fn next_run_local(cron: &CronSchedule, now: DateTime<Local>) -> Option<DateTime<Local>> {
    let mut after = now.naive_local();
    // A skipped hour holds at most 60 candidate minutes.
    for _ in 0..200 {
        let t = cron.next_after(after, HORIZON_DAYS)?;
        match Local.from_local_datetime(&t) {
            LocalResult::Single(x) if x > now => return Some(x),
            LocalResult::Ambiguous(a, b) => {
                if a > now {
                    return Some(a);
                }
                if b > now {
                    return Some(b);
                }
            }
            _ => {}
        }
        after = t;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn next(expr: &str, after: NaiveDateTime) -> Option<NaiveDateTime> {
        CronSchedule::parse(expr)
            .unwrap()
            .next_after(after, HORIZON_DAYS)
    }

    fn entry(set: &str, level: &str, spec: &str, schedule: &str) -> Entry {
        Entry {
            set: set.into(),
            level: level.into(),
            spec: spec.into(),
            schedule: schedule.into(),
            command: backup_command(
                Path::new("/usr/bin/zrm"),
                Path::new("/etc/zrm/zrm.toml"),
                set,
                level,
            )
            .unwrap(),
        }
    }

    fn purge() -> String {
        purge_line(Path::new("/usr/bin/zrm"), Path::new("/etc/zrm/zrm.toml")).unwrap()
    }

    /// Add `e` to the crontab `text` as `zrm schedule add` does.
    fn add(text: &str, e: Entry) -> (String, Added) {
        let tab = Crontab::split(text.as_bytes()).unwrap();
        let mut block = tab.block().unwrap();
        let added = block.add(e, purge());
        (String::from_utf8(tab.with_block(&block)).unwrap(), added)
    }

    fn remove(text: &str, set: &str, level: Option<&str>) -> (String, Vec<Entry>) {
        let tab = Crontab::split(text.as_bytes()).unwrap();
        let mut block = tab.block().unwrap();
        let removed = block.remove(set, level);
        (String::from_utf8(tab.with_block(&block)).unwrap(), removed)
    }

    const OTHER: &str = "MAILTO=dba@example.com\n# nightly report\n0 6 * * * /usr/local/bin/report --all\n#  a last comment, no newline";

    #[test]
    fn the_block_goes_in_and_out_leaving_every_other_byte() {
        let daily = entry("shard1", "0", "daily@02:30", "30 2 * * *");
        let (one, added) = add(OTHER, daily.clone());
        assert_eq!(added.outcome, AddOutcome::Added);
        assert!(added.purge_added);
        assert_eq!(
            one,
            format!(
                "MAILTO=dba@example.com\n# nightly report\n0 6 * * * /usr/local/bin/report --all\n\
                 {BEGIN}\n\
                 # zrm set=shard1 level=0 spec=daily@02:30\n\
                 30 2 * * * /usr/bin/zrm --config /etc/zrm/zrm.toml --quiet backup --set shard1 --level 0\n\
                 # zrm purge\n\
                 30 4 * * * /usr/bin/zrm --config /etc/zrm/zrm.toml --quiet purge --all\n\
                 {END}\n\
                 #  a last comment, no newline"
            )
        );
        // Adding it again changes nothing.
        let (again, added) = add(&one, daily);
        assert_eq!(added.outcome, AddOutcome::Unchanged);
        assert!(!added.purge_added);
        assert_eq!(again, one);
        // Removing the last entry takes the purge line and the markers: the original again.
        let (back, removed) = remove(&again, "shard1", None);
        assert_eq!(removed.len(), 1);
        assert_eq!(back, OTHER);
    }

    #[test]
    fn empty_and_newline_terminated_crontabs() {
        let e = entry("a", "0", "daily@01:00", "0 1 * * *");
        let (text, _) = add("", e.clone());
        assert!(text.starts_with(BEGIN) && text.ends_with(&format!("{END}\n")));
        assert_eq!(remove(&text, "a", None).0, "");
        let (text, _) = add("0 6 * * * x\n", e);
        assert!(text.starts_with(&format!("0 6 * * * x\n{BEGIN}\n")));
        assert_eq!(remove(&text, "a", None).0, "0 6 * * * x\n");
    }

    #[test]
    fn a_new_spec_for_the_same_set_and_level_replaces_the_entry() {
        let (text, _) = add(OTHER, entry("s", "0", "daily@02:30", "30 2 * * *"));
        let (text, _) = add(&text, entry("t", "0", "daily@03:00", "0 3 * * *"));
        let (text, added) = add(&text, entry("s", "0", "weekly@sun@02:00", "0 2 * * 0"));
        match added.outcome {
            AddOutcome::Replaced(old) => assert_eq!(old.spec, "daily@02:30"),
            o => panic!("{o:?}"),
        }
        let block = Crontab::split(text.as_bytes()).unwrap().block().unwrap();
        assert_eq!(block.entries.len(), 2);
        assert_eq!(
            block.entries[0].set, "s",
            "a replaced entry keeps its place"
        );
        assert_eq!(block.entries[0].schedule, "0 2 * * 0");
        // Another level of the same set is an entry of its own.
        let (text, added) = add(&text, entry("s", "1", "daily@02:30", "30 2 * * *"));
        assert_eq!(added.outcome, AddOutcome::Added);
        let block = Crontab::split(text.as_bytes()).unwrap().block().unwrap();
        assert_eq!(block.entries.len(), 3);
        // Removing one set keeps the other and the purge line.
        let (text, removed) = remove(&text, "s", Some("1"));
        assert_eq!(removed.len(), 1);
        let (text, removed) = remove(&text, "s", None);
        assert_eq!(removed.len(), 1);
        let block = Crontab::split(text.as_bytes()).unwrap().block().unwrap();
        assert_eq!(block.entries.len(), 1);
        assert!(block.purge.is_some());
        // Nothing to remove: nothing changes.
        assert_eq!(remove(&text, "nope", None).0, text);
        let (text, _) = remove(&text, "t", None);
        assert_eq!(text, OTHER);
    }

    #[test]
    fn a_block_in_the_middle_stays_in_the_middle() {
        let text = format!(
            "A=1\n{BEGIN}\n# zrm set=x level=1 spec=cron\n*/15 * * * * /z --config /c --quiet backup --set x --level 1\n{END}\n# after\n"
        );
        let (added, _) = add(&text, entry("y", "0", "daily@02:30", "30 2 * * *"));
        assert!(added.starts_with(&format!("A=1\n{BEGIN}\n")));
        assert!(added.ends_with(&format!("{END}\n# after\n")));
        // The block had no purge line (written by hand): the next add puts one in.
        assert!(added.contains("# zrm purge\n"));
    }

    #[test]
    fn broken_blocks_are_refused_and_remove_all_drops_them() {
        let no_end = format!("A=1\n{BEGIN}\n# zrm set=x level=0 spec=cron\n");
        let e = Crontab::split(no_end.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("no '# END zrm'"), "{e}");
        let stranger = format!("A=1\n{BEGIN}\n5 5 * * * rm -rf /tmp/x\n{END}\nB=2\n");
        let tab = Crontab::split(stranger.as_bytes()).unwrap();
        let e = tab.block().unwrap_err().to_string();
        assert!(
            e.contains("'5 5 * * * rm -rf /tmp/x'") && e.contains("did not write"),
            "{e}"
        );
        assert_eq!(tab.with_block(&Block::default()), b"A=1\nB=2\n");
        let two = format!("{BEGIN}\n{END}\n{BEGIN}\n{END}\n");
        assert!(Crontab::split(two.as_bytes()).is_err());
    }

    #[test]
    fn paths_are_quoted_for_the_shell_and_percent_for_cron() {
        let cmd = backup_command(
            Path::new("/opt/my zrm/zrm"),
            Path::new("/etc/it's 100%/zrm.toml"),
            "s",
            "auto",
        )
        .unwrap();
        assert_eq!(
            cmd,
            r"'/opt/my zrm/zrm' --config '/etc/it'\''s 100\%/zrm.toml' --quiet backup --set s --level auto"
        );
        assert_eq!(
            command_words(&cmd).unwrap(),
            [
                "/opt/my zrm/zrm",
                "--config",
                "/etc/it's 100%/zrm.toml",
                "--quiet",
                "backup",
                "--set",
                "s",
                "--level",
                "auto"
            ]
        );
        assert!(command_words("zrm backup; rm -rf /").is_err());
        assert!(command_words("zrm $HOME").is_err());
        assert!(backup_command(Path::new("/a\nb"), Path::new("/c"), "s", "0").is_err());
        let (schedule, command) = split_cron_line("@daily  /usr/bin/zrm backup");
        assert_eq!(
            (schedule.as_str(), command.as_str()),
            ("@daily", "/usr/bin/zrm backup")
        );
        let (schedule, _) = split_cron_line("30  2 * *   0 x");
        assert_eq!(schedule, "30 2 * * 0");
    }

    #[test]
    fn intervals_translate_to_cron() {
        let t = |i, at, day| interval_schedule(i, at, day).unwrap();
        assert_eq!(
            t(Interval::Daily, "02:30", None),
            ("daily@02:30".into(), "30 2 * * *".into())
        );
        assert_eq!(
            t(Interval::Daily, "0:05", None),
            ("daily@00:05".into(), "5 0 * * *".into())
        );
        assert_eq!(
            t(Interval::Weekly, "02:30", Some("sun")),
            ("weekly@sun@02:30".into(), "30 2 * * 0".into())
        );
        assert_eq!(t(Interval::Weekly, "02:30", Some("7")).1, "30 2 * * 0");
        assert_eq!(t(Interval::Weekly, "02:30", Some("0")).1, "30 2 * * 0");
        assert_eq!(
            t(Interval::Weekly, "23:59", Some("Friday")).1,
            "59 23 * * 5"
        );
        assert_eq!(
            t(Interval::Monthly, "02:30", Some("15")),
            ("monthly@15@02:30".into(), "30 2 15 * *".into())
        );
        let err = |i, at, day| interval_schedule(i, at, day).unwrap_err();
        for bad in [
            "24:00", "12:60", "1230", "ab:cd", "12:5", "", "-1:30", "123:00",
        ] {
            let e = err(Interval::Daily, bad, None);
            assert!(e.to_string().contains("HH:MM"), "{bad}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        let e = err(Interval::Monthly, "02:00", Some("31")).to_string();
        assert!(e.contains("not every month has a day 31"), "{e}");
        assert!(err(Interval::Monthly, "02:00", Some("29"))
            .to_string()
            .contains("day 29"));
        assert!(err(Interval::Monthly, "02:00", Some("0"))
            .to_string()
            .contains("1 to 28"));
        assert!(err(Interval::Monthly, "02:00", None)
            .to_string()
            .contains("needs --day"));
        assert!(err(Interval::Weekly, "02:00", None)
            .to_string()
            .contains("needs --day"));
        assert!(err(Interval::Weekly, "02:00", Some("8"))
            .to_string()
            .contains("'8'"));
        assert!(err(Interval::Weekly, "02:00", Some("sunny"))
            .to_string()
            .contains("sunny"));
        assert!(err(Interval::Daily, "02:00", Some("mon"))
            .to_string()
            .contains("--day"));
    }

    #[test]
    fn cron_expressions_are_validated_field_by_field() {
        for good in [
            "* * * * *",
            "*/15 * * * *",
            "0 2 * * 0",
            "0 2 * * 7",
            "0,30 8-18/2 1-15 jan-jun,DEC mon-fri",
            "59 23 31 12 sat",
            "0 0 * * *",
            "@daily",
            "@hourly",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@midnight",
        ] {
            CronSchedule::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let err = |expr: &str| CronSchedule::parse(expr).unwrap_err().to_string();
        let e = err("0 2 * *");
        assert!(e.contains("4 field(s), not 5"), "{e}");
        let e = err("0 2 * * * /bin/true");
        assert!(e.contains("6 field(s), not 5"), "{e}");
        let e = err("60 2 * * *");
        assert!(
            e.contains("minute field '60'") && e.contains("outside 0-59"),
            "{e}"
        );
        let e = err("0 24 * * *");
        assert!(e.contains("hour field '24'"), "{e}");
        let e = err("0 2 0 * *");
        assert!(
            e.contains("day-of-month field '0'") && e.contains("outside 1-31"),
            "{e}"
        );
        let e = err("0 2 * 13 *");
        assert!(e.contains("month field '13'"), "{e}");
        let e = err("0 2 * * 8");
        assert!(
            e.contains("day-of-week field '8'") && e.contains("outside 0-7"),
            "{e}"
        );
        let e = err("0 2 * * funday");
        assert!(e.contains("'funday'") && e.contains("sun, mon"), "{e}");
        let e = err("0 5-2 * * *");
        assert!(e.contains("runs backwards"), "{e}");
        let e = err("*/0 * * * *");
        assert!(e.contains("step 0"), "{e}");
        let e = err("5/10 * * * *");
        assert!(e.contains("a step needs a range"), "{e}");
        let e = err("1,,2 * * * *");
        assert!(e.contains("empty element"), "{e}");
        let e = err("x * * * *");
        assert!(
            e.contains("minute field 'x'") && e.contains("not a number"),
            "{e}"
        );
        let e = err("@reboot");
        assert!(e.contains("only when the machine starts"), "{e}");
        let e = err("@often");
        assert!(e.contains("not a known macro"), "{e}");
        assert_eq!(
            CronSchedule::parse("61 * * * *").unwrap_err().exit_code(),
            2
        );
    }

    #[test]
    fn next_runs_follow_cron() {
        // 2026-05-13 is a Wednesday.
        let wednesday = at(2026, 5, 13, 10, 0);
        assert_eq!(next("0 2 * * 0", wednesday), Some(at(2026, 5, 17, 2, 0)));
        assert_eq!(next("0 2 * * 7", wednesday), Some(at(2026, 5, 17, 2, 0)));
        assert_eq!(next("@weekly", wednesday), Some(at(2026, 5, 17, 0, 0)));
        // Every 15 minutes: strictly after now, to the minute.
        let t = at(2026, 5, 13, 10, 7) + Duration::seconds(30);
        assert_eq!(next("*/15 * * * *", t), Some(at(2026, 5, 13, 10, 15)));
        assert_eq!(
            next("*/15 * * * *", at(2026, 5, 13, 10, 15)),
            Some(at(2026, 5, 13, 10, 30))
        );
        assert_eq!(
            next("*/15 * * * *", at(2026, 5, 13, 23, 50)),
            Some(at(2026, 5, 14, 0, 0))
        );
        // Both day fields restricted: the 13th OR a Friday.
        let monday = at(2026, 5, 11, 12, 0);
        assert_eq!(next("0 0 13 * 5", monday), Some(at(2026, 5, 13, 0, 0)));
        assert_eq!(
            next("0 0 13 * 5", at(2026, 5, 13, 0, 0)),
            Some(at(2026, 5, 15, 0, 0))
        );
        // One of them starting with '*': both must match (odd days that are Fridays).
        assert_eq!(next("0 0 */2 * 5", monday), Some(at(2026, 5, 15, 0, 0)));
        assert_eq!(
            next("0 0 13 * *", at(2026, 5, 13, 0, 0)),
            Some(at(2026, 6, 13, 0, 0))
        );
        // Monthly on the 15th, across a month's and a year's end.
        assert_eq!(
            next("30 2 15 * *", at(2026, 1, 20, 0, 0)),
            Some(at(2026, 2, 15, 2, 30))
        );
        assert_eq!(
            next("30 2 15 * *", at(2026, 12, 20, 0, 0)),
            Some(at(2027, 1, 15, 2, 30))
        );
        assert_eq!(
            next("30 2 15 * *", at(2026, 5, 15, 2, 29)),
            Some(at(2026, 5, 15, 2, 30))
        );
        // Names, lists and ranges with steps.
        assert_eq!(
            next("0 8-18/5 * * mon-fri", at(2026, 5, 15, 18, 0)),
            Some(at(2026, 5, 18, 8, 0))
        );
        // 29 February comes in 2028; 30 February never.
        assert_eq!(
            next("0 0 29 2 *", at(2026, 3, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        assert_eq!(next("0 0 30 2 *", at(2026, 3, 1, 0, 0)), None);
    }

    #[test]
    fn next_run_in_local_time_is_after_now() {
        let cron = CronSchedule::parse("* * * * *").unwrap();
        let now = Local::now();
        let next = next_run_local(&cron, now).unwrap();
        assert!(
            next > now && next - now <= Duration::minutes(61),
            "{now} → {next}"
        );
    }
}
