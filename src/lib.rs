//! zrm: a point-in-time backup manager for MySQL and MariaDB.
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit codes; everything
//! else lives here, in modules named after what they hold.

pub mod aws;
pub mod backup;
pub mod binlog;
pub mod catalog;
pub mod cleanup;
pub mod cli;
pub mod cluster;
pub mod command;
pub mod config;
pub mod connection;
pub mod engine;
pub mod error;
pub mod hash;
pub mod hooks;
pub mod location;
pub mod logfile;
pub mod manifest;
pub mod metrics;
pub mod mycnf;
pub mod mysql;
pub mod names;
pub mod notify;
pub mod output;
pub mod progress;
pub mod redact;
pub mod replicate;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod scratch;
pub mod secret;
pub mod selection;
pub mod servers;
pub mod timeparse;
pub mod verify;
pub mod zrmconf;
pub mod zrmimport;

pub use error::{Error, Result};
