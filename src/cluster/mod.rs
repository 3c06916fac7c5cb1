//! Sharded clusters: coordinated cuts, cluster backup records, checkpoints, and the global
//! sequence number (GSN) that ties shards together.

pub mod backup;
pub mod cut;
pub mod gsn;
pub mod marker;
pub mod record;
pub mod replica_cut;
