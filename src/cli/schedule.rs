//! `zrm schedule add|list|remove|run`: the command line of scheduled backups; the crontab
//! block, cron expressions and next runs are the library's (`crate::schedule`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Local};
use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;

use super::Context;
use crate::error::{Error, Result};
use crate::output::{emit, emit_json, table, Format};
use crate::schedule::*;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a scheduled backup of a set to your crontab (or replace the set's entry of that level)
    Add(AddArgs),
    /// List the scheduled backups with their next run (local time)
    List(ListArgs),
    /// Remove a set's scheduled backups, or with --all zrm's whole crontab block
    Remove(RemoveArgs),
    /// Run a set's scheduled backup now, as cron would (to test a schedule); exits with its code
    Run(RunArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("when").required(true).args(["interval", "cron"])))]
pub struct AddArgs {
    /// The backup set (a [sets.NAME] of the configuration)
    #[arg(long)]
    pub set: String,
    /// How often: daily, weekly (with --day mon..sun) or monthly (with --day 1-28)
    #[arg(long, value_enum, requires = "at")]
    pub interval: Option<Interval>,
    /// Time of day for --interval, local time, HH:MM from 00:00 to 23:59
    #[arg(long, value_name = "HH:MM", requires = "interval")]
    pub at: Option<String>,
    /// Day for --interval weekly (mon..sun, or 0-7: 0 and 7 are sunday) or monthly (1-28)
    #[arg(long, value_name = "DAY", requires = "interval")]
    pub day: Option<String>,
    /// A cron expression instead of --interval: "M H DOM MON DOW", or @daily, @weekly, …
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// 0 = full, 1 = incremental, auto = full if none usable (as for `zrm backup`)
    #[arg(long, default_value = "0", value_parser = ["0", "1", "auto"])]
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Interval {
    Daily,
    Weekly,
    Monthly,
}

impl From<Interval> for crate::schedule::Interval {
    fn from(i: Interval) -> Self {
        match i {
            Interval::Daily => crate::schedule::Interval::Daily,
            Interval::Weekly => crate::schedule::Interval::Weekly,
            Interval::Monthly => crate::schedule::Interval::Monthly,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this set's entries
    #[arg(long)]
    pub set: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Remove this set's entries
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub set: Option<String>,
    /// Only the entry of this level
    #[arg(long, requires = "set", value_parser = ["0", "1", "auto"])]
    pub level: Option<String>,
    /// Remove zrm's whole block from the crontab (every set, and the purge line)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The backup set
    #[arg(long)]
    pub set: String,
    /// Which entry, when the set has several (e.g. a weekly level 0 and a daily level 1)
    #[arg(long, value_parser = ["0", "1", "auto"])]
    pub level: Option<String>,
}

pub fn run(ctx: &Context, cmd: ScheduleCommand) -> Result<i32> {
    ctx.require_format("schedule", &[Format::Text, Format::Json])?;
    match cmd {
        ScheduleCommand::Add(a) => add(ctx, a),
        ScheduleCommand::List(a) => list(ctx, a),
        ScheduleCommand::Remove(a) => remove(ctx, a),
        ScheduleCommand::Run(a) => run_now(ctx, a),
    }
}

// ---------------------------------------------------------------------------------------------
// The commands
// ---------------------------------------------------------------------------------------------

fn add(ctx: &Context, a: AddArgs) -> Result<i32> {
    crate::repo::check_component("set name", &a.set)?;
    let config = ctx.config()?;
    if !config.has_set(&a.set) {
        return Err(config.unknown_set(&a.set));
    }
    let (spec, schedule) = match (a.interval, &a.cron) {
        (Some(interval), None) => {
            let at = a
                .at
                .as_deref()
                .ok_or_else(|| Error::Usage("--interval needs --at HH:MM (local time)".into()))?;
            interval_schedule(interval.into(), at, a.day.as_deref())?
        }
        (None, Some(expr)) => ("cron".to_string(), normalize_cron(expr)),
        _ => {
            return Err(Error::Usage(
                "schedule add needs either --interval (with --at) or --cron".into(),
            ))
        }
    };
    let cron = CronSchedule::parse(&schedule)?;
    let next = next_run_local(&cron, Local::now());
    if next.is_none() {
        return Err(Error::Usage(format!(
            "cron expression '{schedule}' never fires (no such date in any year): \
             check its day-of-month and month fields"
        )));
    }
    let zrm = std::env::current_exe()
        .map_err(|e| Error::io("find the path of the running zrm binary", "zrm", e))?;
    let config_path = absolute(&config.source)?;
    let entry = Entry {
        set: a.set.clone(),
        level: a.level.clone(),
        spec,
        schedule,
        command: backup_command(&zrm, &config_path, &a.set, &a.level)?,
    };
    let purge = purge_line(&zrm, &config_path)?;

    let crontab = CrontabTool::locate()?;
    let old = crontab.read()?;
    let tab = Crontab::split(&old)?;
    let mut block = tab.block()?;
    let added = block.add(entry.clone(), purge);
    let new = tab.with_block(&block);
    if new != old {
        crontab.write(&new)?;
    }

    if ctx.json() {
        let (action, replaced) = match &added.outcome {
            AddOutcome::Added => ("added", None),
            AddOutcome::Unchanged => ("unchanged", None),
            AddOutcome::Replaced(old) => ("replaced", Some(EntryView::of(old, Local::now()))),
        };
        emit_json(&serde_json::json!({
            "action": action,
            "entry": EntryView::of(&entry, Local::now()),
            "replaced": replaced,
            "purge_added": added.purge_added,
        }));
        return Ok(0);
    }
    let what = format!(
        "level {} backup of set '{}' {}",
        entry.level,
        entry.set,
        when(&entry)
    );
    let mut text = match &added.outcome {
        AddOutcome::Added => format!("scheduled a {what}"),
        AddOutcome::Unchanged => format!("already scheduled, crontab unchanged: {what}"),
        AddOutcome::Replaced(old) if old.spec == entry.spec && old.schedule == entry.schedule => {
            format!("updated the command line (zrm binary or configuration path) of the {what}")
        }
        AddOutcome::Replaced(old) => format!(
            "replaced the level {} entry of set '{}' ({}) with: {what}",
            old.level,
            old.set,
            when(old)
        ),
    };
    if let Some(next) = next {
        text.push_str(&format!("\nnext run: {}", show_time(&next)));
    }
    if added.purge_added {
        text.push_str(&format!(
            "\nalso added the daily retention run `zrm purge --all` (cron `{PURGE_SCHEDULE}`)"
        ));
    }
    text.push('\n');
    emit(&text);
    Ok(0)
}

fn list(ctx: &Context, a: ListArgs) -> Result<i32> {
    let crontab = CrontabTool::locate()?;
    let tab = Crontab::split(&crontab.read()?)?;
    let block = tab.block()?;
    let now = Local::now();
    let entries: Vec<EntryView> = block
        .entries
        .iter()
        .filter(|e| a.set.as_deref().is_none_or(|s| e.set == s))
        .map(|e| EntryView::of(e, now))
        .collect();
    if ctx.json() {
        emit_json(&serde_json::json!({ "entries": entries, "purge": block.purge.is_some() }));
        return Ok(0);
    }
    if entries.is_empty() {
        emit(&match &a.set {
            Some(s) => format!(
                "set '{s}' has no scheduled backup in this user's crontab: add one with \
                 `zrm schedule add --set {s} --interval daily --at 02:00`\n"
            ),
            None => "no backups are scheduled in this user's crontab: add one with \
                     `zrm schedule add --set S --interval daily --at 02:00`\n"
                .to_string(),
        });
    } else {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    e.set.clone(),
                    e.level.clone(),
                    describe_spec(&e.spec),
                    e.cron.clone(),
                    e.next_run_text.clone(),
                ]
            })
            .collect();
        emit(&table(
            &["SET", "LEVEL", "SCHEDULE", "CRON", "NEXT RUN"],
            &rows,
        ));
    }
    if let Some(line) = &block.purge {
        let (schedule, _) = split_cron_line(line);
        let next = CronSchedule::parse(&schedule)
            .ok()
            .and_then(|c| next_run_local(&c, now))
            .map_or_else(|| "never".to_string(), |t| show_time(&t));
        emit(&format!(
            "purge --all (retention, every set): cron `{schedule}`, next run {next}\n"
        ));
    }
    Ok(0)
}

