//! Generated documentation that is committed, and the test that keeps it fresh:
//!
//! - `man/*.1`: the man pages of `zrm` and every subcommand, from the clap definitions (the
//!   single source of the command line), with clap_mangen;
//! - `completions/zrm.bash`, `completions/_zrm`, `completions/zrm.fish`: shell completions,
//!   from the same clap definitions, with clap_complete;
//! - `man/zrm.toml.5`: the configuration file's man page, rendered from the "Configuration"
//!   chapter of README.md (the single source of the configuration reference), so the README and
//!   the man page cannot drift apart.
//!
//! Each test fails when a committed file is stale; regenerate them all with
//! `ZRM_UPDATE_MAN=1 cargo test --test man_pages`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{bold, italic, roman, Inline, Roff};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares each (file name, content) with the file in `dir`, or rewrites it when
/// `ZRM_UPDATE_MAN` is set. Panics naming the stale files.
fn check_or_update(dir: &Path, files: Vec<(String, Vec<u8>)>) {
    let update = std::env::var_os("ZRM_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, content) in files {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(dir).unwrap();
            if std::fs::read(&path).ok().as_deref() != Some(content.as_slice()) {
                std::fs::write(&path, &content).unwrap();
                eprintln!("updated {}", path.display());
            }
        } else if std::fs::read(&path).ok().as_deref() != Some(content.as_slice()) {
            stale.push(name);
        }
    }
    let dir_name = dir.file_name().unwrap().to_string_lossy();
    assert!(
        stale.is_empty(),
        "stale generated files in {dir_name}/: {stale:?}: run \
         `ZRM_UPDATE_MAN=1 cargo test --test man_pages` and commit {dir_name}/"
    );
}

fn cli() -> clap::Command {
    let mut cmd = zrm::cli::Cli::command();
    cmd.build();
    cmd
}

// ---------------------------------------------------------------------------------------------
// man/*.1 from clap
// ---------------------------------------------------------------------------------------------

/// (file name, page) for `zrm` and every subcommand, nested ones as `zrm-binlog-archive`.
fn pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_uppercase())
            .render(&mut buf)
            .unwrap();
        out.push((format!("{name}.1"), buf));
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                walk(sub, &name, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&cli(), "", &mut out);
    out
}

#[test]
fn man_pages_are_up_to_date() {
    check_or_update(&root().join("man"), pages());
}

// ---------------------------------------------------------------------------------------------
// completions/ from clap
// ---------------------------------------------------------------------------------------------

/// (file name, script) for bash, zsh and fish, under the names their installed copies use
/// (`scripts/install.sh` renames only the bash one, to `zrm`).
fn completions() -> Vec<(String, Vec<u8>)> {
    [
        (Shell::Bash, "zrm.bash"),
        (Shell::Zsh, "_zrm"),
        (Shell::Fish, "zrm.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cli(), "zrm", &mut buf);
        (file.to_string(), buf)
    })
    .collect()
}

#[test]
fn completions_are_up_to_date() {
    check_or_update(&root().join("completions"), completions());
}

#[test]
fn bash_completion_parses() {
    let path = root().join("completions/zrm.bash");
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .status()
        .expect("run bash -n");
    assert!(status.success(), "bash -n {} failed", path.display());
}

// ---------------------------------------------------------------------------------------------
// man/zrm.toml.5 from README.md's "Configuration" chapter
// ---------------------------------------------------------------------------------------------
//
// A small Markdown reader for exactly what that chapter uses: `###` headings (one `.SH` each),
// paragraphs, numbered and bulleted lists (continuation lines indented), fenced code blocks
// (also inside a list item), inline `code` and **bold**, `\|` in table cells, and the reference
// tables `| key | type | default | meaning |` (one `.TP` per key). In "Reference", a paragraph
// that starts with a `[section]` code span opens a `.SS` subsection. Anything else in the
// chapter (another table header, a `####` heading, HTML) fails the test, so that a README edit
// cannot silently drop text from the man page.

