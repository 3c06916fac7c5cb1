//! `zrm report [--view V] [--set S] [--since T]` in text, json, csv or html: how the backups are
//! doing, from the repository alone (no server is contacted).
//!
//! Views, as ZRM had them: `status` (default; per set), `method`, `retention`, `performance`,
//! `restore-points` (per set: the earliest and latest point a restore can reach, and gaps) and
//! `verify` (the last verify of each backup). `--format html` writes one self-contained page:
//! a chart of backup size and duration over time, the restore window of every set, and the
//! view's table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::Context;
use crate::catalog::{self, CatalogEntry, Manifest};
use crate::config::ConfigFile;
use crate::error::Result;
use crate::output::{emit, emit_json, human_bytes, table, Format};
use crate::repo::Repository;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum View {
    #[default]
    Status,
    Method,
    Retention,
    Performance,
    RestorePoints,
    Verify,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// What to show
    #[arg(long, value_enum, default_value_t = View::Status)]
    pub view: View,
    /// Only this set
    #[arg(long)]
    pub set: Option<String>,
    /// Only backups started at or after this time (UTC unless an offset is given)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

/// One report: column names and rows of text cells.
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// The first and last archived binlog event of a set, and the gaps between.
struct ArchiveSpan {
    last: Option<DateTime<Utc>>,
    gaps: Vec<String>,
}

/// Everything the views are made of, read once.
struct Data {
    /// Set → its complete backups, oldest first.
    backups: BTreeMap<String, Vec<Manifest>>,
    /// Set → what its binlog archive spans.
    archive: BTreeMap<String, ArchiveSpan>,
    verifies: BTreeMap<(String, String), super::verify::VerifyRecord>,
    /// Set → its archive against its server (sets of the configuration only).
    coverage: BTreeMap<String, crate::binlog::coverage::Coverage>,
}

pub async fn run(ctx: &Context, args: ReportArgs) -> Result<i32> {
    let config = ctx.config()?;
    let repo = Repository::open(&config, false)?;
    let sets: Vec<String> = match &args.set {
        Some(s) => {
            if !config.has_set(s) {
                return Err(config.unknown_set(s));
            }
            vec![s.clone()]
        }
        None => {
            let mut all: Vec<String> = config.sets.keys().cloned().collect();
            for s in catalog::sets_in_repo(&repo)? {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
            all
        }
    };
    let since = args
        .since
        .as_deref()
        .map(|t| crate::timeparse::parse_time(t, chrono::FixedOffset::east_opt(0).expect("UTC")))
        .transpose()?;
    let mut data = tokio::task::block_in_place(|| load(&repo, &sets, since))?;
    // Whether each set's archive reaches its server's current binlog: a report that says ok
    // while the archive stalled would hide a shortened restore.
    for set in &sets {
        if let Ok(cfg) = config.resolve_set(set, &Default::default()) {
            let c = crate::binlog::coverage::probe(&repo, &cfg).await;
            data.coverage.insert(set.clone(), c);
        }
    }
    let warnings: Vec<String> = data
        .coverage
        .iter()
        .filter_map(|(set, c)| c.warning(set))
        .collect();
    let t = view_table(&config, &repo, &data, args.view);
    match ctx.global.format {
        Format::Text => {
            let mut out = table(&t.headers, &t.rows);
            if matches!(args.view, View::Status | View::RestorePoints) {
                for w in &warnings {
                    out.push_str(&format!("WARNING: {w}\n"));
                }
            }
            emit(&out)
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = t
                .rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        t.headers
                            .iter()
                            .zip(r)
                            .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                })
                .collect();
            emit_json(&serde_json::json!({
                "view": format!("{:?}", args.view).to_lowercase(),
                "rows": rows,
                "warnings": warnings,
            }));
        }
        Format::Csv => emit(&csv(&t)),
        Format::Html => emit(&html(&data, args.view, &t)),
    }
    Ok(0)
}

