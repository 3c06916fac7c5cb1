//! One shard's part of a cluster restore, resolved centrally and carried out where the shard
//! is: `restore --cluster C … --plan-out DIR` resolves every shard's stop point (a GSN, a
//! checkpoint or a time, to that shard's own coordinates) and writes one plan per shard;
//! `restore --plan FILE` runs one of them, on the shard's host (cron, Ansible, a Kubernetes
//! Job), with that host's configuration and the same repository.
//!
//! A plan is a file that travels: it is read like user input (its set and target are checked
//! as command-line ones are, its stop point parsed), never trusted.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::binlog::coordinates::BinlogCoordinates;
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::restore::execute::{Applier, RestoreRequest};
use crate::restore::plan::Until;
use crate::restore::target::Target;

pub const FORMAT: &str = "zrm-shard-restore-plan/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardPlan {
    pub format: String,
    pub cluster: String,
    pub set: String,
    /// The target as the cluster restore named it (a set, `mysql://…`, `datadir:…`).
    pub target: String,
    /// The logical point, as given (`--until-gsn 40`).
    pub point: String,
    /// The shard's own stop point; `None` with `until_time`, or when the point is past its
    /// whole archive (everything is replayed).
    pub until_position: Option<BinlogCoordinates>,
    pub until_time: Option<DateTime<Utc>>,
    pub replace: bool,
    pub start_server: bool,
    pub parallel: Option<usize>,
    pub applier: Applier,
    pub replay_lanes: usize,
    pub log_bin: bool,
    #[serde(default)]
    pub skip_gtids: bool,
    pub resolved_at: DateTime<Utc>,
}

impl ShardPlan {
    /// The plan's file name in a `--plan-out` directory.
    pub fn file_name(&self) -> String {
        format!("{}.{}.json", self.cluster, self.set)
    }

    /// Write every plan into `dir` (created if needed); each file is written whole or not
    /// at all.
    pub fn write_all(plans: &[ShardPlan], dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let mut written = Vec::new();
        for p in plans {
            let path = dir.join(p.file_name());
            let tmp = dir.join(format!(".{}.tmp", p.file_name()));
            let text = serde_json::to_string_pretty(p).expect("a plan serialises");
            std::fs::write(&tmp, text + "\n").map_err(|e| Error::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))?;
            written.push(path);
        }
        Ok(written)
    }

    /// Read and check a plan file.
    pub fn read(path: &Path) -> Result<ShardPlan> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let plan: ShardPlan = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{} is not a shard restore plan ({e}); write one with restore --cluster C … \
                 --plan-out DIR",
                path.display()
            ))
        })?;
        if plan.format != FORMAT {
            return Err(Error::Usage(format!(
                "{} is a plan of format '{}', this zrm reads '{FORMAT}': write it again with \
                 this version's restore --cluster … --plan-out",
                path.display(),
                plan.format
            )));
        }
        crate::repo::check_component("cluster name in the plan", &plan.cluster)?;
        crate::repo::check_component("set name in the plan", &plan.set)?;
        if let Some(p) = &plan.until_position {
            // Parsed again as a command-line position would be.
            BinlogCoordinates::parse("the plan's until_position", &p.to_string())?;
        }
        Ok(plan)
    }

    /// The restore this plan describes, with the host's configuration.
    pub fn request(&self, config: &ConfigFile) -> Result<RestoreRequest> {
        if !config.has_set(&self.set) {
            return Err(Error::Usage(format!(
                "the plan restores set '{}', which this host's configuration ({}) does not \
                 have: give it the set (the same repository) or run the plan where it is",
                self.set,
                config.source.display()
            )));
        }
        let target = Target::parse(&self.target, config)?;
        let mut req = RestoreRequest::new(&self.set, target, &self.target);
        req.until = match (&self.until_position, &self.until_time) {
            (Some(p), _) => Until::Position(p.clone()),
            (None, Some(t)) => Until::Time(*t),
            (None, None) => Until::All,
        };
        req.until_flags = match (&self.until_position, &self.until_time) {
            (Some(p), _) => format!(" --until-position {p}"),
            (None, Some(t)) => format!(" --until-time '{}'", t.to_rfc3339()),
            (None, None) => String::new(),
        };
        req.replace = self.replace;
        req.start_server = self.start_server;
        req.parallel = self.parallel;
        req.applier = self.applier;
        req.replay_lanes = self.replay_lanes.max(1);
        req.log_bin = self.log_bin;
        req.skip_gtids = self.skip_gtids;
        Ok(req)
    }
}
