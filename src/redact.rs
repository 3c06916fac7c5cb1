//! Text zrm prints or logs that came from elsewhere (binary logs, command lines) must carry no
//! secret and must not drive the terminal:
//! - [`mask_sql`]: passwords in SQL statements (`CREATE USER … IDENTIFIED BY 'x'`, `SET
//!   PASSWORD`, `CHANGE MASTER TO MASTER_PASSWORD='x'`, …) become `<secret>`, as MySQL's own
//!   general log writes them;
//! - [`escape_controls`]: control bytes become `\xHH`, as `mariadb-binlog -v` shows them in
//!   row values; [`json_controls`] does the same for the few that JSON leaves raw;
//! - [`mask_argv`]: values of password-bearing options on a command line, for the log file.
//!
//! It must never mask by a pattern that a quote inside a password can fool: statements are
//! lexed (strings, escapes, comments) under each quoting rule the server may have used, and
//! whatever any of them finds secret is masked. It never changes the text that filters
//! (`--grep`, `--match`) look at: callers mask what they print, nothing else.

use std::borrow::Cow;
use std::sync::OnceLock;

/// What a secret is replaced with (MySQL's general log writes the same).
pub const SECRET: &str = "<secret>";

// ---------------------------------------------------------------------------------------------
// Passwords in SQL
// ---------------------------------------------------------------------------------------------

/// `sql` with every password literal replaced by [`SECRET`]; borrowed when there is none.
///
/// A literal is a password when it follows, in the statement's tokens (comments skipped):
/// - `BY`, `AS`, `USING` or `REPLACE` after an `IDENTIFIED` (CREATE/ALTER USER, GRANT: every
///   account of the statement, plugins' `WITH p BY|AS 'x'`, MariaDB's `VIA p USING 'x'`);
/// - a word ending in `PASSWORD`, directly or after `=` (`BY PASSWORD '*hash'`,
///   `MASTER_PASSWORD='x'`, `SOURCE_PASSWORD = 'x'`, `OPTIONS (PASSWORD 'x')`);
/// - anything inside `PASSWORD(…)` or `OLD_PASSWORD(…)`;
/// - anything after the `=` of `SET PASSWORD [FOR account] = …`;
/// - another password literal directly (`'sec' 'ret'` is one string in SQL).
///
/// The statement is lexed three times: with backslash escapes in both kinds of quotes (the
/// default), in neither (`NO_BACKSLASH_ESCAPES`), and only in single quotes (`ANSI_QUOTES`);
/// the union of what the three find is masked, so a quote or backslash inside a password
/// cannot make the mask end early whatever `sql_mode` the statement was written under.
/// A statement cut short inside a password (a truncated display) masks to its end.
pub fn mask_sql(sql: &str) -> Cow<'_, str> {
    static MAY_HOLD: OnceLock<regex::Regex> = OnceLock::new();
    let may_hold =
        MAY_HOLD.get_or_init(|| regex::Regex::new("(?i)identified|password").expect("valid regex"));
    if !may_hold.is_match(sql) {
        return Cow::Borrowed(sql);
    }
    let b = sql.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for quoting in [
        Quoting {
            backslash_single: true,
            backslash_double: true,
        },
        Quoting {
            backslash_single: false,
            backslash_double: false,
        },
        Quoting {
            backslash_single: true,
            backslash_double: false,
        },
    ] {
        secret_ranges(b, quoting, &mut ranges);
    }
    if ranges.is_empty() {
        return Cow::Borrowed(sql);
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    let mut i = 0;
    while i < ranges.len() {
        let (start, mut end) = ranges[i];
        i += 1;
        while i < ranges.len() && ranges[i].0 <= end {
            end = end.max(ranges[i].1);
            i += 1;
        }
        if start < at {
            // Inside the previous (already merged) range.
            continue;
        }
        out.push_str(&sql[at..start]);
        out.push_str(SECRET);
        at = end;
    }
    out.push_str(&sql[at..]);
    Cow::Owned(out)
}

/// Which quotes take backslash escapes (the server's `sql_mode` decides; a binlog's
/// annotations do not say).
#[derive(Debug, Clone, Copy)]
struct Quoting {
    backslash_single: bool,
    backslash_double: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A keyword or bare identifier (`word`), or a `backquoted` one (its inside).
    Word,
    /// A string ('…' or "…", with any `_charset`/`N`/`X`/`B` prefix), or a 0x… number.
    Literal,
    Punct(u8),
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    /// The bytes of the token (for a backquoted identifier: inside the quotes).
    start: usize,
    end: usize,
}