fn remove(ctx: &Context, a: RemoveArgs) -> Result<i32> {
    let crontab = CrontabTool::locate()?;
    let old = crontab.read()?;
    let tab = Crontab::split(&old)?;
    let (removed, purge_removed) = match &a.set {
        // The whole block goes, even one zrm cannot read any more.
        None => {
            let had_block = tab.has_block();
            let removed = tab.block().map(|b| b.entries).unwrap_or_default();
            (removed, had_block)
        }
        Some(set) => {
            let mut block = tab.block()?;
            let had_purge = block.purge.is_some();
            let removed = block.remove(set, a.level.as_deref());
            let new = tab.with_block(&block);
            if new != old {
                crontab.write(&new)?;
            }
            (removed, had_purge && block.purge.is_none())
        }
    };
    if a.set.is_none() {
        let new = tab.with_block(&Block::default());
        if new != old {
            crontab.write(&new)?;
        }
    }
    if ctx.json() {
        let now = Local::now();
        let views: Vec<EntryView> = removed.iter().map(|e| EntryView::of(e, now)).collect();
        emit_json(&serde_json::json!({ "removed": views, "purge_removed": purge_removed }));
        return Ok(0);
    }
    let mut text = String::new();
    if removed.is_empty() && !purge_removed {
        text.push_str(&match &a.set {
            Some(s) => format!(
                "set '{s}' has no scheduled backup{} in this user's crontab: nothing to remove\n",
                a.level
                    .as_deref()
                    .map_or(String::new(), |l| format!(" of level {l}"))
            ),
            None => "there is no zrm block in this user's crontab: nothing to remove\n".into(),
        });
    }
    for e in &removed {
        text.push_str(&format!(
            "removed the level {} backup of set '{}' ({})\n",
            e.level,
            e.set,
            when(e)
        ));
    }
    if purge_removed {
        text.push_str(&if a.set.is_some() {
            "removed the daily `zrm purge --all` too: no backup is scheduled any more\n".to_string()
        } else {
            "removed zrm's block from the crontab\n".to_string()
        });
    }
    emit(&text);
    Ok(0)
}

