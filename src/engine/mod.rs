//! Backup methods. Each produces data files in a backup directory and reports what the
//! manifest needs (consistent point, row counts, files); the caller writes the manifest.
//!
//! Methods: `logical` (zrm's own parallel engine), `mysqldump`, and the snapshot methods
//! `lvm`, `btrfs` and `ebs` (module [`snapshot`]).

pub mod dump_filter;
pub mod dump_scan;
pub mod incremental;
pub mod logical;
pub mod mysqldump;
pub mod snapshot;
pub mod stream;
