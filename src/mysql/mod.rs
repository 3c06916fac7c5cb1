//! Talking to MySQL and MariaDB: connections, server facts, privileges, and the client tools
//! that match a server.
//!
//! Never logs or prints a password; connection errors name the server as `user@host:port` and
//! say what to check.

pub mod conn;
pub mod facts;
pub mod gtid;
pub mod lock;
pub mod privileges;
pub mod replica;
pub mod replication;
pub mod tools;
pub mod wire;

pub use conn::{connect, Session};
pub use facts::ServerFacts;
