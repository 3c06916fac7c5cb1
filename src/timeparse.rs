//! Times given on the command line: RFC 3339, or `YYYY-MM-DD HH:MM[:SS[.frac]]` in a default
//! zone (the server's, where known) unless the text carries an offset.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use crate::error::{Error, Result};

pub fn parse_time(text: &str, default_zone: FixedOffset) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%.f %:z",
        "%Y-%m-%d %H:%M:%S %:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return default_zone
                .from_local_datetime(&naive)
                .single()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| {
                    Error::Usage(format!("time '{t}' does not exist in zone {default_zone}"))
                });
        }
    }
    Err(Error::Usage(format!(
        "cannot read the time '{t}': write it as \"2026-11-26 10:00:00\" (optionally with an \
         offset like +02:00) or RFC 3339 (2026-11-26T10:00:00Z)"
    )))
}

pub fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let z = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            parse_time("2026-11-26 10:00:00", z).unwrap().to_rfc3339(),
            "2026-11-26T09:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-26T10:00:00Z", z).unwrap().to_rfc3339(),
            "2026-11-26T10:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-26 10:00:00+02:00", z)
                .unwrap()
                .to_rfc3339(),
            "2026-11-26T08:00:00+00:00"
        );
        assert!(parse_time("yesterday", z).is_err());
    }
}
