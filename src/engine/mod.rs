//! Backup methods. Each produces data files in a backup directory and reports what the
//! manifest needs (consistent point, row counts, files); the caller writes the manifest.
//!
//! Built so far: `logical` (zrm's own parallel engine) and `mysqldump`. The snapshot methods
//! (`lvm`, `btrfs`, `ebs`) answer with a clear "not built yet" error.

pub mod dump_filter;
pub mod dump_scan;
pub mod incremental;
pub mod logical;
pub mod mysqldump;
pub mod stream;

use crate::config::Method;
use crate::error::{Error, Result};

/// Refuse methods that are not implemented, naming what to use instead.
pub fn ensure_built(method: Method) -> Result<()> {
    match method {
        Method::Mysqldump | Method::Logical => Ok(()),
        other => Err(Error::not_built(
            format!("backup method '{other}'"),
            "use `--method logical` (the default) or `--method mysqldump`",
        )),
    }
}