/// Markdown inline text → roff inlines: `code` and **bold** become bold, the rest roman;
/// a backslash before punctuation (outside code) is the punctuation itself.
fn inlines(md: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut in_bold = false;
    let flush = |text: &mut String, bold_now: bool, out: &mut Vec<Inline>| {
        if !text.is_empty() {
            let t = std::mem::take(text);
            out.push(if bold_now { bold(t) } else { roman(t) });
        }
    };
    let mut chars = md.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                flush(&mut text, in_bold, &mut out);
                let code: String = chars.by_ref().take_while(|&c| c != '`').collect();
                out.push(bold(code));
            }
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                flush(&mut text, in_bold, &mut out);
                in_bold = !in_bold;
            }
            '\\' if chars.peek().is_some_and(|c| c.is_ascii_punctuation()) => {
                text.push(chars.next().unwrap());
            }
            _ => text.push(c),
        }
    }
    assert!(!in_bold, "unclosed ** in README text: {md}");
    flush(&mut text, false, &mut out);
    out
}

/// The cells of a Markdown table row, split at unescaped `|`.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut cells = vec![String::new()];
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'|') {
            cells.last_mut().unwrap().push_str("\\|");
            chars.next();
        } else if c == '|' {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(c);
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The lines of README.md's "## Configuration" chapter, without its heading.
fn configuration_chapter(readme: &str) -> Vec<&str> {
    let mut lines = readme.lines();
    lines
        .by_ref()
        .find(|l| l.trim_end() == "## Configuration")
        .expect("README.md has no `## Configuration` chapter");
    let mut in_code = false;
    lines
        .take_while(|l| {
            if l.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            in_code || !l.starts_with("## ")
        })
        .collect()
}

/// The `[section]` names at the start of a reference paragraph, e.g. `[defaults]` and
/// `[sets.NAME]` for "`[defaults]` and `[sets.NAME]` (the same keys; …)".
fn section_names(para: &str) -> Vec<String> {
    let head = para.split([':', '(']).next().unwrap_or("");
    head.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('['))
        .map(str::to_string)
        .collect()
}

/// Renders the Configuration chapter as the body of a man page.
/// Returns the number of `[section]` subsections and of keys, for a sanity check.
fn render_configuration(lines: &[&str], page: &mut Roff) -> (u32, u32) {
    let mut i = 0;
    let mut in_reference = false;
    let mut sections = 0;
    let mut keys = 0;
    // Lines of the current paragraph, joined when it ends.
    let mut para: Vec<String> = Vec::new();

    fn end_para(para: &mut Vec<String>, page: &mut Roff, in_reference: bool, sections: &mut u32) {
        if para.is_empty() {
            return;
        }
        let text = para.join(" ");
        para.clear();
        let names = section_names(&text);
        if in_reference && text.starts_with("`[") && !names.is_empty() {
            *sections += 1;
            page.control("SS", [names.join(", ").as_str()]);
            // "`[x]`: text" → "Text"; a paragraph that is only the name has no description.
            let only_name = format!("`{}`", names[0]);
            if text.trim() == only_name {
                return;
            }
            if let Some(rest) = text.strip_prefix(&format!("{only_name}: ")) {
                let mut rest = rest.chars();
                let first = rest.next().unwrap().to_uppercase().collect::<String>();
                page.control("PP", [])
                    .text(inlines(&(first + rest.as_str())));
                return;
            }
        }
        page.control("PP", []).text(inlines(&text));
    }

    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if let Some(title) = line.strip_prefix("### ") {
            end_para(&mut para, page, in_reference, &mut sections);
            in_reference = title.trim() == "Reference";
            page.control("SH", [title.trim().to_uppercase().as_str()]);
            i += 1;
        } else if line.starts_with('#') {
            panic!("README Configuration chapter: unexpected heading {line:?} for the man page");
        } else if trimmed.is_empty() {
            end_para(&mut para, page, in_reference, &mut sections);
            i += 1;
        } else if trimmed.starts_with("```") {
            end_para(&mut para, page, in_reference, &mut sections);
            i = code_block(lines, i, page);
        } else if trimmed.starts_with('|') {
            end_para(&mut para, page, in_reference, &mut sections);
            let header = cells(line);
            assert_eq!(
                header,
                ["key", "type", "default", "meaning"],
                "README Configuration chapter: only key/type/default/meaning tables are rendered"
            );
            assert!(in_reference, "a reference table outside ### Reference");
            i += 2; // header and |---|
            while i < lines.len() && lines[i].trim().starts_with('|') {
                let row = cells(lines[i]);
                assert_eq!(
                    row.len(),
                    4,
                    "table row with {} cells: {}",
                    row.len(),
                    lines[i]
                );
                keys += 1;
                page.control("TP", []);
                page.text(inlines(&row[0]));
                // Separate text lines (not inline breaks), so that a leading dot of a cell
                // is escaped by the roff crate.
                let mut ty = vec![italic("Type:"), roman(" ")];
                ty.extend(inlines(&row[1]));
                let mut default = vec![italic("Default:"), roman(" ")];
                default.extend(inlines(&row[2]));
                page.text(ty)
                    .control("br", [])
                    .text(default)
                    .control("br", []);
                page.text(inlines(&row[3]));
                i += 1;
            }
        } else if let Some((marker, first)) = list_item(line) {
            end_para(&mut para, page, in_reference, &mut sections);
            page.control("IP", [marker.as_str(), "4"]);
            i = list_item_body(lines, i + 1, first, page);
        } else {
            para.push(trimmed.to_string());
            i += 1;
        }
    }
    end_para(&mut para, page, in_reference, &mut sections);
    (sections, keys)
}

