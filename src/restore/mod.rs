//! Restore: choosing what to restore and where, with the safety checks that keep a restore
//! from destroying data by accident.
//!
//! Never writes to a database that exists and holds tables unless `--replace` is given, never
//! restores over the source server without `--replace` (except into databases that do not
//! exist there, under new names: `--rename-database`), and checks every backup file against
//! its manifest before the first change on the target.

pub mod applier;
pub mod db_filter;
pub mod execute;
pub mod physical;
pub mod plan;
pub mod replay;
pub mod server;
pub mod shard_plan;
pub mod tables;
pub mod target;
pub mod target_gtids;
