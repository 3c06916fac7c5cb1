//! Names that become path components (set names, backup ids, file names read from a
//! repository): what may stand alone in a path without leaving its directory.

use crate::error::{Error, Result};

/// One component of a path read from a repository file (a manifest's file, an index's
/// object): any name that stays where it is put, i.e. not empty, not `.` or `..`, and without a
/// separator, NUL or control character.
pub fn is_plain_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.chars().any(|c| c == '/' || c.is_control())
}

/// Set names and backup ids become path components: refuse anything that could escape.
pub fn check_component(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{kind} '{name}' is not usable as a name: use letters, digits, '-', '_' and '.'"
        )))
    }
}
