//! `zrm import-config [--zrm-conf-dir DIR] [--set S]… [--options-file F] --out FILE`: the
//! zrm.toml equivalent of ZRM's configuration ([`crate::zrmconf::import_config`]).

use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::error::Result;
use crate::zrmconf;

#[derive(Debug, Args)]
pub struct ImportConfigArgs {
    /// ZRM's configuration directory (default: $ZRM_ZRM_CONF_DIR, then /etc/mysql-zrm)
    #[arg(long, value_name = "DIR")]
    pub zrm_conf_dir: Option<PathBuf>,
    /// A ZRM backup set to import (repeatable; default: every set of the directory)
    #[arg(long = "set", value_name = "SET")]
    pub sets: Vec<String>,
    /// ZRM's --options-file, read after each set's mysql-zrm.conf
    #[arg(long, value_name = "FILE")]
    pub options_file: Option<PathBuf>,
    /// The zrm.toml to write (passwords go next to it, in SET.password, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace --out if it exists
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: ImportConfigArgs) -> Result<i32> {
    let report = zrmconf::import_config(&zrmconf::ImportConfigRequest {
        root: args.zrm_conf_dir.unwrap_or_else(zrmconf::conf_dir),
        sets: args.sets,
        options_file: args.options_file,
        out: args.out,
        force: args.force,
    })?;
    if ctx.json() {
        crate::output::emit_json(&serde_json::json!({
            "out": report.out,
            "password_files": report.password_files,
            "not_mapped": report.not_mapped.iter().map(|(set, key, origin, why)| {
                serde_json::json!({ "set": set, "key": key, "origin": origin, "why": why })
            }).collect::<Vec<_>>(),
            "refused": report.refused,
        }));
        return Ok(0);
    }
    println!("wrote {}", report.out.display());
    for p in &report.password_files {
        println!("wrote {} (mode 0600)", p.display());
    }
    for (set, key, origin, why) in &report.not_mapped {
        println!("  {set}: ZRM `{key}` ({origin}): {why}");
    }
    if report.refused > 0 {
        println!(
            "{} ZRM setting(s) are NOT MAPPED (marked in the file): edit it before using it",
            report.refused
        );
    }
    Ok(0)
}
