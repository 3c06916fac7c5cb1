//! Binary logs: zrm's own reader for MySQL and MariaDB binlog files and streams.
//!
//! It must never be fooled by, nor panic on, a corrupt or truncated file: every checksum is
//! verified, every length is bounds-checked, and errors name the file and the offset.

pub mod analyze;
pub mod archive;
pub mod archive_index;
pub mod bytes;
pub mod coordinates;
pub mod coverage;
pub mod decode;
pub mod event;
pub mod file_archiver;
pub mod find;
pub mod input;
pub mod purge;
pub mod reader;
pub mod rows;
pub mod scan;
pub mod sources;
pub mod timeline;
pub mod zrm_table;
