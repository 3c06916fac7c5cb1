//! Where a repository lives: a local directory or an S3 bucket and prefix. A leaf: the
//! configuration produces it, the repository backends consume it.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where a repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    Local(PathBuf),
    S3(S3Location),
}

impl RepoLocation {
    pub fn describe(&self) -> String {
        match self {
            RepoLocation::Local(p) => p.display().to_string(),
            RepoLocation::S3(l) => l.url(),
        }
    }
}

/// Where an S3 repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: bool,
    pub storage_class: Option<String>,
}

impl S3Location {
    /// `s3://bucket/prefix` (the prefix is optional).
    pub fn parse(url: &str) -> Result<(String, String)> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::Config(format!(
                "repository url '{url}': write s3://bucket/prefix (only S3 URLs are supported)"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config(format!(
                "repository url '{url}' names no bucket: write s3://bucket/prefix"
            )));
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }

    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