fn word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The end of a quoted string or identifier starting at `start` (the quote), past its
/// closing quote; the end of the text when it is not closed.
fn quoted_end(b: &[u8], start: usize, backslash: bool) -> usize {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The tokens of `b`, comments and whitespace left out. The inside of an executable comment
/// (`/*!80000 … */`, `/*M!100100 … */`) is code, as the server reads it.
fn lex(b: &[u8], quoting: Quoting, mut f: impl FnMut(Token)) {
    let mut i = 0;
    let mut in_executable_comment = false;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#'
            || (c == b'-' && next == Some(b'-') && b.get(i + 2).is_none_or(|&d| d <= b' '))
        {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let rest = &b[i + 2..];
            let marker = if rest.first() == Some(&b'!') {
                Some(1)
            } else if rest.starts_with(b"M!") {
                Some(2)
            } else {
                None
            };
            if let Some(m) = marker {
                in_executable_comment = true;
                i += 2 + m;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(b.len());
            }
        } else if c == b'*' && next == Some(b'/') && in_executable_comment {
            in_executable_comment = false;
            i += 2;
        } else if c == b'\'' || c == b'"' {
            let backslash = if c == b'\'' {
                quoting.backslash_single
            } else {
                quoting.backslash_double
            };
            let end = quoted_end(b, i, backslash);
            f(Token {
                kind: Kind::Literal,
                start: i,
                end,
            });
            i = end;
        } else if c == b'`' {
            let end = quoted_end(b, i, false);
            f(Token {
                kind: Kind::Word,
                start: i + 1,
                end: end.saturating_sub(1).max(i + 1),
            });
            i = end;
        } else if word_char(c) {
            let start = i;
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            let word = &b[start..i];
            // A string's prefix: `_utf8mb4'x'`, `N'x'`, `X'78'`, `B'1'` are one literal.
            let prefix =
                word[0] == b'_' || matches!(word, [b'n' | b'N' | b'x' | b'X' | b'b' | b'B']);
            if prefix && matches!(b.get(i), Some(b'\'' | b'"')) {
                let backslash = if b[i] == b'\'' {
                    quoting.backslash_single
                } else {
                    quoting.backslash_double
                };
                let end = quoted_end(b, i, backslash);
                f(Token {
                    kind: Kind::Literal,
                    start,
                    end,
                });
                i = end;
            } else {
                let hex = word.len() > 2 && word[0] == b'0' && matches!(word[1], b'x' | b'X');
                f(Token {
                    kind: if hex { Kind::Literal } else { Kind::Word },
                    start,
                    end: i,
                });
            }
        } else {
            f(Token {
                kind: Kind::Punct(c),
                start: i,
                end: i + 1,
            });
            i += 1;
        }
    }
}