fn load(repo: &Repository, sets: &[String], since: Option<DateTime<Utc>>) -> Result<Data> {
    let mut data = Data {
        backups: BTreeMap::new(),
        archive: BTreeMap::new(),
        verifies: BTreeMap::new(),
        coverage: BTreeMap::new(),
    };
    for set in sets {
        let mut list: Vec<Manifest> = catalog::list_set(repo, set)?
            .into_iter()
            .filter_map(|e| match e {
                CatalogEntry::Complete(m) => Some(*m),
                _ => None,
            })
            .filter(|m| since.is_none_or(|s| m.start_time >= s))
            .collect();
        list.sort_by_key(|m| m.start_time);
        for m in &list {
            let rel = super::verify::verify_record_path(set, &m.id);
            if repo.backend().exists(&rel).unwrap_or(false) {
                if let Ok(r) = repo
                    .read_small(&rel)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                {
                    data.verifies.insert((set.clone(), m.id.clone()), r);
                }
            }
        }
        data.backups.insert(set.clone(), list);
        // A set without archived binlogs has no span (and no gap) to show.
        let span = match crate::binlog::sources::archived(repo, set) {
            Ok(view) => ArchiveSpan {
                last: view.last_event(),
                gaps: view.gaps.iter().map(|g| g.to_string()).collect(),
            },
            Err(_)
                if crate::binlog::archive_index::servers(repo, set)
                    .is_ok_and(|ids| ids.is_empty()) =>
            {
                ArchiveSpan {
                    last: None,
                    gaps: Vec::new(),
                }
            }
            // An archive that cannot be read is not an empty one.
            Err(e) => ArchiveSpan {
                last: None,
                gaps: vec![format!("the archive cannot be read: {e}")],
            },
        };
        data.archive.insert(set.clone(), span);
    }
    Ok(data)
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn secs(m: &Manifest) -> f64 {
    (m.end_time - m.start_time).num_milliseconds() as f64 / 1000.0
}

fn view_table(config: &ConfigFile, repo: &Repository, d: &Data, view: View) -> Table {
    let now = Utc::now();
    let all = || {
        d.backups
            .iter()
            .flat_map(|(s, l)| l.iter().map(move |m| (s.as_str(), m)))
    };
    match view {
        View::Status => Table {
            headers: vec![
                "set",
                "last backup",
                "level",
                "method",
                "age",
                "size",
                "last full",
                "last verify",
                "binlogs archived to",
                "archive lag",
                "status",
            ],
            rows: d
                .backups
                .iter()
                .map(|(set, list)| {
                    let last = list.last();
                    let full = list.iter().rev().find(|m| m.level == 0);
                    let verify = list
                        .iter()
                        .rev()
                        .find_map(|m| d.verifies.get(&(set.clone(), m.id.clone())));
                    let ArchiveSpan {
                        last: archived,
                        gaps,
                    } = &d.archive[set];
                    use crate::binlog::coverage::Level;
                    let coverage = d.coverage.get(set).map(|c| c.level);
                    let status = match (last, gaps.is_empty()) {
                        (None, _) => "NO BACKUP".to_string(),
                        (_, false) => "GAP IN BINLOGS".to_string(),
                        _ if coverage == Some(Level::Broken) => "BINLOG ARCHIVE BROKEN".into(),
                        _ if coverage == Some(Level::Behind) => "BINLOG ARCHIVE BEHIND".into(),
                        (Some(_), true) if verify.is_some_and(|v| !v.ok) => {
                            "LAST VERIFY FAILED".to_string()
                        }
                        _ if coverage == Some(Level::Unknown) => {
                            "ok (server not reached: archive not compared)".to_string()
                        }
                        _ => "ok".to_string(),
                    };
                    vec![
                        set.clone(),
                        last.map_or("-".into(), |m| m.id.clone()),
                        last.map_or("-".into(), |m| m.level.to_string()),
                        last.map_or("-".into(), |m| m.method.to_string()),
                        last.map_or("-".into(), |m| age(now - m.start_time)),
                        last.map_or("-".into(), |m| human_bytes(m.total_stored_size())),
                        full.map_or("-".into(), |m| m.id.clone()),
                        verify.map_or("never".into(), |v| {
                            format!("{} {}", if v.ok { "ok" } else { "FAILED" }, ts(v.time))
                        }),
                        archived.map_or("-".into(), ts),
                        archived.map_or("-".into(), |t| age(now - t)),
                        status,
                    ]
                })
                .collect(),
        },
        View::Method => Table {
            headers: vec![
                "set",
                "backup",
                "level",
                "method",
                "tool",
                "compression",
                "encryption",
                "lock",
            ],
            rows: all()
                .map(|(set, m)| {
                    vec![
                        set.to_string(),
                        m.id.clone(),
                        m.level.to_string(),
                        m.method.to_string(),
                        m.tool
                            .dump_tool
                            .clone()
                            .unwrap_or_else(|| m.tool.zrm.clone()),
                        m.compression.to_string(),
                        m.encryption_key_id.clone().unwrap_or_else(|| "none".into()),
                        m.logical
                            .as_ref()
                            .map(|l| l.snapshot.lock.clone())
                            .or_else(|| m.physical.as_ref().map(|p| p.lock.clone()))
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect(),
        },
        View::Retention => {
            let mut rows = Vec::new();
            for (set, list) in &d.backups {
                // The same policy and planner as `purge`, so the view says what purge will do.
                let (retention, keep_full) = (config.retention_of(set), config.keep_full_of(set));
                let metas: Vec<crate::retention::BackupMeta> = list
                    .iter()
                    .map(|m| {
                        crate::retention::BackupMeta::of(
                            m,
                            super::purge::is_pinned(repo, set, &m.id),
                        )
                    })
                    .collect();
                let plan = crate::retention::plan(
                    now,
                    crate::retention::Policy::for_set(config, set),
                    &metas,
                    &[],
                );
                for (m, dcs) in list.iter().zip(&plan.backups) {
                    rows.push(vec![
                        set.clone(),
                        m.id.clone(),
                        m.level.to_string(),
                        ts(m.start_time),
                        retention.map_or("-".into(), |r| r.to_string()),
                        keep_full.map_or("-".into(), |k| k.to_string()),
                        retention.map_or("never".into(), |r| ts(m.end_time + r.as_duration())),
                        if metas.iter().any(|x| x.id == m.id && x.pinned) {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        if dcs.keep {
                            "keep".into()
                        } else {
                            "purge".into()
                        },
                        dcs.reason.clone(),
                    ]);
                }
            }
            Table {
                headers: vec![
                    "set",
                    "backup",
                    "level",
                    "started",
                    "retention",
                    "keep_full",
                    "expires",
                    "pinned",
                    "next purge",
                    "why",
                ],
                rows,
            }
        }
        View::Performance => Table {
            headers: vec![
                "set",
                "backup",
                "level",
                "method",
                "seconds",
                "size",
                "stored",
                "ratio",
                "MB/s",
                "read lock ms",
            ],
            rows: all()
                .map(|(set, m)| {
                    let s = secs(m);
                    let size = m.total_size();
                    vec![
                        set.to_string(),
                        m.id.clone(),
                        m.level.to_string(),
                        m.method.to_string(),
                        format!("{s:.1}"),
                        human_bytes(size),
                        human_bytes(m.total_stored_size()),
                        if m.total_stored_size() > 0 {
                            format!("{:.2}", size as f64 / m.total_stored_size() as f64)
                        } else {
                            "-".into()
                        },
                        if s > 0.0 {
                            format!("{:.1}", size as f64 / s / 1e6)
                        } else {
                            "-".into()
                        },
                        m.read_lock_ms.map_or("-".into(), |l| l.to_string()),
                    ]
                })
                .collect(),
        },
        View::RestorePoints => Table {
            headers: vec!["set", "earliest point", "latest point", "backups", "gaps"],
            rows: d
                .backups
                .iter()
                .map(|(set, list)| {
                    let (earliest, latest) = window(list, &d.archive[set]);
                    let gaps = &d.archive[set].gaps;
                    vec![
                        set.clone(),
                        earliest.map_or("-".into(), ts),
                        latest.map_or("-".into(), ts),
                        list.len().to_string(),
                        if gaps.is_empty() {
                            "none".into()
                        } else {
                            gaps.join("; ")
                        },
                    ]
                })
                .collect(),
        },
        View::Verify => Table {
            headers: vec![
                "set",
                "backup",
                "verified",
                "result",
                "test restore",
                "checked",
                "failures",
            ],
            rows: all()
                .map(
                    |(set, m)| match d.verifies.get(&(set.to_string(), m.id.clone())) {
                        Some(v) => vec![
                            set.to_string(),
                            m.id.clone(),
                            ts(v.time),
                            if v.ok { "ok".into() } else { "FAILED".into() },
                            if v.restored {
                                "yes".into()
                            } else {
                                "no".into()
                            },
                            format!(
                                "{} file(s), {}",
                                v.files_checked,
                                human_bytes(v.bytes_checked)
                            ),
                            v.failures.join("; "),
                        ],
                        None => vec![
                            set.to_string(),
                            m.id.clone(),
                            "never".into(),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                            String::new(),
                        ],
                    },
                )
                .collect(),
        },
    }
}

/// The earliest point a restore reaches (the oldest full's end) and the latest (the last
/// archived event, or the newest backup's end).
fn window(
    list: &[Manifest],
    archive: &ArchiveSpan,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let earliest = list
        .iter()
        .filter(|m| m.level == 0)
        .map(|m| m.end_time)
        .min();
    let newest = list.iter().map(|m| m.end_time).max();
    let latest = match (archive.last, newest) {
        (Some(a), Some(n)) => Some(a.max(n)),
        (a, n) => a.or(n),
    };
    (earliest, latest.filter(|_| earliest.is_some()))
}

fn age(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    match m {
        0..=119 => format!("{m}m"),
        120..=2879 => format!("{}h", m / 60),
        _ => format!("{}d", m / 1440),
    }
}

fn csv(t: &Table) -> String {
    let cell = |c: &str| {
        if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.to_string()
        }
    };
    let mut out = t
        .headers
        .iter()
        .map(|h| cell(h))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for r in &t.rows {
        out.push_str(&(r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",") + "\n"));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained page: inline CSS and SVG, no script, no external resource.
fn html(d: &Data, view: View, t: &Table) -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zrm report</title>\n\
         <style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}th{background:#eee}\
         .chart{border:1px solid #ccc;margin:0.5em 0}</style></head><body>\n",
    );
    page.push_str(&format!(
        "<h1>zrm report</h1><p>Generated {} UTC.</p>\n",
        ts(Utc::now())
    ));
    page.push_str("<h2>Backup size and duration over time</h2>\n");
    page.push_str(&size_chart(d));
    page.push_str("<h2>Restore window per set</h2>\n");
    page.push_str(&window_chart(d));
    page.push_str(&format!(
        "<h2>View: {}</h2>\n<table id=\"view\"><tr>{}</tr>\n",
        esc(&format!("{view:?}").to_lowercase()),
        t.headers
            .iter()
            .map(|h| format!("<th>{}</th>", esc(h)))
            .collect::<String>()
    ));
    for r in &t.rows {
        page.push_str(&format!(
            "<tr>{}</tr>\n",
            r.iter()
                .map(|c| format!("<td>{}</td>", esc(c)))
                .collect::<String>()
        ));
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

const W: f64 = 800.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// Stored size (solid) and duration (dashed) of every backup, per set, on one time axis.
fn size_chart(d: &Data) -> String {
    let points: Vec<(&String, &Manifest)> = d
        .backups
        .iter()
        .flat_map(|(s, l)| l.iter().map(move |m| (s, m)))
        .collect();
    if points.is_empty() {
        return "<p>No backup yet.</p>\n".into();
    }
    let t0 = points
        .iter()
        .map(|(_, m)| m.start_time.timestamp())
        .min()
        .unwrap_or(0) as f64;
    let t1 = points
        .iter()
        .map(|(_, m)| m.start_time.timestamp())
        .max()
        .unwrap_or(0) as f64;
    let span = (t1 - t0).max(1.0);
    let max_size = points
        .iter()
        .map(|(_, m)| m.total_stored_size())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_secs = points.iter().map(|(_, m)| secs(m)).fold(0.001, f64::max);
    let x = |t: i64| PAD + (t as f64 - t0) / span * (W - 2.0 * PAD);
    let y = |v: f64, max: f64| H - PAD - v / max * (H - 2.0 * PAD);
    let mut svg = format!(
        "<svg id=\"size-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\n\
         <line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\n\
         <text x=\"{PAD}\" y=\"15\" font-size=\"11\">stored size (solid, max {}) and duration (dashed, max {max_secs:.1} s)</text>\n",
        H - PAD,
        W - PAD,
        H - PAD,
        human_bytes(max_size as u64)
    );
    for (i, (set, list)) in d.backups.iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let c = COLORS[i % COLORS.len()];
        let size_pts: Vec<String> = list
            .iter()
            .map(|m| {
                format!(
                    "{:.1},{:.1}",
                    x(m.start_time.timestamp()),
                    y(m.total_stored_size() as f64, max_size)
                )
            })
            .collect();
        let dur_pts: Vec<String> = list
            .iter()
            .map(|m| {
                format!(
                    "{:.1},{:.1}",
                    x(m.start_time.timestamp()),
                    y(secs(m), max_secs)
                )
            })
            .collect();
        svg.push_str(&format!(
            "<polyline class=\"size\" data-set=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <polyline class=\"duration\" data-set=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-dasharray=\"4 3\" points=\"{}\"/>\n",
            esc(set),
            size_pts.join(" "),
            esc(set),
            dur_pts.join(" ")
        ));
        for m in list {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{c}\"><title>{} {}: {}, {:.1} s</title></circle>\n",
                x(m.start_time.timestamp()),
                y(m.total_stored_size() as f64, max_size),
                esc(set),
                m.id,
                human_bytes(m.total_stored_size()),
                secs(m)
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{c}\">{}</text>\n",
            W - PAD + 2.0,
            30.0 + 14.0 * i as f64,
            esc(set)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{PAD}\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n</svg>\n",
        H - 10.0,
        ts(DateTime::from_timestamp(t0 as i64, 0).unwrap_or_default()),
        W - PAD,
        H - 10.0,
        ts(DateTime::from_timestamp(t1 as i64, 0).unwrap_or_default())
    ));
    svg
}

/// One bar per set from its earliest to its latest restore point.
fn window_chart(d: &Data) -> String {
    type Span<'a> = (&'a String, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let windows: Vec<Span> = d
        .backups
        .iter()
        .map(|(s, l)| {
            let (a, b) = window(l, &d.archive[s]);
            (s, a, b)
        })
        .collect();
    let known: Vec<_> = windows
        .iter()
        .filter_map(|(s, a, b)| Some((*s, (*a)?, (*b)?)))
        .collect();
    if known.is_empty() {
        return "<p>No set can be restored yet.</p>\n".into();
    }
    let t0 = known
        .iter()
        .map(|k| k.1)
        .min()
        .expect("non-empty")
        .timestamp() as f64;
    let t1 = known
        .iter()
        .map(|k| k.2)
        .max()
        .expect("non-empty")
        .timestamp() as f64;
    let span = (t1 - t0).max(1.0);
    let h = 30.0 + 24.0 * windows.len() as f64;
    let x = |t: DateTime<Utc>| 140.0 + (t.timestamp() as f64 - t0) / span * (W - 180.0);
    let mut svg = format!(
        "<svg id=\"window-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\">\n"
    );
    for (i, (set, a, b)) in windows.iter().enumerate() {
        let yy = 10.0 + 24.0 * i as f64;
        svg.push_str(&format!(
            "<text x=\"5\" y=\"{}\" font-size=\"12\">{}</text>\n",
            yy + 13.0,
            esc(set)
        ));
        if let (Some(a), Some(b)) = (a, b) {
            svg.push_str(&format!(
                "<rect class=\"window\" data-set=\"{}\" x=\"{:.1}\" y=\"{yy}\" width=\"{:.1}\" height=\"16\" fill=\"{}\"><title>{} → {}</title></rect>\n",
                esc(set),
                x(*a),
                (x(*b) - x(*a)).max(2.0),
                COLORS[i % COLORS.len()],
                ts(*a),
                ts(*b)
            ));
        } else {
            svg.push_str(&format!(
                "<text x=\"140\" y=\"{}\" font-size=\"12\" fill=\"#a00\">no restore point</text>\n",
                yy + 13.0
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let t = Table {
            headers: vec!["a", "b"],
            rows: vec![vec!["x,y".into(), "say \"hi\"".into()]],
        };
        assert_eq!(csv(&t), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn ages() {
        assert_eq!(age(chrono::Duration::minutes(5)), "5m");
        assert_eq!(age(chrono::Duration::hours(5)), "5h");
        assert_eq!(age(chrono::Duration::days(3)), "3d");
    }

    #[test]
    fn html_escapes() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
