//! Mail after a run, as ZRM's `mailto` and `mail-policy` did: through the local `sendmail`
//! (the recipients on its standard input with `-t`, never a password anywhere).
//!
//! It must never fail the run it reports on: a mail that cannot be sent is an error printed on
//! stderr by the caller, and the run's exit code stays the run's.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// ZRM's `mail-policy`: when a run's outcome is mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPolicy {
    Always,
    OnlyOnError,
    Never,
}

impl MailPolicy {
    /// ZRM's spellings (`always`, `only-on-error`, `never`; `only-on-failure` is taken too).
    pub fn parse(s: &str) -> Result<MailPolicy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" | "" => Ok(MailPolicy::Always),
            "only-on-error" | "only-on-failure" | "on-error" | "on-failure" => {
                Ok(MailPolicy::OnlyOnError)
            }
            "never" => Ok(MailPolicy::Never),
            _ => Err(Error::Usage(format!(
                "mail-policy '{s}': always, only-on-error or never"
            ))),
        }
    }

    /// Whether a run that ended with `exit_code` is mailed.
    pub fn mails(self, exit_code: i32) -> bool {
        match self {
            MailPolicy::Always => true,
            MailPolicy::OnlyOnError => exit_code != 0,
            MailPolicy::Never => false,
        }
    }
}

/// Where a mail goes and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipients, as ZRM's `mailto` gave them (comma or space separated).
    pub to: String,
    pub policy: MailPolicy,
}

/// The local `sendmail`: first on PATH, else `/usr/sbin/sendmail`, `/usr/lib/sendmail`.
pub fn sendmail() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("sendmail"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// The error when there is no sendmail to mail with.
pub fn no_sendmail() -> Error {
    Error::Usage(
        "mailto is set but there is no sendmail on this host (looked on PATH, \
         /usr/sbin/sendmail, /usr/lib/sendmail): install a mail transfer agent (e.g. postfix \
         or msmtp-mta), or remove mailto"
            .into(),
    )
}

/// Send one mail: `subject` and `body` to `to`, through sendmail.
pub fn send(to: &str, subject: &str, body: &str) -> Result<()> {
    let sendmail = sendmail().ok_or_else(no_sendmail)?;
    let recipients: Vec<&str> = to
        .split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    if recipients.is_empty() {
        return Err(Error::Usage("mailto names no recipient".into()));
    }
    let message = format!(
        "To: {}\nSubject: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
        recipients.join(", "),
        subject.replace(['\r', '\n'], " "),
        body
    );
    let mut child = Command::new(&sendmail)
        .args(["-t", "-oi"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("run", &sendmail, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(message.as_bytes())
            .map_err(|e| Error::io("write to", &sendmail, e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("run", &sendmail, e))?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: sendmail.display().to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(
            MailPolicy::parse("only-on-error").unwrap(),
            MailPolicy::OnlyOnError
        );
        assert!(MailPolicy::parse("sometimes").is_err());
        assert!(MailPolicy::Always.mails(0));
        assert!(!MailPolicy::OnlyOnError.mails(0));
        assert!(MailPolicy::OnlyOnError.mails(1));
        assert!(!MailPolicy::Never.mails(1));
    }
}