/// Adds the byte ranges of the password literals of `b`, lexed with `quoting`.
fn secret_ranges(b: &[u8], quoting: Quoting, ranges: &mut Vec<(usize, usize)>) {
    let is =
        |t: &Token, w: &[u8]| t.kind == Kind::Word && b[t.start..t.end].eq_ignore_ascii_case(w);
    let ends_with_password = |t: &Token| {
        t.kind == Kind::Word && {
            let w = &b[t.start..t.end];
            w.len() >= 8 && w[w.len() - 8..].eq_ignore_ascii_case(b"PASSWORD")
        }
    };
    // The statement's state; reset at `;` (a procedure body holds several statements).
    let mut account = false; // an IDENTIFIED was seen
    let mut set_password = false; // SET PASSWORD …
    let mut after_equals = false; // … = (everything after is the password)
    let mut depth = 0usize;
    let mut secret_parens: Option<usize> = None; // inside PASSWORD( … ) opened at this depth
    let mut prev: [Option<Token>; 2] = [None, None];
    let mut prev_masked = false;
    lex(b, quoting, |t| {
        let mut masked = false;
        match t.kind {
            Kind::Literal => {
                let p1 = prev[0];
                let p2 = prev[1];
                let secret = secret_parens.is_some()
                    || (set_password && after_equals)
                    || p1.as_ref().is_some_and(ends_with_password)
                    || (p1.is_some_and(|p| p.kind == Kind::Punct(b'='))
                        && p2.as_ref().is_some_and(ends_with_password))
                    || (account
                        && p1.is_some_and(|p| {
                            is(&p, b"BY") || is(&p, b"AS") || is(&p, b"USING") || is(&p, b"REPLACE")
                        }));
                if prev_masked && p1.is_some_and(|p| p.kind == Kind::Literal) {
                    // The rest of the same string: one mask from its first part on.
                    let first = p1.map_or(t.start, |p| p.start);
                    ranges.push((first, t.end));
                    masked = true;
                } else if secret {
                    ranges.push((t.start, t.end));
                    masked = true;
                }
            }
            Kind::Word => {
                if is(&t, b"IDENTIFIED") {
                    account = true;
                }
                if is(&t, b"PASSWORD") && prev[0].is_some_and(|p| is(&p, b"SET")) {
                    set_password = true;
                    after_equals = false;
                }
            }
            Kind::Punct(b'(') => {
                if secret_parens.is_none() && prev[0].as_ref().is_some_and(ends_with_password) {
                    secret_parens = Some(depth);
                }
                depth += 1;
            }
            Kind::Punct(b')') => {
                depth = depth.saturating_sub(1);
                if secret_parens == Some(depth) {
                    secret_parens = None;
                }
            }
            Kind::Punct(b'=') => {
                if set_password && depth == 0 {
                    after_equals = true;
                }
            }
            Kind::Punct(b',') => {
                // `UPDATE t SET password = 'x', name = 'y'`: the next column is not secret.
                if depth == 0 {
                    set_password = false;
                }
            }
            Kind::Punct(b';') => {
                account = false;
                set_password = false;
                after_equals = false;
                depth = 0;
                secret_parens = None;
            }
            Kind::Punct(_) => {}
        }
        prev = [Some(t), prev[0]];
        prev_masked = masked;
    });
}

// ---------------------------------------------------------------------------------------------
// Control bytes
// ---------------------------------------------------------------------------------------------

fn is_control(c: char) -> bool {
    c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// `s` with control characters (C0, DEL and C1) written as `\xHH`, byte by byte (a C1
/// character is two bytes in UTF-8: U+009B is `\xc2\x9b`). `mariadb-binlog -v` writes bytes
/// below 0x20 in row values the same way. Borrowed when there is none.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) || !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_control(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text of several lines, each ending in `\n`: control characters escaped as by
/// [`escape_controls`], except the line ends themselves.
pub fn escape_controls_in_lines(text: &str) -> Cow<'_, str> {
    if !text
        .split('\n')
        .any(|l| matches!(escape_controls(l), Cow::Owned(_)))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(escape_controls)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Serialised JSON with DEL and C1 characters written `\u007f`…`\u009f` (serde_json escapes
/// only those below U+0020, as JSON requires; the others would reach a terminal raw). Only
/// strings can hold them, so the document stays valid and means the same.
pub fn json_controls(json: &str) -> Cow<'_, str> {
    if !json.bytes().any(|b| b == 0x7f || b == 0xc2) || !json.chars().any(is_control) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_control(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------------
// Command lines
// ---------------------------------------------------------------------------------------------

/// Whether an option name (without dashes, before any `=`) carries a secret value.
fn secret_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("pass") || n.contains("secret") || n.contains("token")
}

/// A command line with the values of password-bearing options (`--password X`,
/// `--password=X`, `-password X`, `-pX`, any option named like `*pass*`, `*secret*`,
/// `*token*`) and the password of a `scheme://user:password@host` URL replaced by
/// [`SECRET`]. Also returns the values masked, so that a message quoting one can be
/// scrubbed ([`scrub`]).
pub fn mask_argv(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::with_capacity(args.len());
    let mut secrets = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty());
        let Some(body) = body else {
            out.push(mask_url(arg, &mut secrets));
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if secret_option(name) {
            match inline {
                Some(v) => {
                    secrets.push(v.to_string());
                    out.push(format!("{}{name}={SECRET}", &arg[..arg.len() - body.len()]));
                }
                None => {
                    out.push(arg.clone());
                    // The next word is the value, even one starting with a single dash.
                    if let Some(v) = args.get(i).filter(|v| !v.starts_with("--")) {
                        secrets.push(v.clone());
                        out.push(SECRET.to_string());
                        i += 1;
                    }
                }
            }
        } else if !arg.starts_with("--") && arg.len() > 2 && arg.starts_with("-p") {
            // The MySQL clients' `-pPASSWORD`.
            secrets.push(arg[2..].to_string());
            out.push(format!("-p{SECRET}"));
        } else {
            out.push(mask_url(arg, &mut secrets));
        }
    }
    secrets.retain(|s| !s.is_empty());
    (out, secrets)
}

/// `scheme://user:password@host…` → `scheme://user:<secret>@host…`.
fn mask_url(arg: &str, secrets: &mut Vec<String>) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let rest = &arg[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return arg.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return arg.to_string();
    };
    secrets.push(rest[colon + 1..at].to_string());
    format!(
        "{}{}:{SECRET}{}",
        &arg[..scheme_end + 3],
        &rest[..colon],
        &rest[at..]
    )
}