/// Run the set's scheduled command now, without `--quiet`, with this terminal's stdio.
fn run_now(ctx: &Context, a: RunArgs) -> Result<i32> {
    let crontab = CrontabTool::locate()?;
    let tab = Crontab::split(&crontab.read()?)?;
    let block = tab.block()?;
    let mut chosen: Vec<&Entry> = block
        .entries
        .iter()
        .filter(|e| e.set == a.set && a.level.as_deref().is_none_or(|l| e.level == l))
        .collect();
    let entry = match chosen.len() {
        1 => chosen.remove(0),
        0 => {
            return Err(Error::Usage(format!(
                "set '{}' has no scheduled backup{} in this user's crontab: add one with \
                 `zrm schedule add --set {} …`, or run `zrm backup --set {}` directly",
                a.set,
                a.level
                    .as_deref()
                    .map_or(String::new(), |l| format!(" of level {l}")),
                a.set,
                a.set
            )))
        }
        _ => {
            return Err(Error::Usage(format!(
                "set '{}' has {} scheduled backups (levels {}): choose one with --level",
                a.set,
                chosen.len(),
                chosen
                    .iter()
                    .map(|e| e.level.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let mut words = command_words(&entry.command).map_err(|why| {
        Error::Usage(format!(
            "the crontab entry of set '{}' is not a command zrm can run itself ({why}): \
             add the schedule again with `zrm schedule add`",
            a.set
        ))
    })?;
    // What cron runs, but talking to this terminal: drop the `--quiet` zrm put before the
    // subcommand, and pass on this invocation's output flags.
    if let Some(i) = words.iter().position(|w| w == "backup") {
        if let Some(q) = words[..i].iter().position(|w| w == "--quiet") {
            words.remove(q);
        }
    }
    let mut argv: Vec<String> = words.split_off(1);
    let program = words.remove(0);
    let mut flags = Vec::new();
    if ctx.global.quiet {
        flags.push("--quiet".to_string());
    }
    for _ in 0..ctx.global.verbose {
        flags.push("-v".to_string());
    }
    if ctx.global.no_progress {
        flags.push("--no-progress".to_string());
    }
    if ctx.json() {
        flags.extend(["--format".to_string(), "json".to_string()]);
    }
    argv.splice(0..0, flags);
    ctx.note(&format!(
        "running the scheduled level {} backup of set '{}': {} {}",
        entry.level,
        entry.set,
        program,
        argv.join(" ")
    ));
    let mut child = std::process::Command::new(&program);
    child.args(&argv);
    // The backup dies with this zrm, as every tool does; SIGINT/SIGTERM reach it too.
    let status = crate::command::spawn_tied(child, libc::SIGTERM).and_then(|mut c| {
        let stop = crate::command::stop_guard(
            &c,
            format!("interrupt the scheduled backup of set '{}'", entry.set),
            libc::SIGTERM,
            std::time::Duration::from_secs(120),
        );
        let status = c.wait();
        stop.disarm();
        status
    });
    let status = status.map_err(|e| Error::Tool {
        tool: program.clone(),
        status: "could not start".into(),
        stderr: format!(
            "{e}; the crontab entry of set '{}' names a zrm binary that cannot run: add the \
             schedule again with `zrm schedule add` from the zrm you use now",
            a.set
        ),
    })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// An entry as `list` and `--format json` show it.
#[derive(Debug, Serialize)]
struct EntryView {
    set: String,
    level: String,
    spec: String,
    cron: String,
    command: String,
    next_run: Option<String>,
    #[serde(skip)]
    next_run_text: String,
}

impl EntryView {
    fn of(e: &Entry, now: DateTime<Local>) -> EntryView {
        let next = CronSchedule::parse(&e.schedule)
            .ok()
            .and_then(|c| next_run_local(&c, now));
        EntryView {
            set: e.set.clone(),
            level: e.level.clone(),
            spec: e.spec.clone(),
            cron: e.schedule.clone(),
            command: e.command.clone(),
            next_run: next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
            next_run_text: next.map_or_else(|| "never".to_string(), |t| show_time(&t)),
        }
    }
}

fn show_time(t: &DateTime<Local>) -> String {
    t.format("%a %Y-%m-%d %H:%M %:z").to_string()
}

/// When an entry runs, for a sentence.
fn when(e: &Entry) -> String {
    if e.spec == "cron" {
        format!("on the cron schedule `{}`", e.schedule)
    } else {
        format!("{}, cron `{}`", describe_spec(&e.spec), e.schedule)
    }
}

/// `daily@02:30` → `daily at 02:30`.
fn describe_spec(spec: &str) -> String {
    let parts: Vec<&str> = spec.split('@').collect();
    match parts.as_slice() {
        ["daily", at] => format!("daily at {at}"),
        ["weekly", day, at] => format!("weekly on {day} at {at}"),
        ["monthly", day, at] => format!("monthly on day {day} at {at}"),
        _ => spec.to_string(),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).map_err(|e| Error::io("find the absolute path of", p, e))
}