/// Renders the rest of a list item whose first line's text is `first`: continuation lines are
/// indented, and a blank line followed by an indented line (e.g. a code block) stays in the
/// item. Returns the index of the first line after the item.
fn list_item_body(lines: &[&str], mut i: usize, first: &str, page: &mut Roff) -> usize {
    let mut text = vec![first.to_string()];
    let mut after_code = false;
    let flush = |text: &mut Vec<String>, after_code: &mut bool, page: &mut Roff| {
        if !text.is_empty() {
            if std::mem::take(after_code) {
                // Text after a code block in the same item: a new paragraph of the item.
                page.control("IP", []);
            }
            page.text(inlines(&text.join(" ")));
            text.clear();
        }
    };
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() {
            if !lines.get(i + 1).is_some_and(|n| n.starts_with("  ")) {
                break;
            }
            flush(&mut text, &mut after_code, page);
        } else if !l.starts_with("  ") {
            break;
        } else if l.trim_start().starts_with("```") {
            flush(&mut text, &mut after_code, page);
            i = code_block(lines, i, page);
            after_code = true;
            continue;
        } else {
            text.push(l.trim().to_string());
        }
        i += 1;
    }
    flush(&mut text, &mut after_code, page);
    i
}

/// `1. text` → ("1.", "text"); `- text` → ("\(bu", "text").
fn list_item(line: &str) -> Option<(String, &str)> {
    if let Some(rest) = line.strip_prefix("- ") {
        return Some((r"\(bu".to_string(), rest));
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        if let Some(rest) = line[digits..].strip_prefix(". ") {
            return Some((line[..=digits].to_string(), rest));
        }
    }
    None
}

/// Renders the fenced code block that starts at `lines[start]`; returns the index after it.
fn code_block(lines: &[&str], start: usize, page: &mut Roff) -> usize {
    let indent = lines[start].len() - lines[start].trim_start().len();
    page.control("sp", [])
        .control("RS", ["4"])
        .control("nf", []);
    let mut i = start + 1;
    while i < lines.len() && !lines[i].trim_start().starts_with("```") {
        let l = lines[i];
        let l = if l.len() >= indent && l[..indent].trim().is_empty() {
            &l[indent..]
        } else {
            l.trim_start()
        };
        page.text([roman(l)]);
        i += 1;
    }
    assert!(i < lines.len(), "unclosed code block in README");
    page.control("fi", []).control("RE", []);
    i + 1
}