/// `text` with every occurrence of the given secrets replaced by [`SECRET`] (longest first,
/// so that one secret inside another leaves no part of the longer one).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in sorted {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), SECRET);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(sql: &str) -> String {
        mask_sql(sql).into_owned()
    }

    #[test]
    fn create_user_masks_every_account() {
        assert_eq!(
            m("create user 'alice'@'%' identified by 'S3cr#t!pw', 'bob'@'localhost' identified by 'b0bpw'"),
            "create user 'alice'@'%' identified by <secret>, 'bob'@'localhost' identified by <secret>"
        );
        assert_eq!(
            m("GRANT SELECT ON e.* TO 'carol'@'%' IDENTIFIED BY 'carolpw' WITH GRANT OPTION"),
            "GRANT SELECT ON e.* TO 'carol'@'%' IDENTIFIED BY <secret> WITH GRANT OPTION"
        );
        assert_eq!(
            m("ALTER USER u IDENTIFIED BY 'new' REPLACE 'old' RETAIN CURRENT PASSWORD"),
            "ALTER USER u IDENTIFIED BY <secret> REPLACE <secret> RETAIN CURRENT PASSWORD"
        );
        assert_eq!(
            m("GRANT USAGE ON *.* TO u IDENTIFIED BY PASSWORD '*A3F61834D9AE45C2DFC9C4F8D07EC7675086AFB7'"),
            "GRANT USAGE ON *.* TO u IDENTIFIED BY PASSWORD <secret>"
        );
    }

    #[test]
    fn plugins_keep_their_name_and_lose_the_secret() {
        assert_eq!(
            m("CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x\\'y\\\\z'"),
            "CREATE USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS <secret>"
        );
        assert_eq!(
            m("alter user erin identified with mysql_native_password as '*0123456789012345678901234567890123456789'"),
            "alter user erin identified with mysql_native_password as <secret>"
        );
        assert_eq!(
            m("CREATE USER u IDENTIFIED WITH caching_sha2_password BY 'pw' AND IDENTIFIED WITH authentication_ldap_simple AS 'uid=u'"),
            "CREATE USER u IDENTIFIED WITH caching_sha2_password BY <secret> AND IDENTIFIED WITH authentication_ldap_simple AS <secret>"
        );
        assert_eq!(
            m("CREATE USER u IDENTIFIED WITH 'caching_sha2_password' AS 0x244124303035"),
            "CREATE USER u IDENTIFIED WITH 'caching_sha2_password' AS <secret>"
        );
        assert_eq!(
            m("create user erin identified via ed25519 using password('erinpw') or unix_socket"),
            "create user erin identified via ed25519 using password(<secret>) or unix_socket"
        );
        assert_eq!(
            m("CREATE USER e IDENTIFIED VIA mysql_native_password USING '*01234' OR ed25519 USING PASSWORD('x')"),
            "CREATE USER e IDENTIFIED VIA mysql_native_password USING <secret> OR ed25519 USING PASSWORD(<secret>)"
        );
    }

    #[test]
    fn mysql_binlog_hashes_with_raw_bytes_are_masked() {
        // As MySQL 9.7 writes CREATE USER into its binlog (seen here): the caching_sha2
        // hash with its raw salt bytes, a quote in it escaped with a backslash.
        let sql = concat!(
            "CREATE USER 'alice'@'%' IDENTIFIED WITH 'caching_sha2_password' AS ",
            "'$A$00A$J,W0\x1e_R\nPa\x01\x0c\x0eZ\x01\x1fwZOPvYe/zN7',",
            "'bob'@'%' IDENTIFIED WITH 'caching_sha2_password' AS ",
            "'$A$00A$t5TL\x01B=q\x03V7 \\'I6E\x02S;\x10o1yylb5SW4'"
        );
        assert_eq!(
            m(sql),
            "CREATE USER 'alice'@'%' IDENTIFIED WITH 'caching_sha2_password' AS <secret>,\
             'bob'@'%' IDENTIFIED WITH 'caching_sha2_password' AS <secret>"
        );
    }

    #[test]
    fn set_password_in_every_form() {
        assert_eq!(
            m("SET PASSWORD FOR 'bob'@'localhost' = PASSWORD('setpw1')"),
            "SET PASSWORD FOR 'bob'@'localhost' = PASSWORD(<secret>)"
        );
        assert_eq!(
            m("SET PASSWORD FOR 'bob'@'localhost'='*A3F61834D9AE45C2DFC9C4F8D07EC7675086AFB7'"),
            "SET PASSWORD FOR 'bob'@'localhost'=<secret>"
        );
        assert_eq!(m("set password = 'raw'"), "set password = <secret>");
        assert_eq!(
            m("SET PASSWORD = OLD_PASSWORD('x')"),
            "SET PASSWORD = OLD_PASSWORD(<secret>)"
        );
        assert_eq!(
            m("SET PASSWORD FOR u = 'new' REPLACE 'old'"),
            "SET PASSWORD FOR u = <secret> REPLACE <secret>"
        );
        assert_eq!(
            m("UPDATE mysql.user SET authentication_string = PASSWORD(CONCAT('a', 'b')) WHERE user = 'u'"),
            "UPDATE mysql.user SET authentication_string = PASSWORD(CONCAT(<secret>, <secret>)) WHERE user = 'u'"
        );
        // An application's column named password: its value, not the next column's.
        assert_eq!(
            m("UPDATE app.users SET password = 'h1', name = 'bob' WHERE id = 1"),
            "UPDATE app.users SET password = <secret>, name = 'bob' WHERE id = 1"
        );
    }

    #[test]
    fn replication_and_server_passwords() {
        assert_eq!(
            m("CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD='mpw', MASTER_USER='u'"),
            "CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD=<secret>, MASTER_USER='u'"
        );
        assert_eq!(
            m("CHANGE REPLICATION SOURCE TO SOURCE_USER = 'r', SOURCE_PASSWORD = \"s'pw\""),
            "CHANGE REPLICATION SOURCE TO SOURCE_USER = 'r', SOURCE_PASSWORD = <secret>"
        );
        assert_eq!(
            m("START SLAVE USER='u' PASSWORD='pw'"),
            "START SLAVE USER='u' PASSWORD=<secret>"
        );
        assert_eq!(
            m("CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'h', USER 'u', PASSWORD 'pw')"),
            "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'h', USER 'u', PASSWORD <secret>)"
        );
    }

    #[test]
    fn quotes_and_escapes_inside_the_password_do_not_end_the_mask() {
        assert_eq!(
            m(r"alter user 'alice'@'%' identified by 'n3w\'pw'"),
            "alter user 'alice'@'%' identified by <secret>"
        );
        assert_eq!(
            m("CREATE USER u IDENTIFIED BY 'it''s'"),
            "CREATE USER u IDENTIFIED BY <secret>"
        );
        assert_eq!(
            m(r#"CREATE USER u IDENTIFIED BY "p\"w""q", v IDENTIFIED BY 'x'"#),
            "CREATE USER u IDENTIFIED BY <secret>, v IDENTIFIED BY <secret>"
        );
        // A password written to fool a pattern: none of it shows.
        let s = m(r"CREATE USER u IDENTIFIED BY 'a\' IDENTIFIED BY \'b' COMMENT 'c'");
        assert!(!s.contains("a\\") && !s.contains('b'), "{s}");
        // Under NO_BACKSLASH_ESCAPES, 'abc\' is a whole password and 'sec2' another account's.
        let s = m(r"CREATE USER u IDENTIFIED BY 'abc\', v IDENTIFIED BY 'sec2'");
        assert!(!s.contains("abc") && !s.contains("sec2"), "{s}");
        // Under ANSI_QUOTES, "a\" is an identifier and the backslash escapes only in '…'.
        let s = m(r#"CREATE USER "a\" IDENTIFIED BY 'p\'q', "b" IDENTIFIED BY 'r'"#);
        assert!(!s.contains('q') && !s.contains("'r'"), "{s}");
        // Adjacent strings are one string.
        assert_eq!(
            m("CREATE USER u IDENTIFIED BY 'sec' 'ret' COMMENT 'kept'"),
            "CREATE USER u IDENTIFIED BY <secret> COMMENT 'kept'"
        );
        // Prefixed strings.
        assert_eq!(
            m("CREATE USER u IDENTIFIED BY _utf8mb4'pässwörd' COLLATE utf8mb4_bin"),
            "CREATE USER u IDENTIFIED BY <secret> COLLATE utf8mb4_bin"
        );
        // Cut short inside the password (a truncated display).
        assert_eq!(
            m("CREATE USER u IDENTIFIED BY 'secr"),
            "CREATE USER u IDENTIFIED BY <secret>"
        );
    }

    #[test]
    fn comments_are_not_code_and_executable_comments_are() {
        assert_eq!(
            m("CREATE USER u /* it's */ IDENTIFIED -- don't\n BY 'x' # ' \n, v IDENTIFIED BY 'y'"),
            "CREATE USER u /* it's */ IDENTIFIED -- don't\n BY <secret> # ' \n, v IDENTIFIED BY <secret>"
        );
        assert_eq!(
            m("/*!80000 CREATE USER u IDENTIFIED BY 'x' */"),
            "/*!80000 CREATE USER u IDENTIFIED BY <secret> */"
        );
    }

    #[test]
    fn other_statements_are_left_alone() {
        for s in [
            "INSERT INTO t VALUES ('IDENTIFIED BY', 'password')",
            "SELECT 'identified by x' AS a",
            "INSERT INTO t (name, password) VALUES ('a', 'b')",
            "LOAD DATA INFILE 'f' INTO TABLE t FIELDS TERMINATED BY ','",
            "CREATE TABLE t (password VARCHAR(20) DEFAULT 'none')",
            "CREATE USER u IDENTIFIED BY RANDOM PASSWORD COMMENT 'x'",
        ] {
            assert_eq!(m(s), s);
        }
        assert!(matches!(
            mask_sql("INSERT INTO t VALUES (1)"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            m("CREATE USER u IDENTIFIED BY 'x' REQUIRE SUBJECT 'cn=u' COMMENT 'keep'"),
            "CREATE USER u IDENTIFIED BY <secret> REQUIRE SUBJECT 'cn=u' COMMENT 'keep'"
        );
    }

    #[test]
    fn control_bytes_are_escaped_like_mariadb_binlog() {
        assert_eq!(
            escape_controls("red\x1b[31mx\x07\x00\x7f\u{9b}é\\"),
            "red\\x1b[31mx\\x07\\x00\\x7f\\xc2\\x9bé\\"
        );
        assert_eq!(escape_controls("a\tb\nc\r"), "a\\x09b\\x0ac\\x0d");
        assert_eq!(
            escape_controls_in_lines("one\x1b\ntwo\r\n\n"),
            "one\\x1b\ntwo\\x0d\n\n"
        );
        assert!(matches!(
            escape_controls_in_lines("a\nb\n"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(escape_controls("plain é ü ¢"), Cow::Borrowed(_)));
        let json = serde_json::to_string("a\x1b\x7f\u{9b}b").unwrap();
        assert_eq!(json, "\"a\\u001b\u{7f}\u{9b}b\"", "serde escapes C0 only");
        assert_eq!(json_controls(&json), "\"a\\u001b\\u007f\\u009bb\"");
        assert_eq!(
            serde_json::from_str::<String>(&json_controls(&json)).unwrap(),
            "a\x1b\x7f\u{9b}b"
        );
    }

    #[test]
    fn password_options_are_masked_on_command_lines() {
        let argv: Vec<String> = [
            "mysql-zrm",
            "--action",
            "backup",
            "--password",
            "Zq9!pw",
            "--password=Other1",
            "-password",
            "Third",
            "-pFourth",
            "--target",
            "mysql://root:Fifth@db1:3306",
            "--set",
            "s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (masked, secrets) = mask_argv(&argv);
        assert_eq!(
            masked.join(" "),
            "mysql-zrm --action backup --password <secret> --password=<secret> -password \
             <secret> -p<secret> --target mysql://root:<secret>@db1:3306 --set s"
        );
        assert_eq!(secrets, ["Zq9!pw", "Other1", "Third", "Fourth", "Fifth"]);
        assert_eq!(
            scrub("unknown option --pFourth and Zq9!pw", &secrets),
            "unknown option --p<secret> and <secret>"
        );
    }
}
