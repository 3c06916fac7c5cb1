//! How a MySQL target takes the source's GTIDs during a replay, for both the client pipeline
//! and zrm's applier. Replayed with their GTIDs, transactions keep their identity; but MySQL
//! silently skips a transaction whose GTID its `gtid_executed` already holds (a target
//! restored before, say), and refuses GTIDs when `gtid_mode` is OFF. In those cases the
//! transactions are replayed without them (as `mysqlbinlog --skip-gtids` does: each gets a new
//! GTID of the target, or none) — never skipped.

use crate::error::{Error, Result};
use crate::mysql::gtid::GtidSet;

pub struct TargetGtids {
    /// `gtid_mode` is OFF: no GTID can be set.
    mode_off: bool,
    /// The target's `gtid_executed` when the replay began.
    executed: GtidSet,
    /// Set once transactions were replayed without their GTIDs: why.
    dropped_because: Option<String>,
}

impl TargetGtids {
    /// The query whose two columns [`TargetGtids::from_row`] reads.
    pub const QUERY: &'static str =
        "SELECT @@GLOBAL.gtid_mode, REPLACE(@@GLOBAL.gtid_executed, '\\n', '')";

    pub fn from_row(gtid_mode: &str, gtid_executed: &str) -> Result<TargetGtids> {
        Ok(TargetGtids {
            mode_off: gtid_mode.trim().eq_ignore_ascii_case("OFF"),
            executed: GtidSet::parse(gtid_executed.trim()).map_err(Error::Restore)?,
            dropped_because: None,
        })
    }

    /// Whether transactions with these GTIDs (the first of them in `place`) keep them. Once
    /// not, never again: the target's own new GTIDs (its server_uuid may be the source's, on a
    /// copy of its datadir) could otherwise meet later source GTIDs.
    pub fn keeps(&mut self, place: &str, gtids: &GtidSet) -> bool {
        if self.dropped_because.is_some() {
            return false;
        }
        if gtids.is_empty() {
            return true;
        }
        if self.mode_off {
            self.dropped_because = Some("the target runs with gtid_mode = OFF".into());
            return false;
        }
        let seen = gtids.intersection(&self.executed);
        if seen.is_empty() {
            return true;
        }
        self.dropped_because = Some(format!(
            "the target had already executed {} of the replayed GTIDs ({seen}, first in \
             {place}; the source itself, or an earlier restore?), which MySQL would have \
             skipped silently",
            seen.count()
        ));
        false
    }

    /// Why transactions are replayed without their GTIDs, once they are.
    pub fn dropped_because(&self) -> Option<&str> {
        self.dropped_because.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn keeps_until_a_gtid_is_already_executed_then_never() {
        let mut t = TargetGtids::from_row("ON", &format!("{UUID}:1-10")).unwrap();
        let set = |s: &str| GtidSet::parse(&format!("{UUID}:{s}")).unwrap();
        assert!(t.keeps("f:4", &set("11-20")));
        assert!(!t.keeps("f:9", &set("10-12")));
        assert!(t.dropped_because().unwrap().contains("already executed 1"));
        assert!(!t.keeps("f:12", &set("30")), "once dropped, always");
    }

    #[test]
    fn gtid_mode_off_keeps_none() {
        let mut t = TargetGtids::from_row("OFF", "").unwrap();
        assert!(t.keeps("f:4", &GtidSet::default()), "nothing to keep");
        assert!(!t.keeps("f:4", &GtidSet::parse(&format!("{UUID}:1")).unwrap()));
    }
}