/// The whole `zrm.toml(5)` page.
fn config_page(readme: &str) -> Vec<u8> {
    let version = format!("zrm {}", env!("CARGO_PKG_VERSION"));
    let mut page = Roff::new();
    // Like clap_mangen's pages: the empty date collapses, so the version is the footer's middle.
    page.control("TH", ["ZRM.TOML", "5", "", version.as_str()]);
    page.control("SH", ["NAME"]);
    page.text([roman("zrm.toml - configuration file of zrm")]);
    page.control("SH", ["SYNOPSIS"]);
    page.text([bold("/etc/zrm/zrm.toml")]);
    page.control("SH", ["DESCRIPTION"]);
    page.text([
        roman("The configuration file of "),
        bold("zrm"),
        roman(
            "(1) is in TOML. It names the repository that backups go to, the backup sets \
             (one server each, with how to connect and how to back it up), their defaults, and \
             the clusters of sets of a sharded application.",
        ),
    ]);
    page.control("PP", []);
    page.text([
        roman("A commented example with every key and its default is "),
        bold("conf/zrm.toml"),
        roman(" in the source tree, installed as "),
        bold("share/doc/zrm/zrm.toml.example"),
        roman(" under the installation prefix (by "),
        bold("scripts/install.sh"),
        roman(
            "). Chapters named in quotes (\"Backup methods\", \"Sharded clusters\") are those \
             of zrm's README.",
        ),
    ]);
    let (sections, keys) = render_configuration(&configuration_chapter(readme), &mut page);
    assert!(
        sections >= 4 && keys >= 20,
        "README Configuration reference: found only {sections} sections and {keys} keys"
    );
    page.control("SH", ["ENVIRONMENT"]);
    page.control("TP", []).text([bold("ZRM_CONFIG")]);
    page.text([roman(
        "The configuration file, when no --config option is given and the variable is set and \
         not empty.",
    )]);
    page.control("SH", ["FILES"]);
    page.control("TP", []).text([bold("/etc/zrm/zrm.toml")]);
    page.text([roman(
        "The configuration file, when neither --config nor $ZRM_CONFIG names another.",
    )]);
    page.control("SH", ["SEE ALSO"]);
    page.text([
        bold("zrm"),
        roman("(1), "),
        bold("zrm-check"),
        roman("(1), "),
        bold("zrm-backup"),
        roman("(1), "),
        bold("zrm-restore"),
        roman("(1), "),
        bold("zrm-key-generate"),
        roman("(1)"),
    ]);
    page.render().into_bytes()
}

#[test]
fn config_man_page_is_up_to_date() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    check_or_update(
        &root().join("man"),
        vec![("zrm.toml.5".to_string(), config_page(&readme))],
    );
}

#[test]
fn markdown_to_roff() {
    let md = "\
intro

### Reference

`[a]`: the first section.

| key | type | default | meaning |
|---|---|---|---|
| `k` | `\"x\"` \\| `\"y\"` | none | .starts with a dot, 'quotes', a \\\\ and **bold `code`**. |

`[b]` and `[c]` (the same keys).

- item one
  goes on

  ```
  .code line
  ```
1. numbered
";
    let lines: Vec<&str> = md.lines().collect();
    let mut page = Roff::new();
    assert_eq!(render_configuration(&lines, &mut page), (2, 1));
    let out = page.render();
    let expected = r#".PP
intro
.SH REFERENCE
.SS [a]
.PP
The first section.
.TP
\fBk\fR
\fIType:\fR \fB"x"\fR | \fB"y"\fR
.br
\fIDefault:\fR none
.br
\&.starts with a dot, \*(Aqquotes\*(Aq, a \\ and \fBbold \fR\fBcode\fR.
.SS "[b], [c]"
.PP
\fB[b]\fR and \fB[c]\fR (the same keys).
.IP \(bu 4
item one goes on
.sp
.RS 4
.nf
\&.code line
.fi
.RE
.IP 1. 4
numbered
"#;
    assert!(out.ends_with(expected), "{out}");
    assert_eq!(list_item("12. x"), Some(("12.".to_string(), "x")));
    assert_eq!(cells(r"| a \| b | c |"), [r"a \| b", "c"]);
}
