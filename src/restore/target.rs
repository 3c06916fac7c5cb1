//! `--target`: a set name, `mysql://user@host:port` (or `mysql://user@localhost?socket=PATH`),
//! `datadir:/path` (snapshot backups of lvm and btrfs), or `ebs:` / `ebs:ZONE` (new volumes
//! from an ebs backup's snapshots).

use std::path::PathBuf;

use crate::config::{ConfigFile, ConnectionConfig, SetOptions, DEFAULT_PORT};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum Target {
    Server {
        /// How the user named it, for messages.
        label: String,
        conn: ConnectionConfig,
    },
    Datadir(PathBuf),
    /// New EBS volumes, in this availability zone (default: the source volume's).
    Ebs(Option<String>),
}

impl Target {
    pub fn parse(spec: &str, config: &ConfigFile) -> Result<Target> {
        if let Some(path) = spec.strip_prefix("datadir:") {
            return Ok(Target::Datadir(PathBuf::from(path)));
        }
        if spec == "ebs" {
            return Ok(Target::Ebs(None));
        }
        if let Some(zone) = spec.strip_prefix("ebs:") {
            return Ok(Target::Ebs(
                Some(zone.to_string()).filter(|z| !z.is_empty()),
            ));
        }
        if let Some(rest) = spec.strip_prefix("mysql://") {
            return parse_url(spec, rest, config);
        }
        if config.has_set(spec) {
            let set = config.resolve_set(spec, &SetOptions::default())?;
            return Ok(Target::Server {
                label: format!("set '{spec}' ({})", set.connection.display()),
                conn: set.connection,
            });
        }
        Err(Error::Usage(format!(
            "--target '{spec}' is neither a set in {} nor a URL: use a set name, \
             mysql://user@host:port, datadir:/path, or ebs:ZONE",
            config.source.display()
        )))
    }
}

fn parse_url(spec: &str, rest: &str, config: &ConfigFile) -> Result<Target> {
    let bad = |why: &str| Error::Usage(format!("--target {spec}: {why}"));
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority.trim_end_matches('/');
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if user.is_some_and(|u| u.contains(':')) {
        // Not echoing `spec`: it holds the password.
        return Err(Error::Usage(
            "--target: a password in the URL would be visible to every user of this machine; \
             put it in `password_file` under [defaults] (URL targets use the [defaults] \
             credentials)"
                .into(),
        ));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
        ),
        None => (hostport, None),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut socket = None;
    if let Some(q) = query {
        for kv in q.split('&') {
            match kv.split_once('=') {
                Some(("socket", p)) => socket = Some(PathBuf::from(p)),
                _ => return Err(bad(&format!("unknown parameter '{kv}' (only socket=PATH)"))),
            }
        }
    }
    let defaults = config.default_credentials()?;
    let conn = ConnectionConfig {
        host: Some(host.to_string()),
        port: port.unwrap_or(DEFAULT_PORT),
        socket,
        user: user.map(str::to_string).unwrap_or(defaults.connection.user),
        password: defaults.connection.password,
    };
    Ok(Target::Server {
        label: conn.display(),
        conn,
    })
}

/// zrm's own schema on a server (cluster checkpoint markers).
pub const ZRM_SCHEMA: &str = "zrm_meta";

/// The server's own schemas: never restored from a backup, never dropped.
pub fn is_system_schema(db: &str) -> bool {
    crate::mysql::facts::SYSTEM_SCHEMAS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(db))
}

/// What a restore never drops: the system schemas and zrm's own.
pub fn is_protected_schema(db: &str) -> bool {
    is_system_schema(db) || db == ZRM_SCHEMA
}

/// Named locks on the target server, one per database a restore writes, held on a connection
/// of their own for the whole restore: a second restore into the same database refuses at once
/// instead of dropping the databases under the first. The server releases them when the
/// connection ends, a killed zrm included.
pub struct TargetLock {
    _session: crate::mysql::Session,
}

impl TargetLock {
    pub async fn acquire(
        conn: &crate::config::ConnectionConfig,
        label: &str,
        databases: &[String],
    ) -> crate::error::Result<TargetLock> {
        use crate::mysql::conn::quote_str;
        let mut s = crate::mysql::connect(conn).await?;
        for db in databases {
            let name = quote_str(&lock_name(db));
            let got = s.value(&format!("SELECT GET_LOCK({name}, 0)")).await?;
            if got.as_deref() == Some("1") {
                continue;
            }
            let holder = s
                .value(&format!(
                    "SELECT CONCAT('connection ', ID, ' of ', USER, '@', HOST, ', for ', TIME, \
                     's') FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK({name})"
                ))
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "another session".into());
            s.close().await;
            return Err(crate::error::Error::Restore(format!(
                "another restore is writing database {db} on {label} ({holder}): two restores \
                 into one database would destroy each other's work; nothing was changed. Wait \
                 for it to finish (or stop it), then run this one again"
            )));
        }
        Ok(TargetLock { _session: s })
    }
}

/// A server lock name (at most 64 characters) for restores into `db`.
fn lock_name(db: &str) -> String {
    let name = format!("zrm_restore.{db}");
    if name.chars().count() <= 64 {
        name
    } else {
        format!("zrm_restore.{:08x}", crc32fast::hash(db.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg() -> ConfigFile {
        let mut c = ConfigFile::parse(
            "[defaults]\nuser = \"zrm\"\n[sets.s1]\nhost = \"db1\"\nport = 3310\n",
            Path::new("/x.toml"),
        )
        .unwrap();
        c.source = "/x.toml".into();
        c
    }

    #[test]
    fn parses_every_form() {
        let c = cfg();
        match Target::parse("mysql://admin@10.0.0.5:3307", &c).unwrap() {
            Target::Server { conn, .. } => {
                assert_eq!(conn.user, "admin");
                assert_eq!(conn.host.as_deref(), Some("10.0.0.5"));
                assert_eq!(conn.port, 3307);
            }
            t => panic!("{t:?}"),
        }
        match Target::parse("mysql://localhost?socket=/tmp/s.sock", &c).unwrap() {
            Target::Server { conn, .. } => {
                assert_eq!(conn.user, "zrm", "user from [defaults]");
                assert_eq!(conn.local_socket(), Some(Path::new("/tmp/s.sock")));
            }
            t => panic!("{t:?}"),
        }
        match Target::parse("s1", &c).unwrap() {
            Target::Server { conn, .. } => assert_eq!(conn.port, 3310),
            t => panic!("{t:?}"),
        }
        assert!(matches!(
            Target::parse("datadir:/d", &c).unwrap(),
            Target::Datadir(_)
        ));
        let err = Target::parse("mysql://u:secret@h", &c)
            .unwrap_err()
            .to_string();
        assert!(err.contains("password in the URL"), "{err}");
        assert!(!err.contains("secret"), "never echo the password: {err}");
        assert!(Target::parse("nosuchset", &c).is_err());
    }
}
